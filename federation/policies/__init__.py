"""Policy as code: rules over the Kubernetes and OCM objects a federation registers.

The same rules run offline in `flower-federation check` (over the objects the program would
register) and in `pulumi preview --policy-pack policy/` (see `policy/__main__.py`). Rules read only
what is in the objects: they never assume defaults an engine or API server would apply.

Objects embedded in OCM carriers (AddOnTemplate agent manifests, ManifestWorkReplicaSet payloads)
are checked like top-level ones, so a SuperNode Deployment is held to the same bar on a spoke.
"""

from federation.policies.rules import (
    RULES,
    Rule,
    Severity,
    Violation,
    check_resource,
    check_stack,
    evaluate,
    pack_config,
    parse_settings,
    rule,
)
from federation.policies.settings import POLICY_CONFIG_KEY, Enforcement, PolicySettings
from federation.policies.walk import Obj

__all__ = [
    "POLICY_CONFIG_KEY",
    "RULES",
    "Enforcement",
    "Obj",
    "PolicySettings",
    "Rule",
    "Severity",
    "Violation",
    "check_resource",
    "check_stack",
    "evaluate",
    "pack_config",
    "parse_settings",
    "rule",
]
