"""The SuperNode template addon: AddOnTemplates, AddOnDeploymentConfigs, the ClusterManagementAddOn, MCAs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from federation import flower
from federation.manifests import common
from federation.manifests.common import Obj
from federation.manifests.ocm.names import (
    ADDON_GROUP,
    API_ADDON,
    CA_CONFIGMAP,
    NODE_AUTH_KEY,
    NODE_AUTH_SECRET,
    POOL_LABEL,
    SKIP_AWAIT,
    SUPERNODE,
    SUPERNODE_CONTAINER,
    VAR_NUM_PARTITIONS,
    VAR_PARTITION_ID,
    VAR_SUPERLINK_ADDRESS,
    clientapp_selector,
    cluster_config_name,
    config_name,
    placement_name,
    supernode_labels,
    template_name,
    uses_tls,
)
from federation.manifests.ocm.placement import manual_clusters, rollout_strategy
from federation.spec import FederationSpec, GpuSpec, NodeConfigValue, PoolSpec
from federation.templating import Token

#: A stand-in for the CA certificate when sizing payloads offline (as long as an RSA-4096 CA PEM).
PLACEHOLDER_CA = (
    "-----BEGIN CERTIFICATE-----\n" + ("A" * 64 + "\n") * 30 + "-----END CERTIFICATE-----\n"
)


def _partition_config(spec: FederationSpec, pool: PoolSpec, partition_id: NodeConfigValue | Token,
                      num_partitions: NodeConfigValue | Token) -> dict[str, NodeConfigValue | Token]:
    """Manual mode: partition-id / num-partitions, unless the pool's nodeConfig sets them itself."""
    if spec.distribution.ocm.install_strategy != "Manual":
        return {}
    extra: dict[str, NodeConfigValue | Token] = {}
    if "partition-id" not in pool.node_config:
        extra["partition-id"] = partition_id
    if "num-partitions" not in pool.node_config:
        extra["num-partitions"] = num_partitions
    return extra


def supernode_process(spec: FederationSpec, pool: PoolSpec) -> flower.Process:
    """The SuperNode as it appears in the template: address, cluster name (and partition) as `{{TOKENS}}`.

    Integer tokens render unquoted into `--node-config` (`partition-id={{FLOWER_PARTITION_ID}}`), so
    after OCM substitutes them they parse as TOML integers, exactly as :func:`flower.supernode` renders ints.
    """
    extra = _partition_config(spec, pool, Token(VAR_PARTITION_ID, integer=True), Token(VAR_NUM_PARTITIONS, integer=True))
    return flower.supernode(
        spec, pool, flower.CONTAINER,
        superlink_address=str(Token(VAR_SUPERLINK_ADDRESS)),
        cluster_name=Token("CLUSTER_NAME"),
        extra_node_config=extra,
    )


def expected_supernode(spec: FederationSpec, pool: PoolSpec, *, superlink_address: str,
                       cluster_name: str) -> flower.Process:
    """The SuperNode a cluster should end up running once OCM substituted its variables (for tests/docs)."""
    clusters = manual_clusters(spec)
    pid = clusters.index(cluster_name) if cluster_name in clusters else 0
    extra = _partition_config(spec, pool, pid, len(clusters))
    return flower.supernode(spec, pool, flower.CONTAINER, superlink_address=superlink_address,
                            cluster_name=cluster_name, extra_node_config=extra)


def supernode_gpu(pool: PoolSpec) -> GpuSpec | None:
    """The SuperNode container requests the pool's GPU only when it runs the ClientApp itself (subprocess)."""
    return pool.gpu if pool.isolation == "subprocess" else None


def supernode_resources(pool: PoolSpec) -> Obj:
    return common.resources(pool.resources, supernode_gpu(pool))


def supernode_deployment(spec: FederationSpec, pool: PoolSpec) -> Obj:
    """The SuperNode Deployment of the pool's AddOnTemplate."""
    ns = spec.distribution.ocm.agent_namespace
    process = supernode_process(spec, pool)
    skip: list[str] = []
    vols, mounts = common.scratch_volumes(process, skip=skip)
    if uses_tls(spec):
        vols.append({"name": "ca", "configMap": {"name": CA_CONFIGMAP, "items": [{"key": "ca.crt", "path": "ca.crt"}]}})
        mounts.append({"name": "ca", "mountPath": flower.CONTAINER.tls_dir, "readOnly": True})
    if spec.hub.supernode_auth.enabled:
        vols.append({"name": "node-auth", "secret": {
            "secretName": NODE_AUTH_SECRET, "defaultMode": 0o440,
            "items": [{"key": NODE_AUTH_KEY, "path": "private-key"}]}})
        mounts.append({"name": "node-auth", "mountPath": flower.CONTAINER.auth_dir, "readOnly": True})
    image = pool.image or spec.flower.images.supernode
    ctr = common.container(
        SUPERNODE_CONTAINER, image, process, res=supernode_resources(pool), mounts=mounts,
        pull_policy=spec.flower.image_pull_policy,
        ports=[{"name": "runtime-api", "containerPort": flower.SUPERNODE_RUNTIME_PORT, "protocol": "TCP"}],
    )
    pod: Obj = {
        "serviceAccountName": SUPERNODE,
        "automountServiceAccountToken": False,
        "shareProcessNamespace": True,  # the pause container reaps flwr-clientapp zombies
        "securityContext": common.pod_security_context(),
        "containers": [ctr],
        "volumes": vols,
    }
    if spec.flower.image_pull_secrets:
        pod["imagePullSecrets"] = common.image_pull_secrets(spec)
    gpu = supernode_gpu(pool)
    if gpu is not None:
        if gpu.node_selector:
            pod["nodeSelector"] = dict(sorted(gpu.node_selector.items()))
        if gpu.tolerations:
            pod["tolerations"] = common.tolerations(gpu.tolerations)
    selector = {**common.selector_labels(spec, "supernode"), POOL_LABEL: pool.name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": common.metadata(SUPERNODE, ns, labels=supernode_labels(spec, pool)),
        "spec": {
            "replicas": pool.replicas,
            # Replicas share one identity (node key, cluster name): never run old and new side by side.
            "strategy": {"type": "Recreate"},
            "selector": {"matchLabels": selector},
            "template": {"metadata": {"labels": supernode_labels(spec, pool)}, "spec": pod},
        },
    }


def template_manifests(spec: FederationSpec, pool: PoolSpec, ca_certificate: Any) -> list[Obj]:
    """Everything the addon agent applies on a cluster of `pool` (public material only).

    `ca_certificate` is the CA PEM, or an opaque value standing for it (a Pulumi Output) that the
    caller checks itself.
    """
    ns = spec.distribution.ocm.agent_namespace
    labels = supernode_labels(spec, pool)
    out: list[Obj] = [
        {"apiVersion": "v1", "kind": "Namespace",
         "metadata": common.metadata(ns, labels={**common.labels(spec, "supernode"),
                                                 "pod-security.kubernetes.io/enforce": "restricted"})},
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": common.metadata(SUPERNODE, ns, labels=labels),
         "automountServiceAccountToken": False},
    ]
    if uses_tls(spec):
        if not ca_certificate:
            raise ValueError("TLS is on: the AddOnTemplate needs the CA certificate (PEM)")
        if isinstance(ca_certificate, str) and "PRIVATE KEY" in ca_certificate:
            raise ValueError("refusing to put private key material into an AddOnTemplate")
        out.append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": common.metadata(CA_CONFIGMAP, ns, labels=labels),
                    "data": {"ca.crt": ca_certificate}})
    out.append(supernode_deployment(spec, pool))
    selector = {**common.selector_labels(spec, "supernode"), POOL_LABEL: pool.name}
    ingress: list[Obj] = []
    if pool.isolation == "process":
        out.append({
            "apiVersion": "v1", "kind": "Service", "metadata": common.metadata(SUPERNODE, ns, labels=labels),
            "spec": {"type": "ClusterIP", "selector": selector, "ports": [
                {"name": "runtime-api", "port": flower.SUPERNODE_RUNTIME_PORT, "targetPort": "runtime-api",
                 "protocol": "TCP"}]},
        })
        ingress = [{"from": [{"podSelector": {"matchLabels": clientapp_selector(spec)}}],
                    "ports": [{"port": flower.SUPERNODE_RUNTIME_PORT, "protocol": "TCP"}]}]
    # Process isolation: only the ClientApp SuperExec pods may reach the Runtime API (plain HTTP).
    # Subprocess isolation: nothing may (the SuperNode only dials out).
    out.append({
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": common.metadata(SUPERNODE, ns, labels=labels),
        "spec": {"podSelector": {"matchLabels": selector}, "policyTypes": ["Ingress"], "ingress": ingress},
    })
    return out


def addon_template(spec: FederationSpec, pool: PoolSpec, ca_certificate: Any) -> Obj:
    """The pool's AddOnTemplate (`spec.addonName` is immutable: replace on change)."""
    return {
        "apiVersion": API_ADDON,
        "kind": "AddOnTemplate",
        "metadata": common.metadata(template_name(spec, pool), labels=supernode_labels(spec, pool),
                                    annotations=SKIP_AWAIT),
        "spec": {
            "addonName": spec.distribution.ocm.addon_name,
            "agentSpec": {
                "workload": {"manifests": template_manifests(spec, pool, ca_certificate)},
                "deleteOption": {"propagationPolicy": "Foreground"},
            },
        },
    }


def _variables(spec: FederationSpec, address: Any, extra: Mapping[str, str] | None = None) -> list[Obj]:
    values = {**spec.distribution.ocm.variables, VAR_SUPERLINK_ADDRESS: address, **(extra or {})}
    return [{"name": k, "value": values[k]} for k in sorted(values)]


def deployment_config(spec: FederationSpec, pool: PoolSpec, superlink_address: Any, *,
                      cluster: str | None = None) -> Obj:
    """The pool's ADC (or, with `cluster`, the per-cluster ADC of Manual mode)."""
    extra: dict[str, str] = {}
    name = config_name(spec, pool)
    if cluster is not None:
        clusters = manual_clusters(spec)
        extra = {VAR_PARTITION_ID: str(clusters.index(cluster)), VAR_NUM_PARTITIONS: str(len(clusters))}
        name = cluster_config_name(spec, cluster)
    body: Obj = {
        # "" keeps the template's own Namespace; see the module docstring.
        "agentInstallNamespace": "",
        "customizedVariables": _variables(spec, superlink_address, extra),
        "resourceRequirements": [{
            "containerID": f"deployments:{SUPERNODE}:{SUPERNODE_CONTAINER}",
            "resources": supernode_resources(pool),
        }],
    }
    gpu = supernode_gpu(pool)
    if gpu is not None and gpu.node_selector:
        placement_: Obj = {"nodeSelector": dict(sorted(gpu.node_selector.items()))}
        if gpu.tolerations:  # OCM applies tolerations only together with a nodeSelector
            placement_["tolerations"] = common.tolerations(gpu.tolerations)
        body["nodePlacement"] = placement_
    if spec.flower.registry_mirrors:
        body["registries"] = [
            {"mirror": m.mirror, **({"source": m.source} if m.source else {})} for m in spec.flower.registry_mirrors
        ]
    return {
        "apiVersion": API_ADDON,
        "kind": "AddOnDeploymentConfig",
        "metadata": common.metadata(name, spec.ocm_namespace, labels=supernode_labels(spec, pool),
                                    annotations=SKIP_AWAIT),
        "spec": body,
    }


def _config_ref(resource: str, name: str, namespace: str | None = None) -> Obj:
    ref: Obj = {"group": ADDON_GROUP, "resource": resource, "name": name}
    if namespace is not None:
        ref["namespace"] = namespace
    return ref


def cluster_management_addon(spec: FederationSpec) -> Obj:
    """The template addon: defaults = first pool's pair; one install placement per pool, in pool order."""
    ocm = spec.distribution.ocm
    first = spec.pools[0]
    manual = ocm.install_strategy == "Manual"
    adc_support: Obj = {"group": ADDON_GROUP, "resource": "addondeploymentconfigs"}
    if not manual:
        adc_support["defaultConfig"] = {"name": config_name(spec, first), "namespace": spec.ocm_namespace}
    install: Obj
    if manual:
        install = {"type": "Manual"}
    else:
        install = {"type": "Placements", "placements": [
            {
                "namespace": spec.ocm_namespace,
                "name": placement_name(spec, pool),
                "configs": [
                    _config_ref("addontemplates", template_name(spec, pool)),
                    _config_ref("addondeploymentconfigs", config_name(spec, pool), spec.ocm_namespace),
                ],
                "rolloutStrategy": rollout_strategy(pool.rollout_strategy),
            }
            for pool in spec.pools  # order matters: a cluster in several placements gets the later one
        ]}
    return {
        "apiVersion": API_ADDON,
        "kind": "ClusterManagementAddOn",
        "metadata": common.metadata(ocm.addon_name, labels=common.labels(spec, "supernode"), annotations=SKIP_AWAIT),
        "spec": {
            "addOnMeta": {"displayName": "Flower SuperNode",
                          "description": f"Flower {spec.flower.version} SuperNodes of federation {spec.name}"},
            "supportedConfigs": [
                adc_support,
                {"group": ADDON_GROUP, "resource": "addontemplates", "defaultConfig": {"name": template_name(spec, first)}},
            ],
            "installStrategy": install,
        },
    }


def managed_cluster_addons(spec: FederationSpec, pool: PoolSpec) -> list[Obj]:
    """Manual mode: one MCA per listed cluster of `pool` (in the cluster namespace, name = addon)."""
    if spec.distribution.ocm.install_strategy != "Manual":
        return []
    return [
        {
            "apiVersion": API_ADDON,
            "kind": "ManagedClusterAddOn",
            "metadata": common.metadata(spec.distribution.ocm.addon_name, cluster,
                                        labels=supernode_labels(spec, pool), annotations=SKIP_AWAIT),
            "spec": {"configs": [
                _config_ref("addontemplates", template_name(spec, pool)),
                _config_ref("addondeploymentconfigs", cluster_config_name(spec, cluster), spec.ocm_namespace),
            ]},
        }
        for cluster in sorted(pool.selection.clusters)
    ]


def pool_addon_objects(spec: FederationSpec, pool: PoolSpec, *, ca_certificate: str | None,
                       superlink_address: str) -> list[Obj]:
    """A pool's template and ADC, or in Manual mode its template, per-cluster ADCs and MCAs."""
    out = [addon_template(spec, pool, ca_certificate)]
    if spec.distribution.ocm.install_strategy == "Manual":
        out += [deployment_config(spec, pool, superlink_address, cluster=c) for c in sorted(pool.selection.clusters)]
        out += managed_cluster_addons(spec, pool)
    else:
        out.append(deployment_config(spec, pool, superlink_address))
    return out


def addon_objects(spec: FederationSpec, *, ca_certificate: str | None, superlink_address: str) -> list[Obj]:
    """The CMA and every pool's template, ADC(s) and MCAs."""
    out = [cluster_management_addon(spec)]
    for pool in spec.pools:
        out += pool_addon_objects(spec, pool, ca_certificate=ca_certificate, superlink_address=superlink_address)
    return out


def adc_variables(adc: Obj) -> dict[str, str]:
    return {v["name"]: v["value"] for v in adc["spec"].get("customizedVariables", [])}


def applicable_configs(spec: FederationSpec, pool: PoolSpec, superlink_address: str) -> list[Obj]:
    """Every ADC that can apply to the pool's template: the CMA default, then the pool's or per-cluster ones."""
    manual = spec.distribution.ocm.install_strategy == "Manual"
    if manual:
        return [deployment_config(spec, pool, superlink_address, cluster=c) for c in sorted(pool.selection.clusters)]
    return [deployment_config(spec, spec.pools[0], superlink_address), deployment_config(spec, pool, superlink_address)]
