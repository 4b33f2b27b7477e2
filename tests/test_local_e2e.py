"""End-to-end: real flower-superlink / flower-supernode / flower-superexec / flwr processes on 127.0.0.1.

Each test starts its own federation in its own temp dir on free ports (safe under `pytest -n 2`),
runs the numpy quickstart with 2 SuperNodes for 2 rounds, and checks that nothing is left running.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from federation.local import LocalFederation, RunResult
from federation.spec import FederationSpec
from tests.e2e.specs import make_spec

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "quickstart-numpy"


def processes_with_home(workdir: Path) -> list[int]:
    """PIDs of live processes whose environment points FLWR_HOME into `workdir` (ours and their children)."""
    needle = f"FLWR_HOME={workdir}/".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z" and any(var.startswith(needle) for var in environ.split(b"\0")):
            found.append(int(entry.name))
    return found


def assert_no_leftovers(workdir: Path, pids: list[int]) -> None:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and processes_with_home(workdir):
        time.sleep(0.1)
    assert processes_with_home(workdir) == []
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue  # gone
        assert stat.rsplit(")", 1)[1].split()[0] == "Z" or f"FLWR_HOME={workdir}/".encode() not in Path(
            f"/proc/{pid}/environ").read_bytes(), f"pid {pid} still running"


def assert_completed(result: RunResult, rounds: int = 2) -> None:
    assert result.ok, f"{result.status}: {result.reason}\n" + "\n".join(result.error_lines)
    assert [r.number for r in result.rounds] == list(range(1, rounds + 1))
    for r in result.rounds:
        assert "train-loss" in r.train and "eval-loss" in r.evaluate, r
    # FedAvg on the synthetic regression: the loss goes down.
    if rounds > 1:
        assert result.rounds[-1].evaluate["eval-loss"] < result.rounds[0].evaluate["eval-loss"]


def run_federation(spec: FederationSpec, workdir: Path, rounds: int = 2) -> tuple[RunResult, LocalFederation, list[int]]:
    with LocalFederation(spec, workdir) as fed:
        result = fed.run(EXAMPLE, rounds, timeout=120)
        pids = fed.pids()
    return result, fed, pids


def test_tls_subprocess_isolation(tmp_path: Path) -> None:
    spec = make_spec(hub={"tls": {"mode": "generate"}, "isolation": "subprocess", "allowSubprocessIsolation": True})
    result, fed, pids = run_federation(spec, tmp_path)
    assert_completed(result)
    assert fed.tls and Path(fed.layout.ca_cert).is_file()
    argv = (tmp_path / "logs" / "superlink.argv").read_text()
    assert "--ssl-certfile" in argv and "--isolation subprocess" in argv
    assert len(pids) >= 4  # SuperLink + its SuperExec + 2 SuperNodes (+ their SuperExecs)
    assert_no_leftovers(tmp_path, pids)


def test_tls_with_supernode_auth(tmp_path: Path) -> None:
    # A node-config value with a quote, a newline and '=' (Flower's parser once cut such values short).
    spec = make_spec(hub={"supernodeAuth": {"enabled": True}},
                     pools=[{"name": "cpu", "nodeConfig": {"note": 'say "hi"\nthen k=v'}}])
    with LocalFederation(spec, tmp_path) as fed:
        assert all(n.node_id is not None for n in fed.supernodes)
        # Registered nodes come online once their SuperNode activates with its private key.
        deadline = time.monotonic() + 30
        statuses: dict[int, str] = {}
        while time.monotonic() < deadline:
            statuses = {int(str(n.get("node-id"))): str(n.get("status")) for n in fed.supernode_list()}
            if statuses and all(s == "online" for s in statuses.values()) and len(statuses) == 2:
                break
            time.sleep(1)
        assert statuses == {n.node_id: "online" for n in fed.supernodes}
        result = fed.run(EXAMPLE, 2, timeout=120)
        pids = fed.pids()
    assert_completed(result)
    assert_no_leftovers(tmp_path, pids)


def test_process_isolation_with_superexec_secret(tmp_path: Path) -> None:
    spec = make_spec(hub={"isolation": "process"}, pools=[{"name": "cpu", "isolation": "process"}])
    with LocalFederation(spec, tmp_path) as fed:
        assert fed.serverapp_superexec is not None
        assert all(n.superexec is not None for n in fed.supernodes)
        secret = Path(fed.layout.superexec_secret)
        assert secret.stat().st_mode & 0o777 == 0o600 and len(secret.read_text()) >= 32
        result = fed.run(EXAMPLE, 2, timeout=120)
        pids = fed.pids()
    assert_completed(result)
    argv = (tmp_path / "logs" / "superlink.argv").read_text()
    assert "--isolation process" in argv and "--superexec-auth-secret-file" in argv
    assert "--superexec-auth-secret-file" in (tmp_path / "logs" / "superexec-serverapp.argv").read_text()
    assert_no_leftovers(tmp_path, pids)


def test_superlink_restart_with_sqlite(tmp_path: Path) -> None:
    spec = make_spec(hub={"tls": {"mode": "insecure", "allowInsecure": True}})
    with LocalFederation(spec, tmp_path) as fed:
        first = fed.run(EXAMPLE, 1, timeout=90)
        assert_completed(first, rounds=1)
        old_pid = fed.superlink_process.pid if fed.superlink_process else None
        fed.restart_superlink(kill=True)
        assert fed.superlink_process is not None and fed.superlink_process.pid != old_pid
        # The SuperNodes survived the outage (they retry) and the run history is still there.
        assert all(n.process.running() for n in fed.supernodes)
        assert fed.run_status(int(first.run_id or 0))[0] == "finished:completed"
        second = fed.run(EXAMPLE, 2, timeout=120)
        pids = fed.pids()
    assert_completed(second)
    assert second.run_id != first.run_id
    assert_no_leftovers(tmp_path, pids)


def cli(*args: str, cwd: Path = REPO, timeout: float = 150) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "federation", "local", "up", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout, check=False)


def test_failing_app_is_reported(tmp_path: Path) -> None:
    config = yaml.safe_load((REPO / "stacks" / "Pulumi.dev.yaml").read_text())
    config["config"]["flower:federation"]["local"]["runConfig"] = {"fail-at-round": 1}
    stack = tmp_path / "Pulumi.failing.yaml"
    stack.write_text(yaml.safe_dump(config))
    workdir = tmp_path / "work"
    proc = cli("--file", str(stack), "--rounds", "2", "--workdir", str(workdir))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "finished:failed" in proc.stderr
    assert "fail-at-round reached" in proc.stderr
    assert_no_leftovers(workdir, [])


def test_cli_local_up_dev(tmp_path: Path) -> None:
    workdir = tmp_path / "work"
    proc = cli("--stack", "dev", "--rounds", "2", "--workdir", str(workdir))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "round 1/2  train train-loss=" in proc.stdout
    assert "round 2/2  train train-loss=" in proc.stdout and "eval-loss=" in proc.stdout
    assert "completed run" in proc.stdout
    assert (workdir / "logs" / "run-1.log").is_file()
    assert_no_leftovers(workdir, [])
    # flwr run worked on a copy: the example in the repo stays clean.
    assert not list(EXAMPLE.rglob("__pycache__"))


def test_cli_bad_input_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "Pulumi.bad.yaml"
    bad.write_text("config:\n  flower:federation:\n    pools: []\n")
    proc = cli("--file", str(bad), timeout=60)
    assert proc.returncode == 2
    assert "federation.pools" in proc.stderr


def test_timeout_stops_a_stuck_run(tmp_path: Path) -> None:
    """min-nodes above the SuperNode count makes FedAvg wait forever: the runner's timeout ends it."""
    spec = make_spec(hub={"tls": {"mode": "insecure", "allowInsecure": True}, "persistence": {"enabled": False}})
    with LocalFederation(spec, tmp_path) as fed:
        result = fed.run(EXAMPLE, 2, run_config={"min-nodes": 3}, timeout=10)
        pids = fed.pids()
    assert not result.ok
    assert "timed out after 10s" in result.reason
    assert result.run_id is not None  # the run existed and was stopped (no wall-clock bound: pytest-timeout is it)
    assert_no_leftovers(tmp_path, pids)


def test_ctrl_c_tears_everything_down(tmp_path: Path) -> None:
    import signal

    workdir = tmp_path / "work"
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "federation", "local", "up", "--stack", "dev", "--workdir", str(workdir)],
                            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if "running quickstart-numpy" in line:
                break
        time.sleep(3)  # let `flwr run` start
        assert processes_with_home(workdir)
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.terminate()  # the runner tears down on SIGTERM too
            proc.wait(timeout=30)
    assert proc.returncode == 130, stderr
    # It says what it waits for while tearing down (no silent seconds after Ctrl-C).
    assert "interrupted: stopping" in stderr and "SIGTERM now, SIGKILL after 5s" in stderr, stderr
    assert_no_leftovers(workdir, [])
