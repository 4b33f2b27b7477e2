"""The component provider in `provider/`, offline: its inferred schema and `construct()` under mocks.

`pulumi package add` (CLI) runs `provider/__main__.py`, which serves exactly this `ComponentProvider`;
here the same object is built in-process, so the schema SDKs would be generated from is checked, and
`construct()` (what a TypeScript/Go/... program triggers) is run against the mock engine.
"""

from __future__ import annotations

import json
import re
import runpy
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml
from pulumi.provider.experimental.component import ComponentProvider

import components
from components import (
    ClientAppDistribution,
    Federation,
    FlowerAddon,
    SuperLink,
    SuperNodePool,
)
from components._common import schema_version
from federation.loading import parse_spec
from federation.policies import pss
from tests.conftest import unwrap
from tests.schemas import validate_object
from tests.test_components_superlink import inject_state, raw

REPO = Path(__file__).resolve().parents[1]
PROVIDER_DIR = REPO / "provider"
NAME = "flower-federation"
TYPES = ("Federation", "SuperLink", "SuperNodePool", "FlowerAddon", "ClientAppDistribution")
CAMEL = re.compile(r"^[a-z][a-zA-Z0-9]*$")
#: semver 2.0 (what a Pulumi package schema's version must be).
SEMVER = (r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?"
          r"(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?")


@pytest.fixture(scope="module")
def provider() -> ComponentProvider:
    return ComponentProvider([Federation, SuperLink, SuperNodePool, FlowerAddon, ClientAppDistribution],
                             name=NAME, version=schema_version(version("flower-federation")))


@pytest.fixture(scope="module")
def schema(provider: ComponentProvider) -> dict[str, Any]:
    return dict(json.loads(provider.schema))


# --- packaging -----------------------------------------------------------------------------------------------


def test_plugin_is_a_python_component_provider() -> None:
    plugin = yaml.safe_load((PROVIDER_DIR / "PulumiPlugin.yaml").read_text())
    assert plugin["runtime"]["name"] == "python"
    # The library reaches the plugin's virtualenv through requirements.txt, not a sys.path insert.
    assert "-e .." in (PROVIDER_DIR / "requirements.txt").read_text().splitlines()
    assert "import sys" not in (PROVIDER_DIR / "__main__.py").read_text()


def test_plugin_main_hosts_all_components_under_the_package_name() -> None:
    # Loaded under another __name__, the module only defines what it would host (no gRPC server).
    module = runpy.run_path(str(PROVIDER_DIR / "__main__.py"), run_name="provider_main")
    assert module["NAME"] == NAME
    assert module["VERSION"] == schema_version(version("flower-federation"))
    assert [c.__name__ for c in module["COMPONENTS"]] == list(TYPES)
    assert components.PACKAGE == NAME


def test_every_component_registers_with_its_package_type_token() -> None:
    """Each component module defines TYPE_TOKEN the same way, and its constructor registers with it."""
    import inspect

    for cls in components.COMPONENTS:
        module = inspect.getmodule(cls)
        assert module is not None
        assert f"{NAME}:index:{cls.__name__}" == module.TYPE_TOKEN, cls.__name__
        assert "super().__init__(TYPE_TOKEN, name, None, opts)" in inspect.getsource(cls), cls.__name__


def test_components_package_exports_components_and_args() -> None:
    for name in TYPES:
        assert name in components.__all__ and f"{name}Args" in components.__all__
        assert hasattr(components, f"{name}Args")


# --- the inferred schema -------------------------------------------------------------------------------------


def test_schema_names_the_package_and_every_component(schema: dict[str, Any]) -> None:
    assert schema["name"] == NAME
    assert schema["version"] == schema_version(version("flower-federation"))
    assert re.fullmatch(SEMVER, schema["version"]), schema["version"]
    assert sorted(schema["resources"]) == sorted(f"{NAME}:index:{t}" for t in TYPES)
    for token in schema["resources"]:
        package, module, _ = token.split(":")
        assert (package, module) == (NAME, "index")


@pytest.mark.parametrize("type_name", TYPES)
def test_schema_documents_inputs_and_outputs(schema: dict[str, Any], type_name: str) -> None:
    resource = schema["resources"][f"{NAME}:index:{type_name}"]
    assert resource["isComponent"] is True
    assert resource["description"].strip()
    inputs = resource["inputProperties"]
    assert inputs
    for name, prop in inputs.items():
        assert CAMEL.match(name), name
        assert prop.get("description", "").strip(), f"{type_name}.{name} has no description"
    assert set(resource.get("requiredInputs", [])) <= set(inputs)
    outputs = resource["properties"]
    assert outputs
    for name, prop in outputs.items():
        assert CAMEL.match(name), name
        assert prop.get("description", "").strip(), f"{type_name}.{name} output has no description"
    assert set(resource.get("required", [])) <= set(outputs)


def test_schema_input_and_output_names(schema: dict[str, Any]) -> None:
    res = {t: schema["resources"][f"{NAME}:index:{t}"] for t in TYPES}
    inputs = {t: set(r["inputProperties"]) for t, r in res.items()}
    required = {t: sorted(r.get("requiredInputs", [])) for t, r in res.items()}
    assert inputs["Federation"] == {"federation", "existingCaCertificate"}
    assert inputs["SuperLink"] == {"name", "hub", "flower", "existingCaCertificate"}
    assert inputs["SuperNodePool"] == {"pool", "superlink", "ocm", "bindingsFrom"}
    assert inputs["FlowerAddon"] == {"pools", "superlink", "ocm", "superlinkAddress"}
    assert inputs["ClientAppDistribution"] == {"clientApp", "pools", "addon"}
    assert required == {"Federation": ["federation"], "SuperLink": [], "SuperNodePool": ["pool", "superlink"],
                        "FlowerAddon": ["pools", "superlink"], "ClientAppDistribution": ["addon", "clientApp", "pools"]}
    # Optional inputs stay optional for callers in other languages.
    assert "existingCaCertificate" not in res["Federation"]["requiredInputs"]
    # The parts that decide the object set are plain (known at construct time), typed and nested.
    assert res["Federation"]["inputProperties"]["federation"].get("plain") is True
    for t, key, ref in (("SuperLink", "hub", "HubArgs"), ("SuperLink", "flower", "FlowerArgs"),
                        ("SuperNodePool", "pool", "PoolArgs"), ("ClientAppDistribution", "clientApp", "ClientAppArgs")):
        prop = res[t]["inputProperties"][key]
        assert prop["$ref"] == f"#/types/{NAME}:index:{ref}" and prop.get("plain") is True, (t, key)
    pool = schema["types"][f"{NAME}:index:PoolArgs"]["properties"]
    assert {"name", "selection", "gpu", "resources", "replicas", "isolation", "nodeConfig", "rolloutStrategy"} <= set(pool)
    assert all(CAMEL.match(k) for k in pool)
    selection = schema["types"][f"{NAME}:index:ClusterSelectionArgs"]["properties"]
    assert selection["clusterSets"]["type"] == "array" and selection["celExpressions"]["items"]["type"] == "string"
    assert {"superlinkAddress", "superlinkExternalAddress", "caCertificate", "placementNames", "addonName",
            "clientAppNames", "namespace"} == set(res["Federation"]["properties"])
    assert {"placementName", "namespace"} == set(res["SuperNodePool"]["properties"])
    assert {"manifestWorkReplicaSetName"} == set(res["ClientAppDistribution"]["properties"])


# --- construct() under mocks ----------------------------------------------------------------------------------


def _construct(provider: ComponentProvider, name: str, token: str, inputs: dict[str, Any]) -> dict[str, Any]:
    resolved: dict[str, Any] = {}

    @pulumi.runtime.test
    def program() -> pulumi.Output[Any]:
        result = provider.construct(name, token, inputs, pulumi.ResourceOptions())
        state = {k: pulumi.Output.from_input(v) for k, v in result.state.items()}
        return pulumi.Output.all(urn=result.urn, **state).apply(resolved.update)

    program()
    return resolved


def test_construct_federation_with_camel_case_inputs(pulumi_mocks: Any, provider: ComponentProvider) -> None:
    data = raw("dev")
    inject_state(pulumi_mocks, "fl-superlink", data)
    state = _construct(provider, "fl", f"{NAME}:index:Federation", {"federation": data})
    spec = parse_spec(data)
    assert state["placementNames"] == [f"{spec.name}-{p.name}" for p in spec.pools]
    assert state["addonName"] == spec.distribution.ocm.addon_name
    assert state["clientAppNames"] == [f"{spec.name}-{a.name}" for a in spec.client_apps]
    assert state["namespace"] == spec.hub.namespace
    assert "BEGIN CERTIFICATE" in state["caCertificate"]
    assert pulumi_mocks.requests["fl"].type == f"{NAME}:index:Federation"
    objs = [unwrap(dict(r.inputs)) for r in pulumi_mocks.resources if r.custom and r.typ.startswith("kubernetes:")]
    assert {"Deployment", "Placement", "ClusterManagementAddOn", "ManifestWorkReplicaSet"} <= {o["kind"] for o in objs}
    for obj in objs:
        validate_object(obj)
        assert pss.check_object(obj) == []


def _superlink_object(data: dict[str, Any], ca: str | None) -> dict[str, Any]:
    """An existing SuperLink as a program in another language passes it (camelCase object)."""
    return {"address": "superlink.example.com:443", "caCertificate": ca, "name": data["name"],
            "namespace": data["hub"]["namespace"], "flower": data.get("flower"),
            "supernodeAuth": bool((data["hub"].get("supernodeAuth") or {}).get("enabled"))}


def test_construct_supernode_pool(pulumi_mocks: Any, provider: ComponentProvider) -> None:
    data = raw("prod")
    gpu = next(p for p in data["pools"] if p["name"] == "gpu")
    state = _construct(provider, "gpu", f"{NAME}:index:SuperNodePool",
                       {"pool": gpu, "superlink": _superlink_object(data, None)})
    assert state["placementName"] == "flower-prod-gpu"
    assert state["namespace"] == "flower-prod"
    kinds = sorted(r.typ.rsplit(":", 1)[-1] for r in pulumi_mocks.resources if r.custom)
    # on its own, the pool binds its cluster set itself
    assert kinds == ["ManagedClusterSetBinding", "Placement"]


def test_construct_rejects_bad_arguments_naming_them(pulumi_mocks: Any, provider: ComponentProvider) -> None:
    data = raw("prod")
    gpu = {**next(p for p in data["pools"] if p["name"] == "gpu"), "replicas": 0}
    with pytest.raises(Exception, match=r"pool\.replicas: must be >= 1"):
        _construct(provider, "gpu", f"{NAME}:index:SuperNodePool", {"pool": gpu, "superlink": _superlink_object(data, None)})


def test_construct_composes_blocks_passed_by_reference(pulumi_mocks: Any, provider: ComponentProvider) -> None:
    """A program in another language passes one block to another; the reference resolves to the live block."""
    from pulumi.runtime.rpc import deserialize_resource

    data = raw("dev")
    ca = inject_state(pulumi_mocks, "unused", data)["ca_cert_pem"]
    link = _superlink_object(data, ca)
    pool_state = _construct(provider, "cpu", f"{NAME}:index:SuperNodePool", {"pool": data["pools"][0], "superlink": link})
    pool = deserialize_resource({"urn": pool_state["urn"]})  # what the engine's reference deserializes to
    assert isinstance(pool, SuperNodePool)
    state = _construct(provider, "addon", f"{NAME}:index:FlowerAddon", {"pools": [pool], "superlink": link})
    assert state["addonName"] == f"{data['name']}-supernode"  # derived from the federation name
    configs = [unwrap(dict(r.inputs)) for r in pulumi_mocks.by_type(":AddOnDeploymentConfig")]
    assert configs and "superlink.example.com:443" in json.dumps(configs)
    with pytest.raises(ValueError, match="did not construct"):
        deserialize_resource({"urn": "urn:pulumi:test::flower-federation::flower-federation:index:SuperNodePool::nope"})


def test_construct_rejects_foreign_type_tokens(provider: ComponentProvider) -> None:
    with pytest.raises(ValueError, match="expected flower-federation"):
        provider.construct("x", "flwr-ocm:index:Federation", {}, pulumi.ResourceOptions())


@pytest.mark.parametrize(("pep440", "semver"), [
    ("0.1.0", "0.1.0"), ("0.1.1.dev28+g3451497.d20261202", "0.1.1-dev.28+g3451497.d20261202"),
    ("1.2.3rc1", "1.2.3-rc.1"), ("1.2.3.post2", "1.2.3+post.2"), ("0.0.0", "0.0.0"),
])
def test_schema_version_is_semver(pep440: str, semver: str) -> None:
    assert schema_version(pep440) == semver
    assert re.fullmatch(SEMVER, semver)
