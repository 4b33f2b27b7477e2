"""Write planned objects as YAML files, one per object in apply order, plus a kustomization.

The objects come from :mod:`federation.planning`; output is byte-deterministic.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import yaml

from federation.errors import Problem, SpecError
from federation.manifests.common import Obj


def file_name(index: int, obj: Obj) -> str:
    """`NN-kind-name.yaml` (cluster-scoped) or `NN-kind-namespace-name.yaml`; NN keeps apply order."""
    meta = obj["metadata"]
    parts = [obj["kind"].lower(), *([meta["namespace"]] if meta.get("namespace") else []), meta["name"]]
    return f"{index:03d}-{'-'.join(parts)}.yaml"


class _PureDumper(yaml.SafeDumper):
    def ignore_aliases(self, data: object) -> bool:
        return True


_Dumper: type[Any] = _PureDumper
if hasattr(yaml, "CSafeDumper"):  # libyaml: same bytes (tests/test_render.py checks), ~7x faster

    class _CDumper(yaml.CSafeDumper):
        def ignore_aliases(self, data: object) -> bool:
            return True

    _Dumper = _CDumper


def to_yaml(obj: Obj, *, dumper: type[Any] | None = None) -> str:
    """Deterministic YAML: key order as built, block style, no aliases."""
    text: str = yaml.dump(obj, Dumper=dumper or _Dumper, sort_keys=False, default_flow_style=False, allow_unicode=True,
                          width=120)
    return text


def render_files(objs: list[Obj]) -> dict[str, str]:
    """File name → content for `objs`, plus a `kustomization.yaml` listing them in order."""
    files = {file_name(i, o): to_yaml(o) for i, o in enumerate(objs)}
    kustomization = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization", "resources": list(files)}
    files["kustomization.yaml"] = to_yaml(kustomization)
    return files


def write_files(out_dir: Path, files: dict[str, str]) -> None:
    """Replace the YAML files of `out_dir` with `files` (written to a temp dir first: nothing half-written)."""
    out_dir = out_dir.resolve()
    if out_dir.exists() and not out_dir.is_dir():
        raise SpecError([Problem(str(out_dir), "exists and is not a directory")])
    if out_dir.exists():
        foreign = sorted(p.name for p in out_dir.iterdir() if p.suffix != ".yaml")
        if foreign:
            raise SpecError([Problem(str(out_dir), f"holds files render did not write ({', '.join(foreign[:3])}); "
                                                   "use an empty or render-owned directory")])
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".render-", dir=out_dir.parent))
    try:
        for name, text in files.items():
            (staging / name).write_text(text, encoding="utf-8")
        if out_dir.exists():
            for old in out_dir.glob("*.yaml"):
                old.unlink()
        else:
            out_dir.mkdir()
        for name in files:
            os.replace(staging / name, out_dir / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
