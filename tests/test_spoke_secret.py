"""The spoke's SuperExec-secret init container, run for real against a fake Kubernetes API (HTTPS).

The script in the AddOnTemplate is executed with this Python exactly as the container runs it (its
argv from the manifest), against an HTTPS server that implements the three calls it makes with the
RBAC it is granted (get by name, create) and checks the bearer token.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

from federation import flower
from federation.manifests import common
from federation.manifests.ocm import addon, names
from tests import kube_fake
from tests.e2e.specs import make_spec

TOKEN = "projected-token"
NS = "open-cluster-management-agent-addon"
SECRET_NAME = names.spoke_superexec_secret_name(make_spec(pools=[{"name": "cpu", "isolation": "process"}]))


class FakeApi:
    def __init__(self) -> None:
        self.secrets: dict[str, dict[str, Any]] = {}
        self.calls: list[tuple[str, str, int]] = []
        self.conflict_once = False


def _handler(api: FakeApi) -> type[BaseHTTPRequestHandler]:
    base = f"/api/v1/namespaces/{NS}/secrets"

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_: Any) -> None:
            pass

        def _reply(self, status: int, body: dict[str, Any]) -> None:
            api.calls.append((self.command, self.path, status))
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _authorized(self) -> bool:
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                self._reply(401, {"kind": "Status", "code": 401})
                return False
            return True

        def do_GET(self) -> None:
            if not self._authorized():
                return
            name = self.path.removeprefix(base + "/")
            if self.path.startswith(base + "/") and name == SECRET_NAME:
                if name in api.secrets:
                    self._reply(200, api.secrets[name])
                else:
                    self._reply(404, {"kind": "Status", "code": 404})
            else:
                self._reply(403, {"kind": "Status", "code": 403})  # the Role grants get on that name only

        def do_POST(self) -> None:
            if not self._authorized():
                return
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            name = body["metadata"]["name"]
            if api.conflict_once:
                # Another replica won the race: its Secret exists now.
                api.conflict_once = False
                api.secrets[name] = {**body, "data": {"secret": base64.b64encode(b"winner").decode()}}
                self._reply(409, {"kind": "Status", "code": 409})
                return
            api.secrets[name] = body
            self._reply(201, body)

    return Handler


@pytest.fixture
def fake_api(tmp_path: Path) -> Iterator[tuple[FakeApi, dict[str, str]]]:
    api = FakeApi()
    with kube_fake.serve(tmp_path, _handler(api), token=TOKEN, namespace=NS) as env:
        yield api, env


def run_init(env: dict[str, str], out: Path) -> subprocess.CompletedProcess[str]:
    """The init container's argv from the manifest, with its paths pointed at this test's files."""
    spec = make_spec(pools=[{"name": "cpu", "isolation": "process"}])
    init, _ = addon.superexec_secret_init(spec, spec.pools[0])
    argv = [*init["command"], *init["args"]]
    assert argv[0] == "python" and argv[-4:] == [addon.SECRET_INIT_API_DIR, SECRET_NAME,
                                                  flower.CONTAINER.superexec_secret, "t"]
    argv = [sys.executable, *argv[1:-4], env["api_dir"], SECRET_NAME, str(out), "t"]
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)


def test_creates_the_secret_once_and_every_pod_reads_the_same_bytes(fake_api: tuple[FakeApi, dict[str, str]],
                                                                    tmp_path: Path) -> None:
    api, env = fake_api
    first, second = tmp_path / "first", tmp_path / "second"
    result = run_init(env, first)
    assert result.returncode == 0, result.stderr
    created = api.secrets[SECRET_NAME]
    assert created["type"] == "Opaque" and created["metadata"]["labels"]["app.kubernetes.io/instance"] == "t"
    value = base64.b64decode(created["data"][common.SPOKE_SUPEREXEC_SECRET_KEY])
    assert len(value) == 64 and int(value, 16) >= 0  # 32 random bytes, hex (like tls.generate_shared_secret)
    assert first.read_bytes() == value  # exact bytes, no newline: what Flower compares
    assert oct(first.stat().st_mode & 0o777) == "0o440"
    assert [c[0] for c in api.calls] == ["GET", "POST", "GET"]
    # A second SuperNode pod (a replica, a restart) reads the same secret and creates nothing.
    api.calls.clear()
    assert run_init(env, second).returncode == 0
    assert [c[0] for c in api.calls] == ["GET"]
    assert second.read_bytes() == value
    # The ClientApp SuperExec pod mounts the Secret's key: the same bytes again.


def test_a_lost_create_race_reads_the_winner(fake_api: tuple[FakeApi, dict[str, str]], tmp_path: Path) -> None:
    api, env = fake_api
    api.conflict_once = True
    out = tmp_path / "secret"
    result = run_init(env, out)
    assert result.returncode == 0, result.stderr
    assert out.read_bytes() == b"winner"
    assert [c[2] for c in api.calls] == [404, 409, 200]


def test_fails_loudly_without_rights(fake_api: tuple[FakeApi, dict[str, str]], tmp_path: Path) -> None:
    _, env = fake_api
    Path(env["api_dir"], "token").write_text("stolen")
    result = run_init(env, tmp_path / "secret")
    assert result.returncode != 0
    assert "HTTP 401" in result.stderr
    assert not (tmp_path / "secret").exists()
