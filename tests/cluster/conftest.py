"""The cluster suite's fixtures: the real control plane (rig/) and the Pulumi CLI driving this project against it.

`make test-cluster` builds the rig's binaries first (cached). The rig runs once per session: etcd, a
real kube-apiserver, controller-manager and scheduler, kwok nodes and OCM's own placement, addon and
work controllers, all on 127.0.0.1 in a temp dir, stopped by PID at the end. Pulumi runs against a
copy of the project (the CLI writes an encryption salt into stack files), with a file backend and
a passphrase secrets provider, offline.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
RIG = REPO / "rig" / "rig"
CACHE = Path(os.environ.get("FLOWER_FEDERATION_RIG_CACHE", str(Path.home() / ".cache" / "flower-federation-rig")))
CONTEXTS = ("hub-dev", "hub-prod", "hub-staging", "hub-research")
STORAGE_CLASSES = ("standard", "fast-ssd")
NEEDED = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok", "ocm-placement",
          "ocm-addon", "ocm-work", "pulumi", "pulumi-language-python")


@dataclass
class Rig:
    """A running control plane: its directory and the environment `rig up` wrote (KUBECONFIG, PATH, PULUMI_*)."""

    dir: Path
    env: dict[str, str]
    _clients: dict[str, Any] = field(default_factory=dict)

    def api(self, context: str = "hub-dev") -> Any:
        """A kubernetes ApiClient for one of the kubeconfig's contexts."""
        if context not in self._clients:
            from kubernetes import config

            self._clients[context] = config.new_client_from_config(config_file=self.env["KUBECONFIG"], context=context)
        return self._clients[context]

    def custom(self, context: str = "hub-dev") -> Any:
        from kubernetes import client

        return client.CustomObjectsApi(self.api(context))

    def core(self, context: str = "hub-dev") -> Any:
        from kubernetes import client

        return client.CoreV1Api(self.api(context))

    def apps(self, context: str = "hub-dev") -> Any:
        from kubernetes import client

        return client.AppsV1Api(self.api(context))


def _read_env(path: Path) -> dict[str, str]:
    env = dict(os.environ)
    for line in path.read_text().splitlines():
        key, _, value = line.removeprefix("export ").partition("=")
        env[key] = value.strip("'")
    return env


@pytest.fixture(scope="session")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    missing = [b for b in NEEDED if not os.access(CACHE / "bin" / b, os.X_OK)]
    if missing or not (CACHE / "plugins" / "pulumi-resource-kubernetes").exists():
        pytest.fail(f"the rig is not built (missing {missing or ['pulumi-resource-kubernetes']}): run `make rig`")
    d = tmp_path_factory.mktemp("rig")
    args = [str(RIG), "up", str(d)]
    for c in CONTEXTS:
        args += ["--context", c]
    for s in STORAGE_CLASSES:
        args += ["--storage-class", s]
    up = subprocess.run(args, capture_output=True, text=True, timeout=300, check=False)
    try:
        assert up.returncode == 0, f"rig up failed:\n{up.stderr[-4000:]}"
        clusters = subprocess.run([str(RIG), "clusters", str(d), str(Path(__file__).parent / "clusters.yaml")],
                                  capture_output=True, text=True, timeout=120, check=False)
        assert clusters.returncode == 0, clusters.stderr[-4000:]
        yield Rig(d, _read_env(d / "env"))
    finally:
        subprocess.run([str(RIG), "down", str(d)], capture_output=True, text=True, timeout=120, check=False)


@dataclass
class Project:
    """A copy of the repository's Pulumi programs, driven with the real CLI against the rig."""

    root: Path
    rig: Rig

    def pulumi(self, *args: str, cwd: Path | None = None, stack: str | None = None, timeout: int = 900,
               check: bool = True, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        cmd = ["pulumi", *args, "--non-interactive"]
        if stack is not None:
            cmd += ["--stack", stack]
        started = time.monotonic()
        # each copy has its own file backend: tests never see each other's stacks
        (self.root.parent / "backend").mkdir(exist_ok=True)
        backend = {"PULUMI_BACKEND_URL": f"file://{self.root.parent / 'backend'}"}
        res = subprocess.run(cmd, cwd=cwd or self.root, env={**self.rig.env, **backend, **(env or {})},
                             capture_output=True, text=True, timeout=timeout, check=False)
        print(f"[cluster] {' '.join(cmd)}: exit {res.returncode} after {time.monotonic() - started:.0f}s", flush=True)
        if check and res.returncode != 0:
            raise AssertionError(f"`{' '.join(cmd)}` exited {res.returncode}\n--- stdout\n{res.stdout[-6000:]}"
                                 f"\n--- stderr\n{res.stderr[-3000:]}")
        return res

    def init(self, stack: str, cwd: Path | None = None) -> None:
        self.pulumi("stack", "init", stack, cwd=cwd)

    def outputs(self, stack: str, cwd: Path | None = None) -> dict[str, Any]:
        out: dict[str, Any] = json.loads(self.pulumi("stack", "output", "--json", "--show-secrets", cwd=cwd,
                                                     stack=stack).stdout)
        return out

    def export(self, stack: str, cwd: Path | None = None) -> dict[str, Any]:
        out: dict[str, Any] = json.loads(self.pulumi("stack", "export", cwd=cwd, stack=stack).stdout)
        return out

    def stack_file(self, stack: str) -> Path:
        return self.root / "stacks" / f"Pulumi.{stack}.yaml"

    def edit_federation(self, stack: str, edit: Any) -> None:
        """Change `flower:federation` of a stack file in the copy (the repository's files stay untouched)."""
        path = self.stack_file(stack)
        doc = yaml.safe_load(path.read_text())
        edit(doc["config"]["flower:federation"])
        path.write_text(yaml.safe_dump(doc, sort_keys=False))


def copy_project(root: Path) -> None:
    """Copy the repository's Pulumi programs, stacks, policy pack, examples and provider into ROOT."""
    root.mkdir()
    for name in ("Pulumi.yaml", "__main__.py"):
        shutil.copy2(REPO / name, root / name)
    for name in ("stacks", "policy", "examples", "provider"):
        shutil.copytree(REPO / name, root / name, ignore=shutil.ignore_patterns("__pycache__", ".venv", "sdks"))
    venv = REPO / ".venv"
    (root / ".venv").symlink_to(venv)
    for example in (root / "examples").iterdir():
        if (example / "Pulumi.yaml").exists():
            (example / ".venv").symlink_to(venv)


def missing_rig_binaries() -> list[str]:
    """The rig binaries (and the Kubernetes provider plugin) that `make rig` has not built yet."""
    missing = [b for b in NEEDED if not os.access(CACHE / "bin" / b, os.X_OK)]
    if not (CACHE / "plugins" / "pulumi-resource-kubernetes").exists():
        missing.append("pulumi-resource-kubernetes")
    return missing


def read_env(path: Path) -> dict[str, str]:
    """os.environ plus the exports of a rig's DIR/env."""
    return _read_env(path)


@pytest.fixture
def project(rig: Rig, tmp_path: Path) -> Project:
    root = tmp_path / "project"
    copy_project(root)
    return Project(root, rig)
