"""`ClientAppDistribution`: one ManifestWorkReplicaSet shipping a ClientApp SuperExec to its pools' clusters.

**Precondition:** the hub's ``ManifestWorkReplicaSet`` feature gate (Alpha, off by default) must be
enabled in ``ClusterManager.spec.workConfiguration.featureGates``; otherwise nothing reconciles the
MWRS and its ``pulumi.com/waitFor: condition=PlacementVerified`` await times out (by design: a loud
failure instead of a silent no-op).

Composition: a distribution is given its pools and the addon. It depends on the pools' Placements and on
the addon's ClusterManagementAddOn (the SuperNode namespace on the spokes comes from the addon), so
``pulumi destroy`` removes it first: its ``cascadeDeletionPolicy: Background`` lets OCM delete the
ManifestWorks while the Placements still exist.
"""

from typing import TypedDict

import pulumi

from components._common import custom_resource, depends_on_list, registered, track, type_token
from components._links import AddonRef, PoolRefs, pools_of
from components.args import ClientAppArgs, as_part
from components.pools import in_namespace, ocm_namespace
from federation.errors import Problem, SpecError
from federation.loading import parse_part
from federation.manifests import ocm
from federation.spec import ClientAppSpec, FederationSpec

TYPE_TOKEN = type_token("ClientAppDistribution")


class ClientAppDistributionArgs(TypedDict, total=False):
    """Arguments of :class:`ClientAppDistribution`. All three are required."""

    client_app: ClientAppArgs
    """The ClientApp: name, image (a SuperExec image with the app's dependencies), resources, GPU, rollout
    (a `ClientAppSpec` or a mapping with its keys; `pools` may be left out: the pools below)."""
    pools: PoolRefs
    """The pools (`SuperNodePool`s) whose clusters run the ClientApp (process isolation)."""
    addon: AddonRef
    """The `FlowerAddon` that runs the SuperNodes on those clusters."""


class ClientAppDistribution(pulumi.ComponentResource):
    """A ClientApp executor distributed with a ManifestWorkReplicaSet."""

    manifest_work_replica_set_name: pulumi.Output[str]
    """Name of the ManifestWorkReplicaSet."""

    def __init__(self, name: str, args: ClientAppDistributionArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        from components.addon import FlowerAddon

        for key in ("client_app", "addon"):
            if args.get(key) is None:
                raise ValueError(f"{key}: required")
        addon = args["addon"]
        if not isinstance(addon, FlowerAddon):
            raise TypeError(f"addon: expected a FlowerAddon, got {type(addon).__name__}")
        pools = pools_of(args.get("pools"))
        app = as_part(args["client_app"])
        given = [p.pool.name for p in pools]
        if "pools" not in app:
            app["pools"] = given
        elif sorted(app["pools"]) != sorted(given):
            raise SpecError([Problem("client_app.pools", f"{app['pools']} differ from the pools given ({given})")])
        outside = [n for n in given if n not in {p.pool.name for p in addon.pools}]
        if outside:
            raise SpecError([Problem("pools", f"{outside} are not pools of the addon")])
        parts = {"name", "flower", "hub", "pools", "distribution"}
        declaration = {**addon.spec.model_dump(by_alias=True, exclude_unset=True, include=parts), "clientApps": [app]}
        spec = parse_part(declaration, {"federation.clientApps[0]": "client_app"})
        self._construct(name, spec, spec.client_apps[0], pools, addon, opts)

    @classmethod
    def from_spec(cls, name: str, spec: FederationSpec, app: ClientAppSpec, pools: PoolRefs,
                  addon: AddonRef, opts: pulumi.ResourceOptions | None = None) -> "ClientAppDistribution":
        """The ClientApp `app` of an already validated `spec` (what :class:`~components.federation.Federation` uses)."""
        self = cls.__new__(cls)
        self._construct(name, spec, app, pools, addon, opts)
        return self

    def _construct(self, name: str, spec: FederationSpec, app: ClientAppSpec, pools: PoolRefs,
                   addon: AddonRef, opts: pulumi.ResourceOptions | None) -> None:
        super().__init__(TYPE_TOKEN, name, None, opts)
        track(self)
        mwrs = ocm.manifest_work_replica_set(spec, app)
        namespace = ocm_namespace(spec, addon.link)
        inherited = [*depends_on_list(opts), *addon.link.depends_on]
        #: The Placements of the ManifestWorkReplicaSet, one per pool: the pool's clusters whose SuperNode is available.
        self.placements = [
            custom_resource(
                f"{name}-placement-{ref.pool.name}", in_namespace(ocm.clientapp_placement(spec, ref.pool), namespace),
                pulumi.ResourceOptions(parent=self, depends_on=[*inherited, ref.placement], delete_before_replace=True),
            )
            for ref in pools if ref.pool.name in app.pools
        ]
        deps = [*inherited, *self.placements, addon.cluster_management_addon]
        self.manifest_work_replica_set = custom_resource(
            f"{name}-mwrs", in_namespace(mwrs, namespace),
            pulumi.ResourceOptions(parent=self, depends_on=deps, delete_before_replace=True),
        )
        self.manifest_work_replica_set_name = registered(self.manifest_work_replica_set, mwrs["metadata"]["name"])
        self.register_outputs({"manifest_work_replica_set_name": mwrs["metadata"]["name"]})  # the value, as in pools.py
