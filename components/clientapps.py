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

from components._common import custom_resource, depends_on_list, registered, type_token
from federation.loading import parse_spec
from federation.manifests import ocm
from federation.spec import ClientAppSpec, FederationSpec

TYPE_TOKEN = type_token("ClientAppDistribution")


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
        spec = parse_spec(args["federation"])
        app = next((a for a in spec.client_apps if a.name == args["client_app"]), None)
        if app is None:
            raise ValueError(f"client_app: no ClientApp {args['client_app']!r} in the declaration "
                             f"(clientApps: {sorted(a.name for a in spec.client_apps)})")
        self._construct(name, spec, app, opts)

    @classmethod
    def from_spec(cls, name: str, spec: FederationSpec, app: ClientAppSpec,
                  opts: pulumi.ResourceOptions | None = None) -> "ClientAppDistribution":
        """The ClientApp `app` of an already validated `spec` (what :class:`~components.federation.Federation` uses)."""
        self = cls.__new__(cls)
        self._construct(name, spec, app, opts)
        return self

    def _construct(self, name: str, spec: FederationSpec, app: ClientAppSpec, opts: pulumi.ResourceOptions | None) -> None:
        super().__init__(TYPE_TOKEN, name, None, opts)
        mwrs = ocm.manifest_work_replica_set(spec, app)
        self.manifest_work_replica_set = custom_resource(
            f"{name}-mwrs", mwrs,
            pulumi.ResourceOptions(parent=self, depends_on=depends_on_list(opts), delete_before_replace=True),
        )
        self.name = registered(self.manifest_work_replica_set, mwrs["metadata"]["name"])
        self.register_outputs({"name": self.name})
