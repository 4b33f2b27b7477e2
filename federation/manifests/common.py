"""Building blocks shared by the hub and OCM manifest builders: labels, hardened pods, containers.

Every builder returns plain dicts in Kubernetes field names (camelCase). Leaves may be `str` or a
value the caller passes in (e.g. a Pulumi Output); nothing here imports `pulumi`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from federation.flower import Process
from federation.spec import FederationSpec, GpuSpec, Resources, Toleration

Obj = dict[str, Any]

MANAGED_BY = "flower-federation"
#: The uid/gid of the `app` user in the official flwr images.
FLOWER_UID = 49999
#: The Secret, in a spoke's agent namespace, with the shared secret of its SuperNodes and their
#: ClientApp SuperExecs (process isolation). Created on the spoke by the SuperNode pod's init container
#: (:func:`federation.manifests.ocm.addon.superexec_secret_init`), never shipped from the hub.
#: Its key: the file name the contract reads (``Layout.superexec_secret``).
SPOKE_SUPEREXEC_SECRET_KEY = "secret"  # noqa: S105


def labels(spec: FederationSpec, component: str, **extra: str) -> dict[str, str]:
    """Recommended Kubernetes labels for an object of `component` in this federation."""
    return {
        "app.kubernetes.io/name": "flower",
        "app.kubernetes.io/instance": spec.name,
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/version": spec.flower.version,
        "app.kubernetes.io/managed-by": MANAGED_BY,
        **extra,
    }


def selector_labels(spec: FederationSpec, component: str) -> dict[str, str]:
    """The stable subset of :func:`labels` used in selectors (never includes the version)."""
    return {
        "app.kubernetes.io/name": "flower",
        "app.kubernetes.io/instance": spec.name,
        "app.kubernetes.io/component": component,
    }


def metadata(name: str, namespace: str | None = None, *, labels: Mapping[str, str] | None = None,
             annotations: Mapping[str, str] | None = None) -> Obj:
    """`metadata` with an explicit name (objects others reference must not be auto-named)."""
    meta: Obj = {"name": name}
    if namespace is not None:
        meta["namespace"] = namespace
    if labels:
        meta["labels"] = dict(labels)
    if annotations:
        meta["annotations"] = dict(annotations)
    return meta


def resources(res: Resources, gpu: GpuSpec | None = None) -> Obj:
    """Container `resources`; a GPU is requested as an extended resource (limits == requests)."""
    requests = {k: v for k, v in res.requests.model_dump(by_alias=True).items() if v is not None}
    limits = {k: v for k, v in res.limits.model_dump(by_alias=True).items() if v is not None}
    if gpu is not None and gpu.resource_name:
        requests[gpu.resource_name] = str(gpu.count)
        limits[gpu.resource_name] = str(gpu.count)
    out: Obj = {}
    if requests:
        out["requests"] = requests
    if limits:
        out["limits"] = limits
    return out


def pod_security_context() -> Obj:
    """Pod-level settings of the `restricted` Pod Security Standard."""
    return {
        "runAsNonRoot": True,
        "runAsUser": FLOWER_UID,
        "runAsGroup": FLOWER_UID,
        "fsGroup": FLOWER_UID,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def container_security_context() -> Obj:
    """Container-level settings of the `restricted` Pod Security Standard, plus a read-only root."""
    return {
        "allowPrivilegeEscalation": False,
        "privileged": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def volume_name(path: str) -> str:
    """A DNS-label volume name derived from a mount path (`/var/lib/flwr/home` → `var-lib-flwr-home`)."""
    return re.sub(r"[^a-z0-9]+", "-", path.lower()).strip("-")[:63] or "root"


def scratch_volumes(process: Process, *, skip: Sequence[str] = ()) -> tuple[list[Obj], list[Obj]]:
    """emptyDir volumes and mounts for every path the process writes (except `skip`, mounted elsewhere)."""
    vols: list[Obj] = []
    mounts: list[Obj] = []
    for path in process.writable_paths:
        if path in skip:
            continue
        name = volume_name(path)
        vols.append({"name": name, "emptyDir": {}})
        mounts.append({"name": name, "mountPath": path})
    return vols, mounts


def http_probe(process: Process, *, initial_delay: int, period: int, failure_threshold: int) -> Obj:
    """An httpGet probe on the process's `/health` (HTTPS when TLS is on; kubelet skips verification)."""
    if process.port is None or process.health_path is None:
        raise ValueError(f"{process.argv[0]} exposes no health endpoint")
    return {
        "httpGet": {"path": process.health_path, "port": process.port, "scheme": process.scheme},
        "initialDelaySeconds": initial_delay,
        "periodSeconds": period,
        "timeoutSeconds": 5,
        "failureThreshold": failure_threshold,
    }


def grpc_probe(process: Process, *, initial_delay: int, period: int, failure_threshold: int) -> Obj:
    """A native gRPC probe (`grpc.health.v1.Health/Check`, plaintext) on the process's health server."""
    if process.grpc_health_port is None:
        raise ValueError(f"{process.argv[0]} runs no gRPC health server")
    return {
        "grpc": {"port": process.grpc_health_port},
        "initialDelaySeconds": initial_delay,
        "periodSeconds": period,
        "timeoutSeconds": 5,
        "failureThreshold": failure_threshold,
    }


def container(
    name: str,
    image: str,
    process: Process,
    *,
    res: Obj,
    mounts: Sequence[Obj] = (),
    pull_policy: str = "IfNotPresent",
    ports: Sequence[Obj] = (),
    probes: bool = True,
) -> Obj:
    """A hardened container running `process` exactly as the runtime contract builds it."""
    c: Obj = {
        "name": name,
        "image": image,
        "imagePullPolicy": pull_policy,
        "command": [process.argv[0]],
        "args": list(process.argv[1:]),
        "env": [{"name": k, "value": v} for k, v in sorted(process.env.items())],
        "resources": res,
        "securityContext": container_security_context(),
        "volumeMounts": list(mounts),
    }
    if ports:
        c["ports"] = list(ports)
    if probes and process.port is not None:
        c["startupProbe"] = http_probe(process, initial_delay=2, period=5, failure_threshold=24)
        c["livenessProbe"] = http_probe(process, initial_delay=0, period=20, failure_threshold=3)
        c["readinessProbe"] = http_probe(process, initial_delay=0, period=10, failure_threshold=3)
    elif probes and process.grpc_health_port is not None:
        # A SuperExec: liveness only. It serves no traffic (no Service selects it) and Flower's Check
        # answers SERVING whether or not it reached its Runtime API, so readiness would add nothing.
        c["startupProbe"] = grpc_probe(process, initial_delay=2, period=5, failure_threshold=24)
        c["livenessProbe"] = grpc_probe(process, initial_delay=0, period=20, failure_threshold=3)
        c["ports"] = [*c.get("ports", []), {"name": "grpc-health", "containerPort": process.grpc_health_port,
                                             "protocol": "TCP"}]
    return c


def api_token_volume(name: str, expiration_seconds: int) -> Obj:
    """A projected volume with a bound ServiceAccount token, the cluster CA and the pod's namespace (files `token`,
    `ca.crt`, `namespace`): API credentials for one container of a pod that automounts none."""
    return {"name": name, "projected": {"defaultMode": 0o440, "sources": [
        {"serviceAccountToken": {"path": "token", "expirationSeconds": expiration_seconds}},
        {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
        {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"fieldPath": "metadata.namespace"}}]}},
    ]}}


def tolerations(items: Sequence[Toleration]) -> list[Obj]:
    """Pod tolerations in Kubernetes form."""
    return [t.model_dump(by_alias=True, exclude_none=True) for t in items]


def image_pull_secrets(spec: FederationSpec) -> list[Obj]:
    """`imagePullSecrets` entries for the pod spec."""
    return [{"name": n} for n in spec.flower.image_pull_secrets]
