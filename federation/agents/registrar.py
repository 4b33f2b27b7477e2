"""The hub's SuperNode registrar: registers the public keys SuperNodes publish through OCM with the SuperLink.

Runs in a flwr image (standard library and flwr only; shipped as a ConfigMap by
`federation.manifests.ocm.registrar`). Each pass:

1. lists the ManifestWorks of the addon (label `open-cluster-management.io/addon-name=<addon>`, every cluster
   namespace) and reads each cluster's public key from the status feedback of the public-key ConfigMap
   (`statusFeedback.values[name=publicKey]`), which the work agent reports from the spoke;
2. lists the SuperLink's nodes (Control API, `ListNodes`);
3. registers every key not registered yet as a node named `ocm:<cluster>`; unregisters the nodes named
   `ocm:<cluster>` whose key is no longer that cluster's (a new key) or whose cluster has no ManifestWork of
   the addon any more (it left the pool, or the addon was removed); nodes with other names are never touched;
4. writes what it found per cluster to a ConfigMap in its namespace (`status` reads it) and logs every change.

Idempotent: the state is the ManifestWorks and the SuperLink's nodes, so any piece may restart. A failed
call is retried on the next pass and reported (`state: Failed` with the reason). `GET /healthz` answers 200
while passes keep finishing, `GET /readyz` when the last pass reached the API server and the SuperLink.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import logging
import os
import ssl
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol

log = logging.getLogger("registrar")

ADDON_LABEL = "open-cluster-management.io/addon-name"
NODE_PREFIX = "ocm:"
UNREGISTERED = "unregistered"
#: Flower's `PUBLIC_KEY_ALREADY_IN_USE` (`flwr.supercore.error.catalog`): the key was registered before.
KEY_IN_USE = 23


@dataclass(frozen=True)
class Node:
    """A SuperLink node as `ListNodes` reports it (the fields the registrar reads)."""

    node_id: int
    name: str
    status: str
    public_key: bytes


@dataclass(frozen=True)
class Desired:
    """What the ManifestWorks say: clusters with a work of the addon, and the valid keys they published."""

    clusters: frozenset[str]
    keys: Mapping[str, bytes]  # cluster -> PEM SubjectPublicKeyInfo (exactly what the SuperNode sends)
    problems: Mapping[str, str]  # cluster -> why its published key is unusable


@dataclass
class Plan:
    """The calls one pass makes."""

    register: list[tuple[str, bytes]] = field(default_factory=list)  # (cluster, key)
    unregister: list[tuple[str, int, str]] = field(default_factory=list)  # (cluster, node id, why)
    registered: dict[str, int] = field(default_factory=dict)  # cluster -> node id already registered


def canonical_key(text: str) -> bytes:
    """An OpenSSH (or PEM) ECDSA public key on a NIST curve, as the PEM bytes Flower compares; ValueError otherwise."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from flwr.supercore.primitives.asymmetric import public_key_to_bytes, uses_nist_ec_curve

    raw = text.strip().encode()
    key: Any = serialization.load_pem_public_key(raw) if raw.startswith(b"-----BEGIN") \
        else serialization.load_ssh_public_key(raw)
    if not isinstance(key, ec.EllipticCurvePublicKey) or not uses_nist_ec_curve(key):
        raise ValueError("not an ECDSA public key on a NIST curve")
    return public_key_to_bytes(key)


def fingerprint(key: bytes) -> str:
    """A short, stable identifier of a public key for logs and status."""
    return "sha256:" + hashlib.sha256(key).hexdigest()[:16]


def desired_keys(works: Sequence[Mapping[str, Any]], *, namespace: str, configmap: str, value: str) -> Desired:
    """The public key each cluster published, from the status feedback of its addon ManifestWorks."""
    clusters: set[str] = set()
    keys: dict[str, bytes] = {}
    problems: dict[str, str] = {}
    for work in works:
        meta = work.get("metadata") or {}
        cluster = meta.get("namespace")
        if not isinstance(cluster, str) or meta.get("deletionTimestamp"):
            continue
        clusters.add(cluster)
        for manifest in ((work.get("status") or {}).get("resourceStatus") or {}).get("manifests") or []:
            res = manifest.get("resourceMeta") or {}
            if (res.get("resource"), res.get("namespace"), res.get("name")) != ("configmaps", namespace, configmap):
                continue
            for item in (manifest.get("statusFeedback") or {}).get("values") or []:
                text = (item.get("fieldValue") or {}).get("string")
                if item.get("name") != value or not isinstance(text, str) or not text:
                    continue
                try:
                    keys[cluster] = canonical_key(text)
                except ValueError as exc:
                    problems[cluster] = f"the published public key is unusable: {exc}"
    return Desired(frozenset(clusters), keys, problems)


def plan(desired: Desired, nodes: Sequence[Node]) -> Plan:
    """Register what is missing, unregister what no cluster publishes any more; never touch others' nodes."""
    out = Plan()
    active = [n for n in nodes if n.status != UNREGISTERED]
    by_key = {n.public_key: n for n in active}
    for cluster in sorted(desired.keys):
        key = desired.keys[cluster]
        if key in by_key:
            out.registered[cluster] = by_key[key].node_id
        else:
            out.register.append((cluster, key))
    for node in sorted(active, key=lambda n: n.node_id):
        if not node.name.startswith(NODE_PREFIX):
            continue
        cluster = node.name[len(NODE_PREFIX):]
        if cluster not in desired.clusters:
            out.unregister.append((cluster, node.node_id, "the cluster has no ManifestWork of the addon any more"))
        elif cluster in desired.keys and node.public_key != desired.keys[cluster]:
            out.unregister.append((cluster, node.node_id, "the cluster published a new key"))
    return out


class Control(Protocol):
    """The Control API calls the registrar makes."""

    def list_nodes(self) -> list[Node]: ...

    def register(self, key: bytes, name: str) -> int: ...

    def unregister(self, node_id: int) -> None: ...


class FlowerControl:
    """Flower's Control API through flwr's own protobuf-over-HTTP client (no CLI, no account: open-source Flower)."""

    def __init__(self, address: str, ca_file: str | None) -> None:
        from flwr.supercore.control.control_http_client import ControlHttpClient

        # The CA's bytes, not its path: httpx deprecates a path as `verify`.
        ca = None
        if ca_file is not None:
            with open(ca_file, "rb") as f:
                ca = f.read()
        self._client = ControlHttpClient.from_server_address(
            address, insecure=ca is None, root_certificates=ca, interceptors=[])

    def list_nodes(self) -> list[Node]:
        from flwr.proto.control_pb2 import ListNodesRequest

        res = self._client.ListNodes(ListNodesRequest())
        return [Node(n.node_id, n.name, n.status, bytes(n.public_key)) for n in res.nodes_info]

    def register(self, key: bytes, name: str) -> int:
        from flwr.proto.control_pb2 import RegisterNodeRequest

        return int(self._client.RegisterNode(RegisterNodeRequest(public_key=key, name=name)).node_id)

    def unregister(self, node_id: int) -> None:
        from flwr.proto.control_pb2 import UnregisterNodeRequest

        self._client.UnregisterNode(UnregisterNodeRequest(node_id=node_id))


def flower_error(exc: Exception) -> tuple[int | None, str]:
    """Flower's error code and message of a failed Control API call (httpx.HTTPStatusError), else (None, text)."""
    response = getattr(exc, "response", None)
    text = getattr(response, "text", None)
    if isinstance(text, str):
        try:
            doc = json.loads(text)
        except ValueError:
            doc = None
        if isinstance(doc, dict):
            code = doc.get("code")
            return (code if isinstance(code, int) else None), str(doc.get("detail") or doc.get("message") or text)
    return None, f"{type(exc).__name__}: {exc}"


class Kube:
    """The hub's API server with the pod's projected ServiceAccount token (re-read on every call: it rotates)."""

    def __init__(self, host: str, port: int, api_dir: str) -> None:
        self.host, self.port, self.api_dir = host, port, api_dir
        self._ctx = ssl.create_default_context(cafile=os.path.join(api_dir, "ca.crt"))

    @classmethod
    def in_cluster(cls, api_dir: str) -> Kube:
        """From KUBERNETES_SERVICE_HOST/PORT and the token, CA and namespace mounted at `api_dir`."""
        return cls(os.environ["KUBERNETES_SERVICE_HOST"], int(os.environ.get("KUBERNETES_SERVICE_PORT", "443")), api_dir)

    def namespace(self) -> str:
        """The pod's own namespace."""
        with open(os.path.join(self.api_dir, "namespace"), encoding="utf-8") as f:
            return f.read().strip()

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """(status, decoded JSON body) of one request."""
        with open(os.path.join(self.api_dir, "token"), encoding="utf-8") as f:
            token = f.read().strip()
        conn = http.client.HTTPSConnection(self.host, self.port, context=self._ctx, timeout=30)
        try:
            conn.request(method, path, body=None if body is None else json.dumps(body),
                         headers={"Authorization": f"Bearer {token}", "Accept": "application/json",
                                  "Content-Type": "application/json"})
            res = conn.getresponse()
            raw = res.read()
        finally:
            conn.close()
        try:
            return res.status, json.loads(raw) if raw else None
        except ValueError:
            return res.status, raw.decode(errors="replace")


def list_works(kube: Kube, addon: str) -> list[dict[str, Any]]:
    """Every ManifestWork of the addon, in every cluster namespace; RuntimeError when the API refuses."""
    selector = urllib.parse.quote(f"{ADDON_LABEL}={addon}")
    status, body = kube.call("GET", f"/apis/work.open-cluster-management.io/v1/manifestworks?labelSelector={selector}")
    if status != 200 or not isinstance(body, dict):
        raise RuntimeError(f"listing ManifestWorks: HTTP {status}: {str(body)[:300]}")
    return list(body.get("items") or [])


def write_report(kube: Kube, namespace: str, name: str, report: Mapping[str, Any], labels: Mapping[str, str]) -> None:
    """Create or update the status ConfigMap (only when its content changed)."""
    path = f"/api/v1/namespaces/{namespace}/configmaps"
    data = {"registrations.json": json.dumps(report, indent=2, sort_keys=True)}
    status, body = kube.call("GET", f"{path}/{name}")
    if status == 404:
        status, body = kube.call("POST", path, {"apiVersion": "v1", "kind": "ConfigMap", "data": data,
                                                "metadata": {"name": name, "labels": dict(labels)}})
    elif status == 200 and isinstance(body, dict) and body.get("data") != data:
        body["data"] = data
        status, body = kube.call("PUT", f"{path}/{name}", body)
    if status not in (200, 201):
        raise RuntimeError(f"writing ConfigMap {namespace}/{name}: HTTP {status}: {str(body)[:300]}")


def sync(works: Sequence[Mapping[str, Any]], control: Control, *, namespace: str, configmap: str,
         value: str) -> dict[str, Any]:
    """One pass: read, plan, call; the per-cluster report (`registrations`) and how many calls failed."""
    desired = desired_keys(works, namespace=namespace, configmap=configmap, value=value)
    actions = plan(desired, control.list_nodes())
    report: dict[str, dict[str, Any]] = {}
    for cluster in sorted(desired.clusters):
        report[cluster] = {"state": "Pending", "message": "waiting for the SuperNode to publish its public key"}
    for cluster, problem in desired.problems.items():
        report[cluster] = {"state": "Failed", "message": problem}
    for cluster, node_id in actions.registered.items():
        report[cluster] = {"state": "Registered", "nodeId": str(node_id), "key": fingerprint(desired.keys[cluster])}
    failures = 0
    for cluster, key in actions.register:
        try:
            node_id = control.register(key, NODE_PREFIX + cluster)
        except Exception as exc:
            failures += 1
            code, message = flower_error(exc)
            if code == KEY_IN_USE:
                message = ("the SuperLink refuses this key: it was registered before and then unregistered (Flower "
                           "never accepts it again); the cluster needs a new key: delete its Secret with the "
                           "SuperNode key (the SuperNode generates a new one)")
            log.warning("register %s (%s): %s", cluster, fingerprint(key), message)
            report[cluster] = {"state": "Failed", "key": fingerprint(key), "message": message}
            continue
        log.info("registered %s as node %s (%s)", cluster, node_id, fingerprint(key))
        report[cluster] = {"state": "Registered", "nodeId": str(node_id), "key": fingerprint(key)}
    for cluster, node_id, why in actions.unregister:
        try:
            control.unregister(node_id)
        except Exception as exc:
            failures += 1
            log.warning("unregister node %s of %s: %s", node_id, cluster, flower_error(exc)[1])
            continue
        log.info("unregistered node %s of %s: %s", node_id, cluster, why)
    return {"registrations": report, "failures": failures}


class Health:
    """What the probes read: when the last pass finished, and whether it succeeded."""

    def __init__(self, stale_after: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.stale_after, self.clock = stale_after, clock
        self.last_pass = clock()
        self.ok = False

    def passed(self, ok: bool) -> None:
        """Record a finished pass."""
        self.last_pass, self.ok = self.clock(), ok

    def alive(self) -> bool:
        """Passes keep finishing."""
        return self.clock() - self.last_pass < self.stale_after


def serve_health(health: Health, port: int, host: str = "0.0.0.0") -> ThreadingHTTPServer:  # noqa: S104 - the pod's IP
    """`/healthz` (passes keep finishing) and `/readyz` (the last pass reached both APIs) on `port`, in a thread."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_: Any) -> None:
            pass

        def do_GET(self) -> None:
            ok = health.alive() if self.path == "/healthz" else health.ok and health.alive() \
                if self.path == "/readyz" else None
            self.send_response(404 if ok is None else 200 if ok else 503)
            self.end_headers()

    server = ThreadingHTTPServer((host, port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main(argv: Sequence[str] | None = None) -> int:
    """Run passes every --interval seconds until stopped (or once, with --once)."""
    p = argparse.ArgumentParser(prog="registrar", description=__doc__.splitlines()[0])
    p.add_argument("--control-address", required=True, help="HOST:PORT of the SuperLink's Control API")
    p.add_argument("--ca-file", help="the CA certificate file the SuperLink's certificate chains to (omit: plaintext)")
    p.add_argument("--addon", required=True, help="the addon name (ManifestWork label)")
    p.add_argument("--agent-namespace", required=True, help="the spoke namespace of the public-key ConfigMap")
    p.add_argument("--public-key-configmap", required=True)
    p.add_argument("--public-key-value", default="publicKey", help="the status feedback value's name")
    p.add_argument("--report-configmap", required=True, help="the hub ConfigMap the registrar reports in")
    p.add_argument("--instance", required=True, help="the federation's name (the report's labels)")
    p.add_argument("--api-dir", required=True, help="directory with the API token, ca.crt and namespace")
    p.add_argument("--interval", type=float, default=15.0)
    p.add_argument("--health-port", type=int, default=0, help="port of /healthz and /readyz (0: none)")
    p.add_argument("--once", action="store_true")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stdout)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per Control API call every pass otherwise
    kube = Kube.in_cluster(args.api_dir)
    namespace = kube.namespace()
    control = FlowerControl(args.control_address, args.ca_file)
    health = Health(stale_after=max(60.0, 5 * args.interval))
    if args.health_port:
        serve_health(health, args.health_port)
    labels = {"app.kubernetes.io/name": "flower", "app.kubernetes.io/instance": args.instance,
              "app.kubernetes.io/component": "supernode-registrar", "app.kubernetes.io/managed-by": "flower-federation"}
    while True:
        report: dict[str, Any]
        try:
            works = list_works(kube, args.addon)
            report = sync(works, control, namespace=args.agent_namespace, configmap=args.public_key_configmap,
                          value=args.public_key_value)
            report["error"] = None
        except Exception as exc:
            _code, message = flower_error(exc)
            log.warning("pass failed: %s", message)
            report = {"registrations": None, "failures": 1, "error": message}
        report["syncedAt"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if report["error"] is None else None
        try:
            # the time of a pass changes every pass: report it only with a change of anything else
            write_report(kube, namespace, args.report_configmap, {k: v for k, v in report.items() if k != "syncedAt"},
                         labels)
        except (RuntimeError, OSError) as exc:
            log.warning("%s", exc)
        # Ready when a pass reached both APIs: a cluster whose key Flower refuses is reported (status), and
        # must not make the Deployment unavailable (that would block `pulumi up` on one spoke's problem).
        health.passed(report["error"] is None)
        if args.once:
            return 0 if health.ok and report["failures"] == 0 else 1
        time.sleep(args.interval)


if __name__ == "__main__":
    sys.exit(main())
