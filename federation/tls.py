"""TLS material for a Flower 1.41 federation: CA, SuperLink certificate, node keys.

Everything here is a pure function on top of ``cryptography`` except
:func:`write_tls_files` and :func:`write_private_file`, which write files.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

from federation.spec import is_dns_label

__all__ = [
    "CertificateAuthority",
    "CertificateInfo",
    "NodeKeyPair",
    "ServerCertificate",
    "TlsPaths",
    "certificate_info",
    "generate_ca",
    "generate_node_keypair",
    "generate_shared_secret",
    "issue_server_certificate",
    "needs_renewal",
    "public_key_from_private",
    "sans_match",
    "superlink_sans",
    "verify_chain",
    "write_private_file",
    "write_tls_files",
]

#: Always present in a SuperLink certificate: in subprocess isolation the
#: SuperLink's own SuperExec dials 127.0.0.1 and verifies the hostname.
LOCAL_DNS_NAME = "localhost"
LOCAL_IP_ADDRESS = "127.0.0.1"

# Certificates start slightly in the past so that a peer whose clock lags a
# little behind still accepts a freshly issued certificate.
_BACKDATE = timedelta(minutes=5)
_MIN_SECRET_BYTES = 16
_CURVES: dict[str, ec.EllipticCurve] = {
    "P-256": ec.SECP256R1(),
    "P-384": ec.SECP384R1(),
}


@dataclass(frozen=True)
class CertificateAuthority:
    """A self-signed CA: certificate and PKCS#8 private key, both PEM."""

    cert_pem: str
    key_pem: str


@dataclass(frozen=True)
class ServerCertificate:
    """A SuperLink server certificate, its PKCS#8 key and the issuing CA, all PEM."""

    cert_pem: str
    key_pem: str
    ca_cert_pem: str


@dataclass(frozen=True)
class CertificateInfo:
    """What renewal logic needs to know about a certificate."""

    not_before: datetime
    not_after: datetime
    dns_names: tuple[str, ...]
    ip_addresses: tuple[str, ...]
    fingerprint_sha256: str
    is_ca: bool


@dataclass(frozen=True)
class NodeKeyPair:
    """A SuperNode authentication key pair, both halves in OpenSSH format."""

    private_key_openssh: str
    public_key_openssh: str


@dataclass(frozen=True)
class TlsPaths:
    """Where :func:`write_tls_files` put the SuperLink TLS files."""

    ca_cert: Path
    cert: Path
    key: Path


# --------------------------------------------------------------------------- helpers


def _utc_now(now: datetime | None) -> datetime:
    if now is None:
        now = datetime.now(UTC)
    elif now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    # X.509 times have second precision; truncate so results are reproducible.
    return now.astimezone(UTC).replace(microsecond=0)


def _check_validity_days(validity_days: int) -> None:
    if validity_days <= 0:
        raise ValueError(f"validity_days must be positive, got {validity_days}")


def _new_ec_key(curve: ec.EllipticCurve) -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(curve)


def _pkcs8_pem(key: ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")


def _cert_pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def _load_cert(cert_pem: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate(cert_pem.encode("ascii"))


def _load_ca_key(key_pem: str) -> ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(key_pem.encode("ascii"), password=None)
    if isinstance(key, (ec.EllipticCurvePrivateKey, rsa.RSAPrivateKey)):
        return key
    # ValueError, not TypeError: the argument is a str whose content is unusable.
    raise ValueError(f"unsupported CA key type: {type(key).__name__}")


def _signing_hash(
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey,
) -> hashes.SHA256 | hashes.SHA384:
    if isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.key_size >= 384:
        return hashes.SHA384()
    return hashes.SHA256()


def _normalize_dns(names: Iterable[str]) -> list[str]:
    out: set[str] = set()
    for name in names:
        norm = name.strip().lower()
        if not norm or any(c.isspace() for c in norm):
            raise ValueError(f"invalid DNS name: {name!r}")
        out.add(norm)
    return sorted(out)


def _normalize_ips(ips: Iterable[str]) -> list[str]:
    # ip_address() validates and canonicalises (e.g. IPv6 zero compression).
    return sorted({str(ipaddress.ip_address(ip.strip())) for ip in ips})


def _server_sans(dns_names: Iterable[str], ip_addresses: Iterable[str]) -> tuple[list[str], list[str]]:
    return (
        _normalize_dns([*dns_names, LOCAL_DNS_NAME]),
        _normalize_ips([*ip_addresses, LOCAL_IP_ADDRESS]),
    )


def _cert_sans(cert: x509.Certificate) -> tuple[list[str], list[str]]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return [], []
    dns = san.get_values_for_type(x509.DNSName)
    ips = [str(ip) for ip in san.get_values_for_type(x509.IPAddress)]
    return dns, ips


# --------------------------------------------------------------------------- CA / leaf


def generate_ca(
    common_name: str = "flower-federation CA",
    *,
    validity_days: int,
    now: datetime | None = None,
) -> CertificateAuthority:
    """Create a self-signed ECDSA P-256 CA that may sign leaf certificates only."""
    _check_validity_days(validity_days)
    now = _utc_now(now)
    key = _new_ec_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(now + timedelta(days=validity_days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return CertificateAuthority(cert_pem=_cert_pem(cert), key_pem=_pkcs8_pem(key))


def issue_server_certificate(
    ca: CertificateAuthority,
    *,
    dns_names: Sequence[str],
    ip_addresses: Sequence[str],
    validity_days: int,
    common_name: str = "superlink",
    now: datetime | None = None,
) -> ServerCertificate:
    """Issue an ECDSA P-256 serverAuth certificate signed by ``ca``.

    The SANs are ``dns_names`` and ``ip_addresses`` plus ``DNS:localhost`` and
    ``IP:127.0.0.1``, deduplicated and sorted. ``notAfter`` is clamped to the
    CA's ``notAfter``; a CA that has already expired raises ``ValueError``.
    """
    _check_validity_days(validity_days)
    now = _utc_now(now)
    ca_cert = _load_cert(ca.cert_pem)
    ca_key = _load_ca_key(ca.key_pem)
    if ca_key.public_key() != ca_cert.public_key():
        raise ValueError("CA private key does not match the CA certificate")

    if now >= ca_cert.not_valid_after_utc:
        raise ValueError(f"CA expired at {ca_cert.not_valid_after_utc.isoformat()}")
    not_before = max(now - _BACKDATE, ca_cert.not_valid_before_utc)
    not_after = min(now + timedelta(days=validity_days), ca_cert.not_valid_after_utc)

    dns, ips = _server_sans(dns_names, ip_addresses)
    general_names: list[x509.GeneralName] = [x509.DNSName(d) for d in dns]
    general_names += [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]

    key = _new_ec_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(general_names), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, _signing_hash(ca_key))
    )
    return ServerCertificate(cert_pem=_cert_pem(cert), key_pem=_pkcs8_pem(key), ca_cert_pem=ca.cert_pem)


def superlink_sans(
    service_name: str,
    namespace: str,
    *,
    external_names: Sequence[str] = (),
    external_ips: Sequence[str] = (),
    cluster_domain: str = "cluster.local",
) -> tuple[list[str], list[str]]:
    """Return ``(dns_names, ip_addresses)`` for a SuperLink behind a Kubernetes Service.

    DNS names: the four in-cluster forms of the Service name, ``external_names``
    and ``localhost``; IPs: ``external_ips`` and ``127.0.0.1``. Both sorted and
    deduplicated.
    """
    for label, value in (("service_name", service_name), ("namespace", namespace)):
        if not is_dns_label(value):
            raise ValueError(f"{label} must be an RFC 1123 DNS label, got {value!r}")
    domain = cluster_domain.strip(".").lower()
    if not domain:
        raise ValueError("cluster_domain must not be empty")
    in_cluster = [
        service_name,
        f"{service_name}.{namespace}",
        f"{service_name}.{namespace}.svc",
        f"{service_name}.{namespace}.svc.{domain}",
    ]
    return _server_sans([*in_cluster, *external_names], external_ips)


# --------------------------------------------------------------------------- inspection


def certificate_info(cert_pem: str) -> CertificateInfo:
    """Parse the fields of a PEM certificate that renewal decisions depend on."""
    cert = _load_cert(cert_pem)
    dns, ips = _cert_sans(cert)
    try:
        is_ca = cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        is_ca = False
    return CertificateInfo(
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        dns_names=tuple(dns),
        ip_addresses=tuple(ips),
        fingerprint_sha256=cert.fingerprint(hashes.SHA256()).hex(),
        is_ca=is_ca,
    )


def needs_renewal(cert_pem: str, *, renew_before_days: int, now: datetime | None = None) -> bool:
    """True once ``now`` is within ``renew_before_days`` of the certificate's notAfter."""
    if renew_before_days < 0:
        raise ValueError(f"renew_before_days must be >= 0, got {renew_before_days}")
    not_after = _load_cert(cert_pem).not_valid_after_utc
    return _utc_now(now) >= not_after - timedelta(days=renew_before_days)


def sans_match(cert_pem: str, dns_names: Sequence[str], ip_addresses: Sequence[str]) -> bool:
    """True if the certificate has exactly the SANs a fresh certificate would get.

    The comparison uses the same normalisation as :func:`issue_server_certificate`
    (localhost/127.0.0.1 added, case, order and duplicates ignored). An extra
    SAN in the certificate is a mismatch too, so removed names trigger a re-issue.
    """
    cert_dns, cert_ips = _cert_sans(_load_cert(cert_pem))
    have = (_normalize_dns(cert_dns), _normalize_ips(cert_ips))
    return have == _server_sans(dns_names, ip_addresses)


def verify_chain(
    leaf_pem: str,
    ca_pem: str,
    *,
    server_name: str | None = None,
    now: datetime | None = None,
) -> None:
    """Verify ``leaf_pem`` as a TLS server certificate chaining to the root ``ca_pem``.

    ``leaf_pem`` may carry intermediates after the leaf. ``server_name`` (a DNS
    name or IP) defaults to the leaf's first SAN. Raises ``ValueError`` if the
    chain, validity period, key usage or name does not check out.
    """
    try:
        certs = x509.load_pem_x509_certificates(leaf_pem.encode("ascii"))
        roots = x509.load_pem_x509_certificates(ca_pem.encode("ascii"))
    except ValueError as err:
        raise ValueError(f"cannot parse certificate: {err}") from err
    leaf, intermediates = certs[0], certs[1:]

    if server_name is None:
        dns, ips = _cert_sans(leaf)
        if not dns and not ips:
            raise ValueError("leaf has no subjectAltName to verify against")
        server_name = dns[0] if dns else ips[0]
    subject: x509.DNSName | x509.IPAddress
    try:
        subject = x509.IPAddress(ipaddress.ip_address(server_name))
    except ValueError:
        subject = x509.DNSName(server_name)

    verifier = PolicyBuilder().store(Store(roots)).time(_utc_now(now)).build_server_verifier(subject)
    try:
        verifier.verify(leaf, intermediates)
    except (VerificationError, InvalidSignature) as err:
        raise ValueError(f"certificate verification failed: {err}") from err


# --------------------------------------------------------------------------- node auth / secret


def generate_node_keypair(
    comment: str = "flower-supernode",
    curve: Literal["P-256", "P-384"] = "P-384",
) -> NodeKeyPair:
    """Create an ECDSA SuperNode key pair in the OpenSSH formats Flower expects.

    The private key is unencrypted (``BEGIN OPENSSH PRIVATE KEY``); the public
    key is one line, ``ecdsa-sha2-nistp384 AAAA... <comment>``.
    """
    if curve not in _CURVES:
        raise ValueError(f"unsupported curve {curve!r}; use P-256 or P-384")
    if "\n" in comment or "\r" in comment:
        raise ValueError("comment must be a single line")
    key = _new_ec_key(_CURVES[curve])
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    ).decode("ascii")
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode("ascii")
    if comment.strip():
        public = f"{public} {comment.strip()}"
    return NodeKeyPair(private_key_openssh=private, public_key_openssh=public)


def public_key_from_private(private_openssh: str) -> str:
    """Return the OpenSSH public key (without comment) for an OpenSSH ECDSA private key."""
    try:
        key = serialization.load_ssh_private_key(private_openssh.encode("ascii"), password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as err:
        # TypeError: the key is passphrase-protected, which Flower cannot use either.
        raise ValueError(f"cannot load OpenSSH private key: {err}") from err
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode("ascii")
    raise ValueError(f"Flower node keys must be ECDSA, got {type(key).__name__}")


def generate_shared_secret(nbytes: int = 32) -> str:
    """Return a random hex secret for ``--superexec-auth-secret-file``.

    Flower reads that file as exact raw bytes, so write it without a newline.
    """
    if nbytes < _MIN_SECRET_BYTES:
        raise ValueError(f"nbytes must be >= {_MIN_SECRET_BYTES}, got {nbytes}")
    return secrets.token_hex(nbytes)


# --------------------------------------------------------------------------- files


def _write_atomic(path: Path, content: str, mode: int) -> Path:
    # The temp file is created 0600 by mkstemp and chmod-ed before any byte is
    # written, so a private key is never readable by others, even briefly.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(content)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_private_file(path: Path, content: str) -> Path:
    """Atomically write ``content`` verbatim to ``path`` with mode 0600; return ``path``."""
    return _write_atomic(path, content, 0o600)


def write_tls_files(directory: Path, cert: ServerCertificate) -> TlsPaths:
    """Write ``ca.crt``, ``tls.crt`` (0644) and ``tls.key`` (0600) into ``directory``.

    The names of a ``kubernetes.io/tls`` Secret's keys, so a mounted Secret and a local work dir
    look the same to the Flower processes (see :class:`federation.flower.Layout`). They map to
    ``--ssl-ca-certfile``, ``--ssl-certfile`` and ``--ssl-keyfile``.
    """
    directory.mkdir(parents=True, exist_ok=True)
    paths = TlsPaths(
        ca_cert=directory / "ca.crt",
        cert=directory / "tls.crt",
        key=directory / "tls.key",
    )
    _write_atomic(paths.ca_cert, cert.ca_cert_pem, 0o644)
    _write_atomic(paths.cert, cert.cert_pem, 0o644)
    write_private_file(paths.key, cert.key_pem)
    return paths
