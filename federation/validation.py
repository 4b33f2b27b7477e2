"""Rules that span several fields of a federation spec.

Each rule reports :class:`Problem`s with the exact path of the offending field, in the camelCase
form the user wrote. Structural checks (types, ranges, name formats) live on the models.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Iterator, Mapping, Sequence
from fractions import Fraction
from typing import Any

from federation.errors import Problem
from federation.spec import (
    TASK_CONTRACT_PATHS,
    ClaimSelector,
    FederationSpec,
    GpuSpec,
    LabelSelector,
    PoolSpec,
    Resources,
    RolloutStrategy,
    TaskPodsSpec,
    Toleration,
    is_dns_label,
    show,
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
_FULL_VERSION = re.compile(r"^\d+\.\d+\.\d+(-[\w.]+)?$")


def check(spec: FederationSpec, *, whole: bool = True) -> list[Problem]:
    """Every cross-field problem of `spec`, sorted by path.

    `whole=False` checks the view a building block assembles from its own arguments: the rules that need
    the whole federation (at least one pool; every process-isolation pool targeted by a ClientApp) are skipped.
    """
    rules = (
        _flower,
        _hub,
        functools.partial(_pools, whole=whole),
        _client_apps,
        _distribution,
        _overlaps,
        _local,
        _selectors,
        _all_resources,
        _pod_tolerations,
        _service,
        _placements,
        _task_pods,
    )
    return sorted({p for rule in rules for p in rule(spec)})


def warnings(spec: FederationSpec) -> list[Problem]:
    """Things Kubernetes and OCM accept but that are probably a mistake: mutable image tags, an opted-in subprocess hub."""
    found: list[Problem] = []
    flower = [("federation.flower.images.superlink", spec.flower.images.superlink),
              ("federation.flower.images.supernode", spec.flower.images.supernode)]
    flower += [(f"federation.pools[{i}].image", p.image) for i, p in enumerate(spec.pools) if p.image]
    others = [(f"federation.clientApps[{i}].image", a.image) for i, a in enumerate(spec.client_apps)]
    if spec.flower.images.superexec:
        others.append(("federation.flower.images.superexec", spec.flower.images.superexec))
    others.append(("federation.hub.proxy.image", spec.hub.proxy.image))
    for path, image in flower + others:
        tag = _image_tag(image)
        if "@" in image:
            continue
        if tag == "latest":
            found.append(Problem(path, f"{show(image)} uses the mutable tag ':latest'; pin a version or a digest"))
        elif (path, image) in flower and tag is not None and not _FULL_VERSION.match(tag):
            found.append(Problem(path, f"{show(image)} is not pinned to a Flower release (x.y.z tag or @sha256 digest)"))
    if spec.hub.isolation == "subprocess" and externally_exposed(spec) and spec.hub.allow_subprocess_isolation:
        found.append(Problem("federation.hub.isolation", "'subprocess' on an externally exposed hub "
                             "(allowSubprocessIsolation: true): the ServerApp SuperExec runs without the shared secret, "
                             "so anything that reaches the SuperLink's Runtime API can take ServerApp tasks"))
    return sorted(found)


#: Names two federations on one hub may not share (cluster-scoped objects, per-hub namespaces).
SHARED_NAME_FIELDS = (("name", "name"), ("hub.namespace", "hub namespace"),
                      ("distribution.ocm.addonName", "addon name"))


def _field(spec: FederationSpec, dotted: str) -> str:
    value: Any = spec
    for part in dotted.split("."):
        value = getattr(value, re.sub(r"(?<!^)(?=[A-Z])", "_", part).lower())
    return str(value)


def shared_names(specs: Sequence[tuple[str, FederationSpec]]) -> list[Problem]:
    """Federations declared side by side (roots such as `federations[1]`) that share a name one hub allows once."""
    found: list[Problem] = []
    for dotted, what in SHARED_NAME_FIELDS:
        first: dict[str, str] = {}
        for root, spec in specs:
            value = _field(spec, dotted)
            if value in first:
                found.append(Problem(f"{root}.{dotted}", f"{value!r} is also {first[value]}'s {what}; each "
                                     "federation on a hub needs its own"))
            else:
                first[value] = root
    return found


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


def externally_exposed(spec: FederationSpec) -> bool:
    """The hub is reachable from outside its cluster (a NodePort/LoadBalancer, external names or IPs)."""
    exp = spec.hub.exposure
    return exp.type != "ClusterIP" or bool(exp.external_names or exp.external_ips)


def _hub(spec: FederationSpec) -> Iterator[Problem]:
    hub = spec.hub
    tls = hub.tls
    if tls.mode == "insecure" and not tls.allow_insecure:
        yield Problem("federation.hub.tls.mode", "'insecure' turns TLS off; it needs allowInsecure: true")
    if tls.mode == "existingSecret" and not tls.secret_name:
        yield Problem("federation.hub.tls.secretName", "required when mode is 'existingSecret'")
    if tls.mode != "existingSecret" and tls.secret_name:
        yield Problem("federation.hub.tls.secretName", "only used when mode is 'existingSecret'")
    if tls.mode == "existingSecret" and hub.create_namespace:
        yield Problem("federation.hub.createNamespace", "must be false with tls.mode 'existingSecret': the Secret lives in "
                                                        "a namespace that exists before the SuperLink (and `pulumi destroy` "
                                                        "would delete it with a namespace the program created)")
    if tls.renew_before_days >= tls.validity_days:
        yield Problem("federation.hub.tls.renewBeforeDays", f"must be less than validityDays ({tls.validity_days})")
    if hub.supernode_auth.enabled and tls.mode == "insecure":
        yield Problem("federation.hub.supernodeAuth.enabled", "SuperNode authentication needs TLS (tls.mode is 'insecure')")
    auth = hub.supernode_auth
    if auth.registration == "Automatic" and not auth.enabled:
        yield Problem("federation.hub.supernodeAuth.registration", "'Automatic' registers SuperNode keys: it needs "
                                                                    "enabled: true")
    if auth.enabled and auth.registration == "Automatic" and auth.registrar.image is None \
            and spec.flower.images.superexec is None:
        yield Problem("federation.hub.supernodeAuth.registrar.image", "required when flower.images.superexec is not set "
                                                                       "(an image with Python and flwr)")
    if hub.isolation == "process" and spec.flower.images.superexec is None:
        yield Problem(
            "federation.flower.images.superexec",
            "required when hub.isolation is 'process': the ServerApp SuperExec image (with the app's dependencies)",
        )
    exp = hub.exposure
    if hub.isolation == "subprocess" and externally_exposed(spec) and not hub.allow_subprocess_isolation:
        yield Problem(
            "federation.hub.isolation",
            "'subprocess' lets anyone who reaches the SuperLink take ServerApp tasks (Flower ignores the SuperExec "
            "secret in that mode); with an external exposure it needs allowSubprocessIsolation: true, "
            "or use 'process' (the default)",
        )
    if hub.api_port == hub.port:
        yield Problem("federation.hub.apiPort", f"must differ from hub.port ({hub.port}): the Fleet proxy listens there")
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


def _pools(spec: FederationSpec, *, whole: bool = True) -> Iterator[Problem]:
    if whole and not spec.pools:
        yield Problem("federation.pools", "must have at least 1 item(s)")
    seen: dict[str, int] = {}
    manual = spec.distribution.ocm.install_strategy == "Manual"
    listed: dict[str, str] = {}
    targeted = {name for app in spec.client_apps for name in app.pools}
    # a clientApps entry naming an unknown pool is reported there; do not also report the pool it probably meant
    dangling = bool(targeted - {p.name for p in spec.pools})
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
        yield from _dotted_key_clashes(f"{path}.nodeConfig", pool.node_config)
        yield from _rollout(f"{path}.rolloutStrategy", pool.rollout_strategy, _decision_groups(pool))
        if whole and pool.isolation == "process" and pool.name not in targeted and not dangling:
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
            if earlier.name != later.name and not _disjoint(earlier, later):  # duplicates are reported as such
                yield Problem(
                    f"federation.pools[{i}].selection",
                    f"can select the same clusters as pool {earlier.name!r} (OCM gives such a cluster to the later "
                    "Placement only); make them disjoint, e.g. a label the other pool excludes with NotIn/DoesNotExist, "
                    "or different cluster sets",
                )


def _dotted_key_clashes(path: str, config: Mapping[str, object]) -> Iterator[Problem]:
    """Flower parses `a.b=1` as the table `a = {b = 1}`: a key that is also another key's prefix cannot parse."""
    for key in sorted(config):
        longer = next((other for other in sorted(config) if other.startswith(key + ".")), None)
        if longer is not None:
            yield Problem(f"{path}.{key}", f"clashes with {longer!r}: Flower reads dotted keys as nested tables")


def _local(spec: FederationSpec) -> Iterator[Problem]:
    yield from _dotted_key_clashes("federation.local.runConfig", spec.local.run_config)
    total = spec.local.supernodes_per_pool * len(spec.pools)
    if spec.local.num_partitions is not None and spec.local.num_partitions < total:
        yield Problem(
            "federation.local.numPartitions",
            f"must be >= the number of local SuperNodes ({total} = {spec.local.supernodes_per_pool} x {len(spec.pools)} pools)",
        )


# --- Kubernetes object rules on the values that reach them ----------------------------------------------

# k8s.io/apimachinery/pkg/apis/meta/v1/validation/validation.go: ValidateLabelSelectorRequirement.
def _requirements(path: str, sel: LabelSelector | ClaimSelector | None) -> Iterator[Problem]:
    if sel is None:
        return
    for k, req in enumerate(sel.match_expressions):
        where = f"{path}.matchExpressions[{k}].values"
        if req.operator in ("In", "NotIn") and not req.values:
            yield Problem(where, f"required (at least one value) with operator {req.operator}")
        if req.operator in ("Exists", "DoesNotExist") and req.values:
            yield Problem(where, f"must be empty with operator {req.operator}")


def _selectors(spec: FederationSpec) -> Iterator[Problem]:
    for i, client in enumerate(spec.hub.control_clients):
        path = f"federation.hub.controlClients[{i}]"
        yield from _requirements(f"{path}.podSelector", client.pod_selector)
        yield from _requirements(f"{path}.namespaceSelector", client.namespace_selector)
    for i, pool in enumerate(spec.pools):
        sel = pool.selection
        path = f"federation.pools[{i}].selection"
        yield from _requirements(f"{path}.labelSelector", sel.label_selector)
        yield from _requirements(f"{path}.claimSelector", sel.claim_selector)
        for j, group in enumerate(sel.decision_strategy.decision_groups if sel.decision_strategy else []):
            gpath = f"{path}.decisionStrategy.decisionGroups[{j}]"
            yield from _requirements(f"{gpath}.labelSelector", group.label_selector)
            yield from _requirements(f"{gpath}.claimSelector", group.claim_selector)


_SUFFIX: dict[str, int | Fraction] = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60,
           "m": Fraction(1, 1000), "": 1, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18}
_QUANTITY_PARTS = re.compile(r"^\+?([0-9]*\.?[0-9]*)(?:[eE]([-+]?[0-9]+)|(Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E))?$")


def quantity_value(text: str) -> Fraction | None:
    """The exact value of a Kubernetes quantity (k8s.io/apimachinery/pkg/api/resource), None if unparsable."""
    m = _QUANTITY_PARTS.match(text)
    if not m or m.group(1) in ("", "."):
        return None
    number = Fraction(m.group(1))
    if m.group(2) is not None:
        exponent = int(m.group(2))
        if abs(exponent) > 30:
            return None
        return number * Fraction(10) ** exponent
    return number * _SUFFIX[m.group(3) or ""]


# k8s.io/kubernetes pkg/apis/core/validation/validation.go: ValidateResourceRequirements (request <= limit).
def _resources(path: str, res: Resources) -> Iterator[Problem]:
    requests = res.requests.model_dump(by_alias=True)
    limits = res.limits.model_dump(by_alias=True)
    defaulted = "limits" not in res.model_fields_set
    for name, request in requests.items():
        limit = limits.get(name)
        if request is None or limit is None:
            continue
        req_value, limit_value = quantity_value(request), quantity_value(limit)
        if req_value is not None and limit_value is not None and req_value > limit_value:
            source = "the default limit; set limits too" if defaulted else f"limits.{name}"
            yield Problem(f"{path}.requests.{name}", f"{request} is more than the limit {limit} ({source})")


def _all_resources(spec: FederationSpec) -> Iterator[Problem]:
    yield from _resources("federation.hub.resources", spec.hub.resources)
    yield from _resources("federation.hub.superexec.resources", spec.hub.superexec.resources)
    yield from _resources("federation.hub.proxy.resources", spec.hub.proxy.resources)
    for i, pool in enumerate(spec.pools):
        yield from _resources(f"federation.pools[{i}].resources", pool.resources)
    for i, app in enumerate(spec.client_apps):
        yield from _resources(f"federation.clientApps[{i}].resources", app.resources)


# k8s.io/kubernetes pkg/apis/core/validation/validation.go: ValidateTolerations.
def _tolerations(path: str, tolerations: list[Toleration]) -> Iterator[Problem]:
    for j, t in enumerate(tolerations):
        where = f"{path}[{j}]"
        if not t.key and t.operator != "Exists":
            yield Problem(f"{where}.operator", "must be Exists when key is empty (that tolerates every taint)")
        if t.toleration_seconds is not None and t.effect != "NoExecute":
            yield Problem(f"{where}.tolerationSeconds", "only used with effect NoExecute")
        if t.operator == "Exists" and t.value:
            yield Problem(f"{where}.value", "must be empty with operator Exists")


def _pod_tolerations(spec: FederationSpec) -> Iterator[Problem]:
    for i, pool in enumerate(spec.pools):
        if pool.gpu is not None:
            yield from _tolerations(f"federation.pools[{i}].gpu.tolerations", pool.gpu.tolerations)
    for i, app in enumerate(spec.client_apps):
        if app.gpu is not None:
            yield from _tolerations(f"federation.clientApps[{i}].gpu.tolerations", app.gpu.tolerations)


#: k8s.io/apimachinery/pkg/api/validation/objectmeta.go: TotalAnnotationSizeLimitB.
ANNOTATIONS_MAX_BYTES = 256 * 1024


# k8s.io/kubernetes pkg/apis/core/validation/validation.go: ValidateService (externalIPs: ValidateNonSpecialIP).
def _service(spec: FederationSpec) -> Iterator[Problem]:
    exp = spec.hub.exposure
    for j, text in enumerate(exp.external_ips):
        ip = ipaddress.ip_address(text)
        reason = ("unspecified" if ip.is_unspecified else "loopback" if ip.is_loopback
                  else "link-local" if ip.is_link_local else "multicast" if ip.is_multicast else None)
        if reason:
            article = "an" if reason[0] in "aeiou" else "a"
            yield Problem(f"federation.hub.exposure.externalIPs[{j}]", f"{text} is {article} {reason} address; "
                          "the API server refuses it and no spoke could dial it")
    size = sum(len(k.encode()) + len(v.encode()) for k, v in exp.annotations.items())
    if size > ANNOTATIONS_MAX_BYTES:
        yield Problem("federation.hub.exposure.annotations",
                      f"{size} bytes in total, over Kubernetes' limit of {ANNOTATIONS_MAX_BYTES}")


# OCM crds/ocm/*placements.crd.yaml: clustersPerDecisionGroup ^((100|[1-9][0-9]{0,1})%|[1-9][0-9]*)$.
_GROUP_SIZE = re.compile(r"^((100|[1-9][0-9]?)%|[1-9][0-9]*)$")


def _placements(spec: FederationSpec) -> Iterator[Problem]:
    for i, pool in enumerate(spec.pools):
        sel = pool.selection
        path = f"federation.pools[{i}].selection"
        ds = sel.decision_strategy
        if ds is not None and ds.clusters_per_decision_group is not None \
                and not _GROUP_SIZE.match(ds.clusters_per_decision_group):
            yield Problem(f"{path}.decisionStrategy.clustersPerDecisionGroup",
                          f"{show(ds.clusters_per_decision_group)} must be at least 1 (or 1% to 100%)")
        for j, expr in enumerate(sel.cel_expressions):
            if expr.strip():
                error = cel_error(expr)
                if error:
                    yield Problem(f"{path}.celExpressions[{j}]", error)


# --- CEL: what OCM's placement controller compiles ---------------------------------------------------------
# OCM pkg/placement/helpers/cel.go NewEnv: sdk-go pkg/cel/library ManagedClusterLib (variable managedCluster;
# scores, versionIsGreaterThan/LessThan, quantityIsGreaterThan/LessThan), JsonLib (parseJSON) and
# sdk-go pkg/cel/common BaseEnvOpts (optional types, ext.Strings, k8s Lists/Regex/URLs/Quantity/IP/CIDR/Format/Semver).

CEL_VARIABLES = frozenset({"managedCluster"})
#: Type names and library namespaces that are identifiers in the CEL environment.
_CEL_BUILTIN_IDENTS = frozenset({
    "int", "uint", "double", "bool", "string", "bytes", "list", "map", "null_type", "type", "dyn",
    "optional", "format", "strings", "google",
})
_CEL_MACROS = frozenset({"all", "exists", "exists_one", "map", "filter"})
CEL_FUNCTIONS = frozenset({
    # CEL standard library and macros
    "size", "has", "int", "uint", "double", "string", "bytes", "bool", "dyn", "type", "duration", "timestamp",
    "matches", "contains", "startsWith", "endsWith", "all", "exists", "exists_one", "map", "filter",
    "getDate", "getDayOfMonth", "getDayOfWeek", "getDayOfYear", "getFullYear", "getHours", "getMilliseconds",
    "getMinutes", "getMonth", "getSeconds",
    # optional types
    "of", "none", "ofNonZeroValue", "value", "hasValue", "or", "orValue", "optMap", "optFlatMap",
    # ext.Strings
    "charAt", "indexOf", "lastIndexOf", "lowerAscii", "upperAscii", "replace", "split", "substring", "trim",
    "join", "quote", "format", "reverse",
    # k8s.io/apiserver/pkg/cel/library: lists, regex, urls, quantity, ip, cidr, format, semver
    "isSorted", "sum", "min", "max", "find", "findAll", "url", "isURL", "getScheme", "getHost", "getHostname",
    "getPort", "getEscapedPath", "getQuery", "quantity", "isQuantity", "sign", "isGreaterThan", "isLessThan",
    "compareTo", "add", "sub", "asInteger", "asApproximateFloat", "isInteger", "ip", "isIP", "isCanonical",
    "family", "isUnspecified", "isLoopback", "isLinkLocalMulticast", "isLinkLocalUnicast", "isGlobalUnicast",
    "cidr", "isCIDR", "containsIP", "containsCIDR", "masked", "prefixLength", "named", "validate",
    "dns1123Label", "dns1123Subdomain", "dns1035Label", "qualifiedName", "dns1123LabelPrefix",
    "dns1123SubdomainPrefix", "dns1035LabelPrefix", "labelValue", "uri", "uuid", "byte", "date", "datetime",
    "semver", "isSemver", "major", "minor", "patch",
    # OCM ManagedClusterLib and JsonLib
    "scores", "versionIsGreaterThan", "versionIsLessThan", "quantityIsGreaterThan", "quantityIsLessThan",
    "parseJSON",
})


def _lone_ident(tree: Any) -> str | None:
    """The identifier when `tree` is nothing but one identifier (a macro's bound variable)."""
    from lark import Token, Tree

    tokens = [t for t in tree.scan_values(lambda v: isinstance(v, Token))] if isinstance(tree, Tree) else []
    idents = [t for t in tree.iter_subtrees() if t.data == "ident"] if isinstance(tree, Tree) else []
    return str(tokens[0]) if len(tokens) == 1 and len(idents) == 1 else None


def cel_error(expr: str) -> str | None:
    """Why OCM's placement controller would not compile `expr` (syntax, undeclared names), else None."""
    if ".?" in expr or "[?" in expr:  # optional-field syntax: beyond the parser used here; OCM decides
        return None
    try:
        from celpy.celparser import CELParseError, CELParser
        from lark import Token, Tree
    except ImportError:  # the CEL library is optional at runtime; OCM still checks at apply time
        return None
    try:
        tree = CELParser().parse(expr)
    except CELParseError as exc:
        column = getattr(exc, "column", None)
        at = f" at column {column}" if column else ""
        return f"does not compile: syntax error{at}"
    except (RecursionError, ValueError, TypeError):
        return "does not compile: too complex or malformed"
    stack: list[tuple[Any, frozenset[str]]] = [(tree, frozenset())]
    while stack:
        node, bound = stack.pop()
        if not isinstance(node, Tree):
            continue
        children = list(node.children)
        if node.data == "ident":
            name = str(children[0])
            if name not in bound and name not in CEL_VARIABLES and name not in _CEL_BUILTIN_IDENTS:
                return f"undeclared reference to {name!r} (OCM declares the variable managedCluster)"
            continue
        if node.data in ("ident_arg", "dot_ident_arg", "member_dot_arg"):
            name_token = next((c for c in children if isinstance(c, Token)), None)
            if name_token is not None and str(name_token) not in CEL_FUNCTIONS:
                return f"undeclared reference to function {str(name_token)!r}"
            if node.data == "member_dot_arg" and name_token is not None and str(name_token) in _CEL_MACROS:
                args = [c for c in children if isinstance(c, Tree) and c.data == "exprlist"]
                exprs = list(args[0].children) if args else []
                var = _lone_ident(exprs[0]) if exprs else None
                if var is not None:
                    stack.append((children[0], bound))
                    stack.extend((e, bound | {var}) for e in exprs[1:])
                    continue
        stack.extend((c, bound) for c in children)
    return _cel_type_error(tree)


#: Operators by the parser's rule names, as CEL spells them.
_CEL_OPERATORS = {"addition_add": "+", "addition_sub": "-", "multiplication_mul": "*", "multiplication_div": "/",
                  "multiplication_mod": "%", "relation_eq": "==", "relation_ne": "!=", "relation_lt": "<",
                  "relation_le": "<=", "relation_gt": ">", "relation_ge": ">=", "relation_in": "in",
                  "unary_not": "!", "unary_neg": "-"}
_CEL_CONSTANT_RULES = frozenset({"expr", "conditionalor", "conditionaland", "relation", "addition", "multiplication",
                                 "unary"})


def _cel_type_error(tree: Any) -> str | None:
    """A type error OCM's CEL checker would report at compile time (so the Placement is Misconfigured).

    `managedCluster` is `dyn` to the checker, so only what involves constants alone is decided then:
    each largest subexpression without identifiers is evaluated (the checker and the evaluator agree on
    the overloads of constants), and `scores()` must get a string.
    """
    import re as _re

    from celpy import Environment
    from celpy.evaluation import CELEvalError
    from lark import Token, Tree

    idents = {"ident", "ident_arg", "dot_ident", "dot_ident_arg"}
    env = Environment()
    stack = [tree]
    while stack:
        node = stack.pop()
        if not isinstance(node, Tree):
            continue
        if node.data == "member_dot_arg":
            name = next((str(c) for c in node.children if isinstance(c, Token)), "")
            args = [c for c in node.children if isinstance(c, Tree) and c.data == "exprlist"]
            first = args[0].children[0] if args and args[0].children else None
            literal = next((t for t in first.iter_subtrees() if t.data == "literal"), None) if isinstance(first, Tree) else None
            if name == "scores" and literal is not None and isinstance(first, Tree) \
                    and not any(s.data in idents for s in first.iter_subtrees()) \
                    and not str(literal.children[0]).startswith(("'", '"')):
                return "does not compile: scores() takes the name of an AddOnPlacementScore (a string)"
        if node.data in _CEL_CONSTANT_RULES and any(t.data in _CEL_OPERATORS for t in node.iter_subtrees()) \
                and not any(t.data in idents for t in node.iter_subtrees()):
            try:
                env.program(node).evaluate({})
            except CELEvalError as exc:
                text = str(exc.args[0]) if exc.args else str(exc)
                m = _re.search(r"overload for Token\('RULE', '(\w+)'\) applied to '\((.*)\)'", text)
                if m is None:
                    continue  # a runtime error (division by zero, ...): OCM's checker does not see it
                types = [t.removesuffix("Type").lower() for t in _re.findall(r"celtypes\.(\w+)", m.group(2))]
                op = _CEL_OPERATORS.get(m.group(1), m.group(1))
                return f"does not compile: no matching overload for '{op}' applied to ({', '.join(types)})"
            except Exception:  # noqa: S112 - anything else the evaluator trips on is not a compile-time verdict
                continue
            continue
        stack.extend(node.children)
    return None


def _task_pods_spec(path: str, task_pods: TaskPodsSpec, superexec_namespace: str) -> Iterator[Problem]:
    """One `taskPods` block: its namespace, resources, GPU and volumes as Flower's executor and Kubernetes take them."""
    namespace = task_pods.namespace_for(superexec_namespace)
    if task_pods.namespace is None and not is_dns_label(namespace):
        yield Problem(f"{path}.namespace", f"the default {namespace!r} is not a DNS-1123 label (at most 63 "
                      "characters); set a shorter namespace")
    if namespace == superexec_namespace:
        yield Problem(f"{path}.namespace", f"must differ from the SuperExec's namespace {superexec_namespace!r}: "
                      "the executor may list and delete Secrets in the task namespace")
    if task_pods.resources is not None:
        yield from _resources(f"{path}.resources", task_pods.resources)
    if task_pods.gpu is not None:
        yield from _gpu(f"{path}.gpu", task_pods.gpu)
        yield from _tolerations(f"{path}.gpu.tolerations", task_pods.gpu.tolerations)
    names: dict[str, int] = {}
    for j, volume in enumerate(task_pods.volumes):
        name = str(volume["name"])
        if name in names:
            yield Problem(f"{path}.volumes[{j}].name", f"duplicate volume {name!r} (also volumes[{names[name]}])")
        names.setdefault(name, j)
    paths: dict[str, int] = {}
    for j, mount in enumerate(task_pods.volume_mounts):
        if mount.name not in names:
            yield Problem(f"{path}.volumeMounts[{j}].name", f"no volume {mount.name!r} in {path}.volumes")
        where = mount.mount_path.rstrip("/") or "/"
        if where in TASK_CONTRACT_PATHS:
            yield Problem(f"{path}.volumeMounts[{j}].mountPath", f"{where} is a scratch directory every task pod "
                          "already mounts (FLWR_HOME, HOME caches, tmp)")
        if where in paths:
            yield Problem(f"{path}.volumeMounts[{j}].mountPath", f"{where} is mounted twice (also volumeMounts[{paths[where]}])")
        paths.setdefault(where, j)


def _task_pods(spec: FederationSpec) -> Iterator[Problem]:
    """`taskPods` of the hub's ServerApp SuperExec and of each ClientApp (Flower's Kubernetes executor)."""
    hub_pods = spec.hub.superexec.task_pods
    if hub_pods.enabled:
        path = "federation.hub.superexec.taskPods"
        if spec.hub.isolation != "process":
            yield Problem(f"{path}.enabled", "needs hub.isolation 'process': in 'subprocess' the SuperLink runs "
                          "ServerApps itself and there is no SuperExec to give the Kubernetes executor")
        if spec.superexec_image() is None and hub_pods.image is None:
            yield Problem(f"{path}.image", "required: flower.images.superexec is not set")
        yield from _task_pods_spec(path, hub_pods, spec.hub.namespace)
    for i, app in enumerate(spec.client_apps):
        if app.task_pods.enabled:
            yield from _task_pods_spec(f"federation.clientApps[{i}].taskPods", app.task_pods,
                                       spec.distribution.ocm.agent_namespace)
