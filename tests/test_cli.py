"""The CLI as a user runs it: exit codes, output, no tracebacks, nothing written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def run_cli(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    """The CLI in-process (typer's runner): exit code, stdout and stderr as a user sees them."""
    from typer.testing import CliRunner

    from federation.cli import app

    old = os.getcwd()
    os.chdir(cwd)
    try:
        # catch_exceptions=False: an unexpected exception fails the test with its traceback
        res = CliRunner().invoke(app, list(args), env={"COLUMNS": "200"}, catch_exceptions=False)
    finally:
        os.chdir(old)
    return subprocess.CompletedProcess(list(args), res.exit_code, res.stdout, res.stderr)


def run_cli_process(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    """The CLI as a separate process (`python -m federation`), for the smoke tests that need one."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "federation", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_validate_shipped_stacks(stack: str) -> None:
    res = run_cli("validate", "--stack", stack)
    assert res.returncode == 0, res.stderr
    assert f"valid stack {stack}" in res.stdout
    assert "pool" in res.stdout and "Traceback" not in res.stderr


def test_validate_prod_summary_shows_selection_and_gpu() -> None:
    out = run_cli("validate", "--stack", "prod").stdout
    assert "labels accelerator=nvidia" in out
    assert "GPU 1× nvidia.com/gpu on nodes nvidia.com/gpu.present=true" in out
    assert "resource-usage-score/gpuClusterAvailable×5" in out
    assert "clientApp  trainer-gpu" in out


def test_malformed_stack_exits_2_with_field_paths(tmp_path: Path) -> None:
    bad = tmp_path / "Pulumi.bad.yaml"
    bad.write_text(
        "config:\n"
        "  flower:federation:\n"
        "    hub: {exposure: {externalNames: [a.example.com]}, port: 0}\n"
        "    pools:\n"
        "      - name: cpu\n"
        "      - name: gpu\n"
        "        gpu: {count: 0}\n"
        "        colour: blue\n"
    )
    before = sorted(p.name for p in tmp_path.iterdir())
    res = run_cli("validate", "--file", str(bad))
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert "federation.pools[1].gpu.count: must be >= 1" in lines
    assert "federation.pools[1].colour: unknown key 'colour'" in lines
    assert "federation.hub.port: must be >= 1" in lines
    assert "Traceback" not in res.stderr + res.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_stack_from_other_directory(tmp_path: Path) -> None:
    (tmp_path / "Pulumi.x.yaml").write_text((REPO / "stacks" / "Pulumi.dev.yaml").read_text())
    res = run_cli("validate", "--stack", "x", "--stacks-dir", str(tmp_path))
    assert res.returncode == 0, res.stderr


def test_unknown_stack_exits_2() -> None:
    res = run_cli_process("validate", "--stack", "nope")  # a real process: exit status and stderr
    assert res.returncode == 2
    assert "stacks/Pulumi.nope.yaml: no such stack file" in res.stderr
    assert "Traceback" not in res.stderr


def test_stack_and_file_are_exclusive() -> None:
    res = run_cli("validate")
    assert res.returncode == 2
    assert "exactly one of --stack NAME or --file PATH" in res.stderr


def test_console_script_and_module_agree() -> None:
    exe = Path(sys.executable).with_name("flower-federation")
    if not exe.exists():
        pytest.fail("the console script flower-federation is not installed next to the interpreter")
    res = subprocess.run([str(exe), "validate", "--stack", "dev"], cwd=REPO, capture_output=True, text=True,
                         timeout=120, check=False)
    assert res.returncode == 0, res.stderr
    assert res.stdout == run_cli_process("validate", "--stack", "dev").stdout


def _stack(tmp_path: Path, federation: str, extra: str = "") -> Path:
    path = tmp_path / "Pulumi.t.yaml"
    path.write_text("config:\n" + extra + "  flower:federation:\n" + federation)
    return path


_FED = "    hub: {exposure: {externalNames: [a.example.com]}}\n    pools: [{name: cpu}]\n"


def test_validate_checks_the_policy_settings_too(tmp_path: Path) -> None:
    path = _stack(tmp_path, "    hub: {port: 0, exposure: {externalNames: [a.example.com]}}\n    pools: [{name: cpu}]\n",
                  "  flower:policy:\n    productoin: true\n")
    res = run_cli("validate", "--file", str(path))
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert "policy.productoin: unknown key 'productoin'" in lines
    assert "federation.hub.port: must be >= 1" in lines


def test_validate_warns_about_latest_but_exits_0(tmp_path: Path) -> None:
    path = _stack(tmp_path, "    flower: {images: {superlink: 'flwr/superlink:latest'}}\n" + _FED)
    res = run_cli("validate", "--file", str(path))
    assert res.returncode == 0, res.stderr
    assert "warning: federation.flower.images.superlink: 'flwr/superlink:latest' uses the mutable tag" in res.stderr


def test_validate_example_declarations_as_they_are() -> None:
    bare = run_cli("validate", "--file", "examples/embedded/declaration.yaml")
    assert bare.returncode == 0, bare.stderr
    assert "valid examples/embedded/declaration.yaml: federation flower-team-a" in bare.stdout
    side = run_cli("validate", "--file", "examples/side-by-side/Pulumi.dev.yaml", "--key", "flower-side-by-side:federations")
    assert side.returncode == 0, side.stderr
    assert "federations[0]: federation flower-vision" in side.stdout
    assert "federations[1]: federation flower-nlp" in side.stdout


def test_validate_says_which_key_holds_the_declarations() -> None:
    res = run_cli("validate", "--file", "examples/side-by-side/Pulumi.dev.yaml")
    assert res.returncode == 2
    assert ("examples/side-by-side/Pulumi.dev.yaml: config: missing key 'flower:federation' (declarations here: "
            "'flower-side-by-side:federations'; pass --key)") in res.stderr


def test_validate_a_list_names_each_federation_and_shared_names(tmp_path: Path) -> None:
    path = tmp_path / "Pulumi.two.yaml"
    path.write_text("config:\n  p:federations:\n"
                    "    - {name: a, hub: {namespace: shared, exposure: {externalNames: [a.example.com]}}, pools: [{name: cpu}]}\n"
                    "    - {name: b, hub: {namespace: shared, port: 0, exposure: {externalNames: [b.example.com]}}, pools: [{name: cpu}]}\n")
    res = run_cli("validate", "--file", str(path), "--key", "p:federations")
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert "federations[1].hub.port: must be >= 1" in lines
    assert "federations[1].hub.namespace: 'shared' is also federations[0]'s hub namespace; each federation on a hub " \
           "needs its own" not in lines  # b does not parse, so it cannot be compared
    path.write_text(path.read_text().replace(", port: 0", ""))
    res = run_cli("validate", "--file", str(path), "--key", "p:federations")
    assert res.returncode == 2
    assert res.stderr.strip().splitlines() == [
        "federations[1].hub.namespace: 'shared' is also federations[0]'s hub namespace; each federation on a hub "
        "needs its own"]


def test_commands_that_take_one_federation_refuse_a_list(tmp_path: Path) -> None:
    res = run_cli("render", "--file", "examples/side-by-side/Pulumi.dev.yaml", "--key",
                  "flower-side-by-side:federations", "--out", str(tmp_path / "out"))
    assert res.returncode == 2
    assert "holds 2 federations (federations[0], federations[1])" in res.stderr
    assert not (tmp_path / "out").exists()


def test_render_and_check_read_a_bare_declaration(tmp_path: Path) -> None:
    res = run_cli("check", "--file", "examples/embedded/declaration.yaml", "--output", "json")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["passed"] is True
    res = run_cli("validate", "--file", "examples/embedded/declaration.yaml", "--key", "x:y")
    assert res.returncode == 2
    assert "--key x:y applies to a stack file" in res.stderr


@pytest.mark.parametrize(("content", "expected"), [
    (b"config:\n  flower:federation: \xff\n", "not UTF-8 text"),
    (b"config:\n  flower:federation:\n    pools: " + b"[" * 50_000 + b"]" * 50_000 + b"\n", "nested"),
    (b"config:\n  flower:federation:\n    pools: " + b"[" * 100 + b"]" * 100 + b"\n", "nested"),
])
def test_any_file_exits_2_with_a_message(tmp_path: Path, content: bytes, expected: str) -> None:
    path = tmp_path / "Pulumi.x.yaml"
    path.write_bytes(content)
    res = run_cli("validate", "--file", str(path))
    assert res.returncode == 2
    assert expected in res.stderr and "Traceback" not in res.stderr + res.stdout
    assert len(res.stderr.strip().splitlines()) == 1


def test_version_from_package_metadata() -> None:
    from importlib.metadata import version

    res = run_cli_process("--version")
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == f"flower-federation {version('flower-federation')}"


def test_license_matches_pyproject() -> None:
    import tomllib

    assert tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["license"] == "Apache-2.0"
    text = (REPO / "LICENSE").read_text()
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    assert "END OF TERMS AND CONDITIONS" in text


def test_unknown_stack_lists_the_stacks_found(tmp_path: Path) -> None:
    res = run_cli("validate", "--stack", "nope")
    assert res.returncode == 2
    assert f"looked in {REPO / 'stacks'}; stacks there: dev, prod" in res.stderr


def test_stack_from_another_directory_says_where_it_looked(tmp_path: Path) -> None:
    res = run_cli("validate", "--stack", "dev", cwd=tmp_path)
    assert res.returncode == 2
    assert f"looked in {tmp_path / 'stacks'}, which is not a directory" in res.stderr
    assert "--stacks-dir" in res.stderr and "Traceback" not in res.stderr
    (tmp_path / "stacks").mkdir()
    res = run_cli("validate", "--stack", "dev", cwd=tmp_path)
    assert res.returncode == 2 and "no Pulumi.<stack>.yaml there" in res.stderr


_WEAK = ("    hub: {exposure: {externalNames: [a.example.com]}, tls: {mode: insecure, allowInsecure: true}}\n"
         "    pools: [{name: cpu}]\n")


def test_check_json_for_ci(tmp_path: Path) -> None:
    import json

    res = run_cli("check", "--file", str(_stack(tmp_path, _WEAK)), "--output", "json")
    assert res.returncode == 1
    doc = json.loads(res.stdout)
    assert doc["passed"] is False and doc["mandatory"] >= 1
    rules = {v["rule"] for v in doc["violations"]}
    assert "no-insecure-transport" in rules, rules
    assert {"rule", "enforcement", "object", "message"} <= set(doc["violations"][0])
    ok = run_cli("check", "--stack", "dev", "--output", "json")
    assert ok.returncode == 0 and json.loads(ok.stdout)["passed"] is True


def test_check_plain_table_when_not_a_terminal(tmp_path: Path) -> None:
    res = run_cli_process("check", "--file", str(_stack(tmp_path, _WEAK)))  # stdout is a pipe
    assert res.returncode == 1
    lines = res.stdout.splitlines()
    assert lines[0].split() == ["rule", "enforcement", "object", "violation"]
    assert not any(ch in res.stdout for ch in "┃━│─┏\x1b")
    assert all(len(line.split()) >= 4 for line in lines[1:])


def test_bad_output_value_exits_2() -> None:
    res = run_cli("check", "--stack", "dev", "--output", "yaml")
    assert res.returncode == 2 and "yaml" in res.stderr


def test_validate_does_not_import_the_local_runner() -> None:
    # `local` is loaded only when used: validate (and render, check, status, connect) never pay for the
    # local runner, TLS and cryptography.
    code = ("import sys\nfrom federation.cli import main\nsys.argv = ['flower-federation', 'validate', '--stack', 'dev']\n"
            "try:\n    main()\nexcept SystemExit as exc:\n    assert not exc.code, exc.code\n"
            "print(sorted(m for m in ('federation.local', 'federation.tls', 'cryptography') if m in sys.modules))\n")
    res = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120, check=False)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip().splitlines()[-1] == "[]"


def test_the_local_group_is_listed_and_runs_when_used() -> None:
    top = run_cli("--help")
    assert top.returncode == 0
    assert "local" in top.stdout and "Run the federation on this machine with real Flower processes" in top.stdout
    assert top.stdout.index("│ local ") > top.stdout.index("│ connect ")  # last, where add_typer put it
    sub = run_cli("local", "--help")
    assert sub.returncode == 0 and "Start a SuperLink and the SuperNodes of every pool" in sub.stdout
    typo = run_cli("loca")
    assert typo.returncode == 2 and "Did you mean 'local'?" in typo.stderr
    missing = run_cli("local", "up", "--file", "/nonexistent/stack.yaml")
    assert missing.returncode == 2 and "/nonexistent/stack.yaml: no such file" in missing.stderr
