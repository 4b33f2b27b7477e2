"""`FlowerAddon`: the SuperNode template addon (CMA, per-pool AddOnTemplates and ADCs, Manual-mode MCAs).

Objects come from :mod:`federation.manifests.ocm` (see its docstring for the variable,
``agentInstallNamespace`` and await-annotation decisions); this module only registers them.

Composition: the addon is given its pools and the SuperLink. The ClusterManagementAddOn takes the
Placement names from the pools' outputs (created after every Placement, deleted before them); the
AddOnTemplates take the CA from the SuperLink's output; the AddOnDeploymentConfigs live in the OCM
namespace, taken from the SuperLink's namespace output when it is the hub namespace. Inside, the CMA
depends on every template and ADC it references and each MCA on the CMA, template and ADC, so destroy
removes MCAs → CMA (the addon manager then removes the agents from the spokes) → templates and ADCs.

The SuperNode's node-auth key is NOT distributed here: create the Secret ``flower-supernode-auth``
(key ``private-key``, OpenSSH EC key) in the agent namespace of each spoke out of band.
"""

from typing import Any, TypedDict

import pulumi
import pulumi_kubernetes as k8s

from components._common import (
    REPLACE_ON_CHANGES,
    custom_resource,
    depends_on_list,
    kubernetes_object,
    registered,
    track,
    type_token,
)
from components._links import Link, PoolRefs, SuperLinkRef, link_of, pools_of
from components.args import OcmArgs, as_part
from components.pools import in_namespace, ocm_namespace
from federation.loading import parse_part
from federation.manifests import ocm
from federation.spec import FederationSpec, PoolSpec
from federation.templating import compact_json, compact_size

TYPE_TOKEN = type_token("FlowerAddon")


class FlowerAddonArgs(TypedDict, total=False):
    """Arguments of :class:`FlowerAddon`. `pools` and `superlink` are required."""

    pools: PoolRefs
    """The SuperNode pools (`SuperNodePool`s), in order: a cluster that several pools select gets the later one."""
    superlink: SuperLinkRef
    """The SuperLink the SuperNodes dial: a `SuperLink` of this program or an `ExistingSuperLink`."""
    ocm: OcmArgs | None
    """OCM settings (the `distribution.ocm` section): addon name, install strategy, agent namespace,
    variables, maxManifestBytes; default: the pools' (they must agree)."""
    superlink_address: pulumi.Input[str] | None
    """HOST:PORT the SuperNodes dial; default: the SuperLink's external address (or `ExistingSuperLink.address`)."""


#: Stands for the CA in a template until the CA (an Output) is known; it cannot occur in a PEM.
_CA_PROBE = "\x00superlink-ca\x00"


def _put_ca(obj: Any, ca: Any, probe: str = _CA_PROBE) -> int:
    """Replace every `probe` leaf of `obj` by `ca`, in place; how many there were."""
    count = 0
    items = obj.items() if isinstance(obj, dict) else enumerate(obj) if isinstance(obj, list) else ()
    for key, value in items:
        if value == probe:
            obj[key] = ca
            count += 1
        elif isinstance(value, dict | list):
            count += _put_ca(value, ca, probe)
    return count


class _TemplateSizes:
    """The AddOnTemplates' compact JSON sizes as a function of the CA, to check them against maxManifestBytes.

    Each template is built once, with `_CA_PROBE` where the CA goes; its size with the real CA is its
    size with the probe plus, per CA leaf, the difference of the two encoded strings (a template that
    carried the CA inside a longer string is rebuilt with the CA instead).
    """

    def __init__(self, spec: FederationSpec) -> None:
        self.spec = spec
        self.sizes: list[tuple[PoolSpec, str, int, int | None]] = []

    def add(self, pool: PoolSpec, template: dict[str, Any], ca: Any) -> None:
        """Record the size of `template` (built with the probe), then put `ca` in place of the probe."""
        text = compact_json(template)
        leaves = _put_ca(template, ca)
        exact = text.count(compact_json(_CA_PROBE)[1:-1]) == leaves
        self.sizes.append((pool, template["metadata"]["name"], len(text.encode()), leaves if exact else None))

    def checked(self, ca: str | None) -> str | None:
        """The CA PEM, once every pool's AddOnTemplate built with it is known to fit maxManifestBytes."""
        limit = self.spec.distribution.ocm.max_manifest_bytes
        delta = len(compact_json(ca).encode()) - len(compact_json(_CA_PROBE).encode())
        for pool, name, size, leaves in self.sizes:
            size = size + leaves * delta if leaves is not None else compact_size(ocm.addon_template(self.spec, pool, ca))
            if size > limit:
                raise ValueError(f"AddOnTemplate {name!r} is {size} bytes, over maxManifestBytes ({limit})")
        return ca


def _pool_of(spec: FederationSpec, placement: str) -> str:
    """The pool whose Placement is called `placement`."""
    return next(p.name for p in spec.pools if ocm.placement_name(spec, p) == placement)


class FlowerAddon(pulumi.ComponentResource):
    """The Flower SuperNode addon on the hub."""

    addon_name: pulumi.Output[str]
    """Name of the ClusterManagementAddOn."""
    template_names: pulumi.Output[list[str]]
    """Names of the per-pool AddOnTemplates, in pool order."""

    def __init__(self, name: str, args: FlowerAddonArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        if args.get("superlink") is None:
            raise ValueError("superlink: required")
        link = link_of(args["superlink"])
        pools = pools_of(args.get("pools"))
        ocm_part = as_part(args["ocm"]) if args.get("ocm") is not None else \
            pools[0].spec.distribution.ocm.model_dump(by_alias=True, exclude_unset=True)
        declaration = {"name": link.name, "flower": link.flower, "hub": link.hub,
                       "pools": [p.pool.model_dump(by_alias=True, exclude_unset=True) for p in pools],
                       "distribution": {"mode": "ocm", "ocm": ocm_part}}
        owned = {"federation.distribution.ocm": "ocm", **{f"federation.pools[{i}]": f"pools[{i}]" for i in range(len(pools))}}
        spec = parse_part(declaration, owned)
        self._construct(name, spec, link, pools, superlink_address=args.get("superlink_address"), opts=opts)

    @classmethod
    def from_spec(cls, name: str, spec: FederationSpec, link: Link, pools: PoolRefs, *,
                  superlink_address: pulumi.Input[str] | None = None,
                  opts: pulumi.ResourceOptions | None = None) -> "FlowerAddon":
        """The addon of an already validated `spec` (what :class:`~components.federation.Federation` uses)."""
        self = cls.__new__(cls)
        self._construct(name, spec, link, pools, superlink_address=superlink_address, opts=opts)
        return self

    def _construct(self, name: str, spec: FederationSpec, link: Link, pools: PoolRefs, *,
                   superlink_address: pulumi.Input[str] | None, opts: pulumi.ResourceOptions | None) -> None:
        super().__init__(TYPE_TOKEN, name, None, opts)
        track(self)
        #: The validated view the addon was built from (ClientApp distributions read it).
        self.spec = spec
        self.link = link
        self.pools = pools
        inherited = [*depends_on_list(opts), *link.depends_on]
        address: pulumi.Input[str] = superlink_address or link.address or ocm.superlink_address(spec)
        ca_certificate = link.ca_certificate
        ca = pulumi.Output.from_input(ca_certificate)
        namespace = ocm_namespace(spec, link)

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
            raise ValueError("superlink: the SuperNodes verify the SuperLink with its CA (TLS is on): give ca_certificate")
        # One checked CA Output for every template: the check needs only each template's size with a probe.
        sizes = _TemplateSizes(spec)
        # What the SuperNodes trust: the CA plus hub.tls.additionalCaCertificates; its checksum rolls them.
        ca_leaf = ca.apply(lambda pem: sizes.checked(None if pem is None else ocm.ca_bundle(spec, pem))) if tls else None
        checksum = ca_leaf.apply(lambda bundle: ocm.ca_checksum(bundle or "")) if ca_leaf is not None else None
        for pool in spec.pools:
            obj = ocm.addon_template(spec, pool, _CA_PROBE if tls else None)
            if tls:
                sizes.add(pool, obj, ca_leaf)
                _put_ca(obj, checksum, probe=ocm.CA_CHECKSUM_PLACEHOLDER)
            template = custom_resource(f"{name}-template-{pool.name}", obj, opts_(replace=["spec.addonName"]))
            self.templates.append(template)
            per_pool[pool.name] = template
            if spec.distribution.ocm.install_strategy != "Manual":
                self.configs.append(custom_resource(
                    f"{name}-config-{pool.name}", in_namespace(ocm.deployment_config(spec, pool, address), namespace), opts_(),
                ))
            else:  # Manual: one ADC per listed cluster (partition id), named by the cluster's MCA
                for cluster in sorted(pool.selection.clusters):
                    cfg = custom_resource(
                        f"{name}-cluster-config-{cluster}",
                        in_namespace(ocm.deployment_config(spec, pool, address, cluster=cluster), namespace),
                        opts_(),
                    )
                    self.configs.append(cfg)
                    cluster_configs[cluster] = cfg

        cma = ocm.cluster_management_addon(spec)
        by_name = {p.pool.name: p for p in pools}
        for entry in cma["spec"]["installStrategy"].get("placements", []):
            # The pool's output: the CMA is created after that Placement and deleted before it.
            entry["name"] = by_name[_pool_of(spec, entry["name"])].placement_name
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

        # registration: Automatic: the hub's SuperNode registrar (its Deployment after what it mounts and is bound to).
        self.registrar: list[pulumi.CustomResource] = []
        for obj in ocm.registrar_objects(spec):
            deps = self.registrar if obj["kind"] == "Deployment" else []
            self.registrar.append(kubernetes_object(
                f"{name}-registrar-{obj['kind'].lower()}", obj,
                pulumi.ResourceOptions(parent=self, depends_on=[*inherited, *deps], delete_before_replace=True,
                                       replace_on_changes=REPLACE_ON_CHANGES.get(obj["kind"]))))

        self.addon_name = registered(self.cluster_management_addon, cma["metadata"]["name"])
        self.template_names = registered(self.templates, template_names)
        self.register_outputs({"addon_name": self.addon_name, "template_names": self.template_names})
