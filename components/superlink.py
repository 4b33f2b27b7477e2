"""`SuperLink`: the hub of a Flower federation as a Pulumi component.

The Kubernetes objects come from the pure builder :func:`federation.manifests.hub.hub_objects`;
this module only adds what needs Pulumi: generated key material kept stable in state
(:mod:`components.keys`), secret wrapping, resource options and outputs.
"""

from collections.abc import Mapping
from typing import Any, TypedDict

import pulumi
import pulumi_kubernetes as k8s

from components._common import REPLACE_ON_CHANGES, depends_on_list, kubernetes_object, track, type_token
from components.args import FlowerArgs, HubArgs, as_part
from components.keys import SharedSecret, SuperLinkCertificate
from federation import flower
from federation.errors import SpecError
from federation.loading import parse_part
from federation.manifests import hub
from federation.manifests.hub import HubSecrets
from federation.spec import FederationSpec

TYPE_TOKEN = type_token("SuperLink")

#: Kinds a SuperLink/SuperExec/proxy pod needs before it can start (it mounts Secrets, ConfigMaps, the PVC).
_POD_PREREQUISITES = ("ServiceAccount", "Secret", "ConfigMap", "PersistentVolumeClaim", "Role", "RoleBinding")


class SuperLinkArgs(TypedDict, total=False):
    """Arguments of :class:`SuperLink`: the `name`, `hub` and `flower` parts of a declaration.

    Plain values (not Outputs): the object set depends on them. Validated at construction with the
    rules of `flower-federation validate`; problems name the argument (`hub.tls.mode: ...`).
    """

    name: str | None
    """The federation's name (default "flower"): object names and labels derive from it."""
    hub: HubArgs | None
    """The hub: namespace, port, exposure, TLS, persistence, resources, isolation, SuperNode authentication
    (the `hub` section of a declaration; a `HubSpec` or a mapping with its keys)."""
    flower: FlowerArgs | None
    """The Flower release, images and registry settings (the `flower` section; default: the supported release)."""
    existing_ca_certificate: pulumi.Input[str] | None
    """tls.mode existingSecret only: the CA PEM clients trust, instead of the Secret's `ca.crt` (e.g. a bundle).

    Left out (the default program): the Secret's own `ca.crt`, read from the hub."""


def child_name(component: str, obj: dict[str, Any]) -> str:
    """Pulumi name of a Kubernetes child: component name, kind and object name (unique per component)."""
    return f"{component}-{obj['kind'].lower()}-{obj['metadata']['name']}"


class SuperLink(pulumi.ComponentResource):
    """The Flower SuperLink on the hub cluster (and its ServerApp SuperExec in process isolation).

    Children (all ``parent=self``, names prefixed with the component name): the key material
    (``<name>-tls`` :class:`~components.keys.SuperLinkCertificate` in ``generate`` mode,
    ``<name>-superexec-secret`` :class:`~components.keys.SharedSecret` in process isolation) and one
    typed Kubernetes resource per object of :func:`~federation.manifests.hub.hub_objects`, named
    ``<name>-<kind>-<object name>``. Pass the hub's ``k8s.Provider`` with
    ``opts=ResourceOptions(providers=[hub_provider])``: children inherit it.

    Ordering: every object depends on the component's own ``depends_on`` (e.g. a namespace the caller
    created with ``hub.createNamespace: false``) and on the Namespace (when created); Deployments also on the
    ServiceAccounts, Secrets, ConfigMaps and PVC they mount.

    ``hub.tls.mode: existingSecret``: the user's Secret is read from the hub (``<name>-existing-tls``, a
    read, never managed; `pulumi preview` reads it too) and checked against the runtime contract; its
    ``ca.crt`` becomes ``ca_certificate`` (unless ``existing_ca_certificate`` is given) and the checksum
    of its certificates the ``checksum/tls`` annotation, so a renewed certificate rolls the pods.

    Every Kubernetes child has an explicit ``metadata.name`` and ``delete_before_replace=True``; immutable
    fields are in ``replace_on_changes`` (:data:`REPLACE_ON_CHANGES`). Replacing the PVC (a storage class change) loses the state.

    Renames (aliases): renaming the component instance keeps every child when the old name is
    aliased, ``SuperLink("hub2", args, opts=ResourceOptions(aliases=[pulumi.Alias(name="hub")]))``:
    children inherit the alias, and because their names start with the component name the SDK
    derives their old names too. Changing ``federation.name`` renames the Kubernetes objects
    themselves, which creates new objects and deletes the old ones (a deliberate replacement).
    Renaming a child's Pulumi name by hand (e.g. editing :func:`child_name`) needs
    ``aliases=[pulumi.Alias(name=<old child name>)]`` on that child, or the explicitly named
    object can end up deleted (pulumi/pulumi-kubernetes#2948).
    """

    in_cluster_address: pulumi.Output[str]
    """`host:port` of the Fleet address inside the hub cluster (the exposed Service: the Fleet proxy)."""
    control_address: pulumi.Output[str]
    """`host:port` of the SuperLink's own port inside the hub (`<name>-superlink-api`): the Control API
    for `flwr` run from a pod named in `hub.controlClients`, and the Fleet and Runtime APIs unproxied."""
    external_address: pulumi.Output[str | None]
    """`host:port` SuperNodes on other clusters dial; None without externalNames/externalIPs."""
    ca_certificate: pulumi.Output[str | None]
    """PEM of the CA clients must trust (public): generated, or the existing Secret's `ca.crt`; None if insecure."""
    tls_secret_name: pulumi.Output[str | None]
    """Name of the `kubernetes.io/tls` Secret the SuperLink mounts; None in insecure mode."""
    superexec_secret_name: pulumi.Output[str | None]
    """Name of the Secret with the SuperExec shared secret (process isolation); else None."""
    namespace: pulumi.Output[str]
    """The hub namespace."""

    def __init__(self, name: str, args: SuperLinkArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        declaration: dict[str, Any] = {"flower": as_part(args.get("flower")), "hub": as_part(args.get("hub"))}
        if args.get("name") is not None:
            declaration["name"] = args["name"]
        spec = parse_part(declaration, {"federation.name": "name", "federation.hub": "hub", "federation.flower": "flower"})
        self._construct(name, spec, args.get("existing_ca_certificate"), opts)

    @classmethod
    def from_spec(cls, name: str, spec: FederationSpec, *, existing_ca_certificate: pulumi.Input[str] | None = None,
                  opts: pulumi.ResourceOptions | None = None) -> "SuperLink":
        """The hub of an already validated `spec` (what :class:`~components.federation.Federation` uses)."""
        self = cls.__new__(cls)
        self._construct(name, spec, existing_ca_certificate, opts)
        return self

    def _construct(self, name: str, spec: FederationSpec, existing_ca_certificate: pulumi.Input[str] | None,
                   opts: pulumi.ResourceOptions | None) -> None:
        super().__init__(TYPE_TOKEN, name, None, opts)
        track(self)
        self.spec = spec
        self.certificate: SuperLinkCertificate | None = None
        self.shared_secret: SharedSecret | None = None
        self.resources: dict[str, pulumi.CustomResource] = {}
        #: existingSecret mode: the user's TLS Secret as read from the hub (a read, never managed).
        self.existing_tls_secret: k8s.core.v1.Secret | None = None

        material: dict[str, Any] = {}
        ca_certificate: pulumi.Input[str] | None = None
        if spec.hub.tls.mode == "generate":
            dns_names, ip_addresses = hub.superlink_sans(spec)
            cert = SuperLinkCertificate(
                f"{name}-tls",
                dns_names=dns_names,
                ip_addresses=ip_addresses,
                validity_days=spec.hub.tls.validity_days,
                renew_before_days=spec.hub.tls.renew_before_days,
                common_name=hub.superlink_service_name(spec),
                opts=pulumi.ResourceOptions(parent=self),
            )
            self.certificate = cert
            ca_certificate = cert.ca_cert_pem
            key_pem: pulumi.Output[str] = pulumi.Output.secret(cert.key_pem)
            material["tls_cert"] = cert.cert_pem
            material["tls_key"] = key_pem
            material["ca_cert"] = cert.ca_cert_pem
            material["tls_checksum"] = pulumi.Output.all(cert.cert_pem, cert.ca_cert_pem).apply(
                lambda pems: hub.tls_checksum(*pems) if all(pems) else None
            )
        elif spec.hub.tls.mode == "existingSecret":
            checked = self._read_tls_secret(name, spec, opts)
            ca_certificate = existing_ca_certificate if existing_ca_certificate is not None else \
                pulumi.Output.unsecret(checked.apply(lambda t: t.ca_certificate))
            # Public certificates only: the annotation stays readable in the diff.
            material["tls_checksum"] = pulumi.Output.unsecret(checked.apply(lambda t: t.checksum))
        if flower.uses_superexec_secret(spec):
            shared = SharedSecret(f"{name}-superexec-secret", opts=pulumi.ResourceOptions(parent=self))
            self.shared_secret = shared
            secret_value: pulumi.Output[str] = pulumi.Output.secret(shared.secret)
            material["superexec_secret"] = secret_value

        # Each object waits for the Namespace it lives in (the hub's, or the task pods' one).
        namespaces: dict[str, pulumi.CustomResource] = {}
        prerequisites: list[pulumi.Resource] = []
        # The component's own depends_on (e.g. a namespace the caller created) reaches every object.
        inherited = depends_on_list(opts)
        for obj in hub.hub_objects(spec, tls_material=HubSecrets(**material)):
            kind = obj["kind"]
            depends_on: list[pulumi.Resource] = [*inherited]
            own = namespaces.get(obj["metadata"].get("namespace", ""))
            if own is not None:
                depends_on.append(own)
            if kind == "Deployment":
                depends_on += prerequisites
            res = self._register(name, obj, depends_on)
            self.resources[f"{kind}/{obj['metadata']['name']}"] = res
            if kind == "Namespace":
                namespaces[obj["metadata"]["name"]] = res
            elif kind in _POD_PREREQUISITES:
                prerequisites.append(res)

        in_cluster, external = hub.superlink_addresses(spec)
        self.in_cluster_address = pulumi.Output.from_input(in_cluster)
        self.control_address = pulumi.Output.from_input(hub.api_address(spec))
        self.external_address = pulumi.Output.from_input(external)
        self.ca_certificate = pulumi.Output.from_input(ca_certificate)
        self.tls_secret_name = self._name_of("Secret", hub.tls_secret_name(spec))
        self.superexec_secret_name = self._name_of("Secret", hub.superexec_secret_name(spec))
        self.namespace = self._name_of("Namespace", spec.hub.namespace)
        self.register_outputs({
            "in_cluster_address": self.in_cluster_address,
            "control_address": self.control_address,
            "external_address": self.external_address,
            "ca_certificate": self.ca_certificate,
            "tls_secret_name": self.tls_secret_name,
            "superexec_secret_name": self.superexec_secret_name,
            "namespace": self.namespace,
        })

    def _read_tls_secret(self, name: str, spec: FederationSpec,
                         opts: pulumi.ResourceOptions | None) -> pulumi.Output[hub.ExistingTls]:
        """Read the user's TLS Secret from the hub (`pulumi preview` reads it too) and check it against the contract.

        A Secret without a key the pods mount, with a certificate not issued by its `ca.crt`, expired or
        missing a SAN clients verify fails the program with one line per problem naming the Secret
        (:func:`federation.manifests.hub.check_tls_secret`), before any pod could crash-loop on it.
        """
        secret_id = f"{spec.hub.namespace}/{spec.hub.tls.secret_name}"
        read = k8s.core.v1.Secret.get(
            f"{name}-existing-tls", secret_id,
            opts=pulumi.ResourceOptions(parent=self, depends_on=depends_on_list(opts) or None),
        )
        self.existing_tls_secret = read

        def check(data: Mapping[str, str] | None) -> hub.ExistingTls:
            try:
                return hub.check_tls_secret(spec, data)
            except SpecError as exc:
                # RunError: reported as the program's error without a traceback.
                raise pulumi.RunError("the existing TLS Secret does not fit the SuperLink:\n"
                                      + "\n".join(str(p) for p in exc.problems)) from None

        checked: pulumi.Output[hub.ExistingTls] = read.data.apply(check)
        return checked

    def _register(self, component: str, obj: dict[str, Any], depends_on: list[pulumi.Resource]) -> pulumi.CustomResource:
        return kubernetes_object(child_name(component, obj), obj, pulumi.ResourceOptions(
            parent=self, depends_on=depends_on or None, delete_before_replace=True,
            replace_on_changes=REPLACE_ON_CHANGES.get(obj["kind"])))

    def _name_of(self, kind: str, name: str | None) -> pulumi.Output[Any]:
        """The object's name, carrying a dependency on the object when this component creates it."""
        if name is None:
            return pulumi.Output.from_input(None)
        res = self.resources.get(f"{kind}/{name}")
        if res is None:
            return pulumi.Output.from_input(name)
        metadata: pulumi.Output[Any] = res.metadata  # type: ignore[attr-defined]
        return metadata.apply(lambda m: m.name if m is not None and m.name else name)
