"""`validate` on a generated 1 000-pool config and `render` on 100 pools + 100 ClientApps.

CPU seconds throughout (`time.process_time` in-process; the child's user + system CPU from
`resource.getrusage(RUSAGE_CHILDREN)` for the CLI; wall time alongside). In-process figures time only
our functions (median of `--runs`):
* validate: `parse_spec` on the declaration dict (its memo cleared before each run, so every run parses),
  and `load_file` (YAML read + parse) on the stack file;
* render: `planned_objects` (no key material, public CA given) and `render_files` (YAML text), separately.
CLI figures are the CPU (and wall) time of a fresh `python -m federation ...` subprocess (interpreter
start and imports included; median of `--cli-runs`): `validate --file` and `render --file
--ca-certificate --out`. With `--baseline TREE` (another checkout, e.g. `git archive REV | tar -x -C
TREE`) every CLI run of this tree alternates with one of TREE's (run from TREE, so `python -m
federation` imports TREE's package), in turn first and second, and both are reported.

    python benchmarks/bench_cli.py
    python benchmarks/bench_cli.py --validate-pools 10 --render-pools 5 --runs 1 --cli-runs 1
    python benchmarks/bench_cli.py --baseline /tmp/before --cli-runs 12
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import (
    PYTHON,
    REPO,
    Report,
    Table,
    Target,
    add_out_argument,
    cpu_timed,
    declaration,
    iqr,
    median,
    stack_yaml,
)

NAME = "cli"
VALIDATE_TARGET = 1.0
RENDER_TARGET = 2.0


def clear_memo() -> None:
    """Forget parse_spec's memo (if this version has one) so every timed run parses."""
    from federation import loading

    memo = getattr(loading, "_PARSED", None)
    if memo is not None:
        memo.clear()


def child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def cli_run(args: list[str], tree: Path = REPO) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of one fresh `python -m federation ARGS` process, run in `tree`."""
    cpu0, start = child_cpu(), time.perf_counter()
    proc = subprocess.run([PYTHON, "-m", "federation", *args], capture_output=True, text=True, cwd=tree, check=False)
    wall, cpu = time.perf_counter() - start, child_cpu() - cpu0
    if proc.returncode != 0:
        raise RuntimeError(f"flower-federation {' '.join(args)} in {tree} failed ({proc.returncode}):\n"
                           f"{proc.stderr[-3000:]}")
    return cpu, wall


def cli_times(args: list[str], runs: int, trees: tuple[Path, ...] = (REPO,)) -> list[tuple[list[float], list[float]]]:
    """Per tree, (CPU seconds, wall seconds) of `runs` fresh `python -m federation ARGS` processes; the trees
    take turns, each first in turn (A B, B A, A B, ...), so a change in the machine's load hits all alike."""
    times: list[tuple[list[float], list[float]]] = [([], []) for _ in trees]
    for i in range(runs):
        order = list(range(len(trees))) if i % 2 == 0 else list(reversed(range(len(trees))))
        for t in order:
            cpu, wall = cli_run(args, trees[t])
            times[t][0].append(cpu)
            times[t][1].append(wall)
    return times


def import_costs(args: list[str], top: int = 12) -> list[list[Any]]:
    """The modules `python -X importtime -m federation ARGS` imports, heaviest first (cumulative microseconds of
    wall time as Python reports them; a package's figure includes what it imports), for the packages
    imported directly by others than themselves (nesting level 1 and 2)."""
    proc = subprocess.run([PYTHON, "-X", "importtime", "-m", "federation", *args], capture_output=True, text=True,
                          cwd=REPO, check=False)
    rows = []
    for line in proc.stderr.splitlines():
        parts = line.split("|")
        if not line.startswith("import time:") or len(parts) != 3 or not parts[1].strip().isdigit():
            continue
        depth = (len(parts[2]) - len(parts[2].lstrip()) - 1) // 2
        if depth <= 1:
            rows.append((parts[2].strip(), int(parts[1]) / 1e6, depth))
    rows.sort(key=lambda r: -r[1])
    return [[name, seconds, "top level" if depth == 0 else "imported by a top-level one"] for name, seconds, depth in rows[:top]]


def _q(values: list[float]) -> str:
    q1, q3 = iqr(values)
    return f"{q1:.3f}–{q3:.3f}"


def measure(validate_pools: int, render_pools: int, runs: int, cli_runs: int, baseline: Path | None = None) -> Report:
    from federation import loading, planning, render, tls

    trees = (REPO,) if baseline is None else (REPO, baseline.resolve())
    rows = []
    data: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-cli-") as tmp:
        root = Path(tmp)
        # --- validate ---
        vdata = declaration(validate_pools)
        vfile = root / "Pulumi.validate.yaml"
        vfile.write_text(stack_yaml(vdata), encoding="utf-8")
        parse_times, load_times = [], []
        for _ in range(runs):
            clear_memo()
            parse_times.append(cpu_timed(loading.parse_spec, vdata)[0])
            clear_memo()
            load_times.append(cpu_timed(loading.load_file, vfile)[0])
        (v_cli, v_wall), *v_base = cli_times(["validate", "--file", str(vfile)], cli_runs, trees)
        imports = import_costs(["validate", "--file", str(vfile)])
        vlabel = f"validate {validate_pools} pools + {validate_pools} ClientApps"
        rows += [
            [vlabel, "in-process parse_spec (CPU)", median(parse_times), _q(parse_times), runs],
            [vlabel, "in-process load_file (YAML + parse, CPU)", median(load_times), _q(load_times), runs],
            [vlabel, "CLI CPU (python -m federation validate)", median(v_cli), _q(v_cli), cli_runs],
            [vlabel, "CLI wall (same runs)", median(v_wall), _q(v_wall), cli_runs],
        ]
        for b_cpu, b_wall in v_base:
            rows += [[vlabel, f"baseline {trees[1]}: CLI CPU (alternating)", median(b_cpu), _q(b_cpu), cli_runs],
                     [vlabel, "baseline: CLI wall (same runs)", median(b_wall), _q(b_wall), cli_runs]]
            data |= {"validate_cli_baseline": b_cpu, "validate_cli_wall_baseline": b_wall}
        # --- render ---
        rdata = declaration(render_pools)
        rfile = root / "Pulumi.render.yaml"
        rfile.write_text(stack_yaml(rdata), encoding="utf-8")
        ca = root / "ca.pem"
        ca.write_text(tls.generate_ca(validity_days=30).cert_pem, encoding="utf-8")
        ca_pem = ca.read_text(encoding="utf-8")
        spec = loading.parse_spec(rdata)
        plan_times, yaml_times, nobjs = [], [], 0
        for _ in range(runs):
            t_plan, objs = cpu_timed(planning.planned_objects, spec, material=None, ca_certificate=ca_pem)
            t_yaml, files = cpu_timed(render.render_files, objs)
            plan_times.append(t_plan)
            yaml_times.append(t_yaml)
            nobjs = len(files) - 1
        (r_cli, r_wall), *r_base = cli_times(
            ["render", "--file", str(rfile), "--ca-certificate", str(ca), "--out", str(root / "out")], cli_runs, trees)
        label = f"render {render_pools} pools + {render_pools} ClientApps ({nobjs} objects)"
        in_process = [p + y for p, y in zip(plan_times, yaml_times, strict=True)]
        rows += [
            [label, "in-process planned_objects (CPU)", median(plan_times), _q(plan_times), runs],
            [label, "in-process render_files (YAML, CPU)", median(yaml_times), _q(yaml_times), runs],
            [label, "in-process planned_objects + render_files (CPU)", median(in_process), _q(in_process), runs],
            [label, "CLI CPU (python -m federation render --ca-certificate)", median(r_cli), _q(r_cli), cli_runs],
            [label, "CLI wall (same runs)", median(r_wall), _q(r_wall), cli_runs],
        ]
        for b_cpu, b_wall in r_base:
            rows += [[label, f"baseline {trees[1]}: CLI CPU (alternating)", median(b_cpu), _q(b_cpu), cli_runs],
                     [label, "baseline: CLI wall (same runs)", median(b_wall), _q(b_wall), cli_runs]]
            data |= {"render_cli_baseline": b_cpu, "render_cli_wall_baseline": b_wall}
    targets = [
        Target(f"validate {validate_pools} pools, in-process parse_spec", f"< {VALIDATE_TARGET:g} s",
               f"{median(parse_times):.3f} s", median(parse_times) < VALIDATE_TARGET),
        Target(f"validate {validate_pools} pools, CLI CPU", f"< {VALIDATE_TARGET:g} s",
               f"{median(v_cli):.3f} s", median(v_cli) < VALIDATE_TARGET),
        Target(f"render {render_pools}+{render_pools}, in-process", f"< {RENDER_TARGET:g} s",
               f"{median(in_process):.3f} s", median(in_process) < RENDER_TARGET),
        Target(f"render {render_pools}+{render_pools}, CLI CPU", f"< {RENDER_TARGET:g} s",
               f"{median(r_cli):.3f} s", median(r_cli) < RENDER_TARGET),
    ]
    return Report(NAME, "CLI: validate and render", " ".join(__doc__.split("\n\n")[1].split()),
                  tables=[Table("validate / render (seconds, medians)",
                                ["case", "what is timed", "median s", "IQR", "runs"], rows),
                          Table("validate 's imports, heaviest first (python -X importtime, cumulative wall s, one run)",
                                ["module", "cumulative s", "level"], imports)],
                  targets=targets,
                  data={"validate_parse_spec": parse_times, "validate_load_file": load_times, "validate_cli": v_cli,
                        "validate_cli_wall": v_wall,
                        "render_planned_objects": plan_times, "render_files": yaml_times, "render_cli": r_cli,
                        "render_cli_wall": r_wall, **data})


def main(argv: list[str] | None = None) -> Report:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--validate-pools", type=int, default=1000)
    parser.add_argument("--render-pools", type=int, default=100)
    parser.add_argument("--runs", type=int, default=10, help="in-process repetitions (median)")
    parser.add_argument("--cli-runs", type=int, default=10, help="CLI subprocess repetitions (median)")
    parser.add_argument("--baseline", type=Path, default=None, metavar="TREE",
                        help="another checkout whose CLI runs alternate with this one's (before/after)")
    add_out_argument(parser)
    args = parser.parse_args(argv)
    report = measure(args.validate_pools, args.render_pools, args.runs, args.cli_runs, args.baseline)
    report.write(args.out)
    report.print()
    return report


if __name__ == "__main__":
    main()
