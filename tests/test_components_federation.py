"""The `Federation` component and the default program under mocks: composition, ordering, outputs,
equality with `render`, and the CrossGuard pack run over what the program registers."""

from __future__ import annotations

import copy
import runpy
from pathlib import Path
from typing import Any

import pulumi
import pytest
from pulumi_policy import PolicyCustomTimeouts, PolicyResource, PolicyResourceOptions, ResourceValidationArgs, StackValidationArgs

from components.federation import TYPE_TOKEN, Federation
from federation import planning
from federation.loading import parse_spec
from federation.manifests import hub
from federation.policies import PolicySettings, pack_config, pss
from tests.conftest import unwrap
from tests.schemas import validate_object
from tests.test_components_superlink import inject_state, raw

REPO = Path(__file__).resolve().parents[1]
POLICY_DIR = REPO / "policy"


def run_federation(mocks: Any, data: dict[str, Any], name: str = "fl") -> dict[str, Any]:
    """Evaluate a Federation under mocks; return its resolved outputs."""
    inject_state(mocks, f"{name}-superlink", data)
    resolved: dict[str, Any] = {}

    @pulumi.runtime.test
    def program() -> pulumi.Output[Any]:
        fed = Federation(name, {"federation": data, "existing_ca_certificate": None})
        outs = {
            "superlink_address": fed.superlink_address, "external": fed.superlink_external_address,
            "ca": fed.ca_certificate, "placements": fed.placement_names, "addon": fed.addon_name,
            "apps": fed.client_app_names, "namespace": fed.namespace,
        }
        return pulumi.Output.all(**outs).apply(resolved.update)

    program()
    return resolved


def registered_objects(mocks: Any) -> list[dict[str, Any]]:
    out = []
    for r in mocks.resources:
        if r.typ.startswith("kubernetes:") and r.custom:
            inputs = unwrap(dict(r.inputs))
            out.append(inputs)
    return out


def key(obj: dict[str, Any]) -> tuple[str, str, str | None, str]:
    meta = obj["metadata"]
    return obj["apiVersion"], obj["kind"], meta.get("namespace"), meta["name"]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_federation_registers_schema_valid_hardened_objects(pulumi_mocks: Any, stack: str) -> None:
    outputs = run_federation(pulumi_mocks, raw(stack))
    objs = registered_objects(pulumi_mocks)
    assert objs
    for obj in objs:
        validate_object(obj)
        assert pss.check_object(obj) == []
    spec = parse_spec(raw(stack))
    assert outputs["placements"] == [f"{spec.name}-{p.name}" for p in spec.pools]
    assert outputs["addon"] == spec.distribution.ocm.addon_name
    assert outputs["apps"] == [f"{spec.name}-{a.name}" for a in spec.client_apps]
    assert outputs["superlink_address"] == hub.superlink_addresses(spec)[0]
    assert outputs["external"] == hub.superlink_addresses(spec)[1]
    assert "BEGIN CERTIFICATE" in outputs["ca"] and "PRIVATE" not in outputs["ca"]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_render_equals_what_the_program_registers(pulumi_mocks: Any, stack: str) -> None:
    data = raw(stack)
    state = inject_state(pulumi_mocks, "fl-superlink", data)
    run_federation(pulumi_mocks, data)
    spec = parse_spec(data)
    material = planning.KeyMaterial(
        hub.HubSecrets(tls_cert=state["cert_pem"], tls_key=state["key_pem"], ca_cert=state["ca_cert_pem"],
                       superexec_secret=pulumi_mocks.state["fl-superlink-superexec-secret"]["secret"]
                       if hub.superexec_secret_name(spec) else None,
                       tls_checksum=hub.tls_checksum(state["cert_pem"], state["ca_cert_pem"])),
        state["ca_cert_pem"],
    )
    planned = {key(o): o for o in planning.planned_objects(spec, material=material)}
    registered = {key(o): o for o in registered_objects(pulumi_mocks)}
    assert sorted(registered) == sorted(planned)
    for k, obj in planned.items():
        assert registered[k] == obj, k


def test_components_compose_in_destroy_safe_order(pulumi_mocks: Any) -> None:
    run_federation(pulumi_mocks, raw("prod"))
    req = pulumi_mocks.requests

    def deps(name: str) -> set[str]:
        return {u.rsplit("::", 1)[-1] for u in req[name].dependencies}

    assert req["fl"].type == TYPE_TOKEN
    # No component-level depends_on: every edge follows from a reference between the blocks (an Output or
    # an object handed over), object to object, so the graph stays linear in the number of pools.
    for component in ("fl-pool-cpu", "fl-pool-gpu", "fl-addon", "fl-clientapp-trainer-cpu"):
        assert deps(component) == set(), component
    namespace = "fl-superlink-namespace-flower-prod"
    # pools: in the hub namespace (the SuperLink's output); the later pool reuses the earlier one's binding
    assert deps("fl-pool-cpu-placement") == {namespace, "fl-pool-cpu-binding-research"}
    assert deps("fl-pool-gpu-placement") == {namespace, "fl-pool-cpu-binding-research"}
    assert not any(n.startswith("fl-pool-gpu-binding") for n in req)
    # addon: configs in the hub namespace, templates carry the CA (the certificate's output), and only the
    # ClusterManagementAddOn depends on the Placements (through their names)
    assert deps("fl-addon-config-cpu") == {namespace}
    assert deps("fl-addon-template-cpu") == {"fl-superlink-tls"}
    assert {"fl-pool-cpu-placement", "fl-pool-gpu-placement", "fl-addon-template-cpu", "fl-addon-config-gpu"} <= deps("fl-addon-cma")
    # ClientApps: after their own pools' Placements and the CMA; destroyed first
    assert {"fl-addon-cma", "fl-clientapp-trainer-cpu-placement-cpu"} <= deps("fl-clientapp-trainer-cpu-mwrs")
    assert deps("fl-clientapp-trainer-cpu-placement-cpu") == {namespace, "fl-pool-cpu-placement"}
    assert not {"fl-pool-gpu-placement", "fl-clientapp-trainer-cpu-placement-gpu"} & deps("fl-clientapp-trainer-cpu-mwrs")
    for child in ("fl-superlink", "fl-pool-cpu", "fl-addon", "fl-clientapp-trainer-gpu"):
        assert req[child].parent.endswith("::fl")


def test_two_federations_side_by_side_do_not_collide(pulumi_mocks: Any) -> None:
    a = raw("dev")
    b = copy.deepcopy(a)
    b["name"] = "flower-dev-b"
    b["hub"]["namespace"] = "flower-dev-b"
    b["distribution"] = {"ocm": {"addonName": "flower-supernode-b"}}
    inject_state(pulumi_mocks, "a-superlink", a)
    inject_state(pulumi_mocks, "b-superlink", b)

    @pulumi.runtime.test
    def program() -> pulumi.Output[Any]:
        fa = Federation("a", {"federation": a, "existing_ca_certificate": None})
        fb = Federation("b", {"federation": b, "existing_ca_certificate": None})
        return pulumi.Output.all(fa.addon_name, fb.addon_name, fa.placement_names, fb.placement_names)

    program()
    objs = registered_objects(pulumi_mocks)
    keys = [key(o) for o in objs]
    assert len(keys) == len(set(keys)), "two federations registered the same Kubernetes object"
    names = [r.name for r in pulumi_mocks.resources]
    assert len(names) == len(set(names))


# --- the default program ------------------------------------------------------------------------------


def run_default_program(mocks: Any, data: dict[str, Any]) -> None:
    import json

    pulumi.runtime.set_all_config({"flower:federation": json.dumps(data)})
    inject_state(mocks, f"{data.get('name', 'flower')}-superlink", data)

    @pulumi.runtime.test
    def program() -> pulumi.Output[Any]:
        ns = runpy.run_path(str(REPO / "__main__.py"))
        fed: Federation = ns["federation"]
        return pulumi.Output.all(fed.addon_name, fed.placement_names, fed.client_app_names)

    program()


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_default_program_plans_the_whole_federation(pulumi_mocks: Any, stack: str) -> None:
    run_default_program(pulumi_mocks, raw(stack))
    kinds = {o["kind"] for o in registered_objects(pulumi_mocks)}
    assert {"Deployment", "Service", "NetworkPolicy", "Placement", "ManagedClusterSetBinding",
            "ClusterManagementAddOn", "AddOnTemplate", "AddOnDeploymentConfig", "ManifestWorkReplicaSet"} <= kinds


def test_default_program_rejects_bad_config_with_field_paths(pulumi_mocks: Any) -> None:
    import json

    data = raw("dev")
    data["pools"][0]["replicas"] = 0
    pulumi.runtime.set_all_config({"flower:federation": json.dumps(data)})
    with pytest.raises(SystemExit) as info:
        runpy.run_path(str(REPO / "__main__.py"))
    assert "federation.pools[0].replicas: must be >= 1" in str(info.value)


# --- the CrossGuard pack over the program's resources ----------------------------------------------


def _load_pack_module() -> Any:
    import importlib.util

    spec = importlib.util.spec_from_file_location("flower_policies", POLICY_DIR / "flower_policies.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _opts() -> PolicyResourceOptions:
    return PolicyResourceOptions(False, [], True, [], PolicyCustomTimeouts(0, 0, 0), [], None)


def pack_violations(mocks: Any, settings: PolicySettings) -> dict[str, list[str]]:
    """Run every policy of the pack over the recorded resources, as the engine would."""
    module = _load_pack_module()
    config = pack_config(settings)
    found: dict[str, list[str]] = {}
    resources = [(r.typ, unwrap(dict(r.inputs)), f"urn:{r.name}", r.name) for r in mocks.resources if r.custom]
    for policy in module.build_policies():
        cfg = config[policy.name]

        def report(message: str, urn: str | None = None, _name: str = policy.name) -> None:
            found.setdefault(_name, []).append(message)

        if hasattr(policy, "validate") and policy.__class__.__name__ == "ResourceValidationPolicy":
            for typ, props, urn, name in resources:
                policy.validate(ResourceValidationArgs(typ, props, urn, name, _opts(), None, cfg), report)
        else:
            stack = [PolicyResource(typ, props, urn, name, _opts(), None, None, [], {}) for typ, props, urn, name in resources]
            policy.validate(StackValidationArgs(stack, cfg), report)
    return found


def test_policy_pack_passes_prod_program(pulumi_mocks: Any) -> None:
    run_federation(pulumi_mocks, raw("prod"))
    assert pack_violations(pulumi_mocks, PolicySettings(production=True, require_image_digests=True)) == {}


def test_policy_pack_flags_a_weakened_program(pulumi_mocks: Any) -> None:
    data = raw("prod")
    data["hub"]["exposure"]["loadBalancerSourceRanges"] = []
    data["hub"]["supernodeAuth"] = {"enabled": False}
    data["hub"]["persistence"] = {"enabled": False}
    data["pools"][1]["selection"].pop("numberOfClusters")
    data["flower"]["images"]["supernode"] = "registry.example.com/flwr/supernode:1.41.0"
    run_federation(pulumi_mocks, data)
    found = pack_violations(pulumi_mocks, PolicySettings(production=True, require_image_digests=True))
    assert set(found) == {"loadbalancer-source-ranges", "supernode-auth-in-production", "superlink-state-persisted",
                          "placements-bounded-in-production", "images-pinned"}, found
    # With development settings, only the environment-independent rules remain.
    dev = pack_violations(pulumi_mocks, PolicySettings())
    assert set(dev) == {"loadbalancer-source-ranges"}


def test_federation_parses_the_declaration_once(pulumi_mocks: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The Federation validates the declaration once and hands the typed spec to every child."""
    from federation import loading

    calls: list[object] = []
    real = loading._parse

    def counting(data: dict[str, Any]) -> Any:
        calls.append(data)
        return real(data)

    data = raw("prod")
    inject_state(pulumi_mocks, "fl-superlink", data)
    monkeypatch.setattr(loading, "_parse", counting)

    @pulumi.runtime.test
    def program() -> pulumi.Output[Any]:
        fed = Federation("fl", {"federation": data, "existing_ca_certificate": None})
        return fed.client_app_names

    program()
    assert len(calls) == 1
    assert not hasattr(loading, "_PARSED")  # no process-global cache behind it


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_building_blocks_register_what_federation_registers(pulumi_mocks: Any, stack: str) -> None:
    """The same inputs through the typed building blocks, composed by reference, give the same objects."""
    from components import ClientAppDistribution, FlowerAddon, SuperLink, SuperNodePool
    from tests.test_components_superlink import settle, superlink_args

    data = raw(stack)
    run_federation(pulumi_mocks, data)
    by_federation = sorted(registered_objects(pulumi_mocks), key=key)
    pulumi_mocks.resources.clear()
    inject_state(pulumi_mocks, "hub", data)
    spec = parse_spec(data)

    @pulumi.runtime.test
    def blocks() -> pulumi.Output[Any]:
        link = SuperLink("hub", superlink_args(data))
        pools: list[SuperNodePool] = []
        for part in data["pools"]:
            sets = set((part.get("selection") or {}).get("clusterSets") or [])
            earlier = [p for p in pools if sets & set(p.pool.selection.cluster_sets)]
            pools.append(SuperNodePool(f"pool-{part['name']}", {"pool": part, "superlink": link, "bindings_from": earlier}))
        addon = FlowerAddon("addon", {"pools": pools, "superlink": link})
        by_name = {p.pool.name: p for p in pools}
        apps = [ClientAppDistribution(f"app-{a['name']}", {"client_app": {k: v for k, v in a.items() if k != "pools"},
                                                           "pools": [by_name[n] for n in a["pools"]], "addon": addon})
                for a in data.get("clientApps", [])]
        return pulumi.Output.all(addon.addon_name, *[a.manifest_work_replica_set_name for a in apps], settle(link))

    blocks()
    by_blocks = sorted(registered_objects(pulumi_mocks), key=key)
    assert [key(o) for o in by_blocks] == [key(o) for o in by_federation]
    assert by_blocks == by_federation
    assert len(by_blocks) > len(spec.pools) + 10
