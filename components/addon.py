"""`FlowerAddon`: the SuperNode template addon (CMA, per-pool AddOnTemplates and ADCs, Manual-mode MCAs).

Objects come from :mod:`federation.manifests.ocm` (see its docstring for the variable,
``agentInstallNamespace`` and await-annotation decisions); this module only registers them.

Pass the pools (:class:`components.pools.SuperNodePool`) in ``depends_on``: the CMA's install
placements must exist first, and on destroy the addon goes before its Placements. Inside, the CMA depends
on every template and ADC it references and each MCA on the CMA, template and ADC, so destroy removes
MCAs → CMA (the addon manager then removes the agents from the spokes) → templates and ADCs.

The SuperNode's node-auth key is NOT distributed here: create the Secret ``flower-supernode-auth``
(key ``private-key``, OpenSSH EC key) in the agent namespace of each spoke out of band.
"""

import functools
from typing import Any, TypedDict

import pulumi
import pulumi_kubernetes as k8s

from components._common import custom_resource, depends_on_list, registered, type_token
from federation.loading import parse_spec
from federation.manifests import ocm
from federation.spec import FederationSpec, PoolSpec
from federation.templating import compact_size

TYPE_TOKEN = type_token("FlowerAddon")


class FlowerAddonArgs(TypedDict):
    """Arguments of :class:`FlowerAddon`."""

    federation: dict[str, Any]
    """The federation declaration (the value of `flower:federation`)."""
    ca_certificate: pulumi.Input[str] | None
    """PEM of the CA that signed the SuperLink certificate (public; required unless TLS is off)."""
    superlink_address: pulumi.Input[str] | None
    """HOST:PORT the SuperNodes dial; default: derived from `hub.exposure`."""
    placement_names: pulumi.Input[list[str]] | None
    """The pools' Placement names, in pool order: pass the `placementName` outputs of the pools' `SuperNodePool`s.

    The ClusterManagementAddOn takes them from these outputs, so it depends on exactly those Placements
    (created before it, deleted after it) without every addon object depending on every pool.
    Default: the names derived from the declaration, with no dependency."""




def _checked_ca(spec: FederationSpec, pool: PoolSpec, ca: str | None) -> str | None:
    """The CA PEM, once the pool's AddOnTemplate built with it is known to fit maxManifestBytes."""
    template = ocm.addon_template(spec, pool, ca)
    size = compact_size(template)
    limit = spec.distribution.ocm.max_manifest_bytes
    if size > limit:
        raise ValueError(f"AddOnTemplate {template['metadata']['name']!r} is {size} bytes, over maxManifestBytes ({limit})")
    return ca


def _checked_name(spec: FederationSpec, index: int, names: list[str]) -> str:
    expected = [ocm.placement_name(spec, p) for p in spec.pools]
    if list(names) != expected:
        raise ValueError(f"placement_names {list(names)} do not match the declaration's pools {expected}")
    return expected[index]


class FlowerAddon(pulumi.ComponentResource):
    """The Flower SuperNode addon on the hub."""

    addon_name: pulumi.Output[str]
    """Name of the ClusterManagementAddOn."""
    template_names: pulumi.Output[list[str]]
    """Names of the per-pool AddOnTemplates, in pool order."""

    def __init__(self, name: str, args: FlowerAddonArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        self._construct(name, parse_spec(args["federation"]), ca_certificate=args.get("ca_certificate"),
                        superlink_address=args.get("superlink_address"), placement_names=args.get("placement_names"),
                        opts=opts)

    @classmethod
    def from_spec(cls, name: str, spec: FederationSpec, *, ca_certificate: pulumi.Input[str] | None,
                  superlink_address: pulumi.Input[str] | None = None,
                  placement_names: pulumi.Input[list[str]] | None = None,
                  opts: pulumi.ResourceOptions | None = None) -> "FlowerAddon":
        """The addon of an already validated `spec`; the keywords are those of :class:`FlowerAddonArgs`."""
        self = cls.__new__(cls)
        self._construct(name, spec, ca_certificate=ca_certificate, superlink_address=superlink_address,
                        placement_names=placement_names, opts=opts)
        return self

    def _construct(self, name: str, spec: FederationSpec, *, ca_certificate: pulumi.Input[str] | None,
                   superlink_address: pulumi.Input[str] | None, placement_names: pulumi.Input[list[str]] | None,
                   opts: pulumi.ResourceOptions | None) -> None:
        super().__init__(TYPE_TOKEN, name, None, opts)
        inherited = depends_on_list(opts)
        address: pulumi.Input[str] = superlink_address or ocm.superlink_address(spec)
        ca = pulumi.Output.from_input(ca_certificate)

        def opts_(*deps: Any, replace: list[str] | None = None) -> pulumi.ResourceOptions:
            return pulumi.ResourceOptions(parent=self, depends_on=[*inherited, *deps], delete_before_replace=True,
                                          replace_on_changes=replace)

        self.templates: list[k8s.apiextensions.CustomResource] = []
        self.configs: list[k8s.apiextensions.CustomResource] = []
        self.cluster_addons: list[k8s.apiextensions.CustomResource] = []
        per_pool: dict[str, k8s.apiextensions.CustomResource] = {}
        cluster_configs: dict[str, k8s.apiextensions.CustomResource] = {}
        # Outputs go in as leaves of otherwise literal objects: the SDK scans an Output's whole value for
        # unknowns in time quadratic in its size, which a whole AddOnTemplate as one Output would pay.
        tls = spec.hub.tls.mode != "insecure"
        if tls and ca_certificate is None:
            raise ValueError("ca_certificate is required: the SuperNodes verify the SuperLink with it (TLS is on)")
        for pool in spec.pools:
            ca_leaf = ca.apply(functools.partial(_checked_ca, spec, pool)) if tls else None
            template = custom_resource(
                f"{name}-template-{pool.name}", ocm.addon_template(spec, pool, ca_leaf), opts_(replace=["spec.addonName"]),
            )
            self.templates.append(template)
            per_pool[pool.name] = template
            if spec.distribution.ocm.install_strategy != "Manual":
                self.configs.append(custom_resource(
                    f"{name}-config-{pool.name}", ocm.deployment_config(spec, pool, address), opts_(),
                ))
            else:  # Manual: one ADC per listed cluster (partition id), named by the cluster's MCA
                for cluster in sorted(pool.selection.clusters):
                    cfg = custom_resource(
                        f"{name}-cluster-config-{cluster}", ocm.deployment_config(spec, pool, address, cluster=cluster),
                        opts_(),
                    )
                    self.configs.append(cfg)
                    cluster_configs[cluster] = cfg

        cma = ocm.cluster_management_addon(spec)
        if placement_names is not None:
            names = pulumi.Output.from_input(placement_names)
            for i, entry in enumerate(cma["spec"]["installStrategy"].get("placements", [])):
                entry["name"] = names.apply(functools.partial(_checked_name, spec, i))
        self.cluster_management_addon = custom_resource(f"{name}-cma", cma, opts_(*self.templates, *self.configs))
        template_names = [str(ocm.template_name(spec, pool)) for pool in spec.pools]
        for pool in spec.pools:
            template = per_pool[pool.name]
            for mca in ocm.managed_cluster_addons(spec, pool):
                cluster = mca["metadata"]["namespace"]
                self.cluster_addons.append(custom_resource(
                    f"{name}-mca-{cluster}", mca,
                    opts_(self.cluster_management_addon, template, cluster_configs[cluster]),
                ))

        self.addon_name = registered(self.cluster_management_addon, cma["metadata"]["name"])
        self.template_names = pulumi.Output.all(*[t.urn for t in self.templates]).apply(lambda _: template_names)
        self.register_outputs({"addon_name": self.addon_name, "template_names": self.template_names})
