"""`connect`: the SuperLink connection in the format Flower 1.42 reads, proven with Flower's own reader and the real `flwr`."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import time
from pathlib import Path

import pytest

from federation.ops import connect, control
from tests.e2e.specs import make_spec
from tests.test_cli import run_cli, run_cli_process

REPO = Path(__file__).resolve().parents[1]
FLWR = Path(control.flwr_binary())
CA = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
STACK = ("config:\n  kubernetes:context: hub-t\n  flower:federation:\n    name: fed-t\n"
         "    hub: {namespace: fed-ns, apiPort: 9093, exposure: {externalNames: [superlink.example.com]}%s}\n"
         "    pools: [{name: cpu}]\n")


def stack_file(tmp_path: Path, hub_extra: str = "") -> Path:
    path = tmp_path / "Pulumi.t.yaml"
    path.write_text(STACK % hub_extra)
    return path


def flwr_reads(home: Path, name: str | None):  # -> flwr.cli.typing.SuperLinkConnection
    """The connection as Flower's own CLI code parses it (flwr.cli.flower_config), with FLWR_HOME=home."""
    from flwr.cli.flower_config import read_superlink_connection

    old = os.environ.get("FLWR_HOME")
    os.environ["FLWR_HOME"] = str(home)
    try:
        return read_superlink_connection(name)
    finally:
        if old is None:
            del os.environ["FLWR_HOME"]
        else:
            os.environ["FLWR_HOME"] = old


def test_written_connection_is_what_flower_reads(tmp_path: Path) -> None:
    spec = make_spec(name="fed-t")
    home = tmp_path / "flwr"
    conn = connect.connection(spec, home, "fed-t", "127.0.0.1:40123")
    path = connect.write_connection(home, conn, ca_pem=CA)
    assert path == home / "config.toml"
    parsed = flwr_reads(home, "fed-t")
    assert parsed.address == "127.0.0.1:40123"
    assert parsed.root_certificates == str(connect.ca_path(home, "fed-t").resolve())
    assert parsed.insecure is False
    assert Path(parsed.root_certificates).read_text() == CA
    assert stat.S_IMODE(Path(parsed.root_certificates).stat().st_mode) == 0o644
    assert flwr_reads(home, None).name == "fed-t"  # the first connection becomes the default


def test_merge_keeps_other_connections_and_the_default(tmp_path: Path) -> None:
    home = tmp_path / "flwr"
    home.mkdir()
    (home / "config.toml").write_text('[superlink]\ndefault = "local"\n\n[superlink.local]\naddress = ":local:"\n\n'
                                      '[superlink.local.options]\nnum-supernodes = 10\n\n[other]\nkey = 1\n')
    spec = make_spec(name="fed-t")
    connect.write_connection(home, connect.connection(spec, home, "fed-t", "h.example.com:9093"), ca_pem=CA)
    doc = connect.read_config(home)
    assert doc["superlink"]["default"] == "local"
    assert doc["superlink"]["local"] == {"address": ":local:", "options": {"num-supernodes": 10}}
    assert doc["other"] == {"key": 1}
    assert flwr_reads(home, "local").options is not None  # Flower still reads its own entry
    connect.write_connection(home, connect.connection(spec, home, "fed-t", "h.example.com:9094"), ca_pem=CA,
                             make_default=True)
    doc = connect.read_config(home)
    assert doc["superlink"]["default"] == "fed-t" and doc["superlink"]["fed-t"]["address"] == "h.example.com:9094"


def test_insecure_stack_writes_insecure(tmp_path: Path) -> None:
    spec = make_spec(name="fed-t", hub={"tls": {"mode": "insecure", "allowInsecure": True}})
    home = tmp_path / "flwr"
    connect.write_connection(home, connect.connection(spec, home, "fed-t", "127.0.0.1:9093"), ca_pem=None)
    parsed = flwr_reads(home, "fed-t")
    assert parsed.insecure is True and parsed.root_certificates is None
    assert not (home / connect.CA_DIR).exists()


@pytest.mark.parametrize(("bad", "message"), [
    ("name", "--name: 'a b' must be 1-63 letters"),
    ("address", "--control-address: 'no-port' must be HOST:PORT"),
])
def test_bad_name_or_address(tmp_path: Path, bad: str, message: str) -> None:
    spec = make_spec()
    with pytest.raises(connect.ConnectError, match=message):
        connect.connection(spec, tmp_path, "a b" if bad == "name" else "ok", "no-port" if bad == "address" else "h:1")


def test_unreadable_config_is_reported_not_overwritten(tmp_path: Path) -> None:
    home = tmp_path / "flwr"
    home.mkdir()
    (home / "config.toml").write_text("[superlink\n")
    with pytest.raises(connect.ConnectError, match="cannot read Flower's config"):
        connect.write_connection(home, connect.connection(make_spec(), home, "x", "h:1"), ca_pem=CA)
    assert (home / "config.toml").read_text() == "[superlink\n"


# --------------------------------------------------------------------------- the command


def test_connect_command_writes_the_connection(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text(CA)
    home = tmp_path / "flwr"
    res = run_cli("connect", "--file", str(stack_file(tmp_path)), "--flwr-home", str(home), "--ca-file", str(ca),
                  "--control-address", "127.0.0.1:40999")
    assert res.returncode == 0, res.stderr
    assert f"wrote SuperLink connection fed-t to {home / 'config.toml'}: address 127.0.0.1:40999" in res.stdout
    assert flwr_reads(home, "fed-t").address == "127.0.0.1:40999"


def test_connect_without_address_writes_the_in_cluster_control_api(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text(CA)
    home = tmp_path / "flwr"
    res = run_cli("connect", "--file", str(stack_file(tmp_path)), "--flwr-home", str(home), "--ca-file", str(ca),
                  "--name", "prod")
    assert res.returncode == 0, res.stderr
    assert flwr_reads(home, "prod").address == "fed-t-superlink-api.fed-ns.svc:9093"
    assert "the Control API inside the hub" in res.stdout and "--port-forward" in res.stdout


@pytest.mark.parametrize(("args", "message"), [
    (["--ca-file", "{tmp}/missing.pem"], "--ca-file: cannot read"),
    (["--ca-file", "{tmp}/key.pem"], "expected a PEM CA certificate (and no private key)"),
    (["--name", "two words", "--ca-file", "{tmp}/ca.pem"], "--name: 'two words'"),
    (["--control-address", "h", "--ca-file", "{tmp}/ca.pem"], "--control-address: 'h' must be HOST:PORT"),
    (["--port-forward", "--control-address", "h:1"], "at most one of --port-forward or --control-address"),
    (["--ca-from", "pulumi"], "--ca-from pulumi needs --stack NAME"),
    (["--kubeconfig", "{tmp}/nope"], "--kubeconfig: {tmp}/nope: no such file"),
])
def test_connect_bad_input_exits_2(tmp_path: Path, args: list[str], message: str) -> None:
    (tmp_path / "ca.pem").write_text(CA)
    (tmp_path / "key.pem").write_text(CA + "-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----\n")
    home = tmp_path / "flwr"
    res = run_cli_process("connect", "--file", str(stack_file(tmp_path)), "--flwr-home", str(home),
                          *[a.format(tmp=tmp_path) for a in args])
    assert res.returncode == 2, res.stdout + res.stderr
    assert message.format(tmp=tmp_path) in res.stderr and "Traceback" not in res.stderr
    assert not (home / "config.toml").exists()


# --------------------------------------------------------------------------- against a real SuperLink (TLS on)


@pytest.mark.e2e
@pytest.mark.timeout(240)
def test_flwr_reaches_a_real_superlink_with_the_written_connection(tmp_path: Path) -> None:
    from federation.local import LocalFederation

    spec = make_spec(name="fed-t", hub={"tls": {"mode": "generate"}})
    stack = stack_file(tmp_path)
    home = tmp_path / "flwr-home"
    env = {**os.environ, "FLWR_HOME": str(home), "FLWR_TELEMETRY_ENABLED": "0", "FLWR_DISABLE_UPDATE_CHECK": "1"}
    with LocalFederation(spec, tmp_path / "fed") as fed:
        assert fed.tls
        res = run_cli_process("connect", "--file", str(stack), "--flwr-home", str(home), "--ca-file", fed.layout.ca_cert,
                              "--control-address", fed.api_address, "--name", "deployed")
        assert res.returncode == 0, res.stderr
        ls = subprocess.run([str(FLWR), "ls", "deployed", "--format", "json"], env=env, capture_output=True, text=True,
                            timeout=60, check=False)
        assert ls.returncode == 0, ls.stdout + ls.stderr
        assert json.loads(ls.stdout) == {"success": True, "runs": []}
        # status asks the Control API the same way (the same writer, a temporary FLWR_HOME)
        ca_pem = Path(fed.layout.ca_cert).read_text()
        deadline = time.monotonic() + 60
        view = control.query(spec, fed.api_address, ca_pem, via="test")
        while time.monotonic() < deadline and len([n for n in view.nodes if n.get("status") == "online"]) < 2:
            time.sleep(2)
            view = control.query(spec, fed.api_address, ca_pem, via="test")
        assert view.error is None, view.error
        assert [n["status"] for n in view.nodes] == ["online", "online"]
        assert view.runs == ()
        # TLS is verified: another CA is refused, reported as an error (status: unknown)
        from federation import tls

        other = tls.generate_ca(validity_days=1).cert_pem
        refused = control.query(spec, fed.api_address, other, via="test", timeout=60)
        assert refused.error is not None and refused.nodes == ()
