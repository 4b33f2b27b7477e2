"""The default Pulumi program: stack config `flower:federation` → spec → `Federation` → exports.

Run `pulumi preview` / `pulumi up` per environment; stack files live in `stacks/`. The hub cluster
is the stack's Kubernetes provider (e.g. `kubernetes:context` in the stack file).
"""

import pulumi

from components.federation import Federation
from federation.errors import SpecError
from federation.loading import CONFIG_KEY, CONFIG_NAMESPACE, parse_spec

declaration = pulumi.Config(CONFIG_NAMESPACE).require_object(CONFIG_KEY)
try:
    spec = parse_spec(declaration)
except SpecError as exc:
    # One line per problem, exactly as `flower-federation validate` prints them.
    raise SystemExit("invalid flower:federation config:\n" + "\n".join(str(p) for p in exc.problems)) from None

# hub.tls.mode existingSecret: None means the CA clients trust is the Secret's own ca.crt, read from the hub.
federation = Federation(spec.name, {"federation": declaration, "existing_ca_certificate": None})

pulumi.export("superlinkAddress", federation.superlink_address)
pulumi.export("superlinkExternalAddress", federation.superlink_external_address)
# The SuperLink's own port inside the hub (<name>-superlink-api): Control for `flwr` from a pod named in
# hub.controlClients, or the target of `kubectl port-forward`. Never reachable from outside the hub.
pulumi.export("superlinkControlAddress", federation.superlink.control_address)
pulumi.export("caCertificate", federation.ca_certificate)
pulumi.export("namespace", federation.namespace)
pulumi.export("placementNames", federation.placement_names)
pulumi.export("addonName", federation.addon_name)
pulumi.export("clientAppNames", federation.client_app_names)
