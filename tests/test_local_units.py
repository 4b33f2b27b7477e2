"""Unit tests of the local runner's pieces that need no Flower process: parsing, ports, process trees."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from federation.local.procs import ManagedProcess, ProcId, descendants, stop_all
from federation.local.progress import RunProgress, parse_metrics, strip_ansi
from federation.local.runner import LocalFederation, default_app, free_port, resolve_binary
from tests.e2e.specs import make_spec

REPO = Path(__file__).resolve().parents[1]

INFO = "\x1b[92mINFO \x1b[0m:      "
STREAM = [
    "Using SuperLink: local (127.0.0.1:4000)\n",
    "Successfully started run 18337576470587658777\n",
    f"{INFO}[ROUND 1/2]\n",
    f"{INFO}aggregate_train: Received 2 results and 0 failures\n",
    f"{INFO}\t└──> Aggregated MetricRecord: {{'train-loss': 2.25}}\n",
    f"{INFO}\t└──> Aggregated MetricRecord: {{'eval-loss': 4.05, 'eval-mse': 8.11}}\n",
    f"{INFO}\n",
    f"{INFO}[ROUND 2/2]\n",
    f"{INFO}\t└──> Aggregated MetricRecord: {{'train-loss': 0.88}}\n",
    f"{INFO}\t└──> Aggregated MetricRecord: {{'eval-loss': 1.23, 'eval-mse': 2.47}}\n",
    f"{INFO}Strategy execution finished in 28.61s\n",
    f"{INFO}\t{{1: {{'train-loss': '2.2516e+00'}}, 2: {{'train-loss': '8.8069e-01'}}}}\n",
]


def test_progress_parses_rounds_and_metrics() -> None:
    progress = RunProgress()
    events = [e for line in STREAM for e in progress.feed(line)]
    assert progress.run_id == 18337576470587658777
    assert progress.total_rounds == 2
    rounds = progress.completed_rounds()
    assert [r.number for r in rounds] == [1, 2]
    assert rounds[0].train == {"train-loss": 2.25}
    assert rounds[1].evaluate == {"eval-loss": 1.23, "eval-mse": 2.47}
    assert rounds[1].loss == 1.23
    assert "eval-loss=1.23" in rounds[1].summary()
    assert progress.finished_in == 28.61
    assert events.count("round") == 2 and events.count("evaluate") == 2
    assert not progress.error_lines


def test_progress_collects_errors() -> None:
    progress = RunProgress()
    progress.feed("\x1b[91mERROR \x1b[0m:     ServerApp raised an exception\n")
    progress.feed("RuntimeError: fail-at-round reached\n")
    assert progress.error_lines == ["ERROR :     ServerApp raised an exception", "RuntimeError: fail-at-round reached"]


def test_parse_metrics_tolerates_odd_values() -> None:
    assert parse_metrics("{'a': 1, 'b': 'x', 'c': True}") == {"a": 1.0}
    assert parse_metrics("{'a': nan}") == {}  # not a literal: regex fallback finds nothing numeric
    assert strip_ansi("\x1b[92mINFO \x1b[0m: x") == "INFO : x"


def test_free_port_is_bindable() -> None:
    import socket

    port = free_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))


def test_binaries_resolve_next_to_the_interpreter() -> None:
    for name in ("flower-superlink", "flower-supernode", "flower-superexec", "flwr"):
        assert Path(resolve_binary(name)).parent == Path(sys.executable).parent


def test_default_app_is_the_repo_example() -> None:
    app = default_app()
    assert app.name == "quickstart-numpy" and (app / "pyproject.toml").is_file()


def test_prepare_app_copies_without_caches(tmp_path: Path) -> None:
    src = tmp_path / "src" / "myapp"
    (src / "pkg" / "__pycache__").mkdir(parents=True)
    (src / "pyproject.toml").write_text("[project]\n")
    (src / "pkg" / "__pycache__" / "x.pyc").write_bytes(b"")
    fed = LocalFederation(make_spec(), tmp_path / "work")
    copy = fed.prepare_app(src)
    assert copy.parent == tmp_path / "work" / "apps"
    assert (copy / "pyproject.toml").is_file() and not (copy / "pkg" / "__pycache__").exists()


def test_run_config_sets_rounds_min_nodes_and_spec_run_config(tmp_path: Path) -> None:
    spec = make_spec(local={"supernodesPerPool": 3, "runConfig": {"lr": 0.05}})
    fed = LocalFederation(spec, tmp_path)
    assert fed.run_config(4) == "lr=0.05 min-nodes=3 num-server-rounds=4"
    assert fed.run_config(1, {"fail-at-round": 1}) == "fail-at-round=1 lr=0.05 min-nodes=3 num-server-rounds=1"


def test_run_config_injects_only_the_keys_the_app_declares(tmp_path: Path) -> None:
    spec = make_spec(local={"supernodesPerPool": 3, "runConfig": {"lr": 0.05}})
    fed = LocalFederation(spec, tmp_path)
    assert fed.run_config(4, declared=["num-server-rounds", "lr"]) == "lr=0.05 num-server-rounds=4"
    # The user's own keys go through as written: Flower is the judge (and the runner explains its verdict).
    assert fed.run_config(4, declared=[]) == "lr=0.05"
    assert LocalFederation(make_spec(), tmp_path).run_config(2, declared=[]) == ""


def test_app_config_is_the_apps_flattened_run_config(tmp_path: Path) -> None:
    from federation.local.runner import LocalRunError, app_config

    (tmp_path / "pyproject.toml").write_text(
        '[tool.flwr.app]\npublisher = "x"\n[tool.flwr.app.config]\nnum-server-rounds = 3\n'
        '[tool.flwr.app.config.model]\nlr = 0.1\n')
    assert app_config(tmp_path) == {"num-server-rounds": 3, "model.lr": 0.1}
    assert set(app_config(REPO / "examples" / "quickstart-numpy")) == {
        "num-server-rounds", "lr", "local-epochs", "fail-at-round", "min-nodes"}
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    with pytest.raises(LocalRunError, match=r"no \[tool.flwr.app\] table"):
        app_config(tmp_path)
    (tmp_path / "pyproject.toml").write_text("[tool.flwr.app\n")
    with pytest.raises(LocalRunError, match="not valid TOML"):
        app_config(tmp_path)


def test_stop_all_reports_what_it_waits_for(tmp_path: Path) -> None:
    script = "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nprint('ready', flush=True)\ntime.sleep(60)\n"
    proc = ManagedProcess("stubborn", (sys.executable, "-c", script), {}, tmp_path / "s.log")
    proc.start()
    deadline = time.monotonic() + 10
    while "ready" not in proc.log_path.read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    heard: list[tuple[list[str], float]] = []
    stop_all([proc], grace=2.5, report=lambda names, left: heard.append((names, left)))
    assert proc.returncode() == -9
    assert heard and all(names == ["stubborn"] for names, _ in heard)
    assert heard[0][1] <= 1.6


def test_stop_all_kills_a_detached_grandchild(tmp_path: Path) -> None:
    """Like flower-superlink, the child starts a grandchild in a new session: stop_all still gets it."""
    script = (
        "import subprocess, sys, time\n"
        "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'], start_new_session=True)\n"
        "time.sleep(60)\n"
    )
    proc = ManagedProcess("tree", (sys.executable, "-c", script), {}, tmp_path / "tree.log")
    proc.start()
    assert proc.pid is not None
    deadline = time.monotonic() + 10
    kids: list[ProcId] = []
    while not kids and time.monotonic() < deadline:
        kids = descendants(proc.pid)
        time.sleep(0.05)
    assert kids
    stop_all([proc], grace=2)
    assert not proc.running()
    assert not any(k.alive() for k in kids)


def test_stop_all_escalates_to_sigkill(tmp_path: Path) -> None:
    script = "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nprint('ready', flush=True)\ntime.sleep(60)\n"
    proc = ManagedProcess("stubborn", (sys.executable, "-c", script), {}, tmp_path / "s.log")
    proc.start()
    deadline = time.monotonic() + 10
    while "ready" not in proc.log_path.read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    started = time.monotonic()
    stop_all([proc], grace=0.5)
    assert proc.returncode() == -9
    assert time.monotonic() - started < 5


def test_free_port_stays_in_the_configured_range(monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    from federation.local import runner

    monkeypatch.setenv(runner.PORT_RANGE_ENV, "21000-21003")
    monkeypatch.setattr(runner, "_port_cursor", {})
    with socket.socket() as held:
        held.bind(("127.0.0.1", 21000))
        held.listen()
        got = [runner.free_port() for _ in range(6)]
    assert set(got) <= {21001, 21002, 21003}
    assert len(set(got[:3])) == 3  # handed out in turn, not the same port twice in a row
