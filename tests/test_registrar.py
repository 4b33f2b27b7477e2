"""The hub's SuperNode registrar (federation/agents/registrar.py): its plan, and a real Flower SuperLink.

The units check what a pass decides from ManifestWork status feedback and the SuperLink's nodes. The e2e
test runs the registrar's own `sync` against a real `flower-superlink --enable-supernode-auth` (TLS,
Control API over HTTPS) and real `flower-supernode`s: a published key is registered and its SuperNode
comes online; an unknown key is refused; a cluster that leaves is unregistered; a new key rotates.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from federation import flower, tls
from federation.agents import registrar
from federation.local.procs import ManagedProcess, stop_all
from federation.local.runner import HOST, free_port, resolve_binary
from federation.manifests.ocm import names
from tests.e2e.specs import make_spec

NS, CM = "t-supernode", "t-supernode-public-key"


def work(cluster: str, key: str | None, *, deleting: bool = False, configmap: str = CM) -> dict[str, Any]:
    """A ManifestWork of the addon as the hub shows it, with the work agent's feedback of `key`."""
    values = [] if key is None else [{"name": "publicKey", "fieldValue": {"type": "String", "string": key}}]
    meta: dict[str, Any] = {"name": "addon-t-supernode-deploy-0", "namespace": cluster}
    if deleting:
        meta["deletionTimestamp"] = "2026-12-02T00:00:00Z"
    return {"metadata": meta, "status": {"resourceStatus": {"manifests": [
        {"resourceMeta": {"resource": "deployments", "namespace": NS, "name": "t-supernode"}, "statusFeedback": {}},
        {"resourceMeta": {"resource": "configmaps", "namespace": NS, "name": configmap},
         "statusFeedback": {"values": values}},
    ]}}}


def desired(*works: dict[str, Any]) -> registrar.Desired:
    return registrar.desired_keys(list(works), namespace=NS, configmap=CM, value="publicKey")


KEY_A, KEY_B = tls.generate_node_keypair(), tls.generate_node_keypair()


def test_desired_keys_come_from_the_public_key_configmaps_feedback() -> None:
    d = desired(work("a", KEY_A.public_key_openssh), work("b", None), work("c", KEY_B.public_key_openssh, deleting=True),
                work("d", KEY_B.public_key_openssh, configmap="other"), work("e", "ssh-rsa AAAA nope"))
    assert d.clusters == {"a", "b", "d", "e"}  # c is being deleted: as good as gone
    assert set(d.keys) == {"a"}
    assert d.keys["a"] == registrar.canonical_key(KEY_A.public_key_openssh)
    assert d.keys["a"].startswith(b"-----BEGIN PUBLIC KEY-----")  # what flower-supernode sends, byte for byte
    assert set(d.problems) == {"e"} and "unusable" in d.problems["e"]


def test_plan_registers_missing_unregisters_departed_and_rotated_and_leaves_others_alone() -> None:
    a, b = registrar.canonical_key(KEY_A.public_key_openssh), registrar.canonical_key(KEY_B.public_key_openssh)
    other = registrar.canonical_key(tls.generate_node_keypair().public_key_openssh)
    nodes = [registrar.Node(1, "ocm:gone", "online", other),                 # its cluster left
             registrar.Node(2, "ocm:a", "registered", b),                    # a published a new key
             registrar.Node(3, "manual-node", "online", b"manual"),          # not ours: never touched
             registrar.Node(4, "ocm:b", "unregistered", a)]                  # history: ignored
    p = registrar.plan(desired(work("a", KEY_A.public_key_openssh), work("b", None)), nodes)
    assert p.register == [("a", a)]
    assert p.unregister == [("gone", 1, "the cluster has no ManifestWork of the addon any more"),
                            ("a", 2, "the cluster published a new key")]
    assert p.registered == {}
    # Idempotent: once registered, nothing to do.
    p = registrar.plan(desired(work("a", KEY_A.public_key_openssh)), [registrar.Node(5, "ocm:a", "online", a)])
    assert (p.register, p.unregister, p.registered) == ([], [], {"a": 5})
    # A cluster that has a work but has not published a key yet keeps its node.
    p = registrar.plan(desired(work("a", None)), [registrar.Node(5, "ocm:a", "online", a)])
    assert (p.register, p.unregister) == ([], [])


# --- against a real SuperLink --------------------------------------------------------------------------------


class Federation:
    """A real SuperLink with node auth (TLS, process isolation, sqlite) in a temp dir, and SuperNodes on demand."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.spec = make_spec(hub={"supernodeAuth": {"enabled": True, "registration": "Automatic"}, "isolation": "subprocess",
                                   "allowSubprocessIsolation": True},
                              pools=[{"name": "cpu", "isolation": "subprocess"}])
        self.layout = flower.local_layout(str(root))
        for d in (self.layout.flwr_home, self.layout.state_dir, self.layout.tls_dir, self.layout.secret_dir):
            Path(d).mkdir(parents=True, exist_ok=True)
        ca = tls.generate_ca("registrar test CA", validity_days=2)
        tls.write_tls_files(Path(self.layout.tls_dir), tls.issue_server_certificate(
            ca, dns_names=["localhost"], ip_addresses=[HOST], validity_days=1))
        self.port = free_port()
        self.processes: list[ManagedProcess] = []
        link = flower.superlink(self.spec, self.layout, host=HOST, port=self.port)
        assert "--enable-supernode-auth" in link.argv
        self.superlink = self._start("superlink", link)
        self.address = f"{HOST}:{self.port}"

    def _start(self, name: str, process: flower.Process) -> ManagedProcess:
        env = {**process.env, "PATH": str(Path(resolve_binary(process.argv[0])).parent), "PYTHONUNBUFFERED": "1"}
        managed = ManagedProcess(name, (resolve_binary(process.argv[0]), *process.argv[1:]), env,
                                 self.root / f"{name}.log")
        managed.start(cwd=self.root)
        self.processes.append(managed)
        return managed

    def supernode(self, name: str, private_key: str) -> ManagedProcess:
        auth = self.root / "auth" / name
        auth.mkdir(parents=True)
        tls.write_private_file(auth / "private-key", private_key)
        layout = flower.local_layout(str(self.root))
        layout = type(layout)(**{**layout.__dict__, "auth_dir": str(auth), "flwr_home": str(self.root / "home" / name)})
        Path(layout.flwr_home).mkdir(parents=True)
        proc = flower.supernode(self.spec, self.spec.pools[0], layout, superlink_address=self.address,
                                cluster_name=name, host=HOST, port=free_port())
        return self._start(f"supernode-{name}", proc)

    def stop(self) -> None:
        stop_all(self.processes, grace=5.0, sig=signal.SIGTERM)


@pytest.fixture
def federation(tmp_path: Path) -> Iterator[Federation]:
    fed = Federation(tmp_path)
    try:
        yield fed
    finally:
        fed.stop()


def wait_for(what: str, check: Any, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except Exception as exc:  # the SuperLink is still starting
            last = exc
        if last and not isinstance(last, Exception):
            return last
        time.sleep(0.5)
    raise AssertionError(f"{what}: not reached in {timeout:.0f}s (last: {last!r})")


@pytest.mark.e2e
def test_registrar_registers_published_keys_with_a_real_superlink(federation: Federation) -> None:
    control = registrar.FlowerControl(federation.address, federation.layout.ca_cert)
    wait_for("the Control API answers", lambda: control.list_nodes() == [] or True)

    def sync(*works: dict[str, Any]) -> dict[str, Any]:
        return registrar.sync(list(works), control, namespace=NS, configmap=CM, value=names.NODE_PUBLIC_KEY)

    report = sync(work("a", KEY_A.public_key_openssh), work("b", KEY_B.public_key_openssh), work("c", None))
    assert report["failures"] == 0
    regs = report["registrations"]
    assert regs["a"]["state"] == regs["b"]["state"] == "Registered"
    assert regs["c"] == {"state": "Pending", "message": "waiting for the SuperNode to publish its public key"}
    nodes = {n.name: n for n in control.list_nodes()}
    assert set(nodes) == {"ocm:a", "ocm:b"}
    assert str(nodes["ocm:a"].node_id) == regs["a"]["nodeId"]
    # Idempotent: a second pass (or a restarted registrar) registers nothing new.
    again = sync(work("a", KEY_A.public_key_openssh), work("b", KEY_B.public_key_openssh))
    assert again["registrations"]["a"]["nodeId"] == regs["a"]["nodeId"]
    assert len(control.list_nodes()) == 2

    # The SuperNode with cluster a's key comes online; one with a key nobody published is refused.
    federation.supernode("a", KEY_A.private_key_openssh)
    stranger = federation.supernode("stranger", tls.generate_node_keypair().private_key_openssh)
    wait_for("cluster a's SuperNode online", lambda: {n.name: n.status for n in control.list_nodes()}["ocm:a"] == "online")
    wait_for("the unknown SuperNode to give up", lambda: stranger.returncode() is not None)
    assert "Failed to activate SuperNode" in "\n".join(stranger.log_tail(50))
    assert {n.name for n in control.list_nodes()} == {"ocm:a", "ocm:b"}  # the stranger never became a node

    # b leaves the pool (its ManifestWork is gone): unregistered. a publishes a new key: rotated.
    new_a = tls.generate_node_keypair()
    report = sync(work("a", new_a.public_key_openssh))
    assert report["failures"] == 0 and report["registrations"]["a"]["state"] == "Registered"
    status = {(n.name, n.public_key): n.status for n in control.list_nodes()}
    key = registrar.canonical_key
    assert status[("ocm:b", key(KEY_B.public_key_openssh))] == "unregistered"
    assert status[("ocm:a", key(KEY_A.public_key_openssh))] == "unregistered"
    assert status[("ocm:a", key(new_a.public_key_openssh))] in ("registered", "online")

    # b comes back with its old key: Flower never accepts an unregistered key again; the report says what to do.
    back = sync(work("a", new_a.public_key_openssh), work("b", KEY_B.public_key_openssh))
    assert back["failures"] == 1
    assert back["registrations"]["b"]["state"] == "Failed"
    assert "registered before and then unregistered" in back["registrations"]["b"]["message"]


def test_health_probes_follow_the_passes() -> None:
    import urllib.error
    import urllib.request

    now = [100.0]
    health = registrar.Health(stale_after=60, clock=lambda: now[0])
    server = registrar.serve_health(health, free_port(), host=HOST)
    port = server.server_address[1]

    def code(path: str) -> int:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as res:
                return int(res.status)
        except urllib.error.HTTPError as exc:
            return exc.code

    try:
        assert (code("/healthz"), code("/readyz"), code("/nope")) == (200, 503, 404)  # alive, no pass yet
        health.passed(True)
        assert (code("/healthz"), code("/readyz")) == (200, 200)
        now[0] += 61  # no pass finished for longer than stale_after: the loop is stuck
        assert (code("/healthz"), code("/readyz")) == (503, 503)
    finally:
        server.shutdown()
        server.server_close()
