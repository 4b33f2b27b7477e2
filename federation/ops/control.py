"""Flower's Control API, asked through the real `flwr` CLI (`flwr supernode list`, `flwr ls`, JSON output).

The connection `flwr` uses is written by :mod:`federation.ops.connect` (the same writer as `connect`)
into a temporary FLWR_HOME, so what `status` proves reachable is exactly what `connect` writes. Flower
runs offline: telemetry and the update check off.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from federation.ops import connect
from federation.ops.status import ControlView
from federation.spec import FederationSpec

#: Seconds one `flwr` call may take (it retries an unreachable SuperLink for a while).
FLWR_TIMEOUT = 45
_CONNECTION = "status"


def flwr_binary() -> str:
    """`flwr` next to the running interpreter (the project's venv), else on PATH; RuntimeError when absent."""
    candidate = Path(sys.executable).with_name("flwr")
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return str(candidate)
    found = shutil.which("flwr")
    if found:
        return found
    raise RuntimeError(f"flwr not found next to {sys.executable} nor on PATH (pip install flwr)")


def flwr_env(home: Path) -> dict[str, str]:
    """os.environ with FLWR_HOME and Flower's telemetry and update check off."""
    return {**os.environ, "FLWR_HOME": str(home), "FLWR_TELEMETRY_ENABLED": "0", "FLWR_DISABLE_UPDATE_CHECK": "1"}


def _flwr_json(args: list[str], home: Path, timeout: float) -> tuple[dict[str, Any] | None, str | None]:
    """(document, None) on success, (None, why) otherwise."""
    try:
        res = subprocess.run([flwr_binary(), *args], env=flwr_env(home), capture_output=True, text=True,
                             timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return None, f"`flwr {' '.join(args[:2])}` did not answer within {timeout:.0f}s"
    except (OSError, RuntimeError) as exc:
        return None, str(exc)
    text = res.stdout.strip()
    try:
        doc = json.loads(text[text.index("{"):]) if "{" in text else None
    except ValueError:
        doc = None
    if isinstance(doc, dict) and doc.get("success") is True:
        return doc, None
    message = (doc or {}).get("error-message") if isinstance(doc, dict) else None
    message = message or (res.stderr.strip() or text or f"exit {res.returncode}")
    return None, " ".join(str(message).split())[:600]


def query(spec: FederationSpec, address: str, ca_pem: str | None, *, via: str,
          timeout: float = FLWR_TIMEOUT) -> ControlView:
    """SuperNodes and runs from the Control API at `address` (TLS verified with `ca_pem` unless the stack is insecure)."""
    with tempfile.TemporaryDirectory(prefix="flower-federation-status-") as tmp:
        home = Path(tmp)
        conn = connect.connection(spec, home, _CONNECTION, address)
        connect.write_connection(home, conn, ca_pem=ca_pem, make_default=True)
        nodes, error = _flwr_json(["supernode", "list", _CONNECTION, "--format", "json"], home, timeout)
        if nodes is None:
            return ControlView(via=via, address=address, error=error)
        runs, error = _flwr_json(["ls", _CONNECTION, "--format", "json"], home, timeout)
        if runs is None:
            return ControlView(via=via, address=address, error=error)
    return ControlView(via=via, address=address, nodes=tuple(nodes.get("nodes") or ()),
                       runs=tuple(runs.get("runs") or ()))
