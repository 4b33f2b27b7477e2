"""Run every benchmark and write `ALL.md` (ready to paste into docs/benchmarks.md) next to the reports.

    python benchmarks/run_all.py                 # full sizes; bench_local with --runs 3 (minutes)
    python benchmarks/run_all.py --quick         # small sizes, 1 local run
    python benchmarks/run_all.py --skip-local
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import bench_cli, bench_engine, bench_local, bench_objects, bench_program
from benchmarks.common import Report, add_out_argument, machine, markdown_table


def machine_markdown() -> str:
    m = machine()
    rows = [["nproc", m["nproc"]], ["CPU", m["cpu"]], ["Python", m["python"]], ["platform", m["platform"]]]
    rows += [[name, version or "-"] for name, version in m["packages"].items()]
    return markdown_table(["", ""], rows)


def main(argv: list[str] | None = None) -> list[Report]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes and one local run (a smoke run, not figures)")
    parser.add_argument("--skip-local", action="store_true", help="leave out bench_local (it takes minutes)")
    parser.add_argument("--local-runs", type=int, default=10)
    parser.add_argument("--engine", action="store_true", help="also run bench_engine (needs the rig: make rig)")
    add_out_argument(parser)
    args = parser.parse_args(argv)
    out = ["--out", str(args.out)]
    reports: list[Report | None] = []
    if args.quick:
        reports.append(bench_program.main(["--sizes", "1", "10", "--rounds", "1", "--gc", "normal", *out]))
        reports.append(bench_objects.main(["--clusters", "1", "10", "--manual-clusters", "1", "10", "--pools", "1", "10", *out]))
        reports.append(bench_cli.main(["--validate-pools", "50", "--render-pools", "10", "--runs", "1", "--cli-runs", "1", *out]))
    else:
        reports.append(bench_program.main(out))
        reports.append(bench_objects.main(out))
        reports.append(bench_cli.main(out))
    if args.engine:
        reports.append(bench_engine.main(["--sizes", "1", "--pairs", "1", *out] if args.quick else out))
    if not args.skip_local:
        reports.append(bench_local.main(["--runs", "1" if args.quick else str(args.local_runs), *out]))
    done = [r for r in reports if r is not None]
    text = ["## Machine", "", machine_markdown(), ""]
    text += [r.to_markdown(level=2) for r in done]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "ALL.md").write_text("\n".join(text) + "\n", encoding="utf-8")
    print(f"\nwrote {args.out / 'ALL.md'}")
    return done


if __name__ == "__main__":
    main()
