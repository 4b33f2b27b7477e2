"""Placements, ManagedClusterSetBindings and the rollout strategy (cluster.open-cluster-management.io)."""

from __future__ import annotations

import json
from collections.abc import Sequence

from federation.manifests import common
from federation.manifests.common import Obj
from federation.manifests.ocm.names import (
    API_BINDING,
    API_PLACEMENT,
    BINDING_AWAIT,
    PLACEMENT_AWAIT,
    POOL_LABEL,
    addon_feature_label,
    clientapp_placement_name,
    placement_name,
)
from federation.spec import ClaimSelector, ClusterSelection, FederationSpec, LabelSelector, PoolSpec, RolloutStrategy

#: The NoSelect taints OCM's registration hub puts on a cluster whose Available condition is Unknown or
#: False (`pkg/registration/hub/taint`); the placement controller then drops already-selected clusters too.
OUTAGE_TAINTS = ("cluster.open-cluster-management.io/unreachable", "cluster.open-cluster-management.io/unavailable")


def _int_or_percent(value: str) -> int | str:
    """OCM parses IntOrString "3" as an (invalid) percentage: counts must be JSON integers."""
    return value if value.endswith("%") else int(value)


def _label_selector(sel: LabelSelector) -> Obj:
    out: Obj = {}
    if sel.match_labels:
        out["matchLabels"] = dict(sorted(sel.match_labels.items()))
    if sel.match_expressions:
        out["matchExpressions"] = [_requirement(e.key, e.operator, e.values) for e in sel.match_expressions]
    return out


def _claim_selector(sel: ClaimSelector) -> Obj:
    return {"matchExpressions": [_requirement(e.key, e.operator, e.values) for e in sel.match_expressions]}


def _requirement(key: str, operator: str, values: Sequence[str]) -> Obj:
    req: Obj = {"key": key, "operator": operator}
    if values:
        req["values"] = sorted(values)
    return req


def rollout_strategy(rollout: RolloutStrategy) -> Obj:
    """An OCM RolloutStrategy; `type` is always rendered."""
    body: Obj = {}
    if rollout.mandatory_decision_groups and rollout.type != "All":
        body["mandatoryDecisionGroups"] = [{"groupName": g} for g in rollout.mandatory_decision_groups]
    if rollout.max_concurrency is not None and rollout.type == "Progressive":
        body["maxConcurrency"] = _int_or_percent(rollout.max_concurrency)
    if rollout.max_failures is not None:
        body["maxFailures"] = _int_or_percent(rollout.max_failures)
    if rollout.min_success_time is not None:
        body["minSuccessTime"] = rollout.min_success_time
    if rollout.progress_deadline is not None:
        body["progressDeadline"] = rollout.progress_deadline
    key = {"All": "all", "Progressive": "progressive", "ProgressivePerGroup": "progressivePerGroup"}[rollout.type]
    out: Obj = {"type": rollout.type}
    if body:
        out[key] = body
    return out


def _cel_cluster_list(clusters: Sequence[str]) -> str:
    names = ", ".join(json.dumps(c) for c in sorted(clusters))
    return f"managedCluster.metadata.name in [{names}]"


def _required_selector(sel: ClusterSelection) -> Obj:
    out: Obj = {}
    if sel.label_selector is not None:
        label = _label_selector(sel.label_selector)
        if label:
            out["labelSelector"] = label
    if sel.claim_selector is not None:
        out["claimSelector"] = _claim_selector(sel.claim_selector)
    cel = list(sel.cel_expressions)
    if sel.clusters:  # Manual mode: the Placement (for ClientApp MWRS) selects exactly the listed clusters
        cel.append(_cel_cluster_list(sel.clusters))
    if cel:
        out["celSelector"] = {"celExpressions": cel}
    return out


def clientapp_placement(spec: FederationSpec, pool: PoolSpec) -> Obj:
    """The Placement a ClientApp ManifestWorkReplicaSet uses for `pool`: the pool's own selection plus
    the addon feature label (`available`), as the flower-addon does, so ClientApps land only where the
    SuperNode runs and is healthy, and leave a cluster whose SuperNode stops being available.

    Pools may not overlap (validation), so these are exactly the pool's clusters with a healthy addon.
    """
    obj = placement(spec, pool)
    body = obj["spec"]
    want = {addon_feature_label(spec): "available"}
    predicates = body.get("predicates") or [{"requiredClusterSelector": {}}]
    for pred in predicates:
        req = pred["requiredClusterSelector"]
        label = req.setdefault("labelSelector", {})
        label["matchLabels"] = dict(sorted({**label.get("matchLabels", {}), **want}.items()))
    body["predicates"] = predicates
    obj["metadata"]["name"] = clientapp_placement_name(spec, pool)
    obj["metadata"]["labels"] = common.labels(spec, "clientapp-placement", **{POOL_LABEL: pool.name})
    return obj


def placement(spec: FederationSpec, pool: PoolSpec) -> Obj:
    """The pool's Placement: cluster sets, ANDed label/claim/CEL predicates, scores, tolerations, decision groups."""
    sel = pool.selection
    body: Obj = {"clusterSets": sorted(set(sel.cluster_sets))}
    required = _required_selector(sel)
    if required:
        body["predicates"] = [{"requiredClusterSelector": required}]
    if sel.number_of_clusters is not None:
        body["numberOfClusters"] = sel.number_of_clusters
    if sel.prioritizers is not None:
        configurations: list[Obj] = []
        for prio in sel.prioritizers.configurations:
            coord: Obj
            if prio.add_on is not None:
                coord = {"type": "AddOn",
                         "addOn": {"resourceName": prio.add_on.resource_name, "scoreName": prio.add_on.score_name}}
            else:
                coord = {"type": "BuiltIn", "builtIn": prio.built_in}
            configurations.append({"scoreCoordinate": coord, "weight": prio.weight})
        body["prioritizerPolicy"] = {"mode": sel.prioritizers.mode, "configurations": configurations}
    tolerations = [t.model_dump(by_alias=True, exclude_none=True) for t in sel.tolerations]
    if sel.unreachable_toleration_seconds is not None:
        tolerated = {t.key for t in sel.tolerations}
        tolerations += [{"key": key, "operator": "Exists", "tolerationSeconds": sel.unreachable_toleration_seconds}
                        for key in OUTAGE_TAINTS if key not in tolerated]
    if tolerations:
        body["tolerations"] = tolerations
    ds = sel.decision_strategy
    if ds is not None:
        group: Obj = {}
        if ds.clusters_per_decision_group is not None:
            group["clustersPerDecisionGroup"] = _int_or_percent(ds.clusters_per_decision_group)
        if ds.decision_groups:
            groups: list[Obj] = []
            for g in ds.decision_groups:
                gsel: Obj = {}
                if g.label_selector is not None:
                    gsel["labelSelector"] = _label_selector(g.label_selector)
                if g.claim_selector is not None:
                    gsel["claimSelector"] = _claim_selector(g.claim_selector)
                groups.append({"groupName": g.group_name, "groupClusterSelector": gsel})
            group["decisionGroups"] = groups
        body["decisionStrategy"] = {"groupStrategy": group}
    return {
        "apiVersion": API_PLACEMENT,
        "kind": "Placement",
        "metadata": common.metadata(placement_name(spec, pool), spec.ocm_namespace,
                                    labels=common.labels(spec, "placement", **{POOL_LABEL: pool.name}),
                                    annotations=PLACEMENT_AWAIT),
        "spec": body,
    }


def cluster_sets(spec: FederationSpec) -> list[str]:
    """Every cluster set some pool selects from, sorted and deduplicated."""
    return sorted({s for pool in spec.pools for s in pool.selection.cluster_sets})


def cluster_set_binding(spec: FederationSpec, cluster_set: str) -> Obj:
    """Binds `cluster_set` into the OCM namespace (name must equal spec.clusterSet; immutable)."""
    return {
        "apiVersion": API_BINDING,
        "kind": "ManagedClusterSetBinding",
        "metadata": common.metadata(cluster_set, spec.ocm_namespace, labels=common.labels(spec, "placement"),
                                    annotations=BINDING_AWAIT),
        "spec": {"clusterSet": cluster_set},
    }


def cluster_set_bindings(spec: FederationSpec) -> list[Obj]:
    """One ManagedClusterSetBinding per cluster set any pool uses."""
    return [cluster_set_binding(spec, s) for s in cluster_sets(spec)]


def pool_bindings(spec: FederationSpec, pool: PoolSpec) -> list[Obj]:
    """The bindings a pool's Placement needs (components dedupe across pools by name)."""
    return [cluster_set_binding(spec, s) for s in sorted(set(pool.selection.cluster_sets))]


def binding_owners(spec: FederationSpec) -> dict[str, str]:
    """cluster set → the first pool (in spec order) that selects from it, which registers its binding."""
    owners: dict[str, str] = {}
    for pool in spec.pools:
        for cluster_set in sorted(set(pool.selection.cluster_sets)):
            owners.setdefault(cluster_set, pool.name)
    return owners


def manual_clusters(spec: FederationSpec) -> list[str]:
    """All clusters listed for Manual mode, sorted: a cluster's index is its partition id."""
    return sorted({c for pool in spec.pools for c in pool.selection.clusters})
