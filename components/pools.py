"""`SuperNodePool`: the OCM Placement of one SuperNode pool, and the cluster-set bindings it owns.

Objects come from :mod:`federation.manifests.ocm`; this module only registers them.

Composition: a pool is given the SuperLink it serves (a :class:`~components.superlink.SuperLink`, or an
:class:`~components.ExistingSuperLink`). When the OCM namespace is the hub namespace the SuperLink
creates, the Placement and bindings take the namespace from the SuperLink's output, so they are created
after it and deleted before it without any ``depends_on``.

Bindings: one per cluster set. Several pools on the same cluster set share one
``ManagedClusterSetBinding``: give the later pool the earlier one in ``bindings_from``; it then
reuses (and depends on) the earlier pool's binding instead of registering it twice.
"""

from typing import Any, TypedDict

import pulumi
import pulumi_kubernetes as k8s

from components._common import custom_resource, depends_on_list, registered, track, type_token
from components._links import Link, PoolRefs, SuperLinkRef, link_of
from components.args import OcmArgs, PoolArgs, as_part
from federation.loading import parse_part
from federation.manifests import ocm
from federation.spec import FederationSpec, PoolSpec

TYPE_TOKEN = type_token("SuperNodePool")


class SuperNodePoolArgs(TypedDict, total=False):
    """Arguments of :class:`SuperNodePool`. `pool` and `superlink` are required."""

    pool: PoolArgs
    """The pool: name, cluster selection (sets, labels, claims, CEL, scores, tolerations, decision strategy),
    GPU, resources, replicas, isolation, image, nodeConfig, rollout (a `PoolSpec` or a mapping with its keys)."""
    superlink: SuperLinkRef
    """The SuperLink the pool's SuperNodes dial: a `SuperLink` of this program or an `ExistingSuperLink`
    (other languages: an object with `address`, `caCertificate`, `tls`, `supernodeAuth`, `name`, `namespace`)."""
    ocm: OcmArgs | None
    """OCM settings (the `distribution.ocm` section): the namespace of the Placement, addon name, install
    strategy, agent namespace; default: the hub namespace and the defaults of a declaration."""
    bindings_from: PoolRefs | None
    """Earlier pools whose ManagedClusterSetBindings this pool reuses (a binding is registered once per set)."""


class SuperNodePool(pulumi.ComponentResource):
    """One SuperNode pool on the hub: its Placement and the ManagedClusterSetBindings it owns."""

    placement_name: pulumi.Output[str]
    """Name of the pool's Placement."""
    namespace: pulumi.Output[str]
    """Namespace of the Placement (the OCM namespace)."""

    def __init__(self, name: str, args: SuperNodePoolArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        for key in ("pool", "superlink"):
            if args.get(key) is None:
                raise ValueError(f"{key}: required")
        link = link_of(args["superlink"])
        declaration = {"name": link.name, "flower": link.flower, "hub": link.hub, "pools": [as_part(args["pool"])],
                       "distribution": {"mode": "ocm", "ocm": as_part(args.get("ocm"))}}
        spec = parse_part(declaration, {"federation.pools[0]": "pool", "federation.distribution.ocm": "ocm"})
        self._construct(name, spec, spec.pools[0], link, list(args.get("bindings_from") or []), opts)

    @classmethod
    def from_spec(cls, name: str, spec: FederationSpec, pool: PoolSpec, link: Link,
                  bindings_from: "list[SuperNodePool]", opts: pulumi.ResourceOptions | None = None) -> "SuperNodePool":
        """The pool `pool` of an already validated `spec` (what :class:`~components.federation.Federation` uses)."""
        self = cls.__new__(cls)
        self._construct(name, spec, pool, link, bindings_from, opts)
        return self

    def _construct(self, name: str, spec: FederationSpec, pool: PoolSpec, link: Link,
                   bindings_from: "list[SuperNodePool]", opts: pulumi.ResourceOptions | None) -> None:
        super().__init__(TYPE_TOKEN, name, None, opts)
        track(self)
        #: The validated view this pool was built from, and its own part (the addon and ClientApps read them).
        self.spec = spec
        self.pool = pool
        self.link = link
        inherited = [*depends_on_list(opts), *link.depends_on]
        namespace = ocm_namespace(spec, link)
        reused = {s: b for earlier in bindings_from for s, b in earlier.bindings.items()}
        #: This pool's bindings by cluster set (only the sets no earlier pool in `bindings_from` binds).
        self.bindings: dict[str, k8s.apiextensions.CustomResource] = {}
        for obj in ocm.pool_bindings(spec, pool):
            cluster_set = obj["spec"]["clusterSet"]
            if cluster_set in reused:
                continue
            self.bindings[cluster_set] = custom_resource(
                f"{name}-binding-{cluster_set}", in_namespace(obj, namespace),
                pulumi.ResourceOptions(parent=self, depends_on=inherited, delete_before_replace=True,
                                       replace_on_changes=["spec.clusterSet"]),
            )
        uses = [reused[s] for s in pool.selection.cluster_sets if s in reused]
        placement = ocm.placement(spec, pool)
        self.placement = custom_resource(
            f"{name}-placement", in_namespace(placement, namespace),
            pulumi.ResourceOptions(parent=self, depends_on=[*inherited, *self.bindings.values(), *uses],
                                   delete_before_replace=True),
        )
        self.placement_name = registered(self.placement, placement["metadata"]["name"])
        self.namespace = registered(self.placement, placement["metadata"]["namespace"])
        # The known values themselves (what the Outputs resolve to): the same state, without the SDK awaiting and
        # scanning one more Output per value.
        self.register_outputs({"placement_name": placement["metadata"]["name"], "namespace": placement["metadata"]["namespace"]})


def ocm_namespace(spec: FederationSpec, link: Link) -> pulumi.Input[str]:
    """The OCM namespace, as the SuperLink's namespace output when it is the hub namespace (carrying the edge)."""
    return link.namespace if spec.ocm_namespace == spec.hub.namespace else spec.ocm_namespace


def in_namespace(obj: dict[str, Any], namespace: pulumi.Input[str]) -> dict[str, Any]:
    """`obj` with `metadata.namespace` set to `namespace` (an Output carries its dependency)."""
    return {**obj, "metadata": {**obj["metadata"], "namespace": namespace}}
