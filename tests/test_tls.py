"""Tests for federation.tls, including end-to-end checks against real Flower 1.41."""

from __future__ import annotations

import hashlib
import ipaddress
import json
import os
import re
import shutil
import signal
import ssl
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal, Protocol, TypeVar

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from hypothesis import given, settings
from hypothesis import strategies as st

from federation.local.runner import free_port
from federation.tls import (
    CertificateAuthority,
    ServerCertificate,
    TlsPaths,
    certificate_info,
    generate_ca,
    generate_node_keypair,
    generate_shared_secret,
    issue_server_certificate,
    needs_renewal,
    public_key_from_private,
    sans_match,
    superlink_sans,
    verify_chain,
    write_private_file,
    write_tls_files,
)

NOW = datetime(2030, 1, 1, 12, 0, 0, tzinfo=UTC)
BACKDATE = timedelta(minutes=5)


def _cert(pem: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate(pem.encode())


_E = TypeVar("_E", bound=x509.ExtensionType)


def _ext(cert: x509.Certificate, cls: type[_E]) -> x509.Extension[_E]:
    return cert.extensions.get_extension_for_class(cls)


@pytest.fixture(scope="module")
def ca() -> CertificateAuthority:
    return generate_ca(validity_days=365, now=NOW)


@pytest.fixture(scope="module")
def server(ca: CertificateAuthority) -> ServerCertificate:
    dns, ips = superlink_sans("superlink", "flwr", external_ips=["203.0.113.7"])
    return issue_server_certificate(ca, dns_names=dns, ip_addresses=ips, validity_days=30, now=NOW)


# --------------------------------------------------------------------------- CA


def test_ca_is_self_signed_p256_with_ca_extensions(ca: CertificateAuthority) -> None:
    cert = _cert(ca.cert_pem)
    cert.verify_directly_issued_by(cert)
    assert cert.subject == cert.issuer
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == ("flower-federation CA")
    key = cert.public_key()
    assert isinstance(key, ec.EllipticCurvePublicKey)
    assert key.curve.name == "secp256r1"

    bc = _ext(cert, x509.BasicConstraints)
    assert bc.critical and bc.value.ca and bc.value.path_length == 0
    ku = _ext(cert, x509.KeyUsage).value
    assert ku.key_cert_sign and ku.crl_sign and not ku.digital_signature
    ski = _ext(cert, x509.SubjectKeyIdentifier).value
    assert ski == x509.SubjectKeyIdentifier.from_public_key(key)

    info = certificate_info(ca.cert_pem)
    assert info.is_ca
    assert info.not_before == NOW - BACKDATE
    assert info.not_after == NOW + timedelta(days=365)


def test_ca_key_is_unencrypted_pkcs8_matching_cert(ca: CertificateAuthority) -> None:
    assert ca.key_pem.startswith("-----BEGIN PRIVATE KEY-----\n")
    key = serialization.load_pem_private_key(ca.key_pem.encode(), password=None)
    assert key.public_key() == _cert(ca.cert_pem).public_key()


def test_generate_ca_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="validity_days"):
        generate_ca(validity_days=0, now=NOW)
    with pytest.raises(ValueError, match="timezone"):
        generate_ca(validity_days=1, now=datetime(2030, 1, 1))


# --------------------------------------------------------------------------- leaf


def test_server_certificate_extensions(ca: CertificateAuthority, server: ServerCertificate) -> None:
    cert = _cert(server.cert_pem)
    ca_cert = _cert(ca.cert_pem)
    cert.verify_directly_issued_by(ca_cert)
    assert cert.issuer == ca_cert.subject
    assert server.ca_cert_pem == ca.cert_pem
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == ("superlink")
    key = cert.public_key()
    assert isinstance(key, ec.EllipticCurvePublicKey)
    assert key.curve.name == "secp256r1"

    bc = _ext(cert, x509.BasicConstraints).value
    assert bc.ca is False
    ku = _ext(cert, x509.KeyUsage).value
    assert ku.digital_signature and not ku.key_cert_sign and not ku.crl_sign
    eku = _ext(cert, x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.SERVER_AUTH]
    aki = _ext(cert, x509.AuthorityKeyIdentifier).value
    ski = _ext(ca_cert, x509.SubjectKeyIdentifier).value
    assert aki.key_identifier == ski.digest
    assert not certificate_info(server.cert_pem).is_ca


def test_server_key_is_unencrypted_pkcs8_matching_cert(
    server: ServerCertificate,
) -> None:
    assert server.key_pem.startswith("-----BEGIN PRIVATE KEY-----\n")
    assert "ENCRYPTED" not in server.key_pem
    key = serialization.load_pem_private_key(server.key_pem.encode(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    assert key.public_key() == _cert(server.cert_pem).public_key()


def test_server_sans_exact(server: ServerCertificate) -> None:
    info = certificate_info(server.cert_pem)
    assert info.dns_names == (
        "localhost",
        "superlink",
        "superlink.flwr",
        "superlink.flwr.svc",
        "superlink.flwr.svc.cluster.local",
    )
    assert info.ip_addresses == ("127.0.0.1", "203.0.113.7")


def test_localhost_and_loopback_always_added_deduplicated_and_sorted(
    ca: CertificateAuthority,
) -> None:
    leaf = issue_server_certificate(
        ca,
        dns_names=["b.example", "A.Example", "b.example", "LOCALHOST"],
        ip_addresses=["10.0.0.1", "::1", "10.0.0.1", "127.0.0.1"],
        validity_days=1,
        now=NOW,
    )
    san = _ext(_cert(leaf.cert_pem), x509.SubjectAlternativeName).value
    # The raw extension order is deterministic: sorted DNS names, then sorted IPs.
    assert list(san) == [
        x509.DNSName("a.example"),
        x509.DNSName("b.example"),
        x509.DNSName("localhost"),
        x509.IPAddress(ipaddress.ip_address("10.0.0.1")),
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        x509.IPAddress(ipaddress.ip_address("::1")),
    ]

    bare = issue_server_certificate(ca, dns_names=[], ip_addresses=[], validity_days=1, now=NOW)
    info = certificate_info(bare.cert_pem)
    assert info.dns_names == ("localhost",)
    assert info.ip_addresses == ("127.0.0.1",)


def test_invalid_sans_are_rejected(ca: CertificateAuthority) -> None:
    with pytest.raises(ValueError):
        issue_server_certificate(ca, dns_names=[], ip_addresses=["not-an-ip"], validity_days=1, now=NOW)
    with pytest.raises(ValueError):
        issue_server_certificate(ca, dns_names=["bad name"], ip_addresses=[], validity_days=1, now=NOW)


def test_server_validity_window(server: ServerCertificate) -> None:
    info = certificate_info(server.cert_pem)
    assert info.not_before == NOW - BACKDATE
    assert info.not_after == NOW + timedelta(days=30)


def test_server_validity_is_clamped_to_ca(ca: CertificateAuthority) -> None:
    leaf = issue_server_certificate(
        ca,
        dns_names=[],
        ip_addresses=[],
        validity_days=10_000,
        now=NOW + timedelta(days=300),
    )
    assert certificate_info(leaf.cert_pem).not_after == certificate_info(ca.cert_pem).not_after
    verify_chain(leaf.cert_pem, ca.cert_pem, now=NOW + timedelta(days=364))


def test_issuing_from_expired_ca_fails(ca: CertificateAuthority) -> None:
    with pytest.raises(ValueError, match="expired"):
        issue_server_certificate(
            ca,
            dns_names=[],
            ip_addresses=[],
            validity_days=1,
            now=NOW + timedelta(days=366),
        )


def test_mismatched_ca_key_is_rejected(ca: CertificateAuthority) -> None:
    other = generate_ca(validity_days=1, now=NOW)
    franken = CertificateAuthority(cert_pem=ca.cert_pem, key_pem=other.key_pem)
    with pytest.raises(ValueError, match="does not match"):
        issue_server_certificate(franken, dns_names=[], ip_addresses=[], validity_days=1, now=NOW)


# --------------------------------------------------------------------------- chain


@pytest.mark.parametrize(
    "name",
    [
        None,
        "localhost",
        "127.0.0.1",
        "superlink",
        "superlink.flwr.svc.cluster.local",
        "203.0.113.7",
    ],
)
def test_chain_verifies(ca: CertificateAuthority, server: ServerCertificate, name: str | None) -> None:
    verify_chain(server.cert_pem, ca.cert_pem, server_name=name, now=NOW + timedelta(days=1))


def test_chain_fails_against_a_different_ca(server: ServerCertificate) -> None:
    other = generate_ca(validity_days=365, now=NOW)
    with pytest.raises(ValueError, match="verification failed"):
        verify_chain(server.cert_pem, other.cert_pem, now=NOW + timedelta(days=1))


def test_chain_fails_for_wrong_name(ca: CertificateAuthority, server: ServerCertificate) -> None:
    for name in ("evil.example", "10.0.0.1", "superlink.other.svc"):
        with pytest.raises(ValueError):
            verify_chain(
                server.cert_pem,
                ca.cert_pem,
                server_name=name,
                now=NOW + timedelta(days=1),
            )


def test_chain_fails_outside_validity(ca: CertificateAuthority, server: ServerCertificate) -> None:
    with pytest.raises(ValueError):
        verify_chain(server.cert_pem, ca.cert_pem, now=NOW + timedelta(days=31))
    with pytest.raises(ValueError):
        verify_chain(server.cert_pem, ca.cert_pem, now=NOW - timedelta(hours=1))


def test_chain_rejects_garbage(ca: CertificateAuthority) -> None:
    with pytest.raises(ValueError):
        verify_chain("not a certificate", ca.cert_pem)


# --------------------------------------------------------------------------- renewal


def test_needs_renewal_boundaries(server: ServerCertificate) -> None:
    not_after = NOW + timedelta(days=30)
    threshold = not_after - timedelta(days=7)
    assert not needs_renewal(server.cert_pem, renew_before_days=7, now=NOW)
    assert not needs_renewal(server.cert_pem, renew_before_days=7, now=threshold - timedelta(seconds=1))
    assert needs_renewal(server.cert_pem, renew_before_days=7, now=threshold)
    assert needs_renewal(server.cert_pem, renew_before_days=7, now=not_after + timedelta(days=1))
    assert not needs_renewal(server.cert_pem, renew_before_days=0, now=not_after - timedelta(seconds=1))
    assert needs_renewal(server.cert_pem, renew_before_days=0, now=not_after)
    with pytest.raises(ValueError):
        needs_renewal(server.cert_pem, renew_before_days=-1, now=NOW)


def test_sans_match(server: ServerCertificate) -> None:
    dns, ips = superlink_sans("superlink", "flwr", external_ips=["203.0.113.7"])
    assert sans_match(server.cert_pem, dns, ips)
    # Order, case, duplicates and the implicit localhost/127.0.0.1 do not matter.
    core = [d for d in dns if d != "localhost"]
    assert sans_match(server.cert_pem, [n.upper() for n in reversed(core)] + core, ["203.0.113.7"])
    assert not sans_match(server.cert_pem, [*dns, "new.example"], ips)
    assert not sans_match(server.cert_pem, dns[:-1], ips)
    assert not sans_match(server.cert_pem, dns, [*ips, "10.0.0.9"])
    assert not sans_match(server.cert_pem, dns, ["127.0.0.1"])


def test_sans_match_flags_a_certificate_without_loopback(ca: CertificateAuthority) -> None:
    legacy = _cert_without_loopback_ip(ca)
    assert certificate_info(legacy.cert_pem).ip_addresses == ()
    assert not sans_match(legacy.cert_pem, ["localhost"], [])


def test_certificate_info_fingerprint(server: ServerCertificate) -> None:
    der = _cert(server.cert_pem).public_bytes(serialization.Encoding.DER)
    info = certificate_info(server.cert_pem)
    assert info.fingerprint_sha256 == hashlib.sha256(der).hexdigest()
    assert info.not_before.tzinfo is not None


# --------------------------------------------------------------------------- node keys


@pytest.mark.parametrize(
    ("curve", "ssh_name", "curve_name"),
    [("P-256", "ecdsa-sha2-nistp256", "secp256r1"), ("P-384", "ecdsa-sha2-nistp384", "secp384r1")],
)
def test_node_keypair_formats(curve: Literal["P-256", "P-384"], ssh_name: str, curve_name: str) -> None:
    kp = generate_node_keypair("node-1", curve=curve)
    assert kp.private_key_openssh.startswith("-----BEGIN OPENSSH PRIVATE KEY-----\n")
    assert kp.private_key_openssh.rstrip().endswith("-----END OPENSSH PRIVATE KEY-----")
    fields = kp.public_key_openssh.split(" ")
    assert len(fields) == 3
    assert fields[0] == ssh_name and fields[2] == "node-1"
    assert fields[1].startswith("AAAA")
    assert "\n" not in kp.public_key_openssh

    priv = serialization.load_ssh_private_key(kp.private_key_openssh.encode(), password=None)
    pub = serialization.load_ssh_public_key(kp.public_key_openssh.encode())
    assert isinstance(priv, ec.EllipticCurvePrivateKey)
    assert isinstance(pub, ec.EllipticCurvePublicKey)
    assert priv.curve.name == curve_name
    assert priv.public_key().public_numbers() == pub.public_numbers()
    assert public_key_from_private(kp.private_key_openssh) == " ".join(fields[:2])


def test_node_keypair_default_is_p384_and_unique() -> None:
    a, b = generate_node_keypair(), generate_node_keypair()
    assert a.public_key_openssh.startswith("ecdsa-sha2-nistp384 AAAA")
    assert a.public_key_openssh.endswith(" flower-supernode")
    assert a.public_key_openssh != b.public_key_openssh
    assert a.private_key_openssh != b.private_key_openssh


def test_node_keypair_comment_handling() -> None:
    assert len(generate_node_keypair("").public_key_openssh.split(" ")) == 2
    with pytest.raises(ValueError):
        generate_node_keypair("two\nlines")
    with pytest.raises(ValueError):
        generate_node_keypair(curve="P-521")  # type: ignore[arg-type]


def test_public_key_from_private_rejects_unusable_keys() -> None:
    ed = ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    )
    with pytest.raises(ValueError, match="ECDSA"):
        public_key_from_private(ed.decode())
    pkcs8 = ec.generate_private_key(ec.SECP384R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with pytest.raises(ValueError):
        public_key_from_private(pkcs8.decode())


# --------------------------------------------------------------------------- secret


def test_shared_secret() -> None:
    secret = generate_shared_secret()
    assert re.fullmatch(r"[0-9a-f]{64}", secret)
    assert len(generate_shared_secret(48)) == 96
    assert len({generate_shared_secret() for _ in range(200)}) == 200
    with pytest.raises(ValueError):
        generate_shared_secret(8)


# --------------------------------------------------------------------------- files


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_write_tls_files(tmp_path: Path, server: ServerCertificate) -> None:
    target = tmp_path / "nested" / "tls"
    paths = write_tls_files(target, server)
    assert paths == TlsPaths(ca_cert=target / "ca.crt", cert=target / "tls.crt", key=target / "tls.key")
    assert paths.ca_cert.read_text() == server.ca_cert_pem
    assert paths.cert.read_text() == server.cert_pem
    assert paths.key.read_text() == server.key_pem
    assert _mode(paths.key) == 0o600
    assert _mode(paths.cert) == 0o644
    assert _mode(paths.ca_cert) == 0o644

    # Overwriting tightens a key file that someone made world-readable.
    paths.key.chmod(0o644)
    write_tls_files(target, server)
    assert _mode(paths.key) == 0o600
    assert sorted(p.name for p in target.iterdir()) == ["ca.crt", "tls.crt", "tls.key"]


def test_write_private_file(tmp_path: Path) -> None:
    path = tmp_path / "secret"
    path.write_text("old")
    path.chmod(0o666)
    secret = generate_shared_secret()
    assert write_private_file(path, secret) == path
    # Flower reads the secret file as exact raw bytes: no trailing newline.
    assert path.read_bytes() == secret.encode()
    assert _mode(path) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["secret"]


# --------------------------------------------------------------------------- superlink_sans


def test_superlink_sans_example() -> None:
    dns, ips = superlink_sans(
        "superlink",
        "flwr",
        external_names=["fl.example.com", "FL.example.com"],
        external_ips=["203.0.113.7", "2001:db8::0:1"],
    )
    assert dns == [
        "fl.example.com",
        "localhost",
        "superlink",
        "superlink.flwr",
        "superlink.flwr.svc",
        "superlink.flwr.svc.cluster.local",
    ]
    assert ips == ["127.0.0.1", "2001:db8::1", "203.0.113.7"]
    dns, _ = superlink_sans("sl", "ns", cluster_domain="corp.internal.")
    assert "sl.ns.svc.corp.internal" in dns


@pytest.mark.parametrize(("svc", "ns"), [("", "ns"), ("sl", "Bad_NS"), ("a.b", "ns"), ("-x", "ns")])
def test_superlink_sans_rejects_bad_labels(svc: str, ns: str) -> None:
    with pytest.raises(ValueError):
        superlink_sans(svc, ns)


_label = st.from_regex(r"\A[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?\Z")
_hostname = st.lists(_label, min_size=1, max_size=4).map(".".join)
_ip = st.one_of(st.ip_addresses(v=4), st.ip_addresses(v=6)).map(str)


@settings(max_examples=200, deadline=None)
@given(
    svc=_label,
    ns=_label,
    names=st.lists(_hostname, max_size=5),
    ips=st.lists(_ip, max_size=5),
)
def test_superlink_sans_properties(svc: str, ns: str, names: list[str], ips: list[str]) -> None:
    dns, out_ips = superlink_sans(svc, ns, external_names=names, external_ips=ips)
    for required in (
        svc,
        f"{svc}.{ns}",
        f"{svc}.{ns}.svc",
        f"{svc}.{ns}.svc.cluster.local",
        "localhost",
        *names,
    ):
        assert required in dns
    assert "127.0.0.1" in out_ips
    assert {ipaddress.ip_address(i) for i in ips} <= {ipaddress.ip_address(i) for i in out_ips}
    assert dns == sorted(set(dns))
    assert out_ips == sorted(set(out_ips))
    # Nothing beyond what was asked for.
    assert len(dns) <= 5 + len(names)
    assert len(out_ips) <= 1 + len(ips)


# --------------------------------------------------------------------------- e2e


def _flower_bin(name: str) -> str:
    candidate = Path(sys.executable).parent / name
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return str(candidate)
    found = shutil.which(name)
    if found is None:
        pytest.skip(f"{name} not found next to {sys.executable} or on PATH")
    return found


def _free_port() -> int:
    return free_port()


def _ssl_context(ca_file: Path) -> ssl.SSLContext:
    # PROTOCOL_TLS_CLIENT without load_default_certs: trusts only ca_file.
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cafile=str(ca_file))
    return ctx


def _get(url: str, ctx: ssl.SSLContext) -> int:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=ctx))
    with opener.open(url, timeout=3) as resp:
        status: int = resp.status
        return status


def _children(pid: int) -> list[tuple[int, str]]:
    """(pid, cmdline) of the direct children of ``pid``, from /proc."""
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append((int(entry.name), cmdline))
    return out


def _alive(pid: int, marker: str) -> bool:
    """True if ``pid`` still runs a command line containing ``marker``."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
    except OSError:
        return False
    return marker in cmdline.decode()


@dataclass
class SuperLink:
    proc: subprocess.Popen[bytes]
    port: int
    env: dict[str, str]
    home: Path
    stdout: Path
    stderr: Path

    def logs(self) -> str:
        return self.stdout.read_text(errors="replace") + self.stderr.read_text(errors="replace")

    def superexec_pids(self) -> list[int]:
        return [p for p, cmd in _children(self.proc.pid) if "flower-superexec" in cmd]


def _flower_env(tmp_path: Path) -> tuple[dict[str, str], Path]:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env = dict(os.environ)
    env.update(
        FLWR_HOME=str(home),
        FLWR_TELEMETRY_ENABLED="0",
        FLWR_DISABLE_UPDATE_CHECK="1",
        NO_PROXY="127.0.0.1,localhost",
        no_proxy="127.0.0.1,localhost",
        # The SuperLink spawns `flower-superexec` by bare name, so the directory
        # holding the Flower scripts must be on PATH.
        PATH=os.pathsep.join([str(Path(_flower_bin("flower-superlink")).parent), env.get("PATH", "")]),
    )
    return env, home


class StartSuperLink(Protocol):
    def __call__(self, tls: TlsPaths, *extra: str) -> SuperLink: ...


@pytest.fixture
def run_superlink(tmp_path: Path) -> Iterator[StartSuperLink]:
    started: list[SuperLink] = []

    def start(tls: TlsPaths, *extra: str) -> SuperLink:
        env, home = _flower_env(tmp_path)
        port = _free_port()
        n = len(started)
        stdout, stderr = tmp_path / f"superlink{n}.out", tmp_path / f"superlink{n}.err"
        with stdout.open("wb") as out, stderr.open("wb") as err:
            proc = subprocess.Popen(
                [
                    _flower_bin("flower-superlink"),
                    "--ssl-certfile", str(tls.cert),
                    "--ssl-keyfile", str(tls.key),
                    "--ssl-ca-certfile", str(tls.ca_cert),
                    "--host", "127.0.0.1",
                    "--port", str(port),
                    "--database", str(tmp_path / f"state{n}.db"),
                    "--disable-runtime-dependency-installation",
                    *extra,
                ],
                cwd=tmp_path,
                env=env,
                stdout=out,
                stderr=err,
                stdin=subprocess.DEVNULL,
            )  # fmt: skip
        link = SuperLink(proc, port, env, home, stdout, stderr)
        started.append(link)
        return link

    superexecs: list[int] = []
    try:
        yield start
    finally:
        for link in started:
            superexecs += link.superexec_pids() if link.proc.poll() is None else []
            link.proc.terminate()
            try:
                link.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                link.proc.kill()
                link.proc.wait(timeout=5)
        # The SuperExec runs in its own session and exits after its parent
        # (--parent-pid); only signal it if it outlives the grace period.
        deadline = time.monotonic() + 15
        while any(_alive(p, "flower-superexec") for p in superexecs):
            if time.monotonic() > deadline:
                for pid in superexecs:
                    if _alive(pid, "flower-superexec"):
                        os.kill(pid, signal.SIGKILL)
                break
            time.sleep(0.2)


def _wait_healthy(link: SuperLink, ca_file: Path, timeout: float = 30) -> None:
    ctx = _ssl_context(ca_file)
    url = f"https://127.0.0.1:{link.port}/health"
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        if link.proc.poll() is not None:
            pytest.fail(f"SuperLink exited with {link.proc.returncode}:\n{link.logs()}")
        try:
            if _get(url, ctx) == 200:
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError) as err:
            if isinstance(getattr(err, "reason", None), ssl.SSLCertVerificationError):
                pytest.fail(f"TLS verification failed: {err}")
            last = err
        time.sleep(0.25)
    pytest.fail(f"SuperLink not healthy after {timeout}s ({last}):\n{link.logs()}")


def _write_server_tls(tmp_path: Path) -> TlsPaths:
    ca = generate_ca(validity_days=30)
    dns, ips = superlink_sans("superlink", "flwr")
    leaf = issue_server_certificate(ca, dns_names=dns, ip_addresses=ips, validity_days=7)
    return write_tls_files(tmp_path / "tls", leaf)


def _cert_without_loopback_ip(ca: CertificateAuthority) -> ServerCertificate:
    """A leaf with only DNS:localhost, built by hand: the API cannot omit 127.0.0.1."""
    ca_cert = _cert(ca.cert_pem)
    ca_key = serialization.load_pem_private_key(ca.key_pem.encode(), password=None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "superlink")]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return ServerCertificate(
        cert_pem=cert.public_bytes(serialization.Encoding.PEM).decode(),
        key_pem=key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode(),
        ca_cert_pem=ca.cert_pem,
    )


@pytest.mark.e2e
def test_e2e_superlink_serves_generated_certificate(tmp_path: Path, run_superlink: StartSuperLink) -> None:
    tls = _write_server_tls(tmp_path)
    link: SuperLink = run_superlink(tls)
    _wait_healthy(link, tls.ca_cert)

    ctx = _ssl_context(tls.ca_cert)
    assert _get(f"https://127.0.0.1:{link.port}/health", ctx) == 200
    assert _get(f"https://localhost:{link.port}/health", ctx) == 200

    # The trust is real: a client trusting a different CA is refused.
    stranger = tmp_path / "other-ca.crt"
    stranger.write_text(generate_ca(validity_days=1).cert_pem)
    with pytest.raises(urllib.error.URLError) as info:
        _get(f"https://127.0.0.1:{link.port}/health", _ssl_context(stranger))
    assert isinstance(info.value.reason, ssl.SSLCertVerificationError)

    # The SuperLink's own SuperExec dials 127.0.0.1 with --ssl-ca-certfile as its
    # trust root; with a bad certificate it dies within ~3 s (see the next test).
    time.sleep(6)
    pids = link.superexec_pids()
    assert len(pids) == 1, link.logs()
    cmdline = Path(f"/proc/{pids[0]}/cmdline").read_bytes().split(b"\0")
    assert b"--root-certificates" in cmdline
    assert f"127.0.0.1:{link.port}".encode() in cmdline
    assert link.proc.poll() is None
    assert "CERTIFICATE_VERIFY_FAILED" not in link.logs()


@pytest.mark.e2e
def test_e2e_superexec_needs_loopback_ip_san(tmp_path: Path, run_superlink: StartSuperLink) -> None:
    """Negative control: why 127.0.0.1 is always in the SuperLink certificate."""
    ca = generate_ca(validity_days=30)
    tls = write_tls_files(tmp_path / "tls", _cert_without_loopback_ip(ca))
    link: SuperLink = run_superlink(tls)
    # Reachable through localhost (SAN) but the SuperExec's 127.0.0.1 dial fails.
    deadline = time.monotonic() + 30
    while "IP address mismatch" not in link.logs():
        assert time.monotonic() < deadline, link.logs()
        time.sleep(0.25)
    assert "CERTIFICATE_VERIFY_FAILED" in link.logs()
    assert link.proc.poll() is None  # the SuperLink itself stays up


def _flwr(link: SuperLink, *args: str) -> dict[str, object]:
    result = subprocess.run(
        [_flower_bin("flwr"), *args, "--format", "json"],
        cwd=link.home.parent,
        env=link.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    parsed: dict[str, object] = json.loads(result.stdout)
    return parsed


@pytest.mark.e2e
def test_e2e_supernode_auth_accepts_generated_public_keys(tmp_path: Path, run_superlink: StartSuperLink) -> None:
    tls = _write_server_tls(tmp_path)
    link: SuperLink = run_superlink(tls, "--enable-supernode-auth")
    _wait_healthy(link, tls.ca_cert)
    (link.home / "config.toml").write_text(
        "[superlink]\n"
        'default = "t"\n'
        "[superlink.t]\n"
        f'address = "127.0.0.1:{link.port}"\n'
        f'root-certificates = "{tls.ca_cert.resolve()}"\n'
    )

    node_ids = []
    for curve in ("P-384", "P-256"):
        kp = generate_node_keypair(f"node-{curve}", curve=curve)
        write_private_file(tmp_path / f"{curve}.key", kp.private_key_openssh)
        pub = tmp_path / f"{curve}.pub"
        pub.write_text(kp.public_key_openssh + "\n")

        reply = _flwr(link, "supernode", "register", str(pub), "t")
        assert reply.get("success") is True, reply
        assert isinstance(reply["node-id"], int) and reply["node-id"] > 0
        node_ids.append(reply["node-id"])

        # The SuperLink really stored the key: a second registration is refused.
        again = _flwr(link, "supernode", "register", str(pub), "t")
        assert again.get("success") is False
        assert "already in use" in str(again.get("error-message"))

    listed = _flwr(link, "supernode", "list", "t")
    assert listed.get("success") is True, listed
    nodes = listed["nodes"]
    assert isinstance(nodes, list)
    # `list` reports node ids as strings while `register` returns integers.
    assert {str(n["node-id"]) for n in nodes} == {str(i) for i in node_ids}
    assert {n["status"] for n in nodes} == {"registered"}
