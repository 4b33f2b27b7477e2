"""The hub's SuperNode registrar (`hub.supernodeAuth.registration: Automatic`): its objects on the hub.

Each SuperNode generates its key pair on its own cluster (:func:`federation.manifests.ocm.addon.node_key_init`)
and publishes the public key in a ConfigMap whose value the work agent feeds back into the addon's
ManifestWork status on the hub. The registrar (:mod:`federation.agents.registrar`, run with the image's
Python from a ConfigMap) registers those keys with the SuperLink's Control API in-cluster and
unregisters them when their cluster leaves.

Least privilege: cluster-wide `get/list/watch` on ManifestWorks (read-only; it never sees a private
key: none exists on the hub), `create` ConfigMaps and `get/update` of its report ConfigMap in the hub
namespace; egress to DNS, the SuperLink's port and the API server only; no Service, nothing dials it.
"""

from __future__ import annotations

import functools
import hashlib
from importlib import resources
from pathlib import PurePosixPath

from federation import flower
from federation.manifests import common
from federation.manifests.common import Obj
from federation.manifests.hub import (
    CA_CERT_KEY,
    REGISTRAR_COMPONENT,
    SUPERLINK_COMPONENT,
    api_address,
    secret_volume,
    tls_secret_name,
)
from federation.manifests.ocm.names import (
    NODE_PUBLIC_KEY,
    automatic_registration,
    node_public_key_name,
    registrar_name,
    registrations_name,
)
from federation.spec import FederationSpec

#: The script's file name in its ConfigMap, and where the container finds it.
SCRIPT_KEY = "registrar.py"
SCRIPT_DIR = "/etc/flower-federation/registrar"
#: Its API credentials (a projected token, rotated by the kubelet; the pod automounts none).
API_DIR = "/var/run/secrets/flower-registrar"
API_TOKEN_SECONDS = 3600
#: Port of its `/healthz` and `/readyz` (probes only: no Service, the NetworkPolicy admits nothing).
HEALTH_PORT = 9097
#: The key of the report ConfigMap (:func:`~federation.manifests.ocm.names.registrations_name`).
REPORT_KEY = "registrations.json"


@functools.cache
def script() -> str:
    """The registrar's source, as shipped in its ConfigMap (read once: every builder call ships the same file)."""
    return resources.files("federation.agents").joinpath("registrar.py").read_text(encoding="utf-8")


def image(spec: FederationSpec) -> str:
    """The registrar's image: `registrar.image`, else the ServerApp SuperExec's (Python and flwr)."""
    img = spec.hub.supernode_auth.registrar.image or spec.flower.images.superexec
    if img is None:  # validation requires one of them
        raise ValueError("hub.supernodeAuth.registrar.image is required when flower.images.superexec is not set")
    return img


def process(spec: FederationSpec) -> flower.Process:
    """The registrar's command line and environment (Flower's offline settings: it imports flwr)."""
    ocm = spec.distribution.ocm
    argv = ("python", str(PurePosixPath(SCRIPT_DIR) / SCRIPT_KEY),
            "--control-address", api_address(spec),
            "--ca-file", flower.CONTAINER.ca_cert,
            "--addon", ocm.addon_name,
            "--agent-namespace", ocm.agent_namespace,
            "--public-key-configmap", node_public_key_name(spec),
            "--public-key-value", NODE_PUBLIC_KEY,
            "--report-configmap", registrations_name(spec),
            "--instance", spec.name,
            "--api-dir", API_DIR,
            "--interval", str(spec.hub.supernode_auth.registrar.sync_interval_seconds),
            "--health-port", str(HEALTH_PORT))
    return flower.Process(argv=argv, env=flower.environment(flower.CONTAINER), port=HEALTH_PORT,
                          health_path="/healthz", writable_paths=flower.CONTAINER.writable_paths())


def _rbac(spec: FederationSpec) -> list[Obj]:
    ns, name = spec.hub.namespace, registrar_name(spec)
    labels = common.labels(spec, REGISTRAR_COMPONENT)
    subject = [{"kind": "ServiceAccount", "name": name, "namespace": ns}]
    return [
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
         "metadata": common.metadata(name, labels=labels),
         "rules": [{"apiGroups": ["work.open-cluster-management.io"], "resources": ["manifestworks"],
                    "verbs": ["get", "list", "watch"]}]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
         "metadata": common.metadata(name, labels=labels),
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
         "subjects": subject},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": common.metadata(name, ns, labels=labels),
         "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["create"]},
                   {"apiGroups": [""], "resources": ["configmaps"], "resourceNames": [registrations_name(spec)],
                    "verbs": ["get", "update"]}]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
         "metadata": common.metadata(name, ns, labels=labels),
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
         "subjects": subject},
    ]


def _deployment(spec: FederationSpec) -> Obj:
    ns, name = spec.hub.namespace, registrar_name(spec)
    proc = process(spec)
    volumes, mounts = common.scratch_volumes(proc)
    volumes += [
        {"name": "script", "configMap": {"name": name, "items": [{"key": SCRIPT_KEY, "path": SCRIPT_KEY}]}},
        common.api_token_volume("api", API_TOKEN_SECONDS),
    ]
    mounts += [{"name": "script", "mountPath": SCRIPT_DIR, "readOnly": True},
               {"name": "api", "mountPath": API_DIR, "readOnly": True}]
    secret = tls_secret_name(spec)
    if secret is not None:  # only the CA: it verifies the SuperLink
        volumes.append(secret_volume("tls-ca", secret, (CA_CERT_KEY,)))
        mounts.append({"name": "tls-ca", "mountPath": flower.CONTAINER.tls_dir, "readOnly": True})
    reg = spec.hub.supernode_auth.registrar
    ctr = common.container("registrar", image(spec), proc, res=common.resources(reg.resources), mounts=mounts,
                           pull_policy=spec.flower.image_pull_policy,
                           ports=[{"name": "health", "containerPort": HEALTH_PORT, "protocol": "TCP"}])
    ctr["readinessProbe"] = {**ctr["readinessProbe"], "httpGet": {**ctr["readinessProbe"]["httpGet"], "path": "/readyz"}}
    pod: Obj = {
        "serviceAccountName": name,
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "securityContext": common.pod_security_context(),
        "containers": [ctr],
        "volumes": volumes,
    }
    if spec.flower.image_pull_secrets:
        pod["imagePullSecrets"] = common.image_pull_secrets(spec)
    meta: Obj = {"labels": common.labels(spec, REGISTRAR_COMPONENT),
                 "annotations": {"checksum/script": hashlib.sha256(script().encode()).hexdigest()}}
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": common.metadata(name, ns, labels=common.labels(spec, REGISTRAR_COMPONENT)),
        "spec": {"replicas": 1, "strategy": {"type": "Recreate"}, "revisionHistoryLimit": 5,
                 "selector": {"matchLabels": common.selector_labels(spec, REGISTRAR_COMPONENT)},
                 "template": {"metadata": meta, "spec": pod}},
    }


def _network_policy(spec: FederationSpec) -> Obj:
    api = spec.hub.supernode_auth.registrar.api_server
    api_rule: Obj = {"ports": [{"protocol": "TCP", "port": p} for p in api.ports]}
    if api.cidrs:
        api_rule = {"to": [{"ipBlock": {"cidr": c}} for c in api.cidrs], **api_rule}
    dns = [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]
    return {
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": common.metadata(registrar_name(spec), spec.hub.namespace,
                                    labels=common.labels(spec, REGISTRAR_COMPONENT)),
        "spec": {
            "podSelector": {"matchLabels": common.selector_labels(spec, REGISTRAR_COMPONENT)},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [],
            "egress": [{"ports": dns},
                       {"to": [{"podSelector": {"matchLabels": common.selector_labels(spec, SUPERLINK_COMPONENT)}}],
                        "ports": [{"protocol": "TCP", "port": spec.hub.api_port}]},
                       api_rule],
        },
    }


def registrar_objects(spec: FederationSpec) -> list[Obj]:
    """The registrar's objects in apply order (none unless `registration: Automatic`)."""
    if not automatic_registration(spec):
        return []
    ns, name = spec.hub.namespace, registrar_name(spec)
    labels = common.labels(spec, REGISTRAR_COMPONENT)
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": common.metadata(name, ns, labels=labels),
         "automountServiceAccountToken": False},
        *_rbac(spec),
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": common.metadata(name, ns, labels=labels),
         "data": {SCRIPT_KEY: script()}},
        _deployment(spec),
        _network_policy(spec),
    ]
