"""`Federation`: the whole federation from one declaration — SuperLink, pools, addon, ClientApps.

Composition and ordering (``pulumi destroy`` runs it backwards, so no OCM finalizer waits on an
object that is already gone):

1. :class:`~components.superlink.SuperLink` — the hub (namespace, key material, SuperLink, ...);
2. one :class:`~components.pools.SuperNodePool` per pool (Placement + the cluster-set bindings it
   owns), each depending on the hub and on the earlier pools that own a binding it uses;
3. :class:`~components.addon.FlowerAddon` (CMA, AddOnTemplates, ADCs), depending on the hub; its
   ClusterManagementAddOn takes the pools' Placement names from their outputs, so it alone depends on
   every Placement (whose bindings come before it);
4. one :class:`~components.clientapps.ClientAppDistribution` per ClientApp, depending on its own pools
   and on the addon's ClusterManagementAddOn (which itself depends on everything of the addon).

Dependencies are as narrow as that on purpose: the SDK expands a dependency on a component into all
of its children and checks every edge for cycles by walking the graph, so depending on every earlier
pool, or giving every addon object every Placement, costs O(pools^2) edges and made `pulumi preview`
superlinear (benchmarks/bench_program.py).

Pass the hub's Kubernetes provider with ``opts=ResourceOptions(providers=[hub_provider])``: every
child inherits it.
"""

from typing import Any, TypedDict, cast

import pulumi

from components._common import depends_on_list, type_token
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
        spec = parse_spec(args["federation"])  # the one parse: children get the typed spec
        inherited = depends_on_list(opts)

        def child(*deps: Any) -> pulumi.ResourceOptions:
            return pulumi.ResourceOptions(parent=self, depends_on=[*inherited, *deps] or None)

        self.superlink = SuperLink.from_spec(
            f"{name}-superlink", spec, existing_ca_certificate=args.get("existing_ca_certificate"), opts=child(),
        )
        self.pools: list[SuperNodePool] = []
        by_name: dict[str, SuperNodePool] = {}
        owners = ocm.binding_owners(spec)
        for pool in spec.pools:
            uses = dict.fromkeys(owners[s] for s in pool.selection.cluster_sets if owners[s] != pool.name)
            by_name[pool.name] = SuperNodePool.from_spec(
                f"{name}-pool-{pool.name}", spec, pool, child(self.superlink, *(by_name[o] for o in uses)),
            )
            self.pools.append(by_name[pool.name])
        self.addon = FlowerAddon.from_spec(
            f"{name}-addon", spec,
            ca_certificate=cast(pulumi.Output[str], self.superlink.ca_certificate),  # None only when insecure (no CA shipped)
            placement_names=pulumi.Output.all(*[p.placement_name for p in self.pools]).apply(list),
            opts=child(self.superlink),
        )
        self.client_apps = [
            ClientAppDistribution.from_spec(f"{name}-clientapp-{app.name}", spec, app,
                                            child(*(by_name[p] for p in app.pools), self.addon.cluster_management_addon))
            for app in spec.client_apps
        ]

        self.superlink_address = self.superlink.in_cluster_address
        self.superlink_external_address = self.superlink.external_address
        self.ca_certificate = self.superlink.ca_certificate
        self.namespace = self.superlink.namespace
        self.placement_names = pulumi.Output.all(*[p.placement_name for p in self.pools]).apply(list)
        self.addon_name = self.addon.addon_name
        self.client_app_names = pulumi.Output.all(*[a.name for a in self.client_apps]).apply(list)
        self.register_outputs({
            "superlink_address": self.superlink_address,
            "superlink_external_address": self.superlink_external_address,
            "ca_certificate": self.ca_certificate,
            "namespace": self.namespace,
            "placement_names": self.placement_names,
            "addon_name": self.addon_name,
            "client_app_names": self.client_app_names,
        })
