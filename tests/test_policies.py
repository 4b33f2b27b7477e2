"""Each policy rule with an object that passes and one that fails."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from federation.errors import SpecError
from federation.policies import RULES, PolicySettings, check_resource, check_stack, evaluate, parse_settings, rule

PROD = PolicySettings(production=True, require_image_digests=True)
DEV = PolicySettings()
DIGEST = "@sha256:" + "a" * 64


def container(binary: str, args: list[str], image: str = "flwr/superlink:1.41.0" + DIGEST) -> dict[str, Any]:
    return {
        "name": binary.split("-")[-1],
        "image": image,
        "command": [binary],
        "args": args,
        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "1", "memory": "1Gi"}},
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "runAsNonRoot": True,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "livenessProbe": {"httpGet": {"path": "/health", "port": 8000}},
        "readinessProbe": {"httpGet": {"path": "/health", "port": 8000}},
        "volumeMounts": [{"name": "state", "mountPath": "/var/lib/flwr/state"}],
    }


SUPERLINK_ARGS = ["--host", "0.0.0.0", "--port", "8000", "--ssl-certfile", "/t/tls.crt", "--ssl-keyfile", "/t/tls.key",
                  "--ssl-ca-certfile", "/t/ca.crt", "--database", "/var/lib/flwr/state/state.db", "--enable-supernode-auth"]


def deployment(*containers_: dict[str, Any], name: str = "superlink", labels: dict[str, str] | None = None) -> dict[str, Any]:
    labels = labels or {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "flower"},
        "spec": {
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
                    "containers": list(containers_),
                    "volumes": [{"name": "state", "persistentVolumeClaim": {"claimName": "state"}}],
                },
            },
        },
    }


def superlink(args: list[str] | None = None, **kw: Any) -> dict[str, Any]:
    return deployment(container("flower-superlink", SUPERLINK_ARGS if args is None else args, **kw))


def template(*manifests: dict[str, Any], name: str = "flower-supernode-cpu") -> dict[str, Any]:
    return {
        "apiVersion": "addon.open-cluster-management.io/v1alpha1",
        "kind": "AddOnTemplate",
        "metadata": {"name": name},
        "spec": {"addonName": "flower-supernode", "agentSpec": {"workload": {"manifests": list(manifests)}}},
    }


def edited(obj: dict[str, Any], fn: Any) -> dict[str, Any]:
    out = copy.deepcopy(obj)
    fn(out)
    return out


def first_container(obj: dict[str, Any]) -> dict[str, Any]:
    c: dict[str, Any] = obj["spec"]["template"]["spec"]["containers"][0]
    return c


def msgs(name: str, obj: dict[str, Any], settings: PolicySettings = PROD) -> list[str]:
    return check_resource(rule(name), obj, settings)


def test_every_rule_is_documented_and_unique() -> None:
    assert len({r.name for r in RULES}) == len(RULES)
    for r in RULES:
        assert r.description and r.severity and r.enforcement in ("mandatory", "advisory")
        assert (r.resource is None) != (r.stack is None)


def test_no_insecure_transport() -> None:
    assert msgs("no-insecure-transport", superlink()) == []
    insecure = superlink(["--insecure", "--database", "/var/lib/flwr/state/state.db"])
    assert msgs("no-insecure-transport", insecure) == ["Deployment flower/superlink: SuperLink superlink serves without TLS"]
    assert msgs("no-insecure-transport", insecure, PolicySettings(allow_insecure=True)) == []
    node = deployment(container("flower-supernode", ["--superlink", "hub:443", "--insecure"]), name="supernode")
    assert "dials the SuperLink with --insecure" in msgs("no-insecure-transport", template(node))[0]
    # A ClientApp SuperExec on its SuperNode's Runtime API (in-cluster, port 9094) is allowed ...
    clientapp = deployment(container("flower-superexec", ["--runtime-api-address", "supernode:9094", "--insecure"]))
    assert msgs("no-insecure-transport", clientapp) == []
    # ... one dialling the SuperLink is not.
    serverapp = deployment(container("flower-superexec", ["--runtime-api-address", "superlink:8000", "--insecure"]))
    assert msgs("no-insecure-transport", serverapp)


def test_supernode_auth_in_production() -> None:
    assert msgs("supernode-auth-in-production", superlink()) == []
    no_auth = superlink([a for a in SUPERLINK_ARGS if a != "--enable-supernode-auth"])
    assert msgs("supernode-auth-in-production", no_auth) == [
        "Deployment flower/superlink: production SuperLink without --enable-supernode-auth"]
    assert msgs("supernode-auth-in-production", no_auth, DEV) == []


@pytest.mark.parametrize(
    ("image", "settings", "fails"),
    [
        ("flwr/superlink:1.41.0" + DIGEST, PROD, False),
        ("flwr/superlink:1.41.0", DEV, False),
        ("flwr/superlink:1.41.0", PROD, True),
        ("flwr/superlink:latest", DEV, True),
        ("flwr/superlink", DEV, True),
        ("registry:5000/flwr/superlink", DEV, True),
        ("flwr/superlink" + DIGEST, PROD, False),
        ("{{FLOWER_SUPERNODE_IMAGE}}", PROD, False),
    ],
)
def test_images_pinned(image: str, settings: PolicySettings, fails: bool) -> None:
    assert bool(msgs("images-pinned", superlink(image=image), settings)) is fails


def test_flower_versions_match() -> None:
    link = superlink()
    node = deployment(container("flower-supernode", ["--superlink", "h:1"], image="flwr/supernode:1.41.0"), name="n")
    assert check_stack(rule("flower-versions-match"), [link, template(node)], PROD) == []
    old = deployment(container("flower-supernode", ["--superlink", "h:1"], image="flwr/supernode:1.29.0"), name="n")
    found = check_stack(rule("flower-versions-match"), [link, template(old)], PROD)
    assert len(found) == 1 and "1.29" in found[0][1] and "1.41" in found[0][1]


def test_restricted_pod_security() -> None:
    assert msgs("restricted-pod-security", superlink()) == []
    cases = {
        "allowPrivilegeEscalation must be false": lambda o: first_container(o)["securityContext"].pop("allowPrivilegeEscalation"),
        "capabilities.drop must include ALL": lambda o: first_container(o)["securityContext"].update(capabilities={}),
        "capabilities.add 'SYS_ADMIN' is not allowed": lambda o: first_container(o)["securityContext"]["capabilities"].update(add=["SYS_ADMIN"]),
        "privileged must be false": lambda o: first_container(o)["securityContext"].update(privileged=True),
        "spec.hostNetwork must be false": lambda o: o["spec"]["template"]["spec"].update(hostNetwork=True),
        "volume 'h' uses hostPath": lambda o: o["spec"]["template"]["spec"]["volumes"].append({"name": "h", "hostPath": {"path": "/"}}),
        "runAsNonRoot must be true": lambda o: (first_container(o)["securityContext"].pop("runAsNonRoot"),
                                            o["spec"]["template"]["spec"]["securityContext"].pop("runAsNonRoot")),
        "seccompProfile must be RuntimeDefault or Localhost": lambda o: (first_container(o)["securityContext"].pop("seccompProfile"),
                                           o["spec"]["template"]["spec"]["securityContext"].pop("seccompProfile")),
        "uses hostPort 8000": lambda o: first_container(o).update(ports=[{"containerPort": 8000, "hostPort": 8000}]),
    }
    for expected, fn in cases.items():
        found = msgs("restricted-pod-security", edited(superlink(), fn))
        assert any(expected in m for m in found), (expected, found)
    # The same bar applies to a pod inside an AddOnTemplate.
    bad = edited(superlink(), cases["privileged must be false"])
    assert msgs("restricted-pod-security", template(bad))


def test_resources_set() -> None:
    assert msgs("resources-set", superlink()) == []
    found = msgs("resources-set", edited(superlink(), lambda o: first_container(o)["resources"].pop("limits")))
    assert found == ["Deployment flower/superlink: container superlink sets no limits for cpu, memory"]


def test_probes_present() -> None:
    assert msgs("probes-present", superlink()) == []
    assert msgs("probes-present", edited(superlink(), lambda o: first_container(o).pop("readinessProbe")))
    # SuperExecs (issue #14): a gRPC liveness probe on their --health-server-address; readiness is not required.
    args = ["--runtime-api-address", "s:9094", "--health-server-address", "0.0.0.0:9099"]
    superexec = deployment(container("flower-superexec", args))
    live = lambda o: first_container(o).update(livenessProbe={"grpc": {"port": 9099}})  # noqa: E731
    assert msgs("probes-present", edited(edited(superexec, live), lambda o: first_container(o).pop("readinessProbe"))) == []
    # Pulumi hands numbers over as floats.
    assert msgs("probes-present", edited(superexec, lambda o: first_container(o).update(livenessProbe={"grpc": {"port": 9099.0}}))) == []
    found = msgs("probes-present", edited(superexec, lambda o: first_container(o).pop("livenessProbe")))
    assert found and "superexec has no livenessProbe" in found[0]
    found = msgs("probes-present", superexec)  # an HTTP probe cannot ask a gRPC health server
    assert found and "not a gRPC probe on its health server port 9099" in found[0]
    found = msgs("probes-present", edited(superexec, lambda o: first_container(o).update(livenessProbe={"grpc": {"port": 1}})))
    assert found and "port 9099" in found[0]
    bare = deployment(container("flower-superexec", ["--runtime-api-address", "s:9094"]))
    found = msgs("probes-present", bare)
    assert found and "no --health-server-address" in found[0]
    # Init containers run to completion: no probes expected.
    with_init = edited(superlink(), lambda o: o["spec"]["template"]["spec"].update(
        initContainers=[{**container("flower-superexec", ["--runtime-api-address", "s:1"]), "livenessProbe": None}]))
    assert msgs("probes-present", with_init) == []


def test_hub_process_isolation_when_exposed() -> None:
    r = rule("hub-process-isolation")
    assert r.enforcement == "advisory"
    sub = deployment(container("flower-superlink", [*SUPERLINK_ARGS, "--isolation", "subprocess"]))
    proc = deployment(container("flower-superlink", [*SUPERLINK_ARGS, "--isolation", "process"]))
    cluster_ip = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "api", "namespace": "flower"},
                  "spec": {"type": "ClusterIP", "ports": [{"port": 9093}]}}
    for exposed in ({"type": "LoadBalancer"}, {"type": "NodePort"}, {"type": "ClusterIP", "externalIPs": ["192.0.2.1"]}):
        svc = edited(cluster_ip, lambda o, e=exposed: o["spec"].update(e))
        found = check_stack(r, [sub, cluster_ip, svc], PROD)
        assert len(found) == 1 and "subprocess isolation on a hub exposed by Service flower/api" in found[0][1]
        assert check_stack(r, [proc, svc], PROD) == []
        assert check_stack(r, [sub, edited(svc, lambda o: o["metadata"].update(namespace="other"))], PROD) == []
    assert check_stack(r, [sub, cluster_ip], PROD) == []


def test_superlink_network_policy() -> None:
    link = superlink()
    policy = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "p", "namespace": "flower"},
              "spec": {"podSelector": {"matchLabels": {"app": "superlink"}}, "policyTypes": ["Ingress"]}}
    r = rule("superlink-network-policy")
    assert check_stack(r, [link, policy], PROD) == []
    assert check_stack(r, [link], PROD)
    other_ns = edited(policy, lambda p: p["metadata"].update(namespace="elsewhere"))
    assert check_stack(r, [link, other_ns], PROD)
    other_pods = edited(policy, lambda p: p["spec"]["podSelector"].update(matchLabels={"app": "x"}))
    assert check_stack(r, [link, other_pods], PROD)
    egress_only = edited(policy, lambda p: p["spec"].update(policyTypes=["Egress"]))
    assert check_stack(r, [link, egress_only], PROD)


def test_loadbalancer_source_ranges() -> None:
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s", "namespace": "f"},
           "spec": {"type": "LoadBalancer", "ports": [{"port": 443}], "loadBalancerSourceRanges": ["203.0.113.0/24"]}}
    assert msgs("loadbalancer-source-ranges", svc) == []
    assert msgs("loadbalancer-source-ranges", edited(svc, lambda s: s["spec"].pop("loadBalancerSourceRanges")))
    assert msgs("loadbalancer-source-ranges", edited(svc, lambda s: s["spec"].update(type="ClusterIP",
                                                                                    loadBalancerSourceRanges=[]))) == []


def test_placements_bounded_in_production() -> None:
    placement = {"apiVersion": "cluster.open-cluster-management.io/v1beta1", "kind": "Placement",
                 "metadata": {"name": "gpu", "namespace": "f"}, "spec": {"clusterSets": ["s"], "numberOfClusters": 3}}
    assert msgs("placements-bounded-in-production", placement) == []
    unbounded = edited(placement, lambda p: p["spec"].pop("numberOfClusters"))
    assert msgs("placements-bounded-in-production", unbounded)
    assert msgs("placements-bounded-in-production", unbounded, DEV) == []


def _addon(variables: list[str]) -> list[dict[str, Any]]:
    node = deployment(container("flower-supernode", ["--superlink", "{{FLOWER_SUPERLINK_ADDRESS}}", "--node-config",
                                                      'cluster-name="{{CLUSTER_NAME}}"']), name="supernode")
    cma = {"apiVersion": "addon.open-cluster-management.io/v1alpha1", "kind": "ClusterManagementAddOn",
           "metadata": {"name": "flower-supernode"},
           "spec": {"supportedConfigs": [
               {"group": "addon.open-cluster-management.io", "resource": "addontemplates", "defaultConfig": {"name": "flower-supernode-cpu"}}],
               "installStrategy": {"type": "Placements", "placements": [{"name": "cpu", "namespace": "f", "configs": [
                   {"group": "addon.open-cluster-management.io", "resource": "addontemplates", "name": "flower-supernode-cpu"},
                   {"group": "addon.open-cluster-management.io", "resource": "addondeploymentconfigs", "name": "cpu", "namespace": "f"}]}]}}}
    adc = {"apiVersion": "addon.open-cluster-management.io/v1alpha1", "kind": "AddOnDeploymentConfig",
           "metadata": {"name": "cpu", "namespace": "f"},
           "spec": {"customizedVariables": [{"name": v, "value": "x"} for v in variables]}}
    return [template(node), cma, adc]


def test_addon_template_variables_defined() -> None:
    r = rule("addon-template-variables-defined")
    assert check_stack(r, _addon(["FLOWER_SUPERLINK_ADDRESS"]), PROD) == []
    found = check_stack(r, _addon(["OTHER"]), PROD)
    assert found == [("AddOnTemplate flower-supernode-cpu", "uses {{FLOWER_SUPERLINK_ADDRESS}} which AddOnDeploymentConfig "
                      "f/cpu does not define (OCM renders it as an empty string)")]
    missing_adc = [o for o in _addon(["FLOWER_SUPERLINK_ADDRESS"]) if o["kind"] != "AddOnDeploymentConfig"]
    assert "is referenced but not declared" in check_stack(r, missing_adc, PROD)[0][1]


def test_no_private_keys_outside_secrets() -> None:
    key = "-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----\n"
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "stringData": {"tls.key": key}}
    assert msgs("no-private-keys-outside-secrets", secret) == []
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"key": key}}
    assert msgs("no-private-keys-outside-secrets", cm) == ["ConfigMap c: contains private key material outside a Secret"]
    env = edited(superlink(), lambda o: first_container(o).update(env=[{"name": "KEY", "value": key}]))
    assert msgs("no-private-keys-outside-secrets", env)
    in_template = template({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "stringData": {"k": key}})
    found = msgs("no-private-keys-outside-secrets", in_template)
    assert any("stored in plain text on the hub" in m for m in found) and any("private key material" in m for m in found)
    assert msgs("no-private-keys-outside-secrets", superlink()) == []


def test_superlink_state_persisted() -> None:
    assert msgs("superlink-state-persisted", superlink()) == []
    in_memory = superlink([a for a in SUPERLINK_ARGS if a not in ("--database", "/var/lib/flwr/state/state.db")])
    assert msgs("superlink-state-persisted", in_memory)
    assert msgs("superlink-state-persisted", in_memory, DEV) == []
    on_empty_dir = edited(superlink(), lambda o: o["spec"]["template"]["spec"].update(volumes=[{"name": "state", "emptyDir": {}}]))
    assert "is not on a PersistentVolumeClaim" in msgs("superlink-state-persisted", on_empty_dir)[0]


def test_enforcement_overrides_and_evaluate() -> None:
    bad = superlink(["--insecure"])
    found = evaluate([bad], PROD)
    assert {v.rule for v in found} >= {"no-insecure-transport", "supernode-auth-in-production", "superlink-state-persisted"}
    relaxed = PolicySettings(production=True, enforcement={"no-insecure-transport": "advisory", "superlink-state-persisted": "disabled"})
    levels = {v.rule: v.enforcement for v in evaluate([bad], relaxed)}
    assert levels["no-insecure-transport"] == "advisory" and "superlink-state-persisted" not in levels


def test_settings_parse_with_field_paths() -> None:
    assert parse_settings(None) == PolicySettings()
    assert parse_settings({"production": True}).production
    with pytest.raises(SpecError) as info:
        parse_settings({"production": "maybe", "enforcement": {"images-pinned": "sometimes"}})
    found = [str(p) for p in info.value.problems]
    assert any(f.startswith("policy.production: must be true or false") for f in found)
    assert any(f.startswith("policy.enforcement.images-pinned: must be one of") for f in found)
    with pytest.raises(SpecError, match=r"policy.enforcement.no-such-rule: unknown rule"):
        parse_settings({"enforcement": {"no-such-rule": "advisory"}})
