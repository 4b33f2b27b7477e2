"""Pulumi ComponentResources over the pure builders in :mod:`federation`.

The five public components (all in package ``flower-federation``, module ``index``):

* :class:`Federation` — the whole federation from one declaration (composes the four below);
* :class:`SuperLink` — the hub: namespace, key material, SuperLink (and ServerApp SuperExec);
* :class:`SuperNodePool` — one pool's Placement and the cluster-set bindings it owns;
* :class:`FlowerAddon` — the SuperNode addon (CMA, AddOnTemplates, AddOnDeploymentConfigs);
* :class:`ClientAppDistribution` — one ClientApp's ManifestWorkReplicaSet.

Importing this package imports pulumi and pulumi-kubernetes (the pure builders in :mod:`federation`
do not).
"""

from components._common import PACKAGE
from components._links import ExistingSuperLink
from components.addon import FlowerAddon, FlowerAddonArgs
from components.clientapps import ClientAppDistribution, ClientAppDistributionArgs
from components.federation import Federation, FederationArgs
from components.pools import SuperNodePool, SuperNodePoolArgs
from components.superlink import SuperLink, SuperLinkArgs

#: The components a provider (``provider/``) hosts, in composition order.
COMPONENTS = (Federation, SuperLink, SuperNodePool, FlowerAddon, ClientAppDistribution)

__all__ = [
    "COMPONENTS",
    "PACKAGE",
    "ClientAppDistribution",
    "ClientAppDistributionArgs",
    "ExistingSuperLink",
    "Federation",
    "FederationArgs",
    "FlowerAddon",
    "FlowerAddonArgs",
    "SuperLink",
    "SuperLinkArgs",
    "SuperNodePool",
    "SuperNodePoolArgs",
]
