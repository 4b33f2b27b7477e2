"""Validate rendered objects against real schemas: Kubernetes OpenAPI (pinned) and the verbatim OCM CRDs."""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml

#: Kubernetes version the core objects are validated against (strict: unknown fields fail).
KUBERNETES_VERSION = "1.33.0"
REPO = Path(__file__).resolve().parents[1]
#: The OCM CRDs the project targets, kept in the repository with their provenance (crds/ocm/README.md).
OCM_CRDS = REPO / "crds" / "ocm"


def validate_kubernetes(obj: dict[str, Any]) -> None:
    """Raise AssertionError naming the object when it does not match the Kubernetes schema."""
    try:
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as exc:
        first = str(exc).splitlines()[0]
        where = "/".join(str(p) for p in exc.path)
        raise AssertionError(f"{obj['kind']} {obj['metadata'].get('name')}: {first} at {where}") from None


def _convert(schema: Any) -> Any:
    """CRD structural schema → JSON schema: int-or-string and nullable."""
    if isinstance(schema, dict):
        out = {k: _convert(v) for k, v in schema.items()}
        if out.pop("x-kubernetes-int-or-string", False):
            out.pop("type", None)
            out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
        if out.pop("nullable", False) and "type" in out:
            t = out["type"]
            out["type"] = [*t, "null"] if isinstance(t, list) else [t, "null"]
        return out
    if isinstance(schema, list):
        return [_convert(v) for v in schema]
    return schema


@functools.cache
def _ocm_schemas() -> dict[tuple[str, str], dict[str, Any]]:
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for path in sorted(OCM_CRDS.glob("*.crd.yaml")):
        crd = yaml.safe_load(path.read_text())
        group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
        for version in crd["spec"]["versions"]:
            schema = _convert(copy.deepcopy(version["schema"]["openAPIV3Schema"]))
            out[(f"{group}/{version['name']}", kind)] = schema
    return out


def is_ocm(obj: dict[str, Any]) -> bool:
    return "open-cluster-management.io" in obj["apiVersion"]


def validate_ocm(obj: dict[str, Any]) -> None:
    """Validate an OCM object against its CRD's openAPIV3Schema (Draft 7)."""
    key = (obj["apiVersion"], obj["kind"])
    schema = _ocm_schemas().get(key)
    if schema is None:
        raise AssertionError(f"no OCM CRD for {key}")
    errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(obj), key=lambda e: list(e.path))
    if errors:
        e = errors[0]
        raise AssertionError(f"{obj['kind']} {obj['metadata'].get('name')}: {e.message} at {'/'.join(map(str, e.path))}")


def validate_object(obj: dict[str, Any]) -> None:
    """Validate any object the project emits against the matching real schema."""
    if is_ocm(obj):
        validate_ocm(obj)
    else:
        validate_kubernetes(obj)
