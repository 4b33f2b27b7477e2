"""The SuperNode template addon: AddOnTemplates, AddOnDeploymentConfigs, the ClusterManagementAddOn, MCAs."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import PurePosixPath
from typing import Any

from federation import flower
from federation.manifests import common
from federation.manifests.common import Obj
from federation.manifests.ocm.health import supernode_health_rule
from federation.manifests.ocm.names import (
    ADDON_GROUP,
    ADDON_NAMESPACE_LABEL,
    API_ADDON,
    CA_CHECKSUM_ANNOTATION,
    CMA_DELETION,
    DELETION_ORPHAN,
    NODE_AUTH_KEY,
    NODE_PUBLIC_KEY,
    SKIP_AWAIT,
    SUPERNODE_CONTAINER,
    VAR_NUM_PARTITIONS,
    VAR_PARTITION_ID,
    VAR_SUPERLINK_ADDRESS,
    automatic_registration,
    ca_bundle,
    ca_checksum,
    ca_configmap_name,
    clientapp_selector,
    cluster_config_name,
    config_name,
    node_auth_secret_name,
    node_key_writer_name,
    node_public_key_name,
    placement_name,
    secret_writer_name,
    spoke_image,
    spoke_image_pull_secrets,
    spoke_superexec_secret_name,
    supernode_labels,
    supernode_name,
    template_name,
    uses_tls,
)
from federation.manifests.ocm.placement import manual_clusters, rollout_strategy
from federation.spec import FederationSpec, GpuSpec, NodeConfigValue, PoolSpec
from federation.templating import Token

#: The SuperNode pod's init container that provisions the spoke's SuperExec secret (process isolation).
SECRET_INIT_CONTAINER = "superexec-secret"  # noqa: S105 - a container name
#: Where the init containers (only they) find a short-lived API token, the cluster CA and their namespace.
SECRET_INIT_API_DIR = "/var/run/secrets/flower-superexec-init"  # noqa: S105 - a mount path
#: The projected volume mounted there.
API_VOLUME = "spoke-api"
#: The SuperNode pod's init container that provisions its node key (`registration: Automatic`).
NODE_KEY_INIT_CONTAINER = "supernode-key"
#: The memory-backed emptyDir it copies the private key to (the SuperNode's --auth-supernode-private-key).
NODE_KEY_VOLUME = "node-auth"
#: Lifetime of that projected token (the kubelet's minimum is 10 minutes).
SECRET_INIT_TOKEN_SECONDS = 600

#: What both init scripts start with (after their imports and argv): the pod's namespace and projected token from
#: `api_dir`, and `call(method, path, body)` -> (status, body) against the API server with the cluster's CA.
_SPOKE_API = """\
read = lambda f: open(os.path.join(api_dir, f)).read().strip()
ns, token = read("namespace"), read("token")
host, port = os.environ["KUBERNETES_SERVICE_HOST"], int(os.environ.get("KUBERNETES_SERVICE_PORT", "443"))
ctx = ssl.create_default_context(cafile=os.path.join(api_dir, "ca.crt"))
headers = {"Authorization": "Bearer " + token, "Accept": "application/json", "Content-Type": "application/json"}
def call(method, path, body=None): c = http.client.HTTPSConnection(host, port, context=ctx, timeout=15); \
c.request(method, path, body=body, headers=headers); r = c.getresponse(); return r.status, r.read()
"""

#: Gets the Secret, creates it with 32 random bytes (hex) when absent (a 409 from a replica racing us is
#: fine: read back whatever won), and writes its value, exact bytes, where the SuperNode reads it.
#: Python's standard library only (every flwr image has it). No line starts with a space (YAML emitters
#: fold such scalars differently) and no `{{` / `}}` (OCM's template grammar).
_SECRET_INIT = """\
import base64, http.client, json, os, secrets, ssl, sys
api_dir, name, out, instance = sys.argv[1:5]
""" + _SPOKE_API + """\
url = f"/api/v1/namespaces/{ns}/secrets"
status, raw = call("GET", f"{url}/{name}")
labels = {"app.kubernetes.io/managed-by": "flower-federation", "app.kubernetes.io/instance": instance}
body = {"apiVersion": "v1", "kind": "Secret", "type": "Opaque", "metadata": {"name": name, "labels": labels} }
body["data"] = {"secret": base64.b64encode(secrets.token_hex(32).encode()).decode()}
if status == 404: created, _ = call("POST", url, json.dumps(body)); print(f"Secret {ns}/{name}: create -> HTTP {created}")
if status == 404: status, raw = call("GET", f"{url}/{name}")
if status != 200: sys.exit(f"cannot read Secret {ns}/{name}: HTTP {status}: {raw[:300].decode(errors='replace')}")
data = base64.b64decode(json.loads(raw).get("data", {}).get("secret", ""))
if not data: sys.exit(f"Secret {ns}/{name} has no 'secret' key (or an empty one)")
fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o440); os.write(fd, data); os.close(fd)
print(f"SuperExec secret of {ns}/{name} written to {out} ({len(data)} bytes)")
"""


_INIT_RESOURCES = {"requests": {"cpu": "10m", "memory": "32Mi"}, "limits": {"cpu": "200m", "memory": "64Mi"}}


def superexec_secret_init(spec: FederationSpec, pool: PoolSpec) -> tuple[Obj, list[Obj]]:
    """The init container that provisions the spoke's SuperExec secret, and the volumes it needs.

    The secret never exists on the hub: AddOnTemplates and ManifestWorks are plain text there. The
    SuperNode pod's init container creates the Secret :func:`~federation.manifests.ocm.names.spoke_superexec_secret_name`
    in the agent namespace when absent and copies its value into a memory-backed emptyDir the SuperNode
    reads (`--superexec-auth-secret-file`); the ClientApp SuperExec pods mount the Secret itself. Only
    the init containers get an API token (a projected, 10-minute one; the pod does not automount one), bound
    by :func:`~federation.manifests.ocm.names.secret_writer_name` to `create` Secrets and `get` that one.
    """
    secret_file = PurePosixPath(flower.CONTAINER.superexec_secret)
    process = flower.Process(argv=("python", "-c", _SECRET_INIT, SECRET_INIT_API_DIR, spoke_superexec_secret_name(spec),
                                   str(secret_file), spec.name))
    mounts: list[Obj] = [{"name": "superexec-secret", "mountPath": str(secret_file.parent)},
                         {"name": API_VOLUME, "mountPath": SECRET_INIT_API_DIR, "readOnly": True}]
    ctr = common.container(SECRET_INIT_CONTAINER, spoke_image(spec, pool.image or spec.flower.images.supernode), process,
                           res=_INIT_RESOURCES, mounts=mounts, pull_policy=spec.flower.image_pull_policy, probes=False)
    return ctr, [{"name": "superexec-secret", "emptyDir": {"medium": "Memory", "sizeLimit": "1Mi"}}]


#: Reads the SuperNode's key from its Secret (shipped empty by the addon, `CreateOnly`), generating an
#: ECDSA P-384 key pair when it holds none (or no OpenSSH EC key), writes the private key where the
#: SuperNode reads it, and publishes the OpenSSH public key in the ConfigMap whose status feedback brings
#: it to the hub. A 409 (another replica wrote first) exits, and the restarted container reads the winner's
#: key. Same constraints as _SECRET_INIT; `cryptography` is a dependency of flwr, so every flwr image has it.
_NODE_KEY_INIT = """\
import base64, http.client, json, os, ssl, sys
from cryptography.hazmat.primitives import serialization as ser
from cryptography.hazmat.primitives.asymmetric import ec
api_dir, secret, secret_key, cm, cm_key, out = sys.argv[1:7]
""" + _SPOKE_API + """\
def need(what, status, raw): return json.loads(raw) if status == 200 else \
sys.exit(f"{what}: HTTP {status}: {raw[:300].decode(errors='replace')}")
def parse(pem): return ser.load_ssh_private_key(pem, None)
surl, curl = f"/api/v1/namespaces/{ns}/secrets/{secret}", f"/api/v1/namespaces/{ns}/configmaps/{cm}"
obj = need(f"cannot read Secret {ns}/{secret}", *call("GET", surl))
pem = base64.b64decode((obj.get("data") or {}).get(secret_key, ""))
key = None
try: key = parse(pem) if pem else None
except (ValueError, TypeError): print(f"Secret {ns}/{secret}: '{secret_key}' is not an OpenSSH private key: replacing it")
fresh = not isinstance(key, ec.EllipticCurvePrivateKey)
key = ec.generate_private_key(ec.SECP384R1()) if fresh else key
pem = key.private_bytes(ser.Encoding.PEM, ser.PrivateFormat.OpenSSH, ser.NoEncryption()) if fresh else pem
if fresh: obj["data"] = {**(obj.get("data") or {}), secret_key: base64.b64encode(pem).decode()}
status, raw = call("PUT", surl, json.dumps(obj)) if fresh else (200, b"{}")
if status == 409: sys.exit(f"Secret {ns}/{secret} changed while the new key was written (another replica?): retrying")
need(f"cannot write Secret {ns}/{secret}", status, raw)
print(f"Secret {ns}/{secret}: " + ("generated a new ECDSA P-384 key" if fresh else "using its key"))
pub = key.public_key().public_bytes(ser.Encoding.OpenSSH, ser.PublicFormat.OpenSSH).decode()
cmo = need(f"cannot read ConfigMap {ns}/{cm}", *call("GET", curl))
if (cmo.get("data") or {}).get(cm_key) != pub: cmo["data"] = {**(cmo.get("data") or {}), cm_key: pub}; \
need(f"cannot write ConfigMap {ns}/{cm}", *call("PUT", curl, json.dumps(cmo))); \
print(f"ConfigMap {ns}/{cm}: public key published")
fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o440); os.write(fd, pem); os.close(fd)
print(f"private key written to {out}; public key {pub.split()[0]} {pub.split()[1][-16:]}")
"""


def node_key_init(spec: FederationSpec, pool: PoolSpec) -> tuple[Obj, list[Obj]]:
    """`registration: Automatic`: the init container that provisions the SuperNode's key on its own cluster.

    The private key is born in the spoke's Secret :func:`~federation.manifests.ocm.names.node_auth_secret_name`
    and never leaves the cluster; the SuperNode reads a copy from a memory-backed emptyDir. The public key
    goes into :func:`~federation.manifests.ocm.names.node_public_key_name`, which the work agent feeds back
    to the hub (see :func:`node_key_manifest_configs`) for the registrar.
    """
    key_file = PurePosixPath(flower.CONTAINER.node_private_key)
    process = flower.Process(argv=("python", "-c", _NODE_KEY_INIT, SECRET_INIT_API_DIR, node_auth_secret_name(spec),
                                   NODE_AUTH_KEY, node_public_key_name(spec), NODE_PUBLIC_KEY, str(key_file)))
    mounts: list[Obj] = [{"name": NODE_KEY_VOLUME, "mountPath": str(key_file.parent)},
                         {"name": API_VOLUME, "mountPath": SECRET_INIT_API_DIR, "readOnly": True}]
    ctr = common.container(NODE_KEY_INIT_CONTAINER, spoke_image(spec, pool.image or spec.flower.images.supernode),
                           process, res=_INIT_RESOURCES, mounts=mounts, pull_policy=spec.flower.image_pull_policy,
                           probes=False)
    return ctr, [{"name": NODE_KEY_VOLUME, "emptyDir": {"medium": "Memory", "sizeLimit": "1Mi"}}]


def node_key_objects(spec: FederationSpec, pool: PoolSpec) -> list[Obj]:
    """The empty key Secret and public-key ConfigMap (applied `CreateOnly`) and the Role that writes them.

    Shipped by the addon, both are deleted with it (a cluster that leaves and rejoins gets a new key: Flower
    never accepts an unregistered key again). Only `get` and `update` of these two names: nothing may
    create, list or delete.
    """
    ns = spec.distribution.ocm.agent_namespace
    labels = supernode_labels(spec, pool)
    name = node_key_writer_name(spec)
    return [
        {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
         "metadata": common.metadata(node_auth_secret_name(spec), ns, labels=labels)},
        {"apiVersion": "v1", "kind": "ConfigMap",
         "metadata": common.metadata(node_public_key_name(spec), ns, labels=labels)},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": common.metadata(name, ns, labels=labels),
         "rules": [
             {"apiGroups": [""], "resources": ["secrets"], "resourceNames": [node_auth_secret_name(spec)],
              "verbs": ["get", "update"]},
             {"apiGroups": [""], "resources": ["configmaps"], "resourceNames": [node_public_key_name(spec)],
              "verbs": ["get", "update"]},
         ]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
         "metadata": common.metadata(name, ns, labels=labels),
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
         "subjects": [{"kind": "ServiceAccount", "name": supernode_name(spec), "namespace": ns}]},
    ]


def node_key_manifest_configs(spec: FederationSpec) -> list[Obj]:
    """Work-agent settings of the key objects: never overwrite what the SuperNode wrote (`CreateOnly`), and
    feed the public key back to the hub (`.data.publicKey`, watched) as the ManifestWork's status."""
    ns = spec.distribution.ocm.agent_namespace
    return [
        {"resourceIdentifier": {"group": "", "resource": "secrets", "name": node_auth_secret_name(spec), "namespace": ns},
         "updateStrategy": {"type": "CreateOnly"}},
        {"resourceIdentifier": {"group": "", "resource": "configmaps", "name": node_public_key_name(spec),
                                "namespace": ns},
         "updateStrategy": {"type": "CreateOnly"},
         "feedbackRules": [{"type": "JSONPaths", "jsonPaths": [{"name": NODE_PUBLIC_KEY,
                                                                "path": f".data.{NODE_PUBLIC_KEY}"}]}],
         "feedbackScrapeType": "Watch"},
    ]


def superexec_secret_rbac(spec: FederationSpec, pool: PoolSpec) -> list[Obj]:
    """Role + RoleBinding: the SuperNode ServiceAccount may create Secrets and read the SuperExec one.

    `create` cannot be narrowed to a name in Kubernetes RBAC; `get` is, and nothing may list, update
    or delete Secrets. The token carrying these rights is mounted into the init container only.
    """
    ns = spec.distribution.ocm.agent_namespace
    labels = supernode_labels(spec, pool)
    return [
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
         "metadata": common.metadata(secret_writer_name(spec), ns, labels=labels),
         "rules": [
             {"apiGroups": [""], "resources": ["secrets"], "verbs": ["create"]},
             {"apiGroups": [""], "resources": ["secrets"], "resourceNames": [spoke_superexec_secret_name(spec)],
              "verbs": ["get"]},
         ]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
         "metadata": common.metadata(secret_writer_name(spec), ns, labels=labels),
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": secret_writer_name(spec)},
         "subjects": [{"kind": "ServiceAccount", "name": supernode_name(spec), "namespace": ns}]},
    ]


#: A stand-in for the CA certificate when sizing payloads offline (as long as an RSA-4096 CA PEM).
PLACEHOLDER_CA = (
    "-----BEGIN CERTIFICATE-----\n" + ("A" * 64 + "\n") * 30 + "-----END CERTIFICATE-----\n"
)


def _partition_config(spec: FederationSpec, pool: PoolSpec, partition_id: NodeConfigValue | Token,
                      num_partitions: NodeConfigValue | Token) -> dict[str, NodeConfigValue | Token]:
    """Manual mode: partition-id / num-partitions, unless the pool's nodeConfig sets them itself."""
    if spec.distribution.ocm.install_strategy != "Manual":
        return {}
    extra: dict[str, NodeConfigValue | Token] = {}
    if "partition-id" not in pool.node_config:
        extra["partition-id"] = partition_id
    if "num-partitions" not in pool.node_config:
        extra["num-partitions"] = num_partitions
    return extra


def supernode_process(spec: FederationSpec, pool: PoolSpec) -> flower.Process:
    """The SuperNode as it appears in the template: address, cluster name (and partition) as `{{TOKENS}}`.

    Integer tokens render unquoted into `--node-config` (`partition-id={{FLOWER_PARTITION_ID}}`), so
    after OCM substitutes them they parse as TOML integers, exactly as :func:`flower.supernode` renders ints.
    """
    extra = _partition_config(spec, pool, Token(VAR_PARTITION_ID, integer=True), Token(VAR_NUM_PARTITIONS, integer=True))
    return flower.supernode(
        spec, pool, flower.CONTAINER,
        superlink_address=str(Token(VAR_SUPERLINK_ADDRESS)),
        cluster_name=Token("CLUSTER_NAME"),
        extra_node_config=extra,
    )


def expected_supernode(spec: FederationSpec, pool: PoolSpec, *, superlink_address: str,
                       cluster_name: str) -> flower.Process:
    """The SuperNode a cluster should end up running once OCM substituted its variables (for tests/docs)."""
    clusters = manual_clusters(spec)
    pid = clusters.index(cluster_name) if cluster_name in clusters else 0
    extra = _partition_config(spec, pool, pid, len(clusters))
    return flower.supernode(spec, pool, flower.CONTAINER, superlink_address=superlink_address,
                            cluster_name=cluster_name, extra_node_config=extra)


def supernode_gpu(pool: PoolSpec) -> GpuSpec | None:
    """The SuperNode container requests the pool's GPU only when it runs the ClientApp itself (subprocess)."""
    return pool.gpu if pool.isolation == "subprocess" else None


def supernode_resources(pool: PoolSpec) -> Obj:
    """Requests and limits of the SuperNode container (with the GPU in subprocess isolation)."""
    return common.resources(pool.resources, supernode_gpu(pool))


def supernode_deployment(spec: FederationSpec, pool: PoolSpec, ca_bundle: str | None = None) -> Obj:
    """The SuperNode Deployment of the pool's AddOnTemplate; `ca_bundle` (TLS) sets its CA checksum annotation."""
    ns = spec.distribution.ocm.agent_namespace
    process = supernode_process(spec, pool)
    skip: list[str] = []
    vols, mounts = common.scratch_volumes(process, skip=skip)
    if uses_tls(spec):
        vols.append({"name": "ca", "configMap": {"name": ca_configmap_name(spec),
                                                 "items": [{"key": "ca.crt", "path": "ca.crt"}]}})
        mounts.append({"name": "ca", "mountPath": flower.CONTAINER.tls_dir, "readOnly": True})
    init: list[Obj] = []
    if automatic_registration(spec):
        init_ctr, init_vols = node_key_init(spec, pool)
        init.append(init_ctr)
        vols += init_vols
        mounts.append({"name": NODE_KEY_VOLUME, "mountPath": flower.CONTAINER.auth_dir, "readOnly": True})
    elif spec.hub.supernode_auth.enabled:
        vols.append({"name": NODE_KEY_VOLUME, "secret": {
            "secretName": node_auth_secret_name(spec), "defaultMode": 0o440,
            "items": [{"key": NODE_AUTH_KEY, "path": PurePosixPath(flower.CONTAINER.node_private_key).name}]}})
        mounts.append({"name": NODE_KEY_VOLUME, "mountPath": flower.CONTAINER.auth_dir, "readOnly": True})
    if flower.pool_uses_superexec_secret(pool):
        init_ctr, init_vols = superexec_secret_init(spec, pool)
        init.append(init_ctr)
        vols += init_vols
        mounts.append({"name": "superexec-secret", "mountPath": flower.CONTAINER.secret_dir, "readOnly": True})
    if init:
        vols.append(common.api_token_volume(API_VOLUME, SECRET_INIT_TOKEN_SECONDS))
    image = spoke_image(spec, pool.image or spec.flower.images.supernode)
    ctr = common.container(
        SUPERNODE_CONTAINER, image, process, res=supernode_resources(pool), mounts=mounts,
        pull_policy=spec.flower.image_pull_policy,
        ports=[{"name": "runtime-api", "containerPort": flower.SUPERNODE_RUNTIME_PORT, "protocol": "TCP"}],
    )
    pod: Obj = {
        "serviceAccountName": supernode_name(spec),
        "automountServiceAccountToken": False,
        "shareProcessNamespace": True,  # the pause container reaps flwr-clientapp zombies
        "securityContext": common.pod_security_context(),
        "containers": [ctr],
        "volumes": vols,
    }
    if init:
        pod["initContainers"] = init
    if spoke_image_pull_secrets(spec):
        pod["imagePullSecrets"] = spoke_image_pull_secrets(spec)
    gpu = supernode_gpu(pool)
    if gpu is not None:
        if gpu.node_selector:
            pod["nodeSelector"] = dict(sorted(gpu.node_selector.items()))
        if gpu.tolerations:
            pod["tolerations"] = common.tolerations(gpu.tolerations)
    # Never the pool: a cluster that changes pool updates this Deployment, and spec.selector is immutable.
    selector = common.selector_labels(spec, "supernode")
    template_meta: Obj = {"labels": supernode_labels(spec, pool)}
    if uses_tls(spec) and ca_bundle is not None:
        # Flower reads the CA at start only: a new trust bundle (a CA rotation) must roll the SuperNodes.
        template_meta["annotations"] = {CA_CHECKSUM_ANNOTATION: ca_checksum(ca_bundle)}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": common.metadata(supernode_name(spec), ns, labels=supernode_labels(spec, pool)),
        "spec": {
            "replicas": pool.replicas,
            # Replicas share one identity (node key, cluster name): never run old and new side by side.
            "strategy": {"type": "Recreate"},
            "selector": {"matchLabels": selector},
            "template": {"metadata": template_meta, "spec": pod},
        },
    }


def template_manifests(spec: FederationSpec, pool: PoolSpec, ca_certificate: Any) -> list[Obj]:
    """Everything the addon agent applies on a cluster of `pool` (public material only).

    `ca_certificate` is the CA PEM, or an opaque value standing for it (a Pulumi Output) that the
    caller checks itself.
    """
    ns = spec.distribution.ocm.agent_namespace
    labels = supernode_labels(spec, pool)
    ns_labels = {**common.labels(spec, "supernode"), "pod-security.kubernetes.io/enforce": "restricted"}
    if spec.distribution.ocm.klusterlet_image_pull_credentials:
        ns_labels.update(ADDON_NAMESPACE_LABEL)
    out: list[Obj] = [
        # Orphaned when the cluster loses the addon (even briefly, on a re-decision): it holds what users
        # and the SuperNode put there (the node-auth key, the SuperExec secret, pull credentials).
        {"apiVersion": "v1", "kind": "Namespace",
         "metadata": common.metadata(ns, labels=ns_labels, annotations=DELETION_ORPHAN)},
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": common.metadata(supernode_name(spec), ns, labels=labels),
         "automountServiceAccountToken": False},
    ]
    if uses_tls(spec):
        if not ca_certificate:
            raise ValueError("TLS is on: the AddOnTemplate needs the CA certificate (PEM)")
        if isinstance(ca_certificate, str) and "PRIVATE KEY" in ca_certificate:
            raise ValueError("refusing to put private key material into an AddOnTemplate")
        bundle = ca_bundle(spec, ca_certificate) if isinstance(ca_certificate, str) else ca_certificate
        out.append({"apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": common.metadata(ca_configmap_name(spec), ns, labels=labels),
                    "data": {"ca.crt": bundle}})
    if flower.pool_uses_superexec_secret(pool):
        out += superexec_secret_rbac(spec, pool)
    if automatic_registration(spec):
        out += node_key_objects(spec, pool)
    out.append(supernode_deployment(spec, pool, ca_bundle(spec, ca_certificate)
                                    if uses_tls(spec) and isinstance(ca_certificate, str) else None))
    selector = common.selector_labels(spec, "supernode")
    ingress: list[Obj] = []
    if pool.isolation == "process":
        out.append({
            "apiVersion": "v1", "kind": "Service", "metadata": common.metadata(supernode_name(spec), ns, labels=labels),
            "spec": {"type": "ClusterIP", "selector": selector, "ports": [
                {"name": "runtime-api", "port": flower.SUPERNODE_RUNTIME_PORT, "targetPort": "runtime-api",
                 "protocol": "TCP"}]},
        })
        ingress = [{"from": [{"podSelector": {"matchLabels": clientapp_selector(spec)}}],
                    "ports": [{"port": flower.SUPERNODE_RUNTIME_PORT, "protocol": "TCP"}]}]
    # Process isolation: only the ClientApp SuperExec pods may reach the Runtime API (plain HTTP).
    # Subprocess isolation: nothing may (the SuperNode only dials out).
    out.append({
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": common.metadata(supernode_name(spec), ns, labels=labels),
        "spec": {"podSelector": {"matchLabels": selector}, "policyTypes": ["Ingress"], "ingress": ingress},
    })
    return out


def addon_template(spec: FederationSpec, pool: PoolSpec, ca_certificate: Any) -> Obj:
    """The pool's AddOnTemplate (`spec.addonName` is immutable: replace on change)."""
    return {
        "apiVersion": API_ADDON,
        "kind": "AddOnTemplate",
        "metadata": common.metadata(template_name(spec, pool), labels=supernode_labels(spec, pool),
                                    annotations=SKIP_AWAIT),
        "spec": {
            "addonName": spec.distribution.ocm.addon_name,
            # OCM reads only workload and manifestConfigs (agentSpec.deleteOption is ignored; what must
            # survive carries DELETION_ORPHAN).
            "agentSpec": {
                "workload": {"manifests": template_manifests(spec, pool, ca_certificate)},
                "manifestConfigs": [supernode_health_rule(spec),
                                    *(node_key_manifest_configs(spec) if automatic_registration(spec) else [])],
            },
        },
    }


def _variables(spec: FederationSpec, address: Any, extra: Mapping[str, str] | None = None) -> list[Obj]:
    values = {**spec.distribution.ocm.variables, VAR_SUPERLINK_ADDRESS: address, **(extra or {})}
    return [{"name": k, "value": values[k]} for k in sorted(values)]


def deployment_config(spec: FederationSpec, pool: PoolSpec, superlink_address: Any, *,
                      cluster: str | None = None) -> Obj:
    """The pool's ADC (or, with `cluster`, the per-cluster ADC of Manual mode)."""
    extra: dict[str, str] = {}
    name = config_name(spec, pool)
    if cluster is not None:
        clusters = manual_clusters(spec)
        extra = {VAR_PARTITION_ID: str(clusters.index(cluster)), VAR_NUM_PARTITIONS: str(len(clusters))}
        name = cluster_config_name(spec, cluster)
    body: Obj = {
        # "" keeps the template's own Namespace; see the module docstring.
        "agentInstallNamespace": "",
        "customizedVariables": _variables(spec, superlink_address, extra),
        "resourceRequirements": [{
            "containerID": f"deployments:{supernode_name(spec)}:{SUPERNODE_CONTAINER}",
            "resources": supernode_resources(pool),
        }],
    }
    gpu = supernode_gpu(pool)
    if gpu is not None and gpu.node_selector:
        placement_: Obj = {"nodeSelector": dict(sorted(gpu.node_selector.items()))}
        if gpu.tolerations:  # OCM applies tolerations only together with a nodeSelector
            placement_["tolerations"] = common.tolerations(gpu.tolerations)
        body["nodePlacement"] = placement_
    return {
        "apiVersion": API_ADDON,
        "kind": "AddOnDeploymentConfig",
        "metadata": common.metadata(name, spec.ocm_namespace, labels=supernode_labels(spec, pool),
                                    annotations=SKIP_AWAIT),
        "spec": body,
    }


def _config_ref(resource: str, name: str, namespace: str | None = None) -> Obj:
    ref: Obj = {"group": ADDON_GROUP, "resource": resource, "name": name}
    if namespace is not None:
        ref["namespace"] = namespace
    return ref


def cluster_management_addon(spec: FederationSpec) -> Obj:
    """The template addon: defaults = first pool's pair; one install placement per pool, in pool order."""
    ocm = spec.distribution.ocm
    first = spec.pools[0]
    manual = ocm.install_strategy == "Manual"
    adc_support: Obj = {"group": ADDON_GROUP, "resource": "addondeploymentconfigs"}
    if not manual:
        adc_support["defaultConfig"] = {"name": config_name(spec, first), "namespace": spec.ocm_namespace}
    install: Obj
    if manual:
        install = {"type": "Manual"}
    else:
        install = {"type": "Placements", "placements": [
            {
                "namespace": spec.ocm_namespace,
                "name": placement_name(spec, pool),
                "configs": [
                    _config_ref("addontemplates", template_name(spec, pool)),
                    _config_ref("addondeploymentconfigs", config_name(spec, pool), spec.ocm_namespace),
                ],
                "rolloutStrategy": rollout_strategy(pool.rollout_strategy),
            }
            for pool in spec.pools  # order matters: a cluster in several placements gets the later one
        ]}
    return {
        "apiVersion": API_ADDON,
        "kind": "ClusterManagementAddOn",
        "metadata": common.metadata(ocm.addon_name, labels=common.labels(spec, "supernode"),
                                    annotations={**SKIP_AWAIT, **CMA_DELETION}),
        "spec": {
            "addOnMeta": {"displayName": "Flower SuperNode",
                          "description": f"Flower {spec.flower.version} SuperNodes of federation {spec.name}"},
            "supportedConfigs": [
                adc_support,
                {"group": ADDON_GROUP, "resource": "addontemplates", "defaultConfig": {"name": template_name(spec, first)}},
            ],
            "installStrategy": install,
        },
    }


def managed_cluster_addons(spec: FederationSpec, pool: PoolSpec) -> list[Obj]:
    """Manual mode: one MCA per listed cluster of `pool` (in the cluster namespace, name = addon)."""
    if spec.distribution.ocm.install_strategy != "Manual":
        return []
    return [
        {
            "apiVersion": API_ADDON,
            "kind": "ManagedClusterAddOn",
            "metadata": common.metadata(spec.distribution.ocm.addon_name, cluster,
                                        labels=supernode_labels(spec, pool), annotations=SKIP_AWAIT),
            "spec": {"configs": [
                _config_ref("addontemplates", template_name(spec, pool)),
                _config_ref("addondeploymentconfigs", cluster_config_name(spec, cluster), spec.ocm_namespace),
            ]},
        }
        for cluster in sorted(pool.selection.clusters)
    ]


def pool_addon_objects(spec: FederationSpec, pool: PoolSpec, *, ca_certificate: str | None,
                       superlink_address: str) -> list[Obj]:
    """A pool's template and ADC, or in Manual mode its template, per-cluster ADCs and MCAs."""
    out = [addon_template(spec, pool, ca_certificate)]
    if spec.distribution.ocm.install_strategy == "Manual":
        out += [deployment_config(spec, pool, superlink_address, cluster=c) for c in sorted(pool.selection.clusters)]
        out += managed_cluster_addons(spec, pool)
    else:
        out.append(deployment_config(spec, pool, superlink_address))
    return out


def addon_objects(spec: FederationSpec, *, ca_certificate: str | None, superlink_address: str) -> list[Obj]:
    """The CMA and every pool's template, ADC(s) and MCAs."""
    out = [cluster_management_addon(spec)]
    for pool in spec.pools:
        out += pool_addon_objects(spec, pool, ca_certificate=ca_certificate, superlink_address=superlink_address)
    return out


def adc_variables(adc: Obj) -> dict[str, str]:
    """The customized variables an AddOnDeploymentConfig defines, by name."""
    return {v["name"]: v["value"] for v in adc["spec"].get("customizedVariables", [])}


def applicable_configs(spec: FederationSpec, pool: PoolSpec, superlink_address: str) -> list[Obj]:
    """Every ADC that can apply to the pool's template: the CMA default, then the pool's or per-cluster ones."""
    manual = spec.distribution.ocm.install_strategy == "Manual"
    if manual:
        return [deployment_config(spec, pool, superlink_address, cluster=c) for c in sorted(pool.selection.clusters)]
    return [deployment_config(spec, spec.pools[0], superlink_address), deployment_config(spec, pool, superlink_address)]
