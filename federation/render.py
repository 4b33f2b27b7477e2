"""Write planned objects as YAML files, one per object in apply order, plus a kustomization.

The objects come from :mod:`federation.planning`; output is byte-deterministic. The Secrets the
objects need but render does not write (key material, the user's own Secrets) are listed in
:data:`REQUIRED_SECRETS_FILE` next to them — not YAML, so neither kustomize nor ``kubectl apply -f``
picks it up — with the keys each must hold and a command that creates it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from federation.errors import Problem, SpecError
from federation.manifests.common import Obj
from federation.planning import RequiredSecret

#: The list of Secrets render leaves out, in the render directory (Markdown: reviewed with the YAML).
REQUIRED_SECRETS_FILE = "REQUIRED-SECRETS.md"


def file_name(index: int, obj: Obj) -> str:
    """`NN-kind-name.yaml` (cluster-scoped) or `NN-kind-namespace-name.yaml`; NN keeps apply order."""
    meta = obj["metadata"]
    parts = [obj["kind"].lower(), *([meta["namespace"]] if meta.get("namespace") else []), meta["name"]]
    return f"{index:03d}-{'-'.join(parts)}.yaml"


def _str(dumper: Any, data: str) -> yaml.ScalarNode:
    """Multi-line strings (scripts, nginx.conf) as literal blocks: readable, and the same bytes from libyaml and the
    pure emitter, which fold quoted scalars with indented lines differently. The emitter falls back to quoting
    where a literal block cannot carry the text exactly (e.g. trailing spaces)."""
    node: yaml.ScalarNode = dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|" if "\n" in data else None)
    return node


class _PureDumper(yaml.SafeDumper):
    def ignore_aliases(self, data: object) -> bool:
        return True


_PureDumper.add_representer(str, _str)
_Dumper: type[Any] = _PureDumper
if hasattr(yaml, "CSafeDumper"):  # libyaml: same bytes (tests/test_render.py checks), ~7x faster

    class _CDumper(yaml.CSafeDumper):
        def ignore_aliases(self, data: object) -> bool:
            return True

    _CDumper.add_representer(str, _str)
    _Dumper = _CDumper


def to_yaml(obj: Obj, *, dumper: type[Any] | None = None) -> str:
    """Deterministic YAML: key order as built, block style, no aliases."""
    text: str = yaml.dump(obj, Dumper=dumper or _Dumper, sort_keys=False, default_flow_style=False, allow_unicode=True,
                          width=120)
    return text


def render_files(objs: list[Obj], required: Sequence[RequiredSecret] = ()) -> dict[str, str]:
    """File name → content for `objs`, a `kustomization.yaml` listing them in order, and (when `required`
    is not empty) :data:`REQUIRED_SECRETS_FILE`."""
    files = {file_name(i, o): to_yaml(o) for i, o in enumerate(objs)}
    kustomization = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization", "resources": list(files)}
    files["kustomization.yaml"] = to_yaml(kustomization)
    if required:
        files[REQUIRED_SECRETS_FILE] = required_secrets_markdown(required)
    return files


def object_count(files: Mapping[str, str]) -> int:
    """How many object files `files` holds (the kustomization and the Secrets list are not objects)."""
    return sum(1 for name in files if name.endswith(".yaml") and name != "kustomization.yaml")


def required_secrets_lines(required: Sequence[RequiredSecret]) -> list[str]:
    """One line per Secret left out, for the terminal: `hub flower-dev/flower-dev-superlink-tls (kubernetes.io/tls): ...`."""
    return [f"{r.cluster} {r.namespace}/{r.name} ({r.type}): {', '.join(r.keys)}" for r in required]


def openssl_commands(sans: Sequence[str], common_name: str, *, days: int = 365) -> list[str]:
    """OpenSSL (1.1.1 or 3.x) commands making a CA (`ca.crt`, `ca.key`: keep it offline) and a server
    certificate for `sans` (`server.crt`, `server.key`): for a federation without a Pulumi stack."""
    san = ",".join(("IP:" if _is_ip(n) else "DNS:") + n for n in sans)
    return [
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 \\",
        "  -subj '/CN=flower-federation CA' -keyout ca.key -out ca.crt \\",
        "  -addext 'basicConstraints=critical,CA:TRUE' -addext 'keyUsage=critical,keyCertSign,cRLSign'",
        "openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \\",
        f"  -subj '/CN={common_name}' -keyout server.key -out server.csr",
        f"printf 'subjectAltName={san}\\nbasicConstraints=critical,CA:FALSE\\n"
        "keyUsage=critical,digitalSignature\\nextendedKeyUsage=serverAuth\\n' > server.ext",
        f"openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days {days} \\",
        "  -extfile server.ext -out server.crt",
    ]


def _is_ip(name: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def _create_command(r: RequiredSecret) -> list[str]:
    ns = f"-n {r.namespace}"
    if r.type == "kubernetes.io/tls":
        return [f"kubectl {ns} create secret generic {r.name} --type=kubernetes.io/tls \\",
                "  --from-file=tls.crt=server.crt --from-file=tls.key=server.key --from-file=ca.crt=ca.crt"]
    if r.type == "kubernetes.io/dockerconfigjson":
        return [f"kubectl {ns} create secret docker-registry {r.name} --docker-server=REGISTRY \\",
                "  --docker-username=USER --docker-password=\"$TOKEN\""]
    if r.cluster == "spokes":
        return ["ssh-keygen -q -t ecdsa -b 384 -N '' -C CLUSTER -f supernode-key   # one key per cluster",
                f"kubectl {ns} create secret generic {r.name} --from-file={r.keys[0]}=supernode-key   # on that cluster",
                "flwr supernode register supernode-key.pub CONNECTION                    # against the SuperLink"]
    return ["openssl rand -hex 32 | tr -d '\\n' > superexec-secret",
            f"kubectl {ns} create secret generic {r.name} --from-file={r.keys[0]}=superexec-secret"]


def required_secrets_markdown(required: Sequence[RequiredSecret]) -> str:
    """The Secrets the rendered objects need and render did not write: keys, purpose, how to create them."""
    lines = ["# Secrets to create before applying these objects", "",
             "`flower-federation render` writes no key material (unless `--include-secrets`) and never writes your",
             "own Secrets. The objects in this directory mount the ones below: create them (or their SealedSecret /",
             "ExternalSecret equivalents) first, or the pods wait in ContainerCreating. See docs/gitops.md.", "",
             "| Cluster | Namespace | Secret | Type | Keys |", "|---|---|---|---|---|"]
    lines += [f"| {r.cluster} | {r.namespace} | `{r.name}` | `{r.type}` | {', '.join(f'`{k}`' for k in r.keys)} |"
              for r in required]
    for r in required:
        lines += ["", f"## {r.namespace}/{r.name}", "", r.purpose[0].upper() + r.purpose[1:] + "."]
        if r.sans:
            lines += ["", "The server certificate must carry these subjectAltNames (the first ones are verified by "
                          "the ServerApp SuperExec, the Fleet proxy and the SuperNodes): "
                          + ", ".join(f"`{n}`" for n in r.sans) + "."]
            lines += ["", "Without a CA of your own (or cert-manager), OpenSSL makes one and the certificate; keep "
                          "`ca.key` offline and pass `ca.crt` to `render --ca-certificate`:", "", "```sh",
                      *openssl_commands(r.sans, r.sans[0]), "```"]
        lines += ["", "```sh", *_create_command(r), "```"]
    return "\n".join(lines) + "\n"


def write_files(out_dir: Path, files: dict[str, str]) -> None:
    """Replace the YAML files of `out_dir` with `files` (written to a temp dir first: nothing half-written)."""
    out_dir = out_dir.resolve()
    if out_dir.exists() and not out_dir.is_dir():
        raise SpecError([Problem(str(out_dir), "exists and is not a directory")])
    if out_dir.exists():
        foreign = sorted(p.name for p in out_dir.iterdir() if p.suffix != ".yaml" and p.name != REQUIRED_SECRETS_FILE)
        if foreign:
            raise SpecError([Problem(str(out_dir), f"holds files render did not write ({', '.join(foreign[:3])}); "
                                                   "use an empty or render-owned directory")])
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".render-", dir=out_dir.parent))
    try:
        for name, text in files.items():
            (staging / name).write_text(text, encoding="utf-8")
        if out_dir.exists():
            for old in [*out_dir.glob("*.yaml"), out_dir / REQUIRED_SECRETS_FILE]:
                old.unlink(missing_ok=True)
        else:
            out_dir.mkdir()
        for name in files:
            os.replace(staging / name, out_dir / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
