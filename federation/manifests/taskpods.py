"""Per-task pods: the objects behind a SuperExec that runs Flower's Kubernetes executor (`taskPods`).

With `taskPods.enabled` the SuperExec (the hub's ServerApp SuperExec, a ClientApp's SuperExec on a
managed cluster) runs `flower-superexec --executor kubernetes --executor-config FILE`
(:func:`federation.flower.superexec`). For every task it claims (a ServerApp run, one ClientApp
message) Flower's executor creates a Secret `<pod>-appio` with the task's AppIO token (and the
Runtime API CA) and a Pod running `flwr-serverapp`/`flwr-clientapp` that dials the SuperExec's
Runtime API address; the pod's spec comes from the executor config rendered here.

Pure builders, plain dicts in Kubernetes field names; nothing here imports `pulumi`:

* :func:`executor_config`: the YAML mapping Flower's `load_executor_config` reads (keys as Flower
  spells them: `namespace`, `image`, `active-pod-budget`, `resource-pool`, `resources`,
  `node-selector`, `tolerations`, `pod-security-context`, ...). Task pods request the resources
  and the GPU (and get the GPU node selector and tolerations); the SuperExec requests no GPU.
* :func:`objects`: in order, the task ``Namespace`` (restricted Pod Security), the SuperExec's
  ``ServiceAccount`` (on managed clusters; the hub's SuperExec has one), the task pods'
  ``ServiceAccount`` (no token; the image pull secrets, since the executor config has no
  `imagePullSecrets` key), the ``Role`` with exactly the verbs the executor uses (pods and secrets:
  create, list, delete) and its ``RoleBinding``, the ``ConfigMap`` with the executor config, and
  the ``NetworkPolicy`` objects: task pods accept no ingress; the Runtime API's pods (SuperNode,
  SuperLink) admit the task pods on the Runtime API port; the SuperExec may reach DNS, its Runtime
  API and the API server.
* :func:`superexec_volumes`: what the SuperExec pod mounts besides its own: the executor config and
  a projected ServiceAccount token (the pod keeps `automountServiceAccountToken: false`; only this
  container gets API credentials).
* :func:`task_pod` / :func:`task_pod_from_config_map`: the Pod Flower's executor will create from a
  config (same fields), so the policies check task pods as they check Deployments.

Facts from Flower's executor (1.41.0 and 1.42.0, `flwr/supercore/superexec/executor/`): a claimed task
must become active within 30 s (the heartbeat interval) or it goes back to pending and is launched
again as another Pod, so pods that cannot schedule would pile up without `active-pod-budget`
(pending and running task pods count against it); finished pods and their Secrets are swept about
every 60 s; unknown config keys are ignored; `env` takes literal values only; `secret` volumes and
projected secret/serviceAccountToken sources are refused; task pods never automount a token.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from federation import flower
from federation.manifests import common
from federation.manifests.common import Obj
from federation.spec import FederationSpec, GpuSpec, TaskPodsSpec

__all__ = [
    "CONFIG_CHECKSUM_ANNOTATION",
    "EXECUTOR_ROLE_RULES",
    "TaskPods",
    "config_map_name",
    "executor_config",
    "executor_config_yaml",
    "objects",
    "superexec_volumes",
    "task_pod",
    "task_pod_from_config_map",
    "task_selector",
]

#: The SuperExec reads its executor config once, at start: its pod template carries this checksum.
CONFIG_CHECKSUM_ANNOTATION = "checksum/executor-config"
#: Exactly what Flower's cold-start executor calls (CoreV1Api create/list/delete on pods and secrets;
#: patch and pods/exec only serve warm pools of agent/model/connector tasks, never used here).
EXECUTOR_ROLE_RULES: tuple[Obj, ...] = (
    {"apiGroups": [""], "resources": ["pods"], "verbs": ["create", "delete", "list"]},
    {"apiGroups": [""], "resources": ["secrets"], "verbs": ["create", "delete", "list"]},
)
#: Labels Flower's executor puts on every task pod and AppIO Secret (it owns them; ours come in addition).
FLOWER_TASK_LABELS = {"app.kubernetes.io/name": "flower", "app.kubernetes.io/component": "taskexecutor"}
RESOURCE_POOL_LABEL = "flower.ai/resource-pool"
#: How often the executor logs that it waits for capacity (seconds; Flower's `capacity-log-interval`).
CAPACITY_LOG_INTERVAL = 60
_DNS_PORTS = [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]
_RESTRICTED = {
    "pod-security.kubernetes.io/enforce": "restricted",
    "pod-security.kubernetes.io/enforce-version": "v1.33",
    "pod-security.kubernetes.io/warn": "restricted",
    "pod-security.kubernetes.io/audit": "restricted",
}
#: The kubelet's default for a projected ServiceAccount token (1 h + 7 s); the client re-reads it.
_TOKEN_SECONDS = 3607


@dataclass(frozen=True)
class TaskPods:
    """One SuperExec with task pods: where it runs, what its task pods get, which pods serve its Runtime API."""

    spec: FederationSpec
    task_pods: TaskPodsSpec
    #: Base of the object names (the SuperExec Deployment's name).
    owner: str
    #: `app.kubernetes.io/component` of our objects (e.g. `clientapp`, `serverapp-superexec`).
    component: str
    superexec_namespace: str
    #: ServiceAccount the SuperExec runs as (bound to the Role).
    superexec_service_account: str
    #: Labels of the SuperExec pods (NetworkPolicy selector).
    superexec_selector: Mapping[str, str]
    #: Flower's `resource-pool` label value: scopes the budget, the sweep and our selectors to this SuperExec.
    resource_pool: str
    image: str
    pull_policy: str
    resources: Obj
    gpu: GpuSpec | None
    #: Labels of the pods that serve the Runtime API the task pods dial, and its port.
    runtime_selector: Mapping[str, str]
    runtime_port: int
    image_pull_secrets: Sequence[Obj] = ()
    dependency_installation: bool = False
    #: Restrict the task pods' egress to DNS and the Runtime API (the hub: ServerApps need nothing else).
    restrict_task_egress: bool = False
    #: Create the SuperExec's ServiceAccount here (managed clusters; the hub builder has its own).
    create_superexec_service_account: bool = True
    #: Extra labels of the task namespace (e.g. the addon-namespace label that gets the pull credentials).
    namespace_labels: Mapping[str, str] = field(default_factory=dict)

    @property
    def namespace(self) -> str:
        """The task pods' namespace."""
        return self.task_pods.namespace_for(self.superexec_namespace)


def config_map_name(t: TaskPods) -> str:
    """The ConfigMap (in the SuperExec's namespace) holding the executor config."""
    return f"{t.owner}-executor-config"


def task_service_account_name(t: TaskPods) -> str:
    """The ServiceAccount of the task pods (no token, the image pull secrets)."""
    return f"{t.owner}-task"


def role_name(t: TaskPods) -> str:
    """The Role (and RoleBinding) in the task namespace that lets the SuperExec run task pods."""
    return f"{t.owner}-executor"


def task_labels(t: TaskPods) -> dict[str, str]:
    """Our labels on task pods and their Secrets (Flower adds its own; it ignores ours for its keys)."""
    return {"app.kubernetes.io/instance": t.spec.name, "app.kubernetes.io/managed-by": common.MANAGED_BY,
            "app.kubernetes.io/part-of": t.owner}


def task_selector(t: TaskPods) -> dict[str, str]:
    """Labels every task pod of this SuperExec carries (Flower's, ours, the resource pool)."""
    return {**FLOWER_TASK_LABELS, "app.kubernetes.io/instance": t.spec.name, RESOURCE_POOL_LABEL: t.resource_pool}


def _scratch(t: TaskPods) -> tuple[list[Obj], list[Obj]]:
    contract = flower.task_executor(flower.CONTAINER, dependency_installation=t.dependency_installation)
    vols: list[Obj] = []
    mounts: list[Obj] = []
    for path in contract.writable_paths:
        name = common.volume_name(path)
        vols.append({"name": name, "emptyDir": {}})
        mounts.append({"name": name, "mountPath": path})
    return vols, mounts


def executor_config(t: TaskPods) -> Obj:
    """The executor config as Flower's `load_executor_config` reads it (keys spelled as Flower spells them)."""
    tp = t.task_pods
    contract = flower.task_executor(flower.CONTAINER, dependency_installation=t.dependency_installation)
    vols, mounts = _scratch(t)
    vols += [dict(v) for v in tp.volumes]
    mounts += [m.model_dump(by_alias=True, exclude_none=True) for m in tp.volume_mounts]
    env = [{"name": k, "value": v} for k, v in sorted(contract.env.items())]
    env += [{"name": e.name, "value": e.value} for e in tp.env]
    config: Obj = {
        "namespace": t.namespace,
        "image": t.image,
        "image-pull-policy": t.pull_policy,
        "resource-pool": t.resource_pool,
        "active-pod-budget": tp.active_pod_budget,
        "capacity-log-interval": CAPACITY_LOG_INTERVAL,
        "labels": task_labels(t),
        "service-account-name": task_service_account_name(t),
        "resources": common.resources(tp.resources, t.gpu) if tp.resources is not None else _with_gpu(t.resources, t.gpu),
        "env": env,
        "volumes": vols,
        "volume-mounts": mounts,
        "pod-security-context": common.pod_security_context(),
        "container-security-context": common.container_security_context(),
    }
    if t.gpu is not None and t.gpu.node_selector:
        config["node-selector"] = dict(sorted(t.gpu.node_selector.items()))
    if t.gpu is not None and t.gpu.tolerations:
        config["tolerations"] = common.tolerations(t.gpu.tolerations)
    if tp.priority_class_name:
        config["priority-class-name"] = tp.priority_class_name
    return config


def _with_gpu(resources: Obj, gpu: GpuSpec | None) -> Obj:
    out = {part: dict(values) for part, values in resources.items()}
    if gpu is not None and gpu.resource_name:
        for part in ("requests", "limits"):
            out.setdefault(part, {})[gpu.resource_name] = str(gpu.count)
    return out


def executor_config_yaml(t: TaskPods) -> str:
    """:func:`executor_config` as the YAML file the SuperExec reads (keys sorted: a stable checksum)."""
    return yaml.safe_dump(executor_config(t), sort_keys=True, default_flow_style=False)


def config_checksum(t: TaskPods) -> str:
    """SHA-256 of the executor config (the SuperExec pod template's :data:`CONFIG_CHECKSUM_ANNOTATION`)."""
    return hashlib.sha256(executor_config_yaml(t).encode()).hexdigest()


def superexec_volumes(t: TaskPods) -> tuple[list[Obj], list[Obj]]:
    """The SuperExec pod's extra volumes and mounts: the executor config and API credentials for the client."""
    config_dir = flower.EXECUTOR_CONFIG_DIR
    vols: list[Obj] = [
        {"name": "executor-config", "configMap": {
            "name": config_map_name(t), "defaultMode": 0o444,
            "items": [{"key": flower.EXECUTOR_CONFIG_FILE, "path": flower.EXECUTOR_CONFIG_FILE}]}},
        # What the kubelet would automount, for this pod only: the Kubernetes client's in-cluster config.
        {"name": "kube-api-access", "projected": {"defaultMode": 0o444, "sources": [
            {"serviceAccountToken": {"path": "token", "expirationSeconds": _TOKEN_SECONDS}},
            {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
            {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"apiVersion": "v1",
                                                                           "fieldPath": "metadata.namespace"}}]}},
        ]}},
    ]
    mounts: list[Obj] = [
        {"name": "executor-config", "mountPath": config_dir, "readOnly": True},
        {"name": "kube-api-access", "mountPath": flower.SERVICE_ACCOUNT_DIR, "readOnly": True},
    ]
    return vols, mounts


def _labels(t: TaskPods, **extra: str) -> dict[str, str]:
    return common.labels(t.spec, t.component, **extra)


def _namespace(t: TaskPods) -> Obj:
    labels = {**_labels(t), **_RESTRICTED, **t.namespace_labels}
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": common.metadata(t.namespace, labels=labels)}


def _service_accounts(t: TaskPods) -> list[Obj]:
    out: list[Obj] = []
    if t.create_superexec_service_account:
        out.append({"apiVersion": "v1", "kind": "ServiceAccount",
                    "metadata": common.metadata(t.superexec_service_account, t.superexec_namespace, labels=_labels(t)),
                    "automountServiceAccountToken": False})
    task_sa: Obj = {"apiVersion": "v1", "kind": "ServiceAccount",
                    "metadata": common.metadata(task_service_account_name(t), t.namespace, labels=_labels(t)),
                    "automountServiceAccountToken": False}
    if t.image_pull_secrets:
        task_sa["imagePullSecrets"] = [dict(s) for s in t.image_pull_secrets]
    out.append(task_sa)
    return out


def _rbac(t: TaskPods) -> list[Obj]:
    meta = common.metadata(role_name(t), t.namespace, labels=_labels(t))
    return [
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": meta,
         "rules": [dict(r) for r in EXECUTOR_ROLE_RULES]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": dict(meta),
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role_name(t)},
         "subjects": [{"kind": "ServiceAccount", "name": t.superexec_service_account,
                       "namespace": t.superexec_namespace}]},
    ]


def _config_map(t: TaskPods) -> Obj:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": common.metadata(config_map_name(t), t.superexec_namespace, labels=_labels(t)),
            "data": {flower.EXECUTOR_CONFIG_FILE: executor_config_yaml(t)}}


def _in_namespace(namespace: str, selector: Mapping[str, str]) -> Obj:
    return {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}},
            "podSelector": {"matchLabels": dict(selector)}}


def _policy(t: TaskPods, name: str, namespace: str, selector: Mapping[str, str], policy: Obj) -> Obj:
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": common.metadata(name, namespace, labels=_labels(t)),
            "spec": {"podSelector": {"matchLabels": dict(selector)}, **policy}}


def _network_policies(t: TaskPods) -> list[Obj]:
    runtime = [{"protocol": "TCP", "port": t.runtime_port}]
    task_policy: Obj = {"policyTypes": ["Ingress"], "ingress": []}
    if t.restrict_task_egress:
        task_policy = {"policyTypes": ["Ingress", "Egress"], "ingress": [], "egress": [
            {"ports": list(_DNS_PORTS)},
            {"to": [_in_namespace(t.superexec_namespace, t.runtime_selector)], "ports": runtime}]}
    api = t.task_pods.api_server
    api_rule: Obj = {"ports": [{"protocol": "TCP", "port": p} for p in api.ports]}
    if api.cidrs:
        api_rule = {"to": [{"ipBlock": {"cidr": c}} for c in api.cidrs], **api_rule}
    return [
        # Nothing dials a task pod.
        _policy(t, f"{t.owner}-tasks", t.namespace, task_selector(t), task_policy),
        # The Runtime API (SuperNode, SuperLink) admits this SuperExec's task pods (additive to its own policy).
        _policy(t, f"{t.owner}-tasks-runtime", t.superexec_namespace, t.runtime_selector, {
            "policyTypes": ["Ingress"],
            "ingress": [{"from": [_in_namespace(t.namespace, task_selector(t))], "ports": runtime}]}),
        # The SuperExec: DNS, its Runtime API, and the API server (it creates the task pods).
        _policy(t, f"{t.owner}-executor", t.superexec_namespace, t.superexec_selector, {
            "policyTypes": ["Egress"],
            "egress": [{"ports": list(_DNS_PORTS)},
                       {"to": [{"podSelector": {"matchLabels": dict(t.runtime_selector)}}], "ports": runtime},
                       api_rule]}),
    ]


def objects(t: TaskPods) -> list[Obj]:
    """Every object behind `t`'s task pods, in apply order (the SuperExec Deployment itself is the caller's)."""
    out: list[Obj] = []
    if t.task_pods.create_namespace:
        out.append(_namespace(t))
    out += _service_accounts(t)
    out += _rbac(t)
    out.append(_config_map(t))
    out += _network_policies(t)
    return out


def task_pod(config: Mapping[str, Any], *, name: str = "flwr-taskexecutor-1-preview",
             command: str = "flwr-clientapp") -> Obj:
    """The Pod Flower's executor builds from `config` (`_build_taskexecutor_pod`'s fields), for the policies.

    The task's own values (name, Runtime API address, token Secret) are placeholders.
    """
    appio = "appio-credentials"
    argv = flower.task_argv(command, "runtime:0")
    ctr: Obj = {"name": "taskexecutor", "image": config.get("image"), "command": [argv[0]], "args": list(argv[1:]),
                "volumeMounts": [{"name": appio, "mountPath": flower.APPIO_MOUNT_PATH, "readOnly": True},
                                 *(config.get("volume-mounts") or [])]}
    for key, target in (("image-pull-policy", "imagePullPolicy"), ("resources", "resources"), ("env", "env"),
                        ("container-security-context", "securityContext")):
        if config.get(key) is not None:
            ctr[target] = config[key]
    pod: Obj = {"automountServiceAccountToken": False, "restartPolicy": "Never", "containers": [ctr],
                "volumes": [{"name": appio, "secret": {"secretName": f"{name}-appio", "defaultMode": 0o444}},
                            *(config.get("volumes") or [])]}
    for key, target in (("service-account-name", "serviceAccountName"), ("node-selector", "nodeSelector"),
                        ("tolerations", "tolerations"), ("affinity", "affinity"),
                        ("priority-class-name", "priorityClassName"), ("pod-security-context", "securityContext")):
        if config.get(key) is not None:
            pod[target] = config[key]
    labels = {**(config.get("labels") or {}), **FLOWER_TASK_LABELS}
    if config.get("resource-pool") is not None:
        labels[RESOURCE_POOL_LABEL] = config["resource-pool"]
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": config.get("namespace"), "labels": labels}, "spec": pod}


def task_pod_from_config_map(obj: Mapping[str, Any]) -> Obj | None:
    """The task Pod an executor-config ConfigMap describes (see :func:`task_pod`), else None."""
    if obj.get("kind") != "ConfigMap":
        return None
    text = (obj.get("data") or {}).get(flower.EXECUTOR_CONFIG_FILE)
    if not isinstance(text, str):
        return None
    try:
        config = yaml.safe_load(text)
    except yaml.YAMLError:
        return None
    if not isinstance(config, dict) or "namespace" not in config or "image" not in config:
        return None
    name = str((obj.get("metadata") or {}).get("name", "executor-config"))
    return task_pod(config, name=f"{name}-task")
