"""Every example program under `examples/` runs under Pulumi mocks and plans valid, hardened, collision-free objects.

Each example's `__main__.py` is executed with `runpy.run_path` (never imported: the example directories
are plain Pulumi projects, not packages), with its stack config set through `set_all_config`.
Project-namespaced keys (`<example project>:key`) are re-keyed to the mock engine's project, which is
what `pulumi.Config()` reads under mocks.
"""

from __future__ import annotations

import base64
import json
import runpy
from collections import Counter
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml

from federation.loading import parse_spec
from federation.manifests import hub
from federation.policies import pss
from tests.conftest import unwrap
from tests.schemas import validate_object
from tests.test_components_superlink import inject_state, raw

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"
#: Provider reference (`<urn>::<id>`) of the embedded example's explicit `k8s.Provider("hub")` under mocks.
HUB_PROVIDER = "pulumi:providers:kubernetes::hub::hub-id"
PROGRAM_EXAMPLES = ("default-program", "embedded", "side-by-side", "building-blocks")


# --- helpers ---------------------------------------------------------------------------------------------


def project_name(example: str) -> str:
    return str(yaml.safe_load((EXAMPLES / example / "Pulumi.yaml").read_text())["name"])


def stack_config(example: str, stack: str) -> dict[str, Any]:
    """The `config:` of an example's stack file, keyed as `pulumi.Config` sees it under mocks."""
    data = yaml.safe_load((EXAMPLES / example / f"Pulumi.{stack}.yaml").read_text())
    return {mock_key(example, k): v for k, v in (data.get("config") or {}).items()}


def mock_key(example: str, key: str) -> str:
    """`<project>:x` → `<mock project>:x`; `x` → `<mock project>:x`; other namespaces unchanged."""
    namespace, _, rest = key.rpartition(":")
    if namespace in ("", project_name(example)):
        return f"{pulumi.get_project()}:{rest}"
    return key


def set_config(values: dict[str, Any]) -> None:
    pulumi.runtime.set_all_config({k: v if isinstance(v, str) else json.dumps(v) for k, v in values.items()})


def run_example(example: str) -> dict[str, Any]:
    """Execute `examples/<example>/__main__.py` as a Pulumi program; return its globals."""
    namespace: dict[str, Any] = {}

    @pulumi.runtime.test
    def program() -> pulumi.Output[Any]:
        namespace.update(runpy.run_path(str(EXAMPLES / example / "__main__.py")))
        # Settle: wait for every registered custom resource's id (children included).
        resources = [v for v in _walk(namespace) if isinstance(v, pulumi.CustomResource)]
        return pulumi.Output.all(*[r.id for r in resources])

    program()
    return namespace


def _walk(namespace: dict[str, Any]) -> list[Any]:
    """Every Resource reachable from the program's globals and the components' attributes."""
    seen: dict[int, Any] = {}
    stack = list(namespace.values())
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            stack.extend(value.values())
        elif isinstance(value, list | tuple):
            stack.extend(value)
        elif isinstance(value, pulumi.Resource) and id(value) not in seen:
            seen[id(value)] = value
            stack.extend(vars(value).values())
    return list(seen.values())


def registered_objects(mocks: Any) -> list[dict[str, Any]]:
    return [unwrap(dict(r.inputs)) for r in mocks.resources
            if r.custom and r.typ.startswith("kubernetes:") and not r.typ.startswith("pulumi:providers")]


def object_key(obj: dict[str, Any]) -> tuple[str, str, str | None, str]:
    meta = obj["metadata"]
    return obj["apiVersion"], obj["kind"], meta.get("namespace"), meta["name"]


def assert_valid_hardened_unique(mocks: Any) -> list[dict[str, Any]]:
    objs = registered_objects(mocks)
    assert objs
    for obj in objs:
        validate_object(obj)
        assert pss.check_object(obj) == []
    dupes = [k for k, n in Counter(object_key(o) for o in objs).items() if n > 1]
    assert dupes == [], f"objects registered twice: {dupes}"
    names = Counter(r.name for r in mocks.resources)
    assert [n for n, c in names.items() if c > 1] == [], "two resources share a Pulumi name"
    return objs


def short(urn: str) -> str:
    return urn.rsplit("::", 1)[-1]


def descendants(mocks: Any, root: str) -> list[str]:
    """Pulumi names of every resource registered below `root` (by parent chain)."""
    parent = {name: short(req.parent) if req.parent else None for name, req in mocks.requests.items()}

    def under(name: str) -> bool:
        p = parent.get(name)
        while p is not None:
            if p == root:
                return True
            p = parent.get(p)
        return False

    return [name for name in mocks.requests if under(name)]


# --- the examples are well-formed projects ---------------------------------------------------------------


@pytest.mark.parametrize("example", PROGRAM_EXAMPLES)
def test_example_is_a_python_pulumi_project(example: str) -> None:
    project = yaml.safe_load((EXAMPLES / example / "Pulumi.yaml").read_text())
    assert project["runtime"]["name"] == "python"
    assert (EXAMPLES / example / "__main__.py").is_file()
    assert (EXAMPLES / example / "README.md").read_text().strip()
    # The library comes from the repository (installed editable into the example's virtualenv).
    assert "-e ../.." in (EXAMPLES / example / "requirements.txt").read_text()
    for stack_file in (EXAMPLES / example).glob("Pulumi.*.yaml"):
        if stack_file.name != "Pulumi.yaml":
            assert isinstance(yaml.safe_load(stack_file.read_text())["config"], dict)


# --- default-program ---------------------------------------------------------------------------------------


def test_default_program_example_is_the_root_program() -> None:
    project = yaml.safe_load((EXAMPLES / "default-program" / "Pulumi.yaml").read_text())
    root = yaml.safe_load((REPO / "Pulumi.yaml").read_text())
    assert project["name"] == root["name"]  # same project: same stacks and state
    assert (EXAMPLES / "default-program" / project["stackConfigDir"]).resolve() == (REPO / root["stackConfigDir"]).resolve()


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_default_program_example_plans_the_stack(pulumi_mocks: Any, stack: str) -> None:
    data = raw(stack)
    set_config({"flower:federation": data})
    inject_state(pulumi_mocks, f"{data['name']}-superlink", data)
    program = run_example("default-program")
    objs = assert_valid_hardened_unique(pulumi_mocks)
    spec = parse_spec(data)
    assert {"Namespace", "Deployment", "Placement", "ClusterManagementAddOn", "ManifestWorkReplicaSet"} <= {
        o["kind"] for o in objs}
    assert pulumi_mocks.requests[spec.name].type == "flower-federation:index:Federation"
    assert program["federation"] is not None


def test_default_program_deploys_an_existing_tls_secret(pulumi_mocks: Any) -> None:
    """hub.tls.mode existingSecret: the CA the SuperNodes trust is the Secret's ca.crt, read from the hub."""
    data = raw("dev")
    data["hub"].update(createNamespace=False, tls={"mode": "existingSecret", "secretName": "superlink-cert"})
    set_config({"flower:federation": data})
    inject_state(pulumi_mocks, f"{data['name']}-superlink", data)
    spec = parse_spec(data)
    ca = base64.b64decode(pulumi_mocks.state[f"{spec.name}-superlink-existing-tls"]["data"]["ca.crt"]).decode()
    program = run_example("default-program")
    objs = assert_valid_hardened_unique(pulumi_mocks)
    reads = [(r.typ, r.resource_id) for r in pulumi_mocks.resources if r.resource_id]
    assert reads == [("kubernetes:core/v1:Secret", f"{spec.hub.namespace}/superlink-cert")]
    assert not [o for o in objs if o["kind"] in ("Secret", "Namespace") and o["metadata"]["name"] == "superlink-cert"]
    # The AddOnTemplates carry exactly that CA (the SuperNodes' root certificate).
    shipped = json.dumps([o for o in objs if o["kind"] == "AddOnTemplate"])
    assert json.dumps(ca)[1:-1] in shipped
    assert program["federation"].superlink.existing_tls_secret is not None


# --- embedded ----------------------------------------------------------------------------------------------


def _embedded_declaration() -> dict[str, Any]:
    return yaml.safe_load((EXAMPLES / "embedded" / "declaration.yaml").read_text())


@pytest.mark.parametrize("source", ["file", "config"])
def test_embedded_program_owns_namespace_provider_and_ordering(pulumi_mocks: Any, source: str) -> None:
    config = stack_config("embedded", "staging")
    if source == "config":
        declaration = raw("dev")
        declaration["hub"]["createNamespace"] = True  # the program overrides it: it owns the namespace
        config["flower:federation"] = declaration
    else:
        declaration = _embedded_declaration()
        assert declaration["hub"]["createNamespace"] is False
    set_config(config)
    spec = parse_spec(declaration)
    inject_state(pulumi_mocks, f"{spec.name}-superlink", declaration)
    run_example("embedded")
    objs = assert_valid_hardened_unique(pulumi_mocks)
    req = pulumi_mocks.requests

    # The explicit provider: from config, server-side apply on.
    provider = pulumi_mocks.by_type("pulumi:providers:kubernetes")
    assert [p.name for p in provider] == ["hub"]
    assert provider[0].inputs.get("context") == "hub-staging"
    assert str(provider[0].inputs.get("enableServerSideApply")).lower() == "true"

    # The namespace is the program's (its labels), created once, not by the federation.
    namespaces = [o for o in objs if o["kind"] == "Namespace"]
    assert [n["metadata"]["name"] for n in namespaces] == [spec.hub.namespace]
    assert namespaces[0]["metadata"]["labels"]["team.example.com/owner"] == "team-a"
    assert namespaces[0]["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    children = descendants(pulumi_mocks, spec.name)
    assert "flower-namespace" not in children
    assert not [n for n in children if pulumi_mocks_type(pulumi_mocks, n).endswith(":Namespace")]

    quota = [o for o in objs if o["kind"] == "ResourceQuota"]
    assert quota and quota[0]["spec"]["hard"]["pods"] == "20"
    assert any(o["kind"] == "NetworkPolicy" and o["metadata"]["name"] == "default-deny-ingress" for o in objs)

    # Every Kubernetes child of the federation goes through the explicit provider and waits for the
    # namespace and the quota.
    k8s_children = [n for n in children if req[n].custom and req[n].type.startswith("kubernetes:")]
    assert len(k8s_children) > 10
    for name in k8s_children:
        assert req[name].provider.endswith(HUB_PROVIDER), name
        deps = {short(u) for u in req[name].dependencies}
        assert {"flower-namespace", "flower-quota"} <= deps, (name, deps)
    # ... and so do the nested components themselves (dependencies are inherited down the tree).
    for name in children:
        if not req[name].custom:
            assert {"flower-namespace", "flower-quota"} <= {short(u) for u in req[name].dependencies}, name
    # The program's own objects use the same provider.
    for name in ("flower-namespace", "flower-quota", "flower-default-deny-ingress"):
        assert req[name].provider.endswith(HUB_PROVIDER), name


def pulumi_mocks_type(mocks: Any, name: str) -> str:
    return str(mocks.requests[name].type)


# --- side-by-side --------------------------------------------------------------------------------------------


def test_side_by_side_federations_do_not_collide(pulumi_mocks: Any) -> None:
    config = stack_config("side-by-side", "dev")
    set_config(config)
    declarations = config[f"{pulumi.get_project()}:federations"]
    assert len(declarations) == 2
    for d in declarations:
        inject_state(pulumi_mocks, f"{d['name']}-superlink", d)
    program = run_example("side-by-side")
    objs = assert_valid_hardened_unique(pulumi_mocks)
    specs = [parse_spec(d) for d in declarations]
    assert set(program["federations"]) == {s.name for s in specs}
    for spec in specs:
        mine = [o for o in objs if o["metadata"].get("namespace") == spec.hub.namespace]
        assert {"Deployment", "Placement", "ManifestWorkReplicaSet"} <= {o["kind"] for o in mine}
    cmas = sorted(o["metadata"]["name"] for o in objs if o["kind"] == "ClusterManagementAddOn")
    assert cmas == sorted(s.distribution.ocm.addon_name for s in specs)
    # Each federation's SuperNodes dial their own SuperLink.
    addresses = {hub.superlink_addresses(s)[1] for s in specs}
    assert len(addresses) == 2


def test_side_by_side_refuses_shared_names(pulumi_mocks: Any) -> None:
    config = stack_config("side-by-side", "dev")
    key = f"{pulumi.get_project()}:federations"
    config[key][1]["distribution"]["ocm"]["addonName"] = config[key][0]["distribution"]["ocm"]["addonName"]
    set_config(config)
    with pytest.raises(SystemExit) as info:
        runpy.run_path(str(EXAMPLES / "side-by-side" / "__main__.py"))
    assert ("federations[1].distribution.ocm.addonName: 'flower-supernode-vision' is also federations[0]'s addon "
            "name; each federation on a hub needs its own") in str(info.value)
    assert pulumi_mocks.resources == []


# --- building-blocks -----------------------------------------------------------------------------------------


def _ca_pem() -> str:
    data = raw("dev")
    spec = parse_spec(data)
    dns, ips = hub.superlink_sans(spec)
    from tests.test_components_superlink import _material

    return str(_material(hub.superlink_service_name(spec), tuple(dns), tuple(ips),
                         spec.hub.tls.validity_days, spec.hub.tls.renew_before_days)["ca_cert_pem"])


def test_building_blocks_without_superlink(pulumi_mocks: Any) -> None:
    config = stack_config("building-blocks", "research")
    ca = _ca_pem()
    config[f"{pulumi.get_project()}:caCertificate"] = ca
    set_config(config)
    program = run_example("building-blocks")
    objs = assert_valid_hardened_unique(pulumi_mocks)
    kinds = Counter(o["kind"] for o in objs)
    # No SuperLink: no Deployment, Service, Secret on the hub; only the OCM namespace and OCM objects.
    assert not {"Deployment", "Service", "Secret", "PersistentVolumeClaim"} & set(kinds)
    # the pools' Placements and the ClientApps' (the pools' clusters whose SuperNode is available)
    assert kinds["Namespace"] == 1 and kinds["Placement"] == 4 and kinds["ClusterManagementAddOn"] == 1
    assert kinds["ManifestWorkReplicaSet"] == 2
    assert not pulumi_mocks.by_type(":SuperLink") and not pulumi_mocks.by_type(":Federation")

    assert {o["metadata"]["namespace"] for o in objs if o["kind"] in ("Placement", "AddOnDeploymentConfig")} == {"flower-byo"}
    # The SuperNodes dial the existing SuperLink and trust its CA.
    text = json.dumps([o for o in objs if o["kind"] in ("AddOnTemplate", "AddOnDeploymentConfig")])
    assert "superlink.research.example.com:443" in text
    assert json.dumps(ca)[1:-1] in text
    assert "--auth-supernode-private-key" in text

    # Ordering from the references alone (no resource options in the program): pools after the namespace
    # the existing SuperLink's description names, the CMA after the Placements, ClientApps after their
    # pools and the CMA.
    assert "ResourceOptions" not in (EXAMPLES / "building-blocks" / "__main__.py").read_text()
    req = pulumi_mocks.requests

    def deps(name: str) -> set[str]:
        return {short(u) for u in req[name].dependencies}

    assert "ocm-namespace" in deps("flower-byo-pool-cpu-placement")
    assert {"ocm-namespace", "flower-byo-pool-cpu-binding-research"} <= deps("flower-byo-pool-gpu-placement")
    assert {"flower-byo-pool-cpu-placement", "flower-byo-pool-gpu-placement"} <= deps("flower-byo-addon-cma")
    assert "ocm-namespace" in deps("flower-byo-addon-config-gpu")
    assert {"flower-byo-addon-cma", "flower-byo-clientapp-trainer-gpu-placement-gpu"} <= deps("flower-byo-clientapp-trainer-gpu-mwrs")
    assert "flower-byo-pool-gpu-placement" in deps("flower-byo-clientapp-trainer-gpu-placement-gpu")
    assert program["addon"].spec.distribution.ocm.addon_name == "flower-supernode-byo"


def test_building_blocks_requires_the_superlink_address_and_ca(pulumi_mocks: Any) -> None:
    config = stack_config("building-blocks", "research")
    set_config(config)  # no caCertificate
    with pytest.raises(pulumi.ConfigMissingError):
        runpy.run_path(str(EXAMPLES / "building-blocks" / "__main__.py"))
