"""Rules that span several fields of a federation spec.

Each rule reports :class:`Problem`s with the exact path of the offending field, in the camelCase
form the user wrote. Structural checks (types, ranges, name formats) live on the models.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from federation.errors import Problem
from federation.spec import (
    ClaimSelector,
    FederationSpec,
    GpuSpec,
    LabelSelector,
    PoolSpec,
    RolloutStrategy,
)
from federation.templating import BUILTIN_VARIABLES

#: Variables OCM provides itself, or that the addon templates define; users may not redefine them.
RESERVED_OCM_VARIABLES = BUILTIN_VARIABLES
#: node-config keys the deployment sets itself.
RESERVED_NODE_CONFIG_KEYS = frozenset({"cluster-name"})
OCM_VARIABLE_VALUE_MAX = 1024

_EXTENDED_RESOURCE = re.compile(
    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)+/[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$"
)
_VERSION_TAG = re.compile(r"^(\d+)\.(\d+)\.\d+")


def check(spec: FederationSpec) -> list[Problem]:
    """Every cross-field problem of `spec`, sorted by path."""
    rules = (
        _flower,
        _hub,
        _pools,
        _client_apps,
        _distribution,
        _overlaps,
        _local,
    )
    return sorted({p for rule in rules for p in rule(spec)})


def _minor(version: str) -> tuple[str, str] | None:
    m = _VERSION_TAG.match(version)
    return (m.group(1), m.group(2)) if m else None


def _image_tag(image: str) -> str | None:
    name = image.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    return last.split(":", 1)[1] if ":" in last else None


def _flower(spec: FederationSpec) -> Iterator[Problem]:
    flower = spec.flower
    wanted = _minor(flower.version)
    images: list[tuple[str, str | None]] = [("federation.flower.images.superlink", flower.images.superlink),
              ("federation.flower.images.supernode", flower.images.supernode)]
    # SuperExec images carry the user's app and its own version tag, so only Flower's images are checked here.
    images += [(f"federation.pools[{i}].image", p.image) for i, p in enumerate(spec.pools)]
    for path, image in images:
        if image is None:
            continue
        tag = _image_tag(image)
        if tag is None and "@" not in image:
            yield Problem(path, f"{image!r} has neither tag nor digest; pin the Flower {flower.version} image")
            continue
        minor = _minor(tag) if tag else None
        if minor is not None and minor != wanted:
            yield Problem(
                path,
                f"image tag {tag!r} is not Flower {flower.version}: all components must run the same "
                "major.minor (Flower's Runtime APIs reject a different one)",
            )


def _hub(spec: FederationSpec) -> Iterator[Problem]:
    hub = spec.hub
    tls = hub.tls
    if tls.mode == "insecure" and not tls.allow_insecure:
        yield Problem("federation.hub.tls.mode", "'insecure' turns TLS off; it needs allowInsecure: true")
    if tls.mode == "existingSecret" and not tls.secret_name:
        yield Problem("federation.hub.tls.secretName", "required when mode is 'existingSecret'")
    if tls.mode != "existingSecret" and tls.secret_name:
        yield Problem("federation.hub.tls.secretName", "only used when mode is 'existingSecret'")
    if tls.renew_before_days >= tls.validity_days:
        yield Problem("federation.hub.tls.renewBeforeDays", f"must be less than validityDays ({tls.validity_days})")
    if hub.supernode_auth.enabled and tls.mode == "insecure":
        yield Problem("federation.hub.supernodeAuth.enabled", "SuperNode authentication needs TLS (tls.mode is 'insecure')")
    if hub.isolation == "process" and spec.flower.images.superexec is None:
        yield Problem(
            "federation.flower.images.superexec",
            "required when hub.isolation is 'process': the ServerApp SuperExec image (with the app's dependencies)",
        )
    exp = hub.exposure
    if exp.node_port is not None and exp.type == "ClusterIP":
        yield Problem("federation.hub.exposure.nodePort", "only used with type NodePort or LoadBalancer")
    if exp.load_balancer_source_ranges and exp.type != "LoadBalancer":
        yield Problem("federation.hub.exposure.loadBalancerSourceRanges", "only used with type LoadBalancer")
    if spec.distribution.mode == "ocm":
        if not exp.external_names and not exp.external_ips:
            yield Problem(
                "federation.hub.exposure",
                "SuperNodes on managed clusters dial the SuperLink from outside the hub: "
                "set externalNames or externalIPs (the address they dial)",
            )
        if exp.type == "NodePort" and exp.node_port is None and exp.external_port is None:
            yield Problem(
                "federation.hub.exposure.nodePort",
                "required with type NodePort (or set externalPort): spokes must know the port they dial",
            )


def _gpu(path: str, gpu: GpuSpec) -> Iterator[Problem]:
    if not gpu.resource_name:
        yield Problem(f"{path}.resourceName", "required: a GPU count needs a GPU resource name (e.g. nvidia.com/gpu)")
    elif not _EXTENDED_RESOURCE.match(gpu.resource_name) or gpu.resource_name.split("/")[0].endswith("kubernetes.io"):
        yield Problem(f"{path}.resourceName", f"{gpu.resource_name!r} is not an extended resource name like nvidia.com/gpu")
    if gpu.tolerations and not gpu.node_selector:
        yield Problem(
            f"{path}.tolerations",
            "need gpu.nodeSelector too (OCM drops nodePlacement tolerations without a nodeSelector)",
        )


def _decision_groups(pool: PoolSpec) -> set[str]:
    ds = pool.selection.decision_strategy
    return {g.group_name for g in ds.decision_groups} if ds else set()


def _rollout(path: str, rollout: RolloutStrategy, groups: set[str]) -> Iterator[Problem]:
    if rollout.max_concurrency is not None and rollout.type != "Progressive":
        yield Problem(f"{path}.maxConcurrency", "only used with type Progressive")
    if rollout.type == "All" and rollout.mandatory_decision_groups:
        yield Problem(f"{path}.mandatoryDecisionGroups", "only used with type Progressive or ProgressivePerGroup")
    for j, group in enumerate(rollout.mandatory_decision_groups):
        if group not in groups:
            known = ", ".join(sorted(groups)) or "none declared"
            yield Problem(f"{path}.mandatoryDecisionGroups[{j}]", f"unknown decision group {group!r} ({known})")


def _pools(spec: FederationSpec) -> Iterator[Problem]:
    seen: dict[str, int] = {}
    manual = spec.distribution.ocm.install_strategy == "Manual"
    listed: dict[str, str] = {}
    targeted = {name for app in spec.client_apps for name in app.pools}
    for i, pool in enumerate(spec.pools):
        path = f"federation.pools[{i}]"
        if pool.name in seen:
            yield Problem(f"{path}.name", f"duplicate pool name {pool.name!r} (also pools[{seen[pool.name]}])")
        seen.setdefault(pool.name, i)
        if pool.gpu is not None:
            yield from _gpu(f"{path}.gpu", pool.gpu)
        sel = pool.selection
        for j, prio in enumerate(sel.prioritizers.configurations if sel.prioritizers else []):
            if (prio.built_in is None) == (prio.add_on is None):
                yield Problem(f"{path}.selection.prioritizers.configurations[{j}]", "set exactly one of builtIn or addOn")
        for j, expr in enumerate(sel.cel_expressions):
            if not expr.strip():
                yield Problem(f"{path}.selection.celExpressions[{j}]", "must not be empty")
        if sel.decision_strategy:
            names: set[str] = set()
            for j, g in enumerate(sel.decision_strategy.decision_groups):
                if g.group_name in names:
                    yield Problem(f"{path}.selection.decisionStrategy.decisionGroups[{j}].groupName",
                                  f"duplicate group {g.group_name!r}")
                names.add(g.group_name)
        if manual and not sel.clusters:
            yield Problem(f"{path}.selection.clusters", "required with installStrategy 'Manual': list the clusters")
        if not manual and sel.clusters:
            yield Problem(f"{path}.selection.clusters", "only used with distribution.ocm.installStrategy 'Manual'")
        for j, cluster in enumerate(sel.clusters):
            if cluster in listed:
                yield Problem(f"{path}.selection.clusters[{j}]", f"cluster {cluster!r} is already in pool {listed[cluster]!r}")
            listed.setdefault(cluster, pool.name)
        for key in pool.node_config:
            if key in RESERVED_NODE_CONFIG_KEYS:
                yield Problem(f"{path}.nodeConfig.{key}", "is set by flower-federation (the managed cluster's name)")
        yield from _rollout(f"{path}.rolloutStrategy", pool.rollout_strategy, _decision_groups(pool))
        if pool.isolation == "process" and pool.name not in targeted:
            yield Problem(
                f"{path}.isolation",
                f"pool {pool.name!r} runs ClientApps in separate SuperExec pods but no clientApps entry targets it",
            )


def _client_apps(spec: FederationSpec) -> Iterator[Problem]:
    pools = spec.pools_by_name
    seen: dict[str, int] = {}
    served: dict[str, str] = {}
    for i, app in enumerate(spec.client_apps):
        path = f"federation.clientApps[{i}]"
        if app.name in seen:
            yield Problem(f"{path}.name", f"duplicate ClientApp name {app.name!r} (also clientApps[{seen[app.name]}])")
        seen.setdefault(app.name, i)
        targets: list[PoolSpec] = []
        for j, name in enumerate(app.pools):
            pool = pools.get(name)
            if pool is None:
                yield Problem(f"{path}.pools[{j}]", f"unknown pool {name!r} (pools: {', '.join(pools)})")
                continue
            if pool in targets:
                yield Problem(f"{path}.pools[{j}]", f"pool {name!r} is listed twice")
                continue
            targets.append(pool)
            if pool.isolation != "process":
                yield Problem(
                    f"{path}.pools[{j}]",
                    f"pool {name!r} runs ClientApps inside the SuperNode (isolation 'subprocess'); "
                    "set its isolation to 'process' to run this ClientApp image",
                )
            if name in served:
                yield Problem(
                    f"{path}.pools[{j}]",
                    f"pool {name!r} already runs ClientApp {served[name]!r}; one ClientApp executor per pool",
                )
            served.setdefault(name, app.name)
        kinds = {p.gpu is not None for p in targets}
        if len(kinds) > 1:
            yield Problem(f"{path}.pools", "mixes GPU and CPU pools; one ClientApp image runs on one kind")
        elif app.gpu is not None:
            yield from _gpu(f"{path}.gpu", app.gpu)
            if kinds == {False}:
                yield Problem(f"{path}.gpu", "requests GPUs but targets only CPU pools")
        elif len({p.gpu.model_dump_json() for p in targets if p.gpu is not None}) > 1:
            yield Problem(f"{path}.gpu", "required: its pools declare different GPUs")
        groups = set().union(*(_decision_groups(p) for p in targets)) if targets else set()
        yield from _rollout(f"{path}.rolloutStrategy", app.rollout_strategy, groups)


def _distribution(spec: FederationSpec) -> Iterator[Problem]:
    if spec.distribution.mode == "direct":
        yield Problem("federation.distribution.mode", "'direct' (per-cluster kubeconfigs) is not implemented yet; use 'ocm'")
    for name, value in spec.distribution.ocm.variables.items():
        path = f"federation.distribution.ocm.variables.{name}"
        if name in RESERVED_OCM_VARIABLES or name.startswith("FLOWER_"):
            yield Problem(path, "is reserved (OCM built-ins and FLOWER_* are set by flower-federation)")
        if len(value) > OCM_VARIABLE_VALUE_MAX:
            yield Problem(path, f"value is {len(value)} characters; OCM allows at most {OCM_VARIABLE_VALUE_MAX}")


# --- overlap: two Placements of one addon that can pick the same cluster ------------------------

_Constraint = tuple[str, frozenset[str] | None]  # (mode, values): mode in {"in", "notin", "exists", "absent"}


def _constraints(sel: LabelSelector | ClaimSelector | None) -> dict[str, list[_Constraint]]:
    out: dict[str, list[_Constraint]] = {}
    if sel is None:
        return out
    if isinstance(sel, LabelSelector):
        for k, v in sel.match_labels.items():
            out.setdefault(k, []).append(("in", frozenset({v})))
    for e in sel.match_expressions:
        mode = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "absent"}[e.operator]
        out.setdefault(e.key, []).append((mode, frozenset(e.values) if mode in ("in", "notin") else None))
    return out


def _conflict(a: _Constraint, b: _Constraint) -> bool:
    """True when no value of one key satisfies both constraints."""
    (ma, va), (mb, vb) = sorted([a, b])
    pair = (ma, mb)
    if pair == ("absent", "exists") or pair == ("absent", "in"):
        return True
    if pair == ("in", "in"):
        return not (va and vb and va & vb)
    if pair == ("in", "notin"):
        return bool(va is not None and vb is not None and va <= vb)
    return False


def _disjoint(a: PoolSpec, b: PoolSpec) -> bool:
    sa, sb = a.selection, b.selection
    if sa.clusters or sb.clusters:
        return not set(sa.clusters) & set(sb.clusters)
    if not set(sa.cluster_sets) & set(sb.cluster_sets):
        return True
    for sel_a, sel_b in ((sa.label_selector, sb.label_selector), (sa.claim_selector, sb.claim_selector)):
        ca, cb = _constraints(sel_a), _constraints(sel_b)
        for key in ca.keys() & cb.keys():
            if any(_conflict(x, y) for x in ca[key] for y in cb[key]):
                return True
    return False


def _candidates(spec: FederationSpec) -> Iterator[tuple[int, list[int]]]:
    """Per pool, the earlier pools it could overlap with, ascending: those sharing a listed cluster (both list
    clusters) or a cluster set (neither lists clusters). Every other pair is disjoint by :func:`_disjoint`'s first
    two rules, so indexing them away keeps the result and makes disjoint pools O(pools) instead of O(pools^2)."""
    by_cluster: dict[str, list[int]] = {}
    by_set: dict[str, list[int]] = {}
    for i, pool in enumerate(spec.pools):
        sel = pool.selection
        index, keys = (by_cluster, sel.clusters) if sel.clusters else (by_set, sel.cluster_sets)
        found: set[int] = set()
        for key in dict.fromkeys(keys):
            found.update(index.get(key, ()))
            index.setdefault(key, []).append(i)
        yield i, sorted(found)


def _overlaps(spec: FederationSpec) -> Iterator[Problem]:
    for i, earlier_indexes in _candidates(spec):
        later = spec.pools[i]
        for j in earlier_indexes:
            earlier = spec.pools[j]
            if not _disjoint(earlier, later):
                yield Problem(
                    f"federation.pools[{i}].selection",
                    f"can select the same clusters as pool {earlier.name!r} (OCM gives such a cluster to the later "
                    "Placement only); make them disjoint, e.g. a label the other pool excludes with NotIn/DoesNotExist, "
                    "or different cluster sets",
                )


def _local(spec: FederationSpec) -> Iterator[Problem]:
    total = spec.local.supernodes_per_pool * len(spec.pools)
    if spec.local.num_partitions is not None and spec.local.num_partitions < total:
        yield Problem(
            "federation.local.numPartitions",
            f"must be >= the number of local SuperNodes ({total} = {spec.local.supernodes_per_pool} x {len(spec.pools)} pools)",
        )
