"""The SuperNode's key init container (`registration: Automatic`), run for real against a fake Kubernetes API.

The script in the AddOnTemplate runs with this Python exactly as the container runs it (its argv from the
manifest) against an HTTPS server holding the two objects the addon ships (the empty key Secret and the
empty public-key ConfigMap) with the Role's rights: get and update of those two names, optimistic
concurrency on update (resourceVersion), nothing else.
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
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from federation import flower, tls
from federation.manifests.ocm import addon, names
from tests import kube_fake
from tests.e2e.specs import make_spec

TOKEN = "projected-token"
NS = "t-supernode"
SPEC = make_spec(hub={"supernodeAuth": {"enabled": True, "registration": "Automatic"}})
SECRET, CONFIGMAP = names.node_auth_secret_name(SPEC), names.node_public_key_name(SPEC)


class FakeApi:
    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], dict[str, Any]] = {}
        self.calls: list[tuple[str, str, int]] = []
        self.version = 0
        self.race_on_put = False

    def put(self, kind: str, name: str, obj: dict[str, Any]) -> dict[str, Any]:
        self.version += 1
        obj = json.loads(json.dumps(obj))
        obj.setdefault("metadata", {})["resourceVersion"] = str(self.version)
        self.objects[(kind, name)] = obj
        return obj


def _handler(api: FakeApi) -> type[BaseHTTPRequestHandler]:
    allowed = {f"/api/v1/namespaces/{NS}/secrets/{SECRET}": ("secrets", SECRET),
               f"/api/v1/namespaces/{NS}/configmaps/{CONFIGMAP}": ("configmaps", CONFIGMAP)}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_: Any) -> None:
            pass

        def _reply(self, status: int, body: dict[str, Any]) -> None:
            api.calls.append((self.command, self.path.rsplit("/", 2)[-2], status))
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _target(self) -> tuple[str, str] | None:
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                self._reply(401, {"kind": "Status", "code": 401})
                return None
            if self.path not in allowed:
                self._reply(403, {"kind": "Status", "code": 403})  # the Role names these two objects only
                return None
            return allowed[self.path]

        def do_GET(self) -> None:
            target = self._target()
            if target is not None:
                obj = api.objects.get(target)
                self._reply(200, obj) if obj is not None else self._reply(404, {"kind": "Status", "code": 404})

        def do_PUT(self) -> None:
            target = self._target()
            if target is None:
                return
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            current = api.objects.get(target)
            if api.race_on_put and target[0] == "secrets":
                api.race_on_put = False  # another replica wrote its key first
                api.put(*target, {**(current or {}), "data": {names.NODE_AUTH_KEY: base64.b64encode(
                    tls.generate_node_keypair().private_key_openssh.encode()).decode()}})
                current = api.objects[target]
            if current is None or body["metadata"].get("resourceVersion") != current["metadata"]["resourceVersion"]:
                self._reply(409, {"kind": "Status", "code": 409})
                return
            self._reply(200, api.put(*target, body))

    return Handler


@pytest.fixture
def fake_api(tmp_path: Path) -> Iterator[tuple[FakeApi, dict[str, str]]]:
    api = FakeApi()
    # What the work agent applied (CreateOnly): both empty.
    api.put("secrets", SECRET, {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                                "metadata": {"name": SECRET, "namespace": NS}})
    api.put("configmaps", CONFIGMAP, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": CONFIGMAP, "namespace": NS}})
    with kube_fake.serve(tmp_path, _handler(api), token=TOKEN, namespace=NS) as env:
        yield api, env


def run_init(env: dict[str, str], out: Path) -> subprocess.CompletedProcess[str]:
    """The init container's argv from the manifest, with its paths pointed at this test's files."""
    init, _ = addon.node_key_init(SPEC, SPEC.pools[0])
    argv = [*init["command"], *init["args"]]
    assert argv[0] == "python" and argv[-6:] == [addon.SECRET_INIT_API_DIR, SECRET, names.NODE_AUTH_KEY, CONFIGMAP,
                                                  names.NODE_PUBLIC_KEY, flower.CONTAINER.node_private_key]
    argv = [sys.executable, *argv[1:-6], env["api_dir"], SECRET, names.NODE_AUTH_KEY, CONFIGMAP,
            names.NODE_PUBLIC_KEY, str(out)]
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60, check=False)


def _secret_key(api: FakeApi) -> bytes:
    return base64.b64decode(api.objects[("secrets", SECRET)]["data"][names.NODE_AUTH_KEY])


def _published(api: FakeApi) -> str:
    return str(api.objects[("configmaps", CONFIGMAP)]["data"][names.NODE_PUBLIC_KEY])


def test_generates_the_key_on_the_cluster_and_publishes_only_the_public_key(fake_api: tuple[FakeApi, dict[str, str]],
                                                                            tmp_path: Path) -> None:
    api, env = fake_api
    out = tmp_path / "private-key"
    result = run_init(env, out)
    assert result.returncode == 0, result.stderr
    private = _secret_key(api)
    key = serialization.load_ssh_private_key(private, None)  # what flower-supernode loads
    assert isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, ec.SECP384R1)
    assert out.read_bytes() == private and oct(out.stat().st_mode & 0o777) == "0o440"
    assert _published(api) == tls.public_key_from_private(private.decode())
    assert "PRIVATE" not in json.dumps(api.objects[("configmaps", CONFIGMAP)])
    assert [(c[0], c[1]) for c in api.calls] == [("GET", "secrets"), ("PUT", "secrets"), ("GET", "configmaps"),
                                                 ("PUT", "configmaps")]
    # A restart (or a second replica) keeps the key: nothing is written.
    api.calls.clear()
    again = tmp_path / "again"
    assert run_init(env, again).returncode == 0
    assert [c[0] for c in api.calls] == ["GET", "GET"]
    assert again.read_bytes() == private


def test_a_key_that_is_not_an_openssh_ec_key_is_replaced(fake_api: tuple[FakeApi, dict[str, str]], tmp_path: Path) -> None:
    api, env = fake_api
    api.put("secrets", SECRET, {**api.objects[("secrets", SECRET)],
                                "data": {names.NODE_AUTH_KEY: base64.b64encode(b"garbage").decode()}})
    result = run_init(env, tmp_path / "k")
    assert result.returncode == 0, result.stderr
    assert "is not an OpenSSH private key: replacing it" in result.stdout
    assert _published(api) == tls.public_key_from_private(_secret_key(api).decode())


def test_a_lost_write_race_exits_and_the_retry_uses_the_winner(fake_api: tuple[FakeApi, dict[str, str]],
                                                               tmp_path: Path) -> None:
    api, env = fake_api
    api.race_on_put = True
    first = run_init(env, tmp_path / "k")
    assert first.returncode != 0 and "changed while the new key was written" in first.stderr
    winner = _secret_key(api)
    retry = run_init(env, tmp_path / "k")  # the kubelet restarts the init container
    assert retry.returncode == 0, retry.stderr
    assert (tmp_path / "k").read_bytes() == winner
    assert _published(api) == tls.public_key_from_private(winner.decode())


def test_fails_loudly_when_the_addon_has_not_shipped_the_secret(fake_api: tuple[FakeApi, dict[str, str]],
                                                                tmp_path: Path) -> None:
    api, env = fake_api
    del api.objects[("secrets", SECRET)]
    result = run_init(env, tmp_path / "k")
    assert result.returncode != 0
    assert f"cannot read Secret {NS}/{SECRET}: HTTP 404" in result.stderr
    assert not (tmp_path / "k").exists()
