"""Checks of a declaration that need the OCM builders: template variables, name limits, payload sizes.

They sit above :mod:`federation.manifests` (the builders) and below :mod:`federation.loading`, which
runs them with the spec rules of :mod:`federation.validation` on every declaration it parses.
"""

from __future__ import annotations

from collections.abc import Iterator

from federation.errors import Problem
from federation.manifests import ocm
from federation.spec import FederationSpec
from federation.templating import BUILTIN_VARIABLES, compact_json, compact_size, template_variables


def problems(spec: FederationSpec) -> Iterator[Problem]:
    """OCM payload rules: template variables defined, names within limits, payload sizes."""
    if spec.distribution.mode != "ocm":
        return
    limit = spec.distribution.ocm.max_manifest_bytes
    address = "superlink.invalid:443"  # the value does not matter: only names and sizes are checked
    for i, pool in enumerate(spec.pools):
        path = f"federation.pools[{i}]"
        name = ocm.placement_name(spec, pool)
        if len(name) > 63:
            yield Problem(f"{path}.name", f"Placement name {name!r} is longer than 63 characters (it becomes a "
                                          "label value on PlacementDecisions); shorten federation.name or the pool name")
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
