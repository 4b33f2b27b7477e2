"""Smoke tests of the benchmark scripts: they run at the smallest sizes and write well-formed reports.

No timing assertions: the figures are whatever the machine gives. bench_local starts real Flower
processes and takes minutes, so only its argument parsing is tested here.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import bench_cli, bench_engine, bench_local, bench_objects, bench_program

pytestmark = pytest.mark.slow

KEYS = {"benchmark", "title", "generated", "machine", "method", "tables", "targets", "data", "notes"}


def read_report(out: Path, name: str) -> dict:
    data = json.loads((out / f"{name}.json").read_text())
    assert set(data) >= KEYS
    assert data["benchmark"] == name
    assert {"nproc", "cpu", "python", "packages"} <= set(data["machine"])
    for table in data["tables"]:
        assert table["rows"] and all(len(row) == len(table["columns"]) for row in table["rows"])
    for target in data["targets"]:
        assert {"name", "target", "value", "met"} <= set(target)
        assert target["met"] in (True, False, None)
    md = (out / f"{name}.md").read_text()
    assert md.startswith("## ") and "| " in md
    return data


def test_bench_program_smallest(tmp_path: Path) -> None:
    bench_program.main(["--sizes", "1", "--rounds", "1", "--gc", "normal", "--out", str(tmp_path)])
    data = read_report(tmp_path, "program")
    runs = data["data"]["runs"]
    assert [r["which"] for r in runs] == ["ours", "fair", "naive"]
    ours, fair, naive = runs
    # the fair program registers exactly what ours registers (inputs, dependencies, options), checked by the script
    assert ours["registrations_digest"] == fair["registrations_digest"]
    assert ours["keys_digest"] == fair["keys_digest"] == naive["keys_digest"]
    assert ours["custom_resources"] == fair["custom_resources"] == naive["custom_resources"] > 0
    assert fair["components"] == naive["components"] == 0 < ours["components"]
    assert all(r["cpu_seconds"] > 0 and r["gc"] == "normal" for r in runs)


def test_fair_program_differs_when_a_registration_differs() -> None:
    run = {"pools": 1, "custom_resources": 2, "keys_digest": "k", "registrations_digest": "a",
           "registrations": {"x": "1", "y": "2"}}
    same = {**run, "which": "fair"}
    bench_program.check_equivalent({"ours": run, "fair": same})
    other = {**run, "registrations_digest": "b", "registrations": {"x": "1", "y": "3"}}
    with pytest.raises(RuntimeError, match=r"differ at 1 pools in 1 resources: \['y'\]"):
        bench_program.check_equivalent({"ours": run, "fair": other})


def test_bench_objects_smallest(tmp_path: Path) -> None:
    bench_objects.main(["--clusters", "1", "10", "--manual-clusters", "1", "2", "--pools", "1", "2", "--out", str(tmp_path)])
    data = read_report(tmp_path, "objects")
    ocm = data["data"]["ocm"]
    assert ocm[0][1] == ocm[1][1]  # flat in the cluster count
    manual = data["data"]["manual"]
    assert manual[1][1] == manual[0][1] + 2  # Manual mode: one MCA and one ADC per listed cluster
    assert [row[2] for row in ocm] == [2, 2]  # the dev stack registers both key-material resources
    assert all(t["met"] for t in data["targets"])


def test_bench_cli_smallest(tmp_path: Path) -> None:
    bench_cli.main(["--validate-pools", "2", "--render-pools", "1", "--runs", "1", "--cli-runs", "1",
                    "--out", str(tmp_path)])
    data = read_report(tmp_path, "cli")
    assert len(data["targets"]) == 4
    assert {"validate_parse_spec", "validate_cli", "validate_cli_wall", "render_planned_objects", "render_cli"} <= set(data["data"])
    assert all(cpu > 0 for cpu in data["data"]["validate_cli"])  # the child's CPU, from getrusage
    imports = data["tables"][1]["rows"]
    assert imports and imports[0][0] in {"federation.cli", "federation.__main__", "federation"}


def test_bench_local_arguments() -> None:
    assert bench_local.parse_args(["--quick"]).runs == 1
    args = bench_local.parse_args(["--runs", "4", "--rounds", "3", "--out", "x"])
    assert (args.runs, args.rounds, args.out) == (4, 3, Path("x"))
    assert bench_local.ours_argv(2)[-4:] == ["--stack", "dev", "--rounds", "2"]


def test_bench_engine_projects(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The rig is not started here (the cluster suite does that); the two projects must be valid programs.
    from benchmarks.common import declaration
    from federation.loading import parse_spec

    data = declaration(2)
    fair = bench_program.fair_module(parse_spec(data))
    for name, program in (("ours", bench_engine.OURS), ("fair", fair)):
        d = bench_engine.project(tmp_path, name, program, data)
        compile((d / "__main__.py").read_text(), str(d / "__main__.py"), "exec")
        names = {n for n in ("pulumi", "k8s", "SuperLinkCertificate", "SharedSecret", "ca_bundle", "ca_checksum",
                             "tls_checksum") if n in (d / "__main__.py").read_text()}
        if name == "fair":  # a stand-alone program: every name it uses is imported or defined in it
            monkeypatch.chdir(d)
            namespace: dict = {"__name__": "bench"}
            module = compile((d / "__main__.py").read_text().replace("\nprogram()\n", "\n"), "fair", "exec")
            exec(module, namespace)  # noqa: S102 - the generated program, without its call
            assert names <= set(namespace) and callable(namespace["program"])
        assert "runtime:" in (d / "Pulumi.yaml").read_text() and (d / "venv" / "bin" / "python").exists()
        assert json.loads((d / "declaration.json").read_text()) == data


@pytest.mark.parametrize("module", [bench_program, bench_objects, bench_cli, bench_local, bench_engine])
def test_scripts_default_out_is_git_ignored(module: object) -> None:
    from benchmarks.common import DEFAULT_OUT

    ignore = (Path(bench_program.__file__).parent / ".gitignore").read_text().split()
    assert DEFAULT_OUT.name + "/" in ignore
