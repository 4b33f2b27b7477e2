"""End-to-end: the Fleet proxy (a real nginx) in front of a real SuperLink, and a rogue SuperExec.

Through the external address (the proxy) SuperNodes train while the Control and Runtime APIs, the
API docs and path tricks are refused; the same requests on the SuperLink's own port are served,
so the refusals come from the proxy and not from a missing API. With process isolation and the
shared secret a SuperExec without it (or with a wrong one) takes no ServerApp task.
"""

from __future__ import annotations

import http.client
import json
import ssl
import time
from pathlib import Path

import pytest

from federation import flower
from federation.local import LocalFederation
from federation.local.procs import stop_all
from federation.local.runner import CONNECTION, ManagedProcess, resolve_binary
from tests.e2e.specs import make_spec
from tests.test_local_e2e import EXAMPLE, assert_completed, assert_no_leftovers

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]


def request(fed: LocalFederation, address: str, method: str, path: str, body: bytes = b"{}") -> tuple[int, bytes]:
    """One raw HTTPS request (the path sent byte for byte, no client-side normalization)."""
    host, port = address.rsplit(":", 1)
    context = ssl.create_default_context(cafile=fed.layout.ca_cert)
    conn = http.client.HTTPSConnection(host, int(port), context=context, timeout=10)
    try:
        headers = {"Content-Type": "application/json"} if method == "POST" else {}
        conn.request(method, path, body=body if method == "POST" else None, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


REFUSED = [
    ("POST", "/v1/control/list-runs"),
    ("POST", "/v1/control/start-run"),
    ("POST", "/v1/control/unregister-node"),
    ("POST", "/v1/runtime/acquire-task"),
    ("POST", "/v1/runtime/pull-task-input"),
    ("GET", "/docs"),
    ("GET", "/openapi.json"),
    ("POST", "/v1/fleet/../control/list-runs"),
    ("POST", "/v1/fleet/%2e%2e/control/list-runs"),
    ("POST", "/v1/fleet/x%2f..%2f..%2fcontrol/list-runs"),
    ("GET", "/v1/fleet/get-run"),  # the Fleet API is POST only
]


def test_only_the_fleet_api_passes_the_external_address(tmp_path: Path) -> None:
    spec = make_spec(pools=[{"name": "cpu", "isolation": "process"}])
    with LocalFederation(spec, tmp_path) as fed:
        assert fed.port != fed.api_port
        # SuperNodes dial the proxy, never the SuperLink's own port.
        for node in fed.supernodes:
            argv = node.process.argv
            assert argv[argv.index("--superlink") + 1] == fed.superlink_address
        status, _ = request(fed, fed.superlink_address, "GET", "/health")
        assert status == 200
        for method, path in REFUSED:
            status, body = request(fed, fed.superlink_address, method, path)
            assert status == 403, (method, path, status, body)
            # nginx itself answers (its refusal text; its stock page for a wrong method on a Fleet path).
            assert b"only the Flower Fleet API" in body or (method == "GET" and b"nginx" in body), (path, body)
        # The same Control and docs requests on the SuperLink's own port reach Flower (not 403/404).
        for method, path in [("POST", "/v1/control/list-runs"), ("GET", "/openapi.json")]:
            status, _ = request(fed, fed.api_address, method, path)
            assert status not in (403, 404), (path, status)
        result = fed.run(EXAMPLE, 2, timeout=120)
        pids = fed.pids()
        proxy_log = (tmp_path / "logs" / "fleet-proxy.log").read_text()
    assert_completed(result)
    # The training went through the proxy: SuperNodes' Fleet calls are in nginx's access log.
    for rpc in ("register-node", "pull-messages", "push-messages", "get-fab"):
        assert f"POST /v1/fleet/{rpc} HTTP/1.1\" 200" in proxy_log, rpc
    assert "/v1/control/" not in proxy_log.replace('"POST /v1/control/list-runs HTTP/1.1" 403', "").replace(
        '"POST /v1/control/start-run HTTP/1.1" 403', "").replace('"POST /v1/control/unregister-node HTTP/1.1" 403', "")
    assert_no_leftovers(tmp_path, pids)


def _run_status(fed: LocalFederation, run_id: int) -> str:
    return fed.run_status(run_id)[0]


def test_rogue_superexec_takes_no_task(tmp_path: Path) -> None:
    spec = make_spec()  # hub isolation defaults to process, with the shared secret
    with LocalFederation(spec, tmp_path) as fed:
        assert fed.serverapp_superexec is not None
        stop_all([fed.serverapp_superexec], grace=3)
        legit = fed.serverapp_superexec
        fed.serverapp_superexec = None
        wrong = tmp_path / "wrong-secret"
        wrong.write_text("not-the-secret-" * 4)
        wrong.chmod(0o600)
        rogues: list[ManagedProcess] = []
        for name, address, secret in [("rogue-nosecret", fed.api_address, None),
                                      ("rogue-wrongsecret", fed.api_address, wrong),
                                      ("rogue-via-proxy", fed.superlink_address, None)]:
            argv = [resolve_binary("flower-superexec"), "--runtime-api-address", address,
                    "--root-certificates", fed.layout.ca_cert]
            if secret is not None:
                argv += ["--superexec-auth-secret-file", str(secret)]
            rogue = ManagedProcess(name, tuple(argv), fed.env(flower.superexec(fed.layout, runtime_api_address=address,
                                                                                tls=True, health_port=None)),
                                   tmp_path / "logs" / f"{name}.log")
            rogue.start(cwd=tmp_path)
            rogues.append(rogue)
        try:
            app = fed.prepare_app(EXAMPLE)
            submitted = fed.flwr("run", str(app), CONNECTION, "--run-config", fed.run_config(1), "--format", "json")
            run_id = int(json.loads(submitted.stdout)["run-id"])
            # Long enough for the rogues to poll many times (SuperExecs poll about every second).
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                assert _run_status(fed, run_id) == "pending"
                for rogue in rogues:
                    assert not [p for p in rogue.snapshot()], f"{rogue.name} started a process"
                time.sleep(1)
            logs = {r.name: r.log_path.read_text(errors="replace") for r in rogues}
        finally:
            stop_all(rogues, grace=3)
        for name, log in logs.items():
            assert "flwr-serverapp" not in log and "Received task" not in log, (name, log[-2000:])
        superlink_log = (tmp_path / "logs" / "superlink.log").read_text(errors="replace")
        proxy_log = (tmp_path / "logs" / "fleet-proxy.log").read_text(errors="replace")
        # Refused by the SuperLink (no/wrong secret: 401) and by the proxy (Runtime API from outside: 403).
        assert superlink_log.count("SuperExec authentication failed") >= 2
        assert '"POST /v1/runtime/acquire-task HTTP/1.1" 401' in superlink_log
        assert '"POST /v1/runtime/acquire-task HTTP/1.1" 403' in proxy_log
        # The task was there for the taking: the SuperExec with the secret takes it and the run completes.
        fed.serverapp_superexec = fed._launch("superexec-serverapp-2", flower.Process(
            legit.argv[0:1] + legit.argv[1:], legit.env))
        deadline = time.monotonic() + 90
        status = "pending"
        while time.monotonic() < deadline and not status.startswith("finished"):
            time.sleep(1)
            status = _run_status(fed, run_id)
        pids = fed.pids()
    assert status == "finished:completed", status
    assert_no_leftovers(tmp_path, pids)
