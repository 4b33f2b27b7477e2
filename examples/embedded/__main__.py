"""A larger program that embeds a Flower federation.

The program owns the hub namespace (its labels, a ResourceQuota, an extra default-deny
NetworkPolicy) and the hub's Kubernetes provider; the `Federation` only adds the Flower objects,
through that provider, after the namespace and the quota exist.
"""

from pathlib import Path
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import yaml

from components import Federation
from federation.errors import SpecError
from federation.loading import CONFIG_KEY, CONFIG_NAMESPACE, parse_spec

HERE = Path(__file__).resolve().parent
DEFAULT_QUOTA = {
    "requests.cpu": "4",
    "requests.memory": "8Gi",
    "limits.cpu": "8",
    "limits.memory": "16Gi",
    "requests.storage": "10Gi",
    "persistentvolumeclaims": "2",
    "pods": "10",
}


def load_declaration() -> dict[str, Any]:
    """`flower:federation` from the stack config if set, else `declaration.yaml` next to this file."""
    declared = pulumi.Config(CONFIG_NAMESPACE).get_object(CONFIG_KEY)
    if declared is None:
        declared = yaml.safe_load((HERE / "declaration.yaml").read_text(encoding="utf-8"))
    if not isinstance(declared, dict):
        raise SystemExit("flower:federation / declaration.yaml: expected a mapping")
    # This program creates the namespace itself: the federation must not.
    return {**declared, "hub": {**declared.get("hub", {}), "createNamespace": False}}


config = pulumi.Config()
declaration = load_declaration()
try:
    spec = parse_spec(declaration)
except SpecError as exc:
    raise SystemExit("invalid federation declaration:\n" + "\n".join(str(p) for p in exc.problems)) from None

# One explicit provider for the hub cluster; every object below (and inside the federation) uses it.
hub = k8s.Provider(
    "hub",
    kubeconfig=config.get("kubeconfig") or None,
    context=config.get("context") or None,
    enable_server_side_apply=True,
)
on_hub = pulumi.ResourceOptions(provider=hub)

team = config.get("team") or "team-a"
namespace = k8s.core.v1.Namespace(
    "flower-namespace",
    metadata={
        "name": spec.hub.namespace,
        "labels": {
            "team.example.com/owner": team,
            "app.kubernetes.io/part-of": "flower-embedded",
            "pod-security.kubernetes.io/enforce": "restricted",
            "pod-security.kubernetes.io/enforce-version": "v1.33",
            "pod-security.kubernetes.io/warn": "restricted",
            "pod-security.kubernetes.io/audit": "restricted",
        },
    },
    opts=on_hub,
)
in_namespace = pulumi.ResourceOptions(provider=hub, depends_on=[namespace])

quota = k8s.core.v1.ResourceQuota(
    "flower-quota",
    metadata={"name": "flower-quota", "namespace": spec.hub.namespace},
    spec={"hard": {str(k): str(v) for k, v in (config.get_object("quota") or DEFAULT_QUOTA).items()}},
    opts=in_namespace,
)

# Ingress is denied unless another policy allows it; the federation's own NetworkPolicies (which
# are additive) open exactly the SuperLink ports, so this only closes everything else.
default_deny = k8s.networking.v1.NetworkPolicy(
    "flower-default-deny-ingress",
    metadata={"name": "default-deny-ingress", "namespace": spec.hub.namespace},
    spec={"podSelector": {}, "policyTypes": ["Ingress"]},
    opts=in_namespace,
)

federation = Federation(
    spec.name,
    {"federation": declaration, "existing_ca_certificate": None},
    pulumi.ResourceOptions(providers=[hub], depends_on=[namespace, quota]),
)

pulumi.export("namespace", namespace.metadata.apply(lambda m: m.name))
pulumi.export("superlinkAddress", federation.superlink_address)
pulumi.export("superlinkExternalAddress", federation.superlink_external_address)
pulumi.export("caCertificate", federation.ca_certificate)
pulumi.export("placementNames", federation.placement_names)
pulumi.export("addonName", federation.addon_name)
pulumi.export("clientAppNames", federation.client_app_names)
