"""`validate` on a generated 1 000-pool config and `render` on 100 pools + 100 ClientApps.

In-process figures time only our functions (median of `--runs`):
* validate: `parse_spec` on the declaration dict (its memo cleared before each run, so every run parses),
  and `load_file` (YAML read + parse) on the stack file;
* render: `planned_objects` (no key material, public CA given) and `render_files` (YAML text), separately.
CLI figures are the wall time of a fresh `python -m federation ...` subprocess (interpreter start and
imports included; median of `--cli-runs`): `validate --file` and `render --file --ca-certificate --out`.

    python benchmarks/bench_cli.py
    python benchmarks/bench_cli.py --validate-pools 10 --render-pools 5 --runs 1 --cli-runs 1
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import PYTHON, REPO, Report, Table, Target, add_out_argument, declaration, median, stack_yaml, timed

NAME = "cli"
VALIDATE_TARGET = 1.0
RENDER_TARGET = 2.0


def clear_memo() -> None:
    """Forget parse_spec's memo (if this version has one) so every timed run parses."""
    from federation import loading

    memo = getattr(loading, "_PARSED", None)
    if memo is not None:
        memo.clear()


def cli_wall(args: list[str], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        proc = subprocess.run([PYTHON, "-m", "federation", *args], capture_output=True, text=True, cwd=REPO, check=False)
        times.append(time.perf_counter() - start)
        if proc.returncode != 0:
            raise RuntimeError(f"flower-federation {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return times


def measure(validate_pools: int, render_pools: int, runs: int, cli_runs: int) -> Report:
    from federation import loading, planning, render, tls

    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-cli-") as tmp:
        root = Path(tmp)
        # --- validate ---
        vdata = declaration(validate_pools)
        vfile = root / "Pulumi.validate.yaml"
        vfile.write_text(stack_yaml(vdata), encoding="utf-8")
        parse_times, load_times = [], []
        for _ in range(runs):
            clear_memo()
            parse_times.append(timed(loading.parse_spec, vdata)[0])
            clear_memo()
            load_times.append(timed(loading.load_file, vfile)[0])
        v_cli = cli_wall(["validate", "--file", str(vfile)], cli_runs)
        vlabel = f"validate {validate_pools} pools + {validate_pools} ClientApps"
        rows += [
            [vlabel, "in-process parse_spec", median(parse_times), runs],
            [vlabel, "in-process load_file (YAML + parse)", median(load_times), runs],
            [vlabel, "CLI wall (python -m federation validate)", median(v_cli), cli_runs],
        ]
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
            t_plan, objs = timed(planning.planned_objects, spec, material=None, ca_certificate=ca_pem)
            t_yaml, files = timed(render.render_files, objs)
            plan_times.append(t_plan)
            yaml_times.append(t_yaml)
            nobjs = len(files) - 1
        r_cli = cli_wall(["render", "--file", str(rfile), "--ca-certificate", str(ca), "--out", str(root / "out")], cli_runs)
        label = f"render {render_pools} pools + {render_pools} ClientApps ({nobjs} objects)"
        in_process = [p + y for p, y in zip(plan_times, yaml_times, strict=True)]
        rows += [
            [label, "in-process planned_objects", median(plan_times), runs],
            [label, "in-process render_files (YAML)", median(yaml_times), runs],
            [label, "in-process planned_objects + render_files", median(in_process), runs],
            [label, "CLI wall (python -m federation render --ca-certificate)", median(r_cli), cli_runs],
        ]
    targets = [
        Target(f"validate {validate_pools} pools, in-process parse_spec", f"< {VALIDATE_TARGET:g} s",
               f"{median(parse_times):.3f} s", median(parse_times) < VALIDATE_TARGET),
        Target(f"validate {validate_pools} pools, CLI wall", f"< {VALIDATE_TARGET:g} s",
               f"{median(v_cli):.3f} s", median(v_cli) < VALIDATE_TARGET),
        Target(f"render {render_pools}+{render_pools}, in-process", f"< {RENDER_TARGET:g} s",
               f"{median(in_process):.3f} s", median(in_process) < RENDER_TARGET),
        Target(f"render {render_pools}+{render_pools}, CLI wall", f"< {RENDER_TARGET:g} s",
               f"{median(r_cli):.3f} s", median(r_cli) < RENDER_TARGET),
    ]
    return Report(NAME, "CLI: validate and render", " ".join(__doc__.split("\n\n")[1].split()),
                  tables=[Table("validate / render (seconds, medians)", ["case", "what is timed", "median s", "runs"], rows)],
                  targets=targets,
                  data={"validate_parse_spec": parse_times, "validate_load_file": load_times, "validate_cli": v_cli,
                        "render_planned_objects": plan_times, "render_files": yaml_times, "render_cli": r_cli})


def main(argv: list[str] | None = None) -> Report:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--validate-pools", type=int, default=1000)
    parser.add_argument("--render-pools", type=int, default=100)
    parser.add_argument("--runs", type=int, default=5, help="in-process repetitions (median)")
    parser.add_argument("--cli-runs", type=int, default=3, help="CLI subprocess repetitions (median)")
    add_out_argument(parser)
    args = parser.parse_args(argv)
    report = measure(args.validate_pools, args.render_pools, args.runs, args.cli_runs)
    report.write(args.out)
    report.print()
    return report


if __name__ == "__main__":
    main()
