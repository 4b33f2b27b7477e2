"""Run a federation for real on one machine: SuperLink, SuperNodes and SuperExecs on 127.0.0.1.

Every argv and environment comes from :mod:`federation.flower` (the same contract the Kubernetes
manifests use) with :func:`federation.flower.local_layout` and free local ports.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from federation import flower, proxy, tls
from federation.local.procs import ManagedProcess, StopReporter, descendants, stop_all
from federation.local.progress import RoundMetrics, RunProgress, strip_ansi
from federation.spec import FederationSpec, NodeConfigValue, PoolSpec

HOST = "127.0.0.1"
CONNECTION = "local"
DEFAULT_APP_NAME = "quickstart-numpy"
_APP_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", ".git", ".venv", "build", "dist", "*.fab", "*.egg-info")


class LocalRunError(RuntimeError):
    """The local federation could not be started or driven (not a failed run: see RunResult)."""


#: `START-END`: take ports from this range only (e.g. one range per test worker, so two processes
#: that each probe a free port can never pick the same one). Unset: the kernel chooses.
PORT_RANGE_ENV = "FLOWER_FEDERATION_PORT_RANGE"
_port_cursor: dict[tuple[int, int], int] = {}


def _bindable(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def free_port(host: str = HOST) -> int:
    """A currently free TCP port on `host`: from $FLOWER_FEDERATION_PORT_RANGE in turn, else the kernel's choice."""
    spec = os.environ.get(PORT_RANGE_ENV)
    if not spec:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((host, 0))
            return int(sock.getsockname()[1])
    start, _, end = spec.partition("-")
    lo, hi = int(start), int(end)
    span = hi - lo + 1
    # Start where this process's pid points, so a child sharing the range does not retrace its parent.
    cursor = _port_cursor.get((lo, hi), os.getpid() * 97 % span)
    for step in range(span):
        port = lo + (cursor + step) % span
        if _bindable(host, port):
            _port_cursor[(lo, hi)] = (cursor + step + 1) % span
            return port
    raise LocalRunError(f"no free port in {PORT_RANGE_ENV}={spec}")


#: Run the Flower binaries of another installation (e.g. another verified release in its own venv).
BIN_DIR_ENV = "FLOWER_FEDERATION_FLWR_BIN_DIR"


def bin_dir() -> Path:
    """Where the Flower binaries come from: $FLOWER_FEDERATION_FLWR_BIN_DIR, else the running interpreter's scripts."""
    override = os.environ.get(BIN_DIR_ENV)
    return Path(override) if override else Path(sys.executable).parent


def resolve_binary(name: str) -> str:
    """`name` in :func:`bin_dir`, else from PATH; LocalRunError if neither has it."""
    candidate = bin_dir() / name
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return str(candidate)
    found = shutil.which(name)
    if found:
        return found
    raise LocalRunError(f"{name} not found next to {sys.executable} nor on PATH (is flwr {flower.FLOWER_VERSION} installed?)")


def resolve_nginx() -> str:
    """The nginx binary of the Fleet proxy: $FLOWER_FEDERATION_NGINX, PATH, or Debian's /usr/sbin/nginx."""
    candidates = [os.environ.get("FLOWER_FEDERATION_NGINX"), shutil.which("nginx"), "/usr/sbin/nginx"]
    for candidate in candidates:
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    raise LocalRunError("nginx not found (the Fleet proxy in front of the SuperLink): install it, "
                        "e.g. `apt-get install nginx-light`, or set FLOWER_FEDERATION_NGINX")


def default_app() -> Path:
    """The bundled example app: `examples/quickstart-numpy` of the source tree (editable installs)."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        candidate = parent / "examples" / DEFAULT_APP_NAME
        if (candidate / "pyproject.toml").is_file():
            return candidate
    cwd_candidate = Path.cwd() / "examples" / DEFAULT_APP_NAME
    if (cwd_candidate / "pyproject.toml").is_file():
        return cwd_candidate
    raise LocalRunError(f"cannot find examples/{DEFAULT_APP_NAME}; pass --app PATH")


#: The run-config keys the runner sets itself, when the app declares them (`--rounds`, all SuperNodes).
ROUNDS_KEY = "num-server-rounds"
MIN_NODES_KEY = "min-nodes"
_REJECTED = "Invalid run configuration"


def _flatten(table: Mapping[str, object], prefix: str = "") -> dict[str, object]:
    """Flower's flattening of nested run-config tables: `{"a": {"b": 1}}` → `{"a.b": 1}`."""
    flat: dict[str, object] = {}
    for key, value in table.items():
        if isinstance(value, Mapping):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def app_config(app: Path) -> dict[str, object]:
    """The run-config keys a Flower App declares (`[tool.flwr.app.config]` of its pyproject.toml, flattened)
    with their defaults: the only keys Flower accepts in `--run-config`."""
    import tomllib

    path = Path(app) / "pyproject.toml"
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise LocalRunError(f"cannot read {path}: {exc.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise LocalRunError(f"{path} is not valid TOML: {exc}") from None
    flwr = data.get("tool", {}).get("flwr", {})
    if not isinstance(flwr, dict) or not isinstance(flwr.get("app"), dict):
        raise LocalRunError(f"{path} has no [tool.flwr.app] table: not a Flower App")
    config = flwr["app"].get("config", {})
    return _flatten(config) if isinstance(config, dict) else {}


@dataclass
class RunResult:
    """The real outcome of one `flwr run`, from `flwr ls` (not from its exit code)."""

    run_id: int | None
    status: str
    status_details: str
    rounds: list[RoundMetrics]
    duration_seconds: float
    log_path: Path
    reason: str = ""
    error_lines: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status == "finished:completed"


@dataclass
class SuperNodeHandle:
    """One local SuperNode (and its ClientApp SuperExec in process isolation)."""

    pool: str
    index: int
    cluster_name: str
    port: int
    node_config: dict[str, NodeConfigValue]
    process: ManagedProcess
    superexec: ManagedProcess | None = None
    node_id: int | None = None
    public_key_path: Path | None = None


#: Hears every line of `flwr run --stream` with the events it produced (RunProgress.feed), and ("", progress,
#: ["idle"]) after each second without output.
Listener = Callable[[str, RunProgress, list[str]], None]


class LocalFederation:
    """A real federation on 127.0.0.1, all state in one work directory.

    Use as a context manager (``with LocalFederation(spec) as fed: fed.run()``): processes are
    stopped on exit, also on errors and KeyboardInterrupt. The work dir is removed unless
    ``keep`` is set or it was given explicitly.
    """

    def __init__(
        self,
        spec: FederationSpec,
        workdir: Path | str | None = None,
        *,
        keep: bool = False,
        startup_timeout: float = 60.0,
        grace_seconds: float = 5.0,
        on_step: Callable[[str], None] | None = None,
    ) -> None:
        self.spec = spec
        #: Told what start() is doing / waiting for, one short sentence per step.
        self.on_step = on_step
        self._own_workdir = workdir is None
        self.workdir = Path(tempfile.mkdtemp(prefix="flower-federation-")) if workdir is None else Path(workdir).resolve()
        self.keep = keep or not self._own_workdir
        self.layout = flower.local_layout(str(self.workdir))
        self.logs_dir = self.workdir / "logs"
        self.startup_timeout = startup_timeout
        self.grace_seconds = grace_seconds
        self.tls = spec.hub.tls.mode != "insecure"
        #: The Fleet proxy's port (what SuperNodes dial) and the SuperLink's own port (Control, Runtime).
        self.port = 0
        self.api_port = 0
        self.proxy_process: ManagedProcess | None = None
        self.superlink_process: ManagedProcess | None = None
        self.serverapp_superexec: ManagedProcess | None = None
        self.supernodes: list[SuperNodeHandle] = []
        self._runs = 0
        self._started = False

    # ------------------------------------------------------------------ context manager

    def __enter__(self) -> LocalFederation:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    # ------------------------------------------------------------------ properties

    @property
    def superlink_address(self) -> str:
        """The external address: the Fleet proxy (only the Fleet API and /health pass)."""
        return f"{HOST}:{self.port}"

    @property
    def api_address(self) -> str:
        """The SuperLink's own port (Control for `flwr`, Runtime for SuperExecs): never handed to SuperNodes."""
        return f"{HOST}:{self.api_port}"

    @property
    def total_supernodes(self) -> int:
        return self.spec.local.supernodes_per_pool * len(self.spec.pools)

    @property
    def processes(self) -> list[ManagedProcess]:
        """Every process we started (SuperNodes and SuperExecs first, the SuperLink last)."""
        procs: list[ManagedProcess] = []
        for node in self.supernodes:
            if node.superexec is not None:
                procs.append(node.superexec)
            procs.append(node.process)
        if self.serverapp_superexec is not None:
            procs.append(self.serverapp_superexec)
        if self.proxy_process is not None:
            procs.append(self.proxy_process)
        if self.superlink_process is not None:
            procs.append(self.superlink_process)
        return procs

    def pids(self) -> list[int]:
        """PIDs of every live process we started and their descendants."""
        return sorted({p.pid for proc in self.processes for p in proc.all_procs()})

    def env(self, process: flower.Process | None = None) -> dict[str, str]:
        """os.environ + the contract's env, the interpreter's bin dir first on PATH (Flower spawns by name)."""
        env = dict(os.environ)
        env.update(process.env if process is not None else flower.environment(self.layout))
        env["PATH"] = os.pathsep.join([str(bin_dir()), env.get("PATH", "")])
        env.setdefault("PYTHONUNBUFFERED", "1")
        if process is None:
            # The flwr CLI imports the app's package to validate it: no __pycache__ in the app dir.
            env["PYTHONDONTWRITEBYTECODE"] = "1"
        return env

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Generate TLS/secret material, start the SuperLink, SuperExecs and SuperNodes."""
        if self._started:
            return
        self._started = True
        for d in (self.layout.flwr_home, self.layout.state_dir, self.layout.tls_dir, self.layout.auth_dir,
                  self.layout.secret_dir, str(self.logs_dir)):
            Path(d).mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.api_port = free_port()
        if self.tls:
            self._write_tls()
        if flower.uses_superexec_secret(self.spec):
            tls.write_private_file(Path(self.layout.superexec_secret), tls.generate_shared_secret())
        self._write_flwr_config()
        self._step(f"starting the SuperLink on {self.api_address}, waiting for its /health")
        self._start_superlink()
        self._step(f"starting the Fleet proxy (nginx) on {self.superlink_address}, waiting for /health through it")
        self._start_proxy()
        self._step(f"starting {self.total_supernodes} SuperNode(s)" + (
            " and their SuperExecs" if any(p.isolation == "process" for p in self.spec.pools) else ""))
        if self.spec.hub.isolation == "process":
            proc = flower.serverapp_superexec(self.spec, self.layout, superlink_host=HOST, port=self.api_port,
                                              health_host=HOST, health_port=free_port())
            self.serverapp_superexec = self._launch("superexec-serverapp", proc)
        self._start_supernodes()

    def _step(self, message: str) -> None:
        if self.on_step is not None:
            self.on_step(message)

    def stop(self, report: StopReporter | None = None) -> None:
        """Stop every process (SIGTERM, SIGKILL after the grace period) and clean up the work dir.

        `report` hears, about once a second, which processes are still running (see :func:`stop_all`).
        """
        stop_all(self.processes, grace=self.grace_seconds, report=report)
        if self._own_workdir and not self.keep:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def restart_superlink(self, *, kill: bool = True, down_seconds: float = 0.0) -> None:
        """Kill (-9, or SIGTERM) the SuperLink and start it again with the same argv, port and database."""
        old = self.superlink_process
        if old is None:
            raise LocalRunError("the SuperLink was never started")
        stop_all([old], grace=self.grace_seconds, sig=signal.SIGKILL if kill else signal.SIGTERM)
        if down_seconds:
            time.sleep(down_seconds)
        self.superlink_process = ManagedProcess("superlink", old.argv, old.env, old.log_path)
        self.superlink_process.start(cwd=self.workdir)
        self._wait_healthy(self.superlink_process, self.api_address)

    # ------------------------------------------------------------------ setup helpers

    def _write_tls(self) -> None:
        days = self.spec.hub.tls.validity_days
        ca = tls.generate_ca("flower-federation local CA", validity_days=days)
        cert = tls.issue_server_certificate(ca, dns_names=["localhost"], ip_addresses=[HOST], validity_days=days)
        tls.write_tls_files(Path(self.layout.tls_dir), cert)  # the file names the layout's paths use

    def _write_flwr_config(self) -> None:
        lines = ["[superlink]", f'default = "{CONNECTION}"', "",
                 f"[superlink.{CONNECTION}]", f'address = "{self.api_address}"']
        if self.tls:
            lines.append(f'root-certificates = "{Path(self.layout.ca_cert).resolve()}"')
        else:
            lines.append("insecure = true")
        (Path(self.layout.flwr_home) / "config.toml").write_text("\n".join(lines) + "\n")

    def _launch(self, name: str, process: flower.Process, *, binary: str | None = None) -> ManagedProcess:
        argv = (binary or resolve_binary(process.argv[0]), *process.argv[1:])
        managed = ManagedProcess(name, argv, self.env(process), self.logs_dir / f"{name}.log")
        (self.logs_dir / f"{name}.argv").write_text(" ".join(process.argv) + "\n")
        managed.start(cwd=self.workdir)
        return managed

    def _start_superlink(self) -> None:
        proc = flower.superlink(self.spec, self.layout, host=HOST, port=self.api_port)
        self.superlink_process = self._launch("superlink", proc)
        self._wait_healthy(self.superlink_process, self.api_address)

    def proxy_config(self) -> proxy.ProxyConfig:
        """The Fleet proxy in front of the SuperLink, as on the hub (same builder), on 127.0.0.1."""
        run_dir = self.workdir / "proxy"
        return proxy.ProxyConfig(
            listen_host=HOST,
            listen_port=self.port,
            upstream=self.api_address,
            run_dir=str(run_dir),
            cert_file=self.layout.server_cert if self.tls else None,
            key_file=self.layout.server_key if self.tls else None,
            ca_file=self.layout.ca_cert if self.tls else None,
            upstream_tls_name="localhost" if self.tls else None,
        )

    def _start_proxy(self) -> None:
        cfg = self.proxy_config()
        Path(cfg.run_dir).mkdir(parents=True, exist_ok=True)
        conf = Path(cfg.run_dir) / "nginx.conf"
        conf.write_text(proxy.nginx_config(cfg))
        process = proxy.nginx_process(str(conf), cfg)
        process = dataclasses.replace(process, env=flower.environment(self.layout))
        self.proxy_process = self._launch("fleet-proxy", process, binary=resolve_nginx())
        self._wait_healthy(self.proxy_process, self.superlink_address)

    def _wait_healthy(self, managed: ManagedProcess, address: str) -> None:
        scheme = "https" if self.tls else "http"
        url = f"{scheme}://{address}{flower.HEALTH_PATH}"
        context = ssl.create_default_context(cafile=self.layout.ca_cert) if self.tls else None
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if not managed.running():
                tail = "\n".join(managed.log_tail(15))
                raise LocalRunError(f"{managed.name} exited with code {managed.returncode()} during startup:\n{tail}")
            try:
                with urllib.request.urlopen(url, timeout=2, context=context) as response:  # noqa: S310 - our own URL
                    if response.status == 200:
                        managed.snapshot()
                        return
            except (urllib.error.URLError, OSError, ssl.SSLError):
                pass
            time.sleep(0.2)
        raise LocalRunError(f"{managed.name} did not answer {url} within {self.startup_timeout:.0f}s")

    def _start_supernodes(self) -> None:
        total = self.total_supernodes
        num_partitions = self.spec.local.num_partitions or total
        auth = self.spec.hub.supernode_auth.enabled
        index = 0
        for pool in self.spec.pools:
            for i in range(self.spec.local.supernodes_per_pool):
                node = self._start_supernode(pool, i, index % num_partitions, num_partitions, auth)
                self.supernodes.append(node)
                index += 1
        # Fail fast on nodes that die at once (TLS or auth errors are not retried by Flower).
        time.sleep(0.5)
        for node in self.supernodes:
            for managed in (node.process, node.superexec):
                if managed is not None and not managed.running():
                    tail = "\n".join(managed.log_tail(15))
                    raise LocalRunError(f"{managed.name} exited with code {managed.returncode()}:\n{tail}")

    def _start_supernode(self, pool: PoolSpec, i: int, partition: int, num_partitions: int, auth: bool) -> SuperNodeHandle:
        name = f"{pool.name}-{i}"
        cluster_name = f"local-{pool.name}-{i}"
        layout = self.layout
        public_key_path: Path | None = None
        node_id: int | None = None
        if auth:
            layout = dataclasses.replace(self.layout, auth_dir=str(Path(self.layout.auth_dir) / name))
            Path(layout.auth_dir).mkdir(parents=True, exist_ok=True)
            pair = tls.generate_node_keypair(comment=cluster_name)
            tls.write_private_file(Path(layout.node_private_key), pair.private_key_openssh)
            public_key_path = Path(layout.auth_dir) / "public-key.pub"
            public_key_path.write_text(pair.public_key_openssh + "\n")
            node_id = self.register_node(public_key_path, name=cluster_name)
        if flower.pool_uses_superexec_secret(pool):
            # Each SuperNode and its ClientApp SuperExec share their own secret (as in one spoke pod).
            layout = dataclasses.replace(layout, secret_dir=str(Path(self.layout.secret_dir) / name))
            Path(layout.secret_dir).mkdir(parents=True, exist_ok=True)
            tls.write_private_file(Path(layout.superexec_secret), tls.generate_shared_secret())
        port = free_port()
        extra: dict[str, NodeConfigValue] = {"partition-id": partition, "num-partitions": num_partitions}
        proc = flower.supernode(self.spec, pool, layout, superlink_address=self.superlink_address,
                                cluster_name=cluster_name, extra_node_config=extra, host=HOST, port=port)
        managed = self._launch(f"supernode-{name}", proc)
        superexec: ManagedProcess | None = None
        if pool.isolation == "process":
            se = flower.clientapp_superexec(layout, supernode_host=HOST, port=port, health_host=HOST,
                                            health_port=free_port())
            superexec = self._launch(f"superexec-{name}", se)
        config: dict[str, NodeConfigValue] = {**pool.node_config, **extra, "cluster-name": cluster_name}
        return SuperNodeHandle(pool.name, i, cluster_name, port, config, managed, superexec, node_id, public_key_path)

    # ------------------------------------------------------------------ the flwr CLI

    def flwr(self, *args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
        """Run `flwr ARGS` against this federation's FLWR_HOME (captured output)."""
        return subprocess.run(
            [resolve_binary("flwr"), *args], env=self.env(), cwd=self.workdir,
            capture_output=True, text=True, timeout=timeout, check=False,
        )

    def _flwr_json(self, *args: str) -> dict[str, object]:
        result = self.flwr(*args, "--format", "json")
        try:
            data = json.loads(result.stdout)
        except json.JSONDecodeError:
            raise LocalRunError(f"flwr {' '.join(args)} failed (rc {result.returncode}): "
                                f"{(result.stdout + result.stderr).strip()[-800:]}") from None
        if not isinstance(data, dict):
            raise LocalRunError(f"flwr {' '.join(args)}: unexpected output {result.stdout[:200]}")
        return data

    def register_node(self, public_key: Path, *, name: str | None = None) -> int:
        """`flwr supernode register <pubkey> <conn>`; returns the node ID."""
        args = ["supernode", "register", str(public_key), CONNECTION]
        data = self._flwr_json(*args)
        if not data.get("success") or "node-id" not in data:
            raise LocalRunError(f"registering {public_key.name} failed: {data}")
        return int(str(data["node-id"]))

    def supernode_list(self) -> list[dict[str, object]]:
        """`flwr supernode list <conn> --format json` (the node entries)."""
        data = self._flwr_json("supernode", "list", CONNECTION)
        for key in ("nodes", "supernodes"):
            value = data.get(key)
            if isinstance(value, list):
                return [n for n in value if isinstance(n, dict)]
        return []

    def run_status(self, run_id: int) -> tuple[str, str]:
        """(status, status-details) of `run_id` from `flwr ls --run-id`."""
        data = self._flwr_json("ls", CONNECTION, "--run-id", str(run_id))
        if data.get("success") is False:
            return "unknown", str(data.get("error-message", data))
        runs = data.get("runs")
        if not isinstance(runs, list) or not runs or not isinstance(runs[0], dict):
            return "unknown", f"flwr ls returned {data}"
        run = runs[0]
        return str(run.get("status", "unknown")), str(run.get("status-details", "") or "")

    # ------------------------------------------------------------------ runs

    def prepare_app(self, app: Path) -> Path:
        """Copy the app into the work dir, so `flwr run` never writes into the source tree."""
        app = app.resolve()
        if not (app / "pyproject.toml").is_file():
            raise LocalRunError(f"{app} is not a Flower App (no pyproject.toml)")
        self._runs += 1
        target = self.workdir / "apps" / f"{app.name}-{self._runs}"
        shutil.copytree(app, target, ignore=_APP_IGNORE, dirs_exist_ok=False)
        return target

    def run_config(self, rounds: int, extra: Mapping[str, NodeConfigValue] | None = None,
                   declared: Iterable[str] | None = None) -> str:
        """`--run-config` value: num-server-rounds and min-nodes (only those of them the app declares, when
        `declared` is given), then spec.local.run_config and `extra` as written (Flower checks them)."""
        config: dict[str, NodeConfigValue] = {ROUNDS_KEY: rounds, MIN_NODES_KEY: self.total_supernodes}
        if declared is not None:
            keys = set(declared)
            config = {k: v for k, v in config.items() if k in keys}
        config.update(self.spec.local.run_config)
        config.update(extra or {})
        return flower.format_node_config(config)

    def run(
        self,
        app: Path | str | None = None,
        rounds: int | None = None,
        *,
        run_config: Mapping[str, NodeConfigValue] | None = None,
        timeout: float | None = None,
        listener: Listener | None = None,
    ) -> RunResult:
        """`flwr run <app> <conn> --stream`, then the real status from `flwr ls`."""
        if not self._started:
            self.start()
        rounds = self.spec.local.rounds if rounds is None else rounds
        timeout = float(self.spec.local.timeout_seconds) if timeout is None else timeout
        source = default_app() if app is None else Path(app)
        app_dir = self.prepare_app(source)
        declared = app_config(app_dir)
        log_path = self.logs_dir / f"run-{self._runs}.log"
        argv = [resolve_binary("flwr"), "run", str(app_dir), CONNECTION, "--stream"]
        config = self.run_config(rounds, run_config, declared)
        if config:
            argv += ["--run-config", config]
        progress = RunProgress()
        started = time.monotonic()
        deadline = started + timeout
        timed_out = False
        with log_path.open("w", encoding="utf-8") as log:
            log.write("$ " + " ".join(argv[1:]) + "\n")
            proc = subprocess.Popen(argv, env=self.env(), cwd=self.workdir, stdin=subprocess.DEVNULL,
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1,
                                    start_new_session=True)
            managed = ManagedProcess("flwr-run", tuple(argv), {}, log_path, popen=proc)
            try:
                timed_out = self._pump(proc, progress, log, deadline, listener)
            finally:
                stop_all([managed], grace=2.0)
        if timed_out and progress.run_id is not None:
            self.flwr("stop", str(progress.run_id), CONNECTION)
        result = self._result(progress, log_path, time.monotonic() - started, timed_out, timeout)
        if progress.run_id is None and self._rejected_config(log_path):
            result.reason = self._rejection_reason(declared)
        return result

    @staticmethod
    def _rejected_config(run_log: Path) -> bool:
        try:
            return _REJECTED in run_log.read_text(errors="replace")
        except OSError:
            return False

    def _rejection_reason(self, declared: Mapping[str, object]) -> str:
        """Flower's reason for refusing the run config (the client only sees "[code: 15] Invalid run
        configuration."; the SuperLink logs why), and the keys the app declares."""
        why = "Flower gave no reason"
        if self.superlink_process is not None:
            for line in reversed(self.superlink_process.log_tail(200)):
                clean = strip_ansi(line)
                if "Could not start run: " in clean:  # Flower's own log line: "Could not start run: <reason>"
                    why = clean.split("Could not start run: ", 1)[1].strip()
                    break
        keys = ", ".join(sorted(declared)) or "none"
        return (f"Flower rejected the run config ({why}); the app declares: {keys} "
                "([tool.flwr.app.config]; local.runConfig may set only those)")

    def _pump(self, proc: subprocess.Popen[str], progress: RunProgress, log: object, deadline: float,
              listener: Listener | None) -> bool:
        """Copy the stream to the log and the parser until EOF; True if the deadline passed."""
        import selectors

        assert proc.stdout is not None
        write = getattr(log, "write")  # noqa: B009
        flush = getattr(log, "flush")  # noqa: B009
        with selectors.DefaultSelector() as sel:
            sel.register(proc.stdout, selectors.EVENT_READ)
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return True
                if not sel.select(timeout=min(remaining, 1.0)):
                    if proc.poll() is not None:
                        return False
                    if listener is not None:
                        listener("", progress, ["idle"])  # a second without output
                    continue
                line = proc.stdout.readline()
                if not line:
                    return False
                write(line)
                flush()
                events = progress.feed(line)
                if listener is not None:
                    listener(line, progress, events)

    def _result(self, progress: RunProgress, log_path: Path, duration: float, timed_out: bool, timeout: float) -> RunResult:
        status, details = "unknown", ""
        if progress.run_id is not None:
            # The run may take a moment to reach a final state after the stream ends.
            poll_until = time.monotonic() + (5.0 if timed_out else 15.0)
            while True:
                try:
                    status, details = self.run_status(progress.run_id)
                except LocalRunError as exc:
                    details = str(exc)
                if status.startswith("finished") or time.monotonic() >= poll_until:
                    break
                time.sleep(0.5)
        reason = ""
        if timed_out:
            reason = f"timed out after {timeout:.0f}s (spec.local.timeoutSeconds) in status {status}"
            if status == "finished:completed":
                status = "timeout"
        elif progress.run_id is None:
            reason = "flwr run did not start a run"
        elif status != "finished:completed":
            reason = f"run {progress.run_id} ended {status}" + (f": {details}" if details else "")
        if reason and not progress.error_lines:
            progress.error_lines = self._log_errors(log_path)
        return RunResult(progress.run_id, status, details, progress.completed_rounds(), duration, log_path,
                         reason, list(progress.error_lines))

    def _log_errors(self, run_log: Path) -> list[str]:
        """Last non-empty lines of the run log (for a failure without an explicit error line)."""
        try:
            lines = [ln for ln in run_log.read_text(errors="replace").splitlines() if ln.strip()]
        except OSError:
            return []
        return lines[-10:]

    def descendants_of_superlink(self) -> list[int]:
        """PIDs under the SuperLink (its auto-spawned SuperExec and ServerApps)."""
        if self.superlink_process is None or self.superlink_process.pid is None:
            return []
        return [p.pid for p in descendants(self.superlink_process.pid)]
