"""`ClientAppDistribution`: one ManifestWorkReplicaSet shipping a ClientApp SuperExec to its pools' clusters.

**Precondition:** the hub's ``ManifestWorkReplicaSet`` feature gate (Alpha, off by default) must be
enabled in ``ClusterManager.spec.workConfiguration.featureGates``; otherwise nothing reconciles the
MWRS and its ``pulumi.com/waitFor: condition=PlacementVerified`` await times out (by design: a loud
failure instead of a silent no-op).

Pass the target pools (:class:`components.pools.SuperNodePool`) and the
:class:`components.addon.FlowerAddon` in ``depends_on``: the Placements must exist, the SuperNode's
namespace comes from the addon, and on destroy the distribution is removed first (its
``cascadeDeletionPolicy: Background`` lets OCM delete the ManifestWorks while the Placements still exist).
"""

from typing import Any, TypedDict

import pulumi

from components.pools import custom_resource, depends_on_list, registered
from federation.loading import parse_spec
from federation.manifests import ocm


class ClientAppDistributionArgs(TypedDict):
    """Arguments of :class:`ClientAppDistribution`."""

    federation: dict[str, Any]
    """The federation declaration (the value of `flower:federation`)."""
    client_app: str
    """Name of the ClientApp in `federation.clientApps`."""


class ClientAppDistribution(pulumi.ComponentResource):
    """A ClientApp executor distributed with a ManifestWorkReplicaSet."""

    name: pulumi.Output[str]
    """Name of the ManifestWorkReplicaSet."""

    def __init__(self, name: str, args: ClientAppDistributionArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("flower-federation:index:ClientAppDistribution", name, None, opts)
        spec = parse_spec(args["federation"])
        index = next((i for i, a in enumerate(spec.client_apps) if a.name == args["client_app"]), None)
        if index is None:
            raise ValueError(f"unknown ClientApp {args['client_app']!r}")
        mwrs = ocm.manifest_work_replica_set(spec, index)
        self.manifest_work_replica_set = custom_resource(
            f"{name}-mwrs", mwrs,
            pulumi.ResourceOptions(parent=self, depends_on=depends_on_list(opts), delete_before_replace=True),
        )
        self.name = registered(self.manifest_work_replica_set, mwrs["metadata"]["name"])
        self.register_outputs({"name": self.name})
