"""`SuperNodePool`: the OCM Placement of one SuperNode pool, and the cluster-set bindings it owns.

Objects come from :mod:`federation.manifests.ocm`; this module only registers them.

Destroy ordering: Pulumi deletes dependents first. Create the pools first, pass them in
``depends_on`` of :class:`components.addon.FlowerAddon`, and pass both to every
:class:`components.clientapps.ClientAppDistribution`; ``pulumi destroy`` then removes ClientApp
distributions → addon (templates, configs) → placements → bindings, so no OCM finalizer ever waits for
an object that is already gone.

Bindings: one per cluster set, owned by the FIRST pool (in spec order) that uses the set, so several
pools never register the same ``ManagedClusterSetBinding`` twice. Pass earlier pools in ``depends_on``
of later ones if a later pool also uses a set an earlier pool owns.
"""

from typing import Any, TypedDict

import pulumi
import pulumi_kubernetes as k8s

from components._common import custom_resource, depends_on_list, registered, type_token
from federation.loading import parse_spec
from federation.manifests import ocm
from federation.spec import FederationSpec, PoolSpec

TYPE_TOKEN = type_token("SuperNodePool")


class SuperNodePoolArgs(TypedDict):
    """Arguments of :class:`SuperNodePool`."""

    federation: dict[str, Any]
    """The federation declaration (the value of `flower:federation`)."""
    pool: str
    """Name of the pool in `federation.pools`."""


class SuperNodePool(pulumi.ComponentResource):
    """One SuperNode pool on the hub: its Placement and the ManagedClusterSetBindings it owns."""

    placement_name: pulumi.Output[str]
    """Name of the pool's Placement."""
    namespace: pulumi.Output[str]
    """Namespace of the Placement (the OCM namespace)."""

    def __init__(self, name: str, args: SuperNodePoolArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        spec = parse_spec(args["federation"])
        if args["pool"] not in spec.pools_by_name:
            raise ValueError(f"pool: no pool {args['pool']!r} in the declaration (pools: {sorted(spec.pools_by_name)})")
        self._construct(name, spec, spec.pool(args["pool"]), opts)

    @classmethod
    def from_spec(cls, name: str, spec: FederationSpec, pool: PoolSpec,
                  opts: pulumi.ResourceOptions | None = None) -> "SuperNodePool":
        """The pool `pool` of an already validated `spec` (what :class:`~components.federation.Federation` uses)."""
        self = cls.__new__(cls)
        self._construct(name, spec, pool, opts)
        return self

    def _construct(self, name: str, spec: FederationSpec, pool: PoolSpec, opts: pulumi.ResourceOptions | None) -> None:
        super().__init__(TYPE_TOKEN, name, None, opts)
        inherited = depends_on_list(opts)
        self.bindings: list[k8s.apiextensions.CustomResource] = []
        for obj in ocm.owned_bindings(spec, pool):
            cluster_set = obj["spec"]["clusterSet"]
            self.bindings.append(custom_resource(
                f"{name}-binding-{cluster_set}", obj,
                pulumi.ResourceOptions(parent=self, depends_on=inherited, delete_before_replace=True,
                                       replace_on_changes=["spec.clusterSet"]),
            ))
        placement = ocm.placement(spec, pool)
        self.placement = custom_resource(
            f"{name}-placement", placement,
            pulumi.ResourceOptions(parent=self, depends_on=[*inherited, *self.bindings], delete_before_replace=True),
        )
        self.placement_name = registered(self.placement, placement["metadata"]["name"])
        self.namespace = registered(self.placement, placement["metadata"]["namespace"])
        self.register_outputs({"placement_name": self.placement_name, "namespace": self.namespace})
