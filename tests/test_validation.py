"""Cross-field rules (federation/validation.py): each names the exact field it is about."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from federation.errors import Problem, field_path
from federation.loading import parse_spec
from tests.test_loading import MINIMAL, problems_of, with_


def test_field_path_renders_indices_and_keys() -> None:
    assert field_path(["pools", 1, "gpu", "count"]) == "federation.pools[1].gpu.count"
    assert field_path([], "policy") == "policy"
    assert str(Problem("federation.hub.port", "must be >= 1")) == "federation.hub.port: must be >= 1"


def test_duplicate_pool_and_app_names() -> None:
    data = copy.deepcopy(MINIMAL)
    data["pools"] = [
        {"name": "a", "isolation": "process", "selection": {"clusterSets": ["s1"]}},
        {"name": "a", "isolation": "process", "selection": {"clusterSets": ["s2"]}},
    ]
    data["clientApps"] = [{"name": "x", "image": "r/x:1", "pools": ["a"]}, {"name": "x", "image": "r/x:1", "pools": ["a"]}]
    found = problems_of(data)
    assert "federation.pools[1].name: duplicate pool name 'a' (also pools[0])" in found
    assert "federation.clientApps[1].name: duplicate ClientApp name 'x' (also clientApps[0])" in found
    assert any(f.startswith("federation.clientApps[1].pools[0]: pool 'a' already runs ClientApp 'x'") for f in found)


def test_supernode_auth_needs_tls() -> None:
    data = with_(MINIMAL, "hub.tls", {"mode": "insecure", "allowInsecure": True})
    data = with_(data, "hub.supernodeAuth", {"enabled": True})
    assert "federation.hub.supernodeAuth.enabled: SuperNode authentication needs TLS (tls.mode is 'insecure')" in problems_of(data)


def test_insecure_with_explicit_flag_is_accepted() -> None:
    spec = parse_spec(with_(MINIMAL, "hub.tls", {"mode": "insecure", "allowInsecure": True}))
    assert spec.hub.tls.mode == "insecure"


def _two_pools(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    return with_(MINIMAL, "pools", [{"name": "a", "selection": a}, {"name": "b", "selection": b}])


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ({}, {}),
        ({"labelSelector": {"matchLabels": {"gpu": "true"}}}, {}),
        ({"labelSelector": {"matchLabels": {"gpu": "true"}}}, {"labelSelector": {"matchLabels": {"zone": "eu"}}}),
        ({"clusterSets": ["x", "y"]}, {"clusterSets": ["y"]}),
        ({"labelSelector": {"matchExpressions": [{"key": "gpu", "operator": "NotIn", "values": ["a"]}]}},
         {"labelSelector": {"matchExpressions": [{"key": "gpu", "operator": "In", "values": ["a", "b"]}]}}),
    ],
)
def test_overlapping_pools_are_rejected(a: dict[str, Any], b: dict[str, Any]) -> None:
    found = problems_of(_two_pools(a, b))
    assert any(f.startswith("federation.pools[1].selection: can select the same clusters as pool 'a'") for f in found), found


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ({"clusterSets": ["x"]}, {"clusterSets": ["y"]}),
        ({"labelSelector": {"matchLabels": {"gpu": "true"}}}, {"labelSelector": {"matchLabels": {"gpu": "false"}}}),
        ({"labelSelector": {"matchLabels": {"gpu": "true"}}},
         {"labelSelector": {"matchExpressions": [{"key": "gpu", "operator": "NotIn", "values": ["true"]}]}}),
        ({"labelSelector": {"matchExpressions": [{"key": "gpu", "operator": "Exists"}]}},
         {"labelSelector": {"matchExpressions": [{"key": "gpu", "operator": "DoesNotExist"}]}}),
        ({"claimSelector": {"matchExpressions": [{"key": "gpu.count", "operator": "In", "values": ["1"]}]}},
         {"claimSelector": {"matchExpressions": [{"key": "gpu.count", "operator": "In", "values": ["2"]}]}}),
    ],
)
def test_disjoint_pools_are_accepted(a: dict[str, Any], b: dict[str, Any]) -> None:
    spec = parse_spec(_two_pools(a, b))
    assert [p.name for p in spec.pools] == ["a", "b"]


def test_client_app_mixing_gpu_and_cpu_pools() -> None:
    data = copy.deepcopy(MINIMAL)
    data["pools"] = [
        {"name": "cpu", "isolation": "process", "selection": {"clusterSets": ["c"]}},
        {"name": "gpu", "isolation": "process", "selection": {"clusterSets": ["g"]}, "gpu": {"count": 1}},
    ]
    data["clientApps"] = [{"name": "x", "image": "r/x:1", "pools": ["cpu", "gpu"]}]
    assert "federation.clientApps[0].pools: mixes GPU and CPU pools; one ClientApp image runs on one kind" in problems_of(data)
