"""Walking the objects a policy reads: embedded OCM payloads, pod specs, containers, Flower argv."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from federation.manifests.taskpods import task_pod_from_config_map

#: An object as the policies read it (camelCase dicts, as rendered or as the engine hands them over).
Obj = Mapping[str, Any]


def subject(obj: Obj) -> str:
    """`Kind namespace/name` for messages."""
    meta = obj.get("metadata") or {}
    ns = meta.get("namespace")
    return f"{obj.get('kind', '?')} {ns + '/' if ns else ''}{meta.get('name', '?')}"


def embedded(obj: Obj) -> list[Obj]:
    """Objects carried inside an OCM AddOnTemplate or ManifestWorkReplicaSet (or a ManifestWork)."""
    spec = obj.get("spec") or {}
    kind = obj.get("kind")
    if kind == "AddOnTemplate":
        work = (spec.get("agentSpec") or {}).get("workload") or {}
    elif kind == "ManifestWorkReplicaSet":
        work = (spec.get("manifestWorkTemplate") or {}).get("workload") or {}
    elif kind == "ManifestWork":
        work = spec.get("workload") or {}
    else:
        return []
    return [m for m in work.get("manifests") or [] if isinstance(m, Mapping)]


def with_embedded(obj: Obj) -> Iterator[tuple[str, Obj]]:
    """The object and everything it carries, each with a subject string."""
    yield subject(obj), obj
    for inner in embedded(obj):
        yield f"{subject(obj)} → {subject(inner)}", inner


def pod_spec(obj: Obj) -> Obj | None:
    """The pod spec of a Pod or a workload object, else None.

    A SuperExec's executor-config ConfigMap (`taskPods`) stands for its task pods: the spec is the Pod
    Flower's Kubernetes executor builds from that config (:func:`~federation.manifests.taskpods.task_pod`).
    """
    kind = obj.get("kind")
    if kind == "ConfigMap":
        task = task_pod_from_config_map(obj)
        return task["spec"] if task is not None else None
    spec = obj.get("spec") or {}
    if kind == "Pod":
        return spec
    if kind in ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"):
        return (spec.get("template") or {}).get("spec") or {}
    if kind == "CronJob":
        return ((((spec.get("jobTemplate") or {}).get("spec") or {}).get("template") or {}).get("spec")) or {}
    return None


def pods(obj: Obj) -> Iterator[tuple[str, Obj, Obj]]:
    """(subject, workload object, pod spec) for the object and every workload it carries."""
    for where, inner in with_embedded(obj):
        spec = pod_spec(inner)
        if spec is not None:
            yield (f"{where} (its task pods)" if inner.get("kind") == "ConfigMap" else where), inner, spec


def containers(spec: Obj) -> list[Obj]:
    """The init containers and containers of a pod spec."""
    return [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]


def argv(c: Obj) -> list[str]:
    """command + args of a container, as strings."""
    return [str(a) for a in [*(c.get("command") or []), *(c.get("args") or [])]]


def flower_binary(c: Obj) -> str | None:
    """`flower-superlink`, `flower-supernode` or `flower-superexec` if the container runs one."""
    for a in argv(c)[:2]:
        name = a.rsplit("/", 1)[-1]
        if name in ("flower-superlink", "flower-supernode", "flower-superexec"):
            return name
    return None


def flag(args: Sequence[str], name: str) -> str | None:
    """Value of `--name VALUE` or `--name=VALUE`, or "" for a bare flag; None if absent."""
    for i, a in enumerate(args):
        if a == name:
            return args[i + 1] if i + 1 < len(args) and not args[i + 1].startswith("--") else ""
        if a.startswith(name + "="):
            return a.split("=", 1)[1]
    return None


def strings(value: Any) -> Iterator[str]:
    """Every string in a nested value (dict values, list items, the value itself)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for v in value.values():
            yield from strings(v)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from strings(v)
