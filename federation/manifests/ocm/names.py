"""OCM object names, labels, API versions, template variables and await annotations (pure)."""

from __future__ import annotations

from federation.manifests import common
from federation.manifests.hub import superlink_addresses
from federation.spec import ClientAppSpec, FederationSpec, PoolSpec

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
#: Delete the ClusterManagementAddOn in the background (as kubectl does), not in the foreground Pulumi
#: uses by default: while a foreground deletion waits for the CMA's ManagedClusterAddOns, OCM's addon
#: manager (v1.2.1, install strategy Placements) re-creates them for the clusters the Placements still
#: select, so `pulumi destroy` never ends (seen on the cluster suite). In the background the CMA is gone
#: at once and the garbage collector removes its ManagedClusterAddOns, which nothing re-creates.
CMA_DELETION = {"pulumi.com/deletionPropagationPolicy": "background"}


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
    """The ClientApp's ManifestWorkReplicaSet (and the ManifestWorks it makes on each cluster)."""
    return f"{spec.name}-{app.name}"


def clientapp_deployment_name(app: ClientAppSpec) -> str:
    """The ClientApp SuperExec Deployment on a managed cluster."""
    return f"flower-clientapp-{app.name}"


def superlink_address(spec: FederationSpec) -> str:
    """HOST:PORT the SuperNodes dial (the hub's external address; see `hub.superlink_addresses`)."""
    external = superlink_addresses(spec)[1]
    if external is None:
        raise ValueError("hub.exposure has neither externalNames nor externalIPs: spokes cannot reach the SuperLink")
    return external


def supernode_labels(spec: FederationSpec, pool: PoolSpec) -> dict[str, str]:
    """Labels of the SuperNode objects of `pool` on a managed cluster."""
    return common.labels(spec, "supernode", **{POOL_LABEL: pool.name})


def clientapp_selector(spec: FederationSpec) -> dict[str, str]:
    """The labels that select every ClientApp SuperExec pod of the federation."""
    return common.selector_labels(spec, "clientapp")


def uses_tls(spec: FederationSpec) -> bool:
    """Whether the SuperNodes talk TLS to the SuperLink."""
    return spec.hub.tls.mode != "insecure"
