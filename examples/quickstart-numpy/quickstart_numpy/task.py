"""Data, model and training for the numpy-only quickstart (no downloads).

Every node generates its own synthetic linear-regression shard with numpy. The
shard depends only on the node's partition, so the same node configuration
always yields the same data, in any process and on any machine.

Partition selection, from the SuperNode's ``node_config``:

* ``partition-id`` (int) and ``num-partitions`` (int), as passed with
  ``flower-supernode --node-config 'partition-id=0 num-partitions=2'``;
* otherwise ``cluster-name`` (string): the partition is derived from the
  SHA-256 digest of the name (modulo ``num-partitions`` when that is given).
  Python's ``hash()`` is never used: it is salted per process;
* otherwise partition 0 of 1.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

NUM_FEATURES = 4
# Ground-truth model shared by every partition, so that FedAvg has something
# common to learn. Fixed numbers, not drawn at import time.
TRUE_WEIGHTS = np.array([1.5, -2.0, 0.5, 3.0], dtype=np.float64)
TRUE_BIAS = 0.25
NOISE_STD = 0.1
BASE_SEED = 20_250_101
BATCH_SIZE = 16
# Partition space used when only ``cluster-name`` is known.
DEFAULT_HASHED_PARTITIONS = 1 << 16

Arrays = list[NDArray[np.float64]]


@dataclass(frozen=True)
class Partition:
    """Which shard of the synthetic data set a node holds."""

    partition_id: int
    num_partitions: int


@dataclass(frozen=True)
class Shard:
    """One node's local data."""

    x_train: NDArray[np.float64]
    y_train: NDArray[np.float64]
    x_test: NDArray[np.float64]
    y_test: NDArray[np.float64]


def _as_int(value: Any, key: str) -> int:
    if isinstance(value, bool):
        raise ValueError(f"node_config[{key!r}] must be an integer, got {value!r}")
    try:
        return int(value)
    except (TypeError, ValueError) as err:
        raise ValueError(
            f"node_config[{key!r}] must be an integer, got {value!r}"
        ) from err


def partition_from_node_config(node_config: Mapping[str, Any]) -> Partition:
    """Resolve the node's partition from its ``node_config`` (see module doc)."""
    num_partitions = None
    if "num-partitions" in node_config:
        num_partitions = _as_int(node_config["num-partitions"], "num-partitions")
        if num_partitions < 1:
            raise ValueError(f"num-partitions must be >= 1, got {num_partitions}")

    if "partition-id" in node_config:
        partition_id = _as_int(node_config["partition-id"], "partition-id")
        if num_partitions is None:
            num_partitions = partition_id + 1
        if not 0 <= partition_id < num_partitions:
            raise ValueError(
                f"partition-id must be in [0, {num_partitions}), got {partition_id}"
            )
        return Partition(partition_id, num_partitions)

    if "cluster-name" in node_config:
        name = str(node_config["cluster-name"])
        digest = hashlib.sha256(name.encode("utf-8")).digest()
        space = num_partitions or DEFAULT_HASHED_PARTITIONS
        return Partition(int.from_bytes(digest[:8], "big") % space, space)

    return Partition(0, num_partitions or 1)


def load_shard(partition: Partition) -> Shard:
    """Generate the partition's shard deterministically (80/20 train/test)."""
    rng = np.random.default_rng([BASE_SEED, partition.partition_id])
    # Unequal shard sizes make the num-examples weighting visible.
    num_examples = 80 + 20 * (partition.partition_id % 4)
    # Each partition sees a shifted feature distribution (non-IID inputs).
    shift = rng.normal(0.0, 1.0, size=NUM_FEATURES)
    x = rng.normal(shift, 1.0, size=(num_examples, NUM_FEATURES))
    y = x @ TRUE_WEIGHTS + TRUE_BIAS + rng.normal(0.0, NOISE_STD, size=num_examples)
    split = int(0.8 * num_examples)
    return Shard(x[:split], y[:split], x[split:], y[split:])


def initial_arrays() -> Arrays:
    """Initial global model: ``[weights (NUM_FEATURES,), bias (1,)]`` at zero."""
    return [np.zeros(NUM_FEATURES, dtype=np.float64), np.zeros(1, dtype=np.float64)]


def _predict(arrays: Arrays, x: NDArray[np.float64]) -> NDArray[np.float64]:
    weights, bias = arrays
    prediction: NDArray[np.float64] = x @ weights + bias[0]
    return prediction


def evaluate(
    arrays: Arrays, x: NDArray[np.float64], y: NDArray[np.float64]
) -> tuple[float, float]:
    """Return ``(loss, mse)`` where loss is the SGD objective ``mse / 2``."""
    err = _predict(arrays, x) - y
    mse = float(np.mean(err**2))
    return mse / 2.0, mse


def train(
    arrays: Arrays,
    x: NDArray[np.float64],
    y: NDArray[np.float64],
    lr: float,
    epochs: int,
    seed: int,
) -> tuple[Arrays, float]:
    """Mini-batch SGD on ``mse / 2``; returns the new arrays and final train loss."""
    weights = np.array(arrays[0], dtype=np.float64, copy=True)
    bias = np.array(arrays[1], dtype=np.float64, copy=True)
    rng = np.random.default_rng(seed)
    n = len(y)
    for _ in range(max(0, epochs)):
        order = rng.permutation(n)
        for start in range(0, n, BATCH_SIZE):
            idx = order[start : start + BATCH_SIZE]
            err = x[idx] @ weights + bias[0] - y[idx]
            weights -= lr * (x[idx].T @ err) / len(idx)
            bias -= lr * np.mean(err)
    new_arrays = [weights, bias]
    loss, _ = evaluate(new_arrays, x, y)
    return new_arrays, loss
