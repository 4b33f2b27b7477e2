"""End-to-end: `local up --app` runs a standard Flower App (the `flwr new` layout), with the real binaries.

`flwr new` in Flower 1.42 downloads its templates from the Flower platform, so the app is written here
offline in the layout of its NumPy template: `pyproject.toml` with `[tool.flwr.app.components]`, a
`[tool.flwr.app.config]` that declares only `num-server-rounds`, the legacy `[tool.flwr.federations]`
tables, and a package next to it (`packages = ["."]`). The runner must not inject keys that app does not
declare (`min-nodes`), and when Flower refuses a run config it must say why and which keys the app has.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import yaml

from tests.test_local_e2e import REPO, assert_no_leftovers, cli

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

PYPROJECT = """\
[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"

[project]
name = "demo"
version = "1.0.0"
description = ""
license = "Apache-2.0"
dependencies = ["flwr[simulation]>=1.41.0", "numpy>=2.0.2"]

[tool.hatch.build.targets.wheel]
packages = ["."]

[tool.flwr.app]
publisher = "x"

[tool.flwr.app.components]
serverapp = "demo.server_app:app"
clientapp = "demo.client_app:app"

[tool.flwr.app.config]
num-server-rounds = 3

[tool.flwr.federations]
default = "local-simulation"

[tool.flwr.federations.local-simulation]
options.num-supernodes = 10
"""

SERVER_APP = '''\
"""FedAvg of a 3-vector for num-server-rounds rounds (Flower's defaults otherwise)."""
import numpy as np
from flwr.app import ArrayRecord, Context
from flwr.serverapp import Grid, ServerApp
from flwr.serverapp.strategy import FedAvg

app = ServerApp()


@app.main()
def main(grid: Grid, context: Context) -> None:
    strategy = FedAvg(fraction_evaluate=1.0)
    strategy.start(grid=grid, initial_arrays=ArrayRecord([np.zeros(3)]),
                   num_rounds=int(context.run_config["num-server-rounds"]))
'''

CLIENT_APP = '''\
"""Moves the model towards (1, 2, 3) and reports a loss."""
import numpy as np
from flwr.app import ArrayRecord, Context, Message, MetricRecord, RecordDict
from flwr.clientapp import ClientApp

app = ClientApp()
TARGET = np.array([1.0, 2.0, 3.0])


def _loss(w: np.ndarray) -> float:
    return float(np.mean((w - TARGET) ** 2))


@app.train()
def train(msg: Message, context: Context) -> Message:
    (w,) = msg.content["arrays"].to_numpy_ndarrays()
    w = w + 0.5 * (TARGET - w)
    metrics = MetricRecord({"num-examples": 10, "train-loss": _loss(w)})
    return Message(content=RecordDict({"arrays": ArrayRecord([w]), "metrics": metrics}), reply_to=msg)


@app.evaluate()
def evaluate(msg: Message, context: Context) -> Message:
    (w,) = msg.content["arrays"].to_numpy_ndarrays()
    content = RecordDict({"metrics": MetricRecord({"num-examples": 10, "eval-loss": _loss(w)})})
    return Message(content=content, reply_to=msg)
'''


def make_app(root: Path) -> Path:
    """`demo/` as `flwr new demo --framework NumPy --username x` lays it out."""
    app = root / "demo"
    (app / "demo").mkdir(parents=True)
    (app / "pyproject.toml").write_text(PYPROJECT)
    (app / "README.md").write_text("# demo\n")
    (app / "demo" / "__init__.py").write_text('"""demo: a Flower / NumPy app."""\n')
    (app / "demo" / "server_app.py").write_text(textwrap.dedent(SERVER_APP))
    (app / "demo" / "client_app.py").write_text(textwrap.dedent(CLIENT_APP))
    return app


def stack_with(tmp_path: Path, **local: object) -> Path:
    config = yaml.safe_load((REPO / "stacks" / "Pulumi.dev.yaml").read_text())
    config["config"]["flower:federation"]["local"].update(local)
    path = tmp_path / "Pulumi.app.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_a_flwr_new_app_runs_without_injected_keys(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    workdir = tmp_path / "work"
    proc = cli("--stack", "dev", "--app", str(app), "--rounds", "2", "--workdir", str(workdir), timeout=200)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "running demo for 2 round(s)" in proc.stdout
    assert "round 2/2  train train-loss=" in proc.stdout and "completed run" in proc.stdout
    # The run config holds only what the app declares: no min-nodes.
    argv = (workdir / "logs" / "run-1.log").read_text().splitlines()[0]
    assert argv.endswith("--run-config num-server-rounds=2"), argv
    # Without a terminal, progress comes as plain lines.
    assert "run " in proc.stdout and " started" in proc.stdout and "round 1/2 started" in proc.stdout
    assert_no_leftovers(workdir, [])


def test_a_rejected_run_config_names_flowers_reason_and_the_declared_keys(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    workdir = tmp_path / "work"
    stack = stack_with(tmp_path, runConfig={"lr": 0.5})  # the quickstart's key; demo does not declare it
    proc = cli("--file", str(stack), "--app", str(app), "--workdir", str(workdir), timeout=200)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert ("Flower rejected the run config (Key 'lr' is not present in the main dictionary); "
            "the app declares: num-server-rounds") in " ".join(proc.stderr.split())
    assert_no_leftovers(workdir, [])


def test_a_directory_that_is_not_a_flower_app_exits_2(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    proc = cli("--stack", "dev", "--app", str(app / "missing"), timeout=60)
    assert proc.returncode == 2 and "--app:" in proc.stderr
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    proc = cli("--stack", "dev", "--app", str(broken), timeout=60)
    assert proc.returncode == 2
    assert "has no [tool.flwr.app] table: not a Flower App" in proc.stderr
