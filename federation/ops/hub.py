"""Reading a deployed federation from the hub with the official ``kubernetes`` client, and a managed port-forward.

Only `status` and `connect` import this module (the CLI imports it inside those commands), so `validate`,
`render` and `check` never load the kubernetes client. Everything read goes into the plain dicts of
:class:`federation.ops.status.HubSnapshot`; the TLS Secret is reduced to its public keys (``tls.crt``,
``ca.crt``) as soon as it is read, the private key never leaves the client's response.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from pathlib import Path
from typing import Any
from urllib.parse import quote

from federation.manifests import hub as hub_manifests
from federation.manifests.common import Obj
from federation.manifests.ocm import names
from federation.ops.status import PLACEMENT_LABEL, HubRefs, HubSnapshot

#: Seconds per API request: a hub that does not answer makes status "unknown" quickly, not hang.
REQUEST_TIMEOUT = 15
_SA_TOKEN = Path("/var/run/secrets/kubernetes.io/serviceaccount/token")


class HubError(Exception):
    """The hub cannot be used: bad kubeconfig/context (`bad_input`), or unreachable/forbidden."""

    def __init__(self, message: str, *, bad_input: bool = False) -> None:
        super().__init__(message)
        self.bad_input = bad_input


def in_cluster() -> bool:
    """Whether this process runs in a pod (service-account token and KUBERNETES_SERVICE_HOST present)."""
    return bool(os.environ.get("KUBERNETES_SERVICE_HOST")) and _SA_TOKEN.exists()


def api_client(kubeconfig: Path | None, context: str | None) -> Any:
    """A kubernetes ApiClient: `kubeconfig`/`context` (else $KUBECONFIG, ~/.kube/config), or in-cluster config.

    A missing kubeconfig or an unknown context is bad input (`HubError.bad_input`), naming the option.
    """
    from kubernetes import client
    from kubernetes import config as kube_config
    from kubernetes.config.config_exception import ConfigException

    config: Any = kube_config  # its loaders are untyped

    cfg = client.Configuration()
    if kubeconfig is None and context is None and not os.environ.get("KUBECONFIG") and in_cluster():
        config.load_incluster_config(client_configuration=cfg)
    else:
        if kubeconfig is not None and not kubeconfig.is_file():
            raise HubError(f"--kubeconfig: {kubeconfig}: no such file", bad_input=True)
        try:
            config.load_kube_config(config_file=str(kubeconfig) if kubeconfig else None, context=context,
                                    client_configuration=cfg, persist_config=False)
        except ConfigException as exc:
            option = "--context" if context and "context" in str(exc).lower() else "--kubeconfig"
            where = kubeconfig or os.environ.get("KUBECONFIG") or "~/.kube/config"
            raise HubError(f"{option}: {exc} (kubeconfig {where})", bad_input=True) from None
    cfg.retries = 1  # an unreachable hub is reported in seconds, not after urllib3's default retries
    return client.ApiClient(cfg)


def _path(api_version: str, plural: str, name: str | None = None, namespace: str | None = None) -> str:
    """The REST path of a collection or an object (``/api/v1/...`` for the core group, ``/apis/<gv>/...`` otherwise)."""
    root = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
    if namespace is not None:
        root += f"/namespaces/{quote(namespace, safe='')}"
    root += f"/{plural}"
    return root + (f"/{quote(name, safe='')}" if name is not None else "")


class _Reader:
    """GETs objects as plain JSON through the client's REST layer (no typed models: the generated API classes
    cost seconds to warm up), recording failures other than 404 in the snapshot; an unreachable hub raises."""

    def __init__(self, api: Any, snap: HubSnapshot) -> None:
        self.api = api
        self.snap = snap

    def __call__(self, key: str, path: str, query: list[tuple[str, str]] | None = None) -> Obj | None:
        import json

        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        try:
            params = self.api.param_serialize(method="GET", resource_path=path, query_params=query or [],
                                              header_params={"Accept": "application/json"},
                                              auth_settings=["BearerToken"])
            response = self.api.call_api(*params, _request_timeout=REQUEST_TIMEOUT)
            response.read()
            status = int(response.status)
            body = response.data
        except ApiException as exc:
            status, body = int(exc.status or 0), exc.body
        except (HTTPError, OSError) as exc:
            host = getattr(self.api.configuration, "host", "?")
            raise HubError(f"cannot reach the hub API server {host}: {type(exc).__name__}: {exc}") from None
        if status == 404:
            return None
        try:
            doc = json.loads(body) if body else None
        except ValueError:
            doc = None
        if status != 200 or not isinstance(doc, dict):
            message = doc.get("message") if isinstance(doc, dict) else None
            self.snap.errors[key] = f"HTTP {status}" + (f": {message}" if message else "")
            return None
        return doc


def snapshot(api: Any, r: HubRefs) -> HubSnapshot:
    """Everything `status` evaluates, read live from the hub."""
    snap = HubSnapshot()
    read = _Reader(api, snap)
    ns = r.namespace
    for name, _ in r.deployments:
        snap.deployments[name] = read(f"Deployment {name}", _path("apps/v1", "deployments", name, ns))
    snap.service = read(f"Service {r.service}", _path("v1", "services", r.service, ns))
    if r.tls_secret is not None:
        snap.tls_secret = public_tls(read(f"Secret {r.tls_secret}", _path("v1", "secrets", r.tls_secret, ns)))
    for placement in [*r.placements.values(), *r.clientapp_placements.values()]:
        snap.placements[placement] = read(f"Placement {placement}", _path(
            names.API_PLACEMENT, "placements", placement, r.ocm_namespace))
        listed = read(f"PlacementDecisions {placement}", _path(names.API_PLACEMENT, "placementdecisions",
                                                               namespace=r.ocm_namespace),
                      [("labelSelector", f"{PLACEMENT_LABEL}={placement}")])
        snap.decisions[placement] = list((listed or {}).get("items") or [])
    snap.cluster_management_addon = read(f"ClusterManagementAddOn {r.addon}", _path(
        names.API_ADDON, "clustermanagementaddons", r.addon))
    mcas = read(f"ManagedClusterAddOns {r.addon}", _path(names.API_ADDON, "managedclusteraddons"),
                [("fieldSelector", f"metadata.name={r.addon}")])
    snap.addons = list((mcas or {}).get("items") or [])
    for mwrs in r.mwrs.values():
        snap.mwrs[mwrs] = read(f"ManifestWorkReplicaSet {mwrs}", _path(
            names.API_WORK, "manifestworkreplicasets", mwrs, r.ocm_namespace))
    if r.registrations is not None:
        snap.registrations = read(f"ConfigMap {r.registrations}", _path("v1", "configmaps", r.registrations, ns))
    return snap


def public_tls(secret: Obj | None) -> Obj | None:
    """The TLS Secret with only its public keys (``tls.crt``, ``ca.crt``): the private key is dropped at once."""
    if secret is None:
        return None
    data = secret.get("data") or {}
    keep = (hub_manifests.TLS_CERT_KEY, hub_manifests.CA_CERT_KEY)
    return {"metadata": secret.get("metadata", {}), "data": {k: data[k] for k in keep if k in data}}


def read_ca(api: Any, namespace: str, secret_name: str) -> str:
    """``ca.crt`` of the SuperLink's TLS Secret on the hub (the CA `flwr` and the SuperNodes trust)."""
    import base64

    snap = HubSnapshot()
    key = f"Secret {secret_name}"
    secret = public_tls(_Reader(api, snap)(key, _path("v1", "secrets", secret_name, namespace)))
    if key in snap.errors:
        raise HubError(f"cannot read Secret {namespace}/{secret_name}: {snap.errors[key]}")
    value = ((secret or {}).get("data") or {}).get(hub_manifests.CA_CERT_KEY)
    if value is None:
        raise HubError(f"Secret {namespace}/{secret_name} not found or without {hub_manifests.CA_CERT_KEY} "
                       "(was `pulumi up` run for this stack?)")
    return base64.b64decode(value).decode("utf-8")


def ready_pod(api: Any, namespace: str, selector: dict[str, str]) -> str:
    """The name of a Running, Ready pod matching `selector` (the SuperLink's); HubError when there is none."""
    label_selector = ",".join(f"{k}={v}" for k, v in sorted(selector.items()))
    snap = HubSnapshot()
    listed = _Reader(api, snap)("pods", _path("v1", "pods", namespace=namespace), [("labelSelector", label_selector)])
    if snap.errors:
        raise HubError(f"cannot list pods in {namespace}: {snap.errors['pods']}")
    for pod in (listed or {}).get("items") or []:
        status = pod.get("status") or {}
        ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])
        if status.get("phase") == "Running" and ready and not (pod.get("metadata") or {}).get("deletionTimestamp"):
            return str(pod["metadata"]["name"])
    raise HubError(f"no Running and Ready SuperLink pod in {namespace} (selector {label_selector})")


def _api_message(text: str) -> str:
    """The API server's own words from an error text: the `message` of a Status object in it (a failed websocket
    handshake carries the whole response), with its HTTP code; else the text on one line."""
    import json
    import re

    for m in re.finditer(r"\{\"kind\":\"Status\".*?\}(?=\s*$|\s*\n)", text, re.S):
        try:
            status = json.loads(m.group(0))
        except ValueError:
            continue
        if status.get("message"):
            return f"{status['message']} (HTTP {status.get('code', '?')})"
    return " ".join(text.split())[:500]


class PortForward:
    """``127.0.0.1:<local_port>`` relayed to `port` of a pod through the API server (pods/portforward), like
    `kubectl port-forward`: each accepted connection opens its own port-forward stream.

    :meth:`start` opens one stream first, so a hub that cannot port-forward (no kubelet behind the node,
    RBAC without ``pods/portforward``) fails there with :class:`HubError`, not on the first connection.
    """

    def __init__(self, api: Any, namespace: str, pod: str, port: int, *, local_port: int = 0) -> None:
        self.api, self.namespace, self.pod, self.port = api, namespace, pod, port
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._local_port = local_port
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        #: Errors of streams opened for accepted connections (for the message when `flwr` fails).
        self.errors: list[str] = []

    @property
    def description(self) -> str:
        """`port-forward to pod ns/name:port`."""
        return f"port-forward to pod {self.namespace}/{self.pod}:{self.port}"

    @property
    def local_port(self) -> int:
        """The local port (chosen by the OS when 0 was asked)."""
        return int(self._listener.getsockname()[1])

    @property
    def address(self) -> str:
        """``127.0.0.1:<local port>``."""
        return f"127.0.0.1:{self.local_port}"

    def _open(self) -> Any:
        """One port-forward stream (a websocket to pods/<pod>/portforward), built from the REST layer directly:
        the generated API method would cost seconds of warm-up and is not thread-safe under the stream helper."""
        from kubernetes.client.exceptions import ApiException
        from kubernetes.stream import ws_client

        try:
            method, url, headers, _, _ = self.api.param_serialize(
                method="GET", resource_path=_path("v1", "pods", self.pod, self.namespace) + "/portforward",
                query_params=[("ports", str(self.port))], auth_settings=["BearerToken"])
            call: Any = ws_client.portforward_call  # untyped
            return call(self.api.configuration, method, url, headers=headers, _preload_content=False)
        except ApiException as exc:
            raise HubError(f"{self.description} failed: {_api_message(str(exc.reason or exc.body or exc.status))}") from None
        except Exception as exc:  # the websocket layer raises its own types
            raise HubError(f"{self.description} failed: {_api_message(f'{type(exc).__name__}: {exc}')}") from None

    def start(self) -> PortForward:
        """Check that the hub port-forwards to the pod, then listen and relay in a daemon thread."""
        probe = self._open()
        probe.close()
        try:
            self._listener.bind(("127.0.0.1", self._local_port))
        except OSError as exc:
            self._listener.close()
            raise HubError(f"--local-port: cannot listen on 127.0.0.1:{self._local_port}: {exc.strerror}",
                           bad_input=True) from None
        self._listener.listen(16)
        self._thread = threading.Thread(target=self._serve, name="port-forward", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop listening; streams in flight end when their connections do."""
        self._stop.set()
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()

    def __enter__(self) -> PortForward:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._relay, args=(conn,), name="port-forward-conn", daemon=True).start()

    def _relay(self, conn: socket.socket) -> None:
        try:
            pf = self._open()
        except HubError as exc:
            self.errors.append(str(exc))
            conn.close()
            return
        remote = pf.socket(self.port)
        remote.setblocking(True)

        def pump(src: Any, dst: Any) -> None:
            try:
                while chunk := src.recv(65536):
                    dst.sendall(chunk)
            except OSError:
                pass
            with contextlib.suppress(OSError):
                dst.shutdown(socket.SHUT_WR)  # half-close: the other direction may still carry a reply

        back = threading.Thread(target=pump, args=(remote, conn), daemon=True)
        back.start()
        pump(conn, remote)
        back.join(timeout=60)
        for s in (conn, remote):
            with contextlib.suppress(OSError):
                s.close()
        pf.close()
