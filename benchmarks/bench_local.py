"""`flower-federation local up` vs the same federation started by hand with the flwr commands.

Ours: `python -m federation local up --stack dev --rounds 2` (a subprocess; wall time from spawn to
exit, which includes teardown). Hand: a subprocess of this script that does what a user would do with
plain Flower commands, using the argv of the runtime contract (`federation.flower`) for fairness: write
a CA + server certificate (same TLS setting), start `flower-superlink`, poll its health endpoint, start
the same number of `flower-supernode`s (and a ClientApp `flower-superexec` each for process-isolation
pools), write the flwr config, `flwr run <app copy> local --stream --run-config ...`, then terminate
everything. Same app (examples/quickstart-numpy), same rounds. Measured per run: the wall time to the
line that says the federation is up (time-to-ready: `local up`'s "up in", the hand program's line after
its last process start and the SuperLink's /health), the wall time to exit (teardown included), and the
CPU of the whole process tree (RUSAGE_CHILDREN). Pairs alternate their order; medians and IQR of ratios.

Takes minutes (each run starts real Flower processes).

    python benchmarks/bench_local.py --runs 3
    python benchmarks/bench_local.py --quick          # 1 run each
"""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


from benchmarks.common import PYTHON, REPO, Report, Table, Target, add_out_argument, iqr, median

NAME = "local"
#: The lines that say the federation is up: `local up` prints it after fed.start(); the hand program after its last start.
READY_OURS = "  up in "
READY_HAND = "hand-started federation up"
TARGET_RATIO = 1.1
STACK = "dev"


def ours_argv(rounds: int) -> list[str]:
    return [PYTHON, "-m", "federation", "local", "up", "--stack", STACK, "--rounds", str(rounds)]


def hand_argv(rounds: int) -> list[str]:
    return [PYTHON, str(Path(__file__).resolve()), "--hand-worker", "--rounds", str(rounds)]


def hand_federation(rounds: int) -> int:
    """Start the dev stack's federation by hand with the contract's argv; run the app; tear down. Exit code."""
    import ssl
    import urllib.request

    from federation import flower, tls
    from federation.loading import load_stack
    from federation.local.runner import HOST, free_port

    spec = load_stack(STACK, REPO / "stacks")
    work = Path(tempfile.mkdtemp(prefix="bench-hand-"))
    layout = flower.local_layout(str(work))
    for d in (layout.flwr_home, layout.state_dir, layout.tls_dir, layout.auth_dir, layout.secret_dir):
        Path(d).mkdir(parents=True, exist_ok=True)
    bindir = str(Path(sys.executable).parent)
    procs: list[subprocess.Popen[bytes]] = []

    def launch(process: flower.Process) -> None:
        env = {**os.environ, **process.env, "PATH": os.pathsep.join([bindir, os.environ.get("PATH", "")])}
        procs.append(subprocess.Popen(process.argv, env=env, cwd=work, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL, start_new_session=True))

    try:
        use_tls = spec.hub.tls.mode != "insecure"
        if use_tls:
            ca = tls.generate_ca("hand CA", validity_days=30)
            tls.write_tls_files(Path(layout.tls_dir), tls.issue_server_certificate(
                ca, dns_names=["localhost"], ip_addresses=[HOST], validity_days=30))
        if flower.uses_superexec_secret(spec):
            tls.write_private_file(Path(layout.superexec_secret), tls.generate_shared_secret())
        port = free_port()
        address = f"{HOST}:{port}"
        conf = ["[superlink]", 'default = "local"', "", "[superlink.local]", f'address = "{address}"',
                f'root-certificates = "{Path(layout.ca_cert).resolve()}"' if use_tls else "insecure = true"]
        (Path(layout.flwr_home) / "config.toml").write_text("\n".join(conf) + "\n")
        launch(flower.superlink(spec, layout, host=HOST, port=port))
        url = f"{'https' if use_tls else 'http'}://{address}{flower.HEALTH_PATH}"
        context = ssl.create_default_context(cafile=layout.ca_cert) if use_tls else None
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(url, timeout=2, context=context) as response:  # noqa: S310 - local
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("SuperLink not healthy")
            time.sleep(0.2)
        if spec.hub.isolation == "process":
            launch(flower.serverapp_superexec(spec, layout, superlink_host=HOST, port=port, health_host=HOST,
                                              health_port=free_port()))
        total = spec.local.supernodes_per_pool * len(spec.pools)
        index = 0
        for pool in spec.pools:
            for i in range(spec.local.supernodes_per_pool):
                node_port = free_port()
                launch(flower.supernode(spec, pool, layout, superlink_address=address, cluster_name=f"hand-{pool.name}-{i}",
                                        extra_node_config={"partition-id": index, "num-partitions": total},
                                        host=HOST, port=node_port))
                if pool.isolation == "process":
                    launch(flower.clientapp_superexec(layout, supernode_host=HOST, port=node_port, health_host=HOST,
                                                      health_port=free_port()))
                index += 1
        print(READY_HAND, flush=True)  # every process started, the SuperLink healthy: what `local up` calls "up"
        app = work / "app"
        shutil.copytree(REPO / "examples" / "quickstart-numpy", app,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "build", "*.egg-info"))
        env = {**os.environ, **flower.environment(layout), "PYTHONDONTWRITEBYTECODE": "1",
               "PATH": os.pathsep.join([bindir, os.environ.get("PATH", "")])}
        run = subprocess.run([str(Path(bindir) / "flwr"), "run", str(app), "local", "--stream", "--run-config",
                              f"num-server-rounds={rounds} min-nodes={total}"],
                             env=env, cwd=work, capture_output=True, text=True, timeout=600, check=False)
        if run.returncode != 0:
            sys.stderr.write(run.stdout[-2000:] + run.stderr[-2000:])
        return run.returncode
    finally:
        for p in procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        shutil.rmtree(work, ignore_errors=True)


def timed_run(argv: list[str], ready_marker: str) -> dict[str, float]:
    """Wall time to the `ready_marker` line on stdout (time-to-ready) and to exit, and the CPU of the whole tree.

    CPU: user + system of the child and of every process it started and waited for (RUSAGE_CHILDREN).
    """
    usage0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    ready = float("nan")
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
    lines = []
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.append(line)
        if ready != ready and ready_marker in line:
            ready = time.perf_counter() - start
    stderr = proc.stderr.read() if proc.stderr else ""
    code = proc.wait(timeout=900)
    total = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    if code != 0:
        raise RuntimeError(f"{' '.join(argv[1:])} failed ({code}):\n{''.join(lines)[-2000:]}\n{stderr[-2000:]}")
    if ready != ready:
        raise RuntimeError(f"{' '.join(argv[1:])}: no {ready_marker!r} line on stdout")
    cpu = usage.ru_utime + usage.ru_stime - usage0.ru_utime - usage0.ru_stime
    return {"wall": total, "ready": ready, "cpu": cpu}


def measure(runs: int, rounds: int) -> Report:
    ours: list[dict[str, float]] = []
    hand: list[dict[str, float]] = []
    for i in range(runs):
        pair = [("ours", ours_argv(rounds), READY_OURS), ("hand", hand_argv(rounds), READY_HAND)]
        for which, argv, marker in pair if i % 2 == 0 else pair[::-1]:
            (ours if which == "ours" else hand).append(timed_run(argv, marker))
        print(f"  ours ready {ours[-1]['ready']:.2f}s total {ours[-1]['wall']:.2f}s cpu {ours[-1]['cpu']:.2f}s  "
              f"hand ready {hand[-1]['ready']:.2f}s total {hand[-1]['wall']:.2f}s cpu {hand[-1]['cpu']:.2f}s",
              file=sys.stderr, flush=True)
    rows = []
    targets = []
    measures = (("ready", "time to ready (wall s)"), ("wall", "spawn to exit (wall s)"), ("cpu", "CPU of all processes (s)"))
    for key, label in measures:
        o, h = [r[key] for r in ours], [r[key] for r in hand]
        ratios = [a / b for a, b in zip(o, h, strict=True)]
        q1, q3 = iqr(ratios)
        rows.append([label, STACK, rounds, runs, median(o), median(h), median(ratios), f"{q1:.3f}–{q3:.3f}"])
        if key == "wall":
            targets.append(Target("local up / hand-started (spawn to exit)", f"<= {TARGET_RATIO}x", f"{median(ratios):.2f}x",
                                  median(ratios) <= TARGET_RATIO))
    return Report(
        NAME, "Local runner vs hand-started Flower", " ".join(__doc__.split("\n\n")[1].split()),
        tables=[Table("local up vs by hand (medians; ratios per pair)",
                      ["measure", "stack", "rounds", "pairs", "ours", "hand", "ours/hand", "IQR"], rows)],
        targets=targets,
        data={"ours": ours, "hand": hand},
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10, help="pairs (ours, hand), order alternating (median)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="one pair only")
    parser.add_argument("--hand-worker", action="store_true", help=argparse.SUPPRESS)
    add_out_argument(parser)
    args = parser.parse_args(argv)
    if args.quick:
        args.runs = 1
    return args


def main(argv: list[str] | None = None) -> Report | None:
    args = parse_args(argv)
    if args.hand_worker:
        sys.exit(hand_federation(args.rounds))
    report = measure(args.runs, args.rounds)
    report.write(args.out)
    report.print()
    return report


if __name__ == "__main__":
    main()
