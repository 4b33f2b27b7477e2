"""ServerApp: FedAvg over ``num-server-rounds`` rounds.

Run-config keys (``[tool.flwr.app.config]``, override with ``--run-config``):
``num-server-rounds``, ``min-nodes`` (min available/train/evaluate nodes,
default 2) and ``fail-at-round`` (when > 0, raise ``RuntimeError`` at the start
of that round, to exercise failure detection). ``lr`` and ``local-epochs`` are
read by the ClientApp.
"""

from collections.abc import Iterable
from logging import INFO
from typing import Any

from flwr.app import ArrayRecord, ConfigRecord, Context, Message
from flwr.common import log
from flwr.serverapp import Grid, ServerApp
from flwr.serverapp.strategy import FedAvg

from quickstart_numpy import task

app = ServerApp()


class FailAtRoundFedAvg(FedAvg):
    """FedAvg that raises at the start of round ``fail_at_round`` (if > 0)."""

    def __init__(self, *, fail_at_round: int = 0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.fail_at_round = fail_at_round

    def configure_train(
        self, server_round: int, arrays: ArrayRecord, config: ConfigRecord, grid: Grid
    ) -> Iterable[Message]:
        if 0 < self.fail_at_round <= server_round:
            raise RuntimeError("fail-at-round reached")
        return super().configure_train(server_round, arrays, config, grid)


@app.main()
def main(grid: Grid, context: Context) -> None:
    """Run FedAvg with the run config of this run."""
    cfg = context.run_config
    num_rounds = int(cfg["num-server-rounds"])
    min_nodes = int(cfg.get("min-nodes", 2))
    fail_at_round = int(cfg.get("fail-at-round", 0))

    strategy = FailAtRoundFedAvg(
        fail_at_round=fail_at_round,
        min_available_nodes=min_nodes,
        min_train_nodes=min_nodes,
        min_evaluate_nodes=min_nodes,
    )
    result = strategy.start(
        grid=grid,
        initial_arrays=ArrayRecord(task.initial_arrays()),
        num_rounds=num_rounds,
    )

    weights, bias = result.arrays.to_numpy_ndarrays()
    log(
        INFO,
        "quickstart-numpy final model: weights=%s bias=%.4f (true: %s, %.4f)",
        [round(float(w), 4) for w in weights],
        float(bias[0]),
        task.TRUE_WEIGHTS.tolist(),
        task.TRUE_BIAS,
    )
