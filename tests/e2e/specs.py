"""Valid federation specs for tests, built through the real loader (`parse_spec`)."""

from __future__ import annotations

import copy
from typing import Any

from federation.loading import parse_spec
from federation.spec import DEFAULT_FLOWER_VERSION, FederationSpec


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def make_spec(**overrides: Any) -> FederationSpec:
    """A valid spec with one pool `cpu`; `overrides` are deep-merged (camelCase keys as in YAML).

    Adds what validation requires for the features used: an external name for the hub, a SuperExec
    image in hub process isolation, a ClientApp for pools in process isolation.
    """
    data: dict[str, Any] = {
        "name": "t",
        "hub": {"exposure": {"externalNames": ["superlink.example.com"]}},
        "pools": [{"name": "cpu"}],
    }
    data = _merge(data, overrides)
    if data["hub"].get("isolation") == "process":
        data = _merge(data, {"flower": {"images": {"superexec": f"flwr/superexec:{DEFAULT_FLOWER_VERSION}"}}})
    process_pools = [p["name"] for p in data["pools"] if p.get("isolation") == "process"]
    if process_pools and "clientApps" not in data:
        data["clientApps"] = [{"name": "app", "image": "example/clientapp:1.0.0", "pools": process_pools}]
    return parse_spec(data)
