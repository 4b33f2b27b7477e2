"""Generated key material that stays stable in Pulumi state: the SuperLink CA + server certificate
and the SuperExec shared secret, as Python dynamic resources.

The engine calls ``create`` once and keeps the outputs in state. ``diff`` compares only the inputs
that matter and answers *replace* for them, never "unknown": the SDK's default ``diff`` answers
"unknown" and its default ``update`` returns no outputs, after which the engine would store only
``__provider`` and the keys would be lost (reference §5). ``update`` therefore returns the old
outputs (with the new non-replacing inputs).

* :class:`SuperLinkCertificate` (``pulumi-python:dynamic/keys:SuperLinkCertificate``) is
  replaced when its SANs, key type or validity change, when the stored certificate's SANs no
  longer match, or when the stored certificate is inside its renew-before window (checked on every
  ``pulumi up``, since the engine diffs every resource). A replacement issues a new CA as well, so
  clients must receive the new ``ca_cert_pem`` (the OCM distribution ships it to the spokes).
* :class:`SharedSecret` (``pulumi-python:dynamic/keys:SharedSecret``) is replaced only when its
  length changes.

Private keys and the secret are ``additional_secret_outputs``: encrypted in state, secret Outputs.

Caveats: ``create``/``diff``/``update`` run in the dynamic provider process (the provider object is
pickled with dill *by reference* to this module), so ``components`` and ``federation`` must be
importable there (install the project into the program's virtualenv). ``read``/import is not
supported by dynamic providers.
"""

import uuid
from datetime import datetime
from typing import Any

import pulumi
import pulumi.dynamic

#: The key type every generated certificate uses (see federation.tls: ECDSA P-256 for CA and leaf).
KEY_TYPE = "ECDSA-P256"

#: Inputs whose change replaces the certificate (new CA + leaf).
CERT_REPLACE_INPUTS = ("dns_names", "ip_addresses", "key_type", "validity_days", "common_name")
#: Inputs that can change in place (they only influence the next diff).
CERT_UPDATE_INPUTS = ("renew_before_days",)
CERT_SECRET_OUTPUTS = ["key_pem", "ca_key_pem"]
SECRET_REPLACE_INPUTS = ("nbytes",)


def _normalised(key: str, value: Any) -> Any:
    if key in ("dns_names", "ip_addresses"):
        return sorted(value or [])
    return value


class SuperLinkCertificateProvider(pulumi.dynamic.ResourceProvider):
    """CRUD for :class:`SuperLinkCertificate`; see the module docstring."""

    def __init__(self, now: datetime | None = None) -> None:
        super().__init__()
        # Only for tests: a fixed clock for create and the renewal check.
        self._now = now

    def create(self, props: dict[str, Any]) -> pulumi.dynamic.CreateResult:
        from federation import tls

        if props.get("key_type", KEY_TYPE) != KEY_TYPE:
            raise ValueError(f"unsupported key_type {props.get('key_type')!r}; only {KEY_TYPE}")
        validity = int(props["validity_days"])
        ca = tls.generate_ca(f"{props.get('common_name') or 'superlink'} CA", validity_days=validity, now=self._now)
        cert = tls.issue_server_certificate(
            ca,
            dns_names=list(props.get("dns_names") or []),
            ip_addresses=list(props.get("ip_addresses") or []),
            validity_days=validity,
            common_name=props.get("common_name") or "superlink",
            now=self._now,
        )
        info = tls.certificate_info(cert.cert_pem)
        outs = {
            **{k: props.get(k) for k in (*CERT_REPLACE_INPUTS, *CERT_UPDATE_INPUTS)},
            "cert_pem": cert.cert_pem,
            "key_pem": cert.key_pem,
            "ca_cert_pem": ca.cert_pem,
            "ca_key_pem": ca.key_pem,
            "fingerprint": info.fingerprint_sha256,
            "not_after": info.not_after.isoformat(),
        }
        return pulumi.dynamic.CreateResult(id_=info.fingerprint_sha256, outs=outs)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> pulumi.dynamic.DiffResult:
        from federation import tls

        replaces = [k for k in CERT_REPLACE_INPUTS if _normalised(k, olds.get(k)) != _normalised(k, news.get(k))]
        cert_pem = olds.get("cert_pem")
        if not cert_pem:
            replaces.append("cert_pem")  # nothing usable in state
        else:
            if not tls.sans_match(cert_pem, list(news.get("dns_names") or []), list(news.get("ip_addresses") or [])):
                replaces.append("dns_names")
            if tls.needs_renewal(cert_pem, renew_before_days=int(news.get("renew_before_days") or 0), now=self._now):
                replaces.append("cert_pem")
        replaces = sorted(set(replaces))
        updates = [k for k in CERT_UPDATE_INPUTS if olds.get(k) != news.get(k)]
        return pulumi.dynamic.DiffResult(
            changes=bool(replaces or updates),
            replaces=replaces,
            stables=["ca_cert_pem", "ca_key_pem", "cert_pem", "key_pem", "fingerprint", "not_after"] if not replaces else [],
            delete_before_replace=False,
        )

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> pulumi.dynamic.UpdateResult:
        outs = {k: v for k, v in olds.items() if k != "__provider"}
        outs.update({k: news.get(k) for k in CERT_UPDATE_INPUTS})
        return pulumi.dynamic.UpdateResult(outs=outs)


class SuperLinkCertificate(pulumi.dynamic.Resource, module="keys", name="SuperLinkCertificate"):
    """A CA and a SuperLink server certificate (ECDSA P-256), generated once and kept in state."""

    dns_names: pulumi.Output[list[str]]
    ip_addresses: pulumi.Output[list[str]]
    validity_days: pulumi.Output[int]
    renew_before_days: pulumi.Output[int]
    #: Server certificate PEM (public).
    cert_pem: pulumi.Output[str]
    #: Server private key PEM (PKCS#8, secret).
    key_pem: pulumi.Output[str]
    #: CA certificate PEM (public): what clients trust.
    ca_cert_pem: pulumi.Output[str]
    #: CA private key PEM (secret).
    ca_key_pem: pulumi.Output[str]
    fingerprint: pulumi.Output[str]
    not_after: pulumi.Output[str]

    def __init__(
        self,
        resource_name: str,
        *,
        dns_names: list[str],
        ip_addresses: list[str],
        validity_days: int,
        renew_before_days: int,
        common_name: str = "superlink",
        opts: pulumi.ResourceOptions | None = None,
        provider: SuperLinkCertificateProvider | None = None,
    ) -> None:
        props = {
            "dns_names": sorted(dns_names),
            "ip_addresses": sorted(ip_addresses),
            "validity_days": validity_days,
            "renew_before_days": renew_before_days,
            "key_type": KEY_TYPE,
            "common_name": common_name,
            "cert_pem": None,
            "key_pem": None,
            "ca_cert_pem": None,
            "ca_key_pem": None,
            "fingerprint": None,
            "not_after": None,
        }
        opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(additional_secret_outputs=CERT_SECRET_OUTPUTS))
        super().__init__(provider or SuperLinkCertificateProvider(), resource_name, props, opts)


class SharedSecretProvider(pulumi.dynamic.ResourceProvider):
    """CRUD for :class:`SharedSecret`: a random hex secret, replaced only when its length changes."""

    def create(self, props: dict[str, Any]) -> pulumi.dynamic.CreateResult:
        from federation import tls

        nbytes = int(props.get("nbytes") or 32)
        return pulumi.dynamic.CreateResult(
            id_=uuid.uuid4().hex,
            outs={"nbytes": nbytes, "secret": tls.generate_shared_secret(nbytes)},
        )

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> pulumi.dynamic.DiffResult:
        replaces = [k for k in SECRET_REPLACE_INPUTS if olds.get(k) != news.get(k)]
        if not olds.get("secret"):
            replaces.append("secret")
        return pulumi.dynamic.DiffResult(changes=bool(replaces), replaces=replaces,
                                         stables=[] if replaces else ["secret"], delete_before_replace=False)

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> pulumi.dynamic.UpdateResult:
        return pulumi.dynamic.UpdateResult(outs={k: v for k, v in olds.items() if k != "__provider"})


class SharedSecret(pulumi.dynamic.Resource, module="keys", name="SharedSecret"):
    """A random hex secret (``--superexec-auth-secret-file``), generated once and kept in state."""

    nbytes: pulumi.Output[int]
    #: The secret (hex, no newline; secret Output).
    secret: pulumi.Output[str]

    def __init__(self, resource_name: str, *, nbytes: int = 32, opts: pulumi.ResourceOptions | None = None) -> None:
        opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(additional_secret_outputs=["secret"]))
        super().__init__(SharedSecretProvider(), resource_name, {"nbytes": nbytes, "secret": None}, opts)
