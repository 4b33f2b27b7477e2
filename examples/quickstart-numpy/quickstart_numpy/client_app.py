"""ClientApp: local SGD on the node's synthetic shard, and local evaluation."""

from flwr.app import ArrayRecord, Context, Message, MetricRecord, RecordDict
from flwr.clientapp import ClientApp

from quickstart_numpy import task

app = ClientApp()


def _shard(context: Context) -> tuple[task.Partition, task.Shard]:
    partition = task.partition_from_node_config(context.node_config)
    return partition, task.load_shard(partition)


@app.train()
def train(msg: Message, context: Context) -> Message:
    """Train the received global model on the local shard."""
    arrays = msg.content.array_records["arrays"].to_numpy_ndarrays()
    lr = float(context.run_config["lr"])
    epochs = int(context.run_config["local-epochs"])
    config = msg.content.config_records.get("config")
    server_round = config.get("server-round", 0) if config is not None else 0
    if not isinstance(server_round, int):
        server_round = 0
    partition, shard = _shard(context)

    new_arrays, train_loss = task.train(
        arrays,
        shard.x_train,
        shard.y_train,
        lr=lr,
        epochs=epochs,
        # Deterministic shuffling per (partition, round).
        seed=task.BASE_SEED + 7919 * partition.partition_id + server_round,
    )
    metrics = MetricRecord(
        {"num-examples": len(shard.y_train), "train-loss": train_loss}
    )
    content = RecordDict({"arrays": ArrayRecord(new_arrays), "metrics": metrics})
    return Message(content=content, reply_to=msg)


@app.evaluate()
def evaluate(msg: Message, context: Context) -> Message:
    """Evaluate the received global model on the local test split."""
    arrays = msg.content.array_records["arrays"].to_numpy_ndarrays()
    _, shard = _shard(context)
    loss, mse = task.evaluate(arrays, shard.x_test, shard.y_test)
    metrics = MetricRecord(
        {"num-examples": len(shard.y_test), "eval-loss": loss, "eval-mse": mse}
    )
    return Message(content=RecordDict({"metrics": metrics}), reply_to=msg)
