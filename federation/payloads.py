"""Checks of a declaration that need the OCM builders: template variables, name limits, payload sizes.

They sit above :mod:`federation.manifests` (the builders) and below :mod:`federation.loading`, which
runs them with the spec rules of :mod:`federation.validation` on every declaration it parses.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from federation.errors import Problem
from federation.manifests import hub, ocm
from federation.spec import FederationSpec, is_dns1035_label, is_dns_subdomain, is_label_value, show
from federation.templating import BUILTIN_VARIABLES, compact_json, compact_size, template_variables

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


def name_problems(spec: FederationSpec) -> Iterator[Problem]:
    """Every generated object name (from the builders' own naming functions) against its kind's rule,
    reported on the field the user wrote."""
    fed = "shorten federation.name or start it with a letter"
    yield from _name("SuperLink Service", hub.superlink_service_name(spec), "dns1035", "federation.name", fed)
    for kind, name in (("SuperExec Deployment", hub.superexec_name(spec)), ("state PVC", hub.pvc_name(spec)),
                       ("TLS Secret", hub.tls_secret_name(spec) if spec.hub.tls.mode == "generate" else None),
                       ("SuperExec Secret", hub.superexec_secret_name(spec))):
        yield from _name(kind, name, "subdomain", "federation.name", fed)
    if spec.distribution.mode != "ocm":
        return
    for i, pool in enumerate(spec.pools):
        path = f"federation.pools[{i}].name"
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
        yield from _name("ClientApp Deployment", ocm.clientapp_deployment_name(spec, app), "subdomain", path,
                         "shorten the ClientApp name")


def problems(spec: FederationSpec) -> Iterator[Problem]:
    """OCM payload rules: template variables defined, names within limits, payload sizes."""
    yield from name_problems(spec)
    if spec.distribution.mode != "ocm":
        return
    limit = spec.distribution.ocm.max_manifest_bytes
    address = "superlink.invalid:443"  # the value does not matter: only names and sizes are checked
    for i, pool in enumerate(spec.pools):
        path = f"federation.pools[{i}]"
        try:
            template = ocm.addon_template(spec, pool, ocm.PLACEHOLDER_CA)
        except ValueError as exc:
            yield Problem(path, str(exc))
            continue
        text = compact_json(template)
        used = template_variables(text) - BUILTIN_VARIABLES
        configs = ocm.applicable_configs(spec, pool, address)
        for var in sorted(used):
            if any(var not in ocm.adc_variables(c) for c in configs):
                yield Problem(path, f"template uses {{{{{var}}}}} which no AddOnDeploymentConfig defines")
        size = len(text.encode())
        if size > limit:
            yield Problem(path, f"AddOnTemplate {ocm.template_name(spec, pool)!r} is {size} bytes (JSON), over "
                                f"distribution.ocm.maxManifestBytes ({limit})")
    pool_names = {p.name for p in spec.pools}
    for i, app in enumerate(spec.client_apps):
        if not any(name in pool_names for name in app.pools):
            continue
        size = compact_size(ocm.manifest_work_replica_set(spec, app))
        if size > limit:
            yield Problem(f"federation.clientApps[{i}]", f"ManifestWorkReplicaSet {ocm.mwrs_name(spec, app)!r} is {size} bytes "
                                                         f"(JSON), over distribution.ocm.maxManifestBytes ({limit})")
