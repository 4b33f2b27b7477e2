"""Two (or more) federations on one hub cluster.

Each federation is its own `Federation` component named after `federation.name`, so the Pulumi
names of all children differ; the Kubernetes/OCM names differ because each declaration has its own
`name`, `hub.namespace` and `distribution.ocm.addonName`. The program refuses declarations that would
share any of those before registering anything.
"""

from collections import Counter
from typing import Any

import pulumi

from components import Federation
from federation.errors import SpecError
from federation.loading import parse_spec

declarations: list[dict[str, Any]] = pulumi.Config().require_object("federations")
specs = []
for i, declaration in enumerate(declarations):
    try:
        specs.append(parse_spec(declaration))
    except SpecError as exc:
        raise SystemExit(f"invalid federations[{i}]:\n" + "\n".join(str(p) for p in exc.problems)) from None

# Cluster-scoped or per-hub names that two federations must not share.
unique = {
    "name": [s.name for s in specs],
    "hub.namespace": [s.hub.namespace for s in specs],
    "distribution.ocm.addonName": [s.distribution.ocm.addon_name for s in specs],
}
clashes = [f"{field}: {value!r} is used {n} times" for field, values in unique.items()
           for value, n in Counter(values).items() if n > 1]
if clashes:
    raise SystemExit("federations must not share names:\n" + "\n".join(clashes))

federations = {
    spec.name: Federation(spec.name, {"federation": declaration, "existing_ca_certificate": None})
    for spec, declaration in zip(specs, declarations, strict=True)
}

pulumi.export("federations", {
    name: {
        "namespace": fed.namespace,
        "superlinkExternalAddress": fed.superlink_external_address,
        "caCertificate": fed.ca_certificate,
        "addonName": fed.addon_name,
        "placementNames": fed.placement_names,
    }
    for name, fed in federations.items()
})
