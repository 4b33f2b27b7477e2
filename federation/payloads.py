"""Checks of a declaration that need the OCM builders: template variables, name limits, payload sizes.

They sit above :mod:`federation.manifests` (the builders) and below :mod:`federation.loading`, which
runs them with the spec rules of :mod:`federation.validation` on every declaration it parses.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from pydantic.alias_generators import to_camel

from federation.errors import Problem
from federation.manifests import hub, ocm
from federation.spec import FederationSpec, derived_defaults, is_dns1035_label, is_dns_subdomain, is_label_value, show
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
                       ("SuperExec secret Role", ocm.secret_writer_name(spec))):
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
        configs = ocm.applicable_configs(spec, pool, address)
        for var in sorted(template_variables(text)):
            if var != var.strip():
                yield Problem(path, f"template uses {{{{{var}}}}}: OCM does not trim the name and renders it as an "
                                    f"empty string; write {{{{{var.strip()}}}}}")
                continue
            for config in configs:
                builtins = defined_builtins(install_namespace=config["spec"].get("agentInstallNamespace"),
                                            registration="registration" in template["spec"])
                if var not in builtins and var not in ocm.adc_variables(config):
                    yield Problem(path, f"template uses {{{{{var}}}}} which OCM does not define for it and no "
                                        "AddOnDeploymentConfig sets (it would render as an empty string)")
                    break
        size = len(text.encode())
        if size > limit:
            # Name what the user can shrink: the pool's nodeConfig when it is what pushes the template over.
            bare = pool.model_copy(update={"node_config": {}})
            without = compact_size(ocm.addon_template(spec, bare, ocm.PLACEHOLDER_CA)) if pool.node_config else size
            field = f"{path}.nodeConfig" if without <= limit else "federation.distribution.ocm.maxManifestBytes"
            yield Problem(field, f"AddOnTemplate {ocm.template_name(spec, pool)!r} of pool {pool.name!r} is {size} bytes "
                                 f"(JSON), over distribution.ocm.maxManifestBytes ({limit})"
                                 + (f"; its nodeConfig takes {size - without} bytes" if field.endswith("nodeConfig") else ""))
    pool_names = {p.name for p in spec.pools}
    for app in spec.client_apps:
        if not any(name in pool_names for name in app.pools):
            continue
        size = compact_size(ocm.manifest_work_replica_set(spec, app))
        if size > limit:
            yield Problem("federation.distribution.ocm.maxManifestBytes",
                          f"ManifestWorkReplicaSet {ocm.mwrs_name(spec, app)!r} of ClientApp {app.name!r} is {size} "
                          f"bytes (JSON), over the limit ({limit})")
