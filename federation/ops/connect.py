"""The SuperLink connection `flwr` (Flower 1.42) reads, written from a federation's declaration (pure, no cluster).

Flower's CLI keeps its connections in ``$FLWR_HOME/config.toml`` (``~/.flwr`` without FLWR_HOME;
``flwr.cli.flower_config``): a ``[superlink]`` table with an optional ``default`` and one
``[superlink.<name>]`` table per connection with ``address`` (the **Control API**, ``host:port``),
``root-certificates`` (the path of a PEM file with the CA) or ``insecure = true``. `flwr run . <name>`,
`flwr ls <name>` and `flwr supernode list <name>` use it.

On the hub the Control API is the SuperLink's own port (``hub.apiPort``) behind the ClusterIP Service
``<name>-superlink-api`` (:func:`federation.manifests.hub.api_address`); the external address serves only
the Fleet API (the nginx Fleet proxy, :mod:`federation.proxy`). So the address written is the in-cluster
one (for `flwr` in a pod of the hub that ``hub.controlClients`` admits), an address the user gives (their
own port-forward or tunnel), or ``127.0.0.1:<port>`` of the port-forward `connect --port-forward` holds open.
The generated certificate carries ``localhost`` and ``127.0.0.1``, so TLS verifies through a port-forward.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from federation.spec import FederationSpec

#: Flower's config file name under FLWR_HOME (`flwr.cli.constant.FLOWER_CONFIG_FILE`).
CONFIG_FILE = "config.toml"
#: Directory under FLWR_HOME where `connect` keeps the CA files it points connections at.
CA_DIR = "flower-federation"
#: A connection name: a bare TOML key that is also a plain `flwr` argument.
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$")
_HOST_PORT = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+):([0-9]{1,5})$")


class ConnectError(ValueError):
    """A connection that cannot be written (bad name or address, unreadable config); the message names the field."""


def flwr_home(explicit: Path | None = None) -> Path:
    """Where `flwr` reads its config: `explicit`, else ``$FLWR_HOME``, else ``~/.flwr`` (as Flower's `get_flwr_home`)."""
    if explicit is not None:
        return explicit
    env = os.environ.get("FLWR_HOME")
    return Path(env) if env else Path.home() / ".flwr"


def check_name(name: str) -> str:
    """A connection name `flwr` takes as an argument and TOML as a bare key; ConnectError otherwise."""
    if not _NAME.match(name):
        raise ConnectError(f"--name: {name!r} must be 1-63 letters, digits, '-' or '_', starting with a letter or digit")
    return name


def check_address(address: str, option: str = "--control-address") -> str:
    """``host:port`` (IPv6 in brackets) with a port in 1..65535; ConnectError naming `option` otherwise."""
    m = _HOST_PORT.match(address)
    if not m or not 1 <= int(m.group(2)) <= 65535:
        raise ConnectError(f"{option}: {address!r} must be HOST:PORT (an IPv6 host in brackets), port 1-65535")
    return address


def uses_tls(spec: FederationSpec) -> bool:
    """Whether the SuperLink's Control API speaks TLS (every mode but ``insecure``)."""
    return spec.hub.tls.mode != "insecure"


@dataclass(frozen=True)
class Connection:
    """One ``[superlink.<name>]`` entry: the Control API address and how `flwr` verifies it."""

    name: str
    address: str
    #: Absolute path of the CA PEM (TLS), or None with ``insecure`` (a stack with ``tls.mode: insecure``).
    root_certificates: Path | None
    insecure: bool = False

    def table(self) -> dict[str, Any]:
        """The TOML table, keys as Flower's `SuperLinkConnectionTomlKey` spells them."""
        out: dict[str, Any] = {"address": self.address}
        if self.insecure:
            out["insecure"] = True
        else:
            out["root-certificates"] = str(self.root_certificates)
        return out


def ca_path(home: Path, name: str) -> Path:
    """Where `connect` writes the CA of connection `name`."""
    return home / CA_DIR / f"{check_name(name)}-ca.crt"


def check_ca(pem: str, where: str) -> str:
    """A PEM with at least one certificate and no private key (it is written next to the user's config)."""
    if "-----BEGIN CERTIFICATE-----" not in pem or "PRIVATE KEY" in pem:
        raise ConnectError(f"{where}: expected a PEM CA certificate (and no private key)")
    return pem if pem.endswith("\n") else pem + "\n"


def read_config(home: Path) -> dict[str, Any]:
    """The current ``config.toml`` (empty when absent); ConnectError when it is not valid TOML."""
    path = home / CONFIG_FILE
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConnectError(f"{path}: cannot read Flower's config ({exc}); fix or move it first") from None


def merged_config(config: dict[str, Any], conn: Connection, *, make_default: bool) -> dict[str, Any]:
    """`config` with `conn` added or replaced; every other connection and key kept. The default becomes `conn`
    when `make_default` or when the config names none."""
    out = dict(config)
    superlink = out.get("superlink")
    if superlink is None:
        superlink = {}
    elif not isinstance(superlink, dict):
        raise ConnectError("config.toml: 'superlink' is not a table; fix or move the file first")
    superlink = dict(superlink)
    superlink[conn.name] = conn.table()
    if make_default or "default" not in superlink:
        superlink = {"default": conn.name, **{k: v for k, v in superlink.items() if k != "default"}}
    out["superlink"] = superlink
    return out


def write_connection(home: Path, conn: Connection, *, ca_pem: str | None, make_default: bool = False) -> Path:
    """Write the CA file (0644: a public certificate) and merge `conn` into ``home/config.toml``; returns the config path.

    The config is replaced atomically (a temporary file renamed over it), so `flwr` never reads half a file.
    """
    import tomli_w

    home.mkdir(parents=True, exist_ok=True)
    if conn.root_certificates is not None:
        if ca_pem is None:
            raise ConnectError("the connection verifies TLS but no CA was given")
        conn.root_certificates.parent.mkdir(parents=True, exist_ok=True)
        tmp = conn.root_certificates.with_name(conn.root_certificates.name + ".tmp")
        tmp.write_text(ca_pem, encoding="utf-8")
        tmp.chmod(0o644)
        tmp.replace(conn.root_certificates)
    doc = merged_config(read_config(home), conn, make_default=make_default)
    path = home / CONFIG_FILE
    tmp = path.with_name(CONFIG_FILE + ".tmp")
    tmp.write_text(tomli_w.dumps(doc), encoding="utf-8")
    tmp.replace(path)
    return path


def connection(spec: FederationSpec, home: Path, name: str, address: str) -> Connection:
    """The connection for `spec`'s SuperLink at `address`, verified with the CA at :func:`ca_path` (or insecure)."""
    check_name(name)
    check_address(address)
    if uses_tls(spec):
        return Connection(name, address, ca_path(home, name).resolve())
    return Connection(name, address, None, insecure=True)
