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


@pytest.fixture(scope="module")
def provider() -> ComponentProvider:
    return ComponentProvider([Federation, SuperLink, SuperNodePool, FlowerAddon, ClientAppDistribution],
                             name=NAME, version=version("flower-federation"))


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
    assert module["VERSION"] == version("flower-federation")
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
    assert schema["version"] == version("flower-federation")
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
    assert "federation" in resource["requiredInputs"]
    assert set(resource["requiredInputs"]) <= set(inputs)
    outputs = resource["properties"]
    assert outputs
    for name, prop in outputs.items():
        assert CAMEL.match(name), name
        assert prop.get("description", "").strip(), f"{type_name}.{name} output has no description"
    assert set(resource.get("required", [])) <= set(outputs)


def test_schema_input_and_output_names(schema: dict[str, Any]) -> None:
    res = {t: schema["resources"][f"{NAME}:index:{t}"] for t in TYPES}
    assert set(res["Federation"]["inputProperties"]) == {"federation", "existingCaCertificate"}
    assert set(res["SuperLink"]["inputProperties"]) == {"federation", "existingCaCertificate"}
    assert set(res["SuperNodePool"]["inputProperties"]) == {"federation", "pool"}
    assert set(res["FlowerAddon"]["inputProperties"]) == {"federation", "caCertificate", "superlinkAddress", "placementNames"}
    assert set(res["ClientAppDistribution"]["inputProperties"]) == {"federation", "clientApp"}
    assert res["SuperNodePool"]["requiredInputs"] == ["federation", "pool"]
    assert sorted(res["ClientAppDistribution"]["requiredInputs"]) == ["clientApp", "federation"]
    # Optional inputs stay optional for callers in other languages.
    assert "existingCaCertificate" not in res["Federation"]["requiredInputs"]
    assert {"caCertificate", "superlinkAddress"}.isdisjoint(res["FlowerAddon"]["requiredInputs"])
    # The declaration decides the object set: it must be plain (known at construct time).
    for t in TYPES:
        assert res[t]["inputProperties"]["federation"].get("plain") is True
    assert {"superlinkAddress", "superlinkExternalAddress", "caCertificate", "placementNames", "addonName",
            "clientAppNames", "namespace"} == set(res["Federation"]["properties"])
    assert {"placementName", "namespace"} == set(res["SuperNodePool"]["properties"])


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


def test_construct_supernode_pool(pulumi_mocks: Any, provider: ComponentProvider) -> None:
    data = raw("prod")
    state = _construct(provider, "gpu", f"{NAME}:index:SuperNodePool", {"federation": data, "pool": "gpu"})
    assert state["placementName"] == "flower-prod-gpu"
    assert state["namespace"] == "flower-prod"
    kinds = sorted(r.typ.rsplit(":", 1)[-1] for r in pulumi_mocks.resources if r.custom)
    # gpu shares the cluster set of cpu (the first pool), so it owns no binding: only its Placement.
    assert kinds == ["Placement"]


def test_construct_flower_addon_with_existing_superlink(pulumi_mocks: Any, provider: ComponentProvider) -> None:
    data = raw("dev")
    ca = inject_state(pulumi_mocks, "unused", data)["ca_cert_pem"]
    state = _construct(provider, "addon", f"{NAME}:index:FlowerAddon",
                       {"federation": data, "superlinkAddress": "superlink.example.com:443", "caCertificate": ca})
    assert state["addonName"] == "flower-supernode"
    configs = [unwrap(dict(r.inputs)) for r in pulumi_mocks.by_type(":AddOnDeploymentConfig")]
    assert configs and "superlink.example.com:443" in json.dumps(configs)


def test_construct_rejects_foreign_type_tokens(provider: ComponentProvider) -> None:
    with pytest.raises(ValueError, match="expected flower-federation"):
        provider.construct("x", "flwr-ocm:index:Federation", {}, pulumi.ResourceOptions())
