"""Helpers shared by the components (private): type tokens, dependency hand-down, registration."""

import asyncio
from collections.abc import Sequence
from typing import Any, TypeVar

import pulumi
import pulumi_kubernetes as k8s

from federation.manifests.common import Obj

T = TypeVar("T")

#: Package name of every type token (``flower-federation:index:<Type>``) and of the provider.
PACKAGE = "flower-federation"


def schema_version(version: str) -> str:
    """A PEP 440 version as the semver a Pulumi package schema requires (0.1.1.dev28+g3451497 → 0.1.1-dev.28+g3451497)."""
    from packaging.version import Version

    v = Version(version)
    out = f"{v.major}.{v.minor}.{v.micro}"
    pre = [f"{v.pre[0]}.{v.pre[1]}"] if v.pre else []
    if v.dev is not None:
        pre.append(f"dev.{v.dev}")
    build = [f"post.{v.post}"] if v.post is not None else []
    if v.local:
        build.append(v.local)
    return out + ("-" + ".".join(pre) if pre else "") + ("+" + ".".join(build) if build else "")


def type_token(component: str) -> str:
    """The Pulumi type token of a component of this package."""
    return f"{PACKAGE}:index:{component}"


def depends_on_list(opts: pulumi.ResourceOptions | None) -> list[Any]:
    """The component's own ``depends_on`` as a list, to hand down to its children explicitly."""
    if opts is None or opts.depends_on is None:
        return []
    deps = opts.depends_on
    return list(deps) if isinstance(deps, list | tuple) else [deps]


def registered(res: pulumi.Resource | Sequence[pulumi.Resource], value: T) -> pulumi.Output[T]:
    """`value` (a name the builders chose) as an Output that resolves once `res` (one resource or several) is registered.

    Dependents of the Output depend on `res`, as with an output of `res` itself (the engine receives the
    same dependencies and property dependencies), and ``apply`` on it runs after the registration. The
    Output is built directly rather than with ``urn.apply`` (or ``Output.all`` over many): the SDK's
    bookkeeping per Output (tasks, a tracking deque scanned on every completion, unknown checks) is a
    large part of a program's cost, and these Outputs exist once per pool and ClientApp.
    """
    resources = [res] if isinstance(res, pulumi.Resource) else list(res)

    async def after_registration() -> T:
        for r in resources:
            # The URN's own known-ness task (already there) resolves with the registration; awaiting its value
            # (`urn.future()`) would start one more task and unknown scan per resource.
            await r.urn.is_known()
        return value

    known: asyncio.Future[bool] = asyncio.Future()
    known.set_result(True)
    return pulumi.Output(set(resources), after_registration(), known)


def custom_resource(name: str, obj: Obj, opts: pulumi.ResourceOptions, spec: Any = None) -> k8s.apiextensions.CustomResource:
    """Register a rendered OCM object; `spec` may be an Output replacing ``obj["spec"]``."""
    return k8s.apiextensions.CustomResource(
        name,
        api_version=str(obj["apiVersion"]),
        kind=str(obj["kind"]),
        metadata=obj["metadata"],
        spec=obj["spec"] if spec is None else spec,
        opts=opts,
    )


#: Typed pulumi-kubernetes classes for every core kind the builders emit (hub, registrar).
KINDS: dict[tuple[str, str], Any] = {
    ("v1", "Namespace"): k8s.core.v1.Namespace,
    ("v1", "ServiceAccount"): k8s.core.v1.ServiceAccount,
    ("v1", "Secret"): k8s.core.v1.Secret,
    ("v1", "ConfigMap"): k8s.core.v1.ConfigMap,
    ("v1", "PersistentVolumeClaim"): k8s.core.v1.PersistentVolumeClaim,
    ("v1", "Service"): k8s.core.v1.Service,
    ("apps/v1", "Deployment"): k8s.apps.v1.Deployment,
    ("networking.k8s.io/v1", "NetworkPolicy"): k8s.networking.v1.NetworkPolicy,
    ("policy/v1", "PodDisruptionBudget"): k8s.policy.v1.PodDisruptionBudget,
    ("rbac.authorization.k8s.io/v1", "Role"): k8s.rbac.v1.Role,  # task pods (hub.superexec.taskPods)
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): k8s.rbac.v1.RoleBinding,
    ("rbac.authorization.k8s.io/v1", "ClusterRole"): k8s.rbac.v1.ClusterRole,  # the SuperNode registrar
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"): k8s.rbac.v1.ClusterRoleBinding,
}
#: Top-level fields besides apiVersion/kind/metadata, as typed-constructor keyword arguments.
FIELDS = {"spec": "spec", "type": "type", "stringData": "string_data", "data": "data",
           "automountServiceAccountToken": "automount_service_account_token", "rules": "rules",
           "roleRef": "role_ref", "subjects": "subjects", "imagePullSecrets": "image_pull_secrets"}
#: Immutable fields: a change must replace the object (the provider cannot know this for every kind).
REPLACE_ON_CHANGES: dict[str, list[str]] = {
    "Deployment": ["spec.selector"],
    "PersistentVolumeClaim": ["spec.storageClassName", "spec.accessModes"],
    "Secret": ["type"],
    "RoleBinding": ["roleRef"],
    "ClusterRoleBinding": ["roleRef"],
}


def kubernetes_object(name: str, obj: Obj, opts: pulumi.ResourceOptions) -> pulumi.CustomResource:
    """Register a core Kubernetes object (a kind of :data:`KINDS`) as its typed pulumi-kubernetes resource."""
    cls = KINDS[(obj["apiVersion"], obj["kind"])]
    kwargs = {FIELDS[k]: v for k, v in obj.items() if k in FIELDS}
    unknown = set(obj) - set(FIELDS) - {"apiVersion", "kind", "metadata"}
    if unknown:
        raise ValueError(f"{obj['kind']}: no mapping for top-level fields {sorted(unknown)}")
    res: pulumi.CustomResource = cls(name, metadata=obj["metadata"], **kwargs, opts=opts)
    return res


#: The components this process constructed, by URN (see :class:`_LiveComponents`).
_LIVE: dict[str, pulumi.ComponentResource] = {}


class _LiveComponents(pulumi.runtime.ResourceModule):
    """Resolves a reference to one of this package's components to the object this process constructed.

    A program in another language composes the blocks by passing one to another (``pools: [${cpu}]``); the
    engine sends the component provider a resource reference, and every construct of one deployment runs
    in the same provider process, so the reference resolves to the live block.
    """

    def version(self) -> None:
        return None

    def construct(self, name: str, typ: str, urn: str) -> pulumi.Resource:
        try:
            return _LIVE[urn]
        except KeyError:
            raise ValueError(f"{typ} {name!r}: a reference to a component this provider did not construct") from None


def track(component: pulumi.ComponentResource) -> None:
    """Make `component` resolvable from resource references (see :class:`_LiveComponents`).

    A callback on the URN's future, not an ``apply``: no Output per component.
    """
    def remember(urn: "asyncio.Future[str | None]") -> None:
        if not urn.cancelled() and urn.exception() is None and urn.result():
            _LIVE[str(urn.result())] = component

    asyncio.ensure_future(component.urn.future()).add_done_callback(remember)


pulumi.runtime.register_resource_module(PACKAGE, "index", _LiveComponents())
