"""Two (or more) federations on one hub cluster.

Each federation is its own `Federation` component named after `federation.name`, so the Pulumi
names of all children differ; the Kubernetes/OCM names differ because each declaration has its own
`name`, `hub.namespace` and `distribution.ocm.addonName`. The program refuses declarations that would
share any of those before registering anything.
"""

from typing import Any

import pulumi

from components import Federation
from federation.errors import SpecError
from federation.loading import parse_spec, rooted
from federation.validation import shared_names

declarations: list[dict[str, Any]] = pulumi.Config().require_object("federations")
specs: list[tuple[str, Any]] = []
problems = []
for i, declaration in enumerate(declarations):
    try:
        specs.append((f"federations[{i}]", parse_spec(declaration)))
    except SpecError as exc:
        problems += rooted(exc.problems, f"federations[{i}]")
# Cluster-scoped or per-hub names that two federations must not share (what `validate --key` checks too).
problems += shared_names(specs)
if problems:
    raise SystemExit("invalid federations:\n" + "\n".join(str(p) for p in problems))

federations = {
    spec.name: Federation(spec.name, {"federation": declaration, "existing_ca_certificate": None})
    for (_, spec), declaration in zip(specs, declarations, strict=True)
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
