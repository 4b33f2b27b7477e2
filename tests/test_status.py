"""`status`'s pure part: names from the builders, evaluation of API-shaped objects, exit codes, text and JSON."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from federation import planning, tls
from federation.loading import load_stack
from federation.manifests import hub as hub_manifests
from federation.manifests.ocm import names
from federation.ops import status as st
from federation.spec import FederationSpec
from tests.e2e.specs import make_spec

REPO = Path(__file__).resolve().parents[1]
NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
T0 = "2026-12-01T10:00:00Z"


@pytest.fixture(scope="module")
def dev() -> FederationSpec:
    return load_stack("dev", REPO / "stacks")


# --------------------------------------------------------------------------- objects shaped as the API returns them


def cond(type_: str, status: str, reason: str, message: str = "") -> dict[str, Any]:
    return {"type": type_, "status": status, "reason": reason, "message": message, "lastTransitionTime": T0,
            "observedGeneration": 1}


def deployment(name: str, ns: str, *, ready: int = 1) -> dict[str, Any]:
    available = cond("Available", "True" if ready else "False",
                     "MinimumReplicasAvailable" if ready else "MinimumReplicasUnavailable",
                     "Deployment has minimum availability." if ready else "Deployment does not have minimum availability.")
    status: dict[str, Any] = {"observedGeneration": 1, "replicas": 1, "updatedReplicas": 1,
                              "conditions": [available, cond("Progressing", "True", "NewReplicaSetAvailable")]}
    if ready:
        status.update(readyReplicas=ready, availableReplicas=ready)
    else:
        status["unavailableReplicas"] = 1
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": ns},
            "spec": {"replicas": 1}, "status": status}


def tls_secret(name: str, ns: str, *, days: int) -> dict[str, Any]:
    now = NOW - timedelta(days=1)
    ca = tls.generate_ca(validity_days=days + 400, now=now)
    cert = tls.issue_server_certificate(ca, dns_names=["flower-dev-superlink-api"], ip_addresses=[],
                                        validity_days=days + 1, now=now)
    b64 = {k: base64.b64encode(v.encode()).decode() for k, v in
           (("tls.crt", cert.cert_pem), ("tls.key", cert.key_pem), ("ca.crt", cert.ca_cert_pem))}
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": ns}, "type": "kubernetes.io/tls",
            "data": b64}


def placement(name: str, ns: str, *, selected: int, satisfied: tuple[str, str, str] | None = None,
              misconfigured: tuple[str, str, str] | None = None) -> dict[str, Any]:
    sat = satisfied or (("True", "AllDecisionsScheduled", "All cluster decisions scheduled") if selected
                        else ("False", "NoManagedClusterSetBindings", "No valid ManagedClusterSetBindings found in "
                                                                      "placement namespace"))
    mis = misconfigured or ("False", "Succeedconfigured", "Placement configurations check pass")
    return {"apiVersion": names.API_PLACEMENT, "kind": "Placement", "metadata": {"name": name, "namespace": ns},
            "spec": {"clusterSets": ["dev"]},
            "status": {"numberOfSelectedClusters": selected,
                       "decisionGroups": [{"decisionGroupIndex": 0, "decisionGroupName": "", "clusterCount": selected,
                                           "decisions": [f"{name}-decision-1"]}],
                       "conditions": [cond("PlacementMisconfigured", *mis), cond("PlacementSatisfied", *sat)]}}


def decision(placement_name: str, ns: str, clusters: list[str]) -> dict[str, Any]:
    return {"apiVersion": names.API_PLACEMENT, "kind": "PlacementDecision",
            "metadata": {"name": f"{placement_name}-decision-1", "namespace": ns,
                         "labels": {st.PLACEMENT_LABEL: placement_name,
                                    "cluster.open-cluster-management.io/decision-group-index": "0"}},
            "status": {"decisions": [{"clusterName": c, "reason": ""} for c in clusters]}}


def mca(addon: str, cluster: str, *, available: str = "True", progressing: tuple[str, str] = ("False", "Completed"),
        degraded: str | None = None) -> dict[str, Any]:
    conds = [cond("Available", available, "ManagedClusterAddOnLeaseUpdated" if available == "True" else "ProbeUnavailable",
                  "addon is available" if available == "True" else "Probe addon unavailable with err no result"),
             cond("Progressing", progressing[0], progressing[1],
                  "work is not applied" if progressing[1] == "WaitingForManifestApplied" else "completed with no errors.")]
    if degraded:
        conds.append(cond("Degraded", degraded, "Degraded", "SuperNode crash-looping"))
    return {"apiVersion": names.API_ADDON, "kind": "ManagedClusterAddOn",
            "metadata": {"name": addon, "namespace": cluster}, "spec": {}, "status": {"conditions": conds}}


def waiting_mca(addon: str, cluster: str) -> dict[str, Any]:
    """A ManagedClusterAddOn as OCM v1.2.1's addon manager leaves it when no work agent applied its ManifestWork
    (read from the rig's API server): no Available condition yet."""
    return {"apiVersion": names.API_ADDON, "kind": "ManagedClusterAddOn", "metadata": {"name": addon, "namespace": cluster},
            "status": {"conditions": [
                cond("Configured", "True", "ConfigurationsConfigured", "Configurations configured"),
                cond("Progressing", "False", "WaitingForManifestApplied",
                     "Waiting for ManagedClusterAddOn ManifestApplied condition"),
                cond("RegistrationApplied", "True", "SetPermissionApplied", "Registration of the addon agent is configured"),
            ], "healthCheck": {"mode": "Customized"}, "namespace": f"{addon}"}}


def mwrs(name: str, ns: str, *, applied: bool = True, total: int = 2) -> dict[str, Any]:
    return {"apiVersion": names.API_WORK, "kind": "ManifestWorkReplicaSet", "metadata": {"name": name, "namespace": ns},
            "status": {"conditions": [
                cond("PlacementVerified", "True", "AsExpected"),
                cond("PlacementRolledOut", "True", "Complete"),
                cond("ManifestworkApplied", "True" if applied else "False", "AsExpected" if applied else "NotAsExpected"),
            ], "summary": {"total": total, "applied": total if applied else 0, "available": total if applied else 0,
                           "degraded": 0, "progressing": 0}}}


def healthy_snapshot(spec: FederationSpec, clusters: tuple[str, ...] = ("dev-1", "dev-2")) -> st.HubSnapshot:
    r = st.refs(spec)
    snap = st.HubSnapshot()
    for name, _ in r.deployments:
        snap.deployments[name] = deployment(name, r.namespace)
    snap.service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": r.service, "namespace": r.namespace},
                    "spec": {"type": "NodePort", "ports": [{"name": "flower", "port": 9092, "nodePort": 30800}]},
                    "status": {"loadBalancer": {}}}
    assert r.tls_secret is not None
    snap.tls_secret = tls_secret(r.tls_secret, r.namespace, days=60)
    for p in [*r.placements.values(), *r.clientapp_placements.values()]:
        snap.placements[p] = placement(p, r.ocm_namespace, selected=len(clusters))
        snap.decisions[p] = [decision(p, r.ocm_namespace, list(clusters))]
    snap.cluster_management_addon = {"apiVersion": names.API_ADDON, "kind": "ClusterManagementAddOn",
                                     "metadata": {"name": r.addon}}
    snap.addons = [mca(r.addon, c) for c in clusters]
    for m in r.mwrs.values():
        snap.mwrs[m] = mwrs(m, r.ocm_namespace, total=len(clusters))
    return snap


def online(n: int) -> st.ControlView:
    nodes = tuple({"node-id": str(1000 + i), "owner-name": "", "status": "online", "created-at": T0, "online-at": T0,
                   "online-elapsed": "00:10:00", "offline-at": "", "deleted-at": ""} for i in range(n))
    runs = ({"run-id": "42", "fab-id": "flwrlabs/quickstart-numpy", "fab-version": "1.0.0", "status": "finished:completed",
             "status-details": "", "pending-at": T0, "elapsed": "00:00:33"},)
    return st.ControlView(via="port-forward to pod flower-dev/x:9093", address="127.0.0.1:40000", nodes=nodes, runs=runs)


def by(result: st.FederationStatus, section: str, name: str) -> st.Item:
    return next(i for i in result.section(section) if i.name == name)


# --------------------------------------------------------------------------- names come from the builders


def test_refs_are_the_objects_the_program_registers(dev: FederationSpec) -> None:
    r = st.refs(dev)
    planned = planning.planned_objects(dev, material=None, ca_certificate="-----BEGIN CERTIFICATE-----\n")
    kinds: dict[str, set[tuple[str | None, str]]] = {}
    for o in planned:
        kinds.setdefault(o["kind"], set()).add((o["metadata"].get("namespace"), o["metadata"]["name"]))
    assert {n for ns, n in kinds["Deployment"] if ns == r.namespace} == {n for n, _ in r.deployments}
    assert {(r.ocm_namespace, p) for p in [*r.placements.values(), *r.clientapp_placements.values()]} == kinds["Placement"]
    assert r.clientapp_placements == {"cpu": names.clientapp_placement_name(dev, dev.pools[0])}
    mwrs_obj = next(o for o in planned if o["kind"] == "ManifestWorkReplicaSet")
    assert [ref["name"] for ref in mwrs_obj["spec"]["placementRefs"]] == list(r.clientapp_placements.values())
    assert {(r.ocm_namespace, m) for m in r.mwrs.values()} == kinds["ManifestWorkReplicaSet"]
    assert {(None, r.addon)} == kinds["ClusterManagementAddOn"]
    assert (r.namespace, r.service) in kinds["Service"]
    assert r.tls_secret == hub_manifests.tls_secret_name(dev)
    assert r.placements == {"cpu": names.placement_name(dev, dev.pools[0])}
    superlink = next(o for o in planned if o["kind"] == "Deployment" and o["metadata"]["name"] == hub_manifests.superlink_service_name(dev))
    assert dict(r.superlink_selector) == superlink["spec"]["selector"]["matchLabels"]


# --------------------------------------------------------------------------- evaluation


def test_healthy_federation_exits_0(dev: FederationSpec) -> None:
    result = st.evaluate(dev, healthy_snapshot(dev), online(2), now=NOW)
    assert result.health == "healthy", [i for i in result.items if i.health != "healthy"]
    assert result.exit_code() == 0
    doc = result.as_json()
    assert doc["health"] == "healthy" and doc["federation"] == "flower-dev"
    assert [p["selected"] for p in doc["pools"]] == [["dev-1", "dev-2"]]
    nodes = by(result, "flower", "supernodes")
    assert nodes.details["online"] == 2 and nodes.details["expected"] == 2
    runs = by(result, "flower", "runs")
    assert runs.details["recent"][0] == {"runId": "42", "app": "flwrlabs/quickstart-numpy==1.0.0",
                                         "status": "finished:completed", "statusDetails": "", "pendingAt": T0,
                                         "elapsed": "00:00:33"}
    cert = by(result, "superlink", "certificate")
    assert cert.details["daysLeft"] == pytest.approx(60, abs=1)
    address = by(result, "superlink", "address")
    assert "superlink.dev.flower.example.com:30800" in address.summary and address.details["nodePorts"] == [30800]
    assert address.details["control"] == hub_manifests.api_address(dev)
    json.dumps(doc)  # serialisable as is


def test_unreachable_control_api_is_unknown_not_healthy(dev: FederationSpec) -> None:
    view = st.ControlView(via="port-forward", error="pods/portforward: upgrade request required")
    result = st.evaluate(dev, healthy_snapshot(dev), view, now=NOW)
    assert result.health == "unknown" and result.exit_code() == 1
    item = by(result, "flower", "control-api")
    assert item.health == "unknown" and "upgrade request required" in item.summary
    assert "SuperNodes and runs unknown" in item.summary


def test_fewer_supernodes_than_selected_clusters_is_degraded(dev: FederationSpec) -> None:
    result = st.evaluate(dev, healthy_snapshot(dev), online(1), now=NOW)
    item = by(result, "flower", "supernodes")
    assert item.health == "degraded" and "1 SuperNode(s) online of 2 expected" in item.summary
    assert result.exit_code() == 1


def test_unbound_cluster_set_placement_not_satisfied(dev: FederationSpec) -> None:
    snap = healthy_snapshot(dev, clusters=())
    result = st.evaluate(dev, snap, online(0), now=NOW)
    pool = by(result, "pools", "cpu")
    assert pool.health == "degraded"
    assert "PlacementSatisfied=False (NoManagedClusterSetBindings: No valid ManagedClusterSetBindings found" in pool.summary
    assert result.health == "degraded" and result.exit_code() == 1
    conds = {c["type"]: c for c in pool.details["conditions"]}
    assert conds["PlacementSatisfied"]["reason"] == "NoManagedClusterSetBindings"


def test_misconfigured_placement_names_ocms_reason(dev: FederationSpec) -> None:
    snap = healthy_snapshot(dev)
    p = names.placement_name(dev, dev.pools[0])
    snap.placements[p] = placement(p, dev.ocm_namespace, selected=2, misconfigured=(
        "True", "Misconfigured", "failed to get AddOnPlacementScore resource-usage-score"))
    pool = by(st.evaluate(dev, snap, online(2), now=NOW), "pools", "cpu")
    assert pool.health == "degraded"
    assert "PlacementMisconfigured=True (Misconfigured: failed to get AddOnPlacementScore" in pool.summary


def test_addon_per_cluster_with_reasons(dev: FederationSpec) -> None:
    snap = healthy_snapshot(dev, clusters=("dev-1", "dev-2"))
    addon = dev.distribution.ocm.addon_name
    snap.addons = [mca(addon, "dev-1", available="Unknown", progressing=("True", "WaitingForManifestApplied")),
                   mca(addon, "dev-9")]  # dev-2 selected without an MCA; dev-9 not selected (Manual / leftover)
    result = st.evaluate(dev, snap, online(2), now=NOW)
    items = {i.name: i for i in result.section("addon")}
    assert items["dev-1"].health == "degraded"
    assert "Available=Unknown (ProbeUnavailable" in items["dev-1"].summary
    assert "Progressing=True (WaitingForManifestApplied: work is not applied)" in items["dev-1"].summary
    assert items["dev-2"].health == "degraded" and "no ManagedClusterAddOn" in items["dev-2"].summary
    assert items["dev-9"].health == "healthy" and items["dev-9"].details["selected"] is False
    assert items[addon].health == "healthy" and items[addon].details["clusters"] == ["dev-1", "dev-9"]
    assert items[addon].summary == f"ClusterManagementAddOn {addon}: on 2 cluster(s)"
    snap.addons = [mca(addon, "dev-1", degraded="True"), mca(addon, "dev-2")]
    items = {i.name: i for i in st.evaluate(dev, snap, online(2), now=NOW).section("addon")}
    assert items["dev-1"].health == "degraded" and "Degraded=True (Degraded: SuperNode crash-looping)" in items["dev-1"].summary


def test_addon_waiting_for_its_manifests(dev: FederationSpec) -> None:
    snap = healthy_snapshot(dev)
    addon = dev.distribution.ocm.addon_name
    snap.addons = [waiting_mca(addon, "dev-1"), waiting_mca(addon, "dev-2")]
    item = by(st.evaluate(dev, snap, online(2), now=NOW), "addon", "dev-1")
    assert item.health == "degraded"
    assert item.summary == ("dev-1: Available not reported yet; Progressing=False (WaitingForManifestApplied: "
                            "Waiting for ManagedClusterAddOn ManifestApplied condition)")


def test_clientapp_rollout(dev: FederationSpec) -> None:
    snap = healthy_snapshot(dev)
    name = names.mwrs_name(dev, dev.client_apps[0])
    snap.mwrs[name] = mwrs(name, dev.ocm_namespace, applied=False)
    item = by(st.evaluate(dev, snap, online(2), now=NOW), "clientApps", "quickstart")
    assert item.health == "degraded"
    assert "ManifestworkApplied=False (NotAsExpected)" in item.summary and "applied 0" in item.summary
    assert item.details["summary"]["total"] == 2


def test_clientapp_placements_show_where_the_addon_is_available(dev: FederationSpec) -> None:
    snap = healthy_snapshot(dev)
    ca = names.clientapp_placement_name(dev, dev.pools[0])
    snap.decisions[ca] = [decision(ca, dev.ocm_namespace, ["dev-2"])]
    item = by(st.evaluate(dev, snap, online(2), now=NOW), "clientApps", "quickstart")
    assert f"pool cpu: 1 cluster(s) with the addon available ({ca})" in item.summary
    assert item.details["placements"][0]["selected"] == ["dev-2"]
    del snap.placements[ca]
    item = by(st.evaluate(dev, snap, online(2), now=NOW), "clientApps", "quickstart")
    assert item.health == "degraded" and f"Placement {ca} not found" in item.summary


def test_missing_objects_say_pulumi_up(dev: FederationSpec) -> None:
    result = st.evaluate(dev, st.HubSnapshot(), online(0), now=NOW)
    assert result.health == "degraded"
    missing = [i for i in result.items if "not found (was `pulumi up` run for this stack?)" in i.summary]
    kinds = {i.details.get("kind") for i in missing}
    assert {"Deployment", "Service", "Secret", "Placement", "ClusterManagementAddOn", "ManifestWorkReplicaSet"} <= kinds


def test_read_errors_are_unknown(dev: FederationSpec) -> None:
    snap = healthy_snapshot(dev)
    p = names.placement_name(dev, dev.pools[0])
    snap.placements[p] = None
    snap.errors[f"Placement {p}"] = "HTTP 403 Forbidden"
    result = st.evaluate(dev, snap, online(2), now=NOW)
    assert by(result, "pools", "cpu").health == "unknown"
    assert result.health == "unknown" and result.exit_code() == 1


def test_deployment_not_ready(dev: FederationSpec) -> None:
    snap = healthy_snapshot(dev)
    name = hub_manifests.superlink_service_name(dev)
    snap.deployments[name] = deployment(name, dev.hub.namespace, ready=0)
    item = by(st.evaluate(dev, snap, online(2), now=NOW), "superlink", name)
    assert item.health == "degraded"
    assert "0/1 ready; Available=False (MinimumReplicasUnavailable: Deployment does not have minimum availability.)" \
        in item.summary


def test_certificate_expiry(dev: FederationSpec) -> None:
    snap = healthy_snapshot(dev)
    secret = hub_manifests.tls_secret_name(dev)
    assert secret is not None
    snap.tls_secret = tls_secret(secret, dev.hub.namespace, days=10)  # within renewBeforeDays 15
    item = by(st.evaluate(dev, snap, online(2), now=NOW), "superlink", "certificate")
    assert item.health == "healthy" and item.details["renewDue"] is True and "`pulumi up` renews it" in item.summary
    assert item.details["secret"] == secret
    expired = by(st.evaluate(dev, snap, online(2), now=NOW + timedelta(days=30)), "superlink", "certificate")
    assert expired.health == "degraded" and "EXPIRED" in expired.summary


def test_insecure_stack_has_no_certificate_to_read() -> None:
    spec = make_spec(hub={"tls": {"mode": "insecure", "allowInsecure": True}})
    snap = healthy_snapshot(make_spec())
    result = st.evaluate(spec, snap, online(0), now=NOW)
    item = by(result, "superlink", "certificate")
    assert item.health == "healthy" and "TLS off" in item.summary


def test_load_balancer_without_ingress_is_degraded() -> None:
    spec = make_spec(hub={"exposure": {"type": "LoadBalancer", "loadBalancerSourceRanges": ["10.0.0.0/8"]}})
    snap = healthy_snapshot(spec, clusters=())
    r = st.refs(spec)
    snap.service = {"metadata": {"name": r.service}, "spec": {"type": "LoadBalancer", "ports": [{"port": 9092}]},
                    "status": {"loadBalancer": {}}}
    assert by(st.evaluate(spec, snap, online(0), now=NOW), "superlink", "address").health == "degraded"
    snap.service["status"] = {"loadBalancer": {"ingress": [{"hostname": "lb.example.com"}]}}
    item = by(st.evaluate(spec, snap, online(0), now=NOW), "superlink", "address")
    assert item.health == "healthy" and "ingress lb.example.com" in item.summary


def test_render_text_one_line_per_item(dev: FederationSpec) -> None:
    snap = healthy_snapshot(dev)
    text = st.render_text(st.evaluate(dev, snap, st.ControlView(via="port-forward", error="refused"), now=NOW),
                          source=" on context hub-dev")
    lines = text.splitlines()
    assert lines[0] == "federation flower-dev (namespace flower-dev) on context hub-dev: UNKNOWN"
    assert "Pools [ok]" in lines and "Flower [UNKNOWN]" in lines
    assert any(line.startswith("  ok        Placement flower-dev-cpu: 2 cluster(s) dev-1, dev-2") for line in lines)
    assert any(line.startswith("  UNKNOWN   control-api: Control API not reachable (port-forward): refused") for line in lines)


# --------------------------------------------------------------------------- lazy imports


def test_commands_that_do_not_need_the_hub_never_import_kubernetes() -> None:
    code = ("import sys\nfrom typer.testing import CliRunner\nfrom federation.cli import app\n"
            "r = CliRunner().invoke(app, ['validate', '--stack', 'dev'])\nassert r.exit_code == 0, r.output\n"
            "r = CliRunner().invoke(app, ['check', '--stack', 'dev', '--output', 'json'])\nassert r.exit_code == 0\n"
            "print(sorted(m for m in ('kubernetes', 'flwr', 'federation.ops.hub', 'urllib3') if m in sys.modules))")
    res = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120, check=False)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "[]"


# --------------------------------------------------------------------------- the command without a cluster

KUBECONFIG = """apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {token: x}}]
contexts: [{name: %s, context: {cluster: c, user: u}}]
current-context: %s
"""


def test_status_bad_input_exits_2(tmp_path: Path) -> None:
    from tests.test_cli import run_cli_process

    kc = tmp_path / "kubeconfig"
    kc.write_text(KUBECONFIG % ("other", "other"))
    res = run_cli_process("status", "--stack", "dev", "--kubeconfig", str(kc))
    assert res.returncode == 2, res.stderr
    assert "--context: " in res.stderr and "'hub-dev' is the stack file's kubernetes:context" in res.stderr
    res = run_cli_process("status", "--stack", "dev", "--kubeconfig", str(tmp_path / "missing"))
    assert res.returncode == 2 and f"--kubeconfig: {tmp_path / 'missing'}: no such file" in res.stderr
    res = run_cli_process("status", "--stack", "dev", "--kubeconfig", str(kc), "--context", "other",
                          "--control-address", "nohost")
    assert res.returncode == 2 and "--control-address: 'nohost' must be HOST:PORT" in res.stderr
    assert "Traceback" not in res.stderr


def test_unreachable_hub_is_unknown_exit_1(tmp_path: Path) -> None:
    from tests.test_cli import run_cli_process

    kc = tmp_path / "kubeconfig"
    kc.write_text(KUBECONFIG % ("hub-dev", "hub-dev"))
    res = run_cli_process("status", "--stack", "dev", "--kubeconfig", str(kc), "--output", "json")
    assert res.returncode == 1, res.stderr
    doc = json.loads(res.stdout)
    assert doc["health"] == "unknown" and "cannot reach the hub API server https://127.0.0.1:1" in doc["error"]
    assert "Traceback" not in res.stderr


# --------------------------------------------------------------------------- SuperNode registration (Automatic)


def automatic(dev: FederationSpec) -> FederationSpec:
    return make_spec(name="flower-dev", hub={"supernodeAuth": {"enabled": True, "registration": "Automatic"},
                                             "exposure": {"type": "NodePort", "nodePort": 30800}},
                     pools=[{"name": "cpu", "selection": {"clusterSets": ["dev"]}}])


def report(regs: dict[str, Any], error: str | None = None) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "flower-dev-supernode-registrations"},
            "data": {"registrations.json": json.dumps({"registrations": regs, "failures": 0, "error": error})}}


def test_registration_per_cluster_from_the_registrars_report(dev: FederationSpec) -> None:
    spec = automatic(dev)
    r = st.refs(spec)
    assert r.registrations == names.registrations_name(spec)
    assert (names.registrar_name(spec), "supernode-registrar") in r.deployments  # its Deployment is checked too
    snap = healthy_snapshot(spec)
    snap.registrations = report({"dev-1": {"state": "Registered", "nodeId": "77", "key": "sha256:ab"},
                                 "dev-2": {"state": "Failed", "key": "sha256:cd", "message": "the SuperLink refuses"}})
    result = st.evaluate(spec, snap, online(2), now=NOW)
    assert by(result, "registration", "dev-1").health == "healthy"
    assert by(result, "registration", "dev-1").summary == "dev-1: Registered as node 77"
    failed = by(result, "registration", "dev-2")
    assert failed.health == "degraded" and "the SuperLink refuses" in failed.summary
    assert result.exit_code() == 1
    assert [i["name"] for i in result.as_json()["registration"]] == ["dev-1", "dev-2"]
    assert "SuperNode registration" in st.render_text(result)


def test_registration_not_reported_yet_or_a_failed_pass_is_degraded(dev: FederationSpec) -> None:
    spec = automatic(dev)
    snap = healthy_snapshot(spec)
    result = st.evaluate(spec, snap, online(2), now=NOW)
    (item,) = result.section("registration")
    assert item.health == "degraded" and "the registrar has not reported yet" in item.summary
    snap.registrations = report({"dev-1": {"state": "Registered", "nodeId": "1"}}, error="listing ManifestWorks: HTTP 403")
    result = st.evaluate(spec, snap, online(2), now=NOW)
    assert by(result, "registration", "registrar").summary == "its last pass failed: listing ManifestWorks: HTTP 403"
    assert "not reached the registrar yet" in by(result, "registration", "dev-2").summary
    # Manual registration: no such section.
    assert st.evaluate(dev, healthy_snapshot(dev), online(2), now=NOW).section("registration") == []
