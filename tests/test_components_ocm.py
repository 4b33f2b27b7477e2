"""The OCM components under Pulumi mocks: type tokens, options, schema validity, ordering, determinism."""

from __future__ import annotations

import copy
import json
from typing import Any

import pulumi
import pytest

from components import ExistingSuperLink
from components.addon import FlowerAddon
from components.clientapps import ClientAppDistribution
from components.pools import SuperNodePool
from components.superlink import SuperLink
from federation.loading import parse_spec
from federation.manifests import ocm
from tests.conftest import unwrap
from tests.schemas import validate_ocm
from tests.test_components_superlink import inject_state, superlink_args
from tests.test_manifests_ocm import ADDRESS, CA, VARIANTS

T = "kubernetes:"
PLACEMENT = T + "cluster.open-cluster-management.io/v1beta1:Placement"
BINDING = T + "cluster.open-cluster-management.io/v1beta2:ManagedClusterSetBinding"
CMA = T + "addon.open-cluster-management.io/v1alpha1:ClusterManagementAddOn"
TEMPLATE = T + "addon.open-cluster-management.io/v1alpha1:AddOnTemplate"
ADC = T + "addon.open-cluster-management.io/v1alpha1:AddOnDeploymentConfig"
MCA = T + "addon.open-cluster-management.io/v1alpha1:ManagedClusterAddOn"
MWRS = T + "work.open-cluster-management.io/v1alpha1:ManifestWorkReplicaSet"


class Deployed:
    def __init__(self, pools: list[SuperNodePool], addon: FlowerAddon, apps: list[ClientAppDistribution]) -> None:
        self.pools, self.addon, self.apps = pools, addon, apps

    def outputs(self) -> pulumi.Output[Any]:
        children: list[Any] = [p.placement.id for p in self.pools]
        children += [b.id for p in self.pools for b in p.bindings.values()]
        children += [r.id for r in [*self.addon.templates, *self.addon.configs, *self.addon.cluster_addons,
                                    self.addon.cluster_management_addon]]
        children += [a.manifest_work_replica_set.id for a in self.apps]
        return pulumi.Output.all(
            *children,
            [p.placement_name for p in self.pools], [p.namespace for p in self.pools],
            self.addon.addon_name, self.addon.template_names, [a.manifest_work_replica_set_name for a in self.apps],
        )


def existing_superlink(data: dict[str, Any], address: str = ADDRESS) -> ExistingSuperLink:
    """The SuperLink of `data`, described the way a program that does not deploy it would."""
    spec = parse_spec(data)
    tls = spec.hub.tls.mode != "insecure"
    return ExistingSuperLink(address=address, ca_certificate=pulumi.Output.secret(CA) if tls else None, tls=tls,
                             allow_insecure=spec.hub.tls.allow_insecure, supernode_auth=spec.hub.supernode_auth.enabled,
                             name=spec.name, namespace=spec.hub.namespace, flower=data.get("flower"))


def deploy(data: dict[str, Any], *, address: str = ADDRESS) -> Deployed:
    """The whole OCM side from the building blocks, composed by reference (no depends_on)."""
    spec = parse_spec(data)
    link = existing_superlink(data, address)
    ocm_part = (data.get("distribution") or {}).get("ocm")
    owners = ocm.binding_owners(spec)
    pools: list[SuperNodePool] = []
    for pool in spec.pools:
        earlier = [p for p in pools if p.pool.name in {owners[s] for s in pool.selection.cluster_sets}]
        pools.append(SuperNodePool(f"pool-{pool.name}", {"pool": pool, "superlink": link, "ocm": ocm_part,
                                                         "bindings_from": earlier}))
    addon = FlowerAddon("addon", {"pools": pools, "superlink": link, "ocm": ocm_part})
    by_name = {p.pool.name: p for p in pools}
    apps = [ClientAppDistribution(f"app-{a.name}", {"client_app": a, "pools": [by_name[n] for n in a.pools], "addon": addon})
            for a in spec.client_apps]
    return Deployed(pools, addon, apps)


def obj_of(r: Any) -> dict[str, Any]:
    inputs = unwrap(r.inputs)
    return {k: inputs[k] for k in ("apiVersion", "kind", "metadata", "spec")}


def urn_of(mocks: Any, name: str) -> str:
    req = mocks.requests[name]
    deps = [u for r in mocks.requests.values() for u in r.dependencies if u.endswith(f"::{name}")]
    return deps[0] if deps else f"?{req.type}::{name}"


def deps_of(mocks: Any, name: str) -> set[str]:
    return {u.rsplit("::", 1)[-1] for u in mocks.requests[name].dependencies}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_components_register_valid_objects_equal_to_the_builders(pulumi_mocks: Any, variant: str) -> None:
    data = VARIANTS[variant]()
    # An ExistingSuperLink says only whether node auth is on: keys are then registered by hand (the registrar of
    # registration: Automatic is deployed next to a SuperLink of this program).
    manual = copy.deepcopy(data)
    if (manual.get("hub") or {}).get("supernodeAuth", {}).get("registration"):
        manual["hub"]["supernodeAuth"]["registration"] = "Manual"
    spec = parse_spec(manual)

    @pulumi.runtime.test
    def program() -> Any:
        return deploy(data).outputs().apply(check)

    def check(values: list[Any]) -> None:
        registered = [obj_of(r) for r in pulumi_mocks.resources if r.typ.startswith(T)]
        for obj in registered:
            validate_ocm(obj)
        key = lambda o: (o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"])  # noqa: E731
        want = ocm.all_objects(spec, ca_certificate=CA, superlink_address=ADDRESS)
        assert sorted(registered, key=key) == sorted(want, key=key)
        placement_names, namespaces, addon_name, template_names, app_names = values[-5:]
        assert placement_names == [ocm.placement_name(spec, p) for p in spec.pools]
        assert set(namespaces) == {spec.ocm_namespace}
        assert addon_name == spec.distribution.ocm.addon_name
        assert template_names == [ocm.template_name(spec, p) for p in spec.pools]
        assert app_names == [ocm.mwrs_name(spec, a) for a in spec.client_apps]

    program()


def test_type_tokens_and_options(pulumi_mocks: Any) -> None:
    data = VARIANTS["manual"]()

    @pulumi.runtime.test
    def program() -> Any:
        return deploy(data).outputs().apply(check)

    def check(_: Any) -> None:
        types = {r.typ for r in pulumi_mocks.resources}
        assert {PLACEMENT, BINDING, CMA, TEMPLATE, ADC, MCA, MWRS} <= types
        assert {"flower-federation:index:SuperNodePool", "flower-federation:index:FlowerAddon",
                "flower-federation:index:ClientAppDistribution"} <= types
        reqs = pulumi_mocks.requests
        for r in pulumi_mocks.resources:
            if not r.typ.startswith(T):
                continue
            req = reqs[r.name]
            assert req.deleteBeforeReplace, r.name
            assert req.parent, r.name  # every OCM object is a child of a component
        for name, req in reqs.items():
            if req.type == BINDING:
                assert list(req.replaceOnChanges) == ["spec.clusterSet"]
                assert name.startswith("pool-")
            if req.type == TEMPLATE:
                assert list(req.replaceOnChanges) == ["spec.addonName"]
                assert name.startswith("addon-template-")
        # the binding is owned by the first pool using the set; the later pool's Placement still waits for it
        bindings = [n for n, r in reqs.items() if r.type == BINDING]
        assert bindings == ["pool-cpu-binding-research"]
        assert "pool-cpu-binding-research" in deps_of(pulumi_mocks, "pool-cpu-placement")
        assert "pool-cpu-binding-research" in deps_of(pulumi_mocks, "pool-gpu-placement")
        # Manual mode: the CMA names no placements, so nothing of the addon waits for them; the CMA after
        # the templates and configs; MCA after CMA + its template + config
        assert not {"pool-cpu-placement", "pool-gpu-placement"} & deps_of(pulumi_mocks, "addon-cma")
        assert not {"pool-cpu-placement", "pool-gpu-placement"} & deps_of(pulumi_mocks, "addon-template-gpu")
        assert {"addon-template-cpu", "addon-template-gpu", "addon-cluster-config-edge-a",
                "addon-cluster-config-gpu-1"} <= deps_of(pulumi_mocks, "addon-cma")
        assert "addon-config-cpu" not in reqs  # Manual: per-cluster ADCs only
        assert {"addon-cma", "addon-template-gpu", "addon-cluster-config-gpu-1"} <= deps_of(pulumi_mocks, "addon-mca-gpu-1")
        # ClientApp distributions after the addon and the placements (destroyed first)
        mwrs_deps = deps_of(pulumi_mocks, "app-trainer-gpu-mwrs")
        assert {"addon-cma", "app-trainer-gpu-placement-gpu"} <= mwrs_deps
        # its ClientApp Placement (the pool's clusters whose addon is available) after the pool's Placement
        assert "pool-gpu-placement" in deps_of(pulumi_mocks, "app-trainer-gpu-placement-gpu")

    program()


def test_default_superlink_address_comes_from_the_superlinks_exposure(pulumi_mocks: Any) -> None:
    data = VARIANTS["dev"]()
    inject_state(pulumi_mocks, "hub", data)

    @pulumi.runtime.test
    def program() -> Any:
        link = SuperLink("hub", superlink_args(data))
        (pool,) = [SuperNodePool(f"pool-{p['name']}", {"pool": p, "superlink": link}) for p in data["pools"]]
        addon = FlowerAddon("addon", {"pools": [pool], "superlink": link})
        return pulumi.Output.all(addon.addon_name, pool.placement_name).apply(check)

    def check(_: Any) -> None:
        (adc,) = [obj_of(r) for r in pulumi_mocks.resources if r.typ == ADC]
        assert ocm.adc_variables(adc)[ocm.VAR_SUPERLINK_ADDRESS] == "superlink.dev.flower.example.com:30800"
        # references, not depends_on: the ADC and the Placement wait for the hub Namespace, the templates
        # for the certificate (their CA), the CMA for the Placement (its install strategy names it)
        assert "hub-namespace-flower-dev" in deps_of(pulumi_mocks, "addon-config-cpu")
        assert "hub-namespace-flower-dev" in deps_of(pulumi_mocks, "pool-cpu-placement")
        assert "hub-tls" in deps_of(pulumi_mocks, "addon-template-cpu")
        assert "pool-cpu-placement" in deps_of(pulumi_mocks, "addon-cma")

    program()


def test_no_private_key_reaches_registered_inputs(pulumi_mocks: Any) -> None:
    data = VARIANTS["prod"]()

    @pulumi.runtime.test
    def program() -> Any:
        return deploy(data).outputs().apply(check)

    def check(_: Any) -> None:
        text = json.dumps([unwrap(r.inputs) for r in pulumi_mocks.resources], default=str)
        assert "PRIVATE KEY" not in text
        assert "BEGIN CERTIFICATE" in text

    program()


def test_reevaluation_is_identical(pulumi_mocks: Any) -> None:
    data = VARIANTS["prod"]()
    recorder_type = type(pulumi_mocks)
    runs: list[list[tuple[str, str, str]]] = []

    @pulumi.runtime.test
    def program() -> Any:
        return deploy(data).outputs()

    for _ in range(2):
        recorder = recorder_type()
        pulumi.runtime.set_mocks(recorder, project="flower-federation", stack="test", preview=False)
        program()
        # registration order may interleave (Outputs resolve asynchronously); the set of objects may not differ
        runs.append(sorted((r.typ, r.name, json.dumps(unwrap(r.inputs), sort_keys=True)) for r in recorder.resources))
    assert runs[0] == runs[1]
    assert len(runs[0]) > 10


def test_blocks_validate_their_own_arguments_with_field_paths(pulumi_mocks: Any) -> None:
    from federation.errors import SpecError

    data = VARIANTS["prod"]()
    link = existing_superlink(data)
    bad = dict(data["pools"][1])
    bad["gpu"] = {**bad["gpu"], "count": 0}
    with pytest.raises(SpecError, match=r"^pool\.gpu\.count: must be >= 1"):
        SuperNodePool("bad", {"pool": bad, "superlink": link})
    assert pulumi_mocks.resources == []  # nothing registered

    @pulumi.runtime.test
    def overlapping() -> Any:
        a = SuperNodePool("a", {"pool": {"name": "a", "selection": {"clusterSets": ["s"]}}, "superlink": link})
        b = SuperNodePool("b", {"pool": {"name": "b", "selection": {"clusterSets": ["s"]}}, "superlink": link,
                                "bindings_from": [a]})
        FlowerAddon("addon", {"pools": [a, b], "superlink": link})
        return a.placement_name

    # each pool alone is fine; together they can select the same clusters: the addon says so, on its argument
    with pytest.raises(SpecError, match=r"pools\[1\]\.selection: can select the same clusters as pool 'a'"):
        overlapping()


def test_addon_needs_the_ca_with_tls_and_checks_the_template_size_with_it(pulumi_mocks: Any) -> None:
    data = VARIANTS["dev"]()
    pool = data["pools"][0]
    no_ca = ExistingSuperLink(address=ADDRESS, name="flower-dev", namespace="flower-dev")
    with pytest.raises(ValueError, match="give ca_certificate"):
        FlowerAddon("no-ca", {"pools": [SuperNodePool("p0", {"pool": pool, "superlink": no_ca})], "superlink": no_ca})

    bundle = CA * 20  # a CA bundle far larger than the placeholder validation assumed
    big = ExistingSuperLink(address=ADDRESS, ca_certificate=bundle, name="flower-dev", namespace="flower-dev")

    @pulumi.runtime.test
    def oversized() -> Any:
        small = {"maxManifestBytes": 20000}
        p = SuperNodePool("p1", {"pool": pool, "superlink": big, "ocm": small})
        addon = FlowerAddon("big", {"pools": [p], "superlink": big, "ocm": small})
        return addon.template_names

    with pytest.raises(Exception, match="over maxManifestBytes"):
        oversized()


@pytest.mark.parametrize("variant", ["dev", "prod"])
def test_template_size_check_equals_the_size_of_the_template_built_with_the_ca(variant: str) -> None:
    # The addon checks maxManifestBytes from each template's size with a probe where the CA goes; that must
    # be exactly the compact JSON size of the template built with the real CA (one, or a bundle of several).
    from components.addon import _CA_PROBE, _TemplateSizes
    from federation.templating import compact_size

    spec = parse_spec(VARIANTS[variant]())
    for bundle in (CA, CA * 3):
        sizes = _TemplateSizes(spec)
        for pool in spec.pools:
            template = ocm.addon_template(spec, pool, _CA_PROBE)
            sizes.add(pool, template, "placed")
            assert "placed" in json.dumps(template) and _CA_PROBE not in json.dumps(template)
        exact = {name: compact_size(ocm.addon_template(spec, pool, bundle)) for pool, name, _, _ in sizes.sizes}
        assert all(leaves for *_, leaves in sizes.sizes)
        for _pool, name, size, leaves in sizes.sizes:
            assert size + leaves * (len(json.dumps(bundle, ensure_ascii=False).encode()) - len(json.dumps(_CA_PROBE).encode())) \
                == exact[name]
        # at the limit passes, one byte less fails, naming the template
        limit = max(exact.values())

        def with_limit(n: int) -> Any:
            ocm_part = spec.distribution.ocm.model_copy(update={"max_manifest_bytes": n})
            return spec.model_copy(update={"distribution": spec.distribution.model_copy(update={"ocm": ocm_part})})

        sizes.spec = with_limit(limit)
        assert sizes.checked(bundle) == bundle
        sizes.spec = with_limit(limit - 1)
        with pytest.raises(ValueError, match=rf"is {limit} bytes, over maxManifestBytes \({limit - 1}\)"):
            sizes.checked(bundle)
