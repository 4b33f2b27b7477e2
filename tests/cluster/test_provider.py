"""The component provider (provider/) through the real Pulumi CLI: `pulumi package get-schema`, and a Pulumi
YAML program using `flower-federation:index:Federation` previewed against the rig.

Rig gaps worked around here (the rig's Python language host is v3.79.0, driven by CLI v3.229.0):
- `get-schema` on a local plugin directory always runs the host's InstallDependencies, which (ignoring
  the newer request's runtime options) creates a virtualenv in provider/ itself and pip-installs
  requirements.txt (`-e ..`, from PyPI: needs the network), so the copy's root gets the library's
  pyproject.toml and sources. Its RunPlugin runs `python <req.Program>` in the CLI's working directory,
  and newer engines leave Program empty: `get-schema` runs from provider/, whose __main__.py then runs.
- The YAML host (pulumi-language-yaml v1.25.0, built by rig/build) starts the
  Python host with runtime options as flags (`-toolchain=pip`, unknown to v3.79.0) and the engine starts
  the provider with no program path: a `pulumi-language-python` wrapper drops `-toolchain` and passes
  `-virtualenv=provider/venv`, whose `bin/python` runs the repo's .venv Python on provider/.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from federation import planning, tls
from federation.loading import load_stack
from tests.cluster.conftest import CACHE, REPO, Project, Rig

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(1800)]

YAML_HOST_DIR = str(CACHE / "bin")
COMPONENTS = ("Federation", "SuperLink", "SuperNodePool", "FlowerAddon", "ClientAppDistribution")
def installable_root(root: Path) -> None:
    """Make `-e ..` (provider/requirements.txt) installable in a copy: the library's pyproject and sources."""
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, root / name)
    for name in ("components", "federation"):
        shutil.copytree(REPO / name, root / name, ignore=shutil.ignore_patterns("__pycache__"))


@pytest.fixture(scope="module")
def get_schema(rig: Rig, tmp_path_factory: pytest.TempPathFactory) -> subprocess.CompletedProcess[str]:
    root = tmp_path_factory.mktemp("provider-copy")
    shutil.copytree(REPO / "provider", root / "provider", ignore=shutil.ignore_patterns("__pycache__", "venv", "sdks"))
    installable_root(root)
    project = Project(root, rig)
    return project.pulumi("package", "get-schema", str(root / "provider"), cwd=root / "provider", check=False)


def test_get_schema_lists_the_components(get_schema: subprocess.CompletedProcess[str]) -> None:
    assert get_schema.stdout.strip(), get_schema.stderr[-4000:]
    schema = json.loads(get_schema.stdout)
    assert schema["name"] == "flower-federation"
    assert sorted(schema["resources"]) == sorted(f"flower-federation:index:{c}" for c in COMPONENTS)
    for component in COMPONENTS:
        assert schema["resources"][f"flower-federation:index:{component}"]["isComponent"] is True
    federation = schema["resources"]["flower-federation:index:Federation"]
    assert "federation" in federation["inputProperties"]
    assert "caCertificate" in federation["properties"]
    types = schema["types"]
    for name in ("FlowerArgs", "HubArgs", "PoolArgs", "ClientAppArgs", "OcmArgs", "TlsArgs", "ClusterSelectionArgs"):
        assert f"flower-federation:index:{name}" in types, name
    assert types["flower-federation:index:PoolArgs"]["type"] == "object"
    assert "selection" in types["flower-federation:index:PoolArgs"]["properties"]


def test_get_schema_binds(get_schema: subprocess.CompletedProcess[str]) -> None:
    """The CLI binds the schema it printed (a version that is not semver would fail the command)."""
    assert get_schema.returncode == 0, get_schema.stderr[-4000:]


PYTHON_HOST_WRAPPER = """#!/bin/sh
# The rig's pulumi-language-python (v3.79.0) for the YAML host: drop -toolchain, default -virtualenv.
venv=
for a in "$@"; do shift; case "$a" in -toolchain=*) ;; -virtualenv=*) venv=1; set -- "$@" "$a";; *) set -- "$@" "$a";; esac; done
[ -z "$venv" ] && set -- "-virtualenv=$FLOWER_FEDERATION_PLUGIN_VENV" "$@"
exec "{host}" "$@"
"""

VENV_PYTHON = """#!/bin/sh
# RunPlugin of the v3.79.0 host runs `python <req.Program> ARGS`; newer engines leave Program empty.
if [ $# -ge 1 ] && [ -z "$1" ]; then shift; set -- "{provider}" "$@"; fi
exec "{python}" "$@"
"""


def test_yaml_program_with_a_federation_previews(project: Project, tmp_path: Path) -> None:
    provider = project.root / "provider"
    # rig compatibility shims (module docstring)
    shims = tmp_path / "shims"
    shims.mkdir()
    wrapper = shims / "pulumi-language-python"
    wrapper.write_text(PYTHON_HOST_WRAPPER.replace("{host}", str(CACHE / "bin" / "pulumi-language-python")))
    wrapper.chmod(0o755)
    (provider / "venv" / "bin").mkdir(parents=True)
    python = provider / "venv" / "bin" / "python"
    python.write_text(VENV_PYTHON.replace("{provider}", str(provider)).replace("{python}", str(REPO / ".venv" / "bin" / "python")))
    python.chmod(0o755)
    env = {"PATH": f"{shims}:{YAML_HOST_DIR}:{project.rig.env['PATH']}",
           "FLOWER_FEDERATION_PLUGIN_VENV": str(provider / "venv")}

    declaration = yaml.safe_load((REPO / "stacks" / "Pulumi.dev.yaml").read_text())["config"]["flower:federation"]
    program = tmp_path / "yaml-program"
    program.mkdir()
    (program / "Pulumi.yaml").write_text(yaml.safe_dump({
        "name": "flower-yaml",
        "runtime": "yaml",
        "packages": {"flower-federation": str(provider)},
        "resources": {"federation": {"type": "flower-federation:index:Federation",
                                     "properties": {"federation": declaration}}},
        "outputs": {"caCertificate": "${federation.caCertificate}",
                    "placementNames": "${federation.placementNames}"},
    }, sort_keys=False))

    def pulumi(*args: str, **kw: Any) -> subprocess.CompletedProcess[str]:
        return project.pulumi(*args, cwd=program, stack="dev", env=env, **kw)

    project.pulumi("stack", "init", "dev", cwd=program, env=env)
    pulumi("config", "set", "kubernetes:context", "hub-dev")
    assert os.access(Path(YAML_HOST_DIR) / "pulumi-language-yaml", os.X_OK), "no pulumi-language-yaml: run make rig"
    preview = pulumi("preview", check=False)
    assert preview.returncode == 0, preview.stdout[-6000:] + preview.stderr[-2000:]

    created = {(m.group(1), m.group(2)) for m in re.finditer(r"^ \+\s+(\S+)\s+(\S+)\s+create", preview.stdout, re.M)}
    types = {t for t, _ in created}
    for component in COMPONENTS:
        assert f"flower-federation:index:{component}" in types, component
    spec = load_stack("dev", REPO / "stacks")
    kinds = {o["kind"] for o in planning.planned_objects(spec, material=None, ca_certificate=tls.generate_ca(validity_days=30).cert_pem)}
    planned_kinds = {t.rsplit(":", 1)[1] for t in types if t.startswith("kubernetes:")}
    assert kinds <= planned_kinds, kinds - planned_kinds
