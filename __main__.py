"""The default Pulumi program: stack config `flower:federation` → spec → exports.

Run with `pulumi preview` / `pulumi up` per environment (stack files live in `stacks/`).
"""

import pulumi

from federation.errors import SpecError
from federation.loading import CONFIG_KEY, CONFIG_NAMESPACE, parse_spec

try:
    spec = parse_spec(pulumi.Config(CONFIG_NAMESPACE).require_object(CONFIG_KEY))
except SpecError as exc:
    # One line per problem, as the CLI prints them; the engine shows this as the program's error.
    raise SystemExit("invalid flower:federation config:\n" + "\n".join(str(p) for p in exc.problems)) from None

pulumi.export("federation", spec.name)
pulumi.export("pools", [p.name for p in spec.pools])
pulumi.export("clientApps", [a.name for a in spec.client_apps])
