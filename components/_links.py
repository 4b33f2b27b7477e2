"""How the building blocks see each other (private): the SuperLink a pool or the addon serves, and the pools.

A block is given another block (or, for a SuperLink this program does not deploy, an
:class:`~components.ExistingSuperLink`), takes the typed parts it needs from it, and takes the values
that come from resources as Outputs, so every dependency edge follows from the reference itself.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import pulumi

from components.args import as_part

if TYPE_CHECKING:
    from components.addon import FlowerAddon
    from components.pools import SuperNodePool
    from components.superlink import SuperLink


@dataclass(frozen=True)
class ExistingSuperLink:
    """A SuperLink this program does not deploy: the address SuperNodes dial and the CA they trust.

    In other languages, pass an object with the same fields (camelCase) as a block's ``superlink``.
    """

    address: pulumi.Input[str]
    """HOST:PORT the SuperNodes on the managed clusters dial (no scheme)."""
    ca_certificate: pulumi.Input[str] | None = None
    """PEM of the CA that signed the SuperLink's certificate; required unless ``tls`` is false."""
    tls: bool = True
    """Whether the SuperLink serves TLS (False needs ``allow_insecure``)."""
    allow_insecure: bool = False
    """Acknowledge a SuperLink without TLS (SuperNodes then talk to it in plaintext)."""
    supernode_auth: bool = False
    """Whether the SuperLink admits only registered SuperNodes. Keys are then provisioned and registered by hand
    (`registration: Manual`): the registrar of `Automatic` runs next to a `SuperLink` of this program."""
    name: str = "flower"
    """The federation's name (object names and labels derive from it)."""
    flower: Any = None
    """The federation's Flower release, images, pull secrets and mirrors (the `flower` section: a `FlowerSpec`
    or a mapping); default: the supported release."""
    namespace: str = "flower"
    """The namespace of the OCM objects on the hub (Placements, AddOnDeploymentConfigs, ...), unless ``ocm.namespace``."""
    depends_on: Sequence[pulumi.Resource] = ()
    """Resources of your program the SuperLink's side needs first on the hub (e.g. the Namespace you create for
    the OCM objects): every block given this SuperLink creates its objects after them and deletes them before."""


# The types a block's arguments name for the blocks it is given. The component provider reads the
# annotations at run time, where they are Any (an object reference, or the fields of an existing SuperLink).
if TYPE_CHECKING:
    SuperLinkRef = SuperLink | ExistingSuperLink
    PoolRefs = list[SuperNodePool]
    AddonRef = FlowerAddon
else:
    SuperLinkRef = Any
    PoolRefs = list[Any]
    AddonRef = Any


@dataclass(frozen=True)
class Link:
    """What pools, the addon and ClientApps take from the SuperLink they serve."""

    name: str
    flower: dict[str, Any]
    hub: dict[str, Any]
    #: The hub namespace when this program creates it (an Output carrying the dependency), else its name.
    namespace: pulumi.Input[str]
    address: pulumi.Input[str] | None
    ca_certificate: pulumi.Input[str] | None
    #: Resources every object of a block given this SuperLink depends on.
    depends_on: Sequence[pulumi.Resource] = ()


def link_of(superlink: Any) -> Link:
    """The :class:`Link` of a SuperLink component, an :class:`ExistingSuperLink`, or a mapping of its fields."""
    from components.superlink import SuperLink

    if isinstance(superlink, SuperLink):
        spec = superlink.spec
        return Link(name=spec.name, flower=spec.flower.model_dump(by_alias=True, exclude_unset=True),
                    hub=spec.hub.model_dump(by_alias=True, exclude_unset=True), namespace=superlink.namespace,
                    address=None, ca_certificate=cast(pulumi.Output[str], superlink.ca_certificate))
    if isinstance(superlink, Mapping):
        superlink = ExistingSuperLink(**{_snake(k): v for k, v in superlink.items() if v is not None})
    if not isinstance(superlink, ExistingSuperLink):
        raise TypeError(f"superlink: expected a SuperLink or an ExistingSuperLink, got {type(superlink).__name__}")
    tls: dict[str, Any] = {} if superlink.tls else {"mode": "insecure", "allowInsecure": superlink.allow_insecure}
    hub = {"namespace": superlink.namespace, "tls": tls, "supernodeAuth": {"enabled": superlink.supernode_auth}}
    return Link(name=superlink.name, flower=as_part(superlink.flower), hub=hub, namespace=superlink.namespace,
                address=superlink.address, ca_certificate=superlink.ca_certificate, depends_on=tuple(superlink.depends_on))


def pools_of(pools: Any) -> "list[SuperNodePool]":
    """The pools a block was given, checked."""
    from components.pools import SuperNodePool

    out = list(pools or [])
    for i, pool in enumerate(out):
        if not isinstance(pool, SuperNodePool):
            raise TypeError(f"pools[{i}]: expected a SuperNodePool, got {type(pool).__name__}")
    if not out:
        raise ValueError("pools: give at least one SuperNodePool")
    return out


def _snake(key: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in key)
