"""The objects a federation registers, as data: for GitOps review (`render`) and offline policy checks.

Built by the same builders the Pulumi components call, in apply order: the hub objects, then the
cluster-set bindings, Placements, the addon (CMA, AddOnTemplates, AddOnDeploymentConfigs,
Manual-mode ManagedClusterAddOns) and the ClientApps' ManifestWorkReplicaSets. Writing them out is
:mod:`federation.render`'s job.
"""

from __future__ import annotations

from dataclasses import dataclass

from federation import flower, tls
from federation.errors import Problem, SpecError
from federation.manifests import hub, ocm
from federation.manifests.common import Obj
from federation.spec import FederationSpec


@dataclass(frozen=True)
class RequiredSecret:
    """A Secret the objects reference but `render` does not write: create it before (or with) them."""

    name: str
    #: The namespace; on spokes the agent namespace of every managed cluster the pools select.
    namespace: str
    #: ``hub`` or ``spokes``.
    cluster: str
    type: str
    keys: tuple[str, ...]
    #: What it is for and what the keys hold (one sentence).
    purpose: str
    #: Names and IPs the server certificate must carry (TLS Secrets only).
    sans: tuple[str, ...] = ()


def omitted_secrets(spec: FederationSpec, *, material: KeyMaterial | None) -> list[RequiredSecret]:
    """Every Secret the planned objects need that :func:`planned_objects` leaves out, hub first.

    Without `material`: the generated TLS Secret and the SuperExec shared secret. Always: the user's
    TLS Secret (``existingSecret``), the image pull Secrets the hub pods name, and with SuperNode
    authentication the node key on every spoke (never shipped through OCM). The spoke's own SuperExec
    secret is not listed: the SuperNode pod's init container creates it.
    """
    ns = spec.hub.namespace
    out: list[RequiredSecret] = []
    tls_name = hub.tls_secret_name(spec)
    if tls_name is not None and (spec.hub.tls.mode == "existingSecret" or material is None):
        dns, ips = hub.superlink_sans(spec)
        out.append(RequiredSecret(
            tls_name, ns, "hub", "kubernetes.io/tls", hub.TLS_SECRET_KEYS,
            "the SuperLink's server certificate (leaf first, then intermediates), its unencrypted private key, "
            "and the CA that issued it (the AddOnTemplates carry the same CA: --ca-certificate)",
            tuple(dict.fromkeys([*hub.tls_verified_names(spec), *dns, *ips]))))
    se_name = hub.superexec_secret_name(spec)
    if se_name is not None and material is None:
        out.append(RequiredSecret(
            se_name, ns, "hub", "Opaque", (hub.SECRET_KEY,),
            "the shared secret of the SuperLink and the ServerApp SuperExec (random, e.g. 32 bytes as hex, "
            "no trailing newline)"))
    for pull in spec.flower.image_pull_secrets:
        out.append(RequiredSecret(pull, ns, "hub", "kubernetes.io/dockerconfigjson", (".dockerconfigjson",),
                                  "registry credentials of the hub pods (flower.imagePullSecrets)"))
    if spec.hub.supernode_auth.enabled and not ocm.automatic_registration(spec):  # Automatic: generated on the spoke
        out.append(RequiredSecret(
            ocm.node_auth_secret_name(spec), spec.distribution.ocm.agent_namespace, "spokes", "Opaque",
            (ocm.NODE_AUTH_KEY,),
            "on every managed cluster: the SuperNode's OpenSSH ECDSA private key; register its public key with "
            "`flwr supernode register`"))
    return out


@dataclass(frozen=True)
class KeyMaterial:
    """Generated key material (what the Pulumi program keeps in state)."""

    secrets: hub.HubSecrets
    ca_certificate: str | None


def generate_material(spec: FederationSpec) -> KeyMaterial:
    """Fresh key material for `spec` (a new CA and server certificate, a new SuperExec secret)."""
    values: dict[str, str | None] = {}
    ca_pem: str | None = None
    if spec.hub.tls.mode == "generate":
        ca = tls.generate_ca(validity_days=spec.hub.tls.validity_days)
        dns, ips = hub.superlink_sans(spec)
        cert = tls.issue_server_certificate(ca, dns_names=dns, ip_addresses=ips, validity_days=spec.hub.tls.validity_days,
                                            common_name=hub.superlink_service_name(spec))
        ca_pem = cert.ca_cert_pem
        values.update(tls_cert=cert.cert_pem, tls_key=cert.key_pem, ca_cert=ca_pem,
                      tls_checksum=hub.tls_checksum(cert.cert_pem, ca_pem))
    if flower.uses_superexec_secret(spec):
        values["superexec_secret"] = tls.generate_shared_secret()
    return KeyMaterial(hub.HubSecrets(**values), ca_pem)


def planned_objects(spec: FederationSpec, *, material: KeyMaterial | None, ca_certificate: str | None = None) -> list[Obj]:
    """Every object the program registers, in apply order.

    Without `material` the Secrets holding key material are left out. `ca_certificate` (public)
    fills the AddOnTemplates when no material is given.
    """
    objs = hub.hub_objects(spec, tls_material=material.secrets if material else None)
    if material is None:
        keyed = {hub.tls_secret_name(spec) if spec.hub.tls.mode == "generate" else None, hub.superexec_secret_name(spec)}
        objs = [o for o in objs if not (o["kind"] == "Secret" and o["metadata"]["name"] in keyed)]
    ca = material.ca_certificate if material else ca_certificate
    if spec.hub.tls.mode != "insecure" and not ca:
        raise SpecError([Problem(
            "federation.hub.tls",
            "the AddOnTemplates carry the SuperLink's CA certificate: pass --ca-certificate FILE (e.g. from "
            "`pulumi stack output caCertificate`) or --include-secrets to generate fresh key material",
        )])
    objs += ocm.all_objects(spec, ca_certificate=ca, superlink_address=ocm.superlink_address(spec))
    return objs
