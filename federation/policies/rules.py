"""The policy rules over Kubernetes and OCM objects, how to evaluate them, and their configuration."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import ValidationError

from federation.errors import Problem, SpecError, field_path
from federation.loading import pydantic_problems
from federation.manifests.hub import REGISTRAR_COMPONENT
from federation.policies import pss
from federation.policies.settings import Enforcement, PolicySettings
from federation.policies.walk import (
    Obj,
    argv,
    containers,
    flag,
    flower_binary,
    pods,
    strings,
    subject,
    with_embedded,
)
from federation.templating import defined_builtins, template_variables

Severity = Literal["low", "medium", "high", "critical"]


_VERSION_TAG = re.compile(r"^(\d+)\.(\d+)\.\d+")


@dataclass(frozen=True)
class Violation:
    """One rule broken by one object (or by the stack as a whole)."""

    rule: str
    enforcement: Enforcement
    subject: str
    message: str


ResourceCheck = Callable[[Obj, PolicySettings], Iterable[str]]


StackCheck = Callable[[Sequence[Obj], PolicySettings], Iterable[tuple[str, str]]]


@dataclass(frozen=True)
class Rule:
    """A named policy. Exactly one of `resource` (per object) or `stack` (all objects) is set."""

    name: str
    description: str
    severity: Severity
    enforcement: Enforcement
    resource: ResourceCheck | None = None
    stack: StackCheck | None = None

    def level(self, settings: PolicySettings) -> Enforcement:
        """The enforcement in force under `settings` (per-rule overrides win)."""
        return settings.enforcement.get(self.name, self.enforcement)


def _no_insecure_transport(obj: Obj, s: PolicySettings) -> Iterator[str]:
    if s.allow_insecure:
        return
    for where, _, spec in pods(obj):
        for c in containers(spec):
            binary, args = flower_binary(c), argv(c)
            if binary == "flower-superlink" and (flag(args, "--insecure") is not None or flag(args, "--ssl-certfile") is None):
                yield f"{where}: SuperLink {c.get('name')} serves without TLS"
            if binary == "flower-supernode" and flag(args, "--insecure") is not None:
                yield f"{where}: SuperNode {c.get('name')} dials the SuperLink with --insecure"
            if binary == "flower-superexec" and flag(args, "--insecure") is not None:
                address = flag(args, "--runtime-api-address") or ""
                # A ClientApp SuperExec talks to its SuperNode's Runtime API inside the cluster (port 9094,
                # fenced by a NetworkPolicy); anything else is the SuperLink and must use TLS.
                if not address.endswith(":9094"):
                    yield f"{where}: SuperExec {c.get('name')} dials {address or 'its Runtime API'} with --insecure"


def _supernode_auth(obj: Obj, s: PolicySettings) -> Iterator[str]:
    if not s.production:
        return
    for where, _, spec in pods(obj):
        for c in containers(spec):
            if flower_binary(c) == "flower-superlink" and flag(argv(c), "--enable-supernode-auth") is None:
                yield f"{where}: production SuperLink without --enable-supernode-auth"


def _keys_registered_automatically(objs: Sequence[Obj], s: PolicySettings) -> Iterator[tuple[str, str]]:
    if not s.production:
        return
    registrar = any(o.get("kind") == "Deployment" and ((o.get("metadata") or {}).get("labels") or {}).get(
        "app.kubernetes.io/component") == REGISTRAR_COMPONENT for o in objs)
    if registrar:
        return
    for obj in objs:
        for where, _, spec in pods(obj):
            for c in containers(spec):
                if flower_binary(c) == "flower-superlink" and flag(argv(c), "--enable-supernode-auth") is not None:
                    yield where, ("SuperNode keys are provisioned and registered by hand on every cluster (registration: "
                                  "Manual); hub.supernodeAuth.registration: Automatic generates them on each cluster and "
                                  "registers them through OCM")


def _image_problems(image: str, s: PolicySettings) -> str | None:
    if template_variables(image):
        return None  # an OCM variable; checked where it is defined (stack rule)
    name = image.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    tag = last.split(":", 1)[1] if ":" in last else None
    if "@" not in image and tag is None:
        return f"image {image!r} is not pinned (no tag, no digest)"
    if tag == "latest" and "@" not in image:
        return f"image {image!r} uses the mutable tag 'latest'"
    if s.require_image_digests and "@sha256:" not in image:
        return f"image {image!r} has no digest (required in this environment)"
    return None


def _images_pinned(obj: Obj, s: PolicySettings) -> Iterator[str]:
    for where, _, spec in pods(obj):
        for c in containers(spec):
            problem = _image_problems(str(c.get("image", "")), s)
            if problem:
                yield f"{where}: {problem}"


def _restricted_pod_security(obj: Obj, s: PolicySettings) -> Iterator[str]:
    for where, inner, spec in pods(obj):
        annotations = ((inner.get("spec") or {}).get("template") or {}).get("metadata", {}).get("annotations") or {}
        for problem in pss.check_pod_spec(spec, annotations=annotations):
            yield f"{where}: {problem}"


def _resources_set(obj: Obj, s: PolicySettings) -> Iterator[str]:
    for where, _, spec in pods(obj):
        for c in containers(spec):
            res = c.get("resources") or {}
            for part in ("requests", "limits"):
                missing = [k for k in ("cpu", "memory") if k not in (res.get(part) or {})]
                if missing:
                    yield f"{where}: container {c.get('name')} sets no {part} for {', '.join(missing)}"


def _probes_present(obj: Obj, s: PolicySettings) -> Iterator[str]:
    for where, _, spec in pods(obj):
        init = {id(c) for c in spec.get("initContainers") or []}
        for c in containers(spec):
            if id(c) in init:
                continue  # init containers run to completion; probes do not apply
            binary = flower_binary(c)
            if binary in ("flower-superlink", "flower-supernode"):
                missing = [p for p in ("livenessProbe", "readinessProbe") if not c.get(p)]
                if missing:
                    yield f"{where}: {c.get('name')} has no {' or '.join(missing)}"
            elif binary == "flower-superexec":
                # Liveness from its gRPC health server; no readiness: nothing routes traffic to a SuperExec and
                # Flower's health Check answers SERVING as long as the process runs.
                yield from _superexec_liveness(where, c)


def _superexec_liveness(where: str, c: Obj) -> Iterator[str]:
    address = flag(argv(c), "--health-server-address")
    if address is None:
        yield f"{where}: SuperExec {c.get('name')} runs no --health-server-address (nothing a liveness probe can ask)"
        return
    probe = c.get("livenessProbe") or {}
    port = address.rsplit(":", 1)[-1]
    probed = (probe.get("grpc") or {}).get("port")
    if not probe:
        yield f"{where}: SuperExec {c.get('name')} has no livenessProbe"
    elif not isinstance(probed, int | float) or str(int(probed)) != port:  # Pulumi hands numbers over as floats
        yield f"{where}: SuperExec {c.get('name')} livenessProbe is not a gRPC probe on its health server port {port}"


def _hub_exposed(objs: Sequence[Obj], namespace: str | None) -> str | None:
    """The first Service of `namespace` reachable from outside the cluster (NodePort, LoadBalancer, externalIPs)."""
    for o in objs:
        spec = o.get("spec") or {}
        if o.get("kind") == "Service" and (o.get("metadata") or {}).get("namespace") == namespace and (
                spec.get("type") in ("NodePort", "LoadBalancer") or spec.get("externalIPs")):
            return subject(o)
    return None


def _process_isolation_when_exposed(objs: Sequence[Obj], s: PolicySettings) -> Iterator[tuple[str, str]]:
    for obj in objs:
        for where, inner, spec in pods(obj):
            if inner is not obj:
                continue
            for c in containers(spec):
                args = argv(c)
                if flower_binary(c) != "flower-superlink" or flag(args, "--isolation") != "subprocess":
                    continue
                exposed = _hub_exposed(objs, (obj.get("metadata") or {}).get("namespace"))
                if exposed is not None:
                    yield where, (f"SuperLink in subprocess isolation on a hub exposed by {exposed}: its Runtime API "
                                  "hands ServerApp tasks to any SuperExec that reaches it (no shared secret); "
                                  "use process isolation")


def _lb_source_ranges(obj: Obj, s: PolicySettings) -> Iterator[str]:
    for where, inner in with_embedded(obj):
        spec = inner.get("spec") or {}
        if inner.get("kind") == "Service" and spec.get("type") == "LoadBalancer" and not spec.get("loadBalancerSourceRanges"):
            yield f"{where}: LoadBalancer open to the whole internet (no loadBalancerSourceRanges)"


def _placements_bounded(obj: Obj, s: PolicySettings) -> Iterator[str]:
    if s.production and obj.get("kind") == "Placement" and not (obj.get("spec") or {}).get("numberOfClusters"):
        yield f"{subject(obj)}: production Placement without numberOfClusters selects every matching cluster"


def _no_private_keys(obj: Obj, s: PolicySettings) -> Iterator[str]:
    if obj.get("kind") == "Secret":
        return
    for where, inner in with_embedded(obj):
        # An empty Secret is a placeholder the spoke fills (the SuperNode's key, generated there): no material.
        if inner is not obj and inner.get("kind") == "Secret" and (inner.get("data") or inner.get("stringData")):
            yield f"{where}: a Secret inside an OCM carrier is stored in plain text on the hub and in Pulumi state"
        body = {k: v for k, v in inner.items() if k != "status"}
        if any("PRIVATE KEY-----" in text for text in strings(body)):
            yield f"{where}: contains private key material outside a Secret"


def _state_persisted(obj: Obj, s: PolicySettings) -> Iterator[str]:
    if not s.production:
        return
    for where, _, spec in pods(obj):
        claims = {v.get("name") for v in spec.get("volumes") or [] if v.get("persistentVolumeClaim")}
        for c in containers(spec):
            if flower_binary(c) != "flower-superlink":
                continue
            db = flag(argv(c), "--database")
            if db is None or db == ":flwr-in-memory:":
                yield f"{where}: production SuperLink keeps its state in memory (no --database file)"
                continue
            mounts = [m for m in c.get("volumeMounts") or [] if m.get("name") in claims]
            if not any(db.startswith(str(m.get("mountPath", "")).rstrip("/") + "/") for m in mounts):
                yield f"{where}: SuperLink database {db} is not on a PersistentVolumeClaim"


def _versions_match(objs: Sequence[Obj], s: PolicySettings) -> Iterator[tuple[str, str]]:
    seen: dict[tuple[str, str], str] = {}
    for obj in objs:
        for where, _, spec in pods(obj):
            for c in containers(spec):
                if flower_binary(c) not in ("flower-superlink", "flower-supernode"):
                    continue
                image = str(c.get("image", ""))
                last = image.split("@", 1)[0].rsplit("/", 1)[-1]
                m = _VERSION_TAG.match(last.split(":", 1)[1]) if ":" in last else None
                if m:
                    seen.setdefault((m.group(1), m.group(2)), f"{where} ({image})")
    if len(seen) > 1:
        listed = "; ".join(f"{'.'.join(k)} in {v}" for k, v in sorted(seen.items()))
        yield "stack", f"Flower components on different major.minor versions: {listed}"


def _network_policy(objs: Sequence[Obj], s: PolicySettings) -> Iterator[tuple[str, str]]:
    policies = [o for o in objs if o.get("kind") == "NetworkPolicy"]
    for obj in objs:
        for where, inner, spec in pods(obj):
            if inner is not obj or not any(flower_binary(c) == "flower-superlink" for c in containers(spec)):
                continue
            ns = (obj.get("metadata") or {}).get("namespace")
            pod_labels = (((obj.get("spec") or {}).get("template") or {}).get("metadata") or {}).get("labels") or {}
            covered = any(
                (p.get("metadata") or {}).get("namespace") == ns
                and "Ingress" in ((p.get("spec") or {}).get("policyTypes") or ["Ingress"])
                and _selects(((p.get("spec") or {}).get("podSelector") or {}), pod_labels)
                for p in policies
            )
            if not covered:
                yield where, "SuperLink pods are not selected by any ingress NetworkPolicy"


def _selects(selector: Obj, labels: Mapping[str, str]) -> bool:
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for e in selector.get("matchExpressions") or []:
        key, op, values = e.get("key"), e.get("operator"), e.get("values") or []
        if (op == "In" and labels.get(key) not in values) or (op == "NotIn" and labels.get(key) in values):
            return False
        if (op == "Exists" and key not in labels) or (op == "DoesNotExist" and key in labels):
            return False
    return True


def _template_variables(objs: Sequence[Obj], s: PolicySettings) -> Iterator[tuple[str, str]]:
    # An ADC's variables: its customizedVariables and the built-ins OCM defines with it (an omitted
    # agentInstallNamespace is defaulted by the CRD, so INSTALL_NAMESPACE is then defined).
    adcs = {
        ((o.get("metadata") or {}).get("namespace"), (o.get("metadata") or {}).get("name")): (
            {v.get("name") for v in (o.get("spec") or {}).get("customizedVariables") or []},
            (o.get("spec") or {}).get("agentInstallNamespace", "open-cluster-management-agent-addon"),
        )
        for o in objs
        if o.get("kind") == "AddOnDeploymentConfig"
    }
    templates = {(o.get("metadata") or {}).get("name"): o for o in objs if o.get("kind") == "AddOnTemplate"}
    for cma in (o for o in objs if o.get("kind") == "ClusterManagementAddOn"):
        spec = cma.get("spec") or {}
        default_tpl, default_adcs = None, []
        for sc in spec.get("supportedConfigs") or []:
            dc = sc.get("defaultConfig") or {}
            if sc.get("resource") == "addontemplates":
                default_tpl = dc.get("name")
            if sc.get("resource") == "addondeploymentconfigs" and dc:
                default_adcs.append((dc.get("namespace"), dc.get("name")))
        placements = ((spec.get("installStrategy") or {}).get("placements")) or [{}]
        for p in placements:
            cfg = p.get("configs") or []
            tpl = next((c.get("name") for c in cfg if c.get("resource") == "addontemplates"), default_tpl)
            pool_adcs = [(c.get("namespace"), c.get("name")) for c in cfg if c.get("resource") == "addondeploymentconfigs"]
            if tpl not in templates:
                yield subject(cma), f"placement {p.get('name')} references AddOnTemplate {tpl} that is not declared"
                continue
            tpl_spec = templates[tpl].get("spec") or {}
            used = template_variables(tpl_spec)
            for ref in pool_adcs or default_adcs:
                if ref not in adcs:
                    yield subject(cma), f"AddOnDeploymentConfig {ref[0]}/{ref[1]} is referenced but not declared"
                    continue
                names, install_ns = adcs[ref]
                defined = names | defined_builtins(install_namespace=install_ns, registration="registration" in tpl_spec)
                for var in sorted(used - defined):
                    yield (f"AddOnTemplate {tpl}",
                           f"uses {{{{{var}}}}} which AddOnDeploymentConfig {ref[0]}/{ref[1]} does not define "
                           "(OCM renders it as an empty string)")


RULES: tuple[Rule, ...] = (
    Rule("no-insecure-transport", "Flower traffic to the SuperLink uses TLS unless the environment allows insecure.",
         "critical", "mandatory", resource=_no_insecure_transport),
    Rule("supernode-auth-in-production", "The SuperLink admits only registered SuperNodes in production.",
         "high", "mandatory", resource=_supernode_auth),
    Rule("supernode-keys-registered-automatically", "In production, SuperNode keys are generated on their clusters "
         "and registered by the hub's registrar (no manual key step).", "medium", "advisory",
         stack=_keys_registered_automatically),
    Rule("images-pinned", "Images carry a tag other than latest (and a digest where required).",
         "high", "mandatory", resource=_images_pinned),
    Rule("flower-versions-match", "SuperLink and SuperNode images run the same Flower major.minor.",
         "high", "mandatory", stack=_versions_match),
    Rule("restricted-pod-security", "Every pod meets the restricted Pod Security Standard.",
         "high", "mandatory", resource=_restricted_pod_security),
    Rule("resources-set", "Every container sets CPU and memory requests and limits.",
         "medium", "mandatory", resource=_resources_set),
    Rule("probes-present", "SuperLink and SuperNode containers have liveness and readiness probes; SuperExecs a gRPC "
         "liveness probe on their --health-server-address.", "medium", "mandatory", resource=_probes_present),
    Rule("hub-process-isolation", "An externally exposed hub runs the SuperLink in process isolation (SuperExec "
         "shared secret).", "high", "advisory", stack=_process_isolation_when_exposed),
    Rule("superlink-network-policy", "The SuperLink pods are behind an ingress NetworkPolicy.",
         "high", "mandatory", stack=_network_policy),
    Rule("loadbalancer-source-ranges", "LoadBalancer Services restrict loadBalancerSourceRanges.",
         "high", "mandatory", resource=_lb_source_ranges),
    Rule("placements-bounded-in-production", "Production Placements bound numberOfClusters.",
         "medium", "mandatory", resource=_placements_bounded),
    Rule("addon-template-variables-defined", "Every {{VARIABLE}} of an AddOnTemplate is defined by each ADC that applies.",
         "high", "mandatory", stack=_template_variables),
    Rule("no-private-keys-outside-secrets", "No private key material in ConfigMaps, env values or OCM carriers.",
         "critical", "mandatory", resource=_no_private_keys),
    Rule("superlink-state-persisted", "The production SuperLink keeps its state in a database on a PVC.",
         "high", "mandatory", resource=_state_persisted),
)


def rule(name: str) -> Rule:
    """The rule called `name`."""
    for r in RULES:
        if r.name == name:
            return r
    raise KeyError(name)


def check_resource(r: Rule, obj: Obj, settings: PolicySettings) -> list[str]:
    """Messages of one resource rule for one object (empty when it passes)."""
    return [] if r.resource is None or r.level(settings) == "disabled" else list(r.resource(obj, settings))


def check_stack(r: Rule, objs: Sequence[Obj], settings: PolicySettings) -> list[tuple[str, str]]:
    """(subject, message) pairs of one stack rule (empty when it passes)."""
    return [] if r.stack is None or r.level(settings) == "disabled" else list(r.stack(objs, settings))


def evaluate(objs: Sequence[Obj], settings: PolicySettings, rules: Sequence[Rule] = RULES) -> list[Violation]:
    """Every violation of `rules` by `objs`, in rule order then object order."""
    out: list[Violation] = []
    for r in rules:
        level = r.level(settings)
        if level == "disabled":
            continue
        if r.resource is not None:
            for obj in objs:
                out += [Violation(r.name, level, subject(obj), m) for m in check_resource(r, obj, settings)]
        else:
            out += [Violation(r.name, level, subj, m) for subj, m in check_stack(r, objs, settings)]
    return out


def parse_settings(data: object, root: str = "policy") -> PolicySettings:
    """Validate policy settings (`flower:policy`), naming the field of every problem."""
    if data is None:
        return PolicySettings()
    if not isinstance(data, dict):
        raise SpecError([Problem(root, "must be a mapping")])
    try:
        settings = PolicySettings.model_validate(data)
    except ValidationError as exc:
        raise SpecError(pydantic_problems(exc, root)) from None
    names = {r.name for r in RULES}
    unknown = [Problem(field_path(["enforcement", k], root), f"unknown rule (rules: {', '.join(sorted(names))})")
               for k in settings.enforcement if k not in names]
    if unknown:
        raise SpecError(unknown)
    return settings


def pack_config(settings: PolicySettings) -> dict[str, Any]:
    """A `--policy-pack-config` document applying `settings` (and enforcement overrides) to every policy."""
    values = {
        "production": settings.production,
        "allowInsecure": settings.allow_insecure,
        "requireImageDigests": settings.require_image_digests,
    }
    return {r.name: {"enforcementLevel": r.level(settings), **values} for r in RULES}
