"""OCM objects on the hub: Placements, bindings, the SuperNode addon and ClientApp distribution.

Pure builders (no `pulumi` import), split by concern: :mod:`.names` (names, labels, API versions,
awaits), :mod:`.placement` (Placements, bindings, rollout), :mod:`.addon` (the SuperNode template
addon) and :mod:`.distribution` (ClientApp ManifestWorkReplicaSets); this package re-exports them.
Every function returns plain dicts in Kubernetes field names.
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
  :func:`node_auth_secret_name` (key :data:`NODE_AUTH_KEY`) which must be provisioned on every spoke out of
  band (never in a template: AddOnTemplates and ManifestWorks are plain text on the hub and in Pulumi
  state). Until it exists the Pod stays in ContainerCreating.
* **Await annotations** (pulumi-kubernetes ≥ 4.18 generic await): ADCs, templates, CMA and MCAs get
  ``pulumi.com/skipAwait: "true"`` (no meaningful status). A ManagedClusterSetBinding waits for ``Bound``
  (its cluster set exists; 60 s): a Placement over an unbound set is only ``PlacementSatisfied=False``,
  never Misconfigured. A Placement waits until OCM evaluated it and found it well-formed
  (``PlacementMisconfigured`` == ``False``, 120 s). An MWRS waits until its controller has set
  ``PlacementVerified`` at all (300 s): a hub with the feature gate off fails loudly, while a valid pool
  with no (available) cluster yet (``PlacementDecisionEmpty``) does not hang. Rollouts to spokes are not
  awaited (Progressive ones can take hours); ``flower-federation status`` reports them.
* **Health-gated rollouts.** The addon's and each MWRS's ManifestWorks carry condition rules
  (:mod:`.health`), so OCM's rollouts (canary groups, ``maxFailures``, ``progressDeadline``) count a
  cluster as done only when its Deployment is available, not when its objects exist.
* **What OCM does not do for us.** ``flower.registryMirrors`` are applied by these builders to every
  image shipped to managed clusters (OCM's ADC registries would miss init containers and ManifestWork-
  ReplicaSets); the spoke Namespace is labelled for the klusterlet's image pull credentials and
  orphaned when a cluster loses the addon; Placements tolerate OCM's outage taints for
  ``unreachableTolerationSeconds``; ClientApp Placements add the addon feature label.
"""

from __future__ import annotations

from federation.manifests.common import Obj
from federation.manifests.ocm.addon import (
    PLACEHOLDER_CA,
    adc_variables,
    addon_objects,
    addon_template,
    applicable_configs,
    cluster_management_addon,
    deployment_config,
    expected_supernode,
    managed_cluster_addons,
    pool_addon_objects,
    supernode_deployment,
    supernode_gpu,
    supernode_process,
    supernode_resources,
    template_manifests,
)
from federation.manifests.ocm.distribution import (
    clientapp_deployment,
    manifest_work_replica_set,
)
from federation.manifests.ocm.health import AVAILABLE_CEL, DEGRADED_CEL, PROGRESSING_CEL, health_rules, supernode_health_rule
from federation.manifests.ocm.names import (
    ADDON_GROUP,
    ADDON_NAMESPACE_LABEL,
    API_ADDON,
    API_BINDING,
    API_PLACEMENT,
    API_WORK,
    BINDING_AWAIT,
    CA_CHECKSUM_ANNOTATION,
    CA_CHECKSUM_PLACEHOLDER,
    CLIENTAPP_CONTAINER,
    CLIENTAPP_LABEL,
    DELETION_ORPHAN,
    KLUSTERLET_PULL_SECRET,
    MWRS_AWAIT,
    NODE_AUTH_KEY,
    NODE_PUBLIC_KEY,
    PLACEMENT_AWAIT,
    POOL_LABEL,
    SKIP_AWAIT,
    SUPERNODE_CONTAINER,
    VAR_NUM_PARTITIONS,
    VAR_PARTITION_ID,
    VAR_SUPERLINK_ADDRESS,
    addon_feature_label,
    automatic_registration,
    ca_bundle,
    ca_checksum,
    ca_configmap_name,
    clientapp_deployment_name,
    clientapp_placement_name,
    clientapp_selector,
    cluster_config_name,
    config_name,
    mwrs_name,
    node_auth_secret_name,
    node_key_writer_name,
    node_public_key_name,
    placement_name,
    registrar_name,
    registrations_name,
    secret_writer_name,
    spoke_image,
    spoke_image_pull_secrets,
    spoke_superexec_secret_name,
    superlink_address,
    supernode_labels,
    supernode_name,
    template_name,
    uses_tls,
)
from federation.manifests.ocm.placement import (
    OUTAGE_TAINTS,
    binding_owners,
    clientapp_placement,
    cluster_set_binding,
    cluster_set_bindings,
    cluster_sets,
    manual_clusters,
    placement,
    pool_bindings,
    rollout_strategy,
)
from federation.manifests.ocm.registrar import registrar_objects
from federation.spec import FederationSpec


def all_objects(spec: FederationSpec, *, ca_certificate: str | None, superlink_address: str) -> list[Obj]:
    """Every hub object of the OCM distribution: bindings, placements, addon, registrar, ClientApp MWRS."""
    out = cluster_set_bindings(spec)
    out += [placement(spec, p) for p in spec.pools]
    out += addon_objects(spec, ca_certificate=ca_certificate, superlink_address=superlink_address)
    out += registrar_objects(spec)
    pools = spec.pools_by_name
    for app in spec.client_apps:
        out += [clientapp_placement(spec, pools[n]) for n in app.pools if n in pools]
        out.append(manifest_work_replica_set(spec, app))
    return out


__all__ = [
    "ADDON_GROUP",
    "ADDON_NAMESPACE_LABEL",
    "API_ADDON",
    "API_BINDING",
    "API_PLACEMENT",
    "API_WORK",
    "AVAILABLE_CEL",
    "BINDING_AWAIT",
    "CA_CHECKSUM_ANNOTATION",
    "CA_CHECKSUM_PLACEHOLDER",
    "CLIENTAPP_CONTAINER",
    "CLIENTAPP_LABEL",
    "DEGRADED_CEL",
    "DELETION_ORPHAN",
    "KLUSTERLET_PULL_SECRET",
    "MWRS_AWAIT",
    "NODE_AUTH_KEY",
    "NODE_PUBLIC_KEY",
    "OUTAGE_TAINTS",
    "PLACEHOLDER_CA",
    "PLACEMENT_AWAIT",
    "POOL_LABEL",
    "PROGRESSING_CEL",
    "SKIP_AWAIT",
    "SUPERNODE_CONTAINER",
    "VAR_NUM_PARTITIONS",
    "VAR_PARTITION_ID",
    "VAR_SUPERLINK_ADDRESS",
    "adc_variables",
    "addon_feature_label",
    "addon_objects",
    "addon_template",
    "all_objects",
    "applicable_configs",
    "automatic_registration",
    "binding_owners",
    "ca_bundle",
    "ca_checksum",
    "ca_configmap_name",
    "clientapp_deployment",
    "clientapp_deployment_name",
    "clientapp_placement",
    "clientapp_placement_name",
    "clientapp_selector",
    "cluster_config_name",
    "cluster_management_addon",
    "cluster_set_binding",
    "cluster_set_bindings",
    "cluster_sets",
    "config_name",
    "deployment_config",
    "expected_supernode",
    "health_rules",
    "managed_cluster_addons",
    "manifest_work_replica_set",
    "manual_clusters",
    "mwrs_name",
    "node_auth_secret_name",
    "node_key_writer_name",
    "node_public_key_name",
    "placement",
    "placement_name",
    "pool_addon_objects",
    "pool_bindings",
    "registrar_name",
    "registrar_objects",
    "registrations_name",
    "rollout_strategy",
    "secret_writer_name",
    "spoke_image",
    "spoke_image_pull_secrets",
    "spoke_superexec_secret_name",
    "superlink_address",
    "supernode_deployment",
    "supernode_gpu",
    "supernode_health_rule",
    "supernode_labels",
    "supernode_name",
    "supernode_process",
    "supernode_resources",
    "template_manifests",
    "template_name",
    "uses_tls",
]
