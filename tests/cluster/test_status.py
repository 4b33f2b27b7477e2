"""`flower-federation status` and `connect` against the real control plane after `pulumi up`.

The dev stack (renamed `flower-status` so it never meets test_stacks' objects) is deployed with the real
Pulumi engine; `status` then reads it live with the kubernetes client as a user runs it (a separate
process, the stack file's `kubernetes:context`) and every part is checked against what the API server
and OCM's controllers hold: the SuperLink Deployments, the certificate in the TLS Secret, the
PlacementDecisions, the ManagedClusterAddOns' conditions, the ManifestWorkReplicaSet's conditions. The
rig's kwok nodes run no kubelet that can port-forward, so Flower's part is reported "unknown" (never
healthy) with the API server's reason. The degraded case: the pool's ManagedClusterSetBinding is deleted,
OCM's placement controller marks the Placement unsatisfied, and `status` says so with OCM's reason, exit 1.
`connect` writes the CA from the hub and from the stack output; both equal `caCertificate`.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from federation import tls
from federation.loading import load_file
from federation.manifests import hub as hub_manifests
from federation.manifests.ocm import names
from tests.cluster.conftest import REPO, Project, Rig
from tests.cluster.test_stacks import wait_until

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(1200)]

STACK = "dev"
NAME = "flower-status"
NODE_PORT = 30810


def cli(project: Project, *args: str, home: Path | None = None) -> subprocess.CompletedProcess[str]:
    """The CLI as a user runs it, from the project copy, with the rig's KUBECONFIG."""
    # the project copy's own file backend (as Project.pulumi uses), so `connect --ca-from pulumi` finds the stack
    backend = {"PULUMI_BACKEND_URL": f"file://{project.root.parent / 'backend'}"}
    env = {**project.rig.env, **backend, "PYTHONPATH": str(REPO), "COLUMNS": "200"}
    if home is not None:
        env["FLWR_HOME"] = str(home)
    return subprocess.run([sys.executable, "-m", "federation", *args], cwd=project.root, env=env,
                          capture_output=True, text=True, timeout=300, check=False)


def status_json(project: Project) -> tuple[int, dict[str, Any]]:
    res = cli(project, "status", "--stack", STACK, "--output", "json")
    assert res.returncode in (0, 1), res.stdout + res.stderr
    assert "Traceback" not in res.stderr, res.stderr
    return res.returncode, json.loads(res.stdout)


def item(doc: dict[str, Any], section: str, name: str) -> dict[str, Any]:
    found = [i for i in doc[section] if i["name"] == name]
    assert found, (section, name, [i["name"] for i in doc[section]])
    return found[0]


def test_status_and_connect_on_the_real_control_plane(project: Project, rig: Rig, tmp_path: Path) -> None:
    def rename(federation: dict[str, Any]) -> None:
        federation["name"] = NAME
        federation["hub"]["namespace"] = NAME
        federation["hub"]["exposure"]["nodePort"] = NODE_PORT  # not the dev stack's, should both be up

    project.edit_federation(STACK, rename)
    spec = load_file(project.stack_file(STACK))
    project.init(STACK)
    project.pulumi("up", "--yes", stack=STACK)
    outputs = project.outputs(STACK)
    custom, core = rig.custom("hub-dev"), rig.core("hub-dev")
    ns = spec.hub.namespace
    placement = names.placement_name(spec, spec.pools[0])
    try:
        # --- what the API server holds, read independently of `status`
        def decided() -> list[str]:
            pds = custom.list_namespaced_custom_object("cluster.open-cluster-management.io", "v1beta1", spec.ocm_namespace,
                                                       "placementdecisions",
                                                       label_selector=f"cluster.open-cluster-management.io/placement={placement}")
            return sorted(d["clusterName"] for pd in pds["items"] for d in pd["status"].get("decisions") or [])

        assert wait_until("decisions", lambda: decided() == ["dev-1", "dev-2"], timeout=90)
        addon = spec.distribution.ocm.addon_name
        wait_until("ManagedClusterAddOns with conditions", lambda: all(
            any(c["type"] == "Progressing" for c in (m.get("status") or {}).get("conditions") or [])
            for m in custom.list_cluster_custom_object("addon.open-cluster-management.io", "v1alpha1", "managedclusteraddons",
                                                       field_selector=f"metadata.name={addon}")["items"]) and len(
            custom.list_cluster_custom_object("addon.open-cluster-management.io", "v1alpha1", "managedclusteraddons",
                                              field_selector=f"metadata.name={addon}")["items"]) == 2, timeout=90)
        secret = core.read_namespaced_secret(hub_manifests.tls_secret_name(spec), ns)
        not_after = tls.certificate_info(base64.b64decode(secret.data["tls.crt"]).decode()).not_after

        # --- status, as a user runs it (context from the stack file)
        code, doc = status_json(project)
        print(json.dumps(doc, indent=1)[:6000], flush=True)
        assert doc["federation"] == NAME and doc["namespace"] == ns
        for name, _ in [(d["name"], d) for d in doc["superlink"] if d.get("kind") == "Deployment"]:
            live = rig.apps("hub-dev").read_namespaced_deployment(name, ns)
            want = "healthy" if (live.status.ready_replicas or 0) >= 1 else "degraded"
            assert item(doc, "superlink", name)["health"] == want
        assert {d["name"] for d in doc["superlink"] if d.get("kind") == "Deployment"} == {
            hub_manifests.superlink_service_name(spec), f"{NAME}-serverapp-superexec", f"{NAME}-fleet-proxy"}
        cert = item(doc, "superlink", "certificate")
        assert cert["health"] == "healthy" and cert["notAfter"] == not_after.isoformat().replace("+00:00", "Z")
        address = item(doc, "superlink", "address")
        assert address["nodePorts"] == [NODE_PORT] and address["declared"] == f"superlink.dev.flower.example.com:{NODE_PORT}"
        pool = item(doc, "pools", "cpu")
        assert pool["health"] == "healthy" and pool["selected"] == ["dev-1", "dev-2"], pool
        conds = {c["type"]: c for c in pool["conditions"]}
        assert conds["PlacementSatisfied"]["status"] == "True" and conds["PlacementMisconfigured"]["status"] == "False"
        # the addon per cluster, with the conditions OCM's addon manager wrote (no work agent on fake clusters)
        for cluster in ("dev-1", "dev-2"):
            mine = item(doc, "addon", cluster)
            live = custom.get_namespaced_custom_object("addon.open-cluster-management.io", "v1alpha1", cluster,
                                                       "managedclusteraddons", addon)
            live_conds = {c["type"]: c for c in live["status"]["conditions"]}
            for c in mine["conditions"]:
                if c["type"] in live_conds:
                    assert (c["status"], c["reason"]) == (live_conds[c["type"]]["status"], live_conds[c["type"]]["reason"])
            if live_conds.get("Available", {}).get("status") != "True":
                # no work agent here: OCM has not reported Available yet, or reports it Unknown; never healthy
                assert mine["health"] == "degraded" and "Available" in mine["summary"], mine
        app = item(doc, "clientApps", "quickstart")
        live = custom.get_namespaced_custom_object("work.open-cluster-management.io", "v1alpha1", spec.ocm_namespace,
                                                   "manifestworkreplicasets", names.mwrs_name(spec, spec.client_apps[0]))
        live_conds = {c["type"]: c["status"] for c in live["status"].get("conditions") or []}
        assert {c["type"]: c["status"] for c in app["conditions"] if c["type"] in live_conds} == live_conds
        assert app["summary"] == live["status"].get("summary", {})
        # Flower: kwok's nodes run no kubelet that port-forwards: unknown, with the reason, never healthy
        control = item(doc, "flower", "control-api")
        assert control["health"] == "unknown" and control["error"], control
        assert code == 1 and doc["health"] in ("unknown", "degraded")

        text = cli(project, "status", "--stack", STACK)
        assert text.returncode == code and text.stdout.splitlines()[0].startswith(
            f"federation {NAME} (namespace {ns}) on context hub-dev: ")
        assert f"  ok        Placement {placement}: 2 cluster(s) dev-1, dev-2" in text.stdout

        # --- connect: the CA from the hub and from the stack output are the deployed CA
        home = tmp_path / "flwr"
        res = cli(project, "connect", "--stack", STACK, "--flwr-home", str(home))
        assert res.returncode == 0, res.stderr
        ca_file = home / "flower-federation" / f"{NAME}-ca.crt"
        assert ca_file.read_text().strip() == outputs["caCertificate"].strip()
        assert f'address = "{hub_manifests.api_address(spec)}"' in (home / "config.toml").read_text()
        ca_file.unlink()
        res = cli(project, "connect", "--stack", STACK, "--flwr-home", str(home), "--ca-from", "pulumi", "--name", "via-pulumi")
        assert res.returncode == 0, res.stderr
        assert (home / "flower-federation" / "via-pulumi-ca.crt").read_text().strip() == outputs["caCertificate"].strip()
        res = cli(project, "connect", "--stack", STACK, "--flwr-home", str(home), "--port-forward", "--name", "pf")
        assert res.returncode == 1 and "port-forward to pod" in res.stderr and "Traceback" not in res.stderr, res.stderr

        # --- degraded: the pool's cluster set is no longer bound to the Placement's namespace
        for cluster_set in spec.pools[0].selection.cluster_sets:
            custom.delete_namespaced_custom_object("cluster.open-cluster-management.io", "v1beta2", spec.ocm_namespace,
                                                   "managedclustersetbindings", cluster_set)

        def unsatisfied() -> dict[str, Any] | None:
            _, d = status_json(project)
            p = item(d, "pools", "cpu")
            return d if p["health"] == "degraded" else None

        doc = wait_until("the Placement unsatisfied in status", unsatisfied, timeout=90)
        pool = item(doc, "pools", "cpu")
        live = custom.get_namespaced_custom_object("cluster.open-cluster-management.io", "v1beta1", spec.ocm_namespace,
                                                   "placements", placement)
        sat = next(c for c in live["status"]["conditions"] if c["type"] == "PlacementSatisfied")
        assert sat["status"] == "False"
        assert f"PlacementSatisfied=False ({sat['reason']}" in pool["summary"], (pool, sat)
        assert pool["selected"] == []
        res = cli(project, "status", "--stack", STACK)
        assert res.returncode == 1 and "DEGRADED" in res.stdout.splitlines()[0]
        print(res.stdout, flush=True)
    finally:
        project.pulumi("destroy", "--yes", stack=STACK, check=False)


def test_status_bad_input_exits_2(project: Project) -> None:
    res = cli(project, "status", "--stack", STACK, "--context", "no-such-context")
    assert res.returncode == 2 and "--context" in res.stderr and "Traceback" not in res.stderr
    res = cli(project, "status", "--stack", "nope")
    assert res.returncode == 2 and "stacks there: dev, prod" in res.stderr
