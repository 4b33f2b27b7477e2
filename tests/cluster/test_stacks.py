"""`pulumi preview/up/destroy` of stacks/dev and stacks/prod on the real control plane, read back from the API server.

For each stack: a preview on a fresh backend; `up`; every planned object read back, hub Deployments
Available; the PlacementDecisions of every pool against the fake fleet (tests/cluster/clusters.yaml);
the ManifestWorks OCM's addon manager rendered (every variable substituted, the SuperNode argv equal
to the contract's) and the ManifestWorkReplicaSets' ManifestWorks; no churn on a second preview; a
change (a SAN and a pool's resources) planned as in-place updates and applied with the same CA; private
keys only as ciphertext in the exported state; `destroy` leaving nothing behind.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from typing import Any

import pytest

from federation import planning
from federation.loading import load_stack
from federation.manifests import ocm
from federation.spec import FederationSpec
from tests.cluster.conftest import REPO, Project, Rig

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(1800)]

#: The clusters each pool must select among tests/cluster/clusters.yaml.
EXPECTED: dict[str, dict[str, list[str]]] = {
    "dev": {"cpu": ["dev-1", "dev-2"]},
    # gpu: research-gpu-2 has a zero score (CEL filter), research-gpu-3 no gpu-count claim, research-gpu-1 a
    # NoSelect taint the pool tolerates; cpu: every research cluster without accelerator=nvidia.
    "prod": {"cpu": ["research-cpu-1", "research-cpu-2", "research-cpu-3"], "gpu": ["research-gpu-1", "research-gpu-4"]},
}


def wait_until(what: str, check: Callable[[], Any], timeout: float = 60) -> Any:
    """Poll `check` until it returns something truthy; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(1)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


def dynamic(rig: Rig, context: str) -> Any:
    from kubernetes.dynamic import DynamicClient

    return DynamicClient(rig.api(context))


def read(dyn: Any, obj: dict[str, Any]) -> Any:
    """The live object for a planned one, or None when it does not exist."""
    from kubernetes.dynamic.exceptions import NotFoundError

    res = dyn.resources.get(api_version=obj["apiVersion"], kind=obj["kind"])
    try:
        return res.get(name=obj["metadata"]["name"], namespace=obj["metadata"].get("namespace"))
    except NotFoundError:
        return None


def decisions(rig: Rig, context: str, spec: FederationSpec) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    items = rig.custom(context).list_namespaced_custom_object(
        "cluster.open-cluster-management.io", "v1beta1", spec.ocm_namespace, "placementdecisions")["items"]
    for pool in spec.pools:
        name = ocm.placement_name(spec, pool)
        mine = [d for d in items if d["metadata"]["labels"].get("cluster.open-cluster-management.io/placement") == name]
        out[pool.name] = sorted(c["clusterName"] for d in mine for c in (d.get("status") or {}).get("decisions") or [])
    return out


def manifest_works(rig: Rig, context: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = rig.custom(context).list_cluster_custom_object(
        "work.open-cluster-management.io", "v1", "manifestworks")["items"]
    return items


def argv_of(container: dict[str, Any]) -> list[str]:
    return [*container.get("command", []), *container.get("args", [])]


def check_addon_works(spec: FederationSpec, works: list[dict[str, Any]], selected: dict[str, list[str]]) -> set[str]:
    """Every addon ManifestWork: variables substituted, SuperNode argv = the contract's for that cluster."""
    addon = spec.distribution.ocm.addon_name
    address = ocm.superlink_address(spec)
    pool_of = {c: p for p, clusters in selected.items() for c in clusters}
    seen: set[str] = set()
    for mw in works:
        if not mw["metadata"]["name"].startswith(f"addon-{addon}-deploy"):
            continue
        cluster = mw["metadata"]["namespace"]
        assert cluster in pool_of, f"addon ManifestWork on {cluster}, which no pool selects"
        manifests = mw["spec"]["workload"]["manifests"]
        text = json.dumps(manifests)
        assert not re.search(r"\{\{[^}]*\}\}", text), f"{cluster}: unsubstituted template variable"
        (deployment,) = [m for m in manifests if m["kind"] == "Deployment" and m["metadata"]["name"] == ocm.supernode_name(spec)]
        (container,) = [c for c in deployment["spec"]["template"]["spec"]["containers"] if c["name"] == ocm.SUPERNODE_CONTAINER]
        pool = spec.pool(pool_of[cluster])
        want = ocm.expected_supernode(spec, pool, superlink_address=address, cluster_name=cluster)
        assert argv_of(container) == list(want.argv), cluster
        seen.add(cluster)
    return seen


def feature_labels(rig: Rig, context: str, label: str) -> dict[str, str]:
    items = rig.custom(context).list_cluster_custom_object("cluster.open-cluster-management.io", "v1",
                                                           "managedclusters")["items"]
    return {c["metadata"]["name"]: c["metadata"].get("labels", {}).get(label) for c in items
            if label in c["metadata"].get("labels", {})}


def play_addon_agents(rig: Rig, context: str, spec: FederationSpec, unhealthy: str | None,
                      clusters: list[str]) -> list[str] | None:
    """Write the status a work agent would report for each addon ManifestWork (the fake clusters have none):
    Applied, and Available as the SuperNode's condition rule decides it (not on `unhealthy`), at the work's
    generation, with the Deployment's status feedback (ReadyReplicas 1, or 0 on `unhealthy`). Returns the
    healthy clusters once every selected cluster has its work."""
    addon = spec.distribution.ocm.addon_name
    works = [w for w in manifest_works(rig, context) if w["metadata"]["name"].startswith(f"addon-{addon}-deploy")]
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    for w in works:
        cluster, gen = w["metadata"]["namespace"], w["metadata"]["generation"]
        conditions = [c for c in (w.get("status") or {}).get("conditions") or []]
        if any(c["type"] == "Available" and c.get("observedGeneration") == gen for c in conditions):
            continue
        ready = 0 if cluster == unhealthy else 1
        manifests = []
        for i, m in enumerate(w["spec"]["workload"]["manifests"]):
            group, _, version = m["apiVersion"].rpartition("/")
            meta = {"ordinal": i, "group": group, "version": version, "kind": m["kind"],
                    "resource": m["kind"].lower() + "s", "name": m["metadata"]["name"],
                    "namespace": m["metadata"].get("namespace", "")}
            available = "False" if cluster == unhealthy and m["kind"] == "Deployment" else "True"
            entry: dict[str, Any] = {"resourceMeta": meta, "conditions": [
                {"type": t, "status": v, "reason": "RigAgent", "message": "", "lastTransitionTime": now}
                for t, v in (("Applied", "True"), ("Available", available))]}
            if m["kind"] == "Deployment":
                entry["statusFeedback"] = {"values": [
                    {"name": "ReadyReplicas", "fieldValue": {"type": "Integer", "integer": ready}},
                    {"name": "Replicas", "fieldValue": {"type": "Integer", "integer": 1}},
                    {"name": "AvailableReplicas", "fieldValue": {"type": "Integer", "integer": ready}}]}
            manifests.append(entry)
        healthy = "False" if cluster == unhealthy else "True"
        status = {"conditions": [{"type": t, "status": v, "reason": "RigAgent", "message": "played by the test",
                                  "observedGeneration": gen, "lastTransitionTime": now}
                                 for t, v in (("Applied", "True"), ("Available", healthy))],
                  "resourceStatus": {"manifests": manifests}}
        rig.custom(context).patch_namespaced_custom_object_status(
            "work.open-cluster-management.io", "v1", cluster, "manifestworks", w["metadata"]["name"], {"status": status})
    rendered = {w["metadata"]["namespace"] for w in works}
    return sorted(c for c in rendered if c != unhealthy) if rendered >= set(clusters) else None


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_stack_lifecycle_on_the_real_control_plane(project: Project, rig: Rig, stack: str) -> None:
    context = f"hub-{stack}"
    spec = load_stack(stack, REPO / "stacks")
    project.init(stack)

    # 1. preview on a fresh backend shows the plan
    preview = project.pulumi("preview", stack=stack)
    planned_count = int(re.search(r"\+ (\d+) to create", preview.stdout).group(1))  # type: ignore[union-attr]
    assert planned_count > 20

    # 2. up completes; every planned object exists, hub Deployments are Available
    project.pulumi("up", "--yes", stack=stack)
    outputs = project.outputs(stack)
    assert outputs["placementNames"] == [ocm.placement_name(spec, p) for p in spec.pools]
    ca = outputs["caCertificate"]
    assert "BEGIN CERTIFICATE" in ca and "PRIVATE KEY" not in ca
    dyn = dynamic(rig, context)
    planned = planning.planned_objects(spec, material=None, ca_certificate=ca)
    for obj in planned:
        live = read(dyn, obj)
        assert live is not None, f"{obj['kind']} {obj['metadata'].get('namespace')}/{obj['metadata']['name']} missing"
        if obj["kind"] == "Deployment":
            conditions = {c.type: c.status for c in (live.status.conditions or [])}
            assert conditions.get("Available") == "True", (obj["metadata"]["name"], conditions)

    # PlacementDecisions: exactly the clusters each pool should select
    selected = wait_until("placement decisions", lambda: (lambda d: d if d == EXPECTED[stack] else None)(
        decisions(rig, context, spec)), timeout=60)
    # the addon manager rendered the SuperNode for selected clusters (progressive rollouts start with the
    # first group and wait for the spokes' work agents, which the fake clusters lack)
    works = wait_until("addon ManifestWorks", lambda: (lambda w: w if check_addon_works(spec, w, selected) else None)(
        manifest_works(rig, context)))
    rendered = check_addon_works(spec, works, selected)
    if all(p.rollout_strategy.type == "All" for p in spec.pools):
        assert rendered == {c for cs in selected.values() for c in cs}
    # the addon's ManifestWorks carry what OCM must honour: the Available condition rule from the default
    # AddOnTemplate (the rollout waits for a healthy SuperNode) and the orphaned Namespace
    for mw in works:
        if mw["metadata"]["name"].startswith(f"addon-{spec.distribution.ocm.addon_name}-deploy"):
            rules = [r for cfg in mw["spec"].get("manifestConfigs", []) for r in cfg.get("conditionRules") or []]
            assert [r["condition"] for r in rules] == ["Available"], mw["spec"].get("manifestConfigs")
            orphan = mw["spec"]["deleteOption"]
            assert orphan["propagationPolicy"] == "SelectivelyOrphan", orphan
            assert orphan["selectivelyOrphans"]["orphaningRules"] == [
                {"group": "", "resource": "namespaces", "name": spec.distribution.ocm.agent_namespace, "namespace": ""}], orphan

    # ClientApps: a cluster qualifies once its addon is available, which OCM's registration hub records as
    # the label feature.open-cluster-management.io/addon-<name>=available from the ManagedClusterAddOn's
    # Available condition. The fake clusters have no work agent, so the addon is not available anywhere
    # yet: the ClientApp Placements select nothing, and `pulumi up` above did not hang on it.
    mwrs_api = ("work.open-cluster-management.io", "v1alpha1", spec.ocm_namespace, "manifestworkreplicasets")
    label = ocm.addon_feature_label(spec)
    for app in spec.client_apps:
        live = rig.custom(context).get_namespaced_custom_object(*mwrs_api, ocm.mwrs_name(spec, app))
        verified = {c["type"]: c for c in live["status"]["conditions"]}["PlacementVerified"]
        assert (verified["status"], verified["reason"]) == ("False", "PlacementDecisionEmpty"), verified
        assert not [w for w in manifest_works(rig, context) if w["metadata"]["name"] == ocm.mwrs_name(spec, app)]
    # Play the spokes' work agents for the addon: its SuperNode Deployment applied and available on every
    # rendered cluster but one, where it has no ready replica. OCM's addon manager turns that into the
    # ManagedClusterAddOns' Available, its registration hub into the feature labels, the placement
    # controller into ClientApp decisions, and the MWRS controller into ManifestWorks.
    clusters = sorted(c for cs in selected.values() for c in cs)
    # one unhealthy SuperNode where no progressive rollout would stop at it (it would, correctly)
    unhealthy = clusters[0] if all(p.rollout_strategy.type == "All" for p in spec.pools) else None
    healthy = set(wait_until("addon rolled out", lambda: play_addon_agents(
        rig, context, spec, unhealthy, clusters), timeout=240))
    labels = wait_until("addon feature labels", lambda: (lambda got: got if (unhealthy is None or got.get(unhealthy) ==
                        "unhealthy") and all(got.get(c) == "available" for c in healthy) else None)(
                            feature_labels(rig, context, label)), timeout=120)
    assert unhealthy not in healthy and labels
    for app in spec.client_apps:
        allowed = {c for p in app.pools for c in selected[p]} & healthy
        on = wait_until(f"ManifestWorks of {app.name}", lambda app=app, allowed=allowed: (lambda got: got if got == allowed
                        or (app.rollout_strategy.type != "All" and got) else None)({
                            w["metadata"]["namespace"] for w in manifest_works(rig, context)
                            if w["metadata"]["name"] == ocm.mwrs_name(spec, app)}), timeout=120)
        assert on <= allowed, (app.name, on, allowed)
        for w in manifest_works(rig, context):  # every ClientApp work gates its rollout on health
            if w["metadata"]["name"] == ocm.mwrs_name(spec, app):
                rules = [r["condition"] for cfg in w["spec"]["manifestConfigs"] for r in cfg["conditionRules"]]
                assert rules == ["Progressing", "Degraded"], rules

    # 3. no churn: server defaulting, SSA and the key material change nothing
    project.pulumi("preview", "--expect-no-changes", stack=stack)

    # 6. key material: private keys only as ciphertext in state
    state = json.dumps(project.export(stack))
    assert "PRIVATE KEY" not in state
    assert '"ciphertext"' in state

    # 4. a change: one more SAN and other SuperNode resources are in-place updates, the CA stays
    def edit(federation: dict[str, Any]) -> None:
        federation["hub"]["exposure"].setdefault("externalNames", []).append(f"extra.{stack}.flower.example.com")
        federation["pools"][0]["resources"] = {"requests": {"cpu": "300m", "memory": "300Mi"},
                                               "limits": {"cpu": "2", "memory": "2Gi"}}

    project.edit_federation(stack, edit)
    diff = project.pulumi("preview", "--diff", stack=stack).stdout
    assert re.search(r"~ .*SuperLinkCertificate", diff), diff[-3000:]  # re-issued in place, same CA
    assert not re.search(r"\+- .*(SuperLinkCertificate|AddOnTemplate)", diff), diff[-3000:]
    assert re.search(r"~ .*AddOnTemplate", diff), diff[-3000:]
    project.pulumi("up", "--yes", stack=stack)
    assert project.outputs(stack)["caCertificate"] == ca
    template = read(dyn, next(o for o in planned if o["kind"] == "AddOnTemplate"))
    assert "300m" in json.dumps(template.to_dict())

    # 5. destroy: OCM's finalizers honoured, nothing the program created remains
    project.pulumi("destroy", "--yes", stack=stack)
    left = [f"{o['kind']} {o['metadata']['name']}" for o in planned if o["kind"] != "Namespace" and read(dyn, o) is not None]
    assert left == []
    namespace = wait_until("hub namespace gone", lambda: read(dyn, {"apiVersion": "v1", "kind": "Namespace",
                                                                    "metadata": {"name": spec.hub.namespace}}) is None,
                           timeout=120)
    assert namespace
    assert not [w for w in manifest_works(rig, context)
                if w["metadata"]["name"].startswith(f"addon-{spec.distribution.ocm.addon_name}-deploy")]
