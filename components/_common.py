"""Helpers shared by the components (private): type tokens, dependency hand-down, registration."""

from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from federation.manifests.common import Obj

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


def registered(res: pulumi.Resource, value: str) -> pulumi.Output[str]:
    """`value` (a name the builders chose) as an Output that resolves once `res` is registered.

    Dependents of the Output depend on `res`, as with an output of `res` itself.
    """
    return res.urn.apply(lambda _: value)


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
    """Make `component` resolvable from resource references (see :class:`_LiveComponents`)."""
    component.urn.apply(lambda urn: _LIVE.__setitem__(urn, component))


pulumi.runtime.register_resource_module(PACKAGE, "index", _LiveComponents())
