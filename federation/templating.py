"""OCM's template grammar: `{{NAME}}` tokens in AddOnTemplates, the variables OCM defines, substitution.

Dependency-free on purpose: the spec rules, the manifest builders and the policies all use it, and
none of them may import another for it. Follows the addon-framework's template agent
(`pkg/addonmanager/addontemplate`: variables are substituted in the JSON text of each manifest).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

#: Variables OCM defines itself in some configuration; users may not redefine them.
BUILTIN_VARIABLES = frozenset({"CLUSTER_NAME", "INSTALL_NAMESPACE", "HUB_KUBECONFIG"})

_TOKEN = re.compile(r"\{\{([^{}]*)\}\}")


def defined_builtins(*, install_namespace: str | None, registration: bool) -> frozenset[str]:
    """The built-in variables OCM really defines for a template (addon-manager `templateagent/values.go`).

    `CLUSTER_NAME` always; `INSTALL_NAMESPACE` only when the AddOnDeploymentConfig's
    `agentInstallNamespace` is non-empty (the CRD defaults an omitted field to
    `open-cluster-management-agent-addon`; `""` leaves it undefined); `HUB_KUBECONFIG` only when the
    template has `spec.registration`.
    """
    names = {"CLUSTER_NAME"}
    if install_namespace:
        names.add("INSTALL_NAMESPACE")
    if registration:
        names.add("HUB_KUBECONFIG")
    return frozenset(names)


@dataclass(frozen=True)
class Token:
    """A `{{NAME}}` placeholder OCM substitutes per cluster; `integer` values render unquoted in TOML."""

    name: str
    integer: bool = False

    def __str__(self) -> str:
        return "{{" + self.name + "}}"


def compact_json(obj: Any) -> str:
    """The compact JSON encoding (what the API server stores, roughly; OCM substitutes variables in it)."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def compact_size(obj: Any) -> int:
    """Bytes of the compact JSON encoding."""
    return len(compact_json(obj).encode())


def template_variables(obj: Any) -> set[str]:
    """Every `{{NAME}}` token in the JSON text of `obj` (or in `obj` itself when it is that text), verbatim.

    OCM does not trim the tag (fasttemplate): `{{ NAME }}` looks up " NAME ", which no variable is.
    """
    return set(_TOKEN.findall(obj if isinstance(obj, str) else compact_json(obj)))


def substitute(manifest: dict[str, Any], variables: Mapping[str, str]) -> dict[str, Any]:
    """Render a template manifest like OCM: replace `{{NAME}}` in its JSON text verbatim; unknown → ""."""
    text = json.dumps(manifest)
    rendered = _TOKEN.sub(lambda m: variables.get(m.group(1), ""), text)
    out: dict[str, Any] = json.loads(rendered)
    return out
