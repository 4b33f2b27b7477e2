"""The objects a federation registers, as data: for GitOps review (`render`) and offline policy checks.

Built by the same builders the Pulumi components call, in apply order: the hub objects, then the
cluster-set bindings, Placements, the addon (CMA, AddOnTemplates, AddOnDeploymentConfigs,
Manual-mode ManagedClusterAddOns) and the ClientApps' ManifestWorkReplicaSets.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from federation import flower, tls
from federation.errors import Problem, SpecError
from federation.manifests import hub, ocm
from federation.manifests.common import Obj
from federation.spec import FederationSpec


@dataclass(frozen=True)
class KeyMaterial:
    """Generated key material (what the Pulumi program keeps in state)."""

    secrets: hub.HubSecrets
    ca_certificate: str | None


def generate_material(spec: FederationSpec) -> KeyMaterial:
    """Fresh key material for `spec` (a new CA and server certificate, a new SuperExec secret)."""
    values: dict[str, str | None] = {}
    ca_pem: str | None = None
    if spec.hub.tls.mode == "generate":
        ca = tls.generate_ca(validity_days=spec.hub.tls.validity_days)
        dns, ips = hub.superlink_sans(spec)
        cert = tls.issue_server_certificate(ca, dns_names=dns, ip_addresses=ips, validity_days=spec.hub.tls.validity_days,
                                            common_name=hub.superlink_service_name(spec))
        ca_pem = cert.ca_cert_pem
        values.update(tls_cert=cert.cert_pem, tls_key=cert.key_pem, ca_cert=ca_pem,
                      tls_checksum=hub.tls_checksum(cert.cert_pem, ca_pem))
    if flower.uses_superexec_secret(spec):
        values["superexec_secret"] = tls.generate_shared_secret()
    return KeyMaterial(hub.HubSecrets(**values), ca_pem)


def planned_objects(spec: FederationSpec, *, material: KeyMaterial | None, ca_certificate: str | None = None) -> list[Obj]:
    """Every object the program registers, in apply order.

    Without `material` the Secrets holding key material are left out. `ca_certificate` (public)
    fills the AddOnTemplates when no material is given.
    """
    objs = hub.hub_objects(spec, tls_material=material.secrets if material else None)
    if material is None:
        keyed = {hub.tls_secret_name(spec) if spec.hub.tls.mode == "generate" else None, hub.superexec_secret_name(spec)}
        objs = [o for o in objs if not (o["kind"] == "Secret" and o["metadata"]["name"] in keyed)]
    ca = material.ca_certificate if material else ca_certificate
    if spec.hub.tls.mode != "insecure" and not ca:
        raise SpecError([Problem(
            "federation.hub.tls",
            "the AddOnTemplates carry the SuperLink's CA certificate: pass --ca-certificate FILE (e.g. from "
            "`pulumi stack output caCertificate`) or --include-secrets to generate fresh key material",
        )])
    objs += ocm.all_objects(spec, ca_certificate=ca, superlink_address=ocm.superlink_address(spec))
    return objs


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
