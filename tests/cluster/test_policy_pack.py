"""The CrossGuard pack (policy/) through the real engine's analyzer: prod passes, a weakened prod is blocked naming the rules.

The rig's Python language host (v3.79.0) starts plugins with `python <program>`, and the v3.229.0 engine
no longer sends the program path: the same two shims as the provider test put the policy pack's
directory back (see tests/cluster/test_provider.py).
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.cluster.conftest import CACHE, REPO, Project
from tests.cluster.test_provider import PYTHON_HOST_WRAPPER, VENV_PYTHON

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(1800)]


def policy_env(project: Project, tmp_path: Path) -> dict[str, str]:
    shims = tmp_path / "shims"
    shims.mkdir()
    wrapper = shims / "pulumi-language-python"
    wrapper.write_text(PYTHON_HOST_WRAPPER.replace("{host}", str(CACHE / "bin" / "pulumi-language-python")))
    wrapper.chmod(0o755)
    venv = tmp_path / "shim-venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "pyvenv.cfg").write_text("home = " + str(REPO / ".venv" / "bin") + "\n")
    python = venv / "bin" / "python"
    python.write_text(VENV_PYTHON.replace("{provider}", str(project.root / "policy"))
                      .replace("{python}", str(REPO / ".venv" / "bin" / "python")))
    python.chmod(0o755)
    return {"PATH": f"{shims}:{project.rig.env['PATH']}", "FLOWER_FEDERATION_PLUGIN_VENV": str(venv)}


def test_policy_pack_runs_in_the_real_analyzer(project: Project, tmp_path: Path) -> None:
    env = policy_env(project, tmp_path)
    project.init("prod")
    pack_config = tmp_path / "pack.json"
    check = subprocess.run(
        [str(REPO / ".venv" / "bin" / "flower-federation"), "check", "--file", str(project.stack_file("prod")),
         "--write-pack-config", str(pack_config)],
        capture_output=True, text=True, timeout=120, check=False)
    assert check.returncode == 0, check.stdout + check.stderr

    def preview() -> Any:
        return project.pulumi("preview", "--policy-pack", "policy", "--policy-pack-config", str(pack_config),
                              stack="prod", env=env, check=False)

    good = preview()
    assert good.returncode == 0, good.stdout[-4000:]
    assert "Loading policy packs...: done" in good.stdout and "(local: policy)" in good.stdout
    assert "[mandatory]" not in good.stdout

    def weaken(federation: dict[str, Any]) -> None:
        federation["hub"]["supernodeAuth"] = {"enabled": False}
        federation["hub"]["exposure"].pop("loadBalancerSourceRanges", None)

    project.edit_federation("prod", weaken)
    bad = preview()
    assert bad.returncode != 0
    blocked = set(re.findall(r"\[mandatory\] \[severity: \w+\]\s+([a-z-]+)", bad.stdout))
    assert blocked == {"loadbalancer-source-ranges", "supernode-auth-in-production"}, bad.stdout[-4000:]
