"""Checks of a declaration that need the OCM builders: template variables, name limits, payload sizes.

They sit above :mod:`federation.manifests` (the builders) and below :mod:`federation.loading`, which
runs them with the spec rules of :mod:`federation.validation` on every declaration it parses.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from pydantic.alias_generators import to_camel

from federation.errors import Problem
from federation.manifests import hub, ocm
from federation.manifests.common import Obj
from federation.spec import (
    ClientAppSpec,
    FederationSpec,
    PoolSpec,
    derived_defaults,
    is_dns1035_label,
    is_dns_subdomain,
    is_label_value,
    show,
)
from federation.templating import compact_json, compact_size, defined_builtins, template_variables

# Kubernetes name rules by kind: k8s.io/kubernetes pkg/apis/core/validation/validation.go (ValidateServiceName is
# DNS-1035; most other objects NameIsDNSSubdomain); k8s.io/apimachinery/pkg/util/validation/validation.go.
_RULES: dict[str, tuple[Callable[[str], bool], str]] = {
    "dns1035": (is_dns1035_label, "a DNS-1035 label (lowercase letters, digits and '-', starting with a letter, "
                                  "at most 63 characters)"),
    "subdomain": (is_dns_subdomain, "a DNS-1123 subdomain (at most 253 characters)"),
    "label": (is_label_value, "a label value (at most 63 characters)"),
}


def _name(kind: str, name: str | None, rule: str, path: str, via: str) -> Iterator[Problem]:
    if name is None:
        return
    check, wanted = _RULES[rule]
    if not check(name):
        yield Problem(path, f"the {kind} name {show(name)} derived from it is not {wanted}; {via}")


def _derived(spec: FederationSpec) -> Iterator[Problem]:
    """A default derived from `name` that is too long was not applied: say so instead of using another."""
    parts = {("hub", "namespace"): spec.hub, ("distribution", "ocm", "addon_name"): spec.distribution.ocm,
             ("distribution", "ocm", "agent_namespace"): spec.distribution.ocm}
    applied = derived_defaults(spec.name)
    for path, part in parts.items():
        if path[-1] in part.model_fields_set or path in applied:
            continue
        field = ".".join(to_camel(p) for p in path)
        wanted = {"hub": f"{spec.name}-system"}.get(path[0], f"{spec.name}-supernode")
        yield Problem("federation.name", f"the default {field} {show(wanted)} derived from it is longer than 63 "
                                         f"characters; shorten federation.name or set {field}")


def name_problems(spec: FederationSpec) -> Iterator[Problem]:
    """Every generated object name (from the builders' own naming functions) against its kind's rule,
    reported on the field the user wrote."""
    fed = "shorten federation.name or start it with a letter"
    yield from _name("SuperLink Service", hub.superlink_service_name(spec), "dns1035", "federation.name", fed)
    for kind, name in (("SuperExec Deployment", hub.superexec_name(spec)), ("state PVC", hub.pvc_name(spec)),
                       ("TLS Secret", hub.tls_secret_name(spec) if spec.hub.tls.mode == "generate" else None),
                       ("SuperExec Secret", hub.superexec_secret_name(spec))):
        yield from _name(kind, name, "subdomain", "federation.name", fed)
    yield from _derived(spec)
    if spec.distribution.mode != "ocm":
        return
    ocm_path = "federation.distribution.ocm.addonName"
    yield from _name("addon feature label", ocm.addon_feature_label(spec).partition("/")[2], "label", ocm_path,
                     "OCM labels clusters `feature.open-cluster-management.io/addon-<addonName>`: shorten it "
                     "(or federation.name, which it defaults from)")
    yield from _name("SuperNode Service", ocm.supernode_name(spec), "dns1035", "federation.name", fed)
    for kind, name in (("SuperNode CA ConfigMap", ocm.ca_configmap_name(spec)),
                       ("node-auth Secret", ocm.node_auth_secret_name(spec)),
                       ("spoke SuperExec Secret", ocm.spoke_superexec_secret_name(spec)),
                       ("SuperExec secret Role", ocm.secret_writer_name(spec)),
                       ("SuperNode public-key ConfigMap", ocm.node_public_key_name(spec)),
                       ("SuperNode key Role", ocm.node_key_writer_name(spec)),
                       ("SuperNode registrar", ocm.registrar_name(spec)),
                       ("registrations ConfigMap", ocm.registrations_name(spec))):
        yield from _name(kind, name, "subdomain", "federation.name", fed)
    for i, pool in enumerate(spec.pools):
        path = f"federation.pools[{i}].name"
        yield from _name("ClientApp Placement", ocm.clientapp_placement_name(spec, pool), "label", path,
                         "shorten federation.name or the pool name")
        via = "shorten federation.name or the pool name"
        # OCM puts the Placement name in the cluster.open-cluster-management.io/placement label of its decisions
        yield from _name("Placement", ocm.placement_name(spec, pool), "label", path, via)
        yield from _name("AddOnTemplate", ocm.template_name(spec, pool), "subdomain", path,
                         "shorten distribution.ocm.addonName or the pool name")
        yield from _name("AddOnDeploymentConfig", ocm.config_name(spec, pool), "subdomain", path,
                         "shorten distribution.ocm.addonName or the pool name")
        for j, cluster in enumerate(pool.selection.clusters):
            yield from _name("AddOnDeploymentConfig", ocm.cluster_config_name(spec, cluster), "subdomain",
                             f"federation.pools[{i}].selection.clusters[{j}]", "shorten distribution.ocm.addonName")
    for i, app in enumerate(spec.client_apps):
        path = f"federation.clientApps[{i}].name"
        yield from _name("ManifestWorkReplicaSet", ocm.mwrs_name(spec, app), "subdomain", path,
                         "shorten federation.name or the ClientApp name")
        # The MWRS controller labels its ManifestWorks with "<namespace>.<name>" (no length handling).
        owner = f"{spec.ocm_namespace}.{ocm.mwrs_name(spec, app)}"
        yield from _name("ManifestWorkReplicaSet owner label", owner, "label", path,
                         "OCM labels each ManifestWork work.open-cluster-management.io/manifestworkreplicaset="
                         "<namespace>.<name>: shorten the ClientApp name, federation.name or the OCM namespace")
        yield from _name("ClientApp Deployment", ocm.clientapp_deployment_name(spec, app), "subdomain", path,
                         "shorten the ClientApp name")


#: Stand-ins for the name (the shortest and the longest we try; a DNS label is at most 63 characters) and
#: the image of a pool or ClientApp in the probes that :func:`problems` builds once per group of alike ones.
_NAME_A = "zq7-probe-a"
_NAME_B = "zq7-probe-b-" + "x" * 51
_IMAGE_A = "probe.invalid/zq8-image-a:0"
_IMAGE_B = "probe.invalid/zq8-image-b/a-longer-path:1.2.3"


@dataclass(frozen=True)
class _Sized:
    """A pool's AddOnTemplate (built with the placeholder CA; a probe's for pools that share one), the bytes of
    its compact JSON and the `{{VARIABLES}}` in that JSON."""

    template: Obj
    size: int
    variables: set[str]


def _bytes(text: str) -> int:
    """Bytes of `text` as it stands inside a compact JSON string (escapes included)."""
    if text.isascii() and text.isprintable() and '"' not in text and "\\" not in text:
        return len(text)  # nothing to escape (names and image references)
    return len(compact_json(text).encode()) - 2


def _built(template: Obj, text: str) -> _Sized:
    return _Sized(template, len(text.encode()), template_variables(text))


def _template(spec: FederationSpec, pool: PoolSpec) -> tuple[Obj, str] | ValueError:
    """The pool's AddOnTemplate with the placeholder CA and its compact JSON, or the ValueError building it raised."""
    try:
        template = ocm.addon_template(spec, pool, ocm.PLACEHOLDER_CA)
    except ValueError as exc:
        return exc
    return template, compact_json(template)


def _pool_key(pool: PoolSpec) -> str:
    """What a pool's AddOnTemplate is built from, but its name and selection (which the template does not read)."""
    return compact_json(pool.model_dump(mode="json", exclude_unset=True, exclude={"name", "selection"}))


def _shared_template(spec: FederationSpec, first: PoolSpec, last: PoolSpec) -> Callable[[PoolSpec], _Sized] | None:
    """The AddOnTemplate of pools alike but for their names and selections, from one probe whose name `_NAME_A`
    stands for each pool's: its JSON is the probe's with the pool's name in its place. None (build each)
    unless a second probe, with another name and `last`'s selection, is exactly the first with `_NAME_B`
    in place of `_NAME_A`: the name enters only verbatim (and the selection not at all)."""
    a = _template(spec, first.model_copy(update={"name": _NAME_A}))
    b = _template(spec, last.model_copy(update={"name": _NAME_B}))
    if isinstance(a, ValueError) or isinstance(b, ValueError) or a[1].replace(_NAME_A, _NAME_B) != b[1]:
        return None
    template, text = a
    probe = _built(template, text)
    names = text.count(_NAME_A)

    def of(pool: PoolSpec) -> _Sized:
        if "{" in pool.name or "}" in pool.name:  # not a DNS label: it could make or break a {{VARIABLE}}
            return _built(template, text.replace(_NAME_A, pool.name))
        return _Sized(template, probe.size + names * (_bytes(pool.name) - _bytes(_NAME_A)),
                      {v.replace(_NAME_A, pool.name) for v in probe.variables})

    return of


def _templates(spec: FederationSpec, keys: list[str]) -> Iterator[_Sized | ValueError]:
    """Each pool's AddOnTemplate (with the placeholder CA), its size and variables, in pool order, exactly as built.

    Pools alike but for name and selection share one probe (see :func:`_shared_template`) instead of a
    build each.
    """
    groups: dict[str, list[PoolSpec]] = {}
    for key, pool in zip(keys, spec.pools, strict=True):
        groups.setdefault(key, []).append(pool)
    shared = {key: _shared_template(spec, pools[0], pools[-1]) for key, pools in groups.items() if len(pools) > 1}
    for key, pool in zip(keys, spec.pools, strict=True):
        of = shared.get(key)
        if of is not None:
            yield of(pool)
            continue
        built = _template(spec, pool)
        yield built if isinstance(built, ValueError) else _built(*built)


def _mwrs_sizes(spec: FederationSpec, pool_keys: dict[str, str]) -> Iterator[int | None]:
    """Each ClientApp's ManifestWorkReplicaSet size (compact JSON bytes), in order; None for one that targets no
    known pool (it is not checked).

    ClientApps alike but for their names, images and pool names (the same settings, pools alike in
    turn) are sized from one probe: its size plus, per occurrence, the difference in bytes of the name,
    the image (as the clusters pull it) and each pool's ClientApp Placement name. A second probe with a
    longer name, another image and the last ClientApp's pools must come out at exactly its predicted size,
    and every stand-in must occur as often in both, or each ClientApp of the group is built.
    """
    pools = spec.pools_by_name
    keys: list[str | None] = []
    for app in spec.client_apps:
        if not any(name in pools for name in app.pools):
            keys.append(None)
        elif all(name in pools for name in app.pools) and len(set(app.pools)) == len(app.pools):
            shape = app.model_dump(mode="json", exclude_unset=True, exclude={"name", "image", "pools"})
            keys.append(compact_json([shape, [pool_keys[name] for name in app.pools]]))
        else:
            keys.append("")  # an unknown or repeated pool (validation reports it): build it
    groups: dict[str, list[ClientAppSpec]] = {}
    for key, app in zip(keys, spec.client_apps, strict=True):
        if key:
            groups.setdefault(key, []).append(app)
    size_of = {key: _mwrs_probe(spec, apps[0], apps[-1]) for key, apps in groups.items() if len(apps) > 1}
    for key, app in zip(keys, spec.client_apps, strict=True):
        if key is None:
            yield None
            continue
        size = size_of.get(key)
        yield size(app) if size is not None else compact_size(ocm.manifest_work_replica_set(spec, app))


def _mwrs_probe(spec: FederationSpec, first: ClientAppSpec, last: ClientAppSpec) -> Callable[[ClientAppSpec], int] | None:
    """The size of the ManifestWorkReplicaSet of a ClientApp alike `first`, from probes (see :func:`_mwrs_sizes`)."""
    pools = spec.pools_by_name

    def placements(app: ClientAppSpec) -> list[str]:
        return [ocm.clientapp_placement_name(spec, pools[name]) for name in app.pools]

    def texts(app: ClientAppSpec, name: str, image: str) -> str | None:
        try:
            return compact_json(ocm.manifest_work_replica_set(spec, app.model_copy(update={"name": name, "image": image})))
        except Exception:  # the real build raises it again, where it belongs
            return None

    text_a, text_b = texts(first, _NAME_A, _IMAGE_A), texts(last, _NAME_B, _IMAGE_B)
    if text_a is None or text_b is None:
        return None
    image_a, image_b = ocm.spoke_image(spec, _IMAGE_A), ocm.spoke_image(spec, _IMAGE_B)
    names, images = text_a.count(_NAME_A), text_a.count(image_a)
    base = placements(first)
    if (text_b.count(_NAME_B), text_b.count(image_b)) != (names, images) or any(
            text.count(p) != 1 for text, ps in ((text_a, base), (text_b, placements(last))) for p in ps):
        return None
    # The probe's size without its name, image and ClientApp Placement names: add a ClientApp's own.
    rest = (len(text_a.encode()) - names * _bytes(_NAME_A) - images * _bytes(image_a)
            - sum(_bytes(p) for p in base))

    def size(app: ClientAppSpec, name: str, image: str) -> int:
        return rest + names * _bytes(name) + images * _bytes(image) + sum(_bytes(p) for p in placements(app))

    if size(last, _NAME_B, image_b) != len(text_b.encode()):
        return None
    return lambda app: size(app, app.name, ocm.spoke_image(spec, app.image))


def problems(spec: FederationSpec) -> Iterator[Problem]:
    """OCM payload rules: template variables defined, names within limits, payload sizes."""
    yield from name_problems(spec)
    if spec.distribution.mode != "ocm":
        return
    limit = spec.distribution.ocm.max_manifest_bytes
    address = "superlink.invalid:443"  # the value does not matter: only names and sizes are checked
    pool_keys = [_pool_key(pool) for pool in spec.pools]
    for i, (pool, built) in enumerate(zip(spec.pools, _templates(spec, pool_keys), strict=True)):
        path = f"federation.pools[{i}]"
        if isinstance(built, ValueError):
            yield Problem(path, str(built))
            continue
        configs = ocm.applicable_configs(spec, pool, address)
        for var in sorted(built.variables):
            if var != var.strip():
                yield Problem(path, f"template uses {{{{{var}}}}}: OCM does not trim the name and renders it as an "
                                    f"empty string; write {{{{{var.strip()}}}}}")
                continue
            for config in configs:
                builtins = defined_builtins(install_namespace=config["spec"].get("agentInstallNamespace"),
                                            registration="registration" in built.template["spec"])
                if var not in builtins and var not in ocm.adc_variables(config):
                    yield Problem(path, f"template uses {{{{{var}}}}} which OCM does not define for it and no "
                                        "AddOnDeploymentConfig sets (it would render as an empty string)")
                    break
        size = built.size
        if size > limit:
            # Name what the user can shrink: the pool's nodeConfig when it is what pushes the template over.
            bare = pool.model_copy(update={"node_config": {}})
            without = compact_size(ocm.addon_template(spec, bare, ocm.PLACEHOLDER_CA)) if pool.node_config else size
            field = f"{path}.nodeConfig" if without <= limit else "federation.distribution.ocm.maxManifestBytes"
            yield Problem(field, f"AddOnTemplate {ocm.template_name(spec, pool)!r} of pool {pool.name!r} is {size} bytes "
                                 f"(JSON), over distribution.ocm.maxManifestBytes ({limit})"
                                 + (f"; its nodeConfig takes {size - without} bytes" if field.endswith("nodeConfig") else ""))
    by_name: dict[str, str] = {}
    for pool, key in zip(spec.pools, pool_keys, strict=True):
        by_name.setdefault(pool.name, key)  # the first of duplicates, as spec.pools_by_name
    for app, size_or_none in zip(spec.client_apps, _mwrs_sizes(spec, by_name), strict=True):
        if size_or_none is None:
            continue
        if size_or_none > limit:
            yield Problem("federation.distribution.ocm.maxManifestBytes",
                          f"ManifestWorkReplicaSet {ocm.mwrs_name(spec, app)!r} of ClientApp {app.name!r} is {size_or_none} "
                          f"bytes (JSON), over the limit ({limit})")
