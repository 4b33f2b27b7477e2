"""Dynamic providers for key material: create/diff/update called directly (the engine is not available),
plus registration under mocks (type tokens, secret outputs)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pulumi
import pytest

from components.keys import (
    KEY_TYPE,
    SharedSecret,
    SharedSecretProvider,
    SuperLinkCertificate,
    SuperLinkCertificateProvider,
)
from federation import tls

DNS, IPS = tls.superlink_sans("flower-superlink", "flower", external_names=["superlink.example.com"])


def inputs(**overrides: Any) -> dict[str, Any]:
    props: dict[str, Any] = {
        "dns_names": DNS,
        "ip_addresses": IPS,
        "validity_days": 90,
        "renew_before_days": 15,
        "key_type": KEY_TYPE,
        "common_name": "flower-superlink",
    }
    props.update(overrides)
    return props


@pytest.fixture(scope="module")
def created() -> dict[str, Any]:
    result = SuperLinkCertificateProvider().create(inputs())
    assert result.outs is not None
    return {**result.outs, "__provider": "serialized", "id": result.id}


# --------------------------------------------------------------------------- certificate: create


def test_create_issues_a_verifiable_certificate_with_the_sans(created: dict[str, Any]) -> None:
    tls.verify_chain(created["cert_pem"], created["ca_cert_pem"], server_name="flower-superlink")
    tls.verify_chain(created["cert_pem"], created["ca_cert_pem"], server_name="127.0.0.1")
    tls.verify_chain(created["cert_pem"], created["ca_cert_pem"], server_name="superlink.example.com")
    assert tls.sans_match(created["cert_pem"], DNS, IPS)
    info = tls.certificate_info(created["cert_pem"])
    assert created["id"] == created["fingerprint"] == info.fingerprint_sha256
    assert created["not_after"] == info.not_after.isoformat()
    assert "PRIVATE KEY" in created["key_pem"] and "PRIVATE KEY" in created["ca_key_pem"]
    assert tls.certificate_info(created["ca_cert_pem"]).is_ca
    # Inputs are echoed in the outputs, so diff can compare against them.
    for key, value in inputs().items():
        assert created[key] == value


def test_create_rejects_unknown_key_types() -> None:
    with pytest.raises(ValueError, match="key_type"):
        SuperLinkCertificateProvider().create(inputs(key_type="RSA-2048"))


# --------------------------------------------------------------------------- certificate: diff/update


def test_diff_with_stored_outputs_keeps_the_certificate(created: dict[str, Any]) -> None:
    news = {**inputs(), "__provider": "changed-provider-code"}
    diff = SuperLinkCertificateProvider().diff(created["id"], created, news)
    assert diff.changes is False  # never "unknown": the default would drop the keys on update
    assert diff.replaces == []


def test_diff_ignores_san_order(created: dict[str, Any]) -> None:
    diff = SuperLinkCertificateProvider().diff(created["id"], created, inputs(dns_names=list(reversed(DNS))))
    assert diff.changes is False and diff.replaces == []


def assert_reissued_under_same_ca(provider: SuperLinkCertificateProvider, olds: dict[str, Any], news: dict[str, Any]) -> None:
    """diff answers an in-place update; update issues a new server certificate signed by the stored CA."""
    diff = provider.diff("id", olds, news)
    assert diff.changes is True and diff.replaces == []
    assert diff.stables is not None and {"ca_cert_pem", "ca_key_pem"} <= set(diff.stables)
    assert "cert_pem" not in diff.stables
    result = provider.update("id", olds, news)
    assert result.outs is not None
    outs = result.outs
    assert outs["ca_cert_pem"] == olds["ca_cert_pem"] and outs["ca_key_pem"] == olds["ca_key_pem"]
    assert outs["cert_pem"] != olds["cert_pem"] and outs["key_pem"] != olds["key_pem"]
    tls.verify_chain(outs["cert_pem"], olds["ca_cert_pem"], server_name="127.0.0.1", now=provider._now)
    assert tls.sans_match(outs["cert_pem"], news["dns_names"], news["ip_addresses"])
    assert outs["fingerprint"] == tls.certificate_info(outs["cert_pem"]).fingerprint_sha256
    # The next plan is quiet again.
    again = provider.diff("id", outs, news)
    assert again.changes is False


@pytest.mark.parametrize(
    "change",
    [
        {"dns_names": [*DNS, "superlink2.example.com"]},
        {"dns_names": [d for d in DNS if d != "superlink.example.com"]},
        {"ip_addresses": [*IPS, "192.0.2.7"]},
        {"validity_days": 365},
        {"common_name": "superlink-2"},
    ],
)
def test_meaningful_changes_reissue_the_server_certificate_under_the_same_ca(created: dict[str, Any], change: dict[str, Any]) -> None:
    assert_reissued_under_same_ca(SuperLinkCertificateProvider(), created, inputs(**change))


def test_a_key_type_change_replaces_ca_and_certificate(created: dict[str, Any]) -> None:
    diff = SuperLinkCertificateProvider().diff(created["id"], created, inputs(key_type="ECDSA-P384"))
    assert diff.changes is True and diff.replaces == ["key_type"]


def test_the_ca_outlives_the_server_certificate(created: dict[str, Any]) -> None:
    ca = tls.certificate_info(created["ca_cert_pem"])
    leaf = tls.certificate_info(created["cert_pem"])
    assert (ca.not_after - leaf.not_after).days >= 3000


def test_a_stored_certificate_whose_sans_drifted_is_reissued(created: dict[str, Any]) -> None:
    # State says the inputs were the new ones, but the certificate itself lacks the new SAN.
    news = inputs(dns_names=[*DNS, "new.example.com"])
    olds = {**created, "dns_names": news["dns_names"]}
    assert_reissued_under_same_ca(SuperLinkCertificateProvider(), olds, news)


def test_a_certificate_inside_its_renew_window_is_reissued() -> None:
    issued = datetime(2025, 1, 1, tzinfo=UTC)
    olds = SuperLinkCertificateProvider(now=issued).create(inputs(validity_days=90, renew_before_days=15)).outs
    assert olds is not None
    before_window = SuperLinkCertificateProvider(now=issued + timedelta(days=74))
    assert before_window.diff("id", olds, inputs()).changes is False
    assert_reissued_under_same_ca(SuperLinkCertificateProvider(now=issued + timedelta(days=76)), olds, inputs())
    # A wider renew window, changed in place, also triggers the renewal.
    assert_reissued_under_same_ca(before_window, olds, inputs(renew_before_days=30))


def test_real_clock_renewal_of_an_old_certificate() -> None:
    olds = SuperLinkCertificateProvider(now=datetime.now(UTC) - timedelta(days=80)).create(inputs()).outs
    assert olds is not None
    assert_reissued_under_same_ca(SuperLinkCertificateProvider(), olds, inputs())


def test_an_expiring_ca_is_replaced() -> None:
    issued = datetime(2025, 1, 1, tzinfo=UTC)
    olds = SuperLinkCertificateProvider(now=issued).create(inputs()).outs
    assert olds is not None
    ca_end = tls.certificate_info(olds["ca_cert_pem"]).not_after
    late = SuperLinkCertificateProvider(now=ca_end - timedelta(days=100))  # 100 days left < 90 + 15 needed
    assert late.diff("id", olds, inputs()).replaces == ["ca_cert_pem"]
    early = SuperLinkCertificateProvider(now=ca_end - timedelta(days=200))
    assert early.diff("id", olds, inputs()).replaces == []


def test_missing_certificate_in_state_is_replaced() -> None:
    diff = SuperLinkCertificateProvider().diff("id", inputs(), inputs())
    assert diff.changes is True and diff.replaces == ["cert_pem"]


def test_renew_before_change_is_an_in_place_update_that_keeps_the_keys(created: dict[str, Any]) -> None:
    provider = SuperLinkCertificateProvider()
    news = {**inputs(renew_before_days=10), "__provider": "new"}
    diff = provider.diff(created["id"], created, news)
    assert diff.changes is True and diff.replaces == []
    result = provider.update(created["id"], created, news)
    assert result.outs is not None
    for key in ("cert_pem", "key_pem", "ca_cert_pem", "ca_key_pem", "fingerprint", "not_after", "dns_names"):
        assert result.outs[key] == created[key]
    assert result.outs["renew_before_days"] == 10
    assert "__provider" not in result.outs  # the SDK adds the new one itself


# --------------------------------------------------------------------------- shared secret


def test_shared_secret_create_diff_update() -> None:
    provider = SharedSecretProvider()
    created = provider.create({"nbytes": 32})
    assert created.outs is not None
    secret = created.outs["secret"]
    assert len(secret) == 64 and int(secret, 16) >= 0 and "\n" not in secret
    olds = {**created.outs, "__provider": "x"}
    same = provider.diff(created.id, olds, {"nbytes": 32, "__provider": "y"})
    assert same.changes is False and same.replaces == []
    assert provider.update(created.id, olds, {"nbytes": 32}).outs == {"nbytes": 32, "secret": secret}
    longer = provider.diff(created.id, olds, {"nbytes": 48})
    assert longer.changes is True and longer.replaces == ["nbytes"]
    assert provider.diff(created.id, {"nbytes": 32}, {"nbytes": 32}).replaces == ["secret"]
    assert provider.create({"nbytes": 32}).outs != created.outs


# --------------------------------------------------------------------------- registration under mocks


@pulumi.runtime.test
def test_dynamic_resources_register_distinct_tokens_and_secret_outputs(pulumi_mocks: Any) -> Any:
    material = SuperLinkCertificateProvider().create(inputs()).outs
    assert material is not None
    pulumi_mocks.state["cert"] = material
    pulumi_mocks.state["secret"] = {"secret": "ab" * 32}
    cert = SuperLinkCertificate("cert", dns_names=DNS, ip_addresses=IPS, validity_days=90, renew_before_days=15)
    secret = SharedSecret("secret")

    def check(values: list[Any]) -> None:
        key_pem, ca_pem, value = values
        assert key_pem == material["key_pem"] and ca_pem == material["ca_cert_pem"] and value == "ab" * 32
        types = {r.name: r.typ for r in pulumi_mocks.resources}
        assert types == {"cert": "pulumi-python:dynamic/keys:SuperLinkCertificate",
                         "secret": "pulumi-python:dynamic/keys:SharedSecret"}
        assert sorted(pulumi_mocks.requests["cert"].additionalSecretOutputs) == ["ca_key_pem", "key_pem"]
        assert list(pulumi_mocks.requests["secret"].additionalSecretOutputs) == ["secret"]
        (reg,) = [r for r in pulumi_mocks.resources if r.name == "cert"]
        assert reg.inputs["dns_names"] == sorted(DNS) and reg.inputs["key_type"] == KEY_TYPE
        assert "cert_pem" not in reg.inputs  # None inputs are dropped; the engine fills them from create

    return pulumi.Output.all(cert.key_pem, cert.ca_cert_pem, secret.secret).apply(check)
