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
    # dev takes the default release; prod pins the previous one (both are verified, see flower.RELEASES).
    assert spec.flower.version == {"dev": "1.42.0", "prod": "1.41.0"}[stack]


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
    ("flower.version", "1.43.0", "federation.flower.version: Flower 1.43.0 is not supported yet"),
    ("flower.version", "1.40.0", "federation.flower.version: Flower 1.40.0 is not supported yet"),
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
    ("pools.0.selection", {"spreadConstraints": [{"topologyKey": "region", "maxSkew": 1}]},
     "federation.pools[0].selection.spreadConstraints: OCM's placement controller does not implement spreadPolicy"),
    ("pools.0.selection", {"prioritizers": {"configurations": [{"builtIn": "Spread"}]}},
     "federation.pools[0].selection.prioritizers.configurations[0].builtIn: "),
    ("pools.0.selection", {"unreachableTolerationSeconds": -1},
     "federation.pools[0].selection.unreachableTolerationSeconds: must be >= 0"),
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
    ("pools.0.nodeConfig", {"data.": 1}, "federation.pools[0].nodeConfig.data.: 'data.' is not a valid node-config key"),
    ("pools.0.nodeConfig", {"data": 1, "data.path": "/d"},
     "federation.pools[0].nodeConfig.data: clashes with 'data.path': Flower reads dotted keys as nested tables"),
    ("local.runConfig", {"a": 1, "a.b": 2}, "federation.local.runConfig.a: clashes with 'a.b'"),
    ("pools.0.isolation", "process", "federation.pools[0].isolation: pool 'cpu' runs ClientApps in separate SuperExec pods"),
    ("hub.tls", {"mode": "insecure"}, "federation.hub.tls.mode: 'insecure' turns TLS off; it needs allowInsecure: true"),
    ("hub.tls", {"mode": "existingSecret"}, "federation.hub.tls.secretName: required when mode is 'existingSecret'"),
    ("hub.tls", {"secretName": "mine"}, "federation.hub.tls.secretName: only used when mode is 'existingSecret'"),
    ("hub.tls", {"validityDays": 30, "renewBeforeDays": 30}, "federation.hub.tls.renewBeforeDays: must be less than validityDays"),
    ("hub.tls", {"mode": "insecure", "allowInsecure": True, "bogus": 1}, "federation.hub.tls.bogus: unknown key 'bogus'"),
    ("flower.images", {"superexec": None}, "federation.flower.images.superexec: required when hub.isolation is 'process'"),
    # issue #14: subprocess isolation hands ServerApp tasks to anyone reaching the Runtime API
    ("hub.isolation", "subprocess", "federation.hub.isolation: 'subprocess' lets anyone who reaches the SuperLink take"),
    ("hub.apiPort", 8000, "federation.hub.apiPort: must differ from hub.port (8000)"),
    ("hub.apiPort", 0, "federation.hub.apiPort: must be >= 1"),
    ("hub.proxy", {"image": "nginx@sha256:abc"}, "federation.hub.proxy.image: 'nginx@sha256:abc' is not a valid image"),
    ("hub.proxy", {"resources": {"requests": {"memory": "2Gi"}, "limits": {"memory": "1Gi"}}},
     "federation.hub.proxy.resources.requests.memory: 2Gi is more than the limit 1Gi"),
    ("hub.controlClients", [{"podSelector": {"matchExpressions": [{"key": "a", "operator": "In"}]}}],
     "federation.hub.controlClients[0].podSelector.matchExpressions[0].values: required"),
    ("hub.controlClients", [{"podSelector": {}, "namespaceSelector": {"matchLabels": {"a b": "x"}}}],
     "federation.hub.controlClients[0].namespaceSelector"),
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
    # --- issue #13: what Kubernetes, OCM or Flower refuse at apply time ---------------------------
    # generated names by kind, on the field the user wrote
    ("name", "1fed", "federation.name: the SuperLink Service name '1fed-superlink' derived from it is not a DNS-1035"),
    ("name", "f" * 55, "federation.name: the SuperLink Service name"),
    ("name", "f" * 60, "federation.pools[0].name: the Placement name"),
    ("pools.0.name", "p" * 60, "federation.pools[0].name: the Placement name 'flower-ppp"),
    ("pools.0.selection", {"clusters": ["Cluster.One"]}, "federation.pools[0].selection.clusters[0]: 'Cluster.One' is not a valid DNS-1123 label"),
    ("pools.0.selection", {"clusters": ["a.b"]}, "federation.pools[0].selection.clusters[0]: 'a.b' is not a valid DNS-1123 label"),
    # resources and storage
    ("hub.resources", {"requests": {"cpu": "2"}}, "federation.hub.resources.requests.cpu: 2 is more than the limit 1 (the default limit"),
    ("hub.resources", {"requests": {"memory": "2Gi"}, "limits": {"memory": "1Gi"}},
     "federation.hub.resources.requests.memory: 2Gi is more than the limit 1Gi (limits.memory)"),
    ("pools.0.resources", {"requests": {"cpu": "1500m"}, "limits": {"cpu": "1.2"}}, "federation.pools[0].resources.requests.cpu: 1500m is more"),
    ("hub.superexec.resources", {"requests": {"memory": "2G"}}, "federation.hub.superexec.resources.requests.memory: 2G is more"),
    ("hub.persistence.size", "0", "federation.hub.persistence.size: '0' must be greater than zero"),
    ("hub.persistence.size", "0Gi", "federation.hub.persistence.size: '0Gi' must be greater than zero"),
    ("hub.persistence.size", "-1Gi", "federation.hub.persistence.size: '-1Gi' is not a Kubernetes resource quantity"),
    ("hub.persistence.storageClass", "Fast SSD", "federation.hub.persistence.storageClass: 'Fast SSD' is not a valid DNS-1123 subdomain"),
    # label selectors (also claim selectors and decision group selectors)
    ("pools.0.selection", {"labelSelector": {"matchExpressions": [{"key": "a", "operator": "In"}]}},
     "federation.pools[0].selection.labelSelector.matchExpressions[0].values: required (at least one value) with operator In"),
    ("pools.0.selection", {"labelSelector": {"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]}},
     "federation.pools[0].selection.labelSelector.matchExpressions[0].values: must be empty with operator Exists"),
    ("pools.0.selection", {"claimSelector": {"matchExpressions": [{"key": "a", "operator": "NotIn"}]}},
     "federation.pools[0].selection.claimSelector.matchExpressions[0].values: required"),
    ("pools.0.selection", {"claimSelector": {"matchExpressions": [{"key": "a", "operator": "DoesNotExist", "values": ["1"]}]}},
     "federation.pools[0].selection.claimSelector.matchExpressions[0].values: must be empty with operator DoesNotExist"),
    ("pools.0.selection", {"decisionStrategy": {"decisionGroups": [
        {"groupName": "g1", "labelSelector": {"matchExpressions": [{"key": "a", "operator": "In"}]}}]}},
     "federation.pools[0].selection.decisionStrategy.decisionGroups[0].labelSelector.matchExpressions[0].values: required"),
    # Placement fields against the CRD
    ("pools.0.selection", {"decisionStrategy": {"decisionGroups": [{"groupName": "a"}]}},
     "federation.pools[0].selection.decisionStrategy.decisionGroups[0].groupName: 'a' is not a valid decision group name"),
    ("pools.0.selection", {"decisionStrategy": {"decisionGroups": [{"groupName": "-canary"}]}}, "'-canary' is not a valid decision group"),
    ("pools.0.selection", {"decisionStrategy": {"clustersPerDecisionGroup": 0}},
     "federation.pools[0].selection.decisionStrategy.clustersPerDecisionGroup: '0' must be at least 1"),
    ("pools.0.selection", {"decisionStrategy": {"clustersPerDecisionGroup": "0%"}}, "clustersPerDecisionGroup: '0%' must be at least 1"),
    ("pools.0.selection", {"decisionStrategy": {"clustersPerDecisionGroup": True}}, "clustersPerDecisionGroup: must be a count"),
    ("pools.0.selection", {"numberOfClusters": 2**31}, "federation.pools[0].selection.numberOfClusters: must be <= 2147483647"),
    ("pools.0.selection", {"tolerations": [{"key": "k", "value": "v" * 1025}]}, "federation.pools[0].selection.tolerations[0].value: must be at most 1024"),
    ("pools.0.selection", {"celExpressions": ["managedCluster.metadata.labels['a'] =="]},
     "federation.pools[0].selection.celExpressions[0]: does not compile: syntax error"),
    ("pools.0.selection", {"celExpressions": ["cluster.metadata.name == 'a'"]},
     "federation.pools[0].selection.celExpressions[0]: undeclared reference to 'cluster'"),
    ("pools.0.selection", {"celExpressions": ["managedCluster.metadata.labels['v'].versionGreaterThan('1.2')"]},
     "undeclared reference to function 'versionGreaterThan'"),
    ("pools.0.selection", {"celExpressions": ["managedCluster.scores('s').exists(s, t.value > 1)"]}, "undeclared reference to 't'"),
    ("pools.0.rolloutStrategy", {"type": "ProgressivePerGroup", "mandatoryDecisionGroups": ["x"]},
     "federation.pools[0].rolloutStrategy.mandatoryDecisionGroups[0]: 'x' is not a valid decision group name"),
    ("pools.0.rolloutStrategy", {"type": "Progressive", "progressDeadline": "none"}, "progressDeadline: 'none' is not a duration"),
    ("pools.0.rolloutStrategy", {"type": "Progressive", "maxConcurrency": True}, "maxConcurrency: must be a count"),
    # pod tolerations
    ("pools.0.gpu", {"nodeSelector": {"a": "b"}, "tolerations": [{"value": "x"}]},
     "federation.pools[0].gpu.tolerations[0].operator: must be Exists when key is empty"),
    ("pools.0.gpu", {"nodeSelector": {"a": "b"}, "tolerations": [{"key": "k", "tolerationSeconds": 5, "effect": "NoSchedule"}]},
     "federation.pools[0].gpu.tolerations[0].tolerationSeconds: only used with effect NoExecute"),
    ("pools.0.gpu", {"nodeSelector": {"a": "b"}, "tolerations": [{"key": "k", "operator": "Exists", "value": "v"}]},
     "federation.pools[0].gpu.tolerations[0].value: must be empty with operator Exists"),
    ("pools.0.gpu", {"nodeSelector": {"a": "b"}, "tolerations": [{"key": "k", "effect": "NoExecute", "tolerationSeconds": 2**63}]},
     "tolerations[0].tolerationSeconds: must be <= 9223372036854775807"),
    # Service fields
    ("hub.exposure.externalIPs", ["127.0.0.1"], "federation.hub.exposure.externalIPs[0]: 127.0.0.1 is a loopback address"),
    ("hub.exposure.externalIPs", ["0.0.0.0"], "federation.hub.exposure.externalIPs[0]: 0.0.0.0 is an unspecified address"),
    ("hub.exposure.externalIPs", ["169.254.10.1"], "federation.hub.exposure.externalIPs[0]: 169.254.10.1 is a link-local address"),
    ("hub.exposure.externalIPs", ["fe80::1"], "federation.hub.exposure.externalIPs[0]: fe80::1 is a link-local address"),
    ("hub.exposure.externalIPs", ["::1"], "federation.hub.exposure.externalIPs[0]: ::1 is a loopback address"),
    ("hub.exposure.annotations", {"not a key": "x"}, "federation.hub.exposure.annotations.not a key: 'not a key' is not a valid annotation key"),
    ("hub.exposure.annotations", {"Example.com/x": "x"}, "'Example.com/x' is not a valid annotation key"),
    ("hub.exposure.annotations", {"a": "x" * (256 * 1024)}, "federation.hub.exposure.annotations: 262145 bytes in total, over"),
    # registry mirrors
    ("flower.registryMirrors", [{"mirror": "https://mirror.example.com"}], "federation.flower.registryMirrors[0].mirror: 'https://mirror"),
    ("flower.registryMirrors", [{"mirror": "my mirror"}], "federation.flower.registryMirrors[0].mirror: 'my mirror' is not a registry host"),
    ("flower.registryMirrors", [{"source": "docker.io ", "mirror": "m.example.com"}], "federation.flower.registryMirrors[0].source: 'docker.io '"),
    ("flower.registryMirrors", [{"mirror": ""}], "federation.flower.registryMirrors[0].mirror: '' is not a registry host"),
    # YAML booleans are not numbers
    ("hub.port", True, "federation.hub.port: must be an integer (got True)"),
    ("pools.0.replicas", True, "federation.pools[0].replicas: must be an integer (got True)"),
    ("pools.0.gpu", {"count": True}, "federation.pools[0].gpu.count: must be an integer (got True)"),
    ("hub.exposure.nodePort", False, "federation.hub.exposure.nodePort: must be an integer (got False)"),
    ("local.rounds", True, "federation.local.rounds: must be an integer (got True)"),
    # huge values are cut, not echoed whole
    ("pools.0.name", "X" * 5000, "(5000 characters)"),
]

#: Legitimate declarations that Kubernetes and OCM accept: validate must accept them too.
VALID = [
    ("pools.0.selection", {"decisionStrategy": {"clustersPerDecisionGroup": 5}}),
    ("pools.0.selection", {"decisionStrategy": {"clustersPerDecisionGroup": "25%"}}),
    ("pools.0.selection", {"decisionStrategy": {"decisionGroups": [{"groupName": "Canary_1.x"}, {"groupName": "EU"}]}}),
    ("pools.0.rolloutStrategy", {"type": "Progressive", "maxConcurrency": 2, "maxFailures": 1, "progressDeadline": "None"}),
    ("pools.0.rolloutStrategy", {"type": "Progressive", "maxConcurrency": "50%", "maxFailures": "10%", "progressDeadline": "1h30m"}),
    ("pools.0.rolloutStrategy", {"type": "All", "maxFailures": 0}),
    ("pools.0.selection", {"celExpressions": [
        "managedCluster.metadata.labels['version'].versionIsGreaterThan('1.30.0')",
        "managedCluster.scores('resource-usage-score').filter(s, s.name == 'cpuAvailable').all(e, e.value > 2)",
        "managedCluster.status.clusterClaims.exists(c, c.name == 'gpu.count' && int(c.value) >= 2)",
        "managedCluster.metadata.name in ['a', 'b'] && has(managedCluster.metadata.labels)",
        "managedCluster.status.allocatable['cpu'].quantityIsGreaterThan('4')",
        "managedCluster.metadata.?labels.orValue({}).size() > 0",
    ]}),
    ("pools.0.selection", {"tolerations": [{"key": "gpu", "value": "Any value, even with spaces", "effect": "NoSelect"}]}),
    ("pools.0.selection", {"labelSelector": {"matchExpressions": [{"key": "a", "operator": "Exists"},
                                                                   {"key": "b", "operator": "NotIn", "values": ["x"]}]}}),
    ("pools.0.gpu", {"nodeSelector": {"a": "b"}, "tolerations": [{"operator": "Exists"},
                                                               {"key": "k", "effect": "NoExecute", "tolerationSeconds": 30}]}),
    ("hub.resources", {"requests": {"cpu": "1", "memory": "1Gi"}}),
    ("hub.resources", {"requests": {"cpu": "2"}, "limits": {"cpu": "2000m"}}),
    ("hub.resources", {"requests": {"memory": "1G"}}),  # 1G < 1Gi (the default limit)
    ("hub.persistence", {"size": "500Mi", "storageClass": "fast.ssd"}),
    ("hub.exposure", {"externalIPs": ["192.0.2.10", "2001:db8::1"], "externalNames": ["a.example.com"],
                      "annotations": {"service.beta.kubernetes.io/aws-load-balancer-type": "nlb", "Note_1": "x"}}),
    ("flower.registryMirrors", [{"mirror": "mirror.example.com:5000/docker-hub"}, {"source": "ghcr.io", "mirror": "10.0.0.5:5000"}]),
    # with ClientApps, the addon feature label (addon-<name>-supernode by default) caps the name at 47
    ("name", "f" * 47),
    ("hub.create_namespace", False),
    ("distribution.ocm.installStrategy", "Manual"),
]


def _valid_case(path: str, value: Any) -> dict[str, Any]:
    data = with_(MINIMAL, path, value)
    if path == "distribution.ocm.installStrategy":
        data = with_(data, "pools.0.selection", {"clusters": ["cluster-1", "c2"]})
    return data


@pytest.mark.parametrize(("path", "value"), VALID, ids=[f"{p}:{i}" for i, (p, _) in enumerate(VALID)])
def test_legitimate_declarations_are_accepted(path: str, value: Any) -> None:
    assert isinstance(parse_spec(_valid_case(path, value)), FederationSpec)


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


def test_non_utf8_stack_file(tmp_path: Path) -> None:
    path = tmp_path / "Pulumi.b.yaml"
    path.write_bytes(b"config:\n  flower:federation: \xff\xfe\n")
    with pytest.raises(SpecError, match=r"not UTF-8 text \(byte 0xff at offset 29\)"):
        load_file(path)


@pytest.mark.parametrize("depth", [200, 100_000])
def test_deeply_nested_yaml_is_a_problem_not_a_crash(tmp_path: Path, depth: int) -> None:
    path = write_stack(tmp_path, "config:\n  flower:federation:\n    pools: " + "[" * depth + "]" * depth + "\n")
    with pytest.raises(SpecError, match="nested"):
        load_file(path)


def test_deeply_nested_data_is_a_problem_not_a_crash() -> None:
    data: Any = []
    for _ in range(5000):
        data = [data]
    assert problems_of({"pools": data}) == ["federation: nested more than 64 levels deep"]


def test_missing_stack_file(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match=r"Pulumi\.nope\.yaml: no such file"):
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


yaml_scalars = st.one_of(st.sampled_from(["true", "yes", "~", "1e3", "0x10", "'x'", "\"\\u00e9\"", "-", "&a x", "*a", "!!str 1",
                                          "[", "{", "}", ":", "\t"]), st.text(max_size=8))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(["name", "hub", "pools", "port", "clientApps", "- name", "selection",
                                            "gpu", "count", "  "]), yaml_scalars, st.integers(0, 4)), max_size=12),
       st.binary(max_size=8))
def test_generated_yaml_only_raises_spec_errors(tmp_path_factory: pytest.TempPathFactory,
                                                lines: list[tuple[str, str, int]], tail: bytes) -> None:
    body = "".join(f"{'  ' * (indent + 2)}{key}: {value}\n" for key, value, indent in lines)
    path = tmp_path_factory.mktemp("fuzz") / "Pulumi.g.yaml"
    path.write_bytes(f"config:\n  flower:federation:\n{body}".encode() + tail)
    try:
        load_file(path)
    except SpecError as exc:
        assert exc.problems and all(p.message for p in exc.problems)
