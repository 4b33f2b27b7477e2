"""The Flower 1.41 runtime contract: the only place that builds Flower command lines, env and ports.

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

FLOWER_VERSION = "1.41.0"
#: SuperNode Runtime API port (Flower's default), where ClientApp SuperExecs connect.
SUPERNODE_RUNTIME_PORT = 9094
HEALTH_PATH = "/health"
#: Where a SuperExec that runs next to the SuperLink/SuperNode dials (0.0.0.0 is not dialable).
LOOPBACK = "127.0.0.1"


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


def superlink(spec: FederationSpec, layout: Layout, *, host: str = "0.0.0.0", port: int | None = None) -> Process:  # noqa: S104
    """The SuperLink: one HTTP(S) port for Fleet, Control and Runtime APIs, sqlite state, optional node auth."""
    hub = spec.hub
    port = hub.port if port is None else port
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
    return Process(
        argv=tuple(argv),
        env=environment(layout),
        port=port,
        health_path=HEALTH_PATH,
        tls=False,
        writable_paths=layout.writable_paths(),
    )


def superexec(
    layout: Layout,
    *,
    runtime_api_address: str,
    tls: bool,
    secret: bool = False,
    parent_pid: int | None = None,
) -> Process:
    """A SuperExec attached to a Runtime API (the SuperLink's for ServerApps, a SuperNode's for ClientApps)."""
    argv = ["flower-superexec", "--runtime-api-address", runtime_api_address]
    argv += ["--root-certificates", layout.ca_cert] if tls else ["--insecure"]
    if secret:
        argv += ["--superexec-auth-secret-file", layout.superexec_secret]
    if parent_pid is not None:
        argv += ["--parent-pid", str(parent_pid)]
    return Process(argv=tuple(argv), env=environment(layout), writable_paths=layout.writable_paths())


def serverapp_superexec(spec: FederationSpec, layout: Layout, *, superlink_host: str, port: int | None = None) -> Process:
    """The hub's ServerApp SuperExec (process isolation), dialling the SuperLink's Runtime API."""
    port = spec.hub.port if port is None else port
    return superexec(
        layout,
        runtime_api_address=f"{superlink_host}:{port}",
        tls=_tls_enabled(spec),
        secret=uses_superexec_secret(spec),
    )


def clientapp_superexec(layout: Layout, *, supernode_host: str, port: int = SUPERNODE_RUNTIME_PORT) -> Process:
    """A pool's ClientApp SuperExec (process isolation), dialling its SuperNode's Runtime API."""
    return superexec(layout, runtime_api_address=f"{supernode_host}:{port}", tls=False)
