"""OCM object names, labels, API versions, template variables and await annotations (pure)."""

from __future__ import annotations

import hashlib

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
SUPERNODE_CONTAINER = "supernode"
CLIENTAPP_CONTAINER = "superexec"
#: Key of the node-auth Secret (:func:`node_auth_secret_name`) holding the SuperNode's OpenSSH EC key.
NODE_AUTH_KEY = "private-key"
#: Key of :func:`node_public_key_name` (and the name of its status feedback value): the OpenSSH public key.
NODE_PUBLIC_KEY = "publicKey"
#: The prefix of the SuperNode names the registrar registers (`ocm:<cluster>`): the nodes it owns.
REGISTERED_NODE_PREFIX = "ocm:"
POOL_LABEL = "flower-federation/pool"
CLIENTAPP_LABEL = "flower-federation/clientapp"
SKIP_AWAIT = {"pulumi.com/skipAwait": "true"}
#: On the SuperNode pod template: the trust bundle's checksum, so a new CA rolls the SuperNodes.
CA_CHECKSUM_ANNOTATION = "flower-federation/ca-checksum"
#: Stands for the checksum while the CA is not known yet (see :func:`ca_checksum`): not hex, and as long
#: in JSON as a real checksum, so a template's size is the same with either.
CA_CHECKSUM_PLACEHOLDER = "ca-checksum-pend"
#: On a manifest of an AddOnTemplate: the addon manager orphans it (ManifestWork deleteOption
#: SelectivelyOrphan) instead of deleting it when the cluster loses the addon (addon-framework
#: `BuildDeployWorks`; only the key's presence counts).
DELETION_ORPHAN = {"addon.open-cluster-management.io/deletion-orphan": ""}
#: The label that makes the klusterlet copy its image pull Secret into a namespace (klusterlet operator
#: `addonsecretcontroller`), and that Secret's name there.
ADDON_NAMESPACE_LABEL = {"addon.open-cluster-management.io/namespace": "true"}
KLUSTERLET_PULL_SECRET = "open-cluster-management-image-pull-credentials"  # noqa: S105 - a Secret's name
#: A binding is usable once OCM's registration hub found its cluster set (`Bound`, reason ClusterSetBound;
#: False/ClusterSetNotFound otherwise). A Placement over an unbound set is only PlacementSatisfied=False
#: (NoManagedClusterSetBindings), never Misconfigured, so without this `pulumi up` would succeed on a typo.
BINDING_AWAIT = {"pulumi.com/waitFor": "condition=Bound", "pulumi.com/timeoutSeconds": "60"}
PLACEMENT_AWAIT = {
    "pulumi.com/waitFor": 'jsonpath={.status.conditions[?(@.type=="PlacementMisconfigured")].status}=False',
    "pulumi.com/timeoutSeconds": "120",
}
#: The ManifestWorkReplicaSet controller has seen the MWRS (its PlacementVerified condition exists, True
#: or not): a hub with the feature gate off never sets it and `pulumi up` fails instead of lying, while a
#: valid pool that selects no cluster yet (PlacementVerified False/PlacementDecisionEmpty) does not hang.
#: Rollouts are not awaited (Progressive ones can take hours); `flower-federation status` shows them.
MWRS_AWAIT = {
    "pulumi.com/waitFor": 'jsonpath={.status.conditions[?(@.type=="PlacementVerified")].type}=PlacementVerified',
    "pulumi.com/timeoutSeconds": "300",
}
#: Delete the ClusterManagementAddOn in the background (as kubectl does), not in the foreground Pulumi
#: uses by default: while a foreground deletion waits for the CMA's ManagedClusterAddOns, OCM's addon
#: manager (v1.2.1, install strategy Placements) re-creates them for the clusters the Placements still
#: select, so `pulumi destroy` never ends (seen on the cluster suite). In the background the CMA is gone
#: at once and the garbage collector removes its ManagedClusterAddOns, which nothing re-creates.
CMA_DELETION = {"pulumi.com/deletionPropagationPolicy": "background"}


def placement_name(spec: FederationSpec, pool: PoolSpec) -> str:
    """The pool's Placement (also a label value on its PlacementDecisions, hence ≤ 63 characters)."""
    return f"{spec.name}-{pool.name}"


def clientapp_placement_name(spec: FederationSpec, pool: PoolSpec) -> str:
    """The pool's ClientApp Placement: its clusters whose SuperNode addon is available."""
    return f"{spec.name}-{pool.name}-clientapps"


def addon_feature_label(spec: FederationSpec) -> str:
    """The ManagedCluster label OCM's registration hub sets from the addon's `Available` condition
    (`available`, `unhealthy` or `unreachable`; addon feature discovery)."""
    return f"feature.open-cluster-management.io/addon-{spec.distribution.ocm.addon_name}"


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


# Names of the objects on the managed clusters: one pool per cluster and federation, so they are
# pool-independent (one ClientApp MWRS can target several pools, and a cluster that changes pool updates
# its objects in place) and carry the federation's name (two federations never share one).


def supernode_name(spec: FederationSpec) -> str:
    """The SuperNode Deployment, ServiceAccount, Service and NetworkPolicy on a managed cluster."""
    return f"{spec.name}-supernode"


def ca_configmap_name(spec: FederationSpec) -> str:
    """The ConfigMap with the CA certificate the SuperNodes trust."""
    return f"{spec.name}-ca"


def node_auth_secret_name(spec: FederationSpec) -> str:
    """The Secret on each spoke with the SuperNode's private key (out of band, or generated there: Automatic)."""
    return f"{spec.name}-supernode-auth"


def automatic_registration(spec: FederationSpec) -> bool:
    """SuperNode keys are generated on their clusters and registered by the hub's registrar."""
    auth = spec.hub.supernode_auth
    return auth.enabled and auth.registration == "Automatic"


def node_public_key_name(spec: FederationSpec) -> str:
    """The spoke ConfigMap the SuperNode publishes its public key in (fed back to the hub by the work agent)."""
    return f"{spec.name}-supernode-public-key"


def node_key_writer_name(spec: FederationSpec) -> str:
    """The Role/RoleBinding that lets the SuperNode's key init container write its key Secret and ConfigMap."""
    return f"{spec.name}-supernode-key-writer"


def registrar_name(spec: FederationSpec) -> str:
    """The hub's SuperNode registrar: Deployment, ServiceAccount, RBAC, script ConfigMap, NetworkPolicy."""
    return f"{spec.name}-supernode-registrar"


def registrations_name(spec: FederationSpec) -> str:
    """The hub ConfigMap where the registrar reports each cluster's registration (read by `status`)."""
    return f"{spec.name}-supernode-registrations"


def spoke_superexec_secret_name(spec: FederationSpec) -> str:
    """The spoke's SuperExec Secret (created on the spoke by the SuperNode pod's init container)."""
    return f"{spec.name}-superexec-secret"


def secret_writer_name(spec: FederationSpec) -> str:
    """The Role/RoleBinding that lets that init container (and nothing else) create and read it."""
    return f"{spec.name}-superexec-secret-writer"


def clientapp_deployment_name(spec: FederationSpec, app: ClientAppSpec) -> str:
    """The ClientApp SuperExec Deployment on a managed cluster."""
    return f"{spec.name}-clientapp-{app.name}"


def superlink_address(spec: FederationSpec) -> str:
    """HOST:PORT the SuperNodes dial (the hub's external address; see `hub.superlink_addresses`)."""
    external = superlink_addresses(spec)[1]
    if external is None:
        raise ValueError("hub.exposure has neither externalNames nor externalIPs: spokes cannot reach the SuperLink")
    return external


def _normalized(image: str) -> str:
    """`image` with its registry spelt out, as container runtimes resolve it (docker.io, library/)."""
    first, _, rest = image.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        return image
    return f"docker.io/{image}" if rest else f"docker.io/library/{image}"


def spoke_image(spec: FederationSpec, image: str) -> str:
    """`image` as the managed clusters pull it: the last `flower.registryMirrors` entry that matches wins.

    The builders apply the mirrors to every container and init container they ship to managed clusters
    (AddOnTemplates and ClientApp ManifestWorkReplicaSets). OCM's own ADC `registries` would not do:
    it rewrites only `containers[]` of the addon's Deployments and DaemonSets (not init containers, not
    ManifestWorkReplicaSets) and matches the source as a literal prefix of the image string, so
    `docker.io/flwr` misses `flwr/supernode:1.42.0`. Here a source matches the registry (and path) of
    the image as runtimes resolve it, at a path boundary; an empty source matches every image.
    """
    full = _normalized(image)
    out = image
    for m in spec.flower.registry_mirrors:
        source, mirror = m.source.rstrip("/"), m.mirror.rstrip("/")
        if not source:
            out = f"{mirror}/{full.partition('/')[2]}"
        elif full.startswith(source + "/"):
            out = mirror + full[len(source):]
    return out


def spoke_image_pull_secrets(spec: FederationSpec) -> list[dict[str, str]]:
    """`imagePullSecrets` of the pods on managed clusters (`flower.imagePullSecrets` name hub Secrets)."""
    if spec.distribution.ocm.klusterlet_image_pull_credentials:
        return [{"name": KLUSTERLET_PULL_SECRET}]
    return []


def supernode_labels(spec: FederationSpec, pool: PoolSpec) -> dict[str, str]:
    """Labels of the SuperNode objects of `pool` on a managed cluster."""
    return common.labels(spec, "supernode", **{POOL_LABEL: pool.name})


def clientapp_selector(spec: FederationSpec) -> dict[str, str]:
    """The labels that select every ClientApp SuperExec pod of the federation."""
    return common.selector_labels(spec, "clientapp")


def ca_bundle(spec: FederationSpec, ca_pem: str) -> str:
    """What the SuperNodes trust: the SuperLink's CA then `hub.tls.additionalCaCertificates`.

    A value that is not a PEM (a stand-in for a CA not known yet) is returned unchanged.
    """
    if "-----BEGIN CERTIFICATE-----" not in ca_pem:
        return ca_pem
    pem = ca_pem if ca_pem.endswith("\n") else ca_pem + "\n"
    return pem + "".join(c for c in spec.hub.tls.additional_ca_certificates if c not in pem)


def ca_checksum(bundle: str) -> str:
    """The checksum annotated on the SuperNode pod template (:data:`CA_CHECKSUM_PLACEHOLDER` for a stand-in)."""
    if "-----BEGIN CERTIFICATE-----" not in bundle:
        return CA_CHECKSUM_PLACEHOLDER
    return hashlib.sha256(bundle.encode()).hexdigest()[:16]


def uses_tls(spec: FederationSpec) -> bool:
    """Whether the SuperNodes talk TLS to the SuperLink."""
    return spec.hub.tls.mode != "insecure"
