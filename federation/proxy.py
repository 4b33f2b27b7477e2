"""The Fleet proxy: an nginx configuration that lets only the Fleet API (and health) reach the SuperLink.

Flower 1.41/1.42 serve every SuperLink API over one HTTP/1.1 port (uvicorn): the Fleet API
(``/v1/fleet/*``, what SuperNodes call), the Control API (``/v1/control/*``: start/stop runs,
register/unregister SuperNodes, no authentication in open-source Flower), the Runtime API
(``/v1/runtime/*``: where SuperExecs take ServerApp tasks) and ``/health``, plus FastAPI's
``/docs`` and ``/openapi.json``. Whoever reaches that port reaches all of them, so the address the
fleet dials is an nginx in front of it that terminates TLS with the SuperLink certificate and
forwards only ``POST /v1/fleet/<rpc>`` and ``GET|HEAD /health``; everything else is answered 403
by nginx itself and never reaches Flower.

:func:`nginx_config` is the one builder; the Kubernetes hub (:mod:`federation.manifests.hub`,
the proxy Deployment) and the local runner (:mod:`federation.local.runner`, a real nginx process)
both render their configuration with it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath

from federation.flower import Process

#: Flower's FAB size limit (`flwr.common.constant.FAB_MAX_SIZE`, 10 MiB): no Fleet request is larger.
FAB_MAX_BYTES = 10 * 1024 * 1024
#: Request bodies the proxy accepts: the FAB limit plus room for protobuf framing of pushed objects
#: (Flower chunks arrays at 5 MiB, `FLWR_PRIVATE_MAX_ARRAY_CHUNK_SIZE`).
MAX_BODY_BYTES = 16 * 1024 * 1024
#: The Fleet API paths of Flower 1.41/1.42 (`flwr/supernode/fleet_http_client.py`), all POST.
FLEET_PREFIX = "/v1/fleet/"
HEALTH_PATH = "/health"
#: Status nginx answers for everything that is not the Fleet API or health.
REFUSED_STATUS = 403
#: How long a Fleet call may stay open (pull-messages and object transfers of large models).
READ_TIMEOUT_SECONDS = 300

_SAFE = re.compile(r"^[A-Za-z0-9_./:\[\]-]+$")


@dataclass(frozen=True)
class ProxyConfig:
    """Everything the rendered nginx configuration depends on."""

    #: Address nginx listens on (`0.0.0.0` in a pod, `127.0.0.1` locally) and its port.
    listen_host: str
    listen_port: int
    #: `host:port` of the SuperLink's own port (Fleet, Control, Runtime).
    upstream: str
    #: Writable directory for the pid file and nginx's temp paths (an emptyDir in a pod).
    run_dir: str
    #: TLS: the server certificate/key nginx presents (the SuperLink's), and the CA that verifies
    #: the SuperLink behind it. None: plain HTTP on both sides (insecure mode).
    cert_file: str | None = None
    key_file: str | None = None
    ca_file: str | None = None
    #: The name the SuperLink certificate is checked against when nginx dials it (a SAN).
    upstream_tls_name: str | None = None
    max_body_bytes: int = MAX_BODY_BYTES

    @property
    def tls(self) -> bool:
        return self.cert_file is not None


def _check(value: str, what: str) -> str:
    """Refuse anything that could break out of an nginx directive (`;`, quotes, braces, spaces)."""
    if not _SAFE.match(value):
        raise ValueError(f"{what} {value!r} cannot be written into an nginx configuration")
    return value


def _listen(host: str, port: int) -> str:
    host = f"[{host}]" if ":" in host and not host.startswith("[") else host
    return f"{_check(host, 'listen host')}:{port}"


def nginx_config(cfg: ProxyConfig) -> str:
    """The complete nginx.conf (deterministic text) for `cfg`."""
    if cfg.tls and not (cfg.key_file and cfg.ca_file and cfg.upstream_tls_name):
        raise ValueError("a TLS proxy needs key_file, ca_file and upstream_tls_name")
    if not 0 < cfg.listen_port < 65536:
        raise ValueError(f"listen port {cfg.listen_port} out of range")
    if cfg.max_body_bytes < FAB_MAX_BYTES:
        raise ValueError(f"max_body_bytes {cfg.max_body_bytes} is below Flower's FAB limit {FAB_MAX_BYTES}")
    run = PurePosixPath(_check(cfg.run_dir, "run dir"))
    scheme = "https" if cfg.tls else "http"
    upstream = f"{scheme}://{_check(cfg.upstream, 'upstream')}"
    listen = _listen(cfg.listen_host, cfg.listen_port) + (" ssl" if cfg.tls else "")
    tls_server: list[str] = []
    tls_upstream: list[str] = []
    if cfg.tls:
        assert cfg.cert_file and cfg.key_file and cfg.ca_file and cfg.upstream_tls_name
        tls_server = [
            f"ssl_certificate {_check(cfg.cert_file, 'certificate path')};",
            f"ssl_certificate_key {_check(cfg.key_file, 'key path')};",
            "ssl_protocols TLSv1.2 TLSv1.3;",
            "ssl_prefer_server_ciphers off;",
            "ssl_session_cache shared:fleet_tls:1m;",
            "ssl_session_timeout 10m;",
        ]
        tls_upstream = [
            # The SuperLink behind is verified like any client would: our CA, a SAN of its certificate.
            "proxy_ssl_verify on;",
            f"proxy_ssl_trusted_certificate {_check(cfg.ca_file, 'CA path')};",
            f"proxy_ssl_name {_check(cfg.upstream_tls_name, 'upstream TLS name')};",
            "proxy_ssl_server_name on;",
            "proxy_ssl_protocols TLSv1.2 TLSv1.3;",
        ]
    proxied = [
        "proxy_http_version 1.1;",
        'proxy_set_header Connection "";',
        "proxy_set_header Host $host;",
        "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
        f"proxy_set_header X-Forwarded-Proto {scheme};",
        # Stream both ways: no temp files (read-only root), large objects pass through.
        "proxy_request_buffering off;",
        "proxy_buffering off;",
        f"proxy_read_timeout {READ_TIMEOUT_SECONDS}s;",
        f"proxy_send_timeout {READ_TIMEOUT_SECONDS}s;",
        *tls_upstream,
        f"proxy_pass {upstream};",
    ]
    temp = {name: run / name for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")}
    lines = [
        "# Rendered by flower-federation (federation/proxy.py): only the Flower Fleet API and /health pass.",
        "worker_processes 1;",
        "daemon off;",
        "error_log stderr warn;",
        f"pid {run / 'nginx.pid'};",
        "events { worker_connections 1024; }",
        "http {",
        "    access_log /dev/stdout;",
        "    server_tokens off;",
        f"    client_body_temp_path {temp['client_body']};",
        f"    proxy_temp_path {temp['proxy']};",
        f"    fastcgi_temp_path {temp['fastcgi']};",
        f"    uwsgi_temp_path {temp['uwsgi']};",
        f"    scgi_temp_path {temp['scgi']};",
        f"    client_max_body_size {cfg.max_body_bytes};",
        f"    client_body_buffer_size {min(cfg.max_body_bytes, 1024 * 1024)};",
        "    keepalive_timeout 75s;",
        "    default_type text/plain;",
        "    server {",
        f"        listen {listen};",
        *(f"        {line}" for line in tls_server),
        "        # The Fleet API: POST /v1/fleet/<rpc> (SuperNodes); matched on the normalized path.",
        f"        location ~ ^{FLEET_PREFIX}[a-z][a-z-]*$ {{",
        "            limit_except POST { deny all; }",
        *(f"            {line}" for line in proxied),
        "        }",
        "        # Liveness of the SuperLink behind the proxy (load balancer health checks).",
        f"        location = {HEALTH_PATH} {{",
        "            limit_except GET { deny all; }",
        *(f"            {line}" for line in proxied),
        "        }",
        "        # Control (/v1/control/*), Runtime (/v1/runtime/*), /docs, /openapi.json, anything else.",
        "        location / {",
        f'            return {REFUSED_STATUS} "refused: only the Flower Fleet API is served on this address\\n";',
        "        }",
        "    }",
        "}",
        "",
    ]
    # Written without indentation: nginx ignores it, and a line starting with a space would make the
    # ConfigMap value a double-quoted YAML scalar, which libyaml and PyYAML fold differently (render
    # output must be the same bytes with either emitter).
    return "\n".join(line.lstrip() for line in lines)


def nginx_process(conf_path: str, cfg: ProxyConfig) -> Process:
    """nginx in the foreground with `conf_path` (rendered by :func:`nginx_config` from `cfg`).

    `-e stderr` keeps nginx from opening its compiled-in error log before it reads the config
    (a read-only root filesystem, or a local run as an unprivileged user).
    """
    return Process(
        argv=("nginx", "-c", conf_path, "-e", "stderr"),
        port=cfg.listen_port,
        health_path=HEALTH_PATH,
        tls=cfg.tls,
        writable_paths=(cfg.run_dir,),
    )
