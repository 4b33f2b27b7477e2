"""The hub's pure builders: schema-valid, PSS-restricted, and faithful to the Flower runtime contract."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from federation import flower
from federation.flower import CONTAINER
from federation.loading import parse_spec, read_stack_config, stack_file
from federation.manifests import hub
from federation.manifests.hub import HubSecrets, hub_objects
from federation.policies import pss
from federation.spec import FederationSpec
from tests.schemas import validate_kubernetes

STACKS = Path(__file__).resolve().parents[1] / "stacks"
MATERIAL = HubSecrets(tls_cert="CERT", tls_key="KEY", ca_cert="CA", superexec_secret="SECRET", tls_checksum="abc")


def raw(stack: str) -> dict[str, Any]:
    data = read_stack_config(stack_file(stack, STACKS))
    assert isinstance(data, dict)
    return copy.deepcopy(data)


def variant(stack: str, **hub_overrides: Any) -> FederationSpec:
    data = raw(stack)
    data["hub"].update(hub_overrides)
    return parse_spec(data)


def _insecure(stack: str) -> FederationSpec:
    data = raw(stack)
    data["hub"]["tls"] = {"mode": "insecure", "allowInsecure": True}
    data["hub"].pop("supernodeAuth", None)
    return parse_spec(data)


def _existing(stack: str) -> FederationSpec:
    data = raw(stack)
    data["hub"]["tls"] = {"mode": "existingSecret", "secretName": "my-superlink-tls"}
    data["hub"]["createNamespace"] = False  # the Secret's namespace exists before the SuperLink
    return parse_spec(data)


def _process(stack: str) -> FederationSpec:
    data = raw(stack)
    data["hub"]["isolation"] = "process"
    data.setdefault("flower", {}).setdefault("images", {})["superexec"] = "ghcr.io/example/serverapp:1.0.0"
    return parse_spec(data)


def _minimal(stack: str) -> FederationSpec:
    data = raw(stack)
    data["hub"].update(createNamespace=False, persistence={"enabled": False},
                       exposure={"type": "ClusterIP", "externalIPs": ["192.0.2.10"]})
    return parse_spec(data)


VARIANTS = {
    "dev": lambda: parse_spec(raw("dev")),
    "prod": lambda: parse_spec(raw("prod")),
    "dev-insecure": lambda: _insecure("dev"),
    "prod-insecure": lambda: _insecure("prod"),
    "dev-existing-secret": lambda: _existing("dev"),
    "prod-existing-secret": lambda: _existing("prod"),
    "dev-process": lambda: _process("dev"),
    "dev-minimal": lambda: _minimal("dev"),
}


@pytest.fixture(params=sorted(VARIANTS))
def spec(request: pytest.FixtureRequest) -> FederationSpec:
    return VARIANTS[request.param]()


def by_kind(objs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objs if o["kind"] == kind]


def deployment(objs: list[dict[str, Any]], name: str) -> dict[str, Any]:
    (d,) = [o for o in by_kind(objs, "Deployment") if o["metadata"]["name"] == name]
    return d


def pod(d: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = d["spec"]["template"]["spec"]
    return result


# --------------------------------------------------------------------------- every variant


def test_every_object_validates_against_kubernetes_1_33(spec: FederationSpec) -> None:
    for obj in hub_objects(spec, tls_material=MATERIAL):
        validate_kubernetes(obj)


def test_every_pod_passes_restricted_pss(spec: FederationSpec) -> None:
    objs = hub_objects(spec, tls_material=MATERIAL)
    workloads = by_kind(objs, "Deployment")
    assert workloads
    for obj in workloads:
        assert pss.check_object(obj) == []


def test_order_is_deterministic_and_documented(spec: FederationSpec) -> None:
    first = hub_objects(spec, tls_material=MATERIAL)
    assert first == hub_objects(spec, tls_material=MATERIAL)
    ranks = [hub.OBJECT_ORDER.index(o["kind"]) for o in first]
    assert ranks == sorted(ranks)
    keys = [(o["kind"], o["metadata"]["name"]) for o in first]
    assert len(keys) == len(set(keys))


def test_superlink_container_runs_the_contract_argv(spec: FederationSpec) -> None:
    objs = hub_objects(spec, tls_material=MATERIAL)
    (ctr,) = pod(deployment(objs, hub.superlink_service_name(spec)))["containers"]
    assert ctr["command"] + ctr["args"] == list(flower.superlink(spec, CONTAINER).argv)
    assert ctr["args"][:2] == ["--host", "0.0.0.0"]
    assert {e["name"]: e["value"] for e in ctr["env"]} == dict(flower.superlink(spec, CONTAINER).env)
    assert ctr["image"] == spec.flower.images.superlink


def test_read_only_root_with_a_volume_for_every_writable_path(spec: FederationSpec) -> None:
    objs = hub_objects(spec, tls_material=MATERIAL)
    for d in by_kind(objs, "Deployment"):
        p = pod(d)
        (ctr,) = p["containers"]
        proxy = d["metadata"]["name"] == hub.proxy_name(spec)
        for c in [ctr, *p.get("initContainers", [])]:
            assert c["securityContext"]["readOnlyRootFilesystem"] is True
            mounted = {m["mountPath"] for m in c["volumeMounts"]}
            # nginx writes only its pid and temp files (under /tmp); Flower writes more.
            for path in (("/tmp",) if proxy else (CONTAINER.flwr_home, "/app/.cache", "/app/.config", "/tmp", "/var/tmp")):
                assert path in mounted, (d["metadata"]["name"], c["name"], path)
        volumes = {v["name"] for v in p["volumes"]}
        assert {m["name"] for m in ctr["volumeMounts"]} == volumes
        # The pause container reaps Flower's orphans; nginx's master reaps its own workers.
        assert p["shareProcessNamespace"] is not proxy
        assert p["automountServiceAccountToken"] is False
        assert p.get("imagePullSecrets", []) == [{"name": n} for n in spec.flower.image_pull_secrets]


def test_state_lives_on_the_pvc_when_persistent(spec: FederationSpec) -> None:
    objs = hub_objects(spec, tls_material=MATERIAL)
    d = deployment(objs, hub.superlink_service_name(spec))
    assert d["spec"]["replicas"] == 1
    assert d["spec"]["strategy"] == {"type": "Recreate"}
    p = pod(d)
    state = [v for v in p["volumes"] if "persistentVolumeClaim" in v]
    pvcs = by_kind(objs, "PersistentVolumeClaim")
    if spec.hub.persistence.enabled:
        (pvc,) = pvcs
        assert pvc["spec"]["accessModes"] == ["ReadWriteOnce"]
        assert pvc["spec"]["resources"]["requests"]["storage"] == spec.hub.persistence.size
        assert pvc["spec"].get("storageClassName") == spec.hub.persistence.storage_class
        assert state == [{"name": "state", "persistentVolumeClaim": {"claimName": pvc["metadata"]["name"]}}]
        (ctr,) = p["containers"]
        assert {"name": "state", "mountPath": CONTAINER.state_dir} in ctr["volumeMounts"]
    else:
        assert pvcs == [] and state == []


def test_tls_secret_mount_and_probe_scheme(spec: FederationSpec) -> None:
    objs = hub_objects(spec, tls_material=MATERIAL)
    p = pod(deployment(objs, hub.superlink_service_name(spec)))
    (ctr,) = p["containers"]
    tls_vols = [v for v in p["volumes"] if v["name"] == "tls"]
    secrets = {s["metadata"]["name"]: s for s in by_kind(objs, "Secret")}
    scheme = ctr["livenessProbe"]["httpGet"]["scheme"]
    assert ctr["readinessProbe"]["httpGet"] == ctr["livenessProbe"]["httpGet"] == ctr["startupProbe"]["httpGet"]
    assert ctr["livenessProbe"]["httpGet"]["path"] == "/health"
    if spec.hub.tls.mode == "insecure":
        assert "--insecure" in ctr["args"] and tls_vols == [] and scheme == "HTTP"
        assert hub.tls_secret_name(spec) is None
        assert all(s["type"] != "kubernetes.io/tls" for s in secrets.values())
        return
    assert scheme == "HTTPS"
    (vol,) = tls_vols
    name = hub.tls_secret_name(spec)
    assert vol["secret"]["secretName"] == name
    assert {i["path"] for i in vol["secret"]["items"]} == {"tls.crt", "tls.key", "ca.crt"}
    assert {"name": "tls", "mountPath": CONTAINER.tls_dir, "readOnly": True} in ctr["volumeMounts"]
    # The file names the argv points at are exactly the projected keys.
    for path in (CONTAINER.server_cert, CONTAINER.server_key, CONTAINER.ca_cert):
        assert path in ctr["args"]
        assert path.rsplit("/", 1)[1] in {i["path"] for i in vol["secret"]["items"]}
    if spec.hub.tls.mode == "existingSecret":
        assert name == "my-superlink-tls" and name not in secrets
    else:
        secret = secrets[name]
        assert secret["type"] == "kubernetes.io/tls"
        assert secret["stringData"] == {"tls.crt": "CERT", "tls.key": "KEY", "ca.crt": "CA"}
        annotations = deployment(objs, hub.superlink_service_name(spec))["spec"]["template"]["metadata"]["annotations"]
        assert annotations == {hub.CHECKSUM_ANNOTATION: "abc"}


def test_service_accounts_do_not_mount_tokens(spec: FederationSpec) -> None:
    objs = hub_objects(spec)
    sas = by_kind(objs, "ServiceAccount")
    assert sas and all(sa["automountServiceAccountToken"] is False for sa in sas)
    names = {sa["metadata"]["name"] for sa in sas}
    assert {pod(d)["serviceAccountName"] for d in by_kind(objs, "Deployment")} <= names


def test_namespace_only_when_created(spec: FederationSpec) -> None:
    objs = hub_objects(spec)
    ns = by_kind(objs, "Namespace")
    if spec.hub.create_namespace:
        assert objs[0] == ns[0]
        assert ns[0]["metadata"]["name"] == spec.hub.namespace
        assert ns[0]["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    else:
        assert ns == []
    assert all(o["metadata"]["namespace"] == spec.hub.namespace for o in objs if o["kind"] != "Namespace")


def test_superlink_network_policy_admits_only_in_hub_peers_on_the_api_port(spec: FederationSpec) -> None:
    objs = hub_objects(spec)
    np = {o["metadata"]["name"]: o for o in by_kind(objs, "NetworkPolicy")}
    sl = np[hub.superlink_service_name(spec)]["spec"]
    selector = lambda name: deployment(objs, name)["spec"]["selector"]["matchLabels"]  # noqa: E731
    assert sl["policyTypes"] == ["Ingress", "Egress"]
    peers = [{"podSelector": {"matchLabels": selector(hub.proxy_name(spec))}}]
    if spec.hub.isolation == "process":
        peers.append({"podSelector": {"matchLabels": selector(hub.superexec_name(spec))}})
    if spec.hub.supernode_auth.registration == "Automatic":  # the SuperNode registrar (its Deployment is the addon's)
        from federation.manifests.ocm import registrar

        (reg,) = [o for o in registrar.registrar_objects(spec) if o["kind"] == "Deployment"]
        peers.append({"podSelector": {"matchLabels": reg["spec"]["selector"]["matchLabels"]}})
    # Never from anywhere: only the Fleet proxy, the ServerApp SuperExec, the registrar (and named controlClients).
    assert sl["ingress"] == [{"from": peers, "ports": [{"protocol": "TCP", "port": spec.hub.api_port}]}]
    assert sl["egress"] == []
    assert sl["podSelector"]["matchLabels"] == selector(hub.superlink_service_name(spec))
    # The proxy: from anywhere on hub.port, out only to DNS and the SuperLink's API port.
    px = np[hub.proxy_name(spec)]["spec"]
    assert px["podSelector"]["matchLabels"] == selector(hub.proxy_name(spec))
    assert px["ingress"] == [{"ports": [{"protocol": "TCP", "port": spec.hub.port}]}]
    assert px["egress"] == [
        {"ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]},
        {"to": [{"podSelector": {"matchLabels": selector(hub.superlink_service_name(spec))}}],
         "ports": [{"protocol": "TCP", "port": spec.hub.api_port}]},
    ]


def test_pdb_allows_draining_the_single_replica(spec: FederationSpec) -> None:
    (pdb,) = by_kind(hub_objects(spec), "PodDisruptionBudget")
    assert pdb["spec"]["maxUnavailable"] == 1
    assert "minAvailable" not in pdb["spec"]
    assert pdb["spec"]["unhealthyPodEvictionPolicy"] == "AlwaysAllow"


def test_sans_cover_every_address_clients_dial(spec: FederationSpec) -> None:
    dns, ips = hub.superlink_sans(spec)
    in_cluster, external = hub.superlink_addresses(spec)
    assert in_cluster.rsplit(":", 1)[0] in dns
    assert hub.superlink_service_name(spec) in dns  # the ServerApp SuperExec dials the short name
    assert "127.0.0.1" in ips  # subprocess SuperExec
    if external is not None:
        host = external.rsplit(":", 1)[0].strip("[]")
        assert host in dns or host in ips


# --------------------------------------------------------------------------- specific variants


def test_process_isolation_superexec() -> None:
    spec = VARIANTS["prod"]()
    objs = hub_objects(spec, tls_material=MATERIAL)
    se = deployment(objs, f"{spec.name}-serverapp-superexec")
    p = pod(se)
    (ctr,) = p["containers"]
    expected = flower.serverapp_superexec(spec, CONTAINER, superlink_host=hub.api_service_name(spec))
    assert ctr["command"] + ctr["args"] == list(expected.argv)
    assert f"{hub.api_service_name(spec)}:{spec.hub.api_port}" in ctr["args"]
    assert ctr["image"] == spec.flower.images.superexec
    # gRPC health (--health-server-address) for startup and liveness; no readiness (nothing routes to it).
    grpc = {"port": flower.GRPC_HEALTH_PORT}
    assert ctr["livenessProbe"]["grpc"] == ctr["startupProbe"]["grpc"] == grpc
    assert "readinessProbe" not in ctr
    assert {"name": "grpc-health", "containerPort": flower.GRPC_HEALTH_PORT, "protocol": "TCP"} in ctr["ports"]
    # Only the CA, never the server key.
    (ca,) = [v for v in p["volumes"] if v["name"] == "tls-ca"]
    assert ca["secret"]["items"] == [{"key": "ca.crt", "path": "ca.crt"}]
    (sec,) = [v for v in p["volumes"] if v["name"] == "superexec-secret"]
    assert sec["secret"]["secretName"] == hub.superexec_secret_name(spec)
    assert sec["secret"]["items"] == [{"key": "secret", "path": "secret"}]
    assert {"name": "superexec-secret", "mountPath": CONTAINER.secret_dir, "readOnly": True} in ctr["volumeMounts"]
    assert CONTAINER.superexec_secret in ctr["args"]
    # The SuperLink gets the same secret file.
    sl = pod(deployment(objs, hub.superlink_service_name(spec)))
    assert any(v["name"] == "superexec-secret" for v in sl["volumes"])
    (secret,) = [s for s in by_kind(objs, "Secret") if s["metadata"]["name"] == hub.superexec_secret_name(spec)]
    assert secret["type"] == "Opaque" and secret["stringData"] == {"secret": "SECRET"}
    # NetworkPolicy: no ingress; egress DNS + SuperLink port on SuperLink pods only.
    (np,) = [o for o in by_kind(objs, "NetworkPolicy") if o["metadata"]["name"] == se["metadata"]["name"]]
    assert np["spec"]["ingress"] == []
    assert np["spec"]["podSelector"]["matchLabels"] == se["spec"]["selector"]["matchLabels"]
    to_superlink = [r for r in np["spec"]["egress"] if "to" in r]
    assert to_superlink == [{
        "to": [{"podSelector": {"matchLabels": deployment(objs, hub.superlink_service_name(spec))["spec"]["selector"]["matchLabels"]}}],
        "ports": [{"protocol": "TCP", "port": spec.hub.api_port}],
    }]
    assert [r for r in np["spec"]["egress"] if "to" not in r] == [{"ports": [{"protocol": "UDP", "port": 53},
                                                                            {"protocol": "TCP", "port": 53}]}]


def test_subprocess_isolation_has_no_superexec_objects() -> None:
    spec = variant("dev", isolation="subprocess", allowSubprocessIsolation=True)
    objs = hub_objects(spec)
    assert hub.superexec_secret_name(spec) is None
    assert [d["metadata"]["name"] for d in by_kind(objs, "Deployment")] == [hub.superlink_service_name(spec),
                                                                          hub.proxy_name(spec)]
    assert len(by_kind(objs, "NetworkPolicy")) == 2


def test_runtime_dependency_installation_opens_egress_for_the_package_index() -> None:
    spec = variant("dev", runtimeDependencyInstallation=True, isolation="subprocess", allowSubprocessIsolation=True)
    np = {o["metadata"]["name"]: o for o in by_kind(hub_objects(spec), "NetworkPolicy")}[hub.superlink_service_name(spec)]
    ports = {(p["protocol"], p["port"]) for rule in np["spec"]["egress"] for p in rule["ports"]}
    assert ports == {("UDP", 53), ("TCP", 53), ("TCP", 443), ("TCP", 80)}


def test_dev_nodeport_service_and_addresses() -> None:
    spec = VARIANTS["dev"]()
    svc, api = by_kind(hub_objects(spec), "Service")
    assert api["spec"]["type"] == "ClusterIP" and api["metadata"]["name"] == hub.api_service_name(spec)
    assert svc["spec"]["type"] == "NodePort"
    assert svc["spec"]["ports"] == [{"name": "flower", "port": 8000, "targetPort": "flower", "protocol": "TCP", "nodePort": 30800}]
    assert hub.superlink_addresses(spec) == ("flower-dev-superlink.flower-dev.svc:8000", "superlink.dev.flower.example.com:30800")


def test_prod_load_balancer_service_and_addresses() -> None:
    spec = VARIANTS["prod"]()
    svc, _ = by_kind(hub_objects(spec), "Service")
    assert svc["spec"]["type"] == "LoadBalancer"
    assert svc["spec"]["loadBalancerSourceRanges"] == ["203.0.113.0/24", "198.51.100.0/24"]
    # The LB listens where spokes dial (443); in-cluster clients keep 8443.
    assert [(p["name"], p["port"], p["targetPort"]) for p in svc["spec"]["ports"]] == [
        ("flower", 8443, "flower"), ("flower-external", 443, "flower")]
    assert hub.superlink_addresses(spec) == ("flower-prod-superlink.flower-prod.svc:8443", "superlink.flower.example.com:443")


def test_service_annotations_and_external_ip_fallbacks() -> None:
    spec = variant("dev", exposure={"type": "LoadBalancer", "externalIPs": ["2001:db8::1"],
                                    "annotations": {"service.beta.kubernetes.io/aws-load-balancer-internal": "true"}})
    svc, api = by_kind(hub_objects(spec), "Service")
    assert "annotations" not in api["metadata"]  # load balancer annotations belong to the exposed Service only
    assert svc["metadata"]["annotations"] == {"service.beta.kubernetes.io/aws-load-balancer-internal": "true"}
    assert hub.superlink_addresses(spec)[1] == "[2001:db8::1]:8000"
    spec = VARIANTS["dev-minimal"]()
    assert hub.superlink_addresses(spec) == ("flower-dev-superlink.flower-dev.svc:8000", "192.0.2.10:8000")
    data = raw("dev")
    data["hub"]["exposure"] = {"type": "ClusterIP"}
    # Structurally valid; the cross-field rules (OCM needs an external address) are not the builder's concern.
    assert hub.superlink_addresses(FederationSpec.model_validate(data)) == ("flower-dev-superlink.flower-dev.svc:8000", None)


def test_without_material_secrets_have_no_data_and_no_checksum() -> None:
    spec = VARIANTS["prod"]()
    objs = hub_objects(spec)
    assert all(s["stringData"] == {} for s in by_kind(objs, "Secret"))
    assert "annotations" not in deployment(objs, hub.superlink_service_name(spec))["spec"]["template"]["metadata"]


def test_tls_checksum_changes_with_the_certificate() -> None:
    assert hub.tls_checksum("a", "b") == hub.tls_checksum("a", "b")
    assert hub.tls_checksum("a", "b") != hub.tls_checksum("a", "c")
    assert hub.tls_checksum("ab", "c") != hub.tls_checksum("a", "bc")


# --------------------------------------------------------------------------- the PSS checker itself


def _good_pod() -> dict[str, Any]:
    spec = VARIANTS["dev"]()
    return copy.deepcopy(pod(deployment(hub_objects(spec), hub.superlink_service_name(spec))))


@pytest.mark.parametrize(
    ("mutate", "fragment"),
    [
        (lambda p: p.update(hostNetwork=True), "hostNetwork"),
        (lambda p: p.update(hostPID=True), "hostPID"),
        (lambda p: p.update(hostIPC=True), "hostIPC"),
        (lambda p: p["volumes"].append({"name": "h", "hostPath": {"path": "/"}}), "hostPath"),
        (lambda p: p["volumes"].append({"name": "n", "nfs": {"server": "x", "path": "/"}}), "'nfs'"),
        (lambda p: p["containers"][0]["securityContext"].update(privileged=True), "privileged"),
        (lambda p: p["containers"][0]["securityContext"].update(allowPrivilegeEscalation=True), "allowPrivilegeEscalation"),
        (lambda p: p["containers"][0]["securityContext"].pop("allowPrivilegeEscalation"), "allowPrivilegeEscalation"),
        (lambda p: p["containers"][0]["securityContext"].update(capabilities={"drop": ["NET_RAW"]}), "drop must include ALL"),
        (lambda p: p["containers"][0]["securityContext"].update(capabilities={"drop": ["ALL"], "add": ["SYS_ADMIN"]}),
         "SYS_ADMIN"),
        (lambda p: p["containers"][0]["securityContext"].update(runAsNonRoot=False), "runAsNonRoot"),
        (lambda p: (p["securityContext"].pop("runAsNonRoot"), p["containers"][0]["securityContext"].pop("runAsNonRoot")),
         "runAsNonRoot"),
        (lambda p: p["containers"][0]["securityContext"].update(runAsUser=0), "runAsUser"),
        (lambda p: p["securityContext"].update(seccompProfile={"type": "Unconfined"}), "Unconfined"),
        (lambda p: (p["securityContext"].pop("seccompProfile"), p["containers"][0]["securityContext"].pop("seccompProfile")),
         "seccompProfile"),
        (lambda p: p["containers"][0]["ports"][0].update(hostPort=8000), "hostPort"),
        (lambda p: p["containers"][0]["securityContext"].update(procMount="Unmasked"), "procMount"),
        (lambda p: p["securityContext"].update(sysctls=[{"name": "kernel.msgmax", "value": "1"}]), "kernel.msgmax"),
        (lambda p: p["securityContext"].update(seLinuxOptions={"type": "spc_t"}), "seLinuxOptions"),
        (lambda p: p["containers"][0]["securityContext"].update(appArmorProfile={"type": "Unconfined"}), "appArmor"),
        (lambda p: p.setdefault("initContainers", []).append({"name": "init", "image": "x"}), "initContainers[init]"),
    ],
)
def test_pss_checker_flags_violations(mutate: Any, fragment: str) -> None:
    p = _good_pod()
    assert pss.check_pod_spec(p) == []
    mutate(p)
    problems = pss.check_pod_spec(p)
    assert problems and any(fragment in msg for msg in problems), problems


def test_pss_checker_allows_net_bind_service_and_container_level_settings() -> None:
    p = _good_pod()
    p["securityContext"] = {}
    sc = p["containers"][0]["securityContext"]
    sc["capabilities"] = {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}
    assert pss.check_pod_spec(p) == []
    assert pss.check_pod_spec(p, annotations={"container.apparmor.security.beta.kubernetes.io/x": "unconfined"})


def test_builder_module_does_not_import_pulumi() -> None:
    import subprocess
    import sys

    code = "import sys, federation.manifests.hub as h; assert not [m for m in sys.modules if m.startswith('pulumi')]"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[1])


# --------------------------------------------------------------------------- the Fleet proxy (issue #14)


def test_only_the_fleet_proxy_is_exposed_and_the_superlink_stays_behind_a_cluster_ip(spec: FederationSpec) -> None:
    objs = hub_objects(spec, tls_material=MATERIAL)
    svc, api = by_kind(objs, "Service")
    proxy_dep = deployment(objs, hub.proxy_name(spec))
    superlink_dep = deployment(objs, hub.superlink_service_name(spec))
    assert svc["metadata"]["name"] == hub.superlink_service_name(spec)
    assert svc["spec"]["selector"] == proxy_dep["spec"]["selector"]["matchLabels"]
    assert api["spec"] == {"type": "ClusterIP", "selector": superlink_dep["spec"]["selector"]["matchLabels"],
                           "ports": [{"name": "flower-api", "port": spec.hub.api_port, "targetPort": "flower-api",
                                      "protocol": "TCP"}]}
    (sl,) = pod(superlink_dep)["containers"]
    (px,) = pod(proxy_dep)["containers"]
    assert sl["ports"] == [{"name": "flower-api", "containerPort": spec.hub.api_port, "protocol": "TCP"}]
    assert px["ports"] == [{"name": "flower", "containerPort": spec.hub.port, "protocol": "TCP"}]
    assert hub.api_address(spec) == f"{hub.api_service_name(spec)}.{spec.hub.namespace}.svc:{spec.hub.api_port}"


def test_proxy_runs_the_shared_nginx_config_with_the_superlink_certificate(spec: FederationSpec) -> None:
    from federation import proxy

    objs = hub_objects(spec, tls_material=MATERIAL)
    (cm,) = by_kind(objs, "ConfigMap")
    cfg = hub.proxy_config(spec)
    text = proxy.nginx_config(cfg)
    assert cm["metadata"]["name"] == hub.proxy_configmap_name(spec)
    assert cm["data"] == {"nginx.conf": text}
    d = deployment(objs, hub.proxy_name(spec))
    p = pod(d)
    (ctr,) = p["containers"]
    assert ctr["image"] == spec.hub.proxy.image
    assert ctr["command"] + ctr["args"] == list(hub.proxy_process(spec).argv)
    conf_dir, conf_file = ctr["args"][1].rsplit("/", 1)
    (config_vol,) = [v for v in p["volumes"] if v["name"] == "config"]
    assert config_vol["configMap"]["name"] == cm["metadata"]["name"]
    assert config_vol["configMap"]["items"] == [{"key": conf_file, "path": conf_file}]
    assert {"name": "config", "mountPath": conf_dir, "readOnly": True} in ctr["volumeMounts"]
    # nginx-unprivileged runs as uid 101: the mounted key must be readable through fsGroup 101.
    assert p["securityContext"]["runAsUser"] == p["securityContext"]["fsGroup"] == hub.PROXY_UID
    annotations = d["spec"]["template"]["metadata"]["annotations"]
    assert annotations["checksum/config"] == __import__("hashlib").sha256(text.encode()).hexdigest()
    assert f"location ~ ^{proxy.FLEET_PREFIX}" in text and f"location = {proxy.HEALTH_PATH}" in text
    assert f"return {proxy.REFUSED_STATUS}" in text
    assert f"proxy_pass {'https' if cfg.tls else 'http'}://{hub.api_service_name(spec)}.{spec.hub.namespace}.svc:" in text
    if spec.hub.tls.mode == "insecure":
        assert not cfg.tls and not [v for v in p["volumes"] if v["name"] == "tls"]
        assert ctr["readinessProbe"]["httpGet"]["scheme"] == "HTTP"
        return
    (tls_vol,) = [v for v in p["volumes"] if v["name"] == "tls"]
    assert tls_vol["secret"]["secretName"] == hub.tls_secret_name(spec)
    for path in (cfg.cert_file, cfg.key_file, cfg.ca_file):
        assert path is not None and path.rsplit("/", 1)[1] in {i["path"] for i in tls_vol["secret"]["items"]}
        assert path in text
    # It verifies the SuperLink behind it by a name the certificate carries.
    assert cfg.upstream_tls_name in hub.superlink_sans(spec)[0]
    assert ctr["readinessProbe"]["httpGet"] == {"path": "/health", "port": spec.hub.port, "scheme": "HTTPS"}
    assert ctr["livenessProbe"]["tcpSocket"] == {"port": spec.hub.port}
    if spec.hub.tls.mode == "generate":
        assert annotations[hub.CHECKSUM_ANNOTATION] == "abc"  # a new certificate rolls the proxy too


def test_state_backup_init_container_before_the_superlink_opens_the_state(spec: FederationSpec) -> None:
    objs = hub_objects(spec, tls_material=MATERIAL)
    p = pod(deployment(objs, hub.superlink_service_name(spec)))
    if not spec.hub.persistence.enabled:
        assert "initContainers" not in p
        return
    (init,) = p["initContainers"]
    (ctr,) = p["containers"]
    assert init["name"] == "state-backup" and init["image"] == ctr["image"] == spec.flower.images.superlink
    assert init["command"] + init["args"] == list(flower.state_backup(CONTAINER, spec.flower.version).argv)
    assert init["args"][-2:] == [CONTAINER.database, spec.flower.version]
    assert {"name": "state", "mountPath": CONTAINER.state_dir} in init["volumeMounts"]
    assert not any(k in init for k in ("livenessProbe", "readinessProbe", "startupProbe"))


def test_control_clients_are_the_only_other_peers_of_the_superlink() -> None:
    spec = variant("dev", controlClients=[
        {"podSelector": {"matchLabels": {"app": "flwr-cli"}}},
        {"podSelector": {"matchLabels": {"app": "ci"}},
         "namespaceSelector": {"matchExpressions": [{"key": "team", "operator": "In", "values": ["ml"]}]}},
    ])
    np = {o["metadata"]["name"]: o for o in by_kind(hub_objects(spec), "NetworkPolicy")}
    (rule,) = np[hub.superlink_service_name(spec)]["spec"]["ingress"]
    assert rule["from"][2:] == [
        {"podSelector": {"matchLabels": {"app": "flwr-cli"}}},
        {"podSelector": {"matchLabels": {"app": "ci"}},
         "namespaceSelector": {"matchExpressions": [{"key": "team", "operator": "In", "values": ["ml"]}]}},
    ]
    for obj in hub_objects(spec):
        validate_kubernetes(obj)


def test_sans_include_the_api_service_the_proxy_and_superexec_dial(spec: FederationSpec) -> None:
    dns, _ = hub.superlink_sans(spec)
    assert hub.api_service_name(spec) in dns
    assert f"{hub.api_service_name(spec)}.{spec.hub.namespace}.svc" in dns


# --------------------------------------------------------------------------- existingSecret: checking the user's Secret


def _b64(text: str) -> str:
    import base64

    return base64.b64encode(text.encode()).decode()


def _operator_secret(dns: list[str], ips: list[str], *, days: int = 30, ca_pem: str | None = None) -> dict[str, str]:
    from federation import tls

    ca = tls.generate_ca("operator CA", validity_days=days)
    cert = tls.issue_server_certificate(ca, dns_names=dns, ip_addresses=ips, validity_days=days)
    return {"tls.crt": _b64(cert.cert_pem), "tls.key": _b64(cert.key_pem), "ca.crt": _b64(ca_pem or cert.ca_cert_pem)}


def test_superexec_rolls_with_the_certificate_too() -> None:
    spec = _process("prod")
    objs = hub_objects(spec, tls_material=MATERIAL)
    meta = deployment(objs, f"{spec.name}-serverapp-superexec")["spec"]["template"]["metadata"]
    assert meta["annotations"] == {hub.CHECKSUM_ANNOTATION: "abc"}
    assert "annotations" not in deployment(hub_objects(spec), f"{spec.name}-serverapp-superexec")["spec"]["template"][
        "metadata"]


def test_tls_verified_names_are_what_clients_dial() -> None:
    spec = _existing("prod")
    assert hub.tls_verified_names(spec) == ["flower-prod-superlink-api", "flower-prod-superlink-api.flower-prod.svc",
                                            "superlink.flower.example.com"]
    # Every one of them is a SAN of a generated certificate.
    dns, ips = hub.superlink_sans(spec)
    assert set(hub.tls_verified_names(spec)) <= set(dns) | set(ips)


def test_check_tls_secret_accepts_a_fitting_secret() -> None:
    spec = _existing("prod")
    dns, ips = hub.superlink_sans(spec)
    data = _operator_secret(dns, ips)
    checked = hub.check_tls_secret(spec, data)
    import base64

    cert, ca = (base64.b64decode(data[k]).decode() for k in ("tls.crt", "ca.crt"))
    assert checked.ca_certificate == ca and checked.checksum == hub.tls_checksum(cert, ca)


def test_check_tls_secret_accepts_wildcards_and_ip_sans() -> None:
    data = raw("dev")
    data["hub"]["tls"] = {"mode": "existingSecret", "secretName": "wild"}
    data["hub"]["createNamespace"] = False
    data["hub"]["exposure"] = {"type": "LoadBalancer", "externalIPs": ["203.0.113.7"]}
    spec = parse_spec(data)
    secret = _operator_secret(["flower-dev-superlink-api", f"*.{spec.hub.namespace}.svc"], ["203.0.113.7"])
    hub.check_tls_secret(spec, secret)


@pytest.mark.parametrize(("edit", "expected"), [
    (lambda d: d.pop("tls.key"), "has no key 'tls.key'"),
    (lambda d: (d.pop("tls.crt"), d.pop("ca.crt")), "has no key 'tls.crt', 'ca.crt'"),
    (lambda d: d.update({"ca.crt": "not base64!"}), "key 'ca.crt' is not base64-encoded UTF-8 text"),
    (lambda d: d.update({"tls.crt": _b64("hello")}), "key 'tls.crt' is not a PEM certificate"),
    (lambda d: d.update({"tls.key": _b64("hello")}), "key 'tls.key' is not a PEM private key"),
])
def test_check_tls_secret_names_the_secret_and_the_key(edit: Any, expected: str) -> None:
    from federation.errors import SpecError

    spec = _existing("dev")
    dns, ips = hub.superlink_sans(spec)
    data = _operator_secret(dns, ips)
    edit(data)
    with pytest.raises(SpecError) as info:
        hub.check_tls_secret(spec, data)
    (problem,) = info.value.problems
    assert problem.path == "federation.hub.tls.secretName"
    assert problem.message.startswith("Secret flower-dev/my-superlink-tls")
    assert expected in problem.message


def test_check_tls_secret_rejects_expired_foreign_and_misnamed_certificates() -> None:
    from datetime import UTC, datetime, timedelta

    from federation import tls
    from federation.errors import SpecError

    spec = _existing("prod")
    foreign = tls.generate_ca("someone else", validity_days=30).cert_pem
    with pytest.raises(SpecError) as info:
        hub.check_tls_secret(spec, _operator_secret(["localhost"], [], ca_pem=foreign),
                             now=datetime.now(UTC) + timedelta(days=40))
    messages = [p.message for p in info.value.problems]
    assert len(messages) == 3
    assert "is not issued by the CA in 'ca.crt'" in messages[0]
    assert "'tls.crt' expired on" in messages[1]
    assert ("lacks the subjectAltName(s) flower-prod-superlink-api, flower-prod-superlink-api.flower-prod.svc, "
            "superlink.flower.example.com") in messages[2]
