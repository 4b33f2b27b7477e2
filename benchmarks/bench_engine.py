"""`pulumi preview` (and optionally `pulumi up`) of our `Federation` vs the fair hand-written program, with the real engine.

The same two programs as `bench_program.py` (ours: `Federation("fl", ...)`; fair: the generated
hand-written program with the same registrations), each in its own Pulumi project with a file
backend, run by the real Pulumi CLI, its Python language host and the Kubernetes provider plugin
against the rig's API server (`rig/`, `make rig`; OCM's CRDs installed). Measured per run: the CPU
of the whole process tree, i.e. the CLI, the language host, the program and the provider plugins
(user + system of every process the CLI started and waited for, RUSAGE_CHILDREN), and the wall
time. Stacks are created and previewed once before timing (plugin loading and caches warm). Runs go
in pairs, the order reversed every other pair; medians and interquartile ranges. With `--up`, each
pair also runs `pulumi up` on fresh stacks (then `pulumi destroy`, untimed).

    rig/build && python benchmarks/bench_engine.py --sizes 1 10 --pairs 10
    python benchmarks/bench_engine.py --sizes 10 --pairs 3 --up
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import PYTHON, REPO, Report, Table, add_out_argument, declaration, iqr, median

NAME = "engine"
CACHE = Path(os.environ.get("FLOWER_FEDERATION_RIG_CACHE", Path.home() / ".cache" / "flower-federation-rig"))
RIG = REPO / "rig" / "rig"
NEEDED = ("etcd", "kube-apiserver", "kube-controller-manager", "ocm-placement", "ocm-addon", "ocm-work", "pulumi",
          "pulumi-language-python")

OURS = '''import json
from pathlib import Path

from components.federation import Federation

Federation("fl", {"federation": json.loads(Path("declaration.json").read_text()), "existing_ca_certificate": None})
'''


def missing() -> list[str]:
    out = [b for b in NEEDED if not os.access(CACHE / "bin" / b, os.X_OK)]
    if not (CACHE / "plugins" / "pulumi-resource-kubernetes").exists():
        out.append("pulumi-resource-kubernetes")
    return out


def _env(path: Path) -> dict[str, str]:
    env = dict(os.environ)
    for line in path.read_text().splitlines():
        key, _, value = line.removeprefix("export ").partition("=")
        env[key] = value.strip("'")
    return env


def project(root: Path, name: str, program: str, data: dict[str, Any]) -> Path:
    d = root / name
    d.mkdir(parents=True)
    (d / "Pulumi.yaml").write_text(f"name: bench-{name}\nruntime:\n  name: python\n  options:\n    virtualenv: venv\n")
    (d / "__main__.py").write_text(program)
    (d / "declaration.json").write_text(json.dumps(data))
    (d / "venv").symlink_to(Path(PYTHON).resolve().parents[1])
    (d / "backend").mkdir()
    return d


def pulumi(d: Path, env: dict[str, str], *args: str) -> dict[str, float]:
    """Run `pulumi ARGS` in project `d`; CPU of the process tree and wall seconds."""
    usage0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(["pulumi", *args, "--non-interactive"], cwd=d, capture_output=True, text=True, timeout=3600,
                          env={**env, "PULUMI_BACKEND_URL": f"file://{d / 'backend'}", "PULUMI_CONFIG_PASSPHRASE": "bench"},
                          check=False)
    wall = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(f"pulumi {' '.join(args)} in {d.name} exited {proc.returncode}:\n{proc.stdout[-3000:]}\n"
                           f"{proc.stderr[-2000:]}")
    return {"cpu": usage.ru_utime + usage.ru_stime - usage0.ru_utime - usage0.ru_stime, "wall": wall}


def measure(sizes: list[int], pairs: int, up: bool) -> Report:
    from benchmarks.bench_program import fair_module
    from federation.loading import parse_spec

    if missing():
        raise SystemExit(f"the rig is not built (missing {missing()}): run `make rig`")
    rows: list[list[Any]] = []
    raw: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-engine-") as tmp:
        root = Path(tmp)
        rig_dir = root / "rig"
        started = subprocess.run([str(RIG), "up", str(rig_dir), "--context", "hub-dev"], capture_output=True, text=True,
                                 timeout=600, check=False)
        if started.returncode != 0:
            raise RuntimeError(f"rig up failed:\n{started.stderr[-4000:]}")
        try:
            env = _env(rig_dir / "env")
            for size in sizes:
                data = declaration(size)
                fair = fair_module(parse_spec(data))
                dirs = {"ours": project(root / str(size), "ours", OURS, data),
                        "fair": project(root / str(size), "fair", fair, data)}
                for d in dirs.values():
                    pulumi(d, env, "stack", "init", "bench")
                    pulumi(d, env, "preview")  # warm-up, untimed
                series: dict[str, dict[str, list[float]]] = {w: {"preview": [], "up": []} for w in dirs}
                for i in range(pairs):
                    order = ["ours", "fair"] if i % 2 == 0 else ["fair", "ours"]
                    for which in order:
                        r = pulumi(dirs[which], env, "preview")
                        series[which]["preview"].append(r["cpu"])
                        raw.append({"which": which, "pools": size, "command": "preview", **r})
                        if up:
                            r = pulumi(dirs[which], env, "up", "--yes", "--skip-preview")
                            series[which]["up"].append(r["cpu"])
                            raw.append({"which": which, "pools": size, "command": "up", **r})
                            pulumi(dirs[which], env, "destroy", "--yes", "--skip-preview")
                    print(f"  pools={size} preview ours {series['ours']['preview'][-1]:.2f}s fair "
                          f"{series['fair']['preview'][-1]:.2f}s CPU", file=sys.stderr, flush=True)
                for command in ("preview", "up") if up else ("preview",):
                    o, f = series["ours"][command], series["fair"][command]
                    ratios = [a / b for a, b in zip(o, f, strict=True)]
                    q1, q3 = iqr(ratios)
                    rows.append([command, size, pairs, median(o), median(f), median(ratios), f"{q1:.3f}–{q3:.3f}"])
        finally:
            subprocess.run([str(RIG), "down", str(rig_dir)], capture_output=True, text=True, timeout=300, check=False)
            shutil.rmtree(rig_dir, ignore_errors=True)
    return Report(NAME, "The real engine: pulumi preview of Federation vs the fair hand-written program",
                  " ".join(__doc__.split("\n\n")[1].split()),
                  tables=[Table("CPU seconds of the process tree (medians; ratios per pair)",
                                ["command", "pools", "pairs", "ours CPU s", "fair CPU s", "ours/fair", "IQR"], rows)],
                  data={"runs": raw})


def main(argv: list[str] | None = None) -> Report:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 10])
    parser.add_argument("--pairs", type=int, default=10)
    parser.add_argument("--up", action="store_true", help="also time `pulumi up` (and destroy, untimed) per run")
    add_out_argument(parser)
    args = parser.parse_args(argv)
    report = measure(args.sizes, args.pairs, args.up)
    report.write(args.out)
    report.print()
    return report


if __name__ == "__main__":
    main()
