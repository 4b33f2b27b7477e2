"""Layering rules of the design card: `federation/` is the pure domain and never imports pulumi."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_federation_source_never_imports_pulumi() -> None:
    offenders = []
    for path in sorted((REPO / "federation").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path.relative_to(REPO)}: {n}" for n in names if n.split(".")[0].startswith("pulumi")]
    assert offenders == []


def test_importing_every_federation_module_loads_no_pulumi() -> None:
    modules = sorted(
        ".".join(p.relative_to(REPO).with_suffix("").parts)
        for p in (REPO / "federation").rglob("*.py")
        if p.name != "__main__.py"
    )
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0].startswith('pulumi'))\n"
        "print(','.join(bad))\n"
    )
    res = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True, timeout=120)
    assert res.stdout.strip() == ""


def test_only_the_contract_builds_flower_command_lines() -> None:
    flags = ('"--superlink"', '"--ssl-certfile"', '"--node-config"', '"--runtime-api-address"', '"--isolation"',
             '"--root-certificates"', '"--enable-supernode-auth"', '"--database"', '"--auth-supernode-private-key"')
    offenders = []
    for path in sorted([*(REPO / "federation").rglob("*.py"), *(REPO / "components").rglob("*.py")]):
        # flower.py builds command lines; the policy rules only read them (from any object they are given).
        if path in (REPO / "federation" / "flower.py", REPO / "federation" / "policies" / "rules.py"):
            continue
        text = path.read_text()
        offenders += [f"{path.relative_to(REPO)}: {f}" for f in flags if f in text]
    assert offenders == []
