"""The OCM builders: schema validity, the runtime contract inside templates, GPU placement, invariants."""

from __future__ import annotations

import copy
import json
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from federation import flower, templating
from federation.errors import SpecError
from federation.loading import parse_spec, read_stack_config, stack_file
from federation.manifests import common, ocm
from federation.manifests.ocm import addon
from federation.policies import pss
from federation.spec import FederationSpec
from tests.schemas import validate_kubernetes, validate_ocm

REPO = Path(__file__).resolve().parents[1]
CA = ocm.PLACEHOLDER_CA
ADDRESS = "superlink.flower.example.com:443"


def stack_data(stack: str) -> dict[str, Any]:
    data = read_stack_config(stack_file(stack, REPO / "stacks"))
    assert isinstance(data, dict)
    return copy.deepcopy(data)


def manual_data() -> dict[str, Any]:
    """prod, with the addon installed by ManagedClusterAddOns on listed clusters."""
    data = stack_data("prod")
    data["distribution"] = {"ocm": {"installStrategy": "Manual"}}
    data["pools"][0]["selection"]["clusters"] = ["edge-b", "edge-a"]
    data["pools"][1]["selection"]["clusters"] = ["gpu-1"]
    return data


def subprocess_gpu_data() -> dict[str, Any]:
    """A GPU pool whose SuperNode runs the ClientApp itself (subprocess isolation), TLS off, no node auth."""
    data = stack_data("prod")
    data["pools"][1]["isolation"] = "subprocess"
    data["clientApps"] = [data["clientApps"][0]]
    data["hub"]["supernodeAuth"] = {"enabled": False}
    data["hub"]["tls"] = {"mode": "insecure", "allowInsecure": True}
    return data


def manual_keys_data() -> dict[str, Any]:
    """prod, with SuperNode keys provisioned and registered by hand (registration: Manual)."""
    data = stack_data("prod")
    data["hub"]["supernodeAuth"] = {"enabled": True, "registration": "Manual"}
    return data


VARIANTS = {
    "dev": lambda: stack_data("dev"),
    "prod": lambda: stack_data("prod"),
    "manual": manual_data,
    "manual-keys": manual_keys_data,
    "subprocess-gpu": subprocess_gpu_data,
}


def spec_of(variant: str) -> FederationSpec:
    return parse_spec(VARIANTS[variant]())


def objects(spec: FederationSpec) -> list[dict[str, Any]]:
    return ocm.all_objects(spec, ca_certificate=CA, superlink_address=ADDRESS)


def of_kind(objs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objs if o["kind"] == kind]


def by_name(objs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in of_kind(objs, kind)}


def template_of(objs: list[dict[str, Any]], spec: FederationSpec, pool_name: str) -> dict[str, Any]:
    return by_name(objs, "AddOnTemplate")[ocm.template_name(spec, spec.pool(pool_name))]


def manifests(template: dict[str, Any]) -> list[dict[str, Any]]:
    return template["spec"]["agentSpec"]["workload"]["manifests"]


def find(items: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    (found,) = [m for m in items if m["kind"] == kind]
    return found


def effective_adc(spec: FederationSpec, objs: list[dict[str, Any]], pool_name: str, cluster: str) -> dict[str, Any]:
    """The ADC OCM applies to `cluster` of the pool: per-cluster (Manual) or the pool's placement config."""
    adcs = by_name(objs, "AddOnDeploymentConfig")
    if spec.distribution.ocm.install_strategy == "Manual":
        mca = next(m for m in of_kind(objs, "ManagedClusterAddOn") if m["metadata"]["namespace"] == cluster)
        ref = next(c for c in mca["spec"]["configs"] if c["resource"] == "addondeploymentconfigs")
    else:
        cma = of_kind(objs, "ClusterManagementAddOn")[0]
        entry = next(p for p in cma["spec"]["installStrategy"]["placements"]
                     if p["name"] == ocm.placement_name(spec, spec.pool(pool_name)))
        ref = next(c for c in entry["configs"] if c["resource"] == "addondeploymentconfigs")
    return adcs[ref["name"]]


def render_on_cluster(spec: FederationSpec, objs: list[dict[str, Any]], pool_name: str, cluster: str) -> list[dict[str, Any]]:
    """What the addon agent would apply on `cluster`: variables substituted, Deployments decorated by the ADC."""
    adc = effective_adc(spec, objs, pool_name, cluster)
    variables = {**ocm.adc_variables(adc), "CLUSTER_NAME": cluster}
    out = []
    for m in manifests(template_of(objs, spec, pool_name)):
        m = templating.substitute(m, variables)
        if m["kind"] == "Deployment":
            decorate(m, adc, cluster)
        out.append(m)
    return out


def decorate(deployment: dict[str, Any], adc: dict[str, Any], cluster: str) -> None:
    """OCM's decoration of an addon Deployment (addon-framework v1.2.0 `templateagent/decorator.go`,
    `addonfactory/addondeploymentconfig.go`): a non-nil nodeSelector replaces the pod's nodeSelector AND
    tolerations (ADC tolerations alone are ignored); resources replace by containerID; the built-in
    variables are appended as env to every container (not init containers); ADC registries rewrite
    `containers[]` images by literal prefix."""
    pod = deployment["spec"]["template"]["spec"]
    placement = adc["spec"].get("nodePlacement") or {}
    if placement.get("nodeSelector") is not None:
        pod["nodeSelector"] = placement["nodeSelector"]
        pod["tolerations"] = placement.get("tolerations", [])
    for req in adc["spec"].get("resourceRequirements", []):
        kind, name, container = req["containerID"].split(":")
        if kind in ("deployments", "*") and name in (deployment["metadata"]["name"], "*"):
            for c in pod["containers"]:
                if container in (c["name"], "*"):
                    c["resources"] = req["resources"]
    builtins = {"CLUSTER_NAME": cluster}
    if adc["spec"].get("agentInstallNamespace", "open-cluster-management-agent-addon"):
        builtins["INSTALL_NAMESPACE"] = adc["spec"]["agentInstallNamespace"]
    for c in pod["containers"]:
        c["env"] = [*c.get("env", []), *({"name": k, "value": v} for k, v in builtins.items())]
        for reg in adc["spec"].get("registries", []):
            source, mirror = reg.get("source", "").rstrip("/"), reg["mirror"].rstrip("/")
            if source and c["image"].startswith(source):
                c["image"] = mirror + c["image"][len(source):]


def clusters_for(spec: FederationSpec, pool_name: str) -> list[str]:
    return sorted(spec.pool(pool_name).selection.clusters) or ["cluster-a", "spoke-2.example"]


# --- schemas -------------------------------------------------------------------------------------


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_every_ocm_object_matches_its_crd(variant: str) -> None:
    objs = objects(spec_of(variant))
    assert objs
    for obj in objs:  # the OCM CRs, and the registrar's core objects (registration: Automatic)
        (validate_ocm if "open-cluster-management.io" in obj["apiVersion"] else validate_kubernetes)(obj)


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_embedded_objects_match_kubernetes(variant: str) -> None:
    spec = spec_of(variant)
    objs = objects(spec)
    for template in of_kind(objs, "AddOnTemplate"):
        for m in manifests(template):
            validate_kubernetes(m)  # with {{TOKENS}} still in place
    for pool in spec.pools:
        for cluster in clusters_for(spec, pool.name):
            for m in render_on_cluster(spec, objs, pool.name, cluster):
                validate_kubernetes(m)
    for mwrs in of_kind(objs, "ManifestWorkReplicaSet"):
        for m in mwrs["spec"]["manifestWorkTemplate"]["workload"]["manifests"]:
            validate_kubernetes(m)


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_pods_meet_restricted_pod_security(variant: str) -> None:
    spec = spec_of(variant)
    objs = objects(spec)
    workloads = [m for t in of_kind(objs, "AddOnTemplate") for m in manifests(t)]
    workloads += [m for w in of_kind(objs, "ManifestWorkReplicaSet")
                  for m in w["spec"]["manifestWorkTemplate"]["workload"]["manifests"]]
    deployments = [w for w in workloads if w["kind"] == "Deployment"]
    assert deployments
    for d in deployments:
        assert pss.check_object(d) == []
        pod = d["spec"]["template"]["spec"]
        assert pod["shareProcessNamespace"] is True
        assert pod["automountServiceAccountToken"] is False
        (ctr,) = pod["containers"]
        writable = {m["mountPath"] for m in ctr["volumeMounts"]}
        assert set(flower.CONTAINER.writable_paths()) <= writable
        assert "limits" in ctr["resources"] and "requests" in ctr["resources"]


def test_output_is_deterministic() -> None:
    a = json.dumps(objects(spec_of("prod")), sort_keys=False)
    b = json.dumps(objects(spec_of("prod")), sort_keys=False)
    assert a == b


# --- the runtime contract inside the templates --------------------------------------------------------


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_supernode_argv_after_substitution_is_the_contract(variant: str) -> None:
    spec = spec_of(variant)
    objs = objects(spec)
    for pool in spec.pools:
        for cluster in clusters_for(spec, pool.name):
            deployment = find(render_on_cluster(spec, objs, pool.name, cluster), "Deployment")
            (ctr,) = deployment["spec"]["template"]["spec"]["containers"]
            want = ocm.expected_supernode(spec, pool, superlink_address=ADDRESS, cluster_name=cluster)
            assert [*ctr["command"], *ctr["args"]] == list(want.argv)
            # the contract's env, plus the CLUSTER_NAME OCM appends to every addon container
            assert {e["name"]: e["value"] for e in ctr["env"]} == {**dict(want.env), "CLUSTER_NAME": cluster}
            assert ctr["image"] == (pool.image or spec.flower.images.supernode)
            probe = ctr["readinessProbe"]["httpGet"]
            assert probe == {"path": "/health", "port": flower.SUPERNODE_RUNTIME_PORT, "scheme": "HTTP"}
            assert f'cluster-name="{cluster}"' in " ".join(ctr["args"])


def test_manual_mode_partitions_are_integers_by_sorted_cluster() -> None:
    spec = spec_of("manual")
    objs = objects(spec)
    seen = {}
    for pool in spec.pools:
        for cluster in sorted(pool.selection.clusters):
            deployment = find(render_on_cluster(spec, objs, pool.name, cluster), "Deployment")
            args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
            node_config = args[args.index("--node-config") + 1]
            seen[cluster] = tomllib.loads("\n".join(node_config.split(" ")))  # no spaces inside these values
    assert seen["edge-a"] == {"cluster-name": "edge-a", "partition-id": 0, "num-partitions": 3}
    assert seen["edge-b"] == {"cluster-name": "edge-b", "partition-id": 1, "num-partitions": 3}
    assert seen["gpu-1"] == {"cluster-name": "gpu-1", "partition-id": 2, "num-partitions": 3, "batch-size": 64}


def test_every_template_token_is_defined_by_each_applicable_adc() -> None:
    for variant in VARIANTS:
        spec = spec_of(variant)
        for pool in spec.pools:
            template = ocm.addon_template(spec, pool, CA)
            used = templating.template_variables(template)
            assert "CLUSTER_NAME" in used and ocm.VAR_SUPERLINK_ADDRESS in used
            for adc in ocm.applicable_configs(spec, pool, ADDRESS):
                assert used - templating.BUILTIN_VARIABLES <= set(ocm.adc_variables(adc)), (variant, pool.name)
                assert all(isinstance(v, str) and len(v) <= 1024 for v in ocm.adc_variables(adc).values())


def test_user_variables_land_in_every_adc() -> None:
    data = stack_data("dev")
    data["distribution"] = {"ocm": {"variables": {"DATA_PATH": "/data/mnist"}}}
    data["pools"][0]["nodeConfig"]["data-path"] = "{{DATA_PATH}}"
    spec = parse_spec(data)
    objs = objects(spec)
    for adc in of_kind(objs, "AddOnDeploymentConfig"):
        assert ocm.adc_variables(adc)["DATA_PATH"] == "/data/mnist"
    deployment = find(render_on_cluster(spec, objs, "cpu", "c1"), "Deployment")
    assert 'data-path="/data/mnist"' in " ".join(deployment["spec"]["template"]["spec"]["containers"][0]["args"])


def test_superlink_address_from_exposure() -> None:
    assert ocm.superlink_address(spec_of("dev")) == "superlink.dev.flower.example.com:30800"
    assert ocm.superlink_address(spec_of("prod")) == "superlink.flower.example.com:443"
    data = stack_data("dev")
    data["hub"]["exposure"] = {"type": "ClusterIP", "externalIPs": ["2001:db8::1"]}
    assert ocm.superlink_address(parse_spec(data)) == "[2001:db8::1]:8000"


# --- secrets -------------------------------------------------------------------------------------


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_no_private_key_material_in_templates_or_works(variant: str) -> None:
    spec = spec_of(variant)
    text = json.dumps(objects(spec))
    assert "PRIVATE KEY" not in text
    for template in of_kind(objects(spec), "AddOnTemplate"):
        # at most the empty placeholder of a key generated on the spoke (registration: Automatic)
        assert not [m for m in manifests(template) if m["kind"] == "Secret" and (m.get("data") or m.get("stringData"))]


def test_builder_refuses_a_private_key_as_ca() -> None:
    spec = spec_of("prod")
    with pytest.raises(ValueError, match="private key"):
        ocm.addon_template(spec, spec.pools[0], "-----BEGIN EC PRIVATE KEY-----\nx\n-----END EC PRIVATE KEY-----\n")
    with pytest.raises(ValueError, match="CA certificate"):
        ocm.addon_template(spec, spec.pools[0], None)


def test_ca_is_public_configmap_and_node_key_is_mounted_from_spoke_secret() -> None:
    spec = spec_of("manual-keys")
    objs = objects(spec)
    for pool in spec.pools:
        items = manifests(template_of(objs, spec, pool.name))
        assert find(items, "ConfigMap")["data"] == {"ca.crt": CA}
        pod = find(items, "Deployment")["spec"]["template"]["spec"]
        secrets = [v["secret"]["secretName"] for v in pod["volumes"] if "secret" in v]
        assert secrets == [ocm.node_auth_secret_name(spec)]
        mounts = {m["mountPath"] for m in pod["containers"][0]["volumeMounts"]}
        assert {flower.CONTAINER.tls_dir, flower.CONTAINER.auth_dir} <= mounts
    insecure = spec_of("subprocess-gpu")
    items = manifests(ocm.addon_template(insecure, insecure.pools[0], None))
    assert "ConfigMap" not in {m["kind"] for m in items}
    assert not [v for v in find(items, "Deployment")["spec"]["template"]["spec"]["volumes"] if "secret" in v]


# --- GPU ------------------------------------------------------------------------------------------


def test_gpu_placement_selects_gpu_clusters() -> None:
    spec = spec_of("prod")
    placement = ocm.placement(spec, spec.pool("gpu"))
    body = placement["spec"]
    (pred,) = body["predicates"]
    req = pred["requiredClusterSelector"]
    assert req["labelSelector"] == {"matchLabels": {"accelerator": "nvidia"}}
    assert req["claimSelector"] == {"matchExpressions": [{"key": "gpu-count.flower.example.com", "operator": "Exists"}]}
    assert "gpuClusterAvailable" in req["celSelector"]["celExpressions"][0]
    assert body["prioritizerPolicy"] == {"mode": "Additive", "configurations": [
        {"scoreCoordinate": {"type": "AddOn", "addOn": {"resourceName": "resource-usage-score",
                                                        "scoreName": "gpuClusterAvailable"}}, "weight": 5}]}
    assert body["tolerations"] == [
        {"key": "gpu", "operator": "Equal", "value": "true", "effect": "NoSelect"},
        # an unreachable/unavailable cluster keeps its SuperNode for 5 minutes (OCM's NoSelect taints)
        {"key": "cluster.open-cluster-management.io/unreachable", "operator": "Exists", "tolerationSeconds": 300},
        {"key": "cluster.open-cluster-management.io/unavailable", "operator": "Exists", "tolerationSeconds": 300},
    ]
    assert body["numberOfClusters"] == 4
    cpu = ocm.placement(spec, spec.pool("cpu"))["spec"]
    assert cpu["prioritizerPolicy"]["configurations"][0]["scoreCoordinate"] == {
        "type": "BuiltIn", "builtIn": "ResourceAllocatableCPU"}
    assert cpu["decisionStrategy"]["groupStrategy"]["clustersPerDecisionGroup"] == "25%"
    assert cpu["predicates"][0]["requiredClusterSelector"]["labelSelector"]["matchExpressions"][0]["operator"] == "NotIn"


def _gpu_pod_ok(pod: dict[str, Any], gpu: Any) -> None:
    (ctr,) = pod["containers"]
    assert ctr["resources"]["limits"][gpu.resource_name] == str(gpu.count)
    assert pod["nodeSelector"] == dict(gpu.node_selector)
    assert pod["tolerations"] == [t.model_dump(by_alias=True, exclude_none=True) for t in gpu.tolerations]


def _no_gpu(pod: dict[str, Any]) -> None:
    for c in pod["containers"]:
        for section in c["resources"].values():
            assert not any("gpu" in k for k in section)
    assert "nodeSelector" not in pod


def test_subprocess_gpu_pool_supernode_requests_gpu_after_adc_decoration() -> None:
    spec = spec_of("subprocess-gpu")
    objs = objects(spec)
    gpu = spec.pool("gpu").gpu
    assert gpu is not None
    adc = by_name(objs, "AddOnDeploymentConfig")[ocm.config_name(spec, spec.pool("gpu"))]
    assert adc["spec"]["nodePlacement"]["nodeSelector"] == dict(gpu.node_selector)
    rendered = render_on_cluster(spec, objs, "gpu", "gpu-cluster")
    _gpu_pod_ok(find(rendered, "Deployment")["spec"]["template"]["spec"], gpu)
    assert "Service" not in {m["kind"] for m in rendered}  # nothing dials a subprocess SuperNode
    policy = find(rendered, "NetworkPolicy")
    assert policy["spec"]["ingress"] == []
    # the CPU pool of the same federation requests none
    _no_gpu(find(render_on_cluster(spec, objs, "cpu", "cpu-cluster"), "Deployment")["spec"]["template"]["spec"])


def test_process_gpu_pool_gives_the_gpu_to_the_clientapp_pod() -> None:
    spec = spec_of("prod")
    objs = objects(spec)
    gpu = spec.pool("gpu").gpu
    assert gpu is not None
    rendered = render_on_cluster(spec, objs, "gpu", "gpu-cluster")
    _no_gpu(find(rendered, "Deployment")["spec"]["template"]["spec"])
    adc = by_name(objs, "AddOnDeploymentConfig")[ocm.config_name(spec, spec.pool("gpu"))]
    assert "nodePlacement" not in adc["spec"]
    mwrs = by_name(objs, "ManifestWorkReplicaSet")[f"{spec.name}-trainer-gpu"]
    (deployment,) = mwrs["spec"]["manifestWorkTemplate"]["workload"]["manifests"]
    _gpu_pod_ok(deployment["spec"]["template"]["spec"], gpu)
    cpu_mwrs = by_name(objs, "ManifestWorkReplicaSet")[f"{spec.name}-trainer-cpu"]
    _no_gpu(cpu_mwrs["spec"]["manifestWorkTemplate"]["workload"]["manifests"][0]["spec"]["template"]["spec"])


def test_process_isolation_service_and_network_policy() -> None:
    spec = spec_of("prod")
    objs = objects(spec)
    rendered = render_on_cluster(spec, objs, "cpu", "c1")
    service = find(rendered, "Service")
    assert service["metadata"]["name"] == ocm.supernode_name(spec)
    assert service["spec"]["ports"][0]["port"] == flower.SUPERNODE_RUNTIME_PORT
    deployment = find(rendered, "Deployment")
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert all(pod_labels[k] == v for k, v in service["spec"]["selector"].items())
    policy = find(rendered, "NetworkPolicy")
    (rule,) = policy["spec"]["ingress"]
    mwrs = by_name(objs, "ManifestWorkReplicaSet")[f"{spec.name}-trainer-cpu"]
    (clientapp,) = mwrs["spec"]["manifestWorkTemplate"]["workload"]["manifests"]
    app_labels = clientapp["spec"]["template"]["metadata"]["labels"]
    assert all(app_labels[k] == v for k, v in rule["from"][0]["podSelector"]["matchLabels"].items())
    assert not all(pod_labels.get(k) == v for k, v in rule["from"][0]["podSelector"]["matchLabels"].items())
    assert clientapp["metadata"]["namespace"] == service["metadata"]["namespace"] == spec.distribution.ocm.agent_namespace
    want = flower.clientapp_superexec(flower.CONTAINER, supernode_host=service["metadata"]["name"])
    ctr = clientapp["spec"]["template"]["spec"]["containers"][0]
    assert [*ctr["command"], *ctr["args"]] == list(want.argv)


# --- OCM invariants (ocm-api.md §10) -----------------------------------------------------------------


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_ocm_invariants(variant: str) -> None:
    spec = spec_of(variant)
    objs = objects(spec)
    ns = spec.ocm_namespace
    bindings = of_kind(objs, "ManagedClusterSetBinding")
    bound = {(b["metadata"]["namespace"], b["metadata"]["name"]) for b in bindings}
    assert len(bound) == len(bindings)  # deduplicated
    for b in bindings:
        assert b["metadata"]["name"] == b["spec"]["clusterSet"]
        assert b["metadata"]["namespace"] not in {c for p in spec.pools for c in p.selection.clusters}
    placements = by_name(objs, "Placement")
    for p in placements.values():
        for s in p["spec"]["clusterSets"]:
            assert (p["metadata"]["namespace"], s) in bound
        assert len(p["metadata"]["name"]) <= 63
    for mwrs in of_kind(objs, "ManifestWorkReplicaSet"):
        assert mwrs["spec"]["cascadeDeletionPolicy"] == "Background"
        assert mwrs["spec"]["placementRefs"]
        for ref in mwrs["spec"]["placementRefs"]:
            assert placements[ref["name"]]["metadata"]["namespace"] == mwrs["metadata"]["namespace"]
            if ref["rolloutStrategy"]["type"] != "All":
                rules = [r for c in mwrs["spec"]["manifestWorkTemplate"]["manifestConfigs"]
                         for r in c["conditionRules"]]
                assert any(r["condition"] == "Progressing" and r["type"] == "CEL" and r["celExpressions"] for r in rules)
    (cma,) = of_kind(objs, "ClusterManagementAddOn")
    assert cma["metadata"]["name"] == spec.distribution.ocm.addon_name
    supported = {c["resource"]: c for c in cma["spec"]["supportedConfigs"]}
    assert "namespace" not in supported["addontemplates"]["defaultConfig"]
    templates = by_name(objs, "AddOnTemplate")
    adcs = {(a["metadata"]["namespace"], a["metadata"]["name"]): a for a in of_kind(objs, "AddOnDeploymentConfig")}
    refs = [supported["addontemplates"]["defaultConfig"] | {"resource": "addontemplates"}]
    if "defaultConfig" in supported["addondeploymentconfigs"]:
        refs.append(supported["addondeploymentconfigs"]["defaultConfig"] | {"resource": "addondeploymentconfigs"})
    for entry in cma["spec"]["installStrategy"].get("placements", []):
        assert entry["namespace"] == ns and entry["name"] in placements
        assert entry["rolloutStrategy"]["type"] in ("All", "Progressive", "ProgressivePerGroup")
        refs += entry["configs"]
    for mca in of_kind(objs, "ManagedClusterAddOn"):
        assert mca["metadata"]["name"] == cma["metadata"]["name"]
        refs += mca["spec"]["configs"]
    for ref in refs:
        if ref["resource"] == "addontemplates":
            assert templates[ref["name"]]["spec"]["addonName"] == cma["metadata"]["name"]
        else:
            assert (ref["namespace"], ref["name"]) in adcs
    for adc in adcs.values():
        assert adc["spec"]["agentInstallNamespace"] == ""
        placement = adc["spec"].get("nodePlacement", {})
        if placement.get("tolerations"):
            assert placement.get("nodeSelector")
    for obj in [o for o in objs if "open-cluster-management.io" in o["apiVersion"]]:
        annotations = obj["metadata"]["annotations"]
        if obj["kind"] in ("Placement", "ManifestWorkReplicaSet"):
            assert annotations["pulumi.com/waitFor"] and int(annotations["pulumi.com/timeoutSeconds"]) > 0
        elif obj["kind"] == "ManagedClusterSetBinding":  # Bound: its cluster set exists
            assert annotations == ocm.BINDING_AWAIT
        elif obj["kind"] == "ClusterManagementAddOn":
            # background deletion: OCM's addon manager re-creates MCAs while a foreground delete waits for them
            assert annotations == {"pulumi.com/skipAwait": "true", "pulumi.com/deletionPropagationPolicy": "background"}
        else:
            assert annotations == {"pulumi.com/skipAwait": "true"}


def test_cma_placements_follow_pool_order_with_their_configs() -> None:
    spec = spec_of("prod")
    cma = ocm.cluster_management_addon(spec)
    entries = cma["spec"]["installStrategy"]["placements"]
    assert [e["name"] for e in entries] == [ocm.placement_name(spec, p) for p in spec.pools]
    assert entries[1]["rolloutStrategy"] == {"type": "Progressive", "progressive": {
        "maxConcurrency": 1, "minSuccessTime": "2m", "progressDeadline": "15m"}}
    assert entries[0]["rolloutStrategy"]["progressivePerGroup"]["mandatoryDecisionGroups"] == [{"groupName": "canary"}]
    assert entries[0]["rolloutStrategy"]["progressivePerGroup"]["maxFailures"] == "10%"
    defaults = {c["resource"]: c["defaultConfig"] for c in cma["spec"]["supportedConfigs"]}
    assert defaults["addontemplates"] == {"name": ocm.template_name(spec, spec.pools[0])}
    assert defaults["addondeploymentconfigs"] == {"name": ocm.config_name(spec, spec.pools[0]),
                                                  "namespace": spec.ocm_namespace}


def test_manual_mode_uses_managed_cluster_addons() -> None:
    spec = spec_of("manual")
    objs = objects(spec)
    (cma,) = of_kind(objs, "ClusterManagementAddOn")
    assert cma["spec"]["installStrategy"] == {"type": "Manual"}
    mcas = of_kind(objs, "ManagedClusterAddOn")
    assert sorted(m["metadata"]["namespace"] for m in mcas) == ["edge-a", "edge-b", "gpu-1"]
    gpu_mca = next(m for m in mcas if m["metadata"]["namespace"] == "gpu-1")
    assert {c["name"] for c in gpu_mca["spec"]["configs"]} == {
        ocm.template_name(spec, spec.pool("gpu")), ocm.cluster_config_name(spec, "gpu-1")}
    # the Placements (for the ClientApp MWRS) select exactly the listed clusters
    cel = ocm.placement(spec, spec.pool("cpu"))["spec"]["predicates"][0]["requiredClusterSelector"]["celSelector"]
    assert 'managedCluster.metadata.name in ["edge-a", "edge-b"]' in cel["celExpressions"]


def test_adc_resources_and_no_registries() -> None:
    spec = spec_of("prod")
    adc = ocm.deployment_config(spec, spec.pool("cpu"), ADDRESS)
    # the builders apply registryMirrors themselves (OCM's ADC registries miss init containers and MWRS)
    assert "registries" not in adc["spec"]
    (req,) = adc["spec"]["resourceRequirements"]
    assert req["containerID"] == f"deployments:{ocm.supernode_name(spec)}:{ocm.SUPERNODE_CONTAINER}"
    assert req["resources"] == {"requests": {"cpu": "250m", "memory": "512Mi"}, "limits": {"cpu": "1", "memory": "1Gi"}}


# --- validation ----------------------------------------------------------------------------------


def problems_of(data: dict[str, Any]) -> list[str]:
    with pytest.raises(SpecError) as exc:
        parse_spec(data)
    return [str(p) for p in exc.value.problems]


def test_validate_reports_an_undefined_template_variable() -> None:
    data = stack_data("dev")
    data["pools"][0]["nodeConfig"]["data-path"] = "{{DATA_PATH}}"
    assert problems_of(data) == [
        "federation.pools[0]: template uses {{DATA_PATH}} which OCM does not define for it and no AddOnDeploymentConfig "
        "sets (it would render as an empty string)"]
    data["distribution"] = {"ocm": {"variables": {"DATA_PATH": "/data"}}}
    parse_spec(data)


def test_an_oversized_node_config_is_named() -> None:
    data = stack_data("dev")
    spec = parse_spec(data)
    base = templating.compact_size(ocm.addon_template(spec, spec.pools[0], CA))
    data["pools"][0]["nodeConfig"]["blob"] = "x" * 2048
    data["distribution"] = {"ocm": {"maxManifestBytes": base + 512}}
    found = problems_of(data)
    assert len(found) == 1 and found[0].startswith("federation.pools[0].nodeConfig: AddOnTemplate "), found
    assert "its nodeConfig takes" in found[0]


def test_validate_reports_oversized_payloads() -> None:
    data = stack_data("prod")
    data["distribution"] = {"ocm": {"maxManifestBytes": 1024}}
    found = problems_of(data)
    paths = sorted({p.split(":")[0] for p in found})
    assert paths == ["federation.distribution.ocm.maxManifestBytes"]  # nothing else would fit: the limit is the field
    prod = spec_of("prod")
    assert any(f"AddOnTemplate '{ocm.template_name(prod, prod.pool('cpu'))}' of pool 'cpu' is " in p and "maxManifestBytes (1024)" in p for p in found)
    assert any("ManifestWorkReplicaSet 'flower-prod-trainer-gpu' of ClientApp 'trainer-gpu' is " in p for p in found)


def test_default_limit_leaves_room() -> None:
    spec = spec_of("prod")
    for obj in objects(spec):
        assert templating.compact_size(obj) < spec.distribution.ocm.max_manifest_bytes / 10


def test_shipped_stacks_yaml_is_untouched_by_builders() -> None:
    before = yaml.safe_load(stack_file("prod", REPO / "stacks").read_text())
    objects(spec_of("prod"))
    assert yaml.safe_load(stack_file("prod", REPO / "stacks").read_text()) == before


# --- the spoke's SuperExec secret (issue #14) --------------------------------------------------------


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_process_pools_provision_the_superexec_secret_on_the_spoke(variant: str) -> None:
    from federation.manifests import common
    from federation.manifests.ocm import addon

    spec = spec_of(variant)
    objs = objects(spec)
    ns = spec.distribution.ocm.agent_namespace
    for pool in spec.pools:
        items = manifests(template_of(objs, spec, pool.name))
        kinds = [m["kind"] for m in items]
        # the secret is made on the spoke, never carried in plain text from the hub
        assert ocm.spoke_superexec_secret_name(spec) not in {m["metadata"]["name"] for m in items}
        items = [m for m in items if m["metadata"]["name"] != ocm.node_key_writer_name(spec)]  # Automatic's key Role
        kinds = [m["kind"] for m in items]
        dep = find(items, "Deployment")
        pod = dep["spec"]["template"]["spec"]
        (ctr,) = pod["containers"]
        args = ctr["command"] + ctr["args"]
        if pool.isolation != "process":
            assert "initContainers" not in pod and "Role" not in kinds and "RoleBinding" not in kinds
            assert "--superexec-auth-secret-file" not in args
            continue
        role, binding = find(items, "Role"), find(items, "RoleBinding")
        assert role["metadata"] == binding["metadata"] | {"name": ocm.secret_writer_name(spec)}
        assert role["metadata"]["namespace"] == ns
        # Least privilege: create Secrets (RBAC cannot name a Secret that does not exist yet), get only that one.
        assert role["rules"] == [
            {"apiGroups": [""], "resources": ["secrets"], "verbs": ["create"]},
            {"apiGroups": [""], "resources": ["secrets"], "resourceNames": [ocm.spoke_superexec_secret_name(spec)], "verbs": ["get"]},
        ]
        assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": ocm.secret_writer_name(spec)}
        assert binding["subjects"] == [{"kind": "ServiceAccount", "name": pod["serviceAccountName"], "namespace": ns}]
        assert kinds.index("Role") < kinds.index("RoleBinding") < kinds.index("Deployment")
        # The SuperNode reads the secret from a memory emptyDir filled by the init container.
        assert args[args.index("--superexec-auth-secret-file") + 1] == flower.CONTAINER.superexec_secret
        (init,) = [c for c in pod["initContainers"] if c["name"] == addon.SECRET_INIT_CONTAINER]
        assert init["image"] == ctr["image"]
        assert init["args"][-4:] == [addon.SECRET_INIT_API_DIR, ocm.spoke_superexec_secret_name(spec),
                                     flower.CONTAINER.superexec_secret, spec.name]
        assert init["securityContext"] == common.container_security_context()
        vols = {v["name"]: v for v in pod["volumes"]}
        assert vols["superexec-secret"]["emptyDir"]["medium"] == "Memory"
        assert {"name": "superexec-secret", "mountPath": flower.CONTAINER.secret_dir, "readOnly": True} in ctr["volumeMounts"]
        assert {"name": "superexec-secret", "mountPath": flower.CONTAINER.secret_dir} in init["volumeMounts"]
        # Only the init container gets an API token, a short-lived projected one; the pod automounts none.
        token_vols = [n for n, v in vols.items() if any("serviceAccountToken" in s for s in v.get("projected", {}).get("sources", []))]
        assert token_vols == ["spoke-api"]
        assert pod["automountServiceAccountToken"] is False
        assert not [m for m in ctr["volumeMounts"] if m["name"] in token_vols]
        sources = vols["spoke-api"]["projected"]["sources"]
        assert sources[0]["serviceAccountToken"]["expirationSeconds"] == addon.SECRET_INIT_TOKEN_SECONDS
        # No OCM template tokens in the script (OCM would substitute them).
        assert templating.template_variables(init) == set()


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_clientapp_superexec_mounts_the_spoke_secret_and_has_grpc_liveness(variant: str) -> None:
    from federation.manifests import common

    spec = spec_of(variant)
    for mwrs in of_kind(objects(spec), "ManifestWorkReplicaSet"):
        (dep,) = mwrs["spec"]["manifestWorkTemplate"]["workload"]["manifests"]
        pod = dep["spec"]["template"]["spec"]
        (ctr,) = pod["containers"]
        args = ctr["command"] + ctr["args"]
        assert args[args.index("--superexec-auth-secret-file") + 1] == flower.CONTAINER.superexec_secret
        (vol,) = [v for v in pod["volumes"] if v["name"] == "superexec-secret"]
        assert vol["secret"]["secretName"] == ocm.spoke_superexec_secret_name(spec)
        assert vol["secret"]["items"] == [{"key": common.SPOKE_SUPEREXEC_SECRET_KEY, "path": "secret"}]
        assert {"name": "superexec-secret", "mountPath": flower.CONTAINER.secret_dir, "readOnly": True} in ctr["volumeMounts"]
        assert args[args.index("--health-server-address") + 1] == f"0.0.0.0:{flower.GRPC_HEALTH_PORT}"
        assert ctr["livenessProbe"]["grpc"] == ctr["startupProbe"]["grpc"] == {"port": flower.GRPC_HEALTH_PORT}
        assert "readinessProbe" not in ctr


# --- OCM fidelity (what OCM's controllers do with these objects) ----------------------------------------


def test_rendered_supernode_keeps_its_env_and_scheduling_after_ocm_decoration() -> None:
    """OCM appends CLUSTER_NAME (and, with an agentInstallNamespace, INSTALL_NAMESPACE) to every container
    and lets a non-nil ADC nodeSelector wipe the template's tolerations: the rendered SuperNode must not
    define those env names itself, and the GPU tolerations must survive in the ADC."""
    for variant in ("prod", "manual", "subprocess-gpu"):
        spec = spec_of(variant)
        objs = objects(spec)
        for pool in spec.pools:
            cluster = sorted(pool.selection.clusters)[0] if pool.selection.clusters else "c1"
            deployment = find(render_on_cluster(spec, objs, pool.name, cluster), "Deployment")
            pod = deployment["spec"]["template"]["spec"]
            (node,) = [c for c in pod["containers"] if c["name"] == ocm.SUPERNODE_CONTAINER]
            names = [e["name"] for e in node.get("env", [])]
            assert names.count("CLUSTER_NAME") == 1 and "INSTALL_NAMESPACE" not in names, (variant, pool.name)
            gpu = ocm.supernode_gpu(pool)
            if gpu is not None and gpu.tolerations:
                assert pod["tolerations"] == [t for t in pod["tolerations"] if t] and pod["tolerations"], (variant, pool.name)


def test_registry_mirrors_rewrite_every_spoke_image_like_a_runtime_resolves_it() -> None:
    spec = spec_of("prod")  # source docker.io/flwr -> registry.example.com/flwr
    assert ocm.spoke_image(spec, "flwr/supernode:1.42.0") == "registry.example.com/flwr/supernode:1.42.0"
    assert ocm.spoke_image(spec, "docker.io/flwr/superexec:1.42.0") == "registry.example.com/flwr/superexec:1.42.0"
    assert ocm.spoke_image(spec, "flwrx/other:1") == "flwrx/other:1"  # a path boundary, not a string prefix
    assert ocm.spoke_image(spec, "quay.io/flwr/supernode:1") == "quay.io/flwr/supernode:1"
    every = parse_spec({**stack_data("dev"), "flower": {"registryMirrors": [{"mirror": "mirror.local:5000"}]}})
    assert ocm.spoke_image(every, "nginx:1.28") == "mirror.local:5000/library/nginx:1.28"
    assert ocm.spoke_image(every, "ghcr.io/a/b@sha256:" + "0" * 64) == "mirror.local:5000/a/b@sha256:" + "0" * 64
    objs = objects(spec)
    spoke_images = []
    for pool in spec.pools:
        for m in manifests(template_of(objs, spec, pool.name)):
            if m["kind"] == "Deployment":
                pod = m["spec"]["template"]["spec"]
                spoke_images += [c["image"] for c in pod["containers"] + pod.get("initContainers", [])]
    for mwrs in of_kind(objs, "ManifestWorkReplicaSet"):
        for m in mwrs["spec"]["manifestWorkTemplate"]["workload"]["manifests"]:
            spoke_images += [c["image"] for c in m["spec"]["template"]["spec"]["containers"]]
    assert len(spoke_images) >= 5
    for image in spoke_images:  # init containers and ClientApps too, which OCM's ADC registries never touch
        assert not image.startswith(("flwr/", "docker.io/flwr/")), image
    assert all("registries" not in adc["spec"] for adc in of_kind(objs, "AddOnDeploymentConfig"))


def test_spoke_namespace_survives_deselection_and_gets_the_klusterlet_pull_credentials() -> None:
    spec = spec_of("prod")
    objs = objects(spec)
    for pool in spec.pools:
        items = manifests(template_of(objs, spec, pool.name))
        ns = find(items, "Namespace")
        assert ns["metadata"]["annotations"] == ocm.DELETION_ORPHAN  # only the Namespace is orphaned
        assert all("annotations" not in m["metadata"] or not set(m["metadata"]["annotations"]) & set(ocm.DELETION_ORPHAN)
                   for m in items if m["kind"] != "Namespace")
        assert ns["metadata"]["labels"]["addon.open-cluster-management.io/namespace"] == "true"
        pod = find(items, "Deployment")["spec"]["template"]["spec"]
        assert pod["imagePullSecrets"] == [{"name": ocm.KLUSTERLET_PULL_SECRET}]
        assert "agentSpec" in template_of(objs, spec, pool.name)["spec"]
        assert "deleteOption" not in template_of(objs, spec, pool.name)["spec"]["agentSpec"]  # OCM ignores it
    for mwrs in of_kind(objs, "ManifestWorkReplicaSet"):
        (dep,) = mwrs["spec"]["manifestWorkTemplate"]["workload"]["manifests"]
        assert dep["spec"]["template"]["spec"]["imagePullSecrets"] == [{"name": ocm.KLUSTERLET_PULL_SECRET}]
    data = stack_data("prod")
    data["distribution"] = {"ocm": {"klusterletImagePullCredentials": False}}
    off = parse_spec(data)
    items = manifests(template_of(objects(off), off, "cpu"))
    assert "addon.open-cluster-management.io/namespace" not in find(items, "Namespace")["metadata"]["labels"]
    assert "imagePullSecrets" not in find(items, "Deployment")["spec"]["template"]["spec"]


def test_placements_tolerate_outages_for_a_configurable_time() -> None:
    data = stack_data("dev")
    spec = parse_spec(data)
    tolerations = ocm.placement(spec, spec.pools[0])["spec"]["tolerations"]
    assert [(t["key"], t["tolerationSeconds"]) for t in tolerations] == [(k, 300) for k in ocm.OUTAGE_TAINTS]
    data["pools"][0]["selection"]["unreachableTolerationSeconds"] = None
    spec = parse_spec(data)
    assert "tolerations" not in ocm.placement(spec, spec.pools[0])["spec"]
    data["pools"][0]["selection"]["unreachableTolerationSeconds"] = 60
    data["pools"][0]["selection"]["tolerations"] = [{"key": ocm.OUTAGE_TAINTS[0], "operator": "Exists"}]
    spec = parse_spec(data)
    tolerations = ocm.placement(spec, spec.pools[0])["spec"]["tolerations"]
    assert tolerations == [{"key": ocm.OUTAGE_TAINTS[0], "operator": "Exists"},  # the user's own wins
                           {"key": ocm.OUTAGE_TAINTS[1], "operator": "Exists", "tolerationSeconds": 60}]


def test_a_cluster_changing_pool_updates_the_same_objects_in_place() -> None:
    """Both pools' templates make the same objects with the same (immutable) Deployment selector."""
    spec = spec_of("prod")
    objs = objects(spec)
    cpu, gpu = (manifests(template_of(objs, spec, p)) for p in ("cpu", "gpu"))
    ident = lambda items: {(m["kind"], m["metadata"]["name"]) for m in items if m["kind"] != "Namespace"}  # noqa: E731
    assert ident(cpu) == ident(gpu)
    assert find(cpu, "Deployment")["spec"]["selector"] == find(gpu, "Deployment")["spec"]["selector"]
    assert ocm.POOL_LABEL not in find(cpu, "Deployment")["spec"]["selector"]["matchLabels"]
    assert find(cpu, "Service")["spec"]["selector"] == find(cpu, "Deployment")["spec"]["selector"]["matchLabels"]


def test_two_federations_side_by_side_share_no_object() -> None:
    """Cluster-scoped hub objects, objects in shared hub namespaces and every spoke object differ by name."""
    def keys(name: str) -> set[tuple[str, str | None, str]]:
        data = stack_data("prod")
        data["name"] = name
        for section in ("hub",):
            data[section].pop("namespace", None)
        spec = parse_spec(data)
        out = set()
        for o in objects(spec):
            out.add((o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"]))
            if o["kind"] == "AddOnTemplate":
                ns = spec.distribution.ocm.agent_namespace
                out |= {(m["kind"], m["metadata"].get("namespace", ns), m["metadata"]["name"])
                        for m in manifests(o)}
        return out - {("ManagedClusterSetBinding", None, s) for s in ("default",)}

    a, b = keys("vision"), keys("nlp")
    shared = {k for k in a & b if k[0] != "ManagedClusterSetBinding"}
    assert not shared
    spec = parse_spec({**stack_data("dev"), "name": "vision"} | {"hub": {k: v for k, v in stack_data("dev")["hub"].items()
                                                                         if k != "namespace"}})
    assert (spec.hub.namespace, spec.distribution.ocm.addon_name, spec.distribution.ocm.agent_namespace) == (
        "vision-system", "vision-supernode", "vision-supernode")


def test_only_variables_ocm_really_defines_are_accepted() -> None:
    """OCM defines INSTALL_NAMESPACE only with a non-empty agentInstallNamespace (the ADCs set "") and
    HUB_KUBECONFIG only with a registration; it does not trim `{{ NAME }}` (renders "")."""
    for value, wanted in (("{{INSTALL_NAMESPACE}}", "{{INSTALL_NAMESPACE}} which OCM does not define"),
                          ("{{HUB_KUBECONFIG}}", "{{HUB_KUBECONFIG}} which OCM does not define"),
                          ("{{ CLUSTER_NAME }}", "OCM does not trim the name")):
        data = stack_data("dev")
        data["pools"][0]["nodeConfig"]["where"] = value
        assert any(wanted in p for p in problems_of(data)), value
    data = stack_data("dev")
    data["pools"][0]["nodeConfig"]["where"] = "{{CLUSTER_NAME}}"
    parse_spec(data)
    assert templating.substitute({"a": "{{ X }}-{{X}}"}, {"X": "1"}) == {"a": "-1"}


def test_rollouts_wait_for_real_health() -> None:
    """The addon template and every ClientApp MWRS carry condition rules on their Deployment (All too)."""
    spec = spec_of("prod")
    objs = objects(spec)
    for pool in spec.pools:
        rule, *key_objects = template_of(objs, spec, pool.name)["spec"]["agentSpec"]["manifestConfigs"]
        assert [c["resourceIdentifier"]["resource"] for c in key_objects] == ["secrets", "configmaps"]  # Automatic
        assert rule["resourceIdentifier"] == {"group": "apps", "resource": "deployments",
                                              "namespace": spec.distribution.ocm.agent_namespace, "name": "*"}
        assert [r["condition"] for r in rule["conditionRules"]] == ["Available"]
    for mwrs in of_kind(objs, "ManifestWorkReplicaSet"):
        (cfg,) = mwrs["spec"]["manifestWorkTemplate"]["manifestConfigs"]
        assert [r["condition"] for r in cfg["conditionRules"]] == ["Progressing", "Degraded"]
        (dep,) = mwrs["spec"]["manifestWorkTemplate"]["workload"]["manifests"]
        assert cfg["resourceIdentifier"]["name"] == dep["metadata"]["name"]


def _deployment(replicas: int, *, ready: int, available: int, updated: int, generation: int = 2,
                observed: int = 2, conditions: list[dict[str, str]] | None = None) -> dict[str, Any]:
    status: dict[str, Any] = {"observedGeneration": observed, "replicas": replicas, "readyReplicas": ready,
                              "availableReplicas": available, "updatedReplicas": updated}
    if conditions is not None:
        status["conditions"] = conditions
    return {"metadata": {"generation": generation}, "spec": {"replicas": replicas}, "status": status}


@pytest.mark.parametrize(("deployment", "progressing", "degraded", "available"), [
    (_deployment(1, ready=1, available=1, updated=1), False, False, True),
    (_deployment(1, ready=0, available=0, updated=1), True, False, False),  # crash loop / not ready
    (_deployment(2, ready=2, available=2, updated=1), True, False, False),  # mid-rollout
    (_deployment(1, ready=1, available=1, updated=1, observed=1), True, False, True),  # new spec not yet seen
    (_deployment(1, ready=0, available=0, updated=1, conditions=[
        {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}]), True, True, False),
    ({"metadata": {"generation": 1}, "spec": {"replicas": 1}, "status": {}}, True, False, False),  # fresh
])
def test_health_rules_evaluate_with_a_real_cel_engine(deployment: dict[str, Any], progressing: bool, degraded: bool,
                                                      available: bool) -> None:
    """The rules' CEL, compiled and run by cel-python on Deployments in the states a rollout sees."""
    import celpy

    env = celpy.Environment()

    def run(expr: str) -> bool:
        program = env.program(env.compile(expr))
        return bool(program.evaluate({"object": celpy.json_to_cel(deployment)}))

    assert run(ocm.PROGRESSING_CEL) is progressing
    assert run(ocm.DEGRADED_CEL) is degraded
    assert run(ocm.AVAILABLE_CEL) is available


def test_clientapps_target_only_clusters_whose_supernode_is_available() -> None:
    spec = spec_of("prod")
    objs = objects(spec)
    placements = by_name(objs, "Placement")
    label = ocm.addon_feature_label(spec)
    assert label == f"feature.open-cluster-management.io/addon-{spec.distribution.ocm.addon_name}"
    for app in spec.client_apps:
        mwrs = by_name(objs, "ManifestWorkReplicaSet")[ocm.mwrs_name(spec, app)]
        for ref in mwrs["spec"]["placementRefs"]:
            placement = placements[ref["name"]]
            pool = spec.pool(placement["metadata"]["labels"][ocm.POOL_LABEL])
            own = placements[ocm.placement_name(spec, pool)]["spec"]
            for pred in placement["spec"]["predicates"]:
                assert pred["requiredClusterSelector"]["labelSelector"]["matchLabels"][label] == "available"
            # otherwise the pool's own selection: sets, decision groups (for the rollout), tolerations
            for key in ("clusterSets", "decisionStrategy", "tolerations", "numberOfClusters"):
                assert placement["spec"].get(key) == own.get(key), key
    assert ocm.MWRS_AWAIT["pulumi.com/waitFor"].startswith("jsonpath=")


def test_names_ocm_derives_stay_within_its_limits() -> None:
    data = stack_data("dev")
    data["name"] = "f" * 60  # + "-system" / "-supernode" > 63
    data["hub"].pop("namespace", None)
    found = problems_of(data)
    assert any(p.startswith("federation.name: the default hub.namespace") for p in found), found
    assert any(p.startswith("federation.name: the default distribution.ocm.addonName") for p in found), found
    data = stack_data("dev")
    data["distribution"] = {"ocm": {"addonName": "a" * 58}}
    assert any(p.startswith("federation.distribution.ocm.addonName: the addon feature label name") for p in problems_of(data))
    data = stack_data("prod")
    data["distribution"] = {"ocm": {"namespace": "n" * 40}}
    data["clientApps"][0]["name"] = "c" * 12
    found = [p for p in problems_of(data) if "owner label" in p]
    assert found and found[0].startswith("federation.clientApps[0].name: the ManifestWorkReplicaSet owner label name")


def test_a_new_trust_bundle_rolls_the_supernodes_and_rotation_can_trust_two_cas() -> None:
    """Flower reads the CA at start: the pod template carries the bundle's checksum. For a safe rotation
    `hub.tls.additionalCaCertificates` ships the next CA beside the current one first."""
    from federation import tls

    def deployment_and_ca(data: dict[str, Any], ca: str) -> tuple[dict[str, Any], str]:
        spec = parse_spec(data)
        items = manifests(ocm.addon_template(spec, spec.pools[0], ca))
        return find(items, "Deployment"), find(items, "ConfigMap")["data"]["ca.crt"]

    old, new = (tls.generate_ca(f"ca-{i}", validity_days=30).cert_pem for i in (1, 2))
    data = stack_data("dev")
    dep_old, bundle_old = deployment_and_ca(data, old)
    dep_new, _ = deployment_and_ca(data, new)
    sums = [d["spec"]["template"]["metadata"]["annotations"][ocm.CA_CHECKSUM_ANNOTATION] for d in (dep_old, dep_new)]
    assert sums[0] != sums[1] and all(len(s) == 16 for s in sums)
    assert bundle_old == old
    data["hub"]["tls"] = {"additionalCaCertificates": [new]}
    dep_both, bundle_both = deployment_and_ca(data, old)
    assert bundle_both == old + new  # both trusted: the fleet rolls before the SuperLink switches
    assert dep_both["spec"]["template"]["metadata"]["annotations"][ocm.CA_CHECKSUM_ANNOTATION] not in sums
    data["hub"]["tls"] = {"additionalCaCertificates": ["-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----"]}
    assert any("federation.hub.tls.additionalCaCertificates[0]: holds a private key" in p for p in problems_of(data))


# --- SuperNode keys generated on the spokes (hub.supernodeAuth.registration: Automatic) --------------------


def _automatic(**hub: Any) -> FederationSpec:
    data = stack_data("prod")
    data["hub"]["supernodeAuth"] = {"enabled": True, "registration": "Automatic", **hub}
    return parse_spec(data)


def test_automatic_registration_ships_empty_key_objects_applied_create_only() -> None:
    spec = _automatic()
    ns = spec.distribution.ocm.agent_namespace
    for pool in spec.pools:
        template = template_of(objects(spec), spec, pool.name)
        items = manifests(template)
        kinds = [m["kind"] for m in items]
        secret = [m for m in items if m["kind"] == "Secret"]
        assert secret == [{"apiVersion": "v1", "kind": "Secret", "type": "Opaque", "metadata": {
            "name": ocm.node_auth_secret_name(spec), "namespace": ns, "labels": ocm.supernode_labels(spec, pool)}}]
        public = [m for m in items if m["kind"] == "ConfigMap" and m["metadata"]["name"] == ocm.node_public_key_name(spec)]
        assert len(public) == 1 and "data" not in public[0]  # the SuperNode fills it on its cluster
        roles = {m["metadata"]["name"]: m for m in items if m["kind"] == "Role"}
        # get/update of exactly these two objects: nothing may create, list or delete
        assert roles[ocm.node_key_writer_name(spec)]["rules"] == [
            {"apiGroups": [""], "resources": ["secrets"], "resourceNames": [ocm.node_auth_secret_name(spec)],
             "verbs": ["get", "update"]},
            {"apiGroups": [""], "resources": ["configmaps"], "resourceNames": [ocm.node_public_key_name(spec)],
             "verbs": ["get", "update"]}]
        assert kinds.index("Secret") < kinds.index("Deployment")
        configs = template["spec"]["agentSpec"]["manifestConfigs"]
        by_resource = {c["resourceIdentifier"]["resource"]: c for c in configs}
        assert by_resource["secrets"]["updateStrategy"] == {"type": "CreateOnly"}
        assert by_resource["configmaps"] == {
            "resourceIdentifier": {"group": "", "resource": "configmaps", "name": ocm.node_public_key_name(spec),
                                   "namespace": ns},
            "updateStrategy": {"type": "CreateOnly"},
            "feedbackRules": [{"type": "JSONPaths", "jsonPaths": [{"name": "publicKey", "path": ".data.publicKey"}]}],
            "feedbackScrapeType": "Watch"}
        # The health rule keeps its wildcard entry (the prober's exact entry would drop its conditions).
        assert configs[0] == ocm.supernode_health_rule(spec)


def test_automatic_registration_key_comes_from_the_init_container_not_a_secret_volume() -> None:
    spec = _automatic()
    for pool in spec.pools:
        pod = find(manifests(template_of(objects(spec), spec, pool.name)), "Deployment")["spec"]["template"]["spec"]
        (ctr,) = pod["containers"]
        vols = {v["name"]: v for v in pod["volumes"]}
        assert vols[addon.NODE_KEY_VOLUME] == {"name": addon.NODE_KEY_VOLUME,
                                               "emptyDir": {"medium": "Memory", "sizeLimit": "1Mi"}}
        assert not [v for v in pod["volumes"] if "secret" in v]
        args = ctr["command"] + ctr["args"]
        assert args[args.index("--auth-supernode-private-key") + 1] == flower.CONTAINER.node_private_key
        assert {"name": addon.NODE_KEY_VOLUME, "mountPath": flower.CONTAINER.auth_dir, "readOnly": True} \
            in ctr["volumeMounts"]
        init = {c["name"]: c for c in pod["initContainers"]}[addon.NODE_KEY_INIT_CONTAINER]
        assert init["args"][-6:] == [addon.SECRET_INIT_API_DIR, ocm.node_auth_secret_name(spec), ocm.NODE_AUTH_KEY,
                                     ocm.node_public_key_name(spec), ocm.NODE_PUBLIC_KEY, flower.CONTAINER.node_private_key]
        assert init["securityContext"] == common.container_security_context()
        assert templating.template_variables(init) == set()
        # One projected API volume for every init container; the SuperNode container mounts no token.
        assert [n for n, v in vols.items() if "projected" in v] == [addon.API_VOLUME]
        assert addon.API_VOLUME not in {m["name"] for m in ctr["volumeMounts"]}


def test_manual_registration_is_unchanged_and_automatic_needs_auth() -> None:
    manual = spec_of("manual-keys")
    assert not [c for c in template_of(objects(manual), manual, "cpu")["spec"]["agentSpec"]["manifestConfigs"]
                if c["resourceIdentifier"]["resource"] in ("secrets", "configmaps")]
    assert ocm.registrar_objects(manual) == []
    data = stack_data("prod")
    data["hub"]["supernodeAuth"] = {"enabled": False, "registration": "Automatic"}
    with pytest.raises(SpecError, match=r"federation.hub.supernodeAuth.registration: 'Automatic' registers SuperNode "
                                        r"keys: it needs enabled: true"):
        parse_spec(data)
