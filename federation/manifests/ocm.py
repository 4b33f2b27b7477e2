"""OCM objects on the hub: Placements, bindings, the SuperNode addon and ClientApp distribution.

Pure builders (no `pulumi` import): every function returns plain dicts in Kubernetes field names.
The Pulumi components in :mod:`components` register exactly these objects.

What lands where
----------------
* Per pool a ``Placement`` (``cluster.open-cluster-management.io/v1beta1``) in ``spec.ocm_namespace``,
  plus one ``ManagedClusterSetBinding`` (``v1beta2``) per cluster set any pool uses (name == set).
* ONE ``ClusterManagementAddOn`` (a *template addon*) whose ``installStrategy.placements`` lists every
  pool's Placement **in pool order** (OCM gives a cluster in several placements to the later one), each
  with that pool's ``AddOnTemplate`` + ``AddOnDeploymentConfig``; or, with ``installStrategy: Manual``,
  one ``ManagedClusterAddOn`` per listed cluster with a per-cluster ADC.
* Per pool an ``AddOnTemplate``: Namespace, ServiceAccount, a ConfigMap with ONLY the CA certificate,
  the SuperNode Deployment (argv from :func:`federation.flower.supernode`), a NetworkPolicy and, in
  process isolation, the SuperNode Runtime API Service.
* Per ClientApp a ``ManifestWorkReplicaSet`` shipping its SuperExec Deployment to the pools' clusters.
  **The hub's ``ManifestWorkReplicaSet`` feature gate is Alpha and off by default**: enable it in
  ``ClusterManager.spec.workConfiguration.featureGates`` or the MWRS is never reconciled.

Design decisions
----------------
* **Variables.** The template uses exactly these ``{{TOKENS}}``: ``CLUSTER_NAME`` (OCM built-in) and
  ``FLOWER_SUPERLINK_ADDRESS``; with ``installStrategy: Manual`` also ``FLOWER_PARTITION_ID`` and
  ``FLOWER_NUM_PARTITIONS`` (per-cluster ADCs). The image is a literal (an unknown variable renders
  as ``""`` silently in OCM; a literal cannot). Every ADC that can apply to a template defines every
  token it uses; :func:`federation.payloads.problems` checks that for every declaration.
* **agentInstallNamespace: ""** in every ADC. The template carries its own Namespace
  (``distribution.ocm.agentNamespace``) and the ClientApp ManifestWorks must land in the same
  namespace (the SuperExec dials the SuperNode Service by short name and the NetworkPolicy admits
  only pods of that namespace). ``""`` keeps the template's namespaces verbatim; leaving the field out
  would make OCM rewrite them to ``open-cluster-management-agent-addon``.
* **Defaults.** The CMA's default template and ADC are the FIRST pool's pair, so a cluster that gets
  the addon without placement configs still renders a consistent SuperNode. In Manual mode there is no
  default ADC: every MCA names its per-cluster ADC, and a default without a partition id would render
  a broken ``--node-config``.
* **ADC decoration replaces, not merges.** ``nodePlacement`` replaces the pod's nodeSelector and
  tolerations, and ``resourceRequirements`` replaces the container's resources, so the ADC repeats the
  GPU request and the GPU node selector/tolerations of the template.
* **Node authentication.** The SuperNode mounts its OpenSSH private key from the Secret
  :data:`NODE_AUTH_SECRET` (key :data:`NODE_AUTH_KEY`) which must be provisioned on every spoke out of
  band (never in a template: AddOnTemplates and ManifestWorks are plain text on the hub and in Pulumi
  state). Until it exists the Pod stays in ContainerCreating.
* **Await annotations** (pulumi-kubernetes ≥ 4.18 generic await, checked against its docs/tests):
  bindings, ADCs, templates, CMA and MCAs get ``pulumi.com/skipAwait: "true"`` (no meaningful status).
  A Placement waits until OCM evaluated it and found it well-formed
  (``PlacementMisconfigured`` == ``False``, 120 s): that needs neither spokes nor decisions, only the
  placement controller, and catches unbound cluster sets / bad selectors at ``pulumi up`` time.
  An MWRS waits for ``PlacementVerified`` (300 s): its Placements resolved. This also fails loudly
  when the ``ManifestWorkReplicaSet`` feature gate is off (no controller → no status) instead of
  reporting success for an object nothing reconciles. Rollout to spokes is not awaited (it can take
  hours with Progressive strategies).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from federation import flower
from federation.manifests import common
from federation.manifests.common import Obj
from federation.manifests.hub import superlink_addresses
from federation.spec import (
    ClaimSelector,
    ClientAppSpec,
    ClusterSelection,
    FederationSpec,
    GpuSpec,
    LabelSelector,
    NodeConfigValue,
    PoolSpec,
    RolloutStrategy,
)
from federation.templating import Token

API_PLACEMENT = "cluster.open-cluster-management.io/v1beta1"
API_BINDING = "cluster.open-cluster-management.io/v1beta2"
API_ADDON = "addon.open-cluster-management.io/v1alpha1"
API_WORK = "work.open-cluster-management.io/v1alpha1"
ADDON_GROUP = "addon.open-cluster-management.io"

VAR_SUPERLINK_ADDRESS = "FLOWER_SUPERLINK_ADDRESS"
VAR_PARTITION_ID = "FLOWER_PARTITION_ID"
VAR_NUM_PARTITIONS = "FLOWER_NUM_PARTITIONS"

#: Names of the objects on the managed clusters (one pool per cluster, so they are pool-independent
#: and one ClientApp MWRS can target several pools).
SUPERNODE = "flower-supernode"
SUPERNODE_CONTAINER = "supernode"
CLIENTAPP_CONTAINER = "superexec"
CA_CONFIGMAP = "flower-ca"
#: Secret expected on each spoke (provisioned out of band) holding the SuperNode's OpenSSH EC key.
NODE_AUTH_SECRET = "flower-supernode-auth"  # noqa: S105 - a Secret's name, not a secret
NODE_AUTH_KEY = "private-key"
POOL_LABEL = "flower-federation/pool"
CLIENTAPP_LABEL = "flower-federation/clientapp"

SKIP_AWAIT = {"pulumi.com/skipAwait": "true"}
PLACEMENT_AWAIT = {
    "pulumi.com/waitFor": 'jsonpath={.status.conditions[?(@.type=="PlacementMisconfigured")].status}=False',
    "pulumi.com/timeoutSeconds": "120",
}
MWRS_AWAIT = {"pulumi.com/waitFor": "condition=PlacementVerified", "pulumi.com/timeoutSeconds": "300"}

#: The CEL rule that tells the MWRS rollout a ClientApp Deployment is still progressing.
PROGRESSING_CEL = (
    "!(has(object.status.readyReplicas) && has(object.status.updatedReplicas) && "
    "object.status.readyReplicas == object.spec.replicas && object.status.updatedReplicas == object.spec.replicas)"
)

#: A stand-in for the CA certificate when sizing payloads offline (as long as an RSA-4096 CA PEM).
PLACEHOLDER_CA = (
    "-----BEGIN CERTIFICATE-----\n" + ("A" * 64 + "\n") * 30 + "-----END CERTIFICATE-----\n"
)


# --- names ------------------------------------------------------------------------------------


def placement_name(spec: FederationSpec, pool: PoolSpec) -> str:
    """The pool's Placement (also a label value on its PlacementDecisions, hence ≤ 63 characters)."""
    return f"{spec.name}-{pool.name}"


def template_name(spec: FederationSpec, pool: PoolSpec) -> str:
    """The pool's AddOnTemplate (cluster-scoped)."""
    return f"{spec.distribution.ocm.addon_name}-{pool.name}"


def config_name(spec: FederationSpec, pool: PoolSpec) -> str:
    """The pool's AddOnDeploymentConfig (in the OCM namespace)."""
    return f"{spec.distribution.ocm.addon_name}-{pool.name}"


def cluster_config_name(spec: FederationSpec, cluster: str) -> str:
    """The per-cluster AddOnDeploymentConfig of Manual mode (a cluster is in at most one pool)."""
    return f"{spec.distribution.ocm.addon_name}-{cluster}"


def mwrs_name(spec: FederationSpec, app: ClientAppSpec) -> str:
    return f"{spec.name}-{app.name}"


def clientapp_deployment_name(app: ClientAppSpec) -> str:
    return f"flower-clientapp-{app.name}"


def superlink_address(spec: FederationSpec) -> str:
    """HOST:PORT the SuperNodes dial (the hub's external address; see `hub.superlink_addresses`)."""
    external = superlink_addresses(spec)[1]
    if external is None:
        raise ValueError("hub.exposure has neither externalNames nor externalIPs: spokes cannot reach the SuperLink")
    return external


# --- small conversions ----------------------------------------------------------------------------


def _int_or_percent(value: str) -> int | str:
    """OCM parses IntOrString "3" as an (invalid) percentage: counts must be JSON integers."""
    return value if value.endswith("%") else int(value)


def _label_selector(sel: LabelSelector) -> Obj:
    out: Obj = {}
    if sel.match_labels:
        out["matchLabels"] = dict(sorted(sel.match_labels.items()))
    if sel.match_expressions:
        out["matchExpressions"] = [_requirement(e.key, e.operator, e.values) for e in sel.match_expressions]
    return out


def _claim_selector(sel: ClaimSelector) -> Obj:
    return {"matchExpressions": [_requirement(e.key, e.operator, e.values) for e in sel.match_expressions]}


def _requirement(key: str, operator: str, values: Sequence[str]) -> Obj:
    req: Obj = {"key": key, "operator": operator}
    if values:
        req["values"] = sorted(values)
    return req


def rollout_strategy(rollout: RolloutStrategy) -> Obj:
    """An OCM RolloutStrategy; `type` is always rendered."""
    body: Obj = {}
    if rollout.mandatory_decision_groups and rollout.type != "All":
        body["mandatoryDecisionGroups"] = [{"groupName": g} for g in rollout.mandatory_decision_groups]
    if rollout.max_concurrency is not None and rollout.type == "Progressive":
        body["maxConcurrency"] = _int_or_percent(rollout.max_concurrency)
    if rollout.max_failures is not None:
        body["maxFailures"] = _int_or_percent(rollout.max_failures)
    if rollout.min_success_time is not None:
        body["minSuccessTime"] = rollout.min_success_time
    if rollout.progress_deadline is not None:
        body["progressDeadline"] = rollout.progress_deadline
    key = {"All": "all", "Progressive": "progressive", "ProgressivePerGroup": "progressivePerGroup"}[rollout.type]
    out: Obj = {"type": rollout.type}
    if body:
        out[key] = body
    return out


# --- Placement and bindings -----------------------------------------------------------------------


def _cel_cluster_list(clusters: Sequence[str]) -> str:
    names = ", ".join(json.dumps(c) for c in sorted(clusters))
    return f"managedCluster.metadata.name in [{names}]"


def _required_selector(sel: ClusterSelection) -> Obj:
    out: Obj = {}
    if sel.label_selector is not None:
        label = _label_selector(sel.label_selector)
        if label:
            out["labelSelector"] = label
    if sel.claim_selector is not None:
        out["claimSelector"] = _claim_selector(sel.claim_selector)
    cel = list(sel.cel_expressions)
    if sel.clusters:  # Manual mode: the Placement (for ClientApp MWRS) selects exactly the listed clusters
        cel.append(_cel_cluster_list(sel.clusters))
    if cel:
        out["celSelector"] = {"celExpressions": cel}
    return out


def placement(spec: FederationSpec, pool: PoolSpec) -> Obj:
    """The pool's Placement: cluster sets, ANDed label/claim/CEL predicates, scores, spread, tolerations."""
    sel = pool.selection
    body: Obj = {"clusterSets": sorted(set(sel.cluster_sets))}
    required = _required_selector(sel)
    if required:
        body["predicates"] = [{"requiredClusterSelector": required}]
    if sel.number_of_clusters is not None:
        body["numberOfClusters"] = sel.number_of_clusters
    if sel.prioritizers is not None:
        configurations: list[Obj] = []
        for prio in sel.prioritizers.configurations:
            coord: Obj
            if prio.add_on is not None:
                coord = {"type": "AddOn",
                         "addOn": {"resourceName": prio.add_on.resource_name, "scoreName": prio.add_on.score_name}}
            else:
                coord = {"type": "BuiltIn", "builtIn": prio.built_in}
            configurations.append({"scoreCoordinate": coord, "weight": prio.weight})
        body["prioritizerPolicy"] = {"mode": sel.prioritizers.mode, "configurations": configurations}
    if sel.spread_constraints:
        body["spreadPolicy"] = {"spreadConstraints": [
            {"topologyKey": c.topology_key, "topologyKeyType": c.topology_key_type, "maxSkew": c.max_skew,
             "whenUnsatisfiable": c.when_unsatisfiable}
            for c in sel.spread_constraints
        ]}
    if sel.tolerations:
        body["tolerations"] = [t.model_dump(by_alias=True, exclude_none=True) for t in sel.tolerations]
    ds = sel.decision_strategy
    if ds is not None:
        group: Obj = {}
        if ds.clusters_per_decision_group is not None:
            group["clustersPerDecisionGroup"] = _int_or_percent(ds.clusters_per_decision_group)
        if ds.decision_groups:
            groups: list[Obj] = []
            for g in ds.decision_groups:
                gsel: Obj = {}
                if g.label_selector is not None:
                    gsel["labelSelector"] = _label_selector(g.label_selector)
                if g.claim_selector is not None:
                    gsel["claimSelector"] = _claim_selector(g.claim_selector)
                groups.append({"groupName": g.group_name, "groupClusterSelector": gsel})
            group["decisionGroups"] = groups
        body["decisionStrategy"] = {"groupStrategy": group}
    return {
        "apiVersion": API_PLACEMENT,
        "kind": "Placement",
        "metadata": common.metadata(placement_name(spec, pool), spec.ocm_namespace,
                                    labels=common.labels(spec, "placement", **{POOL_LABEL: pool.name}),
                                    annotations=PLACEMENT_AWAIT),
        "spec": body,
    }


def cluster_sets(spec: FederationSpec) -> list[str]:
    """Every cluster set some pool selects from, sorted and deduplicated."""
    return sorted({s for pool in spec.pools for s in pool.selection.cluster_sets})


def cluster_set_binding(spec: FederationSpec, cluster_set: str) -> Obj:
    """Binds `cluster_set` into the OCM namespace (name must equal spec.clusterSet; immutable)."""
    return {
        "apiVersion": API_BINDING,
        "kind": "ManagedClusterSetBinding",
        "metadata": common.metadata(cluster_set, spec.ocm_namespace, labels=common.labels(spec, "placement"),
                                    annotations=SKIP_AWAIT),
        "spec": {"clusterSet": cluster_set},
    }


def cluster_set_bindings(spec: FederationSpec) -> list[Obj]:
    return [cluster_set_binding(spec, s) for s in cluster_sets(spec)]


def pool_bindings(spec: FederationSpec, pool: PoolSpec) -> list[Obj]:
    """The bindings a pool's Placement needs (components dedupe across pools by name)."""
    return [cluster_set_binding(spec, s) for s in sorted(set(pool.selection.cluster_sets))]


def binding_owners(spec: FederationSpec) -> dict[str, str]:
    """cluster set → the first pool (in spec order) that selects from it, which registers its binding."""
    owners: dict[str, str] = {}
    for pool in spec.pools:
        for cluster_set in sorted(set(pool.selection.cluster_sets)):
            owners.setdefault(cluster_set, pool.name)
    return owners


def owned_bindings(spec: FederationSpec, pool: PoolSpec) -> list[Obj]:
    """The bindings `pool` registers: those of the cluster sets it is the first pool to use."""
    owners = binding_owners(spec)
    return [b for b in pool_bindings(spec, pool) if owners[b["spec"]["clusterSet"]] == pool.name]


# --- the SuperNode on a managed cluster --------------------------------------------------------------


def manual_clusters(spec: FederationSpec) -> list[str]:
    """All clusters listed for Manual mode, sorted: a cluster's index is its partition id."""
    return sorted({c for pool in spec.pools for c in pool.selection.clusters})


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


def _uses_tls(spec: FederationSpec) -> bool:
    return spec.hub.tls.mode != "insecure"


def supernode_gpu(pool: PoolSpec) -> GpuSpec | None:
    """The SuperNode container requests the pool's GPU only when it runs the ClientApp itself (subprocess)."""
    return pool.gpu if pool.isolation == "subprocess" else None


def supernode_resources(pool: PoolSpec) -> Obj:
    return common.resources(pool.resources, supernode_gpu(pool))


def _supernode_labels(spec: FederationSpec, pool: PoolSpec) -> dict[str, str]:
    return common.labels(spec, "supernode", **{POOL_LABEL: pool.name})


def _clientapp_selector(spec: FederationSpec) -> dict[str, str]:
    return common.selector_labels(spec, "clientapp")


def supernode_deployment(spec: FederationSpec, pool: PoolSpec) -> Obj:
    """The SuperNode Deployment of the pool's AddOnTemplate."""
    ns = spec.distribution.ocm.agent_namespace
    process = supernode_process(spec, pool)
    skip: list[str] = []
    vols, mounts = common.scratch_volumes(process, skip=skip)
    if _uses_tls(spec):
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
        "metadata": common.metadata(SUPERNODE, ns, labels=_supernode_labels(spec, pool)),
        "spec": {
            "replicas": pool.replicas,
            # Replicas share one identity (node key, cluster name): never run old and new side by side.
            "strategy": {"type": "Recreate"},
            "selector": {"matchLabels": selector},
            "template": {"metadata": {"labels": _supernode_labels(spec, pool)}, "spec": pod},
        },
    }


def template_manifests(spec: FederationSpec, pool: PoolSpec, ca_certificate: Any) -> list[Obj]:
    """Everything the addon agent applies on a cluster of `pool` (public material only).

    `ca_certificate` is the CA PEM, or an opaque value standing for it (a Pulumi Output) that the
    caller checks itself.
    """
    ns = spec.distribution.ocm.agent_namespace
    labels = _supernode_labels(spec, pool)
    out: list[Obj] = [
        {"apiVersion": "v1", "kind": "Namespace",
         "metadata": common.metadata(ns, labels={**common.labels(spec, "supernode"),
                                                 "pod-security.kubernetes.io/enforce": "restricted"})},
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": common.metadata(SUPERNODE, ns, labels=labels),
         "automountServiceAccountToken": False},
    ]
    if _uses_tls(spec):
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
        ingress = [{"from": [{"podSelector": {"matchLabels": _clientapp_selector(spec)}}],
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
        "metadata": common.metadata(template_name(spec, pool), labels=_supernode_labels(spec, pool),
                                    annotations=SKIP_AWAIT),
        "spec": {
            "addonName": spec.distribution.ocm.addon_name,
            "agentSpec": {
                "workload": {"manifests": template_manifests(spec, pool, ca_certificate)},
                "deleteOption": {"propagationPolicy": "Foreground"},
            },
        },
    }


# --- AddOnDeploymentConfig ---------------------------------------------------------------------------


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
        "metadata": common.metadata(name, spec.ocm_namespace, labels=_supernode_labels(spec, pool),
                                    annotations=SKIP_AWAIT),
        "spec": body,
    }


# --- ClusterManagementAddOn / ManagedClusterAddOn --------------------------------------------------------


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
                                        labels=_supernode_labels(spec, pool), annotations=SKIP_AWAIT),
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


# --- ClientApp distribution ---------------------------------------------------------------------------


def clientapp_deployment(spec: FederationSpec, app: ClientAppSpec) -> Obj:
    """The ClientApp SuperExec Deployment (process isolation), dialling the SuperNode Service."""
    ns = spec.distribution.ocm.agent_namespace
    process = flower.clientapp_superexec(flower.CONTAINER, supernode_host=SUPERNODE)
    vols, mounts = common.scratch_volumes(process)
    gpu = spec.client_app_gpu(app)
    ctr = common.container(CLIENTAPP_CONTAINER, app.image, process, res=common.resources(app.resources, gpu),
                           mounts=mounts, pull_policy=spec.flower.image_pull_policy)
    pod: Obj = {
        "automountServiceAccountToken": False,
        "shareProcessNamespace": True,  # reaps the per-message flwr-clientapp processes
        "securityContext": common.pod_security_context(),
        "containers": [ctr],
        "volumes": vols,
    }
    if spec.flower.image_pull_secrets:
        pod["imagePullSecrets"] = common.image_pull_secrets(spec)
    if gpu is not None:
        if gpu.node_selector:
            pod["nodeSelector"] = dict(sorted(gpu.node_selector.items()))
        if gpu.tolerations:
            pod["tolerations"] = common.tolerations(gpu.tolerations)
    selector = {**_clientapp_selector(spec), CLIENTAPP_LABEL: app.name}
    labels = common.labels(spec, "clientapp", **{CLIENTAPP_LABEL: app.name})
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": common.metadata(clientapp_deployment_name(app), ns, labels=labels),
        "spec": {
            "replicas": 1,  # one SuperExec per SuperNode Runtime API
            "strategy": {"type": "Recreate"},
            "selector": {"matchLabels": selector},
            "template": {"metadata": {"labels": labels}, "spec": pod},
        },
    }


def _progressive(rollout: RolloutStrategy) -> bool:
    return rollout.type in ("Progressive", "ProgressivePerGroup")


def manifest_work_replica_set(spec: FederationSpec, app: ClientAppSpec) -> Obj:
    """The ClientApp's ManifestWorkReplicaSet (needs the hub's `ManifestWorkReplicaSet` feature gate).

    Targets the Placements of the app's pools (unknown pools are skipped; validation reports them).
    With a Progressive rollout it adds the `Progressing` CEL condition rule without which OCM never
    advances the rollout.
    """
    pools = spec.pools_by_name
    deployment = clientapp_deployment(spec, app)
    template: Obj = {
        "workload": {"manifests": [deployment]},
        "deleteOption": {"propagationPolicy": "Foreground"},
    }
    if _progressive(app.rollout_strategy):
        template["manifestConfigs"] = [{
            "resourceIdentifier": {"group": "apps", "resource": "deployments",
                                   "namespace": deployment["metadata"]["namespace"],
                                   "name": deployment["metadata"]["name"]},
            "conditionRules": [{"condition": "Progressing", "type": "CEL", "celExpressions": [PROGRESSING_CEL],
                                "message": "ClientApp SuperExec rollout in progress"}],
        }]
    refs = [{"name": placement_name(spec, pools[n]), "rolloutStrategy": rollout_strategy(app.rollout_strategy)}
            for n in app.pools if n in pools]
    return {
        "apiVersion": API_WORK,
        "kind": "ManifestWorkReplicaSet",
        "metadata": common.metadata(mwrs_name(spec, app), spec.ocm_namespace,
                                    labels=common.labels(spec, "clientapp", **{CLIENTAPP_LABEL: app.name}),
                                    annotations=MWRS_AWAIT),
        "spec": {
            "cascadeDeletionPolicy": "Background",
            "placementRefs": sorted(refs, key=lambda r: str(r["name"])),
            "manifestWorkTemplate": template,
        },
    }


# --- everything, variables, validation ----------------------------------------------------------------


def all_objects(spec: FederationSpec, *, ca_certificate: str | None, superlink_address: str) -> list[Obj]:
    """Every hub object of the OCM distribution: bindings, placements, addon, ClientApp MWRS."""
    out = cluster_set_bindings(spec)
    out += [placement(spec, p) for p in spec.pools]
    out += addon_objects(spec, ca_certificate=ca_certificate, superlink_address=superlink_address)
    out += [manifest_work_replica_set(spec, app) for app in spec.client_apps]
    return out


def adc_variables(adc: Obj) -> dict[str, str]:
    return {v["name"]: v["value"] for v in adc["spec"].get("customizedVariables", [])}


def applicable_configs(spec: FederationSpec, pool: PoolSpec, superlink_address: str) -> list[Obj]:
    """Every ADC that can apply to the pool's template: the CMA default, then the pool's or per-cluster ones."""
    manual = spec.distribution.ocm.install_strategy == "Manual"
    if manual:
        return [deployment_config(spec, pool, superlink_address, cluster=c) for c in sorted(pool.selection.clusters)]
    return [deployment_config(spec, spec.pools[0], superlink_address), deployment_config(spec, pool, superlink_address)]
