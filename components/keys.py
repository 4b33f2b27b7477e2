"""Generated key material that stays stable in Pulumi state: the SuperLink CA + server certificate
and the SuperExec shared secret, as Python dynamic resources.

The engine calls ``create`` once and keeps the outputs in state. ``diff`` compares only the inputs
that matter and answers *replace* for them, never "unknown": the SDK's default ``diff`` answers
"unknown" and its default ``update`` returns no outputs, after which the engine would store only
``__provider`` and the keys would be lost (reference §5). ``update`` therefore returns the old
outputs (with the new non-replacing inputs).

* :class:`SuperLinkCertificate` (``pulumi-python:dynamic/keys:SuperLinkCertificate``) holds a
  long-lived CA and the SuperLink's server certificate. The server certificate is re-issued
  **under the same CA** (an in-place update) when its SANs, validity or common name change, when
  the stored certificate's SANs no longer match, or when it is inside its renew-before window
  (checked on every ``pulumi up``, since the engine diffs every resource): SuperNodes keep trusting
  the SuperLink through a renewal. The whole resource (a new CA) is replaced only when the key type
  changes, when state holds no usable material, or when the CA could no longer cover a full server
  certificate lifetime; clients must then receive the new ``ca_cert_pem`` (the OCM distribution
  ships it to the spokes).
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

#: Inputs whose change replaces the CA and the server certificate.
CERT_REPLACE_INPUTS = ("key_type",)
#: Inputs whose change re-issues the server certificate under the same CA (in place).
CERT_REISSUE_INPUTS = ("dns_names", "ip_addresses", "validity_days", "common_name")
#: Inputs that can change in place (they only influence the next diff).
CERT_UPDATE_INPUTS = ("renew_before_days",)
#: The CA outlives many server certificates: at least ten years, at least twice the server validity.
MIN_CA_VALIDITY_DAYS = 3650
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
        ca = tls.generate_ca(f"{props.get('common_name') or 'superlink'} CA",
                             validity_days=max(MIN_CA_VALIDITY_DAYS, 2 * validity), now=self._now)
        outs = {"ca_cert_pem": ca.cert_pem, "ca_key_pem": ca.key_pem, **self._issue(ca, props)}
        return pulumi.dynamic.CreateResult(id_=outs["fingerprint"], outs=outs)

    def _issue(self, ca: Any, props: dict[str, Any]) -> dict[str, Any]:
        """A server certificate for `props` signed by `ca`, as outputs (inputs echoed for the next diff)."""
        from federation import tls

        cert = tls.issue_server_certificate(
            ca,
            dns_names=list(props.get("dns_names") or []),
            ip_addresses=list(props.get("ip_addresses") or []),
            validity_days=int(props["validity_days"]),
            common_name=props.get("common_name") or "superlink",
            now=self._now,
        )
        info = tls.certificate_info(cert.cert_pem)
        return {
            **{k: props.get(k) for k in (*CERT_REPLACE_INPUTS, *CERT_REISSUE_INPUTS, *CERT_UPDATE_INPUTS)},
            "cert_pem": cert.cert_pem,
            "key_pem": cert.key_pem,
            "fingerprint": info.fingerprint_sha256,
            "not_after": info.not_after.isoformat(),
        }

    def _replace_reasons(self, olds: dict[str, Any], news: dict[str, Any]) -> list[str]:
        from federation import tls

        reasons = [k for k in CERT_REPLACE_INPUTS if olds.get(k) != news.get(k)]
        if not (olds.get("cert_pem") and olds.get("ca_cert_pem") and olds.get("ca_key_pem")):
            reasons.append("cert_pem")  # nothing usable in state
        elif tls.needs_renewal(olds["ca_cert_pem"], now=self._now, renew_before_days=int(news.get("validity_days") or 0)
                               + int(news.get("renew_before_days") or 0)):
            reasons.append("ca_cert_pem")  # the CA cannot sign a full-length server certificate any more
        return sorted(set(reasons))

    def _reissue_reasons(self, olds: dict[str, Any], news: dict[str, Any]) -> list[str]:
        from federation import tls

        reasons = [k for k in CERT_REISSUE_INPUTS if _normalised(k, olds.get(k)) != _normalised(k, news.get(k))]
        cert_pem = olds.get("cert_pem")
        if cert_pem:
            if not tls.sans_match(cert_pem, list(news.get("dns_names") or []), list(news.get("ip_addresses") or [])):
                reasons.append("dns_names")
            if tls.needs_renewal(cert_pem, renew_before_days=int(news.get("renew_before_days") or 0), now=self._now):
                reasons.append("cert_pem")
        return sorted(set(reasons))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> pulumi.dynamic.DiffResult:
        replaces = self._replace_reasons(olds, news)
        reissue = [] if replaces else self._reissue_reasons(olds, news)
        updates = [k for k in CERT_UPDATE_INPUTS if olds.get(k) != news.get(k)]
        stables = [] if replaces else ["ca_cert_pem", "ca_key_pem"]
        if not replaces and not reissue:
            stables += ["cert_pem", "key_pem", "fingerprint", "not_after"]
        return pulumi.dynamic.DiffResult(
            changes=bool(replaces or reissue or updates),
            replaces=replaces,
            stables=stables,
            delete_before_replace=False,
        )

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> pulumi.dynamic.UpdateResult:
        from federation import tls

        outs = {k: v for k, v in olds.items() if k != "__provider"}
        if self._reissue_reasons(olds, news):
            ca = tls.CertificateAuthority(cert_pem=olds["ca_cert_pem"], key_pem=olds["ca_key_pem"])
            outs.update(self._issue(ca, news))
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
