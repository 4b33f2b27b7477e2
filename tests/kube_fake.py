"""An HTTPS stand-in for a pod's Kubernetes API: what the spoke init containers' scripts are run against.

`serve` starts a handler on 127.0.0.1 with a certificate from a throwaway CA and writes what a
projected token volume holds (`token`, `namespace`, `ca.crt`) into a directory; it yields the
environment a pod would have (`KUBERNETES_SERVICE_HOST/PORT`) plus `api_dir`.
"""

from __future__ import annotations

import contextlib
import os
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from federation import tls


@contextlib.contextmanager
def serve(tmp_path: Path, handler: type[BaseHTTPRequestHandler], *, token: str, namespace: str) -> Iterator[dict[str, str]]:
    """Serve `handler` over HTTPS until the block ends; yield the pod-like environment and `api_dir`."""
    ca = tls.generate_ca(validity_days=2)
    cert = tls.issue_server_certificate(ca, dns_names=[], ip_addresses=["127.0.0.1"], validity_days=1)
    paths = tls.write_tls_files(tmp_path / "server", cert)
    api_dir = tmp_path / "api"
    api_dir.mkdir()
    (api_dir / "token").write_text(token + "\n")
    (api_dir / "namespace").write_text(namespace)
    (api_dir / "ca.crt").write_bytes(paths.ca_cert.read_bytes())
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(paths.cert, paths.key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield {**os.environ, "KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": str(server.server_address[1]),
               "api_dir": str(api_dir)}
    finally:
        server.shutdown()
        server.server_close()
