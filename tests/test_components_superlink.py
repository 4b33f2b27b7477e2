"""The SuperLink component under Pulumi mocks: what it registers, with which options, and what it leaks (nothing)."""

from __future__ import annotations

import base64
import copy
import functools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pytest

from components.keys import KEY_TYPE, SuperLinkCertificateProvider
from components.superlink import REPLACE_ON_CHANGES, TYPE_TOKEN, SuperLink, SuperLinkArgs
from federation import flower, tls
from federation.flower import CONTAINER
from federation.loading import parse_spec, read_stack_config, stack_file
from federation.manifests import hub
from federation.policies import pss
from tests.conftest import SECRET_SIG, unwrap
from tests.schemas import validate_kubernetes

STACKS = Path(__file__).resolve().parents[1] / "stacks"
SHARED_SECRET = "5e" * 32


def raw(stack: str) -> dict[str, Any]:
    data = read_stack_config(stack_file(stack, STACKS))
    assert isinstance(data, dict)
    return copy.deepcopy(data)


def superlink_args(declaration: dict[str, Any]) -> SuperLinkArgs:
    """The SuperLink's typed arguments: the `name`, `hub` and `flower` parts of a declaration."""
    args: SuperLinkArgs = {"hub": declaration.get("hub") or {}, "flower": declaration.get("flower") or {}}
    if "name" in declaration:
        args["name"] = declaration["name"]
    return args


def _insecure(stack: str) -> dict[str, Any]:
    data = raw(stack)
    data["hub"]["tls"] = {"mode": "insecure", "allowInsecure": True}
    data["hub"].pop("supernodeAuth", None)
    return data


def _existing(stack: str) -> dict[str, Any]:
    data = raw(stack)
    data["hub"]["tls"] = {"mode": "existingSecret", "secretName": "my-superlink-tls"}
    data["hub"]["createNamespace"] = False  # the Secret's namespace exists before the SuperLink
    return data


def _process(stack: str) -> dict[str, Any]:
    data = raw(stack)
    data["hub"]["isolation"] = "process"
    data.setdefault("flower", {}).setdefault("images", {})["superexec"] = "ghcr.io/example/serverapp:1.0.0"
    return data


def _task_pods(stack: str) -> dict[str, Any]:
    """The ServerApp runs as task pods (Flower's Kubernetes executor): Role and RoleBinding on the hub."""
    data = raw(stack)
    data["hub"].setdefault("superexec", {})["taskPods"] = {"enabled": True}
    return data


VARIANTS = {
    "dev": lambda: raw("dev"),
    "prod": lambda: raw("prod"),
    "dev-insecure": lambda: _insecure("dev"),
    "prod-insecure": lambda: _insecure("prod"),
    "dev-existing-secret": lambda: _existing("dev"),
    "prod-existing-secret": lambda: _existing("prod"),
    "dev-process": lambda: _process("dev"),
    "prod-task-pods": lambda: _task_pods("prod"),
}


@functools.cache
def _material(name: str, dns: tuple[str, ...], ips: tuple[str, ...], validity: int, renew: int) -> dict[str, Any]:
    outs = SuperLinkCertificateProvider().create({
        "dns_names": list(dns), "ip_addresses": list(ips), "validity_days": validity,
        "renew_before_days": renew, "key_type": KEY_TYPE, "common_name": name,
    }).outs
    assert outs is not None
    return outs


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@functools.cache
def _existing_pems(dns: tuple[str, ...], ips: tuple[str, ...], days: int = 90) -> tuple[str, str, str]:
    """(tls.crt, tls.key, ca.crt) of a CA and server certificate made as an operator would (not by Pulumi)."""
    ca = tls.generate_ca("operator CA", validity_days=days)
    cert = tls.issue_server_certificate(ca, dns_names=list(dns), ip_addresses=list(ips), validity_days=days)
    return cert.cert_pem, cert.key_pem, cert.ca_cert_pem


def existing_secret_data(spec: Any, **replace: str | None) -> dict[str, str]:
    """`data` of a valid existing TLS Secret for `spec` (base64, as the API returns it); `replace` edits PEMs."""
    dns, ips = hub.superlink_sans(spec)
    pems = dict(zip(hub.TLS_SECRET_KEYS, _existing_pems(tuple(dns), tuple(ips)), strict=True))
    pems.update(replace)
    return {k: b64(v) for k, v in pems.items() if v is not None}


def inject_state(mocks: Any, component: str, data: dict[str, Any]) -> dict[str, Any]:
    """What the engine would hold in state after `create` (real certificates, a fixed shared secret), and on
    the hub: in existingSecret mode the user's Secret the component reads."""
    spec = parse_spec(data)
    state: dict[str, Any] = {}
    if spec.hub.tls.mode == "existingSecret":
        mocks.state[f"{component}-existing-tls"] = {"data": existing_secret_data(spec), "type": "kubernetes.io/tls"}
    if spec.hub.tls.mode == "generate":
        dns, ips = hub.superlink_sans(spec)
        state = _material(hub.superlink_service_name(spec), tuple(dns), tuple(ips),
                          spec.hub.tls.validity_days, spec.hub.tls.renew_before_days)
        mocks.state[f"{component}-tls"] = state
    mocks.state[f"{component}-superexec-secret"] = {"nbytes": 32, "secret": SHARED_SECRET}
    return state


def settle(link: SuperLink) -> pulumi.Output[Any]:
    """An Output that resolves once every child and output of the component has resolved."""
    children = [r.id for r in link.resources.values()]
    for extra in (link.certificate, link.shared_secret):
        if extra is not None:
            children.append(extra.id)
    return pulumi.Output.all(
        link.in_cluster_address, link.external_address, link.ca_certificate,
        link.tls_secret_name, link.superexec_secret_name, link.namespace, *children,
    )


def k8s_objects(mocks: Any) -> list[Any]:
    """The Kubernetes objects registered (reads of existing objects, e.g. the user's TLS Secret, left out)."""
    return [r for r in mocks.resources
            if r.typ.startswith("kubernetes:") and not r.typ.startswith("pulumi:providers") and not r.resource_id]


def plain_strings(value: Any) -> Iterator[str]:
    """Every string in recorded inputs that is NOT inside a secret wrapper."""
    if isinstance(value, dict):
        if SECRET_SIG in value:
            return
        for k, v in value.items():
            yield str(k)
            yield from plain_strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from plain_strings(v)
    elif isinstance(value, str):
        yield value


@pytest.fixture(params=sorted(VARIANTS))
def variant(request: pytest.FixtureRequest) -> dict[str, Any]:
    return VARIANTS[request.param]()


# --------------------------------------------------------------------------- every variant


@pulumi.runtime.test
def test_every_registered_object_is_valid_and_restricted(pulumi_mocks: Any, variant: dict[str, Any]) -> Any:
    inject_state(pulumi_mocks, "hub", variant)
    link = SuperLink("hub", superlink_args(variant))
    spec = parse_spec(variant)

    def check(_: Any) -> None:
        objs = k8s_objects(pulumi_mocks)
        expected = hub.hub_objects(spec)
        assert sorted((o.inputs["kind"], o.inputs["metadata"]["name"]) for o in objs) == sorted(
            (o["kind"], o["metadata"]["name"]) for o in expected)
        for reg in objs:
            obj = unwrap(reg.inputs)
            validate_kubernetes(obj)
            assert pss.check_object(obj) == []
            assert reg.typ == f"kubernetes:{obj['apiVersion'] if '/' in obj['apiVersion'] else 'core/v1'}:{obj['kind']}"

    return settle(link).apply(check)


@pulumi.runtime.test
def test_superlink_container_runs_the_contract_argv(pulumi_mocks: Any, variant: dict[str, Any]) -> Any:
    inject_state(pulumi_mocks, "hub", variant)
    link = SuperLink("hub", superlink_args(variant))
    spec = parse_spec(variant)

    def check(_: Any) -> None:
        (dep,) = [r for r in pulumi_mocks.by_type(":Deployment")
                  if r.inputs["metadata"]["name"] == hub.superlink_service_name(spec)]
        (ctr,) = unwrap(dep.inputs)["spec"]["template"]["spec"]["containers"]
        assert ctr["command"] + ctr["args"] == list(flower.superlink(spec, CONTAINER).argv)

    return settle(link).apply(check)


@pulumi.runtime.test
def test_no_private_key_or_shared_secret_outside_secrets(pulumi_mocks: Any, variant: dict[str, Any]) -> Any:
    material = inject_state(pulumi_mocks, "hub", variant)
    link = SuperLink("hub", superlink_args(variant))
    spec = parse_spec(variant)

    def check(values: list[Any]) -> None:
        for reg in pulumi_mocks.resources:
            for s in plain_strings(reg.inputs):
                assert "PRIVATE KEY" not in s, reg.name
                assert SHARED_SECRET not in s, reg.name
        outputs = values[:6]
        for v in outputs:
            assert v is None or ("PRIVATE KEY" not in v and SHARED_SECRET not in v)
        # ...and the material does reach the Secrets, wrapped.
        secrets = {r.inputs["metadata"]["name"]: r.inputs for r in pulumi_mocks.by_type(":Secret") if not r.resource_id}
        if spec.hub.tls.mode == "generate":
            tls_secret = secrets[hub.tls_secret_name(spec)]
            assert SECRET_SIG in tls_secret["stringData"]
            assert unwrap(tls_secret["stringData"]) == {
                "tls.crt": material["cert_pem"], "tls.key": material["key_pem"], "ca.crt": material["ca_cert_pem"]}
        if flower.uses_superexec_secret(spec):
            se = secrets[hub.superexec_secret_name(spec)]
            assert SECRET_SIG in se["stringData"] and unwrap(se["stringData"]) == {"secret": SHARED_SECRET}

    return pulumi.Output.all(settle(link), link.in_cluster_address, link.external_address, link.ca_certificate,
                             link.tls_secret_name, link.superexec_secret_name, link.namespace).apply(
        lambda v: check(list(v[1:])))


@pulumi.runtime.test
def test_resource_options(pulumi_mocks: Any, variant: dict[str, Any]) -> Any:
    inject_state(pulumi_mocks, "hub", variant)
    link = SuperLink("hub", superlink_args(variant))
    spec = parse_spec(variant)

    def check(_: Any) -> None:
        assert pulumi_mocks.requests["hub"].type == TYPE_TOKEN
        objs = k8s_objects(pulumi_mocks)
        # each object waits for the Namespace it lives in (the hub's, or the task pods')
        ns_of = {r.inputs["metadata"]["name"]: r.name for r in objs if r.inputs["kind"] == "Namespace"}
        assert (spec.hub.namespace in ns_of) == spec.hub.create_namespace
        for reg in objs:
            req = pulumi_mocks.requests[reg.name]
            kind = reg.inputs["kind"]
            assert reg.name.startswith("hub-")
            assert req.parent.endswith("flower-federation:index:SuperLink::hub")
            assert req.deleteBeforeReplace is True
            assert list(req.replaceOnChanges) == REPLACE_ON_CHANGES.get(kind, [])
            deps = [d.rsplit("::", 1)[1] for d in req.dependencies]
            own = ns_of.get(reg.inputs["metadata"].get("namespace", ""))
            if own is not None and kind != "Namespace":
                assert own in deps, reg.name
            if kind == "Deployment":
                for other in objs:
                    if other.inputs["kind"] in ("ServiceAccount", "Secret", "ConfigMap", "PersistentVolumeClaim", "Role",
                                                "RoleBinding"):
                        assert other.name in deps, (reg.name, other.name)
        for name in ("hub-tls", "hub-superexec-secret"):
            if name in pulumi_mocks.requests:
                assert pulumi_mocks.requests[name].parent.endswith("SuperLink::hub")

    return settle(link).apply(check)


# --------------------------------------------------------------------------- stability


def _snapshot(mocks: Any) -> dict[str, Any]:
    return {r.name: (r.typ, unwrap(r.inputs)) for r in mocks.resources}


def test_re_evaluating_the_same_config_registers_identical_inputs(pulumi_mocks: Any) -> None:
    data = raw("prod")
    inject_state(pulumi_mocks, "hub", data)
    snapshots: list[dict[str, Any]] = []

    @pulumi.runtime.test
    def program() -> Any:
        pulumi_mocks.resources.clear()
        link = SuperLink("hub", superlink_args(copy.deepcopy(data)))
        return settle(link).apply(lambda _: snapshots.append(_snapshot(pulumi_mocks)))

    program()
    program()
    first, second = snapshots
    assert first == second
    # The only input that could churn is the pickled provider; it is identical too.
    assert first["hub-tls"][1]["__provider"] == second["hub-tls"][1]["__provider"]


# --------------------------------------------------------------------------- outputs


@pulumi.runtime.test
def test_outputs_generate_mode(pulumi_mocks: Any) -> Any:
    data = raw("prod")
    material = inject_state(pulumi_mocks, "hub", data)
    link = SuperLink("hub", superlink_args(data))

    def check(v: list[Any]) -> None:
        assert v[:6] == [
            "flower-prod-superlink.flower-prod.svc:8443",
            "superlink.flower.example.com:443",
            material["ca_cert_pem"],
            "flower-prod-superlink-tls",
            "flower-prod-superexec-secret",
            "flower-prod",
        ]
        (dep,) = [r for r in pulumi_mocks.by_type(":Deployment") if r.inputs["metadata"]["name"] == "flower-prod-superlink"]
        annotations = dep.inputs["spec"]["template"]["metadata"]["annotations"]
        assert annotations == {hub.CHECKSUM_ANNOTATION: hub.tls_checksum(material["cert_pem"], material["ca_cert_pem"])}
        (cert,) = pulumi_mocks.by_type(":SuperLinkCertificate")
        dns, ips = hub.superlink_sans(parse_spec(data))
        assert cert.inputs["dns_names"] == dns and cert.inputs["ip_addresses"] == ips
        assert cert.inputs["validity_days"] == 365 and cert.inputs["renew_before_days"] == 30

    return pulumi.Output.all(link.in_cluster_address, link.external_address, link.ca_certificate, link.tls_secret_name,
                             link.superexec_secret_name, link.namespace, settle(link)).apply(check)


@pulumi.runtime.test
def test_ca_certificate_is_public(pulumi_mocks: Any) -> Any:
    inject_state(pulumi_mocks, "hub", raw("dev"))
    link = SuperLink("hub", superlink_args(raw("dev")))

    async def is_secret() -> bool:
        return await link.ca_certificate.is_secret()

    return pulumi.Output.from_input(is_secret()).apply(lambda s: assert_false(s))


def assert_false(value: bool) -> None:
    assert value is False


@pulumi.runtime.test
def test_outputs_existing_secret_and_insecure(pulumi_mocks: Any) -> Any:
    inject_state(pulumi_mocks, "a", _existing("dev"))
    existing = SuperLink("a", {**superlink_args(_existing("dev")), "existing_ca_certificate": "CA PEM"})
    insecure_data = _insecure("dev")
    insecure_data["name"] = "other"
    insecure_data["hub"]["namespace"] = "other"
    insecure = SuperLink("b", superlink_args(insecure_data))

    def check(v: list[Any]) -> None:
        # Process isolation is the hub's default: both carry the SuperExec secret.
        assert v[:4] == ["CA PEM", "my-superlink-tls", "flower-dev-superexec-secret", "flower-dev"]
        assert v[4:8] == [None, None, "other-superexec-secret", "other"]
        assert pulumi_mocks.by_type(":SuperLinkCertificate") == []
        assert not [r for r in pulumi_mocks.by_type(":Secret") if not r.resource_id and r.inputs["type"] == "kubernetes.io/tls"]

    return pulumi.Output.all(existing.ca_certificate, existing.tls_secret_name, existing.superexec_secret_name,
                             existing.namespace, insecure.ca_certificate, insecure.tls_secret_name,
                             insecure.superexec_secret_name, insecure.namespace,
                             settle(existing), settle(insecure)).apply(check)


@pulumi.runtime.test
def test_provider_is_inherited_by_kubernetes_children_only(pulumi_mocks: Any) -> Any:
    data = raw("prod")
    inject_state(pulumi_mocks, "hub", data)
    provider = k8s.Provider("hub-cluster", kubeconfig="apiVersion: v1", context="hub-prod")
    link = SuperLink("hub", superlink_args(data), opts=pulumi.ResourceOptions(providers=[provider]))

    def check(_: Any) -> None:
        for reg in k8s_objects(pulumi_mocks):
            assert "pulumi:providers:kubernetes::hub-cluster::" in reg.provider, reg.name
        for reg in [*pulumi_mocks.by_type(":SuperLinkCertificate"), *pulumi_mocks.by_type(":SharedSecret")]:
            assert "hub-cluster" not in (reg.provider or "")

    return settle(link).apply(check)


@pulumi.runtime.test
def test_two_instances_coexist(pulumi_mocks: Any) -> Any:
    a = raw("dev")
    b = raw("dev")
    b["name"] = "flower-dev-2"
    inject_state(pulumi_mocks, "one", a)
    inject_state(pulumi_mocks, "two", b)
    one = SuperLink("one", superlink_args(a))
    b["hub"]["createNamespace"] = False
    two = SuperLink("two", superlink_args(b))

    def check(_: Any) -> None:
        names = [r.name for r in pulumi_mocks.resources]
        assert len(names) == len(set(names))
        assert {n.split("-", 1)[0] for n in names if n not in ("one", "two")} == {"one", "two"}

    return pulumi.Output.all(settle(one), settle(two)).apply(check)


def test_invalid_federation_is_rejected_before_registering(pulumi_mocks: Any) -> None:
    from federation.errors import SpecError

    data = raw("dev")
    data["hub"]["tls"] = {"mode": "insecure"}
    with pytest.raises(SpecError, match="allowInsecure"):
        SuperLink("hub", superlink_args(data))


def test_schema_is_inferable_for_packaging() -> None:
    import json

    from pulumi.provider.experimental.component import ComponentProvider

    schema = ComponentProvider([SuperLink], name="flower-federation", version="0.1.0").schema
    doc = json.loads(schema) if isinstance(schema, str) else schema
    res = doc["resources"][TYPE_TOKEN]
    assert res["isComponent"] is True
    assert res.get("requiredInputs", []) == []  # every part has defaults; validation names what is missing
    assert set(res["inputProperties"]) == {"name", "hub", "flower", "existingCaCertificate"}
    hub = doc["types"]["flower-federation:index:HubArgs"]["properties"]
    assert {"namespace", "exposure", "tls", "persistence", "isolation", "supernodeAuth"} <= set(hub)
    assert hub["exposure"]["$ref"] == "#/types/flower-federation:index:ExposureArgs"
    assert {"inClusterAddress", "externalAddress", "caCertificate", "tlsSecretName", "superexecSecretName",
            "namespace"} <= set(res["properties"])


# --------------------------------------------------------------------------- existingSecret: read from the hub


def _deployment_annotations(mocks: Any, name: str) -> dict[str, str]:
    (dep,) = [r for r in mocks.by_type(":Deployment") if r.inputs["metadata"]["name"] == name]
    return dict(dep.inputs["spec"]["template"]["metadata"].get("annotations") or {})


@pulumi.runtime.test
def test_existing_secret_is_read_from_the_hub_and_its_ca_shipped(pulumi_mocks: Any) -> Any:
    data = _existing("prod")
    spec = parse_spec(data)
    inject_state(pulumi_mocks, "hub", data)
    secret_data = pulumi_mocks.state["hub-existing-tls"]["data"]
    cert_pem, ca_pem = (base64.b64decode(secret_data[k]).decode() for k in ("tls.crt", "ca.crt"))
    link = SuperLink("hub", superlink_args(data))

    def check(v: list[Any]) -> None:
        ca_out, is_secret, control = v[0], v[1], v[2]
        assert control == "flower-prod-superlink-api.flower-prod.svc:9093"
        assert ca_out == ca_pem and is_secret is False  # the CA is public: no secret wrapper on the output
        (read,) = [r for r in pulumi_mocks.resources if r.resource_id]
        assert (read.typ, read.name, read.resource_id) == ("kubernetes:core/v1:Secret", "hub-existing-tls",
                                                           "flower-prod/my-superlink-tls")
        assert pulumi_mocks.requests.get("hub-existing-tls") is None  # read, never registered (never managed)
        checksum = hub.tls_checksum(cert_pem, ca_pem)
        # Every pod that reads the certificate at start rolls when it changes.
        for name in ("flower-prod-superlink", "flower-prod-fleet-proxy", "flower-prod-serverapp-superexec"):
            annotations = _deployment_annotations(pulumi_mocks, name)
            assert annotations[hub.CHECKSUM_ANNOTATION] == checksum, name
        assert not [r for r in pulumi_mocks.by_type(":Secret") if r.inputs.get("type") == "kubernetes.io/tls"
                    and not r.resource_id]
        assert spec.hub.tls.secret_name == "my-superlink-tls"

    async def is_secret() -> bool:
        return await link.ca_certificate.is_secret()

    return pulumi.Output.all(link.ca_certificate, pulumi.Output.from_input(is_secret()), link.control_address,
                             settle(link)).apply(check)


def test_a_new_certificate_in_the_existing_secret_rolls_the_pods(pulumi_mocks: Any) -> None:
    data = _existing("dev")
    spec = parse_spec(data)
    dns, ips = hub.superlink_sans(spec)
    seen: list[dict[str, str]] = []

    @pulumi.runtime.test
    def program() -> Any:
        pulumi_mocks.resources.clear()
        link = SuperLink("hub", superlink_args(copy.deepcopy(data)))
        return settle(link).apply(lambda _: seen.append(_deployment_annotations(pulumi_mocks, "flower-dev-superlink")))

    pulumi_mocks.state["hub-existing-tls"] = {"data": existing_secret_data(spec)}
    program()
    program()  # same Secret: same template, no rollout
    renewed = _existing_pems(tuple(dns), tuple(ips), days=120)  # the operator renewed the certificate
    pulumi_mocks.state["hub-existing-tls"] = {"data": existing_secret_data(spec, **dict(zip(
        hub.TLS_SECRET_KEYS, renewed, strict=True)))}
    program()
    assert seen[0] == seen[1]
    assert seen[2][hub.CHECKSUM_ANNOTATION] != seen[0][hub.CHECKSUM_ANNOTATION]
    assert seen[2][hub.CHECKSUM_ANNOTATION] == hub.tls_checksum(renewed[0], renewed[2])


def _program_error(mocks: Any, data: dict[str, Any], secret_data: dict[str, str]) -> str:
    mocks.state["hub-existing-tls"] = {"data": secret_data}

    @pulumi.runtime.test
    def program() -> Any:
        return settle(SuperLink("hub", superlink_args(data)))

    with pytest.raises(pulumi.RunError) as info:
        program()
    return str(info.value)


def test_existing_secret_without_a_key_fails_naming_secret_and_key(pulumi_mocks: Any) -> None:
    data = _existing("dev")
    message = _program_error(pulumi_mocks, data, existing_secret_data(parse_spec(data), **{"ca.crt": None}))
    assert "federation.hub.tls.secretName: Secret flower-dev/my-superlink-tls has no key 'ca.crt'" in message
    assert "Traceback" not in message


def test_existing_secret_certificate_without_the_api_san_fails(pulumi_mocks: Any) -> None:
    data = _existing("prod")
    cert, key, ca = _existing_pems(("superlink.flower.example.com",), ())  # only the external name
    message = _program_error(pulumi_mocks, data, existing_secret_data(
        parse_spec(data), **{"tls.crt": cert, "tls.key": key, "ca.crt": ca}))
    assert "lacks the subjectAltName(s) flower-prod-superlink-api, flower-prod-superlink-api.flower-prod.svc" in message
    assert "superlink.flower.example.com" not in message.split("lacks")[1].split("(")[0]


def test_existing_secret_with_a_foreign_ca_fails(pulumi_mocks: Any) -> None:
    data = _existing("dev")
    spec = parse_spec(data)
    other_ca = tls.generate_ca("someone else", validity_days=30).cert_pem
    message = _program_error(pulumi_mocks, data, existing_secret_data(spec, **{"ca.crt": other_ca}))
    assert "'tls.crt' is not issued by the CA in 'ca.crt'" in message


def test_existing_ca_certificate_argument_overrides_what_clients_trust(pulumi_mocks: Any) -> None:
    data = _existing("dev")
    inject_state(pulumi_mocks, "hub", data)
    got: list[Any] = []

    @pulumi.runtime.test
    def program() -> Any:
        link = SuperLink("hub", {**superlink_args(data), "existing_ca_certificate": "BUNDLE PEM"})
        return pulumi.Output.all(link.ca_certificate, settle(link)).apply(lambda v: got.append(v[0]))

    program()
    assert got == ["BUNDLE PEM"]
    # The Secret is still read and checked: the SuperLink itself mounts its ca.crt.
    assert [r.name for r in pulumi_mocks.resources if r.resource_id] == ["hub-existing-tls"]
