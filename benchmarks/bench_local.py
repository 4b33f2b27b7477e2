"""`flower-federation local up` vs the same federation started by hand with the flwr commands.

Ours: `python -m federation local up --stack dev --rounds 2` (a subprocess; wall time from spawn to
exit, which includes teardown). Hand: a subprocess of this script that does what a user would do with
plain Flower commands, using the argv of the runtime contract (`federation.flower`) for fairness: write
a CA + server certificate (same TLS setting), start `flower-superlink`, poll its health endpoint, start
the same number of `flower-supernode`s (and a ClientApp `flower-superexec` each for process-isolation
pools), write the flwr config, `flwr run <app copy> local --stream --run-config ...`, then terminate
everything. Same app (examples/quickstart-numpy), same rounds. Runs alternate ours, hand, ...; medians.

Takes minutes (each run starts real Flower processes).

    python benchmarks/bench_local.py --runs 3
    python benchmarks/bench_local.py --quick          # 1 run each
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


from benchmarks.common import PYTHON, REPO, Report, Table, Target, add_out_argument, median

NAME = "local"
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
            launch(flower.serverapp_superexec(spec, layout, superlink_host=HOST, port=port))
        total = spec.local.supernodes_per_pool * len(spec.pools)
        index = 0
        for pool in spec.pools:
            for i in range(spec.local.supernodes_per_pool):
                node_port = free_port()
                launch(flower.supernode(spec, pool, layout, superlink_address=address, cluster_name=f"hand-{pool.name}-{i}",
                                        extra_node_config={"partition-id": index, "num-partitions": total},
                                        host=HOST, port=node_port))
                if pool.isolation == "process":
                    launch(flower.clientapp_superexec(layout, supernode_host=HOST, port=node_port))
                index += 1
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


def wall(argv: list[str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, cwd=REPO, timeout=900, check=False)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[1:])} failed ({proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return seconds


def measure(runs: int, rounds: int) -> Report:
    ours: list[float] = []
    hand: list[float] = []
    for _ in range(runs):
        ours.append(wall(ours_argv(rounds)))
        hand.append(wall(hand_argv(rounds)))
        print(f"  ours {ours[-1]:.2f}s  hand {hand[-1]:.2f}s", file=sys.stderr, flush=True)
    ratios = [o / h for o, h in zip(ours, hand, strict=True)]
    ratio = median(ratios)
    rows = [[STACK, rounds, runs, median(ours), median(hand), ratio, min(ratios), max(ratios)]]
    return Report(
        NAME, "Local runner vs hand-started Flower", " ".join(__doc__.split("\n\n")[1].split()),
        tables=[Table("local up vs by hand (wall seconds, medians)",
                      ["stack", "rounds", "runs", "ours s", "hand s", "median ratio", "min ratio", "max ratio"], rows)],
        targets=[Target("local up / hand-started", f"<= {TARGET_RATIO}x", f"{ratio:.2f}x", ratio <= TARGET_RATIO)],
        data={"ours": ours, "hand": hand},
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="alternating (ours, hand) pairs (median)")
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
