"""rig: start and stop a local Kubernetes + OCM hub control plane for the Pulumi path.

    rig/rig up DIR [--context NAME]... [--spoke NAME]... [--pod-namespace NS]...
                                         start everything, write DIR/env and DIR/kubeconfig
    rig/rig clusters DIR FILE            register fake managed clusters described in FILE (YAML)
    rig/rig down DIR                     stop everything that `up` started (DIR/pids)
    rig/rig port-forward DIR --cluster C --namespace NS --service S --port P [--local-port N]
                                         127.0.0.1:N -> the Service's ready pod (rig/podrunner.py)

Binaries come from rig/build's cache (FLOWER_FEDERATION_RIG_CACHE, default
~/.cache/flower-federation-rig/bin). Every server binds 127.0.0.1 on a free port.
Needs Python 3.11+, `cryptography` and `pyyaml` (the project's .venv has both).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import datetime
import hashlib
import ipaddress
import json
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

CACHE = Path(os.environ.get("FLOWER_FEDERATION_RIG_CACHE",
                            Path.home() / ".cache" / "flower-federation-rig"))
BIN = CACHE / "bin"
PASSPHRASE = "flower-federation-rig"  # fixed test passphrase for the file backend
DEFAULT_CONTEXTS = ["hub-dev", "hub-prod"]
K8S_BINARIES = ["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok",
                "ocm-placement", "ocm-addon", "ocm-work", "ocm-registration"]
# Fake nodes: several CPU nodes and one GPU node.
NODES = [
    {"name": f"cpu-{i}", "cpu": "8", "memory": "32Gi", "labels": {}} for i in range(1, 4)
] + [{"name": "gpu-1", "cpu": "16", "memory": "64Gi", "gpu": "4",
      "labels": {"nvidia.com/gpu.present": "true", "nvidia.com/gpu.product": "rig-fake-gpu",
                 "accelerator": "nvidia"}}]
PV_COUNT = 8
WEBHOOK_CRDS = {"clustermanagementaddons.addon.open-cluster-management.io",
                "managedclusteraddons.addon.open-cluster-management.io"}


class RigError(Exception):
    pass


def log(msg: str) -> None:
    print(f"[rig] {msg}", file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------- PKI

def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _pem_key(k: Any) -> bytes:
    return k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                           serialization.NoEncryption())


def _cert(subject: x509.Name, key: Any, issuer: x509.Name, issuer_key: Any, *, ca: bool,
          sans: list[x509.GeneralName] | None = None, client: bool = False) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    b = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer)
         .public_key(key.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(now - datetime.timedelta(minutes=5))
         .not_valid_after(now + datetime.timedelta(days=30))
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if ca:
        b = b.add_extension(x509.KeyUsage(True, False, False, False, False, True, True, False, False),
                            critical=True)
    else:
        usages = [x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH] if client else \
            [x509.oid.ExtendedKeyUsageOID.SERVER_AUTH, x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]
        b = b.add_extension(x509.ExtendedKeyUsage(usages), critical=False)
    if sans:
        b = b.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return b.sign(issuer_key, hashes.SHA256())


def make_pki(pki: Path, extra_ips: list[str] | None = None, spokes: list[str] | None = None) -> None:
    """The rig CA, the hub's serving/webhook/admin certificates and one serving certificate per spoke.

    EXTRA_IPS (the pod bridge's gateway) go into every serving certificate: pods reach their cluster's
    API server there (KUBERNETES_SERVICE_HOST).
    """
    pki.mkdir(parents=True, exist_ok=True)
    ca_key = _key()
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "flower-federation-rig-ca")])
    ca = _cert(ca_name, ca_key, ca_name, ca_key, ca=True)
    (pki / "ca.crt").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (pki / "ca.key").write_bytes(_pem_key(ca_key))
    sans = [x509.DNSName(n) for n in ("localhost", "kubernetes", "kubernetes.default",
                                      "kubernetes.default.svc",
                                      "kubernetes.default.svc.cluster.local")]
    sans += [x509.IPAddress(ipaddress.ip_address(a)) for a in ("127.0.0.1", "10.0.0.1", *(extra_ips or []))]
    for name, subject, client in (
        ("serving", [x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver")], False),
        *((f"serving-{sp}", [x509.NameAttribute(NameOID.COMMON_NAME, f"kube-apiserver-{sp}")], False)
          for sp in spokes or []),
        ("webhook", [x509.NameAttribute(NameOID.COMMON_NAME, "rig-webhook")], False),
        ("admin", [x509.NameAttribute(NameOID.ORGANIZATION_NAME, "system:masters"),
                   x509.NameAttribute(NameOID.COMMON_NAME, "rig-admin")], True),
    ):
        k = _key()
        c = _cert(x509.Name(subject), k, ca_name, ca_key, ca=False,
                  sans=None if client else sans, client=client)
        (pki / f"{name}.crt").write_bytes(c.public_bytes(serialization.Encoding.PEM))
        (pki / f"{name}.key").write_bytes(_pem_key(k))
    # controller-runtime's webhook server reads tls.crt/tls.key from its cert dir
    wh = pki / "webhook-certs"
    wh.mkdir(exist_ok=True)
    (wh / "tls.crt").write_bytes((pki / "webhook.crt").read_bytes())
    (wh / "tls.key").write_bytes((pki / "webhook.key").read_bytes())
    sa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    (pki / "sa.key").write_bytes(sa.private_bytes(serialization.Encoding.PEM,
                                                  serialization.PrivateFormat.TraditionalOpenSSL,
                                                  serialization.NoEncryption()))
    (pki / "sa.pub").write_bytes(sa.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))


def write_kubeconfig(path: Path, pki: Path, server: str, contexts: list[str],
                     spokes: dict[str, str] | None = None) -> None:
    """CONTEXTS point at the hub; each spoke (name -> server) gets a context `spoke-<name>`."""
    b64 = lambda p: base64.b64encode((pki / p).read_bytes()).decode()  # noqa: E731
    servers = {"rig": server, **{f"spoke-{n}": s for n, s in (spokes or {}).items()}}
    cfg = {
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": n, "cluster": {"server": s, "certificate-authority-data": b64("ca.crt")}}
                     for n, s in servers.items()],
        "users": [{"name": "rig-admin", "user": {"client-certificate-data": b64("admin.crt"),
                                                 "client-key-data": b64("admin.key")}}],
        "contexts": [{"name": c, "context": {"cluster": "rig", "user": "rig-admin"}}
                     for c in contexts] + [{"name": f"spoke-{n}", "context": {"cluster": f"spoke-{n}",
                                                                              "user": "rig-admin"}}
                                           for n in (spokes or {})],
        "current-context": contexts[0],
    }
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    path.chmod(0o600)


# ----------------------------------------------------------------------------- API client

class Kube:
    def __init__(self, server: str, pki: Path) -> None:
        self.server = server
        self.ctx = ssl.create_default_context(cafile=str(pki / "ca.crt"))
        self.ctx.load_cert_chain(str(pki / "admin.crt"), str(pki / "admin.key"))

    def request(self, method: str, path: str, body: Any = None,
                content_type: str = "application/json", timeout: float = 30) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.server + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(req, context=self.ctx, timeout=timeout) as r:
                raw = r.read()
        except urllib.error.HTTPError as e:
            raise RigError(f"{method} {path}: HTTP {e.code}: {e.read().decode()[:500]}") from None
        return json.loads(raw) if raw[:1] in (b"{", b"[") else raw.decode()

    def get(self, path: str) -> Any:
        return self.request("GET", path)

    def apply(self, path: str, obj: dict, subresource: str = "") -> Any:
        """Server-side apply OBJ at PATH (the object's own URL)."""
        sub = f"/{subresource}" if subresource else ""
        return self.request("PATCH", f"{path}{sub}?fieldManager=rig&force=true", obj,
                            "application/apply-patch+yaml")


def obj_path(obj: dict, plural: str, namespaced: bool) -> str:
    api = obj["apiVersion"]
    base = f"/api/{api}" if "/" not in api else f"/apis/{api}"
    ns = f"/namespaces/{obj['metadata']['namespace']}" if namespaced else ""
    return f"{base}{ns}/{plural}/{obj['metadata']['name']}"


# ----------------------------------------------------------------------------- processes

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def check_port_free(port: int, what: str) -> None:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError as e:
            raise RigError(f"port 127.0.0.1:{port} for {what} is busy ({e.strerror})") from None


class Procs:
    def __init__(self, d: Path) -> None:
        self.dir = d
        self.pidfile = d / "pids"
        self.started: list[tuple[str, subprocess.Popen]] = []

    def start(self, name: str, argv: list[str], env: dict | None = None) -> subprocess.Popen:
        exe = argv[0]
        if "/" in exe and not os.access(exe, os.X_OK):
            raise RigError(f"{name}: missing binary {exe} (run rig/build)")
        logf = open(self.dir / "logs" / f"{name}.log", "ab")
        logf.write(("$ " + " ".join(argv) + "\n").encode())
        logf.flush()
        p = subprocess.Popen(argv, stdout=logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                             start_new_session=True, env={**os.environ, **(env or {})})
        self.started.append((name, p))
        with open(self.pidfile, "a") as f:
            f.write(f"{name} {p.pid}\n")
        return p

    def check_alive(self, name: str) -> None:
        for n, p in self.started:
            if n == name and p.poll() is not None:
                raise RigError(f"{name} exited with code {p.returncode}; see "
                               f"{self.dir / 'logs' / (name + '.log')}")


def stop_pids(d: Path) -> None:
    pidfile = d / "pids"
    if not pidfile.exists():
        return
    entries = [ln.split() for ln in pidfile.read_text().splitlines() if ln.strip()]
    for name, pid in reversed(entries):
        try:
            os.killpg(int(pid), signal.SIGTERM)
        except ProcessLookupError:
            continue
        except PermissionError:
            log(f"cannot signal {name} ({pid})")
    deadline = time.time() + 15
    alive = [(n, int(p)) for n, p in entries]
    while alive and time.time() < deadline:
        alive = [(n, p) for n, p in alive if _group_alive(p)]
        if alive:
            time.sleep(0.2)
    for name, pid in alive:
        log(f"{name} ({pid}) ignored SIGTERM; sending SIGKILL")
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
    for _, pid in entries:  # reap our own children when called from `up`'s cleanup
        with contextlib.suppress(ChildProcessError):
            os.waitpid(int(pid), os.WNOHANG)
    pidfile.unlink()
    if (d / "runner.json").exists():
        import podrunner  # container processes a killed runner left behind, its netns and bridge
        podrunner.kill_leftovers(d)


def _group_alive(pgid: int) -> bool:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pgid, os.WNOHANG)
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    # zombies still count as existing; look at the state of the group leader
    try:
        state = Path(f"/proc/{pgid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    except (FileNotFoundError, IndexError):
        return True


def wait_for(what: str, check: Callable[[], bool], procs: Procs, names: list[str],
             timeout: float = 120) -> None:
    deadline = time.time() + timeout
    last = ""
    while time.time() < deadline:
        for n in names:
            procs.check_alive(n)
        try:
            if check():
                log(f"{what}: ready")
                return
        except Exception as e:
            last = str(e)
        time.sleep(0.5)
    logs = ", ".join(str(procs.dir / "logs" / f"{n}.log") for n in names)
    raise RigError(f"{what} not ready after {timeout:.0f}s ({last[:300]}); see {logs}")


def https_ok(url: str, ctx: ssl.SSLContext | None = None) -> bool:
    if ctx is None:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    with urllib.request.urlopen(url, context=ctx, timeout=5) as r:
        return r.status == 200


# ----------------------------------------------------------------------------- relay
# The OCM addon webhook server hard-codes its listeners to every interface (webhook port and
# health probe :8000). The rig runs it in a private network namespace and joins the two
# namespaces through Unix sockets (which are not per-namespace) with this relay.

def relay(listen_tcp: str | None, listen_unix: str | None, to_tcp: str | None,
          to_unix: str | None) -> None:
    if listen_tcp:
        host, port = listen_tcp.rsplit(":", 1)
        srv = socket.socket()
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind((host, int(port)))
    else:
        assert listen_unix
        if os.path.exists(listen_unix):
            os.unlink(listen_unix)
        srv = socket.socket(socket.AF_UNIX)
        srv.bind(listen_unix)
    srv.listen(64)

    def pipe(a: socket.socket, b: socket.socket) -> None:
        try:
            while data := a.recv(65536):
                b.sendall(data)
        except OSError:
            pass
        finally:
            for s in (a, b):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    while True:
        c, _ = srv.accept()
        try:
            if to_tcp:
                h, p = to_tcp.rsplit(":", 1)
                u = socket.create_connection((h, int(p)), timeout=10)
                u.settimeout(None)
            else:
                u = socket.socket(socket.AF_UNIX)
                u.connect(to_unix)
        except OSError:
            c.close()
            continue
        threading.Thread(target=pipe, args=(c, u), daemon=True).start()
        threading.Thread(target=pipe, args=(u, c), daemon=True).start()


# ----------------------------------------------------------------------------- up

def pick_network(d: Path) -> dict:
    """The pod runner's bridge, names and private /24 for rig DIR (172.30.N.0/24, a subnet no route uses)."""
    h = hashlib.sha256(str(d).encode()).hexdigest()
    routes = subprocess.run(["ip", "-4", "route"], capture_output=True, text=True, check=False).stdout
    used = [ipaddress.ip_network(r.split()[0], strict=False) for r in routes.splitlines()
            if r and r.split()[0][0].isdigit()]
    start = int(h[:2], 16)
    for k in range(256):
        net = ipaddress.ip_network(f"172.30.{(start + k) % 256}.0/24")
        if not any(net.overlaps(u) for u in used):
            return {"bridge": f"ffb{h[:8]}", "prefix": f"ff{h[:4]}", "cidr": str(net),
                    "gateway": str(net.network_address + 1)}
    raise RigError("no free /24 in 172.30.0.0/16 for the pod network")


def up(d: Path, contexts: list[str], apiserver_port: int | None, etcd_port: int | None,
       webhook: bool, storage_classes: list[str], spokes: list[str] | None = None,
       pod_namespaces: list[str] | None = None, images: list[str] | None = None) -> None:
    d = d.resolve()
    if (d / "pids").exists():
        raise RigError(f"{d}/pids exists: a rig may be running there (rig/rig down {d} first)")
    missing = [b for b in K8S_BINARIES if not os.access(BIN / b, os.X_OK)]
    if missing:
        raise RigError(f"missing binaries in {BIN}: {', '.join(missing)} (run rig/build)")
    for sub in ("logs", "pki", "state", "pulumi-home", "run", "pv"):
        (d / sub).mkdir(parents=True, exist_ok=True)
    pki = d / "pki"
    spokes = spokes or []
    runner = bool(spokes or pod_namespaces)
    network = pick_network(d) if runner else None
    make_pki(pki, [network["gateway"]] if network else None, spokes)
    procs = Procs(d)
    try:
        _up(d, pki, procs, contexts, apiserver_port, etcd_port, webhook, storage_classes)
        if runner:
            assert network is not None
            start_spokes_and_runner(d, pki, procs, spokes, pod_namespaces or [], images or [], network)
    except BaseException:
        log("stopping what was started")
        stop_pids(d)
        raise


def _up(d: Path, pki: Path, procs: Procs, contexts: list[str], apiserver_port: int | None,
        etcd_port: int | None, webhook: bool, storage_classes: list[str]) -> None:
    ports = {"etcd": etcd_port or free_port(), "etcd-peer": free_port(),
             "apiserver": apiserver_port or free_port(), "kcm": free_port(),
             "scheduler": free_port(), "kwok": free_port(), "placement": free_port(),
             "addon": free_port(), "work": free_port(), "webhook": free_port(), "registration": free_port()}
    for what, port in ports.items():
        check_port_free(port, what)
    (d / "ports.json").write_text(json.dumps(ports, indent=1))
    server = f"https://127.0.0.1:{ports['apiserver']}"
    kubeconfig = d / "kubeconfig"
    write_kubeconfig(kubeconfig, pki, server, contexts)
    admin_kc = d / "admin.kubeconfig"
    write_kubeconfig(admin_kc, pki, server, ["rig"])
    b = lambda n: str(BIN / n)  # noqa: E731

    # etcd
    ec_url, ep_url = f"http://127.0.0.1:{ports['etcd']}", f"http://127.0.0.1:{ports['etcd-peer']}"
    procs.start("etcd", [b("etcd"), "--name", "rig", "--data-dir", str(d / "etcd"),
                         "--listen-client-urls", ec_url, "--advertise-client-urls", ec_url,
                         "--listen-peer-urls", ep_url, "--initial-advertise-peer-urls", ep_url,
                         "--initial-cluster", f"rig={ep_url}", "--log-level", "warn",
                         "--quota-backend-bytes", str(2 * 1024**3)])
    wait_for("etcd", lambda: b'"health":"true"' in urllib.request.urlopen(
        ec_url + "/health", timeout=3).read(), procs, ["etcd"], 60)

    # kube-apiserver: RBAC, PodSecurity admission (on by default), service-account signing
    procs.start("kube-apiserver", [
        b("kube-apiserver"), "--etcd-servers", ec_url, "--bind-address", "127.0.0.1",
        "--advertise-address", "127.0.0.1", "--secure-port", str(ports["apiserver"]),
        "--tls-cert-file", str(pki / "serving.crt"), "--tls-private-key-file", str(pki / "serving.key"),
        "--client-ca-file", str(pki / "ca.crt"), "--authorization-mode", "Node,RBAC",
        # PodNodeSelector/PodTolerationRestriction: the pod runner's namespaces go to its node only
        "--enable-admission-plugins", "NodeRestriction,PodSecurity,PodNodeSelector,PodTolerationRestriction",
        "--service-account-issuer", "https://kubernetes.default.svc.cluster.local",
        "--service-account-key-file", str(pki / "sa.pub"),
        "--service-account-signing-key-file", str(pki / "sa.key"),
        "--service-cluster-ip-range", "10.0.0.0/24", "--allow-privileged=true",
        "--cert-dir", str(pki / "apiserver"), "--profiling=false",
        "--endpoint-reconciler-type", "none",
        # no front proxy; setting its CA keeps every delegating component from logging its absence
        "--requestheader-client-ca-file", str(pki / "ca.crt"),
        "--requestheader-allowed-names", "rig-front-proxy",
        "--requestheader-username-headers", "X-Remote-User",
        "--requestheader-group-headers", "X-Remote-Group",
        "--requestheader-extra-headers-prefix", "X-Remote-Extra-"])
    kube = Kube(server, pki)
    wait_for("kube-apiserver /readyz", lambda: kube.get("/readyz") == "ok", procs,
             ["kube-apiserver"], 120)

    # controller manager and scheduler
    procs.start("kube-controller-manager", [
        b("kube-controller-manager"), "--kubeconfig", str(admin_kc),
        "--authentication-kubeconfig", str(admin_kc), "--authorization-kubeconfig", str(admin_kc),
        "--bind-address", "127.0.0.1", "--secure-port", str(ports["kcm"]),
        "--cert-dir", str(pki / "kcm"), "--leader-elect=false",
        "--service-account-private-key-file", str(pki / "sa.key"),
        "--root-ca-file", str(pki / "ca.crt"), "--use-service-account-credentials=true",
        "--cluster-signing-cert-file", str(pki / "ca.crt"),
        "--cluster-signing-key-file", str(pki / "ca.key")])
    procs.start("kube-scheduler", [
        b("kube-scheduler"), "--kubeconfig", str(admin_kc),
        "--authentication-kubeconfig", str(admin_kc), "--authorization-kubeconfig", str(admin_kc),
        "--bind-address", "127.0.0.1", "--secure-port", str(ports["scheduler"]),
        "--cert-dir", str(pki / "scheduler"), "--leader-elect=false"])
    wait_for("kube-controller-manager", lambda: https_ok(
        f"https://127.0.0.1:{ports['kcm']}/healthz"), procs, ["kube-controller-manager"], 90)
    wait_for("kube-scheduler", lambda: https_ok(
        f"https://127.0.0.1:{ports['scheduler']}/healthz"), procs, ["kube-scheduler"], 90)

    # kwok with fake nodes
    stages = CACHE / "kwok-stages.yaml"
    if not stages.exists():
        raise RigError(f"missing {stages} (run rig/build kwok)")
    procs.start("kwok", [b("kwok"), "--kubeconfig", str(admin_kc), "--config", str(stages),
                         "--manage-all-nodes=false",
                         "--manage-nodes-with-annotation-selector", "kwok.x-k8s.io/node=fake",
                         "--cidr", "10.244.0.1/16", "--node-ip", "127.0.0.1",
                         "--server-address", f"127.0.0.1:{ports['kwok']}"])
    for n in NODES:
        create_node(kube, n)
    wait_for("fake nodes Ready", lambda: nodes_ready(kube, [n["name"] for n in NODES]), procs,
             ["kwok"], 90)
    make_pvs(kube, d, storage_classes)
    procs.start("load-balancer", [sys.executable, str(Path(__file__).resolve()), "lb", str(d)])

    # OCM hub: CRDs (from the api module OCM's go.mod requires), then controllers
    webhook_url = f"https://127.0.0.1:{ports['webhook']}/convert" if webhook else None
    install_crds(kube, pki, webhook_url)
    wait_for("OCM CRDs Established", lambda: crds_established(kube), procs, [], 60)
    ocm_common = ["--kubeconfig", str(admin_kc), "--namespace", "open-cluster-management-hub",
                  "--disable-leader-election"]
    kube.apply("/api/v1/namespaces/open-cluster-management-hub",
               {"apiVersion": "v1", "kind": "Namespace",
                "metadata": {"name": "open-cluster-management-hub"}})
    if webhook:
        start_webhook(d, procs, pki, ports, admin_kc)
    # The registration hub controller, as every OCM hub runs it: ManagedClusterSetBinding `Bound`, the
    # default/global cluster sets, cluster leases and outage taints, and the addon feature labels
    # (`feature.open-cluster-management.io/addon-<name>`) that ClientApp Placements select on.
    procs.start("ocm-registration", [b("ocm-registration"), "controller", *ocm_common,
                                     "--listen", f"127.0.0.1:{ports['registration']}"])
    procs.start("ocm-placement", [b("ocm-placement"), "controller", *ocm_common,
                                  "--listen", f"127.0.0.1:{ports['placement']}"])
    procs.start("ocm-addon", [b("ocm-addon"), "manager", *ocm_common,
                              "--listen", f"127.0.0.1:{ports['addon']}"])
    procs.start("ocm-work", [b("ocm-work"), "manager", *ocm_common,
                             "--listen", f"127.0.0.1:{ports['work']}",
                             "--feature-gates=ManifestWorkReplicaSet=true"])
    for n in ("placement", "addon", "work", "registration"):
        wait_for(f"ocm-{n}", lambda n=n: https_ok(f"https://127.0.0.1:{ports[n]}/healthz"),
                 procs, [f"ocm-{n}"], 120)

    write_env(d, kubeconfig)
    log(f"up: API server {server}; source {d / 'env'}")


SPOKE_CRDS = ["work/v1/0000_01_work.open-cluster-management.io_appliedmanifestworks.crd.yaml"]


def find_spoke_crds() -> list[Path]:
    """The spoke CRDs of OCM's work agent, from the api module OCM's go.mod requires (cached in $CACHE/ocm-spoke-crds).

    rig/build downloads that module (it copies the hub CRDs from it); this takes the spoke's from the
    same module in the Go module cache.
    """
    out = CACHE / "ocm-spoke-crds"
    files = [out / Path(f).name for f in SPOKE_CRDS]
    if all(f.exists() for f in files):
        return files
    gomod = (Path(__file__).resolve().parent / "tools" / "ocm" / "go.mod").read_text()
    m = re.search(r"open-cluster-management\.io/api (v\S+)", gomod)
    if m is None:
        raise RigError("rig/tools/ocm/go.mod does not require open-cluster-management.io/api")
    try:
        modcache = subprocess.run(["go", "env", "GOMODCACHE"], capture_output=True, text=True,
                                  check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError) as e:
        raise RigError(f"cannot find the Go module cache (go env GOMODCACHE): {e}") from None
    api = Path(modcache) / "open-cluster-management.io" / f"api@{m.group(1)}"
    out.mkdir(parents=True, exist_ok=True)
    for f, dst in zip(SPOKE_CRDS, files, strict=True):
        if not (api / f).exists():
            raise RigError(f"missing {api / f} (run rig/build ocm: it downloads open-cluster-management.io/api)")
        dst.write_bytes((api / f).read_bytes())
    return files


def start_spokes_and_runner(d: Path, pki: Path, procs: Procs, spokes: list[str],
                            pod_namespaces: list[str], images: list[str], network: dict) -> None:
    """Each spoke: its own kube-apiserver (same etcd, prefix /spokes/NAME), controller-manager and
    OCM's work agent (ManifestWorks from the hub's namespace NAME, applied to the spoke); then the
    pod runner for the hub's POD_NAMESPACES and every spoke."""
    ports = json.loads((d / "ports.json").read_text())
    hub_server = f"https://127.0.0.1:{ports['apiserver']}"
    b = lambda n: str(BIN / n)  # noqa: E731
    spoke_crds = find_spoke_crds() if spokes else []
    clusters = [{"name": "hub", "server": hub_server, "port": ports["apiserver"], "pki": str(pki),
                 "bind": False, "namespaces": pod_namespaces}]
    servers = {}
    for name in spokes:
        sd = d / "spokes" / name
        sd.mkdir(parents=True, exist_ok=True)
        sp = {"apiserver": free_port(), "kcm": free_port(), "work": free_port()}
        ports[f"spoke-{name}"] = sp
        server = f"https://127.0.0.1:{sp['apiserver']}"
        servers[name] = server
        kc = sd / "kubeconfig"
        write_kubeconfig(kc, pki, server, [name])
        procs.start(f"{name}-kube-apiserver", [
            b("kube-apiserver"), "--etcd-servers", f"http://127.0.0.1:{ports['etcd']}",
            "--etcd-prefix", f"/spokes/{name}/registry",
            "--bind-address", "127.0.0.1", "--advertise-address", "127.0.0.1",
            "--secure-port", str(sp["apiserver"]),
            "--tls-cert-file", str(pki / f"serving-{name}.crt"),
            "--tls-private-key-file", str(pki / f"serving-{name}.key"),
            "--client-ca-file", str(pki / "ca.crt"), "--authorization-mode", "Node,RBAC",
            "--enable-admission-plugins", "NodeRestriction,PodSecurity",
            "--service-account-issuer", f"https://{name}.spokes.rig.local",
            "--service-account-key-file", str(pki / "sa.pub"),
            "--service-account-signing-key-file", str(pki / "sa.key"),
            "--service-cluster-ip-range", "10.0.0.0/24", "--allow-privileged=true",
            "--cert-dir", str(sd / "apiserver-certs"), "--profiling=false",
            "--endpoint-reconciler-type", "none",
            "--requestheader-client-ca-file", str(pki / "ca.crt"),
            "--requestheader-allowed-names", "rig-front-proxy",
            "--requestheader-username-headers", "X-Remote-User",
            "--requestheader-group-headers", "X-Remote-Group",
            "--requestheader-extra-headers-prefix", "X-Remote-Extra-"])
        kube = Kube(server, pki)
        wait_for(f"{name} kube-apiserver /readyz", lambda kube=kube: kube.get("/readyz") == "ok", procs,
                 [f"{name}-kube-apiserver"], 120)
        procs.start(f"{name}-kube-controller-manager", [
            b("kube-controller-manager"), "--kubeconfig", str(kc),
            "--authentication-kubeconfig", str(kc), "--authorization-kubeconfig", str(kc),
            "--bind-address", "127.0.0.1", "--secure-port", str(sp["kcm"]),
            "--cert-dir", str(sd / "kcm-certs"), "--leader-elect=false",
            "--service-account-private-key-file", str(pki / "sa.key"),
            "--root-ca-file", str(pki / "ca.crt"), "--use-service-account-credentials=true"])
        for f in spoke_crds:
            crd = yaml.safe_load(f.read_text())
            crd.pop("status", None)
            kube.apply(f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{crd['metadata']['name']}", crd)
        wait_for(f"{name} CRDs Established", lambda kube=kube: crds_established(kube), procs, [], 60)
        wait_for(f"{name} kube-controller-manager", lambda p=sp["kcm"]: https_ok(
            f"https://127.0.0.1:{p}/healthz"), procs, [f"{name}-kube-controller-manager"], 90)
        kube.apply("/api/v1/namespaces/open-cluster-management-agent",
                   {"apiVersion": "v1", "kind": "Namespace",
                    "metadata": {"name": "open-cluster-management-agent"}})
        procs.start(f"{name}-work-agent", [
            b("ocm-work"), "agent", "--spoke-cluster-name", name, "--agent-id", f"{name}-work-agent",
            "--kubeconfig", str(kc), "--spoke-kubeconfig", str(kc),
            "--workload-source-driver", "kube", "--workload-source-config", str(d / "admin.kubeconfig"),
            "--namespace", "open-cluster-management-agent", "--disable-leader-election",
            "--status-sync-interval", "3s", "--listen", f"127.0.0.1:{sp['work']}"])
        wait_for(f"{name} work agent", lambda p=sp["work"]: https_ok(f"https://127.0.0.1:{p}/healthz"),
                 procs, [f"{name}-work-agent"], 90)
        clusters.append({"name": name, "server": server, "port": sp["apiserver"], "pki": str(pki),
                         "bind": True, "namespaces": None})
    (d / "ports.json").write_text(json.dumps(ports, indent=1))
    (d / "spokes.json").write_text(json.dumps(servers, indent=1))
    extra = [img.split("=", 1) for img in images]
    (d / "runner.json").write_text(json.dumps({"network": network, "clusters": clusters, "images": extra},
                                              indent=1))
    contexts = [c["name"] for c in yaml.safe_load((d / "kubeconfig").read_text())["contexts"]]
    write_kubeconfig(d / "kubeconfig", pki, hub_server, contexts, servers)
    procs.start("pod-runner", [sys.executable, str(Path(__file__).resolve()), "runner", str(d)])
    hub = Kube(hub_server, pki)
    wait_for("pod runner nodes", lambda: nodes_ready(hub, ["flower-rig-hub"]) and all(
        nodes_ready(Kube(s, pki), [f"flower-rig-{n}"]) for n, s in servers.items()), procs, ["pod-runner"], 60)


def start_webhook(d: Path, procs: Procs, pki: Path, ports: dict, admin_kc: Path) -> None:
    run = d / "run"
    wh_sock, api_sock = run / "webhook.sock", run / "apiserver.sock"
    py, me = sys.executable, str(Path(__file__).resolve())
    # host side: 127.0.0.1:<webhook> -> webhook.sock ; apiserver.sock -> 127.0.0.1:<apiserver>
    procs.start("relay-webhook-in", [py, me, "relay", "--listen-tcp",
                                     f"127.0.0.1:{ports['webhook']}", "--to-unix", str(wh_sock)])
    procs.start("relay-apiserver-out", [py, me, "relay", "--listen-unix", str(api_sock),
                                        "--to-tcp", f"127.0.0.1:{ports['apiserver']}"])
    # inside the webhook's own network namespace: loopback up, the two relays, then the server
    inner = (
        "ip link set lo up || exit 1; "
        f"'{py}' '{me}' relay --listen-unix '{wh_sock}' --to-tcp 127.0.0.1:9443 & "
        f"'{py}' '{me}' relay --listen-tcp 127.0.0.1:{ports['apiserver']} --to-unix '{api_sock}' & "
        f"exec '{BIN / 'ocm-addon'}' webhook-server --kubeconfig '{admin_kc}' --port 9443 "
        f"--certdir '{pki / 'webhook-certs'}'"
    )
    procs.start("ocm-addon-webhook", ["unshare", "--net", "--", "sh", "-c", inner])
    ctx = ssl.create_default_context(cafile=str(pki / "ca.crt"))
    ctx.check_hostname = False

    def ready() -> bool:
        try:
            https_ok(f"https://127.0.0.1:{ports['webhook']}/convert", ctx)
        except urllib.error.HTTPError:
            return True  # TLS handshake with our cert worked; a GET is refused as expected
        return True
    wait_for("ocm-addon-webhook", ready, procs, ["ocm-addon-webhook"], 90)


def create_node(kube: Kube, n: dict) -> None:
    alloc = {"cpu": n["cpu"], "memory": n["memory"], "pods": "110"}
    if n.get("gpu"):
        alloc["nvidia.com/gpu"] = n["gpu"]
    node = {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": n["name"], "annotations": {"kwok.x-k8s.io/node": "fake",
                                                          "node.alpha.kubernetes.io/ttl": "0"},
                     "labels": {"kubernetes.io/hostname": n["name"], "kubernetes.io/os": "linux",
                                "kubernetes.io/arch": "amd64", "type": "kwok",
                                "kubernetes.io/role": "agent", **n["labels"]}},
        "spec": {},
    }
    kube.apply(f"/api/v1/nodes/{n['name']}", node)
    status = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": n["name"]},
              "status": {"allocatable": alloc, "capacity": alloc,
                         "nodeInfo": {"architecture": "amd64", "operatingSystem": "linux",
                                      "kubeletVersion": "fake", "kubeProxyVersion": "fake",
                                      "bootID": "", "containerRuntimeVersion": "",
                                      "kernelVersion": "", "machineID": "", "osImage": "",
                                      "systemUUID": ""}}}
    kube.apply(f"/api/v1/nodes/{n['name']}", status, "status")


def nodes_ready(kube: Kube, names: list[str]) -> bool:
    items = kube.get("/api/v1/nodes")["items"]
    ready = {i["metadata"]["name"] for i in items
             if any(c["type"] == "Ready" and c["status"] == "True"
                    for c in i.get("status", {}).get("conditions", []))}
    return set(names) <= ready


def make_pvs(kube: Kube, d: Path, classes: list[str]) -> None:
    """No dynamic provisioner runs here: StorageClasses (the first is the default) with hostPath PVs."""
    for k, cls in enumerate(classes):
        kube.apply(f"/apis/storage.k8s.io/v1/storageclasses/{cls}", {
            "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
            "metadata": {"name": cls, "annotations": {
                "storageclass.kubernetes.io/is-default-class": "true" if k == 0 else "false"}},
            "provisioner": "kubernetes.io/no-provisioner", "volumeBindingMode": "Immediate",
            "reclaimPolicy": "Delete"})
        for i in range(PV_COUNT):
            name = f"rig-pv-{cls}-{i}"
            kube.apply(f"/api/v1/persistentvolumes/{name}", {
                "apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": name},
                "spec": {"capacity": {"storage": "10Gi"},
                         "accessModes": ["ReadWriteOnce", "ReadWriteMany", "ReadOnlyMany"],
                         "storageClassName": cls, "persistentVolumeReclaimPolicy": "Retain",
                         "hostPath": {"path": str(d / "pv" / name), "type": "DirectoryOrCreate"}}})


def load_balancers(d: Path) -> None:
    """Play the cloud's load-balancer controller: give every LoadBalancer Service an ingress address.

    Data only (127.0.0.1 is written into the status; nothing listens for it), so Pulumi's await for
    a LoadBalancer Service completes as it does on a cloud. Runs until stopped by `rig down`.
    """
    ports = json.loads((d / "ports.json").read_text())
    kube = Kube(f"https://127.0.0.1:{ports['apiserver']}", d / "pki")
    while True:
        try:
            for svc in kube.get("/api/v1/services")["items"]:
                if svc["spec"].get("type") != "LoadBalancer":
                    continue
                if (svc.get("status", {}).get("loadBalancer") or {}).get("ingress"):
                    continue
                meta = svc["metadata"]
                # a DNS name asked for with external-dns' annotation becomes the ingress hostname
                # (the pod runner resolves it to the Service's pod in every pod's /etc/hosts)
                names = [h.strip() for h in (meta.get("annotations") or {}).get(
                    "external-dns.alpha.kubernetes.io/hostname", "").split(",") if h.strip()]
                ingress = [{"hostname": h} for h in names] or [{"ip": "127.0.0.1"}]
                kube.apply(f"/api/v1/namespaces/{meta['namespace']}/services/{meta['name']}",
                           {"apiVersion": "v1", "kind": "Service",
                            "metadata": {"name": meta["name"], "namespace": meta["namespace"]},
                            "status": {"loadBalancer": {"ingress": ingress}}}, "status")
                log(f"load balancer: {meta['namespace']}/{meta['name']} -> {ingress}")
        except (RigError, OSError) as e:
            log(f"load balancer: {e}")
        time.sleep(1)


def install_crds(kube: Kube, pki: Path, webhook_url: str | None) -> None:
    crd_dir = CACHE / "ocm-crds"
    files = sorted(crd_dir.glob("*.crd.yaml"))
    if not files:
        raise RigError(f"no CRDs in {crd_dir} (run rig/build ocm)")
    ca = base64.b64encode((pki / "ca.crt").read_bytes()).decode()
    for f in files:
        crd = yaml.safe_load(f.read_text())
        crd.pop("status", None)
        # Only these two convert through OCM's addon webhook (as in OCM's hub manifests);
        # AddOnDeploymentConfig's versions are identical and keep strategy None.
        if webhook_url and crd["metadata"]["name"] in WEBHOOK_CRDS:
            crd["spec"]["conversion"] = {"strategy": "Webhook", "webhook": {
                "clientConfig": {"url": webhook_url, "caBundle": ca},
                "conversionReviewVersions": ["v1", "v1beta1"]}}
        kube.apply(f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/"
                   f"{crd['metadata']['name']}", crd)


def crds_established(kube: Kube) -> bool:
    items = kube.get("/apis/apiextensions.k8s.io/v1/customresourcedefinitions")["items"]
    ocm = [i for i in items if i["spec"]["group"].endswith("open-cluster-management.io")]
    return bool(ocm) and all(
        any(c["type"] == "Established" and c["status"] == "True"
            for c in i.get("status", {}).get("conditions", [])) for i in ocm)


def write_env(d: Path, kubeconfig: Path) -> None:
    path = os.environ.get("PATH", "")
    # The language host (v3.79.0) runs programs with the first python on PATH: the project's venv.
    venv = Path(__file__).resolve().parents[1] / ".venv" / "bin"
    if venv.is_dir():
        path = f"{venv}:{path}"
    env = {
        "KUBECONFIG": str(kubeconfig),
        "PATH": f"{BIN}:{path}",
        "PULUMI_HOME": str(d / "pulumi-home"),
        "PULUMI_SKIP_UPDATE_CHECK": "true",
        "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
        "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE,
        "PULUMI_BACKEND_URL": f"file://{d / 'state'}",
    }
    (d / "env").write_text("".join(f"export {k}='{v}'\n" for k, v in env.items()))
    # the Kubernetes provider plugin, when rig/build made one
    prov = CACHE / "plugins" / "pulumi-resource-kubernetes"
    ver = CACHE / "pulumi-kubernetes.version"
    if prov.exists() and ver.exists() and (BIN / "pulumi").exists():
        r = subprocess.run([str(BIN / "pulumi"), "plugin", "install", "resource", "kubernetes",
                            ver.read_text().strip(), "--file", str(prov)],
                           env={**os.environ, **env}, capture_output=True, text=True)
        if r.returncode != 0:
            log(f"pulumi plugin install failed: {r.stderr.strip()[:500]}")
        else:
            log(f"installed the kubernetes provider plugin {ver.read_text().strip()} "
                f"into {env['PULUMI_HOME']}")


# ----------------------------------------------------------------------------- clusters

def clusters(d: Path, file: Path) -> None:
    d = d.resolve()
    ports = json.loads((d / "ports.json").read_text())
    kube = Kube(f"https://127.0.0.1:{ports['apiserver']}", d / "pki")
    spec = yaml.safe_load(file.read_text())
    items = spec.get("clusters", spec) if isinstance(spec, dict) else spec
    if not isinstance(items, list):
        raise RigError(f"{file}: expected a list of clusters (or a mapping with 'clusters')")
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    for c in items:
        name = c["name"]
        sets = c.get("clusterSets", [])
        labels = dict(c.get("labels", {}))
        if sets:
            labels["cluster.open-cluster-management.io/clusterset"] = sets[0]
        for s in sets:
            kube.apply(f"/apis/cluster.open-cluster-management.io/v1beta2/managedclustersets/{s}",
                       {"apiVersion": "cluster.open-cluster-management.io/v1beta2",
                        "kind": "ManagedClusterSet", "metadata": {"name": s}})
        kube.apply(f"/api/v1/namespaces/{name}", {"apiVersion": "v1", "kind": "Namespace",
                                                   "metadata": {"name": name}})
        mc_path = f"/apis/cluster.open-cluster-management.io/v1/managedclusters/{name}"
        taints = [{"key": tn["key"], "value": str(tn.get("value", "")), "effect": tn.get("effect", "NoSelect"),
                   "timeAdded": now} for tn in c.get("taints", []) or []]
        kube.apply(mc_path, {"apiVersion": "cluster.open-cluster-management.io/v1",
                             "kind": "ManagedCluster",
                             "metadata": {"name": name, "labels": labels},
                             # no registration agent renews this cluster's lease: a long lease keeps the
                             # registration hub from marking it Unknown (and tainting it) during a run
                             "spec": {"hubAcceptsClient": True, "taints": taints, "leaseDurationSeconds": 3600}})
        res = {"cpu": str(c.get("cpu", "8")), "memory": str(c.get("memory", "32Gi"))}
        if c.get("gpu") or c.get("nvidia.com/gpu"):
            res["nvidia.com/gpu"] = str(c.get("gpu") or c.get("nvidia.com/gpu"))
        claims = [{"name": k, "value": str(v)} for k, v in (c.get("clusterClaims") or {}).items()]
        status = {"conditions": [
            {"type": t, "status": "True", "reason": "RigFake", "message": "set by rig",
             "lastTransitionTime": now}
            for t in ("HubAcceptedManagedCluster", "ManagedClusterJoined",
                      "ManagedClusterConditionAvailable")],
            "allocatable": res, "capacity": res, "clusterClaims": claims,
            "version": {"kubernetes": "v1.34.4"}}
        kube.apply(mc_path, {"apiVersion": "cluster.open-cluster-management.io/v1",
                             "kind": "ManagedCluster", "metadata": {"name": name},
                             "status": status}, "status")
        for sc in c.get("addOnPlacementScores", []) or []:
            ps_path = (f"/apis/cluster.open-cluster-management.io/v1alpha1/namespaces/{name}/"
                       f"addonplacementscores/{sc['name']}")
            base = {"apiVersion": "cluster.open-cluster-management.io/v1alpha1",
                    "kind": "AddOnPlacementScore",
                    "metadata": {"name": sc["name"], "namespace": name}}
            kube.apply(ps_path, base)
            kube.apply(ps_path, {**base, "status": {
                "scores": [{"name": k, "value": int(v)} for k, v in sc["scores"].items()],
                "conditions": []}}, "status")
        log(f"cluster {name}: registered (sets {sets}, {len(claims)} claims)")


# ----------------------------------------------------------------------------- main

def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="rig/rig", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    u = sub.add_parser("up")
    u.add_argument("dir", type=Path)
    u.add_argument("--context", action="append", dest="contexts")
    u.add_argument("--apiserver-port", type=int)
    u.add_argument("--etcd-port", type=int)
    u.add_argument("--storage-class", action="append", dest="storage_classes",
                   help="StorageClass with pre-created PVs (repeatable; the first is the default; default: standard)")
    u.add_argument("--no-webhook", action="store_true",
                   help="skip the OCM addon conversion webhook (addon CRDs keep strategy None)")
    u.add_argument("--spoke", action="append", dest="spokes", default=[],
                   help="a managed cluster with its own API server and OCM's work agent (repeatable)")
    u.add_argument("--pod-namespace", action="append", dest="pod_namespaces", default=[],
                   help="a hub namespace whose pods the pod runner runs for real (repeatable)")
    u.add_argument("--image", action="append", dest="images", default=[],
                   help="PREFIX=flwr|nginx: run images starting with PREFIX from that local install")
    c = sub.add_parser("clusters")
    c.add_argument("dir", type=Path)
    c.add_argument("file", type=Path)
    dn = sub.add_parser("down")
    dn.add_argument("dir", type=Path)
    pf = sub.add_parser("port-forward")
    pf.add_argument("dir", type=Path)
    pf.add_argument("--cluster", default="hub")
    pf.add_argument("--namespace", required=True)
    pf.add_argument("--service", required=True)
    pf.add_argument("--port", type=int, required=True)
    pf.add_argument("--local-port", type=int, default=0)
    rn = sub.add_parser("runner")  # internal: see podrunner.py
    rn.add_argument("dir", type=Path)
    lb = sub.add_parser("lb")  # internal: see load_balancers()
    lb.add_argument("dir", type=Path)
    r = sub.add_parser("relay")  # internal: see relay()
    r.add_argument("--listen-tcp")
    r.add_argument("--listen-unix")
    r.add_argument("--to-tcp")
    r.add_argument("--to-unix")
    a = ap.parse_args(argv)
    try:
        if a.cmd == "up":
            for n in a.spokes:
                if not re.fullmatch(r"[a-z0-9]([-a-z0-9]{0,30}[a-z0-9])?", n):
                    ap.error(f"--spoke {n!r}: not a DNS label of at most 32 characters")
            for img in a.images:
                if "=" not in img or img.split("=", 1)[1] not in ("flwr", "nginx"):
                    ap.error(f"--image {img!r}: expected PREFIX=flwr or PREFIX=nginx")
            up(a.dir, a.contexts or DEFAULT_CONTEXTS, a.apiserver_port, a.etcd_port,
               not a.no_webhook, a.storage_classes or ["standard"], a.spokes, a.pod_namespaces, a.images)
        elif a.cmd == "clusters":
            clusters(a.dir, a.file)
        elif a.cmd == "down":
            stop_pids(a.dir.resolve())
            log("down")
        elif a.cmd == "lb":
            load_balancers(a.dir.resolve())
        elif a.cmd == "runner":
            import podrunner
            podrunner.main(a.dir)
        elif a.cmd == "port-forward":
            import podrunner
            port = a.local_port or free_port()
            print(port, flush=True)
            podrunner.port_forward(a.dir.resolve(), a.cluster, a.namespace, a.service, a.port, port)
        else:
            relay(a.listen_tcp, a.listen_unix, a.to_tcp, a.to_unix)
    except RigError as e:
        log(f"error: {e}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
