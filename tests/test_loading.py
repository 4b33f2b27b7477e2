"""Loading a federation from stack config: valid stacks, a broad table of invalid ones, fuzzing."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import hypothesis.strategies as st
import pytest
import yaml
from hypothesis import HealthCheck, given, settings

from federation.errors import SpecError
from federation.loading import STACK_CONFIG_KEY, load_file, load_stack, parse_spec, read_stack_config
from federation.spec import FederationSpec

REPO = Path(__file__).resolve().parents[1]
STACKS = REPO / "stacks"

MINIMAL: dict[str, Any] = {
    "hub": {"exposure": {"externalNames": ["superlink.example.com"]}},
    "pools": [{"name": "cpu"}],
}


def problems_of(data: object) -> list[str]:
    with pytest.raises(SpecError) as info:
        parse_spec(data)
    return [str(p) for p in info.value.problems]


def with_(base: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A deep copy of `base` with `value` set at a dotted path (`pools.0.gpu`)."""
    data = copy.deepcopy(base)
    node: Any = data
    parts = path.split(".")
    for part in parts[:-1]:
        node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
    last = parts[-1]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return data


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_shipped_stacks_are_valid(stack: str) -> None:
    spec = load_stack(stack, STACKS)
    assert isinstance(spec, FederationSpec)
    assert spec.flower.version == "1.41.0"


def test_prod_declares_gpu_at_cluster_and_node_level() -> None:
    spec = load_stack("prod", STACKS)
    gpu = spec.pool("gpu")
    assert gpu.gpu is not None and gpu.gpu.resource_name == "nvidia.com/gpu"
    assert gpu.gpu.node_selector and gpu.gpu.tolerations
    assert gpu.selection.label_selector and gpu.selection.claim_selector and gpu.selection.cel_expressions
    assert spec.hub.exposure.type == "LoadBalancer" and spec.hub.exposure.load_balancer_source_ranges
    assert spec.hub.supernode_auth.enabled
    assert all("@sha256:" in i for i in (spec.flower.images.superlink, spec.flower.images.supernode))
    assert {p.rollout_strategy.type for p in spec.pools} == {"Progressive", "ProgressivePerGroup"}


def test_minimal_defaults_are_secure() -> None:
    spec = parse_spec(MINIMAL)
    assert spec.hub.tls.mode == "generate"
    assert spec.hub.runtime_dependency_installation is False
    assert spec.hub.persistence.enabled
    assert spec.distribution.mode == "ocm"
    assert spec.ocm_namespace == spec.hub.namespace


def test_snake_case_keys_are_accepted_like_camel_case() -> None:
    spec = parse_spec(with_(MINIMAL, "hub.create_namespace", False))
    assert spec.hub.create_namespace is False


INVALID = [
    # (path in the declaration, value, expected "field: message" fragment)
    ("pools.0.gpu", {"count": 0}, "federation.pools[0].gpu.count: must be >= 1"),
    ("pools.0.name", "GPU_pool", "federation.pools[0].name: 'GPU_pool' is not a valid DNS-1123 label"),
    ("pools.0.bogus", 1, "federation.pools[0].bogus: unknown key 'bogus'"),
    ("hub.port", 0, "federation.hub.port: must be >= 1"),
    ("hub.port", 70000, "federation.hub.port: must be <= 65535"),
    ("hub.port", "http", "federation.hub.port: must be an integer"),
    ("hub.namespace", "Flower", "federation.hub.namespace: 'Flower' is not a valid DNS-1123 label"),
    ("hub.resources", {"requests": {"cpu": "lots"}}, "federation.hub.resources.requests.cpu: 'lots' is not a Kubernetes"),
    ("hub.persistence.size", "10 GB", "federation.hub.persistence.size: '10 GB' is not a Kubernetes resource quantity"),
    ("hub.exposure.type", "Ingress", "federation.hub.exposure.type: must be one of 'ClusterIP', 'NodePort' or 'LoadBalancer'"),
    ("hub.exposure.loadBalancerSourceRanges", ["10.0.0.0/33"], "federation.hub.exposure.loadBalancerSourceRanges[0]: "),
    ("hub.exposure.externalIPs", ["999.1.1.1"], "federation.hub.exposure.externalIPs[0]: '999.1.1.1' is not an IP address"),
    ("hub.exposure.nodePort", 8080, "federation.hub.exposure.nodePort: must be >= 30000"),
    ("hub.isolation", "thread", "federation.hub.isolation: must be one of 'subprocess' or 'process'"),
    ("hub.tls.mode", "self-signed", "federation.hub.tls.mode: must be one of 'generate', 'existingSecret' or 'insecure'"),
    ("flower.version", "1.42.0", "federation.flower.version: Flower 1.42.0 is not supported yet"),
    ("flower.images", {"superlink": "Flwr/SuperLink:latest"}, "federation.flower.images.superlink: 'Flwr/SuperLink:latest' is not"),
    ("flower.images", {"supernode": "flwr/supernode"}, "federation.flower.images.supernode: 'flwr/supernode' has neither tag"),
    ("flower.images", {"superlink": "flwr/superlink:1.29.0"}, "federation.flower.images.superlink: image tag '1.29.0' is not"),
    ("flower.imagePullSecrets", ["Reg Cred"], "federation.flower.imagePullSecrets[0]: 'Reg Cred' is not a valid DNS-1123"),
    ("pools", [], "federation.pools: must have at least 1 item(s)"),
    ("pools.0.selection", {"numberOfClusters": 0}, "federation.pools[0].selection.numberOfClusters: must be >= 1"),
    ("pools.0.selection", {"labelSelector": {"matchLabels": {"-bad": "x"}}}, "federation.pools[0].selection.labelSelector.matchLabels.-bad"),
    ("pools.0.selection", {"labelSelector": {"matchLabels": {"gpu": "yes please"}}}, "'yes please' is not a valid label value"),
    ("pools.0.selection", {"prioritizers": {"configurations": [{"builtIn": "Steady", "weight": 11}]}},
     "federation.pools[0].selection.prioritizers.configurations[0].weight: must be <= 10"),
    ("pools.0.selection", {"prioritizers": {"configurations": [{"weight": 1}]}},
     "federation.pools[0].selection.prioritizers.configurations[0]: set exactly one of builtIn or addOn"),
    ("pools.0.selection", {"clusterSets": []}, "federation.pools[0].selection.clusterSets: must have at least 1 item(s)"),
    ("pools.0.selection", {"celExpressions": [" "]}, "federation.pools[0].selection.celExpressions[0]: must not be empty"),
    ("pools.0.selection", {"spreadConstraints": [{"topologyKey": "region", "maxSkew": 0}]},
     "federation.pools[0].selection.spreadConstraints[0].maxSkew: must be >= 1"),
    ("pools.0.selection", {"tolerations": [{"key": "gpu", "effect": "NoSchedule"}]},
     "federation.pools[0].selection.tolerations[0].effect: must be one of 'NoSelect', 'PreferNoSelect' or 'NoSelectIfNew'"),
    ("pools.0.rolloutStrategy", {"type": "Canary"}, "federation.pools[0].rolloutStrategy.type: must be one of 'All'"),
    ("pools.0.rolloutStrategy", {"type": "Progressive", "progressDeadline": "10 minutes"},
     "federation.pools[0].rolloutStrategy.progressDeadline: '10 minutes' is not a duration"),
    ("pools.0.rolloutStrategy", {"type": "Progressive", "maxFailures": "150%"},
     "federation.pools[0].rolloutStrategy.maxFailures: '150%' must be a count or a percentage"),
    ("pools.0.rolloutStrategy", {"type": "All", "maxConcurrency": "2"},
     "federation.pools[0].rolloutStrategy.maxConcurrency: only used with type Progressive"),
    ("pools.0.rolloutStrategy", {"type": "ProgressivePerGroup", "mandatoryDecisionGroups": ["canary"]},
     "federation.pools[0].rolloutStrategy.mandatoryDecisionGroups[0]: unknown decision group 'canary'"),
    ("pools.0.gpu", {"resourceName": None}, "federation.pools[0].gpu.resourceName: required: a GPU count needs a GPU resource name"),
    ("pools.0.gpu", {"resourceName": "gpu"}, "federation.pools[0].gpu.resourceName: 'gpu' is not an extended resource name"),
    ("pools.0.gpu", {"tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists"}]},
     "federation.pools[0].gpu.tolerations: need gpu.nodeSelector too"),
    ("pools.0.replicas", 0, "federation.pools[0].replicas: must be >= 1"),
    ("pools.0.nodeConfig", {"cluster-name": "x"}, "federation.pools[0].nodeConfig.cluster-name: is set by flower-federation"),
    ("pools.0.nodeConfig", {"lr": [0.1]}, "federation.pools[0].nodeConfig.lr: must be a string, number or boolean"),
    ("pools.0.isolation", "process", "federation.pools[0].isolation: pool 'cpu' runs ClientApps in separate SuperExec pods"),
    ("hub.tls", {"mode": "insecure"}, "federation.hub.tls.mode: 'insecure' turns TLS off; it needs allowInsecure: true"),
    ("hub.tls", {"mode": "existingSecret"}, "federation.hub.tls.secretName: required when mode is 'existingSecret'"),
    ("hub.tls", {"secretName": "mine"}, "federation.hub.tls.secretName: only used when mode is 'existingSecret'"),
    ("hub.tls", {"validityDays": 30, "renewBeforeDays": 30}, "federation.hub.tls.renewBeforeDays: must be less than validityDays"),
    ("hub.tls", {"mode": "insecure", "allowInsecure": True, "bogus": 1}, "federation.hub.tls.bogus: unknown key 'bogus'"),
    ("hub.isolation", "process", "federation.flower.images.superexec: required when hub.isolation is 'process'"),
    ("hub.exposure", {"type": "ClusterIP"}, "federation.hub.exposure: SuperNodes on managed clusters dial the SuperLink"),
    ("hub.exposure", {"type": "NodePort", "externalIPs": ["192.0.2.10"]}, "federation.hub.exposure.nodePort: required with type NodePort"),
    ("hub.exposure", {"type": "ClusterIP", "externalNames": ["a.example.com"], "loadBalancerSourceRanges": ["10.0.0.0/8"]},
     "federation.hub.exposure.loadBalancerSourceRanges: only used with type LoadBalancer"),
    ("distribution.mode", "direct", "federation.distribution.mode: 'direct' (per-cluster kubeconfigs) is not implemented yet"),
    ("distribution.mode", "gitops", "federation.distribution.mode: must be one of 'ocm' or 'direct'"),
    ("distribution.ocm", {"variables": {"CLUSTER_NAME": "x"}}, "federation.distribution.ocm.variables.CLUSTER_NAME: is reserved"),
    ("distribution.ocm", {"variables": {"1BAD": "x"}}, "federation.distribution.ocm.variables.1BAD"),
    ("distribution.ocm", {"variables": {"REGION": "x" * 1025}}, "value is 1025 characters; OCM allows at most 1024"),
    ("distribution.ocm", {"installStrategy": "Manual"}, "federation.pools[0].selection.clusters: required with installStrategy 'Manual'"),
    ("pools.0.selection", {"clusters": ["c1"]}, "federation.pools[0].selection.clusters: only used with distribution.ocm.installStrategy"),
    ("local", {"supernodesPerPool": 0}, "federation.local.supernodesPerPool: must be >= 1"),
    ("local", {"supernodesPerPool": 3, "numPartitions": 2}, "federation.local.numPartitions: must be >= the number of local SuperNodes"),
    ("clientApps", [{"name": "a", "image": "x/y:1", "pools": ["nope"]}], "federation.clientApps[0].pools[0]: unknown pool 'nope'"),
    ("clientApps", [{"name": "a", "image": "x/y:1", "pools": ["cpu"]}],
     "federation.clientApps[0].pools[0]: pool 'cpu' runs ClientApps inside the SuperNode"),
    ("clientApps", [{"name": "a", "image": "x/y:1", "pools": []}], "federation.clientApps[0].pools: must have at least 1 item(s)"),
    ("clientApps", [{"name": "a", "pools": ["cpu"]}], "federation.clientApps[0].image: required"),
    ("name", "Flower!", "federation.name: 'Flower!' is not a valid DNS-1123 label"),
    ("surprise", True, "federation.surprise: unknown key 'surprise'"),
]


@pytest.mark.parametrize(("path", "value", "expected"), INVALID, ids=[f"{p}:{e.split(':')[0]}" for p, _, e in INVALID])
def test_invalid_declarations_name_the_field(path: str, value: Any, expected: str) -> None:
    found = problems_of(with_(MINIMAL, path, value))
    assert any(expected in f for f in found), found


def test_every_problem_is_reported_not_just_the_first() -> None:
    data = with_(with_(MINIMAL, "hub.port", 0), "pools.0.replicas", 0)
    found = problems_of(data)
    assert "federation.hub.port: must be >= 1" in found
    assert "federation.pools[0].replicas: must be >= 1" in found


# --- stack files -----------------------------------------------------------------------------


def write_stack(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "Pulumi.t.yaml"
    path.write_text(text)
    return path


def test_stack_file_round_trip(tmp_path: Path) -> None:
    path = write_stack(tmp_path, yaml.safe_dump({"config": {STACK_CONFIG_KEY: MINIMAL, "kubernetes:context": "x"}}))
    assert load_file(path).pools[0].name == "cpu"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("config: [1, 2", "invalid YAML (line 1"),
        ("- a\n- b\n", "expected a Pulumi stack file with a top-level 'config:' mapping"),
        ("config:\n  kubernetes:context: x\n", "config: missing key 'flower:federation'"),
        ("config:\n  flower:federation:\n    name: a\n    name: b\n", "duplicate key 'name'"),
    ],
)
def test_bad_stack_files(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(SpecError) as info:
        read_stack_config(write_stack(tmp_path, text))
    assert expected in str(info.value)


def test_missing_stack_file(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="no such stack file"):
        load_stack("nope", tmp_path)


def test_non_mapping_declaration() -> None:
    assert problems_of(["pools"]) == ["federation: must be a mapping (got list)"]


# --- fuzzing ---------------------------------------------------------------------------------

scalars = st.one_of(st.none(), st.booleans(), st.integers(-(2**40), 2**40), st.floats(allow_nan=True), st.text(max_size=12))
json_like = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)),
    max_leaves=20,
)
keys = st.sampled_from(["name", "hub", "pools", "clientApps", "flower", "local", "distribution", "selection", "gpu",
                        "tls", "exposure", "port", "count", "mode", "isolation", "nodeConfig", "image", "resources"])
shaped = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(keys, inner, max_size=5)),
    max_leaves=25,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(json_like, shaped, st.builds(lambda d: {**MINIMAL, **d}, st.dictionaries(keys, shaped, max_size=4))))
def test_loader_only_ever_raises_spec_errors(data: object) -> None:
    try:
        parse_spec(data)
    except SpecError as exc:
        assert exc.problems
        assert all(p.path.startswith("federation") and p.message for p in exc.problems)


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=200))
def test_stack_file_reader_only_raises_spec_errors(tmp_path_factory: pytest.TempPathFactory, text: str) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "Pulumi.f.yaml"
    path.write_text(text)
    try:
        load_file(path)
    except SpecError as exc:
        assert exc.problems
