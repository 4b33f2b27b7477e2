"""Typed argument types derived from the spec's models, for the building blocks and the component provider.

Each ``*Args`` here is a ``TypedDict`` mirroring one model of :mod:`federation.spec` (snake_case keys;
camelCase works too, as in a declaration). Python programs may pass the model itself (e.g. a
:class:`~federation.spec.PoolSpec`) instead. The component provider reads these types to publish
nested, camelCase input types in its schema, so programs in other languages get the same structure.
"""

import functools
import types
import typing
from typing import Annotated, Any, Literal, TypedDict, Union, get_args, get_origin

from pydantic import BaseModel

from federation.spec import ClientAppSpec, FlowerSpec, HubSpec, OcmSettings, PoolSpec

__all__ = ["ClientAppArgs", "FlowerArgs", "HubArgs", "OcmArgs", "PoolArgs", "args_type", "as_part"]


def _field_type(annotation: Any) -> Any:
    """The schema-friendly type of a model field: nested models become their ``*Args``, unions of scalars Any."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _field_type(get_args(annotation)[0])
    if origin is Literal:
        return type(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        members = [a for a in get_args(annotation) if a is not type(None)]
        if len(members) == 1:
            return _field_type(members[0]) | None
        return Any
    if origin is list:
        return list[_field_type(get_args(annotation)[0])]  # type: ignore[misc]
    if origin is dict:
        return dict[str, _field_type(get_args(annotation)[1])]  # type: ignore[misc]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return args_type(annotation)
    if annotation in (str, int, float, bool):
        return annotation
    return Any


@functools.cache
def args_type(model: type[BaseModel]) -> Any:
    """A ``TypedDict`` with the fields of `model` (all optional: the model's defaults and rules apply)."""
    name = model.__name__.removesuffix("Spec").removesuffix("Settings") + "Args"
    fields = {}
    for key, info in model.model_fields.items():
        typ = _field_type(info.annotation)
        # Optional in the schema unless the model requires it; None means "the default".
        fields[key] = typ if info.is_required() or typ is Any or get_origin(typ) is types.UnionType else typ | None
    typed = TypedDict(name, fields, total=False)  # type: ignore[misc]
    typed.__doc__ = model.__doc__
    typed.__module__ = __name__
    return typed


def as_part(value: Any) -> dict[str, Any]:
    """A declaration part (camelCase dict) from a spec model, a mapping of arguments, or None (defaults)."""
    if value is None:
        return {}
    if isinstance(value, BaseModel):
        return value.model_dump(by_alias=True, exclude_unset=True)
    if isinstance(value, typing.Mapping):
        part: dict[str, Any] = _without_nones(value)
        return part
    raise TypeError(f"expected a mapping or a spec model, got {type(value).__name__}")


def _without_nones(value: Any) -> Any:
    """Drop None members of mappings (None means "the default"), recursively; map keys are kept as written."""
    if isinstance(value, typing.Mapping):
        return {k: _without_nones(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nones(v) for v in value]
    return value


if typing.TYPE_CHECKING:
    HubArgs = dict[str, Any] | HubSpec
    FlowerArgs = dict[str, Any] | FlowerSpec
    PoolArgs = dict[str, Any] | PoolSpec
    ClientAppArgs = dict[str, Any] | ClientAppSpec
    OcmArgs = dict[str, Any] | OcmSettings
else:
    HubArgs = args_type(HubSpec)
    FlowerArgs = args_type(FlowerSpec)
    PoolArgs = args_type(PoolSpec)
    ClientAppArgs = args_type(ClientAppSpec)
    OcmArgs = args_type(OcmSettings)
