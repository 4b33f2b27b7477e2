"""Cross-field rules (federation/validation.py): each names the exact field it is about."""

from __future__ import annotations

import copy
from fractions import Fraction
from typing import Any

import pytest

from federation.errors import Problem, field_path
from federation.loading import parse_spec
from federation.validation import cel_error, quantity_value, warnings
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


def test_every_problem_in_one_pass_without_follow_on_noise() -> None:
    data = with_(MINIMAL, "hub.port", 0)
    data = with_(data, "hub.tls", {"mode": "insecure"})
    data = with_(data, "hub.exposure", {"externalNames": ["Bad Name"]})
    data["pools"] = [{"name": "a", "isolation": "process"}, {"name": "a", "replicas": 0}, {"name": "BAD"}]
    data["clientApps"] = [{"name": "x", "image": "r/x:1", "pools": ["b"]}]
    found = problems_of(data)
    # structural and cross-field problems together
    assert "federation.hub.port: must be >= 1" in found
    assert "federation.hub.tls.mode: 'insecure' turns TLS off; it needs allowInsecure: true" in found
    assert "federation.pools[1].name: duplicate pool name 'a' (also pools[0])" in found
    assert "federation.pools[1].replicas: must be >= 1" in found
    assert any(f.startswith("federation.pools[2].name: 'BAD'") for f in found)
    assert any(f.startswith("federation.clientApps[0].pools[0]: unknown pool 'b'") for f in found)
    # no follow-on noise: the typo'd pool is not also "untargeted", the duplicate not also an overlap, and the
    # dropped external name does not make the exposure look empty
    assert not any("no clientApps entry targets it" in f for f in found), found
    assert not any("can select the same clusters" in f for f in found), found
    assert not any(f.startswith("federation.hub.exposure:") for f in found), found
    assert len(found) == 7, found


def test_one_pass_maps_indices_back_after_dropping_items() -> None:
    data = copy.deepcopy(MINIMAL)
    data["pools"] = [{"name": "BAD"}, {"name": "ok", "isolation": "process", "selection": {"clusterSets": ["s"]}}]
    found = problems_of(data)
    assert "federation.pools[1].isolation: pool 'ok' runs ClientApps in separate SuperExec pods but no clientApps " \
           "entry targets it" in found, found


def test_messages_have_no_key_marker() -> None:
    found = problems_of(with_(MINIMAL, "pools.0.nodeConfig", {"-x": 1}))
    assert found and all("[key]" not in f for f in found), found
    assert any(f.startswith("federation.pools[0].nodeConfig.-x: ") for f in found), found


@pytest.mark.parametrize(("text", "value"), [("1", 1), ("100m", Fraction(1, 10)), ("1Gi", 2**30), ("1G", 10**9), ("1e3", 1000),
                                             ("1.5", 1.5), (".5Ki", 512), ("+2", 2)])
def test_quantity_values(text: str, value: float | Fraction) -> None:
    assert quantity_value(text) == value


@pytest.mark.parametrize("expr", [
    "managedCluster.metadata.labels['a'] == 'b'",
    "managedCluster.scores('s').exists(x, x.name == 'gpu' && x.value > 1)",
    "managedCluster.metadata.labels['v'].versionIsLessThan('2.0.0')",
    "parseJSON(managedCluster.metadata.annotations['j']).size() > 0",
    "managedCluster.metadata.labels.map(k, k.lowerAscii()).size() > 0",
    "type(managedCluster) == map",
    "managedCluster.metadata.name > 1 || 1 + 2 > 0",  # dyn > int: a runtime question (no match), not a compile error
    "1 / 0 == 1 || managedCluster.metadata.name == 'x'",  # a runtime error only
    "managedCluster.metadata.labels['gpus'] == string(1 + 1)",
])
def test_cel_expressions_ocm_compiles(expr: str) -> None:
    assert cel_error(expr) is None


@pytest.mark.parametrize(("expr", "error"), [
    ("managedCluster.x ==", "does not compile: syntax error"),
    ("(managedCluster.x", "does not compile"),
    ("labels['a'] == 'b'", "undeclared reference to 'labels'"),
    ("managedCluster.x.exists(c, d == 1)", "undeclared reference to 'd'"),
    ("score(managedCluster, 'a') > 1", "undeclared reference to function 'score'"),
    # type errors OCM's checker reports at compile time (constants only: managedCluster is dyn)
    ("managedCluster.metadata.labels['a'] == 'b' + 1", "no matching overload for '+' applied to (string, int)"),
    ("managedCluster.metadata.name == 'x' || 1 == 'a'", "no matching overload for '==' applied to (int, string)"),
    ("!1", "no matching overload for '!' applied to (int)"),
    ("managedCluster.scores(1).exists(s, s.value > 0)", "scores() takes the name of an AddOnPlacementScore"),
])
def test_cel_expressions_ocm_rejects(expr: str, error: str) -> None:
    found = cel_error(expr)
    assert found is not None and error in found, found


def test_warnings_for_latest_and_unpinned_flower_images() -> None:
    data = with_(MINIMAL, "flower.images", {"superlink": "flwr/superlink:latest", "supernode": "flwr/supernode:1.41"})
    data["clientApps"] = []
    spec = parse_spec(data)
    found = [str(w) for w in warnings(spec)]
    assert any(f.startswith("federation.flower.images.superlink: 'flwr/superlink:latest' uses the mutable tag") for f in found)
    assert any(f.startswith("federation.flower.images.supernode: 'flwr/supernode:1.41' is not pinned") for f in found)
    assert warnings(parse_spec(MINIMAL)) == []


def test_an_existing_secret_needs_an_existing_namespace() -> None:
    data = with_(MINIMAL, "hub.tls", {"mode": "existingSecret", "secretName": "mine"})
    assert any(p.startswith("federation.hub.createNamespace: must be false with tls.mode 'existingSecret'")
               for p in problems_of(data))
    assert parse_spec(with_(data, "hub.createNamespace", False)).hub.tls.secret_name == "mine"
