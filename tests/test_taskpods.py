"""Task pods (Flower's SuperExec Kubernetes executor): the builders, against Flower's own executor code.

The executor config is read by Flower's `load_executor_config` and parsed by the real factory
(`_kubernetes_executor_config_from_mapping`, which runs the executor's own env/volume checks); the
task Pod the policies see is compared with the one Flower's executor builds; the Role is compared with
the API calls the real executor makes (through a recording client: the only fake here, standing in for
the API server); the objects are checked against the Kubernetes and OCM schemas.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from flwr.supercore.constant import ExecutorType, TaskType
from flwr.supercore.superexec.executor import kubernetes_executor as kx
from flwr.supercore.superexec.executor.config import load_executor_config
from flwr.supercore.superexec.executor.factory import _kubernetes_executor_config_from_mapping
from flwr.supercore.superexec.executor.types import ExecutionSpec, LaunchResultStatus

from federation import flower
from federation.errors import SpecError
from federation.manifests import hub, taskpods
from federation.manifests.ocm import distribution
from federation.policies import rules
from federation.policies.settings import PolicySettings
from federation.spec import FederationSpec
from tests.e2e.specs import make_spec
from tests.schemas import validate_object

GPU_POOL = {"name": "gpu", "isolation": "process",
            "gpu": {"nodeSelector": {"accelerator": "a100"},
                    "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]}}


def gpu_spec(**task_pods: Any) -> FederationSpec:
    return make_spec(pools=[GPU_POOL], clientApps=[{
        "name": "app", "image": "example.com/clientapp:1.0.0", "pools": ["gpu"],
        "taskPods": {"enabled": True, **task_pods}}])


def hub_spec(**hub: Any) -> FederationSpec:
    return make_spec(hub={"isolation": "process", "superexec": {"taskPods": {"enabled": True}}, **hub})


def mwrs_manifests(spec: FederationSpec) -> list[dict[str, Any]]:
    mwrs = distribution.manifest_work_replica_set(spec, spec.client_apps[0])
    return list(mwrs["spec"]["manifestWorkTemplate"]["workload"]["manifests"])


def by_kind(objs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objs if o["kind"] == kind]


def clientapp_tasks(spec: FederationSpec) -> taskpods.TaskPods:
    tasks = distribution.clientapp_task_pods(spec, spec.client_apps[0])
    assert tasks is not None
    return tasks


def flower_config(tasks: taskpods.TaskPods, tmp_path: Path) -> kx.KubernetesExecutorConfig:
    """The executor config as the SuperExec loads it: the ConfigMap's file, Flower's loader and factory."""
    path = tmp_path / flower.EXECUTOR_CONFIG_FILE
    path.write_text(taskpods.executor_config_yaml(tasks))
    return _kubernetes_executor_config_from_mapping(load_executor_config(str(path), ExecutorType.KUBERNETES))


def execution(task_id: int = 1, task_type: TaskType = TaskType.CLIENT_APP) -> ExecutionSpec:
    return ExecutionSpec(task_type=task_type, runtime_api_address="runtime:0", token="t0ken", insecure=False,
                         root_certificates_path=None, runtime_dependency_install=False, parent_pid=None,
                         suppress_output=False, task_id=task_id)


# --- the executor config, read by Flower ---------------------------------------------------------


def test_flower_loads_and_parses_the_clientapp_executor_config(tmp_path: Path) -> None:
    spec = gpu_spec(env=[{"name": "DATA_DIR", "value": "/data"}], priorityClassName="flower-tasks",
                    volumes=[{"name": "data", "emptyDir": {"sizeLimit": "1Gi"}}],
                    volumeMounts=[{"name": "data", "mountPath": "/data"}])
    config = flower_config(clientapp_tasks(spec), tmp_path)
    assert config.namespace == "t-supernode-tasks"
    assert config.image == "example.com/clientapp:1.0.0"
    assert config.active_pod_budget == 2
    assert config.resource_pool == "app"
    assert config.service_account_name == "t-clientapp-app-task"
    assert config.priority_class_name == "flower-tasks"
    assert config.node_selector == {"accelerator": "a100"}
    assert config.tolerations == [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
    assert config.resources is not None
    assert config.resources["requests"]["nvidia.com/gpu"] == "1" and config.resources["limits"]["nvidia.com/gpu"] == "1"
    # Flower's executor validated these (literal env only, no secret volumes, no reserved names or paths).
    assert config.env is not None and {"name": "DATA_DIR", "value": "/data"} in config.env
    assert {"name": "FLWR_HOME", "value": flower.CONTAINER.flwr_home} in config.env
    assert config.volume_mounts is not None
    assert {m["mountPath"] for m in config.volume_mounts} >= {*flower.CONTAINER.writable_paths(), "/data"}
    assert config.pod_security_context == {"runAsNonRoot": True, "runAsUser": 49999, "runAsGroup": 49999,
                                           "fsGroup": 49999, "seccompProfile": {"type": "RuntimeDefault"}}
    assert config.container_security_context is not None
    assert config.container_security_context["allowPrivilegeEscalation"] is False
    assert config.container_security_context["capabilities"] == {"drop": ["ALL"]}
    # Every key we write is one Flower reads (it ignores unknown keys silently).
    from flwr.supercore.superexec.executor.factory import _KUBERNETES_CONFIG_FIELD_MAP

    keys = set(yaml.safe_load(taskpods.executor_config_yaml(clientapp_tasks(spec))))
    assert keys <= {"namespace", "image", *_KUBERNETES_CONFIG_FIELD_MAP}


def test_flower_loads_the_hub_executor_config(tmp_path: Path) -> None:
    spec = hub_spec()
    tasks = hub.hub_task_pods(spec)
    assert tasks is not None
    config = flower_config(tasks, tmp_path)
    assert config.namespace == "t-system-tasks"
    assert config.image == spec.flower.images.superexec
    assert config.resource_pool == "serverapp"
    assert config.resources == {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"cpu": "1", "memory": "1Gi"}}
    assert config.node_selector is None and config.tolerations is None


def test_task_pod_preview_is_the_pod_flowers_executor_builds(tmp_path: Path) -> None:
    tasks = clientapp_tasks(gpu_spec(volumes=[{"name": "data", "emptyDir": {}}],
                                     volumeMounts=[{"name": "data", "mountPath": "/data", "readOnly": True}]))
    config = flower_config(tasks, tmp_path)
    built = kx._build_taskexecutor_pod(execution(), config, None, "abc")
    name = built["metadata"]["name"]
    preview = taskpods.task_pod(taskpods.executor_config(tasks), name=name, command="flwr-clientapp")
    assert preview["spec"] == built["spec"]
    # Flower adds the task's own labels; ours and its pool labels are on both.
    assert preview["metadata"]["labels"].items() <= built["metadata"]["labels"].items()
    assert preview["metadata"]["namespace"] == built["metadata"]["namespace"] == tasks.namespace


# --- RBAC: exactly what the executor calls --------------------------------------------------------

#: CoreV1Api method → (resource, verb) as the API server authorizes it.
_VERBS = {
    "create_namespaced_secret": ("secrets", "create"), "create_namespaced_pod": ("pods", "create"),
    "delete_namespaced_secret": ("secrets", "delete"), "delete_namespaced_pod": ("pods", "delete"),
    "list_namespaced_secret": ("secrets", "list"), "list_namespaced_pod": ("pods", "list"),
    "patch_namespaced_pod": ("pods", "patch"), "connect_get_namespaced_pod_exec": ("pods/exec", "get"),
}


class RecordingClient:
    """Stands in for the API server: stores what the executor creates, records every call."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self.pods: dict[str, dict[str, Any]] = {}
        self.secrets: dict[str, dict[str, Any]] = {}

    def _record(self, method: str, namespace: str) -> None:
        self.calls.append((method, namespace))

    def create_namespaced_secret(self, namespace: str, body: dict[str, Any]) -> object:
        self._record("create_namespaced_secret", namespace)
        self.secrets[body["metadata"]["name"]] = body
        return body

    def create_namespaced_pod(self, namespace: str, body: dict[str, Any]) -> object:
        self._record("create_namespaced_pod", namespace)
        self.pods[body["metadata"]["name"]] = {**body, "status": {"phase": "Pending"}}
        return body

    def delete_namespaced_secret(self, name: str, namespace: str) -> object:
        self._record("delete_namespaced_secret", namespace)
        return self.secrets.pop(name)

    def delete_namespaced_pod(self, name: str, namespace: str, grace_period_seconds: int = 0) -> object:
        self._record("delete_namespaced_pod", namespace)
        return self.pods.pop(name)

    @staticmethod
    def _select(items: dict[str, dict[str, Any]], selector: str) -> dict[str, Any]:
        want = dict(part.split("=", 1) for part in selector.split(",") if part)
        return {"items": [o for o in items.values() if want.items() <= o["metadata"]["labels"].items()]}

    def list_namespaced_secret(self, namespace: str, label_selector: str) -> object:
        self._record("list_namespaced_secret", namespace)
        return self._select(self.secrets, label_selector)

    def list_namespaced_pod(self, namespace: str, label_selector: str) -> object:
        self._record("list_namespaced_pod", namespace)
        return self._select(self.pods, label_selector)


def test_role_grants_exactly_the_calls_of_the_executor_and_the_budget_bounds_pending_pods(tmp_path: Path) -> None:
    tasks = clientapp_tasks(gpu_spec())
    client = RecordingClient()
    executor = kx.KubernetesExecutor(client=client, config=flower_config(tasks, tmp_path))  # type: ignore[arg-type]
    supported = {TaskType.CLIENT_APP}
    for task_id in (1, 2):
        assert executor.get_eligible_capacity(supported) == (supported, set())
        assert executor.launch(execution(task_id)).status == LaunchResultStatus.ACCEPTED
    # Two pods that never schedule (Pending) fill the budget of 2: no third launch, however often the
    # tasks go back to pending after Flower's 30 s activation window.
    assert len(client.pods) == 2 and len(client.secrets) == 2
    assert executor.get_eligible_capacity(supported) == (set(), set())
    # One finishes: the sweep deletes it and its <pod>-appio Secret, and capacity returns.
    first = sorted(client.pods)[0]
    client.pods[first]["status"]["phase"] = "Succeeded"
    executor._sweep_completed_pods()
    assert first not in client.pods and f"{first}{'-appio'}" not in client.secrets
    assert executor.get_eligible_capacity(supported) == (supported, set())
    # Everything in the task namespace, and the Role allows exactly the verbs used.
    assert {ns for _, ns in client.calls} == {tasks.namespace}
    used = {_VERBS[m] for m, _ in client.calls}
    role = by_kind(taskpods.objects(tasks), "Role")[0]
    granted = {(res, verb) for r in role["rules"] for res in r["resources"] for verb in r["verbs"]}
    assert granted == used == {("pods", "create"), ("pods", "list"), ("pods", "delete"),
                               ("secrets", "create"), ("secrets", "list"), ("secrets", "delete")}
    assert role["metadata"]["namespace"] == tasks.namespace
    # The Secret and the Pod are the executor's: the AppIO token mounted at /run/flwr/appio.
    pod = next(iter(client.pods.values()))
    assert pod["spec"]["volumes"][0]["secret"]["secretName"] == f"{pod['metadata']['name']}-appio"
    assert pod["spec"]["automountServiceAccountToken"] is False


# --- the ClientApp distribution --------------------------------------------------------------------


def test_mwrs_ships_the_task_objects_before_the_superexec_and_every_object_is_valid() -> None:
    spec = gpu_spec()
    manifests = mwrs_manifests(spec)
    assert [m["kind"] for m in manifests] == ["Namespace", "ServiceAccount", "ServiceAccount", "Role", "RoleBinding",
                                              "ConfigMap", "NetworkPolicy", "NetworkPolicy", "NetworkPolicy",
                                              "Deployment"]
    for obj in manifests:
        validate_object(obj)
    validate_object(distribution.manifest_work_replica_set(spec, spec.client_apps[0]))
    ns = by_kind(manifests, "Namespace")[0]
    assert ns["metadata"]["name"] == "t-supernode-tasks"
    assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    # The klusterlet copies its pull credentials into namespaces with the addon-namespace label.
    assert ns["metadata"]["labels"]["addon.open-cluster-management.io/namespace"] == "true"
    executor_sa, task_sa = by_kind(manifests, "ServiceAccount")
    assert (executor_sa["metadata"]["namespace"], task_sa["metadata"]["namespace"]) == ("t-supernode", "t-supernode-tasks")
    assert task_sa["automountServiceAccountToken"] is False
    assert task_sa["imagePullSecrets"] == [{"name": "open-cluster-management-image-pull-credentials"}]
    binding = by_kind(manifests, "RoleBinding")[0]
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": executor_sa["metadata"]["name"],
                                    "namespace": "t-supernode"}]


def test_only_task_pods_request_the_gpu() -> None:
    spec = gpu_spec()
    dep = by_kind(mwrs_manifests(spec), "Deployment")[0]
    pod = dep["spec"]["template"]["spec"]
    ctr = pod["containers"][0]
    assert "nvidia.com/gpu" not in ctr["resources"]["requests"] and "nvidia.com/gpu" not in ctr["resources"]["limits"]
    assert "nodeSelector" not in pod and "tolerations" not in pod
    config = taskpods.executor_config(clientapp_tasks(spec))
    assert config["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert config["node-selector"] == {"accelerator": "a100"}
    # Without task pods the always-on SuperExec holds the GPU (today's behaviour).
    plain = make_spec(pools=[GPU_POOL], clientApps=[{"name": "app", "image": "example.com/clientapp:1.0.0",
                                                      "pools": ["gpu"]}])
    plain_pod = by_kind(mwrs_manifests(plain), "Deployment")[0]["spec"]["template"]["spec"]
    assert plain_pod["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert len(mwrs_manifests(plain)) == 1


def test_task_pod_resources_and_gpu_overrides() -> None:
    config = taskpods.executor_config(clientapp_tasks(gpu_spec(
        resources={"requests": {"cpu": "2", "memory": "8Gi"}, "limits": {"cpu": "4", "memory": "16Gi"}},
        gpu={"count": 2, "resourceName": "amd.com/gpu"})))
    assert config["resources"] == {"requests": {"cpu": "2", "memory": "8Gi", "amd.com/gpu": "2"},
                                   "limits": {"cpu": "4", "memory": "16Gi", "amd.com/gpu": "2"}}
    assert "node-selector" not in config


def test_superexec_runs_the_kubernetes_executor_with_its_config_and_api_credentials() -> None:
    dep = by_kind(mwrs_manifests(gpu_spec()), "Deployment")[0]
    pod = dep["spec"]["template"]["spec"]
    args = pod["containers"][0]["args"]
    assert args[args.index("--executor") + 1] == "kubernetes"
    assert args[args.index("--executor-config") + 1] == flower.executor_config_path()
    # Task pods in another namespace dial the same address: the SuperNode Service by its namespaced name.
    assert args[args.index("--runtime-api-address") + 1] == "t-supernode.t-supernode.svc:9094"
    assert pod["serviceAccountName"] == "t-clientapp-app-executor"
    assert pod["automountServiceAccountToken"] is False
    vols = {v["name"]: v for v in pod["volumes"]}
    assert vols["executor-config"]["configMap"]["name"] == "t-clientapp-app-executor-config"
    sources = vols["kube-api-access"]["projected"]["sources"]
    assert {next(iter(s)) for s in sources} == {"serviceAccountToken", "configMap", "downwardAPI"}
    mounts = {m["mountPath"] for m in pod["containers"][0]["volumeMounts"]}
    assert {flower.EXECUTOR_CONFIG_DIR, flower.SERVICE_ACCOUNT_DIR} <= mounts


def test_a_config_change_rolls_the_superexec() -> None:
    def checksum(spec: FederationSpec) -> str:
        dep = by_kind(mwrs_manifests(spec), "Deployment")[0]
        return str(dep["spec"]["template"]["metadata"]["annotations"][taskpods.CONFIG_CHECKSUM_ANNOTATION])

    assert checksum(gpu_spec()) == checksum(gpu_spec())
    assert checksum(gpu_spec()) != checksum(gpu_spec(activePodBudget=3))


def _selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    return dict(selector.get("matchLabels") or {}).items() <= labels.items()


def test_network_policies_select_the_pods_flower_creates(tmp_path: Path) -> None:
    spec = gpu_spec()
    tasks = clientapp_tasks(spec)
    task_labels = kx._build_taskexecutor_pod(execution(), flower_config(tasks, tmp_path), None, "abc")["metadata"]["labels"]
    policies = {p["metadata"]["name"]: p for p in by_kind(mwrs_manifests(spec), "NetworkPolicy")}
    own = policies["t-clientapp-app-tasks"]
    assert own["metadata"]["namespace"] == tasks.namespace and _selects(own["spec"]["podSelector"], task_labels)
    assert own["spec"]["policyTypes"] == ["Ingress"] and own["spec"]["ingress"] == []
    runtime = policies["t-clientapp-app-tasks-runtime"]
    peer = runtime["spec"]["ingress"][0]["from"][0]
    assert peer["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": tasks.namespace}
    assert _selects(peer["podSelector"], task_labels)
    assert runtime["spec"]["ingress"][0]["ports"] == [{"protocol": "TCP", "port": 9094}]
    from federation.manifests.ocm import addon

    supernode = addon.supernode_deployment(spec, spec.pools[0])
    assert supernode["metadata"]["namespace"] == runtime["metadata"]["namespace"]
    assert _selects(runtime["spec"]["podSelector"], supernode["spec"]["template"]["metadata"]["labels"])
    executor = policies["t-clientapp-app-executor"]
    assert executor["spec"]["policyTypes"] == ["Egress"]
    api = executor["spec"]["egress"][-1]
    assert api == {"ports": [{"protocol": "TCP", "port": 443}, {"protocol": "TCP", "port": 6443}]}
    narrowed = taskpods.objects(clientapp_tasks(gpu_spec(apiServer={"cidrs": ["10.0.0.1/32"], "ports": [6443]})))
    egress = {p["metadata"]["name"]: p for p in by_kind(narrowed, "NetworkPolicy")}["t-clientapp-app-executor"]
    assert egress["spec"]["egress"][-1] == {"to": [{"ipBlock": {"cidr": "10.0.0.1/32"}}],
                                            "ports": [{"protocol": "TCP", "port": 6443}]}


def test_explicit_namespace_without_creating_it() -> None:
    manifests = mwrs_manifests(gpu_spec(namespace="gpu-jobs", createNamespace=False))
    assert not by_kind(manifests, "Namespace")
    assert {o["metadata"]["namespace"] for o in by_kind(manifests, "Role")} == {"gpu-jobs"}


# --- the hub -------------------------------------------------------------------------------------


def test_hub_serverapp_task_pods() -> None:
    spec = hub_spec()
    objs = hub.hub_objects(spec)
    kinds = [o["kind"] for o in objs]
    assert kinds == sorted(kinds, key=hub.OBJECT_ORDER.index)
    for obj in objs:
        validate_object(obj)
    dep = next(o for o in objs if o["kind"] == "Deployment" and o["metadata"]["name"] == "t-serverapp-superexec")
    args = dep["spec"]["template"]["spec"]["containers"][0]["args"]
    # The namespaced API Service name is a SAN of the SuperLink certificate: task pods verify it.
    address = args[args.index("--runtime-api-address") + 1]
    assert address == "t-superlink-api.t-system.svc:9093"
    assert address.rsplit(":", 1)[0] in hub.superlink_sans(spec)[0]
    assert args[args.index("--executor") + 1] == "kubernetes"
    assert "--root-certificates" in args
    assert taskpods.CONFIG_CHECKSUM_ANNOTATION in dep["spec"]["template"]["metadata"]["annotations"]
    # The hub's SuperExec has its ServiceAccount already: the Role binds it; no second one.
    assert [o["metadata"]["name"] for o in objs if o["kind"] == "ServiceAccount"].count("t-serverapp-superexec") == 1
    binding = next(o for o in objs if o["kind"] == "RoleBinding")
    assert binding["subjects"][0] == {"kind": "ServiceAccount", "name": "t-serverapp-superexec", "namespace": "t-system"}
    policies = {p["metadata"]["name"]: p for p in objs if p["kind"] == "NetworkPolicy"}
    # ServerApp task pods reach DNS and the SuperLink only; the SuperLink admits them on its API port.
    tasks_policy = policies["t-serverapp-superexec-tasks"]["spec"]
    assert tasks_policy["policyTypes"] == ["Ingress", "Egress"]
    assert tasks_policy["egress"][1]["ports"] == [{"protocol": "TCP", "port": 9093}]
    runtime = policies["t-serverapp-superexec-tasks-runtime"]
    assert runtime["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "superlink"
    # With runtime dependency installation the ServerApp pods run uv sync: their egress stays open.
    open_spec = hub_spec(runtimeDependencyInstallation=True)
    open_policy = {p["metadata"]["name"]: p for p in hub.hub_objects(open_spec) if p["kind"] == "NetworkPolicy"}
    assert open_policy["t-serverapp-superexec-tasks"]["spec"]["policyTypes"] == ["Ingress"]


def test_hub_without_task_pods_is_unchanged() -> None:
    spec = make_spec(hub={"isolation": "process"})
    objs = hub.hub_objects(spec)
    assert not [o for o in objs if o["kind"] in ("Role", "RoleBinding")]
    dep = next(o for o in objs if o["metadata"]["name"] == "t-serverapp-superexec" and o["kind"] == "Deployment")
    assert "--executor" not in dep["spec"]["template"]["spec"]["containers"][0]["args"]


# --- policies -------------------------------------------------------------------------------------


def test_policies_check_the_task_pods() -> None:
    clean = distribution.manifest_work_replica_set(gpu_spec(), gpu_spec().client_apps[0])
    assert rules.evaluate([clean], PolicySettings()) == []
    latest = gpu_spec(image="example.com/clientapp:latest")
    violations = rules.evaluate([distribution.manifest_work_replica_set(latest, latest.client_apps[0])], PolicySettings())
    assert [v.rule for v in violations] == ["images-pinned"]
    assert "(its task pods)" in violations[0].message
    # A config whose pods would break the restricted Pod Security Standard is caught (e.g. edited by hand).
    cm = by_kind(mwrs_manifests(gpu_spec()), "ConfigMap")[0]
    config = yaml.safe_load(cm["data"][flower.EXECUTOR_CONFIG_FILE])
    del config["container-security-context"]
    bad = {**cm, "data": {flower.EXECUTOR_CONFIG_FILE: yaml.safe_dump(config)}}
    assert any(v.rule == "restricted-pod-security" for v in rules.evaluate([bad], PolicySettings()))
    assert rules.evaluate(hub.hub_objects(hub_spec()), PolicySettings()) == []


# --- validation ------------------------------------------------------------------------------------


def problems(**task_pods: Any) -> list[str]:
    with pytest.raises(SpecError) as err:
        gpu_spec(**task_pods)
    return [str(p) for p in err.value.problems]


@pytest.mark.parametrize(("task_pods", "path", "words"), [
    ({"env": [{"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}]},
     "federation.clientApps[0].taskPods.env[0].valueFrom", "literal `value` entries only"),
    ({"env": [{"name": "FLWR_MODEL_API_KEY", "value": "x"}]}, "federation.clientApps[0].taskPods.env[0].name", "refused"),
    ({"env": [{"name": "FLWR_HOME", "value": "/x"}]}, "federation.clientApps[0].taskPods.env[0].name", "runtime contract"),
    ({"env": [{"name": "1BAD", "value": "x"}]}, "federation.clientApps[0].taskPods.env[0].name", "environment variable"),
    ({"volumes": [{"name": "creds", "secret": {"secretName": "s"}}]},
     "federation.clientApps[0].taskPods.volumes[0]", "secret volumes are refused"),
    ({"volumes": [{"name": "tok", "projected": {"sources": [{"serviceAccountToken": {"path": "t"}}]}}]},
     "federation.clientApps[0].taskPods.volumes[0]", "serviceAccountToken"),
    ({"volumes": [{"name": "appio-credentials", "emptyDir": {}}]},
     "federation.clientApps[0].taskPods.volumes[0]", "reserved"),
    ({"volumes": [{"name": "host", "hostPath": {"path": "/"}}]},
     "federation.clientApps[0].taskPods.volumes[0]", "restricted Pod Security"),
    ({"volumeMounts": [{"name": "x", "mountPath": "/run/flwr/appio"}]},
     "federation.clientApps[0].taskPods.volumeMounts[0].mountPath", "reserved"),
    ({"activePodBudget": 0}, "federation.clientApps[0].taskPods.activePodBudget", ">= 1"),
    ({"namespace": "t-supernode"}, "federation.clientApps[0].taskPods.namespace", "must differ"),
    ({"volumeMounts": [{"name": "nope", "mountPath": "/data"}]},
     "federation.clientApps[0].taskPods.volumeMounts[0].name", "no volume 'nope'"),
    ({"volumes": [{"name": "t", "emptyDir": {}}], "volumeMounts": [{"name": "t", "mountPath": "/tmp"}]},
     "federation.clientApps[0].taskPods.volumeMounts[0].mountPath", "scratch directory"),
])
def test_validation_rejects_what_flower_would_naming_the_field(task_pods: dict[str, Any], path: str, words: str) -> None:
    found = problems(**task_pods)
    assert any(p.startswith(f"{path}:") and words in p for p in found), found


def test_validation_of_the_hub_and_derived_namespace() -> None:
    with pytest.raises(SpecError) as err:
        make_spec(hub={"isolation": "subprocess", "allowSubprocessIsolation": True,
                       "superexec": {"taskPods": {"enabled": True}}})
    assert any(str(p).startswith("federation.hub.superexec.taskPods.enabled: needs hub.isolation 'process'")
               for p in err.value.problems)
    with pytest.raises(SpecError) as err:
        make_spec(hub={"isolation": "process", "namespace": "n" * 60, "superexec": {"taskPods": {"enabled": True}}})
    assert any(str(p).startswith("federation.hub.superexec.taskPods.namespace: the default") for p in err.value.problems)


def test_cli_validate_exits_2_naming_the_field(tmp_path: Path) -> None:
    from tests.test_cli import run_cli

    bad = tmp_path / "Pulumi.bad.yaml"
    bad.write_text(
        "config:\n"
        "  flower:federation:\n"
        "    hub: {exposure: {externalNames: [a.example.com]}}\n"
        "    pools: [{name: cpu, isolation: process}]\n"
        "    clientApps:\n"
        "      - name: app\n"
        "        image: example.com/app:1.0.0\n"
        "        pools: [cpu]\n"
        "        taskPods: {enabled: true, volumes: [{name: s, secret: {secretName: x}}]}\n"
    )
    res = run_cli("validate", "--file", str(bad))
    assert res.returncode == 2
    assert "federation.clientApps[0].taskPods.volumes[0]: secret volumes are refused" in res.stderr
    assert "Traceback" not in res.stderr + res.stdout
