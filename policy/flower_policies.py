"""CrossGuard wrappers over the rules in :mod:`federation.policies`.

Importable without side effects (building a `PolicyPack` starts a gRPC server and blocks, so only
`__main__.py` does that). Each rule becomes a ResourceValidationPolicy or StackValidationPolicy
with a config schema; settings missing from the config fall back to code defaults, because the
engine's schema defaults are not applied when validators are called directly.
"""

from collections.abc import Mapping
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)

from federation.policies import RULES, PolicySettings, Rule, check_resource, check_stack

CONFIG_SCHEMA = PolicyConfigSchema(
    properties={
        "production": {"type": "boolean", "default": False, "description": "Apply the production-only rules."},
        "allowInsecure": {"type": "boolean", "default": False, "description": "Allow Flower traffic without TLS."},
        "requireImageDigests": {"type": "boolean", "default": False, "description": "Require @sha256 digests."},
    }
)


def settings_from(config: Mapping[str, Any] | None) -> PolicySettings:
    """PolicySettings from a policy's config (missing keys take the code defaults)."""
    config = config or {}
    return PolicySettings(
        production=bool(config.get("production", False)),
        allow_insecure=bool(config.get("allowInsecure", False)),
        require_image_digests=bool(config.get("requireImageDigests", False)),
    )


def as_object(props: Mapping[str, Any]) -> dict[str, Any] | None:
    """The Kubernetes object behind a resource's props, or None for non-Kubernetes resources."""
    return dict(props) if "kind" in props and "apiVersion" in props else None


def _resource_validator(rule: Rule) -> Any:
    def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
        if not args.resource_type.startswith("kubernetes:"):
            return
        obj = as_object(args.props)
        if obj is None:
            return
        for message in check_resource(rule, obj, settings_from(args.get_config())):
            report(message, args.urn)

    return validate


def _stack_validator(rule: Rule) -> Any:
    def validate(args: StackValidationArgs, report: ReportViolation) -> None:
        objs = [o for r in args.resources if r.resource_type.startswith("kubernetes:") if (o := as_object(r.props))]
        for subject, message in check_stack(rule, objs, settings_from(args.get_config())):
            report(f"{subject}: {message}", None)

    return validate


def build_policies() -> list[Policy]:
    """One CrossGuard policy per rule, same names, descriptions, severities and enforcement."""
    out: list[Policy] = []
    for rule in RULES:
        level, severity = EnforcementLevel(rule.enforcement), Severity(rule.severity)
        if rule.resource is not None:
            out.append(ResourceValidationPolicy(
                name=rule.name, description=rule.description, validate=_resource_validator(rule),
                enforcement_level=level, config_schema=CONFIG_SCHEMA, severity=severity,
            ))
        else:
            out.append(StackValidationPolicy(
                name=rule.name, description=rule.description, validate=_stack_validator(rule),
                enforcement_level=level, config_schema=CONFIG_SCHEMA, severity=severity,
            ))
    return out
