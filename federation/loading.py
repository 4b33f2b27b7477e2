"""Load a federation spec from a Pulumi stack config: a dict (inside a program) or a stack file (CLI).

Both paths go through :func:`parse_spec`, so the Pulumi program, the CLI and the local runner
see the same model and the same messages.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from federation import payloads
from federation.errors import ROOT, Problem, SpecError, field_path
from federation.spec import FederationSpec
from federation.validation import check

CONFIG_NAMESPACE = "flower"
CONFIG_KEY = "federation"
STACK_CONFIG_KEY = f"{CONFIG_NAMESPACE}:{CONFIG_KEY}"
DEFAULT_STACKS_DIR = Path("stacks")

_TYPE_WORDS = {
    "int": "an integer",
    "float": "a number",
    "bool": "true or false",
    "string": "a string",
    "dict": "a mapping",
    "model": "a mapping",
    "list": "a list",
}


def _message(err: ErrorDetails) -> str:
    kind = err["type"]
    ctx: dict[str, Any] = dict(err.get("ctx") or {})
    got = err.get("input")
    if kind == "extra_forbidden":
        return f"unknown key {err['loc'][-1]!r}"
    if kind == "missing":
        return "required"
    if kind == "greater_than_equal":
        return f"must be >= {ctx['ge']}"
    if kind == "less_than_equal":
        return f"must be <= {ctx['le']}"
    if kind == "greater_than":
        return f"must be > {ctx['gt']}"
    if kind == "less_than":
        return f"must be < {ctx['lt']}"
    if kind == "too_short":
        return f"must have at least {ctx['min_length']} item(s)"
    if kind == "too_long":
        return f"must have at most {ctx['max_length']} item(s)"
    if kind == "literal_error":
        return f"must be one of {ctx['expected']} (got {got!r})"
    if kind == "value_error":
        return str(ctx.get("error", err["msg"]))
    for prefix, word in _TYPE_WORDS.items():
        if kind.startswith(prefix):
            return f"must be {word} (got {got!r})"
    return err["msg"][0].lower() + err["msg"][1:]


def pydantic_problems(exc: ValidationError, root: str = ROOT) -> list[Problem]:
    """Problems of a pydantic ValidationError, with field paths under `root`, sorted and deduplicated."""
    return sorted({Problem(field_path(e["loc"], root), _message(e)) for e in exc.errors()})


def parse_spec(data: object) -> FederationSpec:
    """Validate a declaration (the value of `flower:federation`) and return the spec.

    Raises :class:`SpecError` listing every problem as `federation.path: message`. Parse once and
    hand the typed spec down (``Federation`` does); nothing here is cached.
    """
    if not isinstance(data, dict):
        raise SpecError([Problem(ROOT, f"must be a mapping (got {type(data).__name__})")])
    return _parse(data)


def _parse(data: dict[str, Any]) -> FederationSpec:
    try:
        spec = FederationSpec.model_validate(data)
    except ValidationError as exc:
        raise SpecError(pydantic_problems(exc)) from None
    problems = sorted({*check(spec), *payloads.problems(spec)})
    if problems:
        raise SpecError(problems)
    return spec


class _UniqueKeyLoader(yaml.SafeLoader):
    """A SafeLoader that rejects duplicate mapping keys instead of keeping the last one."""


def _construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)

_FastUniqueKeyLoader: type[Any] | None = None
if hasattr(yaml, "CSafeLoader"):  # libyaml: ~5x faster on big stack files

    class _CUniqueKeyLoader(yaml.CSafeLoader):
        """The libyaml-backed twin of :class:`_UniqueKeyLoader`."""

    _CUniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
    _FastUniqueKeyLoader = _CUniqueKeyLoader


def _load_yaml(text: str) -> Any:
    """Parse with libyaml when present; on any error re-parse with the pure loader, whose messages we report."""
    if _FastUniqueKeyLoader is not None:
        try:
            return yaml.load(text, Loader=_FastUniqueKeyLoader)  # noqa: S506 - a CSafeLoader subclass
        except yaml.YAMLError:
            pass
    return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass


def stack_file(stack: str, stacks_dir: Path = DEFAULT_STACKS_DIR) -> Path:
    """Path of the stack config file `Pulumi.<stack>.yaml`."""
    return stacks_dir / f"Pulumi.{stack}.yaml"


def read_stack_config(path: Path, key: str = STACK_CONFIG_KEY, *, required: bool = True) -> object:
    """Read one key (default `flower:federation`) from a Pulumi stack config file, without the engine."""
    where = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError([Problem(where, "no such stack file")]) from None
    except OSError as exc:
        raise SpecError([Problem(where, f"cannot read: {exc.strerror}")]) from None
    try:
        doc = _load_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        reason = getattr(exc, "problem", None) or str(exc)
        raise SpecError([Problem(where, f"invalid YAML{at}: {reason}")]) from None
    if not isinstance(doc, dict) or not isinstance(doc.get("config"), dict):
        raise SpecError([Problem(where, "expected a Pulumi stack file with a top-level 'config:' mapping")])
    config = doc["config"]
    if key not in config:
        if not required:
            return None
        raise SpecError([Problem(f"{where}: config", f"missing key {key!r}")])
    return config[key]


def load_file(path: Path) -> FederationSpec:
    """Load and validate the federation declared in a stack config file."""
    return parse_spec(read_stack_config(path))


def load_stack(stack: str, stacks_dir: Path = DEFAULT_STACKS_DIR) -> FederationSpec:
    """Load and validate `stacks/Pulumi.<stack>.yaml`."""
    return load_file(stack_file(stack, stacks_dir))
