"""`Federation`: the whole federation from one declaration — SuperLink, pools, addon, ClientApps.

The declaration is parsed once; the children are the same building blocks a program can compose by
hand, built from the typed spec (``from_spec``), so there is one path. Ordering (``pulumi destroy``
runs it backwards, so no OCM finalizer waits on an object that is already gone) follows from the
references between them:

1. :class:`~components.superlink.SuperLink` — the hub (namespace, key material, SuperLink, ...);
2. one :class:`~components.pools.SuperNodePool` per pool, given the SuperLink: its Placement and
   bindings take the hub namespace from the SuperLink's output; a pool reuses the binding of the
   earlier pool that owns its cluster set (and depends on exactly that binding);
3. :class:`~components.addon.FlowerAddon`, given the pools and the SuperLink: its ClusterManagementAddOn
   takes the Placement names from the pools' outputs, the templates the CA from the SuperLink's;
4. one :class:`~components.clientapps.ClientAppDistribution` per ClientApp, given its pools and the
   addon: it depends on their Placements and on the ClusterManagementAddOn.

Dependencies are as narrow as that on purpose: the SDK expands a dependency on a component into all
of its children and checks every edge for cycles by walking the graph, so depending on whole
components costs O(pools^2) edges and made `pulumi preview` superlinear (benchmarks/bench_program.py).

Pass the hub's Kubernetes provider with ``opts=ResourceOptions(providers=[hub_provider])``: every
child inherits it.
"""

from typing import Any, TypedDict

import pulumi

from components._common import depends_on_list, registered, track, type_token
from components._links import link_of
from components.addon import FlowerAddon
from components.clientapps import ClientAppDistribution
from components.pools import SuperNodePool
from components.superlink import SuperLink
from federation.loading import parse_spec
from federation.manifests import ocm

TYPE_TOKEN = type_token("Federation")


class FederationArgs(TypedDict):
    """Arguments of :class:`Federation`."""

    federation: dict[str, Any]
    """The federation declaration (the value of `flower:federation`, camelCase keys)."""
    existing_ca_certificate: pulumi.Input[str] | None
    """tls.mode existingSecret only: the CA PEM of your Secret, shipped to the SuperNodes."""


class Federation(pulumi.ComponentResource):
    """A Flower federation on a hub cluster managed with Open Cluster Management."""

    superlink_address: pulumi.Output[str]
    """`host:port` of the SuperLink inside the hub cluster."""
    superlink_external_address: pulumi.Output[str | None]
    """`host:port` the SuperNodes on the managed clusters dial."""
    ca_certificate: pulumi.Output[str | None]
    """PEM of the CA that clients (SuperNodes, `flwr`) must trust; public."""
    placement_names: pulumi.Output[list[str]]
    """The pools' Placement names, in pool order."""
    addon_name: pulumi.Output[str]
    """Name of the SuperNode ClusterManagementAddOn."""
    client_app_names: pulumi.Output[list[str]]
    """Names of the ClientApps' ManifestWorkReplicaSets, in declaration order."""
    namespace: pulumi.Output[str]
    """The hub namespace."""

    def __init__(self, name: str, args: FederationArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(TYPE_TOKEN, name, None, opts)
        track(self)
        spec = parse_spec(args["federation"])  # the one parse: children get the typed spec
        inherited = depends_on_list(opts)

        def child(*deps: Any) -> pulumi.ResourceOptions:
            return pulumi.ResourceOptions(parent=self, depends_on=[*inherited, *deps] or None)

        self.superlink = SuperLink.from_spec(
            f"{name}-superlink", spec, existing_ca_certificate=args.get("existing_ca_certificate"), opts=child(),
        )
        link = link_of(self.superlink)
        self.pools: list[SuperNodePool] = []
        by_name: dict[str, SuperNodePool] = {}
        owners = ocm.binding_owners(spec)
        for pool in spec.pools:
            earlier = [by_name[o] for o in dict.fromkeys(owners[s] for s in pool.selection.cluster_sets) if o != pool.name]
            by_name[pool.name] = SuperNodePool.from_spec(f"{name}-pool-{pool.name}", spec, pool, link, earlier, child())
            self.pools.append(by_name[pool.name])
        self.addon = FlowerAddon.from_spec(f"{name}-addon", spec, link, self.pools, opts=child())
        self.client_apps = [
            ClientAppDistribution.from_spec(f"{name}-clientapp-{app.name}", spec, app,
                                            [by_name[p] for p in app.pools], self.addon, child())
            for app in spec.client_apps
        ]

        self.superlink_address = self.superlink.in_cluster_address
        self.superlink_external_address = self.superlink.external_address
        self.ca_certificate = self.superlink.ca_certificate
        self.namespace = self.superlink.namespace
        self.placement_names = registered([p.placement for p in self.pools],
                                          [ocm.placement_name(spec, p) for p in spec.pools])
        self.addon_name = self.addon.addon_name
        self.client_app_names = registered([a.manifest_work_replica_set for a in self.client_apps],
                                           [ocm.mwrs_name(spec, a) for a in spec.client_apps])
        self.register_outputs({
            "superlink_address": self.superlink_address,
            "superlink_external_address": self.superlink_external_address,
            "ca_certificate": self.ca_certificate,
            "namespace": self.namespace,
            "placement_names": self.placement_names,
            "addon_name": self.addon_name,
            "client_app_names": self.client_app_names,
        })
