"""The status of a deployed federation, evaluated from what the hub and Flower report (pure: plain dicts in, a model out).

:class:`HubSnapshot` holds the objects as the API server returns them (camelCase dicts, base64 Secret
data), :class:`ControlView` what `flwr` printed as JSON (`supernode list`, `ls`). :func:`evaluate` turns
them, with the declaration, into a :class:`FederationStatus`: one :class:`Item` per thing an operator
checks, each ``healthy``, ``degraded`` or ``unknown`` (could not be read: never counted as healthy), with
OCM's condition reasons and messages. Every object name comes from the builders
(:mod:`federation.manifests.hub`, :mod:`federation.manifests.ocm.names`), so status reads exactly what
`pulumi up` created. Fetching lives in :mod:`federation.ops.hub` and :mod:`federation.ops.control`.

Exit codes (:meth:`FederationStatus.exit_code`): 0 healthy; 1 degraded or unknown.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from federation.manifests import hub as hub_manifests
from federation.manifests.common import Obj
from federation.manifests.ocm import names
from federation.manifests.ocm import registrar as registrar_manifests
from federation.spec import FederationSpec

Health = Literal["healthy", "degraded", "unknown"]
#: OCM's label on a PlacementDecision naming its Placement.
PLACEMENT_LABEL = "cluster.open-cluster-management.io/placement"
#: How many runs `status` shows (the most recent first).
RECENT_RUNS = 5
_ORDER: Mapping[Health, int] = {"healthy": 0, "unknown": 1, "degraded": 2}


def worst(healths: Iterable[Health]) -> Health:
    """Degraded over unknown over healthy (an empty list is healthy)."""
    return max(healths, key=lambda h: _ORDER[h], default="healthy")


# --------------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class HubRefs:
    """The hub objects a federation consists of, named by the builders."""

    namespace: str
    #: (name, component) of each Deployment :func:`federation.manifests.hub.hub_objects` builds.
    deployments: tuple[tuple[str, str], ...]
    #: Pod selector (matchLabels) of the SuperLink Deployment: its pod is the port-forward target.
    superlink_selector: Mapping[str, str]
    #: The exposed Service (the Fleet proxy's; what SuperNodes dial).
    service: str
    #: The TLS Secret (None in insecure mode).
    tls_secret: str | None
    ocm_namespace: str
    addon: str
    #: Placement name of each pool, in declaration order.
    placements: Mapping[str, str]
    #: ManifestWorkReplicaSet name of each ClientApp, in declaration order.
    mwrs: Mapping[str, str]
    #: The ClientApp Placement of each pool a ClientApp targets (the MWRS's placementRefs: the pool's clusters
    #: whose SuperNode addon is available).
    clientapp_placements: Mapping[str, str] = field(default_factory=dict)
    #: The pools of each ClientApp.
    clientapp_pools: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: The SuperNode registrar's report ConfigMap (`registration: Automatic`), else None.
    registrations: str | None = None


def refs(spec: FederationSpec) -> HubRefs:
    """Every name status reads, from the builders (never re-derived here)."""
    deployments = []
    selector: Mapping[str, str] = {}
    for obj in [*hub_manifests.hub_objects(spec), *registrar_manifests.registrar_objects(spec)]:
        if obj["kind"] != "Deployment":
            continue
        component = obj["metadata"].get("labels", {}).get("app.kubernetes.io/component", "")
        deployments.append((obj["metadata"]["name"], component))
        if component == hub_manifests.SUPERLINK_COMPONENT:
            selector = dict(obj["spec"]["selector"]["matchLabels"])
    return HubRefs(
        namespace=spec.hub.namespace,
        deployments=tuple(deployments),
        superlink_selector=selector,
        service=hub_manifests.superlink_service_name(spec),
        tls_secret=hub_manifests.tls_secret_name(spec),
        ocm_namespace=spec.ocm_namespace,
        addon=spec.distribution.ocm.addon_name,
        placements={p.name: names.placement_name(spec, p) for p in spec.pools},
        mwrs={a.name: names.mwrs_name(spec, a) for a in spec.client_apps},
        clientapp_placements={p.name: names.clientapp_placement_name(spec, p) for p in spec.pools
                              if any(p.name in a.pools for a in spec.client_apps)},
        clientapp_pools={a.name: tuple(a.pools) for a in spec.client_apps},
        registrations=names.registrations_name(spec) if names.automatic_registration(spec) else None,
    )


@dataclass
class HubSnapshot:
    """What the hub returned (plain dicts as the API server serialises them; None = not found)."""

    deployments: dict[str, Obj | None] = field(default_factory=dict)
    service: Obj | None = None
    tls_secret: Obj | None = None
    placements: dict[str, Obj | None] = field(default_factory=dict)
    #: PlacementDecisions by Placement name.
    decisions: dict[str, list[Obj]] = field(default_factory=dict)
    cluster_management_addon: Obj | None = None
    #: ManagedClusterAddOns named like the addon, in any cluster namespace.
    addons: list[Obj] = field(default_factory=list)
    mwrs: dict[str, Obj | None] = field(default_factory=dict)
    #: The registrar's report ConfigMap (registration: Automatic).
    registrations: Obj | None = None
    #: Reads that failed other than "not found" (what, why): the objects concerned are unknown, not missing.
    errors: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ControlView:
    """What Flower's Control API answered (through `flwr ... --format json`), or why it could not be asked."""

    #: How it was reached: "port-forward to pod ns/name", "in-cluster", "--control-address".
    via: str
    address: str | None = None
    #: Why the Control API could not be read (then nodes and runs are unknown).
    error: str | None = None
    nodes: tuple[Obj, ...] = ()
    runs: tuple[Obj, ...] = ()


# --------------------------------------------------------------------------- model


@dataclass(frozen=True)
class Item:
    """One thing an operator checks: its health, one line for people and details for scripts."""

    section: str
    name: str
    health: Health
    summary: str
    details: Mapping[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        """The item as JSON (name, health, summary, then the details)."""
        return {"name": self.name, "health": self.health, "summary": self.summary, **self.details}


@dataclass(frozen=True)
class FederationStatus:
    """The whole view: items by section, their worst health, and when it was read."""

    federation: str
    namespace: str
    checked_at: datetime
    items: tuple[Item, ...]

    @property
    def health(self) -> Health:
        """The worst item health."""
        return worst(i.health for i in self.items)

    def exit_code(self) -> int:
        """0 healthy, 1 degraded or unknown (a script can rely on 0 meaning every check passed)."""
        return 0 if self.health == "healthy" else 1

    def section(self, name: str) -> list[Item]:
        """The items of one section, in order."""
        return [i for i in self.items if i.section == name]

    def as_json(self) -> dict[str, Any]:
        """The JSON document `status --output json` prints."""
        return {
            "federation": self.federation,
            "namespace": self.namespace,
            "health": self.health,
            "checkedAt": self.checked_at.isoformat().replace("+00:00", "Z"),
            "superlink": [i.as_json() for i in self.section("superlink")],
            "flower": [i.as_json() for i in self.section("flower")],
            "pools": [i.as_json() for i in self.section("pools")],
            "addon": [i.as_json() for i in self.section("addon")],
            "clientApps": [i.as_json() for i in self.section("clientApps")],
            "registration": [i.as_json() for i in self.section("registration")],
        }


# --------------------------------------------------------------------------- helpers


def condition(obj: Obj | None, type_: str) -> Obj | None:
    """The status condition `type_` of `obj` (None when absent)."""
    for cond in ((obj or {}).get("status") or {}).get("conditions") or []:
        if cond.get("type") == type_:
            return dict(cond)
    return None


def _cond_json(cond: Obj | None, type_: str) -> dict[str, Any]:
    if cond is None:
        return {"type": type_, "status": "Unknown", "reason": "NotReported", "message": "no such condition yet"}
    return {k: cond.get(k, "") for k in ("type", "status", "reason", "message")}


def _explain(cond: Obj | None, type_: str) -> str:
    if cond is None:
        return f"{type_} not reported yet"
    text = f"{type_}={cond.get('status')}"
    if cond.get("reason"):
        text += f" ({cond['reason']}"
        text += f": {cond['message']})" if cond.get("message") else ")"
    return text


def _missing(kind: str, name: str) -> str:
    return f"{kind} {name} not found (was `pulumi up` run for this stack?)"


def _unknown_read(snapshot: HubSnapshot, key: str) -> str | None:
    return snapshot.errors.get(key)


# --------------------------------------------------------------------------- evaluation


def _deployment_item(name: str, component: str, dep: Obj | None, error: str | None) -> Item:
    if error is not None:
        return Item("superlink", name, "unknown", f"Deployment {name}: cannot read ({error})", {"kind": "Deployment"})
    if dep is None:
        return Item("superlink", name, "degraded", _missing("Deployment", name), {"kind": "Deployment"})
    want = int((dep.get("spec") or {}).get("replicas", 1))
    status = dep.get("status") or {}
    ready = int(status.get("readyReplicas") or 0)
    available = condition(dep, "Available")
    ok = ready >= want and available is not None and available.get("status") == "True"
    summary = f"Deployment {name} ({component}): {ready}/{want} ready"
    if not ok:
        progressing = condition(dep, "Progressing")
        summary += "; " + _explain(available, "Available")
        if progressing is not None and progressing.get("status") != "True":
            summary += "; " + _explain(progressing, "Progressing")
    details = {"kind": "Deployment", "component": component, "ready": ready, "replicas": want,
               "conditions": [_cond_json(condition(dep, t), t) for t in ("Available", "Progressing")]}
    return Item("superlink", name, "healthy" if ok else "degraded", summary, details)


def _address_item(spec: FederationSpec, r: HubRefs, snapshot: HubSnapshot) -> Item:
    in_cluster, external = hub_manifests.superlink_addresses(spec)
    details: dict[str, Any] = {"kind": "Service", "declared": external, "inCluster": in_cluster,
                               "control": hub_manifests.api_address(spec)}
    error = _unknown_read(snapshot, f"Service {r.service}")
    if error is not None:
        return Item("superlink", "address", "unknown", f"Service {r.service}: cannot read ({error})", details)
    svc = snapshot.service
    if svc is None:
        return Item("superlink", "address", "degraded", _missing("Service", r.service), details)
    sspec = svc.get("spec") or {}
    details["type"] = sspec.get("type", "ClusterIP")
    node_ports = [p.get("nodePort") for p in sspec.get("ports") or [] if p.get("nodePort")]
    ingress = [i.get("hostname") or i.get("ip") for i in ((svc.get("status") or {}).get("loadBalancer") or {}).get(
        "ingress") or []]
    details["nodePorts"] = node_ports
    details["loadBalancer"] = [i for i in ingress if i]
    summary = f"address {external or in_cluster} (Service {r.service}, {details['type']}"
    if node_ports:
        summary += f", nodePort {', '.join(map(str, node_ports))}"
    if details["type"] == "LoadBalancer":
        if not details["loadBalancer"]:
            return Item("superlink", "address", "degraded",
                        summary + "): the LoadBalancer has no ingress address yet", details)
        summary += f", ingress {', '.join(details['loadBalancer'])}"
    return Item("superlink", "address", "healthy", summary + f"); Control API {details['control']} (in the hub)",
                details)


def _certificate_item(spec: FederationSpec, r: HubRefs, snapshot: HubSnapshot, now: datetime) -> Item:
    if r.tls_secret is None:
        return Item("superlink", "certificate", "healthy", "TLS off (tls.mode insecure, allowInsecure)", {"kind": "Secret"})
    details: dict[str, Any] = {"kind": "Secret", "secret": r.tls_secret}
    error = _unknown_read(snapshot, f"Secret {r.tls_secret}")
    if error is not None:
        return Item("superlink", "certificate", "unknown", f"certificate: cannot read Secret {r.tls_secret} ({error})",
                    details)
    if snapshot.tls_secret is None:
        return Item("superlink", "certificate", "degraded", _missing("Secret", r.tls_secret), details)
    pem = hub_manifests.decode_secret_value(((snapshot.tls_secret.get("data")) or {}).get(hub_manifests.TLS_CERT_KEY))
    if pem is None:
        return Item("superlink", "certificate", "degraded",
                    f"Secret {r.tls_secret} has no readable {hub_manifests.TLS_CERT_KEY}", details)
    from federation import tls

    try:
        info = tls.certificate_info(pem)
    except ValueError as exc:
        return Item("superlink", "certificate", "degraded", f"{hub_manifests.TLS_CERT_KEY} does not parse: {exc}", details)
    left = info.not_after - now
    days = left.total_seconds() / 86400
    details.update(notAfter=info.not_after.isoformat().replace("+00:00", "Z"), daysLeft=round(days, 1),
                   dnsNames=list(info.dns_names), ipAddresses=list(info.ip_addresses))
    summary = f"certificate in {r.tls_secret} expires {info.not_after:%Y-%m-%d %H:%M}Z"
    if days <= 0:
        return Item("superlink", "certificate", "degraded", summary + " (EXPIRED: SuperNodes cannot connect)", details)
    renew = spec.hub.tls.renew_before_days
    if spec.hub.tls.mode == "generate" and days <= renew:
        details["renewDue"] = True
        summary += f" ({days:.0f} days: within renewBeforeDays {renew}, `pulumi up` renews it)"
    else:
        summary += f" ({days:.0f} days)"
    return Item("superlink", "certificate", "healthy", summary, details)


def _selected(snapshot: HubSnapshot, placement: str) -> list[str]:
    clusters = {d.get("clusterName") for pd in snapshot.decisions.get(placement, [])
                for d in ((pd.get("status") or {}).get("decisions") or [])}
    return sorted(c for c in clusters if c)


def _pool_item(pool: str, placement: str, snapshot: HubSnapshot) -> Item:
    details: dict[str, Any] = {"kind": "Placement", "placement": placement}
    error = _unknown_read(snapshot, f"Placement {placement}")
    if error is not None:
        return Item("pools", pool, "unknown", f"Placement {placement}: cannot read ({error})", details)
    obj = snapshot.placements.get(placement)
    if obj is None:
        return Item("pools", pool, "degraded", _missing("Placement", placement), details)
    selected = _selected(snapshot, placement)
    misconfigured = condition(obj, "PlacementMisconfigured")
    satisfied = condition(obj, "PlacementSatisfied")
    details.update(selected=selected,
                   numberOfSelectedClusters=(obj.get("status") or {}).get("numberOfSelectedClusters", 0),
                   conditions=[_cond_json(misconfigured, "PlacementMisconfigured"),
                               _cond_json(satisfied, "PlacementSatisfied")])
    head = f"Placement {placement}: {len(selected)} cluster(s)" + (f" {', '.join(selected)}" if selected else "")
    problems = []
    if misconfigured is None or misconfigured.get("status") != "False":
        problems.append(_explain(misconfigured, "PlacementMisconfigured"))
    if satisfied is None or satisfied.get("status") != "True":
        problems.append(_explain(satisfied, "PlacementSatisfied"))
    if not selected and not problems:
        problems.append("no cluster selected")
    if problems:
        return Item("pools", pool, "degraded", f"{head}; " + "; ".join(problems), details)
    return Item("pools", pool, "healthy", f"{head} ({_explain(satisfied, 'PlacementSatisfied')})", details)


def _addon_items(r: HubRefs, snapshot: HubSnapshot, expected: Sequence[str]) -> list[Item]:
    error = _unknown_read(snapshot, f"ManagedClusterAddOns {r.addon}")
    if error is not None:
        return [Item("addon", r.addon, "unknown", f"ManagedClusterAddOns {r.addon}: cannot read ({error})",
                     {"kind": "ManagedClusterAddOn"})]
    items: list[Item] = []
    cma_error = _unknown_read(snapshot, f"ClusterManagementAddOn {r.addon}")
    if cma_error is not None:
        items.append(Item("addon", r.addon, "unknown", f"ClusterManagementAddOn {r.addon}: cannot read ({cma_error})",
                          {"kind": "ClusterManagementAddOn"}))
    elif snapshot.cluster_management_addon is None:
        items.append(Item("addon", r.addon, "degraded", _missing("ClusterManagementAddOn", r.addon),
                          {"kind": "ClusterManagementAddOn"}))
    by_cluster = {(m.get("metadata") or {}).get("namespace", ""): m for m in snapshot.addons}
    if snapshot.cluster_management_addon is not None:
        items.append(Item("addon", r.addon, "healthy", f"ClusterManagementAddOn {r.addon}: on {len(by_cluster)} cluster(s)",
                          {"kind": "ClusterManagementAddOn", "clusters": sorted(by_cluster)}))
    for cluster in sorted(set(by_cluster) | set(expected)):
        mca = by_cluster.get(cluster)
        details: dict[str, Any] = {"kind": "ManagedClusterAddOn", "cluster": cluster, "selected": cluster in expected}
        if mca is None:
            items.append(Item("addon", cluster, "degraded",
                              f"{cluster}: selected by a pool but has no ManagedClusterAddOn {r.addon} yet", details))
            continue
        available, progressing, degraded = (condition(mca, t) for t in ("Available", "Progressing", "Degraded"))
        details["conditions"] = [_cond_json(c, t) for c, t in ((available, "Available"), (progressing, "Progressing"),
                                                               (degraded, "Degraded"))]
        problems = []
        unavailable = available is None or available.get("status") != "True"
        if unavailable:
            problems.append(_explain(available, "Available"))
        # Progressing=True is a rollout in flight; while the addon is not available, Progressing also says
        # why (e.g. False/WaitingForManifestApplied: no work agent applied the ManifestWork yet).
        if progressing is not None and (progressing.get("status") == "True" or unavailable):
            problems.append(_explain(progressing, "Progressing"))
        if degraded is not None and degraded.get("status") == "True":
            problems.append(_explain(degraded, "Degraded"))
        if problems:
            items.append(Item("addon", cluster, "degraded", f"{cluster}: " + "; ".join(problems), details))
        else:
            items.append(Item("addon", cluster, "healthy", f"{cluster}: {_explain(available, 'Available')}", details))
    return items


_REGISTRATION_HEALTH: Mapping[str, Health] = {"Registered": "healthy", "Pending": "degraded", "Failed": "degraded"}


def _registration_items(r: HubRefs, snapshot: HubSnapshot, selected: Sequence[str]) -> list[Item]:
    """Each selected cluster's key registration, as the registrar last reported it (registration: Automatic)."""
    if r.registrations is None:
        return []
    name = r.registrations
    error = _unknown_read(snapshot, f"ConfigMap {name}")
    if error is not None:
        return [Item("registration", name, "unknown", f"ConfigMap {name}: cannot read ({error})", {})]
    text = ((snapshot.registrations or {}).get("data") or {}).get(registrar_manifests.REPORT_KEY)
    try:
        report = json.loads(text) if isinstance(text, str) else None
    except ValueError:
        report = None
    if not isinstance(report, dict):
        return [Item("registration", name, "degraded", f"the registrar has not reported yet (ConfigMap {r.namespace}/{name}); "
                     "see its Deployment's log", {})]
    items: list[Item] = []
    if report.get("error"):
        items.append(Item("registration", "registrar", "degraded", f"its last pass failed: {report['error']}",
                          {"error": report["error"]}))
    clusters = report.get("registrations") or {}
    for cluster in sorted(set(clusters) | set(selected)):
        entry = clusters.get(cluster)
        if not isinstance(entry, dict):
            items.append(Item("registration", cluster, "degraded",
                              f"{cluster}: selected, but its addon ManifestWork has not reached the registrar yet",
                              {"cluster": cluster, "state": None}))
            continue
        state = str(entry.get("state"))
        summary = f"{cluster}: {state}"
        if entry.get("nodeId"):
            summary += f" as node {entry['nodeId']}"
        if entry.get("message"):
            summary += f" ({entry['message']})"
        items.append(Item("registration", cluster, _REGISTRATION_HEALTH.get(state, "unknown"), summary,
                          {"cluster": cluster, **entry}))
    return items


def _clientapp_item(app: str, name: str, snapshot: HubSnapshot, targets: Sequence[tuple[str, str]]) -> Item:
    details: dict[str, Any] = {"kind": "ManifestWorkReplicaSet", "manifestWorkReplicaSet": name}
    error = _unknown_read(snapshot, f"ManifestWorkReplicaSet {name}")
    if error is not None:
        return Item("clientApps", app, "unknown", f"ManifestWorkReplicaSet {name}: cannot read ({error})", details)
    obj = snapshot.mwrs.get(name)
    if obj is None:
        return Item("clientApps", app, "degraded", _missing("ManifestWorkReplicaSet", name), details)
    types = ("PlacementVerified", "PlacementRolledOut", "ManifestworkApplied")
    conds = {t: condition(obj, t) for t in types}
    summary_counts = dict((obj.get("status") or {}).get("summary") or {})
    details.update(conditions=[_cond_json(conds[t], t) for t in types], summary=summary_counts)
    total = int(summary_counts.get("total") or 0)
    counts = ", ".join(f"{k} {summary_counts.get(k, 0)}" for k in ("applied", "available", "progressing", "degraded"))
    head = f"ManifestWorkReplicaSet {name}: {total} ManifestWork(s) ({counts})"
    problems = [_explain(c, t) for t, c in conds.items() if c is None or c.get("status") != "True"]
    if int(summary_counts.get("degraded") or 0):
        problems.append(f"{summary_counts['degraded']} ManifestWork(s) degraded")
    placements = []
    for pool, placement in targets:
        obj = snapshot.placements.get(placement)
        selected = _selected(snapshot, placement)
        placements.append({"pool": pool, "placement": placement, "found": obj is not None, "selected": selected,
                           "conditions": [_cond_json(condition(obj, t), t)
                                          for t in ("PlacementMisconfigured", "PlacementSatisfied")]})
        if obj is None and _unknown_read(snapshot, f"Placement {placement}") is None:
            problems.append(_missing("Placement", placement))
        else:
            head += f"; pool {pool}: {len(selected)} cluster(s) with the addon available ({placement})"
    details["placements"] = placements
    if problems:
        return Item("clientApps", app, "degraded", f"{head}; " + "; ".join(problems), details)
    return Item("clientApps", app, "healthy", head, details)


def _flower_items(spec: FederationSpec, control: ControlView, expected_nodes: int) -> list[Item]:
    base: dict[str, Any] = {"via": control.via, "address": control.address}
    if control.error is not None:
        return [Item("flower", "control-api", "unknown",
                     f"Control API not reachable ({control.via}): {control.error}; SuperNodes and runs unknown",
                     {**base, "error": control.error})]
    online = [n for n in control.nodes if n.get("status") == "online"]
    nodes = [{"nodeId": n.get("node-id"), "status": n.get("status"), "onlineAt": n.get("online-at"),
              "offlineAt": n.get("offline-at")} for n in control.nodes]
    health: Health = "healthy" if len(online) >= expected_nodes else "degraded"
    summary = f"{len(online)} SuperNode(s) online of {expected_nodes} expected (clusters selected × replicas)"
    if len(control.nodes) != len(online):
        summary += f"; {len(control.nodes) - len(online)} other(s) registered but not online"
    items = [Item("flower", "supernodes", health, summary,
                  {**base, "online": len(online), "expected": expected_nodes, "nodes": nodes})]
    runs = sorted(control.runs, key=lambda r: str(r.get("pending-at") or ""), reverse=True)[:RECENT_RUNS]
    recent = [{"runId": r.get("run-id"), "app": f"{r.get('fab-id')}=={r.get('fab-version')}", "status": r.get("status"),
               "statusDetails": r.get("status-details"), "pendingAt": r.get("pending-at"), "elapsed": r.get("elapsed")}
              for r in runs]
    text = "; ".join(f"{r['runId']} {r['status']}" for r in recent) if recent else "none yet"
    items.append(Item("flower", "runs", "healthy", f"recent runs ({len(control.runs)} in all): {text}",
                      {**base, "total": len(control.runs), "recent": recent}))
    return items


def evaluate(spec: FederationSpec, snapshot: HubSnapshot, control: ControlView, *,
             now: datetime | None = None) -> FederationStatus:
    """The federation's status from what the hub and Flower returned."""
    now = now or datetime.now(UTC)
    r = refs(spec)
    items: list[Item] = []
    for name, component in r.deployments:
        items.append(_deployment_item(name, component, snapshot.deployments.get(name),
                                      _unknown_read(snapshot, f"Deployment {name}")))
    items.append(_address_item(spec, r, snapshot))
    items.append(_certificate_item(spec, r, snapshot, now))
    pools = [_pool_item(pool, placement, snapshot) for pool, placement in r.placements.items()]
    selected: list[str] = sorted({c for p in pools for c in p.details.get("selected", [])})
    replicas = {p.name: p.replicas for p in spec.pools}
    expected_nodes = sum(len(p.details.get("selected", [])) * replicas[p.name] for p in pools)
    items += _flower_items(spec, control, expected_nodes)
    items += pools
    items += _addon_items(r, snapshot, selected)
    items += [_clientapp_item(app, name, snapshot, [(p, r.clientapp_placements[p]) for p in r.clientapp_pools.get(app, ())
                                                    if p in r.clientapp_placements])
              for app, name in r.mwrs.items()]
    items += _registration_items(r, snapshot, selected)
    return FederationStatus(spec.name, spec.hub.namespace, now, tuple(items))


# --------------------------------------------------------------------------- rendering

_SECTION_TITLES = (("superlink", "SuperLink"), ("flower", "Flower"), ("pools", "Pools"), ("addon", "Addon"),
                   ("clientApps", "ClientApps"), ("registration", "SuperNode registration"))
_MARK: Mapping[Health, str] = {"healthy": "ok", "degraded": "DEGRADED", "unknown": "UNKNOWN"}


def render_text(status: FederationStatus, *, source: str = "") -> str:
    """Plain text for people: one line per item under its section, the worst health first line."""
    head = f"federation {status.federation} (namespace {status.namespace}){source}: {_MARK[status.health]}"
    lines = [head, f"checked at {status.checked_at:%Y-%m-%d %H:%M:%S}Z"]
    for key, title in _SECTION_TITLES:
        items = status.section(key)
        if not items:
            continue
        lines.append(f"{title} [{_MARK[worst(i.health for i in items)]}]")
        for item in items:
            text = item.summary if item.name in item.summary else f"{item.name}: {item.summary}"
            lines.append(f"  {_MARK[item.health]:<8}  {text}")
    return "\n".join(lines)
