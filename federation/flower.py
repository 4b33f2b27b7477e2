"""The Flower runtime contract (1.42, 1.41): the only place that builds Flower command lines, env and ports.

The Kubernetes manifests (:mod:`federation.manifests`) and the local runner (:mod:`federation.local`)
both take their processes from here, so the argv the end-to-end tests run through real Flower is
the argv that lands in the Deployments and AddOnTemplates.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from federation.spec import FederationSpec, NodeConfigValue, PoolSpec
from federation.templating import Token


@dataclass(frozen=True)
class Release:
    """A verified Flower release: the flags this contract passes to each binary, checked against `--help`."""

    version: str
    flags: Mapping[str, frozenset[str]]
    #: Alembic revisions its SuperLink adds to an older `state.db` on start (a one-way migration).
    state_migrations: tuple[str, ...] = ()


_FLAGS: Mapping[str, frozenset[str]] = {
    "flower-superlink": frozenset({
        "--host", "--port", "--isolation", "--ssl-certfile", "--ssl-keyfile", "--ssl-ca-certfile", "--insecure",
        "--database", "--enable-supernode-auth", "--superexec-auth-secret-file",
        "--disable-runtime-dependency-installation", "--health-server-address",
    }),
    "flower-supernode": frozenset({
        "--superlink", "--root-certificates", "--insecure", "--auth-supernode-private-key", "--isolation", "--host",
        "--port", "--node-config", "--superexec-auth-secret-file", "--health-server-address",
    }),
    "flower-superexec": frozenset({
        "--runtime-api-address", "--root-certificates", "--insecure", "--superexec-auth-secret-file", "--parent-pid",
        "--health-server-address", "--executor", "--executor-config",
    }),
}
#: Every release this contract is verified against (same CLI flags; 1.42 migrates the SQLite state).
RELEASES: Mapping[str, Release] = {
    "1.42.0": Release("1.42.0", _FLAGS, state_migrations=("rev_2026_10_20_add_compacted_context_token_count",)),
    "1.41.0": Release("1.41.0", _FLAGS),
}
FLOWER_VERSION = "1.42.0"
#: SuperNode Runtime API port (Flower's default), where ClientApp SuperExecs connect.
SUPERNODE_RUNTIME_PORT = 9094
#: Port of the plaintext gRPC `grpc.health.v1.Health` server (`--health-server-address`) of a
#: SuperExec in a pod (its liveness probe); `Check` answers SERVING while the process runs.
GRPC_HEALTH_PORT = 9099
HEALTH_PATH = "/health"
#: Where a SuperExec that runs next to the SuperLink/SuperNode dials (0.0.0.0 is not dialable).
LOOPBACK = "127.0.0.1"
#: `--executor` of a SuperExec whose tasks run as Pods (Flower's Kubernetes executor, 1.41 and 1.42).
KUBERNETES_EXECUTOR = "kubernetes"
#: Where a SuperExec with the Kubernetes executor reads its `--executor-config` (a ConfigMap mount).
EXECUTOR_CONFIG_DIR = "/etc/flwr/executor"
EXECUTOR_CONFIG_FILE = "executor.yaml"
#: Where the Kubernetes Python client (`load_incluster_config`) reads the ServiceAccount token and CA.
SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
#: What Flower's Kubernetes executor runs in a task pod: `<command> --<runtime address flag> ADDRESS
#: --token-file /run/flwr/appio/token [--insecure | --root-certificates /run/flwr/appio/ca.crt]`.
TASK_COMMANDS = ("flwr-serverapp", "flwr-clientapp")
#: Where the executor mounts a task's AppIO token (and CA) Secret `<pod>-appio` (reserved in task pods).
APPIO_MOUNT_PATH = "/run/flwr/appio"


@dataclass(frozen=True)
class Layout:
    """Where a process finds and writes its files: in a container, or in a local work dir."""

    flwr_home: str
    state_dir: str
    tls_dir: str
    auth_dir: str
    secret_dir: str
    #: Extra directories that must be writable (emptyDirs under a read-only root filesystem).
    scratch_dirs: tuple[str, ...] = ()
    #: The process's HOME; uv and Python write caches and config below it.
    home: str | None = None

    @property
    def database(self) -> str:
        return str(PurePosixPath(self.state_dir) / "state.db")

    @property
    def ca_cert(self) -> str:
        return str(PurePosixPath(self.tls_dir) / "ca.crt")

    @property
    def server_cert(self) -> str:
        return str(PurePosixPath(self.tls_dir) / "tls.crt")

    @property
    def server_key(self) -> str:
        return str(PurePosixPath(self.tls_dir) / "tls.key")

    @property
    def node_private_key(self) -> str:
        return str(PurePosixPath(self.auth_dir) / "private-key")

    @property
    def superexec_secret(self) -> str:
        return str(PurePosixPath(self.secret_dir) / "secret")

    def writable_paths(self) -> tuple[str, ...]:
        """Every directory the process writes to."""
        home = (self.home,) if self.home else ()
        caches = tuple(str(PurePosixPath(h) / d) for h in home for d in (".cache", ".config"))
        return (self.flwr_home, *caches, *self.scratch_dirs)


#: The layout inside the official `flwr/*` images (user `app`, HOME /app), root filesystem read-only.
CONTAINER = Layout(
    flwr_home="/var/lib/flwr/home",
    state_dir="/var/lib/flwr/state",
    tls_dir="/etc/flwr/tls",
    auth_dir="/etc/flwr/auth",
    secret_dir="/etc/flwr/superexec",  # noqa: S106 - a mount path, not a secret
    scratch_dirs=("/tmp", "/var/tmp"),  # noqa: S108 - container scratch space, emptyDirs
    home="/app",
)


def local_layout(root: str) -> Layout:
    """A layout with everything under one local work directory `root`."""
    base = PurePosixPath(root)
    return Layout(
        flwr_home=str(base / "flwr-home"),
        state_dir=str(base / "state"),
        tls_dir=str(base / "tls"),
        auth_dir=str(base / "auth"),
        secret_dir=str(base / "secret"),
    )


@dataclass(frozen=True)
class Process:
    """A Flower process: argv (argv[0] is the binary), environment, and how to probe it."""

    argv: tuple[str, ...]
    env: Mapping[str, str] = field(default_factory=dict)
    port: int | None = None
    health_path: str | None = None
    tls: bool = False
    writable_paths: tuple[str, ...] = ()
    #: Port of its plaintext gRPC health server (`--health-server-address`), if it runs one.
    grpc_health_port: int | None = None

    @property
    def scheme(self) -> str:
        """HTTP scheme of the port (for probes and health checks)."""
        return "HTTPS" if self.tls else "HTTP"


def environment(layout: Layout, *, dependency_installation: bool = False) -> dict[str, str]:
    """Environment every Flower process gets: FLWR_HOME, telemetry and update check off, offline installs."""
    env = {
        "FLWR_HOME": layout.flwr_home,
        "FLWR_TELEMETRY_ENABLED": "0",
        "FLWR_DISABLE_UPDATE_CHECK": "1",
    }
    if layout.home:
        env["HOME"] = layout.home
    if not dependency_installation:
        env["FLWR_DISABLE_RUNTIME_DEPENDENCY_INSTALLATION"] = "1"
    return env


def toml_string(value: str) -> str:
    """`value` as a TOML basic string that Flower's `key=value` scanner keeps whole.

    Flower (`flwr.common.config.parse_config_args`) cuts a quoted value at the next `"`, whatever
    escapes it, so a `"` inside is written as `\\u0022`; backslashes and control characters are
    escaped the TOML way. TOML then decodes the value back exactly.
    """
    out = []
    for ch in value:
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append("\\u0022")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def format_node_config(config: Mapping[str, NodeConfigValue | Token]) -> str:
    """`--node-config`/`--run-config` value: space-separated `key=value`, TOML values, keys sorted.

    A template :class:`Token` renders as `{{NAME}}`, quoted unless it stands for an integer.
    """
    parts = []
    for key in sorted(config):
        value = config[key]
        if isinstance(value, Token):
            rendered = str(value) if value.integer else f'"{value}"'
        elif isinstance(value, bool):
            rendered = "true" if value else "false"
        elif isinstance(value, int | float):
            rendered = repr(value)
        else:
            rendered = toml_string(value)
        parts.append(f"{key}={rendered}")
    return " ".join(parts)


def _tls_enabled(spec: FederationSpec) -> bool:
    return spec.hub.tls.mode != "insecure"


def uses_superexec_secret(spec: FederationSpec) -> bool:
    """In process isolation a shared secret authenticates the hub's ServerApp SuperExec to the SuperLink."""
    return spec.hub.isolation == "process"


def pool_uses_superexec_secret(pool: PoolSpec) -> bool:
    """In process isolation a per-SuperNode shared secret authenticates its ClientApp SuperExec."""
    return pool.isolation == "process"


def release(version: str) -> Release:
    """The verified release `version` (KeyError names the supported ones)."""
    try:
        return RELEASES[version]
    except KeyError:
        raise KeyError(f"Flower {version} is not verified (verified: {', '.join(RELEASES)})") from None


def superlink(spec: FederationSpec, layout: Layout, *, host: str = "0.0.0.0", port: int | None = None) -> Process:  # noqa: S104
    """The SuperLink: one HTTP(S) port for Fleet, Control and Runtime APIs, sqlite state, optional node auth.

    It listens on `hub.apiPort`; only the Fleet proxy (:mod:`federation.proxy`) is reachable from
    outside the hub, on `hub.port`.
    """
    hub = spec.hub
    port = hub.api_port if port is None else port
    tls = _tls_enabled(spec)
    argv = ["flower-superlink", "--host", host, "--port", str(port), "--isolation", hub.isolation]
    if tls:
        argv += ["--ssl-certfile", layout.server_cert, "--ssl-keyfile", layout.server_key,
                 "--ssl-ca-certfile", layout.ca_cert]
    else:
        argv.append("--insecure")
    argv += ["--database", layout.database if hub.persistence.enabled else ":flwr-in-memory:"]
    if hub.supernode_auth.enabled:
        argv.append("--enable-supernode-auth")
    if uses_superexec_secret(spec):
        argv += ["--superexec-auth-secret-file", layout.superexec_secret]
    if not hub.runtime_dependency_installation:
        argv.append("--disable-runtime-dependency-installation")
    return Process(
        argv=tuple(argv),
        env=environment(layout, dependency_installation=hub.runtime_dependency_installation),
        port=port,
        health_path=HEALTH_PATH,
        tls=tls,
        writable_paths=(*layout.writable_paths(), layout.state_dir),
    )


#: Copies the SQLite state before a release first opens it (SQLite's online backup: a consistent copy).
#: No line starts with a space (one-line compound statements): a rendered manifest carries it as a
#: YAML scalar, and leading spaces force a double-quoted style that YAML emitters fold differently.
_STATE_BACKUP = """\
import os, sqlite3, sys
db, version = sys.argv[1], sys.argv[2]
backup = f"{db}.bak-{version}"
if not os.path.exists(db): print(f"no state at {db}: nothing to back up")
elif os.path.exists(backup): print(f"{backup} exists: {version} already started on this state, kept as is")
else: src, dst = sqlite3.connect(f"file:{db}?mode=ro", uri=True), sqlite3.connect(backup + ".tmp"); \
src.backup(dst); src.close(); dst.close(); os.replace(backup + ".tmp", backup); \
print(f"backed up {db} to {backup} before Flower {version} migrates it")
"""


def state_backup(layout: Layout, version: str) -> Process:
    """Back up `state.db` to `state.db.bak-<version>` the first time `version` starts on it (before any migration).

    Restarts of the same version keep the first backup: it is the state as the previous release left it.
    """
    return Process(argv=("python", "-c", _STATE_BACKUP, layout.database, version), env={},
                   writable_paths=(layout.state_dir,))


def supernode(
    spec: FederationSpec,
    pool: PoolSpec,
    layout: Layout,
    *,
    superlink_address: str,
    cluster_name: str | Token,
    extra_node_config: Mapping[str, NodeConfigValue | Token] | None = None,
    host: str = "0.0.0.0",  # noqa: S104
    port: int = SUPERNODE_RUNTIME_PORT,
) -> Process:
    """A SuperNode of `pool` dialling `superlink_address` (HOST:PORT, no scheme).

    Its node-config carries `cluster-name` so apps derive their data partition deterministically.
    In process isolation its Runtime API listens on `host:port` for the pool's ClientApp SuperExec;
    that API is plain HTTP inside the pod network (Flower secures it only with a server certificate,
    which would mean shipping a private key to every cluster).
    """
    config: dict[str, NodeConfigValue | Token] = {**pool.node_config, **(extra_node_config or {})}
    config["cluster-name"] = cluster_name
    argv = ["flower-supernode", "--superlink", superlink_address]
    argv += ["--root-certificates", layout.ca_cert] if _tls_enabled(spec) else ["--insecure"]
    if spec.hub.supernode_auth.enabled:
        argv += ["--auth-supernode-private-key", layout.node_private_key]
    argv += ["--isolation", pool.isolation, "--host", host, "--port", str(port),
             "--node-config", format_node_config(config)]
    if pool_uses_superexec_secret(pool):
        # Only a ClientApp SuperExec holding the same secret may take this node's tasks.
        argv += ["--superexec-auth-secret-file", layout.superexec_secret]
    return Process(
        argv=tuple(argv),
        env=environment(layout),
        port=port,
        health_path=HEALTH_PATH,
        tls=False,
        writable_paths=layout.writable_paths(),
    )


def executor_config_path() -> str:
    """The `--executor-config` file of a SuperExec with the Kubernetes executor (in a container)."""
    return str(PurePosixPath(EXECUTOR_CONFIG_DIR) / EXECUTOR_CONFIG_FILE)


def superexec(
    layout: Layout,
    *,
    runtime_api_address: str,
    tls: bool,
    secret: bool = False,
    parent_pid: int | None = None,
    health_host: str = "0.0.0.0",  # noqa: S104
    health_port: int | None = GRPC_HEALTH_PORT,
    executor_config: str | None = None,
) -> Process:
    """A SuperExec attached to a Runtime API (the SuperLink's for ServerApps, a SuperNode's for ClientApps).

    With `health_port` it serves plaintext gRPC health on `health_host:health_port` (its liveness probe).
    With `executor_config` (a YAML file path) it runs every task as a Pod (`--executor kubernetes`):
    the task pods dial `runtime_api_address` themselves, so it must resolve from their namespace.
    """
    argv = ["flower-superexec", "--runtime-api-address", runtime_api_address]
    argv += ["--root-certificates", layout.ca_cert] if tls else ["--insecure"]
    if secret:
        argv += ["--superexec-auth-secret-file", layout.superexec_secret]
    if parent_pid is not None:
        argv += ["--parent-pid", str(parent_pid)]
    if health_port is not None:
        argv += ["--health-server-address", f"{health_host}:{health_port}"]
    if executor_config is not None:
        argv += ["--executor", KUBERNETES_EXECUTOR, "--executor-config", executor_config]
    return Process(argv=tuple(argv), env=environment(layout), writable_paths=layout.writable_paths(),
                   grpc_health_port=health_port)


def serverapp_superexec(spec: FederationSpec, layout: Layout, *, superlink_host: str, port: int | None = None,
                        health_host: str = "0.0.0.0", health_port: int | None = GRPC_HEALTH_PORT,  # noqa: S104
                        executor_config: str | None = None) -> Process:
    """The hub's ServerApp SuperExec (process isolation), dialling the SuperLink's Runtime API (`hub.apiPort`)."""
    port = spec.hub.api_port if port is None else port
    return superexec(
        layout,
        runtime_api_address=f"{superlink_host}:{port}",
        tls=_tls_enabled(spec),
        secret=uses_superexec_secret(spec),
        health_host=health_host,
        health_port=health_port,
        executor_config=executor_config,
    )


def clientapp_superexec(layout: Layout, *, supernode_host: str, port: int = SUPERNODE_RUNTIME_PORT,
                        secret: bool = True, health_host: str = "0.0.0.0",  # noqa: S104
                        health_port: int | None = GRPC_HEALTH_PORT, executor_config: str | None = None) -> Process:
    """A pool's ClientApp SuperExec (process isolation), dialling its SuperNode's Runtime API with the node's secret."""
    return superexec(layout, runtime_api_address=f"{supernode_host}:{port}", tls=False, secret=secret,
                     health_host=health_host, health_port=health_port, executor_config=executor_config)


@dataclass(frozen=True)
class TaskExecutor:
    """What a task pod of Flower's Kubernetes executor needs from us: env and writable directories.

    Flower builds the task pod's command line itself (one of :data:`TASK_COMMANDS`, dialling the
    SuperExec's `--runtime-api-address` with the task's token from :data:`APPIO_MOUNT_PATH`); the
    executor config supplies its environment (literal values only) and volumes.
    """

    env: Mapping[str, str]
    writable_paths: tuple[str, ...]


def task_argv(command: str, runtime_api_address: str, *, root_certificates: bool = False) -> tuple[str, ...]:
    """The command line Flower's Kubernetes executor gives a task pod (it builds it itself: for previews and checks).

    `command` is one of :data:`TASK_COMMANDS`; the token (and CA) come from the task's `<pod>-appio` Secret.
    """
    argv = [command, "--runtime-api-address", runtime_api_address,
            "--token-file", str(PurePosixPath(APPIO_MOUNT_PATH) / "token")]
    if root_certificates:
        argv += ["--root-certificates", str(PurePosixPath(APPIO_MOUNT_PATH) / "ca.crt")]
    return tuple(argv)


def task_executor(layout: Layout, *, dependency_installation: bool = False) -> TaskExecutor:
    """The environment of a task pod (FLWR_HOME, HOME, telemetry and update check off) and its scratch dirs."""
    return TaskExecutor(env=environment(layout, dependency_installation=dependency_installation),
                        writable_paths=layout.writable_paths())
