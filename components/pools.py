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

from federation.loading import parse_spec
from federation.manifests import ocm
from federation.manifests.common import Obj


def depends_on_list(opts: pulumi.ResourceOptions | None) -> list[Any]:
    """The component's own ``depends_on`` as a list, to hand down to its children explicitly."""
    if opts is None or opts.depends_on is None:
        return []
    deps = opts.depends_on
    return list(deps) if isinstance(deps, list | tuple) else [deps]


def registered(res: pulumi.Resource, value: str) -> pulumi.Output[str]:
    """`value` (a name the builders chose) as an Output that resolves once `res` is registered.

    Dependents of the Output depend on `res`, as with an output of `res` itself.
    """
    return res.urn.apply(lambda _: value)


def custom_resource(name: str, obj: Obj, opts: pulumi.ResourceOptions, spec: Any = None) -> k8s.apiextensions.CustomResource:
    """Register a rendered OCM object; `spec` may be an Output replacing ``obj["spec"]``."""
    return k8s.apiextensions.CustomResource(
        name,
        api_version=str(obj["apiVersion"]),
        kind=str(obj["kind"]),
        metadata=obj["metadata"],
        spec=obj["spec"] if spec is None else spec,
        opts=opts,
    )


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
        super().__init__("flower-federation:index:SuperNodePool", name, None, opts)
        spec = parse_spec(args["federation"])
        pool = spec.pool(args["pool"])
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
