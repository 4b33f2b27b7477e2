"""podrunner: the rig's kubelet for Flower pods, on the hub and on every spoke.

    rig.py runner DIR          (started by `rig up` when it has spokes or --pod-namespace; stopped by `rig down`)
    rig.py port-forward DIR --cluster C --namespace NS --service S --port P [--local-port N]

For each cluster in DIR/runner.json it registers a real Node (`flower-rig-<cluster>`, labelled and
tainted `flower-federation.rig/runner=<cluster>:NoSchedule`, Lease renewed), and runs the pods bound
to that Node:

* placement: on the hub the real kube-scheduler places the pods of the namespaces the runner owns
  (their namespace carries `scheduler.alpha.kubernetes.io/node-selector` and `defaultTolerations`,
  enforced by the PodNodeSelector/PodTolerationRestriction admission plugins; the manifests are
  unchanged); spokes have no scheduler and no other node, so the runner binds their pending pods
  itself (pods/binding);
* each pod gets a network namespace (veth to the rig's bridge, an address of the rig's private
  /24), `/etc/netns/<ns>/hosts` mapping Service names (name, name.ns, name.ns.svc,
  name.ns.svc.cluster.local) and LoadBalancer ingress hostnames (from every cluster) to the
  Service's address, and a resolv.conf that fails fast. No kube-proxy: each Service gets a stable
  address of the /24 that the runner puts on its ready endpoint pod's interface (from the cluster's
  EndpointSlices; moved when that pod changes), so a name resolved once (nginx resolves its upstream
  at start) stays valid across pod restarts, as a ClusterIP does. Target ports equal Service ports
  in the project's manifests, which this needs;
* volumes come from the API server: Secrets, ConfigMaps, downwardAPI, projected (serviceAccountToken
  through the TokenRequest API), emptyDirs, PVCs (the bound PV's hostPath, or a directory per claim
  that survives the pod); fsGroup owns them; each container runs in a private mount namespace
  (rig/podexec.py) with them bind-mounted at its paths, as its runAsUser/runAsGroup;
* images map to local installations (flwr/* -> the repository's .venv, nginx images -> /usr/sbin/nginx),
  and the log says so; init containers first; the real probes (HTTP(S), gRPC health, TCP, exec);
  crashed containers restart with backoff; status (phase, conditions, container statuses, podIP)
  is written back, so Deployments become Available for real;
* deleted pods are stopped by PID (SIGTERM, SIGKILL after the grace period) and then removed from
  the API; on SIGTERM the runner stops every pod, removes its network namespaces and the bridge.

KUBERNETES_SERVICE_HOST/PORT in pods are the bridge's gateway address and a relay (in this process)
to that cluster's API server (whose serving certificate carries the gateway address).
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import ipaddress
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
PODEXEC = HERE / "podexec.py"
RUNNER_LABEL = "flower-federation.rig/runner"
STOP = threading.Event()
SYS_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
BACKOFF_MAX = 20.0


def log(msg: str) -> None:
    print(f"[pod-runner {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def sh(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    r = subprocess.run(list(argv), capture_output=True, text=True, check=False)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: {r.stderr.strip()}")
    return r


# ----------------------------------------------------------------------------- API

class ApiError(Exception):
    def __init__(self, code: int, msg: str) -> None:
        super().__init__(f"HTTP {code}: {msg}")
        self.code = code


class Api:
    """A minimal client with the rig's admin certificate."""

    def __init__(self, server: str, pki: Path) -> None:
        self.server = server
        self.ctx = ssl.create_default_context(cafile=str(pki / "ca.crt"))
        self.ctx.load_cert_chain(str(pki / "admin.crt"), str(pki / "admin.key"))

    def req(self, method: str, path: str, body: Any = None, ctype: str = "application/json",
            timeout: float = 15) -> Any:
        data = None if body is None else json.dumps(body).encode()
        r = urllib.request.Request(self.server + path, data=data, method=method)
        if data is not None:
            r.add_header("Content-Type", ctype)
        try:
            with urllib.request.urlopen(r, context=self.ctx, timeout=timeout) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as e:
            raise ApiError(e.code, e.read().decode(errors="replace")[:400]) from None
        return json.loads(raw) if raw[:1] in (b"{", b"[") else raw.decode()

    def get(self, path: str) -> Any:
        return self.req("GET", path)

    def get_or_none(self, path: str) -> Any:
        try:
            return self.get(path)
        except ApiError as e:
            if e.code == 404:
                return None
            raise

    def apply(self, path: str, obj: dict, sub: str = "") -> Any:
        return self.req("PATCH", f"{path}{'/' + sub if sub else ''}?fieldManager=rig-pod-runner&force=true",
                        obj, "application/apply-patch+yaml")

    def merge(self, path: str, patch: dict) -> Any:
        return self.req("PATCH", path, patch, "application/merge-patch+json")


# ----------------------------------------------------------------------------- network

class Network:
    """The rig's bridge, its /24 and the addresses of pods (shared by every cluster)."""

    def __init__(self, cfg: dict) -> None:
        self.bridge = cfg["bridge"]
        self.net = ipaddress.ip_network(cfg["cidr"])
        self.gateway = cfg["gateway"]
        self.prefix = cfg["prefix"]  # of netns and veth names: this rig's only
        self.lock = threading.Lock()
        self.used: set[str] = set()

    def setup(self) -> None:
        self.cleanup()
        sh("ip", "link", "add", self.bridge, "type", "bridge")
        sh("ip", "addr", "add", f"{self.gateway}/{self.net.prefixlen}", "dev", self.bridge)
        sh("ip", "link", "set", self.bridge, "up")
        log(f"bridge {self.bridge} {self.gateway}/{self.net.prefixlen} (pods: {self.net})")

    def cleanup(self) -> None:
        for line in sh("ip", "netns", "list", check=False).stdout.splitlines():
            name = line.split()[0] if line.split() else ""
            if name.startswith(self.prefix + "-"):
                sh("ip", "netns", "del", name, check=False)
                shutil.rmtree(f"/etc/netns/{name}", ignore_errors=True)
        sh("ip", "link", "del", self.bridge, check=False)

    def alloc(self, vip: bool = False) -> str:
        """A pod address (.10-.127) or a Service address (.128-.254) of the rig's /24."""
        hosts = list(self.net.hosts())
        with self.lock:
            for host in (hosts[127:] if vip else hosts[9:126]):
                ip = str(host)
                if ip not in self.used and ip != self.gateway:
                    self.used.add(ip)
                    return ip
        raise RuntimeError(f"no free {'Service' if vip else 'pod'} address in {self.net}")

    def release(self, ip: str) -> None:
        with self.lock:
            self.used.discard(ip)

    def add_pod(self, netns: str, ip: str) -> None:
        tag = netns[len(self.prefix) + 1:][:9]
        host_if, peer = f"v{self.prefix[-3:]}{tag}"[:15], f"p{self.prefix[-3:]}{tag}"[:15]
        sh("ip", "netns", "add", netns)
        sh("ip", "link", "add", host_if, "type", "veth", "peer", "name", peer)
        sh("ip", "link", "set", peer, "netns", netns)
        sh("ip", "-n", netns, "link", "set", peer, "name", "eth0")
        sh("ip", "-n", netns, "addr", "add", f"{ip}/{self.net.prefixlen}", "dev", "eth0")
        sh("ip", "-n", netns, "link", "set", "eth0", "up")
        sh("ip", "-n", netns, "link", "set", "lo", "up")
        sh("ip", "-n", netns, "route", "add", "default", "via", self.gateway)
        sh("ip", "link", "set", host_if, "master", self.bridge, "up")

    def del_pod(self, netns: str) -> None:
        sh("ip", "netns", "del", netns, check=False)  # the veth pair goes with it
        shutil.rmtree(f"/etc/netns/{netns}", ignore_errors=True)


def relay_listen(listen: tuple[str, int], target: Any, name: str) -> None:
    """Accept on LISTEN and pipe each connection to target() -> (host, port); runs until the process ends."""
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(listen)
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

    def serve() -> None:
        while True:
            c, _ = srv.accept()
            try:
                host, port = target()
                u = socket.create_connection((host, port), timeout=10)
                u.settimeout(None)
            except (OSError, RuntimeError, ApiError) as e:
                log(f"{name}: {e}")
                c.close()
                continue
            threading.Thread(target=pipe, args=(c, u), daemon=True).start()
            threading.Thread(target=pipe, args=(u, c), daemon=True).start()

    threading.Thread(target=serve, daemon=True, name=name).start()


# ----------------------------------------------------------------------------- images

def image_kind(image: str, extra: list[list[str]]) -> str | None:
    repo = image.split("@")[0]
    last = repo.rsplit("/", 1)[-1]
    if ":" in last:
        repo = repo[: repo.rfind(":")]
    for prefix, kind in extra:
        if repo.startswith(prefix):
            return kind
    short = repo.removeprefix("docker.io/").removeprefix("library/")
    if short.startswith("flwr/"):
        return "flwr"
    if "nginx" in short.rsplit("/", 1)[-1]:
        return "nginx"
    return None


def image_defaults(kind: str, image: str) -> dict[str, Any]:
    """What the image would bring: PATH, entrypoint, working dir and user."""
    if kind == "flwr":
        venv = REPO / ".venv" / "bin"
        name = image.split("@")[0].rsplit("/", 1)[-1].split(":")[0]
        entry = {"superlink": ["flower-superlink"], "supernode": ["flower-supernode"],
                 "superexec": ["flower-superexec"]}.get(name, ["python"])
        return {"path": f"{venv}:{SYS_PATH}", "entrypoint": entry, "cwd": "/app", "uid": 49999,
                "local": f"{venv} (Flower from the repository's .venv)"}
    if kind == "nginx":
        return {"path": SYS_PATH, "entrypoint": ["nginx", "-g", "daemon off;"], "cwd": "/",
                "uid": 101 if "unprivileged" in image else 0, "local": "/usr/sbin/nginx (Debian nginx-light)"}
    raise ValueError(kind)


# ----------------------------------------------------------------------------- probes

def run_probe(probe: dict, ip: str, ports: dict[str, int], exec_fn: Any) -> tuple[bool, str]:
    timeout = float(probe.get("timeoutSeconds", 1))

    def port_of(p: Any) -> int:
        return ports[p] if isinstance(p, str) and not p.isdigit() else int(p)
    try:
        if "httpGet" in probe:
            h = probe["httpGet"]
            scheme = h.get("scheme", "HTTP").lower()
            url = f"{scheme}://{h.get('host') or ip}:{port_of(h['port'])}{h.get('path', '/')}"
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            r = urllib.request.Request(url, headers={x["name"]: x["value"] for x in h.get("httpHeaders", [])})
            try:
                with urllib.request.urlopen(r, context=ctx if scheme == "https" else None, timeout=timeout) as resp:
                    return 200 <= resp.status < 400, f"HTTP {resp.status}"
            except urllib.error.HTTPError as e:
                return 200 <= e.code < 400, f"HTTP {e.code}"
        if "grpc" in probe:
            import grpc
            from grpc_health.v1 import health_pb2, health_pb2_grpc
            g = probe["grpc"]
            with grpc.insecure_channel(f"{ip}:{int(g['port'])}") as ch:
                resp = health_pb2_grpc.HealthStub(ch).Check(
                    health_pb2.HealthCheckRequest(service=g.get("service", "")), timeout=timeout)
            ok = resp.status == health_pb2.HealthCheckResponse.SERVING
            return ok, health_pb2.HealthCheckResponse.ServingStatus.Name(resp.status)
        if "tcpSocket" in probe:
            with socket.create_connection((ip, port_of(probe["tcpSocket"]["port"])), timeout=timeout):
                return True, "connected"
        if "exec" in probe:
            rc = exec_fn(probe["exec"]["command"], timeout)
            return rc == 0, f"exit {rc}"
    except Exception as e:  # a probe failing is data, not an error of the runner
        return False, f"{type(e).__name__}: {str(e)[:200]}"
    return False, "unsupported probe"


# ----------------------------------------------------------------------------- containers

class Container:
    def __init__(self, spec: dict, init: bool) -> None:
        self.spec = spec
        self.name = spec["name"]
        self.init = init
        self.proc: subprocess.Popen[bytes] | None = None
        self.started_at = ""
        self.restarts = 0
        self.last_state: dict = {}
        self.waiting: tuple[str, str] | None = ("ContainerCreating", "")
        self.backoff_until = 0.0
        self.backoff = 1.0
        self.done = False  # init container exited 0
        self.startup_ok = "startupProbe" not in spec
        self.ready = False
        self.fails: dict[str, int] = {}
        self.succ: dict[str, int] = {}
        self.next_probe: dict[str, float] = {}
        self.pid_start = ""


class PodWorker(threading.Thread):
    def __init__(self, agent: ClusterAgent, pod: dict) -> None:
        meta = pod["metadata"]
        super().__init__(daemon=True, name=f"pod-{meta['namespace']}/{meta['name']}")
        self.agent = agent
        self.pod = pod
        self.uid = meta["uid"]
        self.ns, self.pname = meta["namespace"], meta["name"]
        self.stop_ev = threading.Event()
        self.ip = ""
        self.netns = f"{agent.net.prefix}-{self.uid.replace('-', '')[:9]}"
        self.dir = agent.dir / f"{self.ns}_{self.pname}_{self.uid[:8]}"
        self.vols: dict[str, Path] = {}
        spec = pod["spec"]
        self.inits = [Container(c, True) for c in spec.get("initContainers", []) or []]
        self.mains = [Container(c, False) for c in spec["containers"]]
        self.start_time = now()
        self.transitions: dict[str, tuple[str, str]] = {}
        self.last_status = ""
        self.finished = threading.Event()
        self.mount_msg = ""
        sc = spec.get("securityContext") or {}
        self.fs_group = sc.get("fsGroup")

    # --------------------------------------------------------------- lifecycle
    def run(self) -> None:
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            (self.dir / "logs").mkdir(exist_ok=True)
            self.ip = self.agent.net.alloc()
            self.agent.net.add_pod(self.netns, self.ip)
            self.write_dns()
            self.write_status()
            while not self.stop_ev.is_set():
                try:
                    self.materialise()
                    break
                except (ApiError, OSError, RuntimeError, KeyError) as e:
                    if str(e) != self.mount_msg:
                        log(f"{self.where()}: volumes not ready: {e}")
                    self.mount_msg = str(e)
                    self.write_status()
                    self.stop_ev.wait(2)
            self.mount_msg = ""
            self.loop()
        except Exception as e:
            log(f"{self.where()}: runner error: {type(e).__name__}: {e}")
        finally:
            self.teardown()
            self.finished.set()

    def where(self) -> str:
        return f"{self.agent.name}:{self.ns}/{self.pname}"

    def terminal(self) -> str | None:
        """Succeeded/Failed once a pod that is not restartPolicy Always has nothing left to run."""
        if self.pod["spec"].get("restartPolicy", "Always") == "Always":
            return None
        code = lambda c: (c.last_state.get("terminated") or {}).get("exitCode", 0)  # noqa: E731
        if any(c.done and code(c) != 0 for c in self.inits):
            return "Failed"
        if all(c.done for c in self.inits) and all(c.done for c in self.mains):
            return "Succeeded" if all(code(c) == 0 for c in self.mains) else "Failed"
        return None

    def loop(self) -> None:
        while not self.stop_ev.is_set():
            pending = [c for c in self.inits if not c.done]
            if pending:
                self.step_init(pending[0])
            else:
                for c in self.mains:
                    self.step_main(c)
            self.write_status()
            if self.terminal():
                log(f"{self.where()}: {self.terminal()}")
                return  # the sandbox goes; the pod object stays until it is deleted
            self.stop_ev.wait(0.5)

    def step_init(self, c: Container) -> None:
        if c.proc is None:
            if time.monotonic() >= c.backoff_until:
                self.start_container(c)
            return
        rc = c.proc.poll()
        if rc is None:
            return
        self.exited(c, rc)
        if rc == 0:
            c.done = True
            c.waiting = None
            log(f"{self.where()}: init container {c.name} completed")

    def step_main(self, c: Container) -> None:
        if c.done:
            return
        if c.proc is None:
            if time.monotonic() >= c.backoff_until:
                self.start_container(c)
            return
        rc = c.proc.poll()
        if rc is not None:
            self.exited(c, rc)
            return
        self.probe(c)

    def exited(self, c: Container, rc: int) -> None:
        c.last_state = {"terminated": {"exitCode": rc, "reason": "Completed" if rc == 0 else "Error",
                                       "startedAt": c.started_at, "finishedAt": now(),
                                       "containerID": f"rig://{c.proc.pid if c.proc else 0}"}}
        self.agent.forget_pid(c)
        c.proc = None
        c.ready = False
        c.startup_ok = "startupProbe" not in c.spec
        if c.init and rc == 0:
            return
        policy = self.pod["spec"].get("restartPolicy", "Always")
        log(f"{self.where()}: container {c.name} exited {rc}; see {self.dir / 'logs' / (c.name + '.log')}")
        if policy == "Never" or (policy == "OnFailure" and rc == 0):
            c.done = True
            c.waiting = None
            return
        c.restarts += 1
        c.backoff_until = time.monotonic() + c.backoff
        c.waiting = ("CrashLoopBackOff", f"back-off {c.backoff:.0f}s restarting failed container={c.name}")
        c.backoff = min(c.backoff * 2, BACKOFF_MAX)

    def kill(self, c: Container, grace: float) -> None:
        if c.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(c.proc.pid, signal.SIGTERM)
        try:
            c.proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(c.proc.pid, signal.SIGKILL)
            c.proc.wait(timeout=5)
        # children that left the container's process group still die with it
        self.agent.forget_pid(c)

    def stop(self) -> None:
        self.stop_ev.set()

    def teardown(self) -> None:
        grace = min(float(self.pod["spec"].get("terminationGracePeriodSeconds", 30)), 10.0)
        threads = [threading.Thread(target=self.kill, args=(c, grace)) for c in self.mains + self.inits]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.agent.net.del_pod(self.netns)
        if self.ip:
            self.agent.net.release(self.ip)
        shutil.rmtree(self.dir / "volumes", ignore_errors=True)
        shutil.rmtree(self.dir / "run", ignore_errors=True)

    # --------------------------------------------------------------- DNS
    def write_dns(self) -> None:
        d = Path("/etc/netns") / self.netns
        d.mkdir(parents=True, exist_ok=True)
        (d / "resolv.conf").write_text("# rig: no DNS server; names come from /etc/hosts\nnameserver 127.0.0.1\n"
                                       "options timeout:1 attempts:1\n")
        self.update_hosts()

    def update_hosts(self) -> None:
        if not self.ip:
            return
        lines = ["127.0.0.1 localhost", "::1 localhost ip6-localhost ip6-loopback",
                 f"{self.ip} {self.pname}"]
        for (ns, svc), ip in sorted(self.agent.services.items()):
            names = [f"{svc}.{ns}", f"{svc}.{ns}.svc", f"{svc}.{ns}.svc.cluster.local"]
            if ns == self.ns:
                names.insert(0, svc)
            lines.append(f"{ip} {' '.join(names)}")
        for host, ip in sorted(self.agent.runner.lb_hosts.items()):
            lines.append(f"{ip} {host}")
        text = "# rig pod runner: Services and load balancers of the rig\n" + "\n".join(lines) + "\n"
        path = Path("/etc/netns") / self.netns / "hosts"
        # in place (same inode): a running container sees the bind-mounted file change
        if not path.exists() or path.read_text() != text:
            with open(path, "a+") as f:
                f.seek(0)
                f.truncate()
                f.write(text)

    # --------------------------------------------------------------- volumes
    def own(self, p: Path, mode: int) -> None:
        os.chmod(p, mode)
        if self.fs_group is not None:
            os.chown(p, 0, int(self.fs_group))

    def write_files(self, vdir: Path, files: list[tuple[str, bytes, int]]) -> None:
        for rel, data, mode in files:
            f = vdir / rel
            f.parent.mkdir(parents=True, exist_ok=True)
            f.write_bytes(data)
            self.own(f, mode)
            if self.fs_group is not None:
                # as the kubelet does for atomic volumes with an fsGroup: the group may read
                os.chmod(f, mode | 0o040)

    def kv_files(self, source: dict, data: dict[str, bytes], default_mode: int) -> list[tuple[str, bytes, int]]:
        items = source.get("items")
        if not items:
            return [(k, v, default_mode) for k, v in data.items()]
        out = []
        for it in items:
            if it["key"] not in data:
                if source.get("optional"):
                    continue
                raise KeyError(f"key {it['key']} missing")
            out.append((it["path"], data[it["key"]], int(it.get("mode", default_mode))))
        return out

    def secret_data(self, name: str, optional: bool) -> dict[str, bytes] | None:
        s = self.agent.api.get_or_none(f"/api/v1/namespaces/{self.ns}/secrets/{name}")
        if s is None:
            if optional:
                return None
            raise RuntimeError(f"Secret {self.ns}/{name} not found")
        return {k: base64.b64decode(v) for k, v in (s.get("data") or {}).items()}

    def cm_data(self, name: str, optional: bool) -> dict[str, bytes] | None:
        cm = self.agent.api.get_or_none(f"/api/v1/namespaces/{self.ns}/configmaps/{name}")
        if cm is None:
            if optional:
                return None
            raise RuntimeError(f"ConfigMap {self.ns}/{name} not found")
        out = {k: v.encode() for k, v in (cm.get("data") or {}).items()}
        out.update({k: base64.b64decode(v) for k, v in (cm.get("binaryData") or {}).items()})
        return out

    def field(self, path: str) -> str:
        meta = self.pod["metadata"]
        m = re.fullmatch(r"metadata\.(labels|annotations)\['(.+)'\]", path)
        if m:
            return str((meta.get(m.group(1)) or {}).get(m.group(2), ""))
        return {"metadata.name": self.pname, "metadata.namespace": self.ns, "metadata.uid": self.uid,
                "spec.nodeName": self.agent.node, "spec.serviceAccountName":
                    self.pod["spec"].get("serviceAccountName", "default"),
                "status.podIP": self.ip, "status.podIPs": self.ip, "status.hostIP": self.agent.net.gateway,
                "status.hostIPs": self.agent.net.gateway}.get(path, "")

    def sa_token(self, src: dict) -> bytes:
        sa = self.pod["spec"].get("serviceAccountName") or "default"
        body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                "spec": {"expirationSeconds": int(src.get("expirationSeconds", 3600)),
                         "boundObjectRef": {"apiVersion": "v1", "kind": "Pod", "name": self.pname,
                                            "uid": self.uid}}}
        if src.get("audience"):
            body["spec"]["audiences"] = [src["audience"]]
        tr = self.agent.api.req("POST", f"/api/v1/namespaces/{self.ns}/serviceaccounts/{sa}/token", body)
        return tr["status"]["token"].encode()

    def materialise(self) -> None:
        root = self.dir / "volumes"
        for v in self.pod["spec"].get("volumes", []) or []:
            name = v["name"]
            vdir = root / name
            if "persistentVolumeClaim" in v:
                self.vols[name] = self.pvc_dir(v["persistentVolumeClaim"]["claimName"])
                continue
            if "hostPath" in v:
                self.vols[name] = Path(v["hostPath"]["path"])
                continue
            shutil.rmtree(vdir, ignore_errors=True)
            vdir.mkdir(parents=True)
            if "emptyDir" in v:
                self.own(vdir, 0o777)
            elif "secret" in v:
                s = v["secret"]
                data = self.secret_data(s["secretName"], bool(s.get("optional")))
                self.own(vdir, 0o755)
                if data is not None:
                    self.write_files(vdir, self.kv_files(s, data, int(s.get("defaultMode", 0o644))))
            elif "configMap" in v:
                s = v["configMap"]
                data = self.cm_data(s["name"], bool(s.get("optional")))
                self.own(vdir, 0o755)
                if data is not None:
                    self.write_files(vdir, self.kv_files(s, data, int(s.get("defaultMode", 0o644))))
            elif "downwardAPI" in v:
                s = v["downwardAPI"]
                self.own(vdir, 0o755)
                self.write_files(vdir, [(it["path"], self.field(it["fieldRef"]["fieldPath"]).encode(),
                                         int(it.get("mode", s.get("defaultMode", 0o644))))
                                        for it in s.get("items", []) if "fieldRef" in it])
            elif "projected" in v:
                p = v["projected"]
                mode = int(p.get("defaultMode", 0o644))
                self.own(vdir, 0o755)
                files: list[tuple[str, bytes, int]] = []
                for src in p.get("sources", []):
                    if "serviceAccountToken" in src:
                        t = src["serviceAccountToken"]
                        files.append((t["path"], self.sa_token(t), mode))
                    elif "secret" in src:
                        data = self.secret_data(src["secret"]["name"], bool(src["secret"].get("optional")))
                        if data is not None:
                            files += self.kv_files(src["secret"], data, mode)
                    elif "configMap" in src:
                        data = self.cm_data(src["configMap"]["name"], bool(src["configMap"].get("optional")))
                        if data is not None:
                            files += self.kv_files(src["configMap"], data, mode)
                    elif "downwardAPI" in src:
                        files += [(it["path"], self.field(it["fieldRef"]["fieldPath"]).encode(),
                                   int(it.get("mode", mode)))
                                  for it in src["downwardAPI"].get("items", []) if "fieldRef" in it]
                self.write_files(vdir, files)
            else:
                raise RuntimeError(f"volume {name}: unsupported type {sorted(set(v) - {'name'})}")
            self.vols[name] = vdir

    def pvc_dir(self, claim: str) -> Path:
        pvc = self.agent.api.get(f"/api/v1/namespaces/{self.ns}/persistentvolumeclaims/{claim}")
        if pvc.get("status", {}).get("phase") != "Bound":
            raise RuntimeError(f"PVC {self.ns}/{claim} is not Bound")
        pv = self.agent.api.get(f"/api/v1/persistentvolumes/{pvc['spec']['volumeName']}")
        hp = (pv["spec"].get("hostPath") or {}).get("path")
        d = Path(hp) if hp else self.agent.dir.parent / "pvc" / self.agent.name / self.ns / claim
        d.mkdir(parents=True, exist_ok=True)
        # fsGroup ownership, as CSI drivers with fsGroupPolicy File do (a hostPath PV would not)
        if self.fs_group is not None:
            os.chown(d, 0, int(self.fs_group))
            os.chmod(d, 0o2775)  # noqa: S103 - group-writable for the pod's fsGroup, as the kubelet does
        return d

    # --------------------------------------------------------------- processes
    def env_of(self, c: Container, kind: str) -> dict[str, str]:
        spec = c.spec
        defaults = image_defaults(kind, spec.get("image", ""))
        env: dict[str, str] = {"PATH": defaults["path"], "HOSTNAME": self.pname,
                               "KUBERNETES_SERVICE_HOST": self.agent.net.gateway,
                               "KUBERNETES_SERVICE_PORT": str(self.agent.cfg["port"]),
                               "KUBERNETES_SERVICE_PORT_HTTPS": str(self.agent.cfg["port"])}
        for ef in spec.get("envFrom", []) or []:
            pre = ef.get("prefix", "")
            if "configMapRef" in ef:
                data = self.cm_data(ef["configMapRef"]["name"], bool(ef["configMapRef"].get("optional"))) or {}
            else:
                data = self.secret_data(ef["secretRef"]["name"], bool(ef["secretRef"].get("optional"))) or {}
            env.update({pre + k: v.decode() for k, v in data.items()})
        for e in spec.get("env", []) or []:
            if "valueFrom" not in e:
                env[e["name"]] = re.sub(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)",
                                        lambda m: env.get(m.group(1), m.group(0)), str(e.get("value", "")))
                continue
            vf = e["valueFrom"]
            if "fieldRef" in vf:
                env[e["name"]] = self.field(vf["fieldRef"]["fieldPath"])
            elif "secretKeyRef" in vf:
                r = vf["secretKeyRef"]
                data = self.secret_data(r["name"], bool(r.get("optional"))) or {}
                if r["key"] in data:
                    env[e["name"]] = data[r["key"]].decode()
            elif "configMapKeyRef" in vf:
                r = vf["configMapKeyRef"]
                data = self.cm_data(r["name"], bool(r.get("optional"))) or {}
                if r["key"] in data:
                    env[e["name"]] = data[r["key"]].decode()
        return env

    def user_of(self, c: Container, kind: str) -> tuple[int, int, list[int]]:
        psc = self.pod["spec"].get("securityContext") or {}
        csc = c.spec.get("securityContext") or {}
        d = image_defaults(kind, c.spec.get("image", ""))
        uid = csc.get("runAsUser", psc.get("runAsUser", d["uid"]))
        gid = csc.get("runAsGroup", psc.get("runAsGroup", uid))
        if uid == 0 and csc.get("runAsNonRoot", psc.get("runAsNonRoot")):
            raise RuntimeError("container has runAsNonRoot and image will run as root")
        groups = [int(g) for g in psc.get("supplementalGroups", []) or []]
        if psc.get("fsGroup") is not None:
            groups.append(int(psc["fsGroup"]))
        return int(uid), int(gid), sorted({*groups, int(gid)})

    def launch_argv(self, c: Container, argv: list[str], env: dict[str, str], kind: str) -> list[str]:
        mounts = []
        for vm in c.spec.get("volumeMounts", []) or []:
            src = self.vols[vm["name"]]
            if vm.get("subPath"):
                src = src / vm["subPath"]
            mounts.append({"src": str(src), "dst": vm["mountPath"], "readOnly": bool(vm.get("readOnly"))})
        uid, gid, groups = self.user_of(c, kind)
        run = self.dir / "run"
        run.mkdir(exist_ok=True)
        expose = [os.path.realpath(REPO / ".venv" / "bin" / "python")] if kind == "flwr" else []
        spec = {"mounts": mounts, "uid": uid, "gid": gid, "groups": groups, "env": env, "argv": argv,
                "expose": expose, "hostname": self.pname[:63],
                "cwd": c.spec.get("workingDir") or image_defaults(kind, c.spec.get("image", ""))["cwd"]}
        path = run / f"{c.name}-{int(time.time() * 1000)}.json"
        path.write_text(json.dumps(spec))
        os.chmod(path, 0o600)
        return ["ip", "netns", "exec", self.netns, "unshare", "--mount", "--uts", "--propagation", "private", "--",
                sys.executable, str(PODEXEC), str(path)]

    def command_of(self, c: Container, env: dict[str, str], kind: str) -> list[str]:
        d = image_defaults(kind, c.spec.get("image", ""))
        cmd = c.spec.get("command") or d["entrypoint"]
        args = c.spec.get("args") if c.spec.get("command") or c.spec.get("args") else []
        expand = lambda s: re.sub(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)",  # noqa: E731
                                  lambda m: env.get(m.group(1), m.group(0)), s)
        return [expand(str(x)) for x in list(cmd) + list(args or [])]

    def start_container(self, c: Container) -> None:
        image = c.spec.get("image", "")
        kind = image_kind(image, self.agent.runner.cfg.get("images", []))
        if kind is None:
            c.waiting = ("ErrImagePull", f"rig: no local installation for image {image}")
            c.backoff_until = time.monotonic() + 10
            return
        try:
            env = self.env_of(c, kind)
            argv = self.command_of(c, env, kind)
            launch = self.launch_argv(c, argv, env, kind)
        except (RuntimeError, ApiError, KeyError) as e:
            c.waiting = ("CreateContainerConfigError", str(e))
            c.backoff_until = time.monotonic() + 2
            return
        logpath = self.dir / "logs" / f"{c.name}.log"
        logf = open(logpath, "ab")
        # the container's stdout/stderr: reopening /dev/stdout (nginx's access_log) needs its user to own it,
        # as the container runtime's log pipe allows
        uid, gid, _ = self.user_of(c, kind)
        os.chown(logpath, uid, gid)
        logf.write(f"--- {now()} start (restart {c.restarts}): {' '.join(argv)}\n".encode())
        logf.flush()
        c.proc = subprocess.Popen(launch, stdout=logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                  start_new_session=True, env={"PATH": SYS_PATH})
        logf.close()
        c.started_at = now()
        c.waiting = None
        c.fails, c.succ = {}, {}
        t0 = time.monotonic()
        for kind_p in ("startupProbe", "livenessProbe", "readinessProbe"):
            if kind_p in c.spec:
                c.next_probe[kind_p] = t0 + float(c.spec[kind_p].get("initialDelaySeconds", 0))
        self.agent.remember_pid(c)
        log(f"{self.where()}: {'init ' if c.init else ''}container {c.name}: image {image} -> "
            f"{image_defaults(kind, image)['local']}; pid {c.proc.pid}: {' '.join(argv)[:300]}")

    def exec_in(self, c: Container, command: list[str], timeout: float) -> int:
        kind = image_kind(c.spec.get("image", ""), self.agent.runner.cfg.get("images", [])) or "flwr"
        env = self.env_of(c, kind)
        p = subprocess.Popen(self.launch_argv(c, list(command), env, kind), stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, start_new_session=True, env={"PATH": SYS_PATH})
        try:
            return p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
            return -1

    def probe(self, c: Container) -> None:
        ports = {p["name"]: int(p["containerPort"]) for cc in self.mains for p in cc.spec.get("ports", []) or []
                 if p.get("name")}
        t = time.monotonic()
        order = ["startupProbe"] if not c.startup_ok else ["livenessProbe", "readinessProbe"]
        if c.startup_ok and "readinessProbe" not in c.spec:
            c.ready = True
        for kind in order:
            probe = c.spec.get(kind)
            if probe is None or t < c.next_probe.get(kind, 0):
                continue
            c.next_probe[kind] = t + float(probe.get("periodSeconds", 10))
            ok, why = run_probe(probe, self.ip, ports, lambda cmd, to: self.exec_in(c, cmd, to))
            if ok:
                c.fails[kind] = 0
                c.succ[kind] = c.succ.get(kind, 0) + 1
                if kind == "startupProbe":
                    c.startup_ok = True
                    log(f"{self.where()}: {c.name} startup probe passed ({why})")
                    if "readinessProbe" not in c.spec:
                        c.ready = True
                    c.next_probe["livenessProbe"] = t + float(
                        c.spec.get("livenessProbe", {}).get("initialDelaySeconds", 0))
                    c.next_probe["readinessProbe"] = t
                elif kind == "readinessProbe" and c.succ[kind] >= int(probe.get("successThreshold", 1)):
                    if not c.ready:
                        log(f"{self.where()}: {c.name} ready ({why})")
                    c.ready = True
                continue
            c.succ[kind] = 0
            c.fails[kind] = c.fails.get(kind, 0) + 1
            if c.fails[kind] >= int(probe.get("failureThreshold", 3)):
                if kind == "readinessProbe":
                    if c.ready:
                        log(f"{self.where()}: {c.name} not ready: {why}")
                    c.ready = False
                else:
                    log(f"{self.where()}: {c.name} {kind} failed {c.fails[kind]} times ({why}): restarting")
                    self.kill(c, float(self.pod["spec"].get("terminationGracePeriodSeconds", 30)) / 3)
                    self.exited(c, 137)
                    return

    # --------------------------------------------------------------- status
    def cstatus(self, c: Container) -> dict:
        st: dict[str, Any] = {"name": c.name, "image": c.spec.get("image", ""),
                              "imageID": f"rig-local://{c.spec.get('image', '')}", "restartCount": c.restarts,
                              "ready": c.ready if not c.init else c.done, "started": c.proc is not None}
        if c.proc is not None:
            st["state"] = {"running": {"startedAt": c.started_at}}
            st["containerID"] = f"rig://{c.proc.pid}"
        elif c.done:
            st["state"] = c.last_state
        elif c.waiting:
            msg = self.mount_msg if self.mount_msg else c.waiting[1]
            st["state"] = {"waiting": {"reason": c.waiting[0], **({"message": msg} if msg else {})}}
        else:
            st["state"] = c.last_state or {"waiting": {"reason": "ContainerCreating"}}
        if c.last_state and not c.done:
            st["lastState"] = c.last_state
        return st

    def cond(self, ctype: str, ok: bool) -> dict:
        status = "True" if ok else "False"
        prev = self.transitions.get(ctype)
        if prev is None or prev[0] != status:
            self.transitions[ctype] = (status, now())
        return {"type": ctype, "status": status, "lastProbeTime": None,
                "lastTransitionTime": self.transitions[ctype][1]}

    def write_status(self) -> None:
        initialized = all(c.done for c in self.inits)
        running = initialized and all(c.proc is not None for c in self.mains)
        ready = running and all(c.ready for c in self.mains)
        phase = self.terminal() or ("Running" if running else "Pending")
        if phase in ("Succeeded", "Failed"):
            ready = False
        status = {
            "phase": phase,
            "hostIP": self.agent.net.gateway, "hostIPs": [{"ip": self.agent.net.gateway}],
            "podIP": self.ip or None, "podIPs": [{"ip": self.ip}] if self.ip else None,
            "startTime": self.start_time,
            "conditions": [self.cond("PodReadyToStartContainers", bool(self.ip)),
                           self.cond("Initialized", initialized), self.cond("Ready", ready),
                           self.cond("ContainersReady", ready), self.cond("PodScheduled", True)],
            "initContainerStatuses": [self.cstatus(c) for c in self.inits] or None,
            "containerStatuses": [self.cstatus(c) for c in self.mains],
        }
        text = json.dumps(status, sort_keys=True)
        if text == self.last_status:
            return
        try:
            self.agent.api.merge(f"/api/v1/namespaces/{self.ns}/pods/{self.pname}/status", {"status": status})
            self.last_status = text
        except (ApiError, OSError) as e:
            if not self.stop_ev.is_set():
                log(f"{self.where()}: status not written: {e}")


# ----------------------------------------------------------------------------- clusters

class ClusterAgent:
    def __init__(self, runner: Runner, cfg: dict) -> None:
        self.runner = runner
        self.cfg = cfg
        self.name = cfg["name"]
        self.node = f"flower-rig-{self.name}"
        self.api = Api(cfg["server"], Path(cfg["pki"]))
        self.net = runner.net
        self.dir = runner.dir / "pods" / self.name
        self.dir.mkdir(parents=True, exist_ok=True)
        self.workers: dict[str, PodWorker] = {}
        self.services: dict[tuple[str, str], str] = {}  # (namespace, name) -> the Service's address
        self.holders: dict[tuple[str, str], str] = {}  # (namespace, name) -> netns holding that address
        self.last_beat = 0.0

    def remember_pid(self, c: Container) -> None:
        self.runner.remember_pid(c)

    def forget_pid(self, c: Container) -> None:
        self.runner.forget_pid(c)

    def register(self) -> None:
        for ns in self.cfg.get("namespaces") or []:
            sel = f"{RUNNER_LABEL}={self.name}"
            tol = json.dumps([{"key": RUNNER_LABEL, "operator": "Equal", "value": self.name,
                               "effect": "NoSchedule"}])
            self.api.apply(f"/api/v1/namespaces/{ns}", {
                "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, "annotations": {
                    "scheduler.alpha.kubernetes.io/node-selector": sel,
                    "scheduler.alpha.kubernetes.io/defaultTolerations": tol}}})
            log(f"{self.name}: namespace {ns}: pods go to {self.node} (node-selector {sel})")
        self.api.apply(f"/api/v1/nodes/{self.node}", {
            "apiVersion": "v1", "kind": "Node",
            "metadata": {"name": self.node, "labels": {
                "kubernetes.io/hostname": self.node, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
                RUNNER_LABEL: self.name, "type": "flower-rig-runner"}},
            "spec": {"taints": [{"key": RUNNER_LABEL, "value": self.name, "effect": "NoSchedule"}]}})
        self.heartbeat(force=True)
        log(f"{self.name}: node {self.node} registered ({self.cfg['server']})")

    def heartbeat(self, force: bool = False) -> None:
        if not force and time.monotonic() - self.last_beat < 10:
            return
        self.last_beat = time.monotonic()
        res = {"cpu": "4", "memory": "16Gi", "pods": "110", "ephemeral-storage": "100Gi"}
        ts = now()
        conds = [{"type": t, "status": "False", "reason": f"KubeletHas{r}", "message": "rig pod runner",
                  "lastHeartbeatTime": ts, "lastTransitionTime": self.runner.started}
                 for t, r in (("MemoryPressure", "SufficientMemory"), ("DiskPressure", "NoDiskPressure"),
                              ("PIDPressure", "SufficientPID"))]
        conds.append({"type": "Ready", "status": "True", "reason": "KubeletReady",
                      "message": "rig pod runner is posting ready status", "lastHeartbeatTime": ts,
                      "lastTransitionTime": self.runner.started})
        self.api.apply(f"/api/v1/nodes/{self.node}", {
            "apiVersion": "v1", "kind": "Node", "metadata": {"name": self.node},
            "status": {"capacity": res, "allocatable": res, "conditions": conds,
                       "addresses": [{"type": "InternalIP", "address": self.net.gateway},
                                     {"type": "Hostname", "address": self.node}],
                       "nodeInfo": {"architecture": "amd64", "operatingSystem": "linux",
                                    "kubeletVersion": "v1.34.4", "kubeProxyVersion": "", "bootID": "",
                                    "containerRuntimeVersion": "rig://podrunner", "kernelVersion": os.uname().release,
                                    "machineID": "", "osImage": "rig", "systemUUID": ""}}}, "status")
        micro = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        self.api.apply(f"/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/{self.node}", {
            "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": self.node, "namespace": "kube-node-lease"},
            "spec": {"holderIdentity": self.node, "leaseDurationSeconds": 40, "renewTime": micro}})

    def owned(self, ns: str) -> bool:
        nss = self.cfg.get("namespaces")
        return nss is None or ns in nss

    def sync(self) -> None:
        self.heartbeat()
        if self.cfg.get("bind"):
            for p in self.api.get("/api/v1/pods?fieldSelector=spec.nodeName%3D")["items"]:
                m = p["metadata"]
                if not self.owned(m["namespace"]) or m.get("deletionTimestamp"):
                    continue
                with contextlib.suppress(ApiError):
                    self.api.req("POST", f"/api/v1/namespaces/{m['namespace']}/pods/{m['name']}/binding", {
                        "apiVersion": "v1", "kind": "Binding", "metadata": {"name": m["name"], "uid": m["uid"]},
                        "target": {"apiVersion": "v1", "kind": "Node", "name": self.node}})
                    log(f"{self.name}: bound {m['namespace']}/{m['name']} to {self.node}")
        pods = self.api.get(f"/api/v1/pods?fieldSelector=spec.nodeName%3D{self.node}")["items"]
        seen = set()
        for p in pods:
            m = p["metadata"]
            seen.add(m["uid"])
            w = self.workers.get(m["uid"])
            if m.get("deletionTimestamp"):
                if w is None:
                    self.finalise(p)
                elif not w.stop_ev.is_set():
                    log(f"{self.name}: pod {m['namespace']}/{m['name']} deleted: stopping it")
                    w.stop()
                elif w.finished.is_set():
                    self.finalise(p)
                    del self.workers[m["uid"]]
                continue
            if w is None and p.get("status", {}).get("phase") not in ("Succeeded", "Failed"):
                w = PodWorker(self, p)
                self.workers[m["uid"]] = w
                log(f"{self.name}: starting pod {m['namespace']}/{m['name']}")
                w.start()
        for uid in [u for u in self.workers if u not in seen]:
            self.workers[uid].stop()
            if self.workers[uid].finished.is_set():
                del self.workers[uid]
        self.refresh_services()

    def finalise(self, p: dict) -> None:
        m = p["metadata"]
        with contextlib.suppress(ApiError):
            self.api.req("DELETE", f"/api/v1/namespaces/{m['namespace']}/pods/{m['name']}",
                         {"apiVersion": "v1", "kind": "DeleteOptions", "gracePeriodSeconds": 0,
                          "preconditions": {"uid": m["uid"]}})
            log(f"{self.name}: pod {m['namespace']}/{m['name']} stopped and removed")

    def refresh_services(self) -> None:
        svcs = self.api.get("/api/v1/services")["items"]
        keys = {(v["metadata"]["namespace"], v["metadata"]["name"]) for v in svcs}
        for key in keys - set(self.services):
            self.services[key] = self.net.alloc(vip=True)
        for key in set(self.services) - keys:
            self.move_vip(key, None)
            self.net.release(self.services.pop(key))
        slices = self.api.get("/apis/discovery.k8s.io/v1/endpointslices")["items"]
        ready: dict[tuple[str, str], str] = {}
        for s in slices:
            svc = (s["metadata"].get("labels") or {}).get("kubernetes.io/service-name")
            if not svc:
                continue
            for ep in s.get("endpoints") or []:
                if (ep.get("conditions") or {}).get("ready") and ep.get("addresses"):
                    addr = ep["addresses"][0]
                    with contextlib.suppress(ValueError):
                        if ipaddress.ip_address(addr) in self.net.net:
                            ready.setdefault((s["metadata"]["namespace"], svc), addr)
        by_ip = {w.ip: w.netns for w in self.workers.values() if w.ip and not w.finished.is_set()}
        for key in self.services:
            holder = by_ip.get(ready.get(key, ""))
            if holder != self.holders.get(key):
                self.move_vip(key, holder)
        lbs: dict[str, str] = {}
        for svc in svcs:
            if svc["spec"].get("type") != "LoadBalancer":
                continue
            key = (svc["metadata"]["namespace"], svc["metadata"]["name"])
            for ing in (svc.get("status", {}).get("loadBalancer") or {}).get("ingress") or []:
                if ing.get("hostname"):
                    lbs[ing["hostname"]] = self.services[key]
        self.runner.lb_parts[self.name] = lbs

    def move_vip(self, key: tuple[str, str], holder: str | None) -> None:
        """Put the Service address of KEY on HOLDER's interface (off the previous holder's)."""
        vip = self.services[key]
        old = self.holders.pop(key, None)
        if old:
            sh("ip", "-n", old, "addr", "del", f"{vip}/32", "dev", "eth0", check=False)
        if holder:
            sh("ip", "-n", holder, "addr", "add", f"{vip}/32", "dev", "eth0", check=False)
            self.holders[key] = holder
            log(f"{self.name}: Service {key[0]}/{key[1]} {vip} -> pod netns {holder}")
        # forget the old owner's MAC everywhere (the address moved)
        for a in self.runner.agents:
            for w in list(a.workers.values()):
                if w.ip and w.netns != holder:
                    sh("ip", "-n", w.netns, "neigh", "flush", "to", vip, check=False)


class Runner:
    def __init__(self, d: Path) -> None:
        self.dir = d / "runner"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.cfg = json.loads((d / "runner.json").read_text())
        self.net = Network(self.cfg["network"])
        self.started = now()
        self.lb_parts: dict[str, dict[str, str]] = {}
        self.lb_hosts: dict[str, str] = {}
        self.pids_lock = threading.Lock()
        self.pids: dict[int, str] = {}
        self.agents = [ClusterAgent(self, c) for c in self.cfg["clusters"]]

    def remember_pid(self, c: Container) -> None:
        if c.proc is None:
            return
        with self.pids_lock:
            self.pids[c.proc.pid] = _starttime(c.proc.pid)
            self._write_pids()

    def forget_pid(self, c: Container) -> None:
        if c.proc is None:
            return
        with self.pids_lock:
            self.pids.pop(c.proc.pid, None)
            self._write_pids()

    def _write_pids(self) -> None:
        (self.dir / "container-pids").write_text("".join(f"{p} {s}\n" for p, s in self.pids.items()))

    def run(self) -> None:
        self.net.setup()
        for a in self.agents:
            port = int(a.cfg["port"])
            relay_listen((self.net.gateway, port), lambda port=port: ("127.0.0.1", port), f"api-relay-{a.name}")
            a.register()
        log(f"running pods for {', '.join(a.name for a in self.agents)}")
        while not STOP.is_set():
            for a in self.agents:
                try:
                    a.sync()
                except Exception as e:  # keep running the other pods and clusters
                    log(f"{a.name}: sync: {type(e).__name__}: {e}")
            merged: dict[str, str] = {}
            for part in self.lb_parts.values():
                merged.update(part)
            self.lb_hosts = merged
            for a in self.agents:
                for w in list(a.workers.values()):
                    with contextlib.suppress(OSError):
                        w.update_hosts()
            STOP.wait(1)
        log("stopping every pod")
        workers = [w for a in self.agents for w in a.workers.values()]
        for w in workers:
            w.stop()
        for w in workers:
            w.finished.wait(30)
        self.net.cleanup()
        log("stopped")


def _starttime(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return ""


def kill_leftovers(d: Path) -> None:
    """After the runner is gone: SIGKILL container processes it recorded (same PID and start time only)."""
    f = d / "runner" / "container-pids"
    if not f.exists():
        return
    for line in f.read_text().splitlines():
        pid, _, start = line.partition(" ")
        if pid.isdigit() and start and _starttime(int(pid)) == start:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(int(pid), signal.SIGKILL)
    f.unlink()
    cfg = json.loads((d / "runner.json").read_text())
    Network(cfg["network"]).cleanup()


def main(d: Path) -> None:
    signal.signal(signal.SIGTERM, lambda *_: STOP.set())
    signal.signal(signal.SIGINT, lambda *_: STOP.set())
    Runner(d.resolve()).run()


def port_forward(d: Path, cluster: str, namespace: str, service: str, port: int, local_port: int) -> None:
    """127.0.0.1:LOCAL_PORT -> the ready endpoint of SERVICE in CLUSTER (like kubectl port-forward svc/...)."""
    cfg = json.loads((d / "runner.json").read_text())
    c = next((c for c in cfg["clusters"] if c["name"] == cluster), None)
    if c is None:
        raise SystemExit(f"no cluster {cluster} in {d / 'runner.json'}")
    api = Api(c["server"], Path(c["pki"]))

    def target() -> tuple[str, int]:
        sl = api.get(f"/apis/discovery.k8s.io/v1/namespaces/{namespace}/endpointslices"
                     f"?labelSelector=kubernetes.io%2Fservice-name%3D{service}")["items"]
        for s in sl:
            for ep in s.get("endpoints") or []:
                if (ep.get("conditions") or {}).get("ready") and ep.get("addresses"):
                    return ep["addresses"][0], port
        raise RuntimeError(f"service {namespace}/{service} in {cluster} has no ready endpoint")

    relay_listen(("127.0.0.1", local_port), target, "port-forward")
    log(f"forwarding 127.0.0.1:{local_port} -> {cluster} {namespace}/{service}:{port}")
    signal.signal(signal.SIGTERM, lambda *_: STOP.set())
    STOP.wait()
