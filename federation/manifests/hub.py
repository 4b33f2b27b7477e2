"""The hub: every Kubernetes object that runs the SuperLink (and, in process isolation, its ServerApp SuperExec).

Pure builders: plain dicts in Kubernetes field names (camelCase), no `pulumi` import. Secret data
leaves (PEMs, the SuperExec shared secret, the TLS checksum) are opaque values the caller passes in
through :class:`HubSecrets`, so a Pulumi program can hand in `Output`s and a test plain strings.

:func:`hub_objects` returns the objects in a fixed, documented order (see :data:`OBJECT_ORDER`):

1. ``Namespace`` (only when ``hub.createNamespace``; otherwise the namespace must exist)
2. ``ServiceAccount`` of the SuperLink, of the ServerApp SuperExec (process isolation), of the Fleet proxy
3. ``Secret`` ``<name>-superlink-tls`` (``kubernetes.io/tls`` with ``ca.crt``; only in ``generate`` mode)
4. ``Secret`` ``<name>-superexec-secret`` (process isolation)
5. ``ConfigMap`` ``<name>-fleet-proxy-config`` (the rendered ``nginx.conf``; no key material)
6. ``PersistentVolumeClaim`` ``<name>-superlink-state`` (persistence enabled)
7. ``Service`` ``<name>-superlink`` (the exposure: selects the Fleet proxy, ``hub.port``), then
   ``<name>-superlink-api`` (ClusterIP: the SuperLink itself, ``hub.apiPort``)
8. ``Deployment`` ``<name>-superlink``, ``<name>-serverapp-superexec`` (process isolation), ``<name>-fleet-proxy``
9. ``NetworkPolicy`` of the SuperLink, of the SuperExec (process isolation), of the Fleet proxy
10. ``PodDisruptionBudget`` of the SuperLink

With ``hub.superexec.taskPods`` (:mod:`federation.manifests.taskpods`) the task pods' objects join their
kinds: the task ``Namespace``, their ``ServiceAccount``, the executor's ``Role`` and ``RoleBinding``
(after the ServiceAccounts), the executor-config ``ConfigMap`` and three ``NetworkPolicy`` objects.

Design notes
------------
* **Reaping.** Flower's SuperLink (subprocess isolation) and SuperExec spawn children
  (``flower-superexec``, ``flwr-serverapp``) that can outlive their parent and become zombies
  when PID 1 does not reap them (reference §9). Instead of baking an init into images we do not
  own, both pods set ``shareProcessNamespace: true``: the pod's pause container becomes PID 1 and
  reaps every orphan. The pods hold a single container each, so sharing the namespace exposes
  nothing to a neighbour; the Flower process still receives SIGTERM directly from the kubelet.
* **PodDisruptionBudget.** The SuperLink is a single replica pinned to a ReadWriteOnce volume;
  ``minAvailable: 1`` / ``maxUnavailable: 0`` would block every node drain (and cluster upgrades)
  forever. The state survives a restart (sqlite on the PVC) and SuperNodes reconnect on their own
  (reference §9), so a voluntary disruption is acceptable: the PDB states ``maxUnavailable: 1``
  explicitly (policy engines that require a PDB are satisfied, drains proceed) and
  ``unhealthyPodEvictionPolicy: AlwaysAllow`` so a crash-looping pod never blocks a drain.
* **Only the Fleet API outside.** Flower serves Fleet, Control (unauthenticated in open-source
  Flower) and Runtime on the SuperLink's one port. The exposed Service ``<name>-superlink`` selects
  the Fleet proxy (:mod:`federation.proxy`, nginx): it terminates TLS with the SuperLink certificate
  and forwards only ``POST /v1/fleet/*`` and ``GET /health`` to ``<name>-superlink-api`` (verifying
  the SuperLink's certificate), answering 403 to everything else. Control and Runtime stay on the
  ClusterIP Service ``<name>-superlink-api`` (``kubectl port-forward svc/<name>-superlink-api``).
* **NetworkPolicy.** SuperNodes dial from other clusters (through a NodePort/LoadBalancer, often
  SNATed), so the proxy accepts ingress from anywhere, on ``hub.port`` only, and may reach only DNS
  and the SuperLink pods on ``hub.apiPort``. The SuperLink accepts ingress on ``hub.apiPort`` from
  the proxy, the ServerApp SuperExec and the pods named in ``hub.controlClients`` — nothing else.
  It needs no egress unless it installs run dependencies itself (subprocess isolation +
  ``runtimeDependencyInstallation``), which needs DNS and HTTP(S). The ServerApp SuperExec accepts
  no ingress and may reach only DNS and the SuperLink pods on ``hub.apiPort``.
* **Probes.** SuperLink: HTTPS ``/health`` (startup, liveness, readiness). ServerApp SuperExec: gRPC
  ``grpc.health.v1.Health`` on :data:`~federation.flower.GRPC_HEALTH_PORT` (startup, liveness); no
  readiness: nothing routes traffic to it and Flower's ``Check`` always answers SERVING, so a
  readiness probe would say nothing a liveness probe does not. Proxy: TCP liveness (nginx itself),
  readiness ``GET /health`` through the proxy (ready = the SuperLink behind answers).
* **Upgrades.** Flower 1.42 migrates the SQLite state on start (one way). The SuperLink pod's init
  container copies ``state.db`` to ``state.db.bak-<version>`` (SQLite online backup) the first
  time that version starts on it, so a rollback restores that file (README, "Flower versions").
* **TLS rotation.** Flower reads its certificate once at start-up, so the SuperLink pod template
  carries ``checksum/tls`` (a SHA-256 of the public certificates, passed in by the caller): a new
  certificate changes the template and rolls the pod. In ``existingSecret`` mode the caller passes
  the checksum of the Secret it read (:func:`check_tls_secret`).
* **Existing certificates.** In ``existingSecret`` mode the Pulumi component reads the user's Secret
  on the hub and checks it with :func:`check_tls_secret` (the keys the contract mounts, PEMs that
  parse, the leaf issued by ``ca.crt``, not expired, the SANs clients verify); its
  :attr:`ExistingTls.checksum` goes in ``checksum/tls`` like a generated certificate's, so replacing
  the Secret's certificate rolls the pods on the next ``pulumi up``.
* The SuperExec pod mounts only ``ca.crt`` of the TLS Secret (``items``), never the server key; it
  carries ``checksum/tls`` too (it reads the CA once, at start).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import PurePosixPath
from typing import Any

from federation import flower, proxy
from federation.errors import Problem, SpecError
from federation.flower import CONTAINER, Process
from federation.manifests import common, taskpods
from federation.manifests.common import Obj
from federation.proxy import ProxyConfig
from federation.spec import ControlClient, FederationSpec, LabelSelector

__all__ = [
    "CHECKSUM_ANNOTATION",
    "OBJECT_ORDER",
    "PROXY_COMPONENT",
    "SUPEREXEC_COMPONENT",
    "SUPERLINK_COMPONENT",
    "TLS_SECRET_KEYS",
    "ExistingTls",
    "HubSecrets",
    "api_address",
    "api_service_name",
    "check_tls_secret",
    "decode_secret_value",
    "hub_objects",
    "proxy_config",
    "superexec_secret_name",
    "superlink_addresses",
    "superlink_sans",
    "superlink_service_name",
    "tls_checksum",
    "tls_secret_name",
    "tls_verified_names",
]

SUPERLINK_COMPONENT = "superlink"
SUPEREXEC_COMPONENT = "serverapp-superexec"
PROXY_COMPONENT = "fleet-proxy"
#: The SuperNode registrar (`hub.supernodeAuth.registration: Automatic`; built by federation.manifests.ocm.registrar).
REGISTRAR_COMPONENT = "supernode-registrar"
#: Where the proxy container finds its nginx.conf, its TLS files, and writes (pid, temp paths).
PROXY_CONFIG_DIR = "/etc/flower-fleet-proxy"
PROXY_CONFIG_KEY = "nginx.conf"
PROXY_RUN_DIR = "/tmp"  # noqa: S108 - an emptyDir
#: The uid of nginx in the nginx-unprivileged image.
PROXY_UID = 101
CHECKSUM_ANNOTATION = "checksum/tls"
#: Key (= file name) of the shared secret inside its Secret, so it lands at CONTAINER.superexec_secret.
SECRET_KEY = PurePosixPath(CONTAINER.superexec_secret).name
#: Keys (= file names) of the TLS Secret, matching the paths the argv points at.
TLS_CERT_KEY = PurePosixPath(CONTAINER.server_cert).name
TLS_KEY_KEY = PurePosixPath(CONTAINER.server_key).name
CA_CERT_KEY = PurePosixPath(CONTAINER.ca_cert).name
#: Every key the SuperLink's TLS Secret must hold: the files the runtime contract points the SuperLink
#: at (`--ssl-certfile`, `--ssl-keyfile`, `--ssl-ca-certfile`), which the Fleet proxy mounts too.
TLS_SECRET_KEYS = (TLS_CERT_KEY, TLS_KEY_KEY, CA_CERT_KEY)
#: Mode 0440 for mounted secret files: readable by the pod's fsGroup (the Flower user), nobody else.
SECRET_FILE_MODE = 0o440
PORT_NAME = "flower"
API_PORT_NAME = "flower-api"
EXTERNAL_PORT_NAME = "flower-external"
GRPC_HEALTH_PORT_NAME = "grpc-health"
#: The order of kinds in :func:`hub_objects`' result.
OBJECT_ORDER = (
    "Namespace",
    "ServiceAccount",
    "Role",
    "RoleBinding",
    "Secret",
    "ConfigMap",
    "PersistentVolumeClaim",
    "Service",
    "Deployment",
    "NetworkPolicy",
    "PodDisruptionBudget",
)


@dataclass(frozen=True)
class HubSecrets:
    """Values for Secret data and the rotation checksum; opaque (str, or a Pulumi Output).

    Fields left ``None`` are left out of the Secret (only useful for tests and dry renders).
    """

    #: Server certificate PEM (leaf, optionally followed by intermediates).
    tls_cert: Any = None
    #: Server private key PEM (unencrypted).
    tls_key: Any = None
    #: CA certificate PEM that verifies the server certificate.
    ca_cert: Any = None
    #: The SuperExec shared secret, exact bytes (no trailing newline).
    superexec_secret: Any = None
    #: Value of the ``checksum/tls`` pod annotation (see :func:`tls_checksum`).
    tls_checksum: Any = None


# --------------------------------------------------------------------------- names & addresses


def superlink_service_name(spec: FederationSpec) -> str:
    """Name of the SuperLink Service (a DNS label: it is also a certificate SAN)."""
    return f"{spec.name}-superlink"


def superexec_name(spec: FederationSpec) -> str:
    return f"{spec.name}-{SUPEREXEC_COMPONENT}"


def api_service_name(spec: FederationSpec) -> str:
    """The ClusterIP Service of the SuperLink's own port (Control, Runtime; the proxy's upstream)."""
    return f"{spec.name}-superlink-api"


def proxy_name(spec: FederationSpec) -> str:
    return f"{spec.name}-{PROXY_COMPONENT}"


def proxy_configmap_name(spec: FederationSpec) -> str:
    return f"{spec.name}-fleet-proxy-config"


def api_address(spec: FederationSpec) -> str:
    """``host:port`` of the SuperLink's own port inside the hub (Control API for `flwr`, Runtime API)."""
    return f"{api_service_name(spec)}.{spec.hub.namespace}.svc:{spec.hub.api_port}"


def tls_secret_name(spec: FederationSpec) -> str | None:
    """The Secret holding tls.crt/tls.key/ca.crt: the user's (existingSecret), ours (generate), or None (insecure)."""
    tls = spec.hub.tls
    if tls.mode == "insecure":
        return None
    if tls.mode == "existingSecret":
        return tls.secret_name
    return f"{spec.name}-superlink-tls"


def superexec_secret_name(spec: FederationSpec) -> str | None:
    """The Secret holding the SuperExec shared secret (process isolation only)."""
    return f"{spec.name}-superexec-secret" if flower.uses_superexec_secret(spec) else None


def pvc_name(spec: FederationSpec) -> str:
    return f"{spec.name}-superlink-state"


def superlink_addresses(spec: FederationSpec) -> tuple[str, str | None]:
    """``(in_cluster "host:port", external "host:port" | None)``.

    In-cluster: ``<service>.<namespace>.svc:<hub.port>``. External (what spokes dial): the first
    ``externalNames`` entry, else the first ``externalIPs`` entry, with ``externalPort``, else the
    ``nodePort`` for a NodePort Service, else ``hub.port``. None when neither names nor IPs are set.
    """
    hub = spec.hub
    exp = hub.exposure
    in_cluster = f"{superlink_service_name(spec)}.{hub.namespace}.svc:{hub.port}"
    hosts = [*exp.external_names, *exp.external_ips]
    if not hosts:
        return in_cluster, None
    host = hosts[0]
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    if exp.external_port is not None:
        port = exp.external_port
    elif exp.type == "NodePort" and exp.node_port is not None:
        port = exp.node_port
    else:
        port = hub.port
    return in_cluster, f"{host}:{port}"


def superlink_sans(spec: FederationSpec) -> tuple[list[str], list[str]]:
    """``(dns_names, ip_addresses)`` the SuperLink certificate must carry (via :func:`federation.tls.superlink_sans`)."""
    from federation import tls  # cryptography is only needed when certificates are involved

    exp = spec.hub.exposure
    dns, ips = tls.superlink_sans(
        superlink_service_name(spec),
        spec.hub.namespace,
        external_names=exp.external_names,
        external_ips=exp.external_ips,
    )
    # The proxy and the ServerApp SuperExec dial the SuperLink itself through the API Service.
    api_dns, _ = tls.superlink_sans(api_service_name(spec), spec.hub.namespace)
    return sorted(set(dns) | set(api_dns)), ips


def tls_checksum(*pems: str) -> str:
    """SHA-256 over public PEMs (certificate, CA): the ``checksum/tls`` annotation value."""
    digest = hashlib.sha256()
    for pem in pems:
        digest.update(pem.encode("utf-8"))
        digest.update(b"\0")
    return digest.hexdigest()


def tls_verified_names(spec: FederationSpec) -> list[str]:
    """The names (and IPs) clients verify the SuperLink certificate against, so it must carry them as SANs.

    The ServerApp SuperExec dials ``<name>-superlink-api``, the Fleet proxy verifies its upstream as
    ``<name>-superlink-api.<namespace>.svc``, and SuperNodes verify the host of the external address.
    """
    names = [api_service_name(spec), f"{api_service_name(spec)}.{spec.hub.namespace}.svc"]
    external = superlink_addresses(spec)[1]
    if external is not None:
        names.append(external.rpartition(":")[0].strip("[]"))
    return names


@dataclass(frozen=True)
class ExistingTls:
    """What the program takes from a checked existing TLS Secret (all public)."""

    #: ``ca.crt``: the CA the SuperNodes and `flwr` trust (shipped in the AddOnTemplates).
    ca_certificate: str
    #: ``checksum/tls`` of ``tls.crt`` and ``ca.crt``: a new certificate rolls the pods.
    checksum: str
    #: The leaf certificate's notAfter (UTC).
    not_after: datetime


def decode_secret_value(value: object) -> str | None:
    """A Secret `data` value as UTF-8 text, or None when it is not base64-encoded UTF-8."""
    if not isinstance(value, str):
        return None
    try:
        return base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None


def _san_matches(name: str, dns_names: Sequence[str], ips: Sequence[str]) -> bool:
    try:
        return str(ipaddress.ip_address(name)) in {str(ipaddress.ip_address(i)) for i in ips}
    except ValueError:
        pass
    name = name.lower().rstrip(".")
    for san in (d.lower().rstrip(".") for d in dns_names):
        if san == name:
            return True
        # A wildcard covers exactly one left-most label (RFC 6125).
        if san.startswith("*.") and "." in name and name.split(".", 1)[1] == san[2:]:
            return True
    return False


def check_tls_secret(spec: FederationSpec, data: Mapping[str, object] | None, *,
                     now: datetime | None = None) -> ExistingTls:
    """Check the user's TLS Secret (``hub.tls.mode: existingSecret``) against the runtime contract.

    ``data`` is the Secret's ``data`` as the API server returns it (base64 values). Every key of
    :data:`TLS_SECRET_KEYS` must be there, the PEMs must parse, ``tls.crt`` (leaf first, then any
    intermediates) must be issued by a certificate in ``ca.crt``, must not be expired, and must carry
    every name of :func:`tls_verified_names` as a SAN: otherwise the pods fail later, one by one, with
    a TLS error. Raises :class:`~federation.errors.SpecError`, every problem on
    ``federation.hub.tls.secretName`` naming the Secret and the key.
    """
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature

    where = f"Secret {spec.hub.namespace}/{spec.hub.tls.secret_name}"
    path = "federation.hub.tls.secretName"
    data = data or {}
    missing = [k for k in TLS_SECRET_KEYS if not data.get(k)]
    if missing:
        raise SpecError([Problem(path, f"{where} has no key {', '.join(map(repr, missing))} (the SuperLink and "
                                       f"the Fleet proxy mount {', '.join(TLS_SECRET_KEYS)})")])
    pems = {k: decode_secret_value(data[k]) for k in TLS_SECRET_KEYS}
    problems = [Problem(path, f"{where}: key {k!r} is not base64-encoded UTF-8 text") for k, v in pems.items() if v is None]
    if problems:
        raise SpecError(problems)
    cert_pem, key_pem, ca_pem = (str(pems[k]) for k in TLS_SECRET_KEYS)
    try:
        chain = x509.load_pem_x509_certificates(cert_pem.encode())
    except ValueError:
        problems.append(Problem(path, f"{where}: key {TLS_CERT_KEY!r} is not a PEM certificate"))
        chain = []
    try:
        roots = x509.load_pem_x509_certificates(ca_pem.encode())
    except ValueError:
        problems.append(Problem(path, f"{where}: key {CA_CERT_KEY!r} is not a PEM certificate"))
        roots = []
    if "PRIVATE KEY-----" not in key_pem:
        problems.append(Problem(path, f"{where}: key {TLS_KEY_KEY!r} is not a PEM private key"))
    if problems:
        raise SpecError(problems)
    leaf, last = chain[0], chain[-1]

    def issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
        try:
            cert.verify_directly_issued_by(issuer)
        except (ValueError, TypeError, InvalidSignature):
            return False
        return True

    if not any(issued_by(last, root) or last == root for root in roots):
        problems.append(Problem(path, f"{where}: {TLS_CERT_KEY!r} is not issued by the CA in {CA_CERT_KEY!r} "
                                      "(SuperNodes and the Fleet proxy verify it against that CA)"))
    moment = now or datetime.now(UTC)
    if leaf.not_valid_after_utc <= moment:
        problems.append(Problem(path, f"{where}: {TLS_CERT_KEY!r} expired on {leaf.not_valid_after_utc:%Y-%m-%d}"))
    try:
        san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        dns, ips = san.get_values_for_type(x509.DNSName), [str(i) for i in san.get_values_for_type(x509.IPAddress)]
    except x509.ExtensionNotFound:
        dns, ips = [], []
    absent = [n for n in tls_verified_names(spec) if not _san_matches(n, dns, ips)]
    if absent:
        problems.append(Problem(path, f"{where}: {TLS_CERT_KEY!r} lacks the subjectAltName(s) {', '.join(absent)} "
                                      "(the names the ServerApp SuperExec, the Fleet proxy and the SuperNodes verify)"))
    if problems:
        raise SpecError(problems)
    return ExistingTls(ca_certificate=ca_pem, checksum=tls_checksum(cert_pem, ca_pem),
                       not_after=leaf.not_valid_after_utc)


# --------------------------------------------------------------------------- processes


def superlink_process(spec: FederationSpec) -> Process:
    """The SuperLink process exactly as the runtime contract builds it (``--host 0.0.0.0``)."""
    return flower.superlink(spec, CONTAINER, host="0.0.0.0")  # noqa: S104 - bind the Pod IP


def superexec_process(spec: FederationSpec) -> Process:
    """The ServerApp SuperExec process, dialling the SuperLink API Service (a SAN of its certificate).

    With `hub.superexec.taskPods` it runs Flower's Kubernetes executor and dials the Service by its
    namespaced name (also a SAN), which the ServerApp task pods in their own namespace dial too.
    """
    if hub_task_pods(spec) is None:
        return flower.serverapp_superexec(spec, CONTAINER, superlink_host=api_service_name(spec))
    return flower.serverapp_superexec(spec, CONTAINER, superlink_host=f"{api_service_name(spec)}.{spec.hub.namespace}.svc",
                                      executor_config=flower.executor_config_path())


def hub_task_pods(spec: FederationSpec) -> taskpods.TaskPods | None:
    """The ServerApp task pods (`hub.superexec.taskPods.enabled`, process isolation): one Pod per run."""
    hub = spec.hub
    tp = hub.superexec.task_pods
    if not tp.enabled or hub.isolation != "process":
        return None
    image = tp.image or spec.flower.images.superexec
    if image is None:
        raise ValueError("flower.images.superexec (or hub.superexec.taskPods.image) is required for task pods")
    return taskpods.TaskPods(
        spec=spec, task_pods=tp, owner=superexec_name(spec), component=SUPEREXEC_COMPONENT,
        superexec_namespace=hub.namespace, superexec_service_account=superexec_name(spec),
        superexec_selector=common.selector_labels(spec, SUPEREXEC_COMPONENT), resource_pool="serverapp",
        image=image, pull_policy=spec.flower.image_pull_policy, resources=common.resources(hub.superexec.resources),
        gpu=tp.gpu, runtime_selector=common.selector_labels(spec, SUPERLINK_COMPONENT), runtime_port=hub.api_port,
        image_pull_secrets=common.image_pull_secrets(spec),
        dependency_installation=hub.runtime_dependency_installation,
        # ServerApps reach only the SuperLink, unless they install their dependencies (uv sync) at start.
        restrict_task_egress=not hub.runtime_dependency_installation,
        create_superexec_service_account=False,
    )


def proxy_config(spec: FederationSpec) -> ProxyConfig:
    """The Fleet proxy's configuration in the pod: TLS with the SuperLink certificate, upstream = the API Service."""
    tls_on = spec.hub.tls.mode != "insecure"
    api_host = f"{api_service_name(spec)}.{spec.hub.namespace}.svc"
    return ProxyConfig(
        listen_host="0.0.0.0",  # noqa: S104 - the pod IP
        listen_port=spec.hub.port,
        upstream=f"{api_host}:{spec.hub.api_port}",
        run_dir=PROXY_RUN_DIR,
        cert_file=CONTAINER.server_cert if tls_on else None,
        key_file=CONTAINER.server_key if tls_on else None,
        ca_file=CONTAINER.ca_cert if tls_on else None,
        upstream_tls_name=api_host if tls_on else None,
    )


def proxy_process(spec: FederationSpec) -> Process:
    """The nginx process of the Fleet proxy (its config from :func:`federation.proxy.nginx_config`)."""
    cfg = proxy_config(spec)
    return proxy.nginx_process(f"{PROXY_CONFIG_DIR}/{PROXY_CONFIG_KEY}", cfg)


# --------------------------------------------------------------------------- objects


def _namespace(spec: FederationSpec) -> Obj:
    lbl = {
        **common.labels(spec, "namespace"),
        "pod-security.kubernetes.io/enforce": "restricted",
        "pod-security.kubernetes.io/enforce-version": "v1.33",
        "pod-security.kubernetes.io/warn": "restricted",
        "pod-security.kubernetes.io/audit": "restricted",
    }
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": common.metadata(spec.hub.namespace, labels=lbl)}


def _service_account(spec: FederationSpec, name: str, component: str) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": common.metadata(name, spec.hub.namespace, labels=common.labels(spec, component)),
        "automountServiceAccountToken": False,
    }


def _secret(spec: FederationSpec, name: str, component: str, type_: str, data: dict[str, Any]) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": common.metadata(name, spec.hub.namespace, labels=common.labels(spec, component)),
        "type": type_,
        "stringData": {k: v for k, v in data.items() if v is not None},
    }


def _pvc(spec: FederationSpec) -> Obj:
    persistence = spec.hub.persistence
    pvc_spec: Obj = {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": persistence.size}},
    }
    if persistence.storage_class is not None:
        pvc_spec["storageClassName"] = persistence.storage_class
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": common.metadata(pvc_name(spec), spec.hub.namespace, labels=common.labels(spec, SUPERLINK_COMPONENT)),
        "spec": pvc_spec,
    }


def _service(spec: FederationSpec) -> Obj:
    """The exposed Service: only the Fleet proxy behind it (SuperNodes dial `hub.port`)."""
    hub = spec.hub
    exp = hub.exposure
    port: Obj = {"name": PORT_NAME, "port": hub.port, "targetPort": PORT_NAME, "protocol": "TCP"}
    if exp.type != "ClusterIP" and exp.node_port is not None:
        port["nodePort"] = exp.node_port
    ports = [port]
    if exp.type == "LoadBalancer" and exp.external_port is not None and exp.external_port != hub.port:
        # The load balancer listens where spokes dial (externalPort); in-cluster clients keep hub.port.
        ports.append({"name": EXTERNAL_PORT_NAME, "port": exp.external_port, "targetPort": PORT_NAME, "protocol": "TCP"})
    svc_spec: Obj = {
        "type": exp.type,
        "selector": common.selector_labels(spec, PROXY_COMPONENT),
        "ports": ports,
    }
    if exp.type == "LoadBalancer" and exp.load_balancer_source_ranges:
        svc_spec["loadBalancerSourceRanges"] = list(exp.load_balancer_source_ranges)
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": common.metadata(
            superlink_service_name(spec), hub.namespace,
            labels=common.labels(spec, PROXY_COMPONENT), annotations=exp.annotations or None,
        ),
        "spec": svc_spec,
    }


def _api_service(spec: FederationSpec) -> Obj:
    """ClusterIP Service of the SuperLink's own port: the proxy's upstream, Runtime and Control inside the hub."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": common.metadata(api_service_name(spec), spec.hub.namespace,
                                    labels=common.labels(spec, SUPERLINK_COMPONENT)),
        "spec": {
            "type": "ClusterIP",
            "selector": common.selector_labels(spec, SUPERLINK_COMPONENT),
            "ports": [{"name": API_PORT_NAME, "port": spec.hub.api_port, "targetPort": API_PORT_NAME,
                       "protocol": "TCP"}],
        },
    }


def _proxy_configmap(spec: FederationSpec) -> Obj:
    """The Fleet proxy's nginx.conf (public: paths, ports, the upstream name)."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": common.metadata(proxy_configmap_name(spec), spec.hub.namespace,
                                    labels=common.labels(spec, PROXY_COMPONENT)),
        "data": {PROXY_CONFIG_KEY: proxy.nginx_config(proxy_config(spec))},
    }


def secret_volume(name: str, secret_name: str, keys: Sequence[str]) -> Obj:
    """A volume of `keys` of Secret `secret_name`, each a file of its own name (mode 0440)."""
    return {
        "name": name,
        "secret": {
            "secretName": secret_name,
            "defaultMode": SECRET_FILE_MODE,
            "items": [{"key": k, "path": k} for k in keys],
        },
    }


def _mount_secret(volumes: list[Obj], mounts: list[Obj], name: str, secret_name: str | None, keys: Sequence[str],
                  path: str) -> None:
    """Mount `keys` of Secret `secret_name` read-only at `path` (nothing when there is no Secret)."""
    if secret_name is not None:
        volumes.append(secret_volume(name, secret_name, keys))
        mounts.append({"name": name, "mountPath": path, "readOnly": True})


def _mount_superexec_secret(spec: FederationSpec, volumes: list[Obj], mounts: list[Obj]) -> None:
    _mount_secret(volumes, mounts, "superexec-secret", superexec_secret_name(spec), (SECRET_KEY,), CONTAINER.secret_dir)


def _pod_spec(spec: FederationSpec, *, service_account: str, containers: list[Obj], volumes: list[Obj]) -> Obj:
    pod: Obj = {
        "serviceAccountName": service_account,
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        # The pause container is PID 1 and reaps Flower's orphaned children (module docstring).
        "shareProcessNamespace": True,
        "securityContext": common.pod_security_context(),
        "terminationGracePeriodSeconds": 30,
        "containers": containers,
        "volumes": volumes,
    }
    pull = common.image_pull_secrets(spec)
    if pull:
        pod["imagePullSecrets"] = pull
    return pod


def _singleton_deployment(spec: FederationSpec, name: str, component: str, template_meta: Obj, pod: Obj) -> Obj:
    """A one-replica Deployment replaced with `Recreate` (never two pods at once)."""
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": common.metadata(name, spec.hub.namespace, labels=common.labels(spec, component)),
        "spec": {
            "replicas": 1,
            "strategy": {"type": "Recreate"},
            "revisionHistoryLimit": 5,
            "selector": {"matchLabels": common.selector_labels(spec, component)},
            "template": {"metadata": template_meta, "spec": pod},
        },
    }


def _superlink_deployment(spec: FederationSpec, secrets: HubSecrets) -> Obj:
    hub = spec.hub
    process = superlink_process(spec)
    skip = (CONTAINER.state_dir,) if hub.persistence.enabled else ()
    volumes, mounts = common.scratch_volumes(process, skip=skip)
    if hub.persistence.enabled:
        volumes.append({"name": "state", "persistentVolumeClaim": {"claimName": pvc_name(spec)}})
        mounts.append({"name": "state", "mountPath": CONTAINER.state_dir})
    _mount_secret(volumes, mounts, "tls", tls_secret_name(spec), (TLS_CERT_KEY, TLS_KEY_KEY, CA_CERT_KEY),
                  CONTAINER.tls_dir)
    _mount_superexec_secret(spec, volumes, mounts)
    ctr = common.container(
        "superlink",
        spec.flower.images.superlink,
        process,
        res=common.resources(hub.resources),
        mounts=mounts,
        pull_policy=spec.flower.image_pull_policy,
        ports=[{"name": API_PORT_NAME, "containerPort": hub.api_port, "protocol": "TCP"}],
    )
    init: list[Obj] = []
    if hub.persistence.enabled:
        backup = flower.state_backup(CONTAINER, spec.flower.version)
        init.append(common.container("state-backup", spec.flower.images.superlink, backup,
                                     res=common.resources(hub.resources), mounts=mounts,
                                     pull_policy=spec.flower.image_pull_policy, probes=False))
    template_meta: Obj = {"labels": common.labels(spec, SUPERLINK_COMPONENT)}
    if secrets.tls_checksum is not None:
        template_meta["annotations"] = {CHECKSUM_ANNOTATION: secrets.tls_checksum}
    name = superlink_service_name(spec)
    pod = _pod_spec(spec, service_account=name, containers=[ctr], volumes=volumes)
    if init:
        pod["initContainers"] = init
    # One writer of the sqlite database on a ReadWriteOnce volume: never two pods at once.
    return _singleton_deployment(spec, name, SUPERLINK_COMPONENT, template_meta, pod)


def _superexec_deployment(spec: FederationSpec, secrets: HubSecrets) -> Obj:
    hub = spec.hub
    image = spec.flower.images.superexec
    if image is None:
        raise ValueError("flower.images.superexec is required when hub.isolation is 'process'")
    process = superexec_process(spec)
    volumes, mounts = common.scratch_volumes(process)
    # Only the CA: the SuperExec verifies the SuperLink, it never sees the server key.
    _mount_secret(volumes, mounts, "tls-ca", tls_secret_name(spec), (CA_CERT_KEY,), CONTAINER.tls_dir)
    _mount_superexec_secret(spec, volumes, mounts)
    tasks = hub_task_pods(spec)
    if tasks is not None:  # the executor config and API credentials (it creates the ServerApp task pods)
        extra_volumes, extra_mounts = taskpods.superexec_volumes(tasks)
        volumes += extra_volumes
        mounts += extra_mounts
    ctr = common.container(
        "superexec",
        image,
        process,
        res=common.resources(hub.superexec.resources),
        mounts=mounts,
        pull_policy=spec.flower.image_pull_policy,
    )
    name = superexec_name(spec)
    meta: Obj = {"labels": common.labels(spec, SUPEREXEC_COMPONENT)}
    if secrets.tls_checksum is not None:  # it reads the CA once, at start
        meta["annotations"] = {CHECKSUM_ANNOTATION: secrets.tls_checksum}
    if tasks is not None:  # and its executor config
        meta.setdefault("annotations", {})[taskpods.CONFIG_CHECKSUM_ANNOTATION] = taskpods.config_checksum(tasks)
    # One executor at a time: two would race for the same ServerApp tasks during a rollout.
    return _singleton_deployment(spec, name, SUPEREXEC_COMPONENT, meta,
                                 _pod_spec(spec, service_account=name, containers=[ctr], volumes=volumes))


def _proxy_deployment(spec: FederationSpec, secrets: HubSecrets) -> Obj:
    hub = spec.hub
    process = proxy_process(spec)
    volumes, mounts = common.scratch_volumes(process)
    volumes.append({"name": "config", "configMap": {"name": proxy_configmap_name(spec),
                                                    "items": [{"key": PROXY_CONFIG_KEY, "path": PROXY_CONFIG_KEY}]}})
    mounts.append({"name": "config", "mountPath": PROXY_CONFIG_DIR, "readOnly": True})
    # It terminates TLS with the SuperLink certificate and verifies the SuperLink with the CA.
    _mount_secret(volumes, mounts, "tls", tls_secret_name(spec), (TLS_CERT_KEY, TLS_KEY_KEY, CA_CERT_KEY),
                  CONTAINER.tls_dir)
    ctr = common.container(
        "nginx", hub.proxy.image, process, res=common.resources(hub.proxy.resources), mounts=mounts,
        pull_policy=spec.flower.image_pull_policy,
        ports=[{"name": PORT_NAME, "containerPort": hub.port, "protocol": "TCP"}], probes=False,
    )
    ctr["livenessProbe"] = {"tcpSocket": {"port": hub.port}, "periodSeconds": 20, "timeoutSeconds": 5,
                            "failureThreshold": 3}
    # Ready = the SuperLink answers /health through the proxy (the exact path SuperNodes take).
    ctr["readinessProbe"] = common.http_probe(process, initial_delay=0, period=10, failure_threshold=3)
    pod = _pod_spec(spec, service_account=proxy_name(spec), containers=[ctr], volumes=volumes)
    pod["shareProcessNamespace"] = False  # nginx reaps its own workers
    pod["securityContext"] = {**pod["securityContext"], "runAsUser": PROXY_UID, "runAsGroup": PROXY_UID,
                              "fsGroup": PROXY_UID}
    config = proxy.nginx_config(proxy_config(spec))
    meta: Obj = {"labels": common.labels(spec, PROXY_COMPONENT),
                 "annotations": {"checksum/config": hashlib.sha256(config.encode()).hexdigest()}}
    if secrets.tls_checksum is not None:  # nginx reads the certificate at start, like Flower
        meta["annotations"][CHECKSUM_ANNOTATION] = secrets.tls_checksum
    name = proxy_name(spec)
    dep = _singleton_deployment(spec, name, PROXY_COMPONENT, meta, pod)
    dep["spec"]["strategy"] = {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}}
    return dep


_DNS_PORTS = [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]


def _selector(sel: LabelSelector) -> Obj:
    out: Obj = {}
    if sel.match_labels:
        out["matchLabels"] = dict(sorted(sel.match_labels.items()))
    if sel.match_expressions:
        out["matchExpressions"] = [{"key": e.key, "operator": e.operator, **({"values": list(e.values)} if e.values else {})}
                                   for e in sel.match_expressions]
    return out


def _peer(client: ControlClient) -> Obj:
    peer: Obj = {"podSelector": _selector(client.pod_selector)}
    if client.namespace_selector is not None:
        peer["namespaceSelector"] = _selector(client.namespace_selector)
    return peer


def _superlink_network_policy(spec: FederationSpec) -> Obj:
    hub = spec.hub
    egress: list[Obj] = []
    if hub.runtime_dependency_installation and hub.isolation == "subprocess":
        # Its own SuperExec runs `uv sync` against a package index before each ServerApp.
        egress = [{"ports": [*_DNS_PORTS, {"protocol": "TCP", "port": 443}, {"protocol": "TCP", "port": 80}]}]
    peers: list[Obj] = [{"podSelector": {"matchLabels": common.selector_labels(spec, PROXY_COMPONENT)}}]
    if hub.isolation == "process":
        peers.append({"podSelector": {"matchLabels": common.selector_labels(spec, SUPEREXEC_COMPONENT)}})
    if hub.supernode_auth.enabled and hub.supernode_auth.registration == "Automatic":
        peers.append({"podSelector": {"matchLabels": common.selector_labels(spec, REGISTRAR_COMPONENT)}})
    peers += [_peer(c) for c in hub.control_clients]
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": common.metadata(superlink_service_name(spec), hub.namespace,
                                    labels=common.labels(spec, SUPERLINK_COMPONENT)),
        "spec": {
            "podSelector": {"matchLabels": common.selector_labels(spec, SUPERLINK_COMPONENT)},
            "policyTypes": ["Ingress", "Egress"],
            # Only in-hub peers: the Fleet proxy, the ServerApp SuperExec, the named Control clients.
            "ingress": [{"from": peers, "ports": [{"protocol": "TCP", "port": hub.api_port}]}],
            "egress": egress,
        },
    }


def _proxy_network_policy(spec: FederationSpec) -> Obj:
    hub = spec.hub
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": common.metadata(proxy_name(spec), hub.namespace, labels=common.labels(spec, PROXY_COMPONENT)),
        "spec": {
            "podSelector": {"matchLabels": common.selector_labels(spec, PROXY_COMPONENT)},
            "policyTypes": ["Ingress", "Egress"],
            # From anywhere: SuperNodes connect from other clusters (often SNATed).
            "ingress": [{"ports": [{"protocol": "TCP", "port": hub.port}]}],
            "egress": [
                {"ports": list(_DNS_PORTS)},
                {
                    "to": [{"podSelector": {"matchLabels": common.selector_labels(spec, SUPERLINK_COMPONENT)}}],
                    "ports": [{"protocol": "TCP", "port": hub.api_port}],
                },
            ],
        },
    }


def _superexec_network_policy(spec: FederationSpec) -> Obj:
    hub = spec.hub
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": common.metadata(superexec_name(spec), hub.namespace, labels=common.labels(spec, SUPEREXEC_COMPONENT)),
        "spec": {
            "podSelector": {"matchLabels": common.selector_labels(spec, SUPEREXEC_COMPONENT)},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [],
            "egress": [
                {"ports": list(_DNS_PORTS)},
                {
                    "to": [{"podSelector": {"matchLabels": common.selector_labels(spec, SUPERLINK_COMPONENT)}}],
                    "ports": [{"protocol": "TCP", "port": hub.api_port}],
                },
            ],
        },
    }


def _pdb(spec: FederationSpec) -> Obj:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": common.metadata(superlink_service_name(spec), spec.hub.namespace,
                                    labels=common.labels(spec, SUPERLINK_COMPONENT)),
        "spec": {
            # Single replica on a RWO volume: allow drains (see the module docstring).
            "maxUnavailable": 1,
            "unhealthyPodEvictionPolicy": "AlwaysAllow",
            "selector": {"matchLabels": common.selector_labels(spec, SUPERLINK_COMPONENT)},
        },
    }


def hub_objects(spec: FederationSpec, *, tls_material: HubSecrets | None = None) -> list[Obj]:
    """Every hub object, in the order of the module docstring (deterministic for a given spec).

    ``tls_material`` fills the Secrets (``generate`` mode, process isolation) and the checksum
    annotation; without it the Secrets are emitted with no data.
    """
    secrets = tls_material or HubSecrets()
    hub = spec.hub
    process_isolation = hub.isolation == "process"
    objs: list[Obj] = []
    if hub.create_namespace:
        objs.append(_namespace(spec))
    objs.append(_service_account(spec, superlink_service_name(spec), SUPERLINK_COMPONENT))
    if process_isolation:
        objs.append(_service_account(spec, superexec_name(spec), SUPEREXEC_COMPONENT))
    objs.append(_service_account(spec, proxy_name(spec), PROXY_COMPONENT))
    if hub.tls.mode == "generate":
        name = tls_secret_name(spec)
        assert name is not None
        objs.append(_secret(spec, name, SUPERLINK_COMPONENT, "kubernetes.io/tls",
                            {TLS_CERT_KEY: secrets.tls_cert, TLS_KEY_KEY: secrets.tls_key, CA_CERT_KEY: secrets.ca_cert}))
    secret_name = superexec_secret_name(spec)
    if secret_name is not None:
        objs.append(_secret(spec, secret_name, SUPEREXEC_COMPONENT, "Opaque", {SECRET_KEY: secrets.superexec_secret}))
    objs.append(_proxy_configmap(spec))
    if hub.persistence.enabled:
        objs.append(_pvc(spec))
    objs.append(_service(spec))
    objs.append(_api_service(spec))
    objs.append(_superlink_deployment(spec, secrets))
    if process_isolation:
        objs.append(_superexec_deployment(spec, secrets))
    objs.append(_proxy_deployment(spec, secrets))
    objs.append(_superlink_network_policy(spec))
    if process_isolation:
        objs.append(_superexec_network_policy(spec))
    objs.append(_proxy_network_policy(spec))
    objs.append(_pdb(spec))
    tasks = hub_task_pods(spec)
    if tasks is not None:  # the task namespace, accounts, Role, executor config and policies, in kind order
        objs += taskpods.objects(tasks)
        objs.sort(key=lambda o: OBJECT_ORDER.index(o["kind"]))
    return objs
