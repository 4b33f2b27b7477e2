"""Load a federation spec from a Pulumi stack config: a dict (inside a program) or a stack file (CLI).

Both paths go through :func:`parse_spec`, so the Pulumi program, the CLI and the local runner
see the same model and the same messages.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from federation import payloads
from federation.errors import ROOT, Problem, SpecError, field_path
from federation.spec import FederationSpec, show
from federation.validation import check

CONFIG_NAMESPACE = "flower"
CONFIG_KEY = "federation"
STACK_CONFIG_KEY = f"{CONFIG_NAMESPACE}:{CONFIG_KEY}"
DEFAULT_STACKS_DIR = Path("stacks")
#: Deepest nesting a declaration may have (a stack file is a handful of levels deep; this stops runaway input).
MAX_DEPTH = 64
#: Passes of the repair loop that lets cross-field rules run despite structural errors.
_REPAIR_PASSES = 8

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
    got = show(err.get("input"))
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
    if kind == "string_too_long":
        return f"must be at most {ctx['max_length']} characters"
    if kind == "string_too_short":
        return f"must be at least {ctx['min_length']} character(s)"
    if kind == "literal_error":
        return f"must be one of {ctx['expected']} (got {got})"
    if kind == "value_error":
        return str(ctx.get("error", err["msg"]))
    for prefix, word in _TYPE_WORDS.items():
        if kind.startswith(prefix):
            return f"must be {word} (got {got})"
    return err["msg"][0].lower() + err["msg"][1:]


def _loc(err: ErrorDetails) -> tuple[str | int, ...]:
    """The error's location without pydantic's `[key]` marker (a bad mapping key is reported on the key)."""
    return tuple(part for part in err["loc"] if part != "[key]")


def pydantic_problems(exc: ValidationError, root: str = ROOT) -> list[Problem]:
    """Problems of a pydantic ValidationError, with field paths under `root`, sorted and deduplicated."""
    return sorted({Problem(field_path(_loc(e), root), _message(e)) for e in exc.errors()})


def _too_deep(data: object, limit: int = MAX_DEPTH) -> bool:
    """Whether `data` nests lists/mappings deeper than `limit` (iterative: safe on any depth)."""
    stack: list[tuple[object, int]] = [(data, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict | list):
            if depth >= limit:
                return True
            children = node.values() if isinstance(node, dict) else node
            stack.extend((child, depth + 1) for child in children)
    return False


def parse_spec(data: object) -> FederationSpec:
    """Validate a declaration (the value of `flower:federation`) and return the spec.

    Raises :class:`SpecError` listing every problem as `federation.path: message`. Parse once and
    hand the typed spec down (``Federation`` does); nothing here is cached.
    """
    if not isinstance(data, dict):
        raise SpecError([Problem(ROOT, f"must be a mapping (got {type(data).__name__})")])
    if _too_deep(data):
        raise SpecError([Problem(ROOT, f"nested more than {MAX_DEPTH} levels deep")])
    return _parse(data)


def _rules(spec: FederationSpec, *, whole: bool = True) -> list[Problem]:
    return sorted({*check(spec, whole=whole), *payloads.problems(spec)})


def _parse(data: dict[str, Any], *, whole: bool = True) -> FederationSpec:
    try:
        spec = FederationSpec.model_validate(data)
    except ValidationError as exc:
        structural = pydantic_problems(exc)
        raise SpecError(sorted({*structural, *_cross_field_despite(data, exc, structural, whole=whole)})) from None
    problems = _rules(spec, whole=whole)
    if problems:
        raise SpecError(problems)
    return spec


def parse_part(data: dict[str, Any], owned: Mapping[str, str]) -> FederationSpec:
    """Validate the declaration a building block assembled from its arguments, with the same rules as `validate`.

    `owned` maps declaration paths (`federation.pools[0]`) to the argument the user wrote (`pool`); a
    problem under one is reported at that argument's path. Problems elsewhere belong to the blocks that
    own those parts (they validate them) and are not repeated. Rules that need a whole federation are skipped.
    """
    try:
        return _parse(data, whole=False)
    except SpecError as exc:
        mine = [p for p in (_owned(problem, owned) for problem in exc.problems) if p is not None]
        if mine:
            raise SpecError(sorted(set(mine))) from None
    # Only other blocks' parts have problems (reported by those blocks): build the view regardless.
    try:
        return FederationSpec.model_validate(data)
    except ValidationError as exc:
        raise SpecError(pydantic_problems(exc)) from None


def _owned(problem: Problem, owned: Mapping[str, str]) -> Problem | None:
    for prefix, arg in owned.items():
        if _related(problem.path, prefix) and len(problem.path) >= len(prefix):
            return Problem(arg + problem.path[len(prefix):], problem.message)
    return None


# --- one pass: cross-field rules on a repaired copy ---------------------------------------------
#
# A declaration with structural errors has no typed spec, so the cross-field rules could not run and the
# user would fix one batch of problems only to see the next. Instead, a copy is repaired by dropping every
# offending value (its default applies) or, for a required one, the list item holding it; the rules run on
# that copy, their paths are mapped back to the user's indices, and findings next to a structural error
# (the same field, one inside it, or one containing it) are left out as follow-on noise.


class _Repair:
    def __init__(self, data: dict[str, Any]) -> None:
        self.data = copy.deepcopy(data)
        #: For each list (by its path in the user's indices): the user's index of every item still present.
        self.kept: dict[str, list[int]] = {}

    def original(self, loc: tuple[str | int, ...]) -> tuple[str | int, ...]:
        out: list[str | int] = []
        for part in loc:
            if isinstance(part, int):
                kept = self.kept.get(field_path(out))
                out.append(kept[part] if kept is not None and part < len(kept) else part)
            else:
                out.append(part)
        return tuple(out)

    def _existing(self, loc: tuple[str | int, ...]) -> tuple[str | int, ...]:
        """The longest prefix of `loc` present in the data."""
        node: Any = self.data
        for n, part in enumerate(loc):
            present = part in node if isinstance(node, dict) else (
                isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node))
            if not present:
                return loc[:n]
            node = node[part]
        return loc

    def drop(self, loc: tuple[str | int, ...], *, required: bool) -> bool:
        """Remove the value at `loc` (its list item when `required`); False when nothing can be removed."""
        loc = self._existing(loc)
        if required:
            while loc and not isinstance(loc[-1], int):
                loc = loc[:-1]
        if not loc:
            return False
        node: Any = self.data
        for part in loc[:-1]:
            node = node[part]
        last = loc[-1]
        if isinstance(node, list) and isinstance(last, int):
            key = field_path(self.original(loc[:-1]))
            kept = self.kept.setdefault(key, list(range(len(node))))
            del kept[last]
            del node[last]
        elif isinstance(node, dict):
            del node[last]
        else:
            return False
        return True


_INDEX = re.compile(r"\[(\d+)\]")


def _remap(path: str, kept: dict[str, list[int]]) -> str:
    """`path` (indices of the repaired copy) in the user's indices."""
    out, pos = "", 0
    for m in _INDEX.finditer(path):
        out += path[pos:m.start()]
        index = int(m.group(1))
        mapping = kept.get(out)
        out += f"[{mapping[index] if mapping is not None and index < len(mapping) else index}]"
        pos = m.end()
    return out + path[pos:]


def _related(a: str, b: str) -> bool:
    """Whether one path is the other or inside it."""
    return a == b or any(x.startswith(y) and x[len(y)] in ".[" for x, y in ((a, b), (b, a)) if len(x) > len(y))


def _cross_field_despite(data: dict[str, Any], exc: ValidationError, structural: list[Problem], *,
                         whole: bool = True) -> Iterator[Problem]:
    repair = _Repair(data)
    errors = exc.errors()
    for _ in range(_REPAIR_PASSES):
        changed = False
        # deepest first, so removing a list item does not shift the index of a later error
        for err in sorted(errors, key=lambda e: [(0, p) if isinstance(p, int) else (1, 0) for p in _loc(e)], reverse=True):
            changed |= repair.drop(_loc(err), required=err["type"] == "missing")
        if not changed:
            return
        try:
            spec = FederationSpec.model_validate(repair.data)
        except ValidationError as again:
            errors = again.errors()
            continue
        except RecursionError:
            return
        bad = [p.path for p in structural]
        for problem in _rules(spec, whole=whole):
            path = _remap(problem.path, repair.kept)
            if not any(_related(path, b) for b in bad):
                yield Problem(path, problem.message)
        return


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


def read_document(path: Path, what: str = "file") -> object:
    """The YAML document in `path` (a stack file or a bare declaration), problems naming the file."""
    where = str(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise SpecError([Problem(where, f"no such {what}")]) from None
    except OSError as exc:
        raise SpecError([Problem(where, f"cannot read: {exc.strerror}")]) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError([Problem(where, f"not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start})")]) from None
    try:
        return _load_yaml(text)
    except RecursionError:
        raise SpecError([Problem(where, "invalid YAML: nested too deeply")]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        reason = getattr(exc, "problem", None) or str(exc)
        raise SpecError([Problem(where, f"invalid YAML{at}: {reason}")]) from None


def _stack_config(path: Path, doc: object) -> dict[str, object]:
    if not isinstance(doc, dict) or not isinstance(doc.get("config"), dict):
        raise SpecError([Problem(str(path), "expected a Pulumi stack file with a top-level 'config:' mapping")])
    config: dict[str, object] = doc["config"]
    return config


def read_stack_config(path: Path, key: str = STACK_CONFIG_KEY, *, required: bool = True) -> object:
    """Read one key (default `flower:federation`) from a Pulumi stack config file, without the engine."""
    config = _stack_config(path, read_document(path, "stack file"))
    if key not in config:
        if not required:
            return None
        raise SpecError([Problem(f"{path}: config", f"missing key {key!r}")])
    return config[key]


def _looks_like_declaration(value: object) -> bool:
    return isinstance(value, dict) and "pools" in value


@dataclass(frozen=True)
class Declarations:
    """What one file declares: the federation(s) under a key of a stack file, or a bare declaration.

    `items` pairs each declaration's root in problem paths (`federation`, or `federations[1]` for a
    list such as the side-by-side example's) with its data; `config` is the stack file's whole
    `config:` mapping (empty for a bare declaration), for the other keys (`flower:policy`, contexts).
    """

    path: Path
    items: tuple[tuple[str, object], ...]
    config: Mapping[str, object]


def read_declarations(path: Path, key: str | None = None) -> Declarations:
    """The federation declaration(s) in `path`, read once.

    A Pulumi stack file gives the value of `key` (default `flower:federation`): one declaration, or a
    list of them. A file without `config:` is a bare declaration (e.g. one a program loads itself).
    """
    doc = read_document(path)
    if isinstance(doc, dict) and "config" not in doc:
        if key is not None:
            raise SpecError([Problem(str(path), f"--key {key} applies to a stack file; this file is a bare "
                                                "declaration (no top-level 'config:')")])
        return Declarations(path, ((ROOT, doc),), {})
    config = _stack_config(path, doc)
    name = key or STACK_CONFIG_KEY
    if name not in config:
        found = [k for k, v in config.items() if _looks_like_declaration(v)
                 or (isinstance(v, list) and bool(v) and all(_looks_like_declaration(x) for x in v))]
        hint = f" (declarations here: {', '.join(repr(str(k)) for k in found)}; pass --key)" if found else ""
        raise SpecError([Problem(f"{path}: config", f"missing key {name!r}{hint}")])
    value = config[name]
    if isinstance(value, list):
        label = name.rpartition(":")[2]
        if not value:
            raise SpecError([Problem(f"{path}: config.{name}", "an empty list: no federation to check")])
        return Declarations(path, tuple((f"{label}[{i}]", item) for i, item in enumerate(value)), config)
    return Declarations(path, ((ROOT, value),), config)


def rooted(problems: Iterable[Problem], root: str) -> list[Problem]:
    """`problems` of one declaration with their `federation` root renamed (e.g. to `federations[1]`)."""
    if root == ROOT:
        return list(problems)
    out = []
    for p in problems:
        if p.path == ROOT or p.path.startswith((f"{ROOT}.", f"{ROOT}[")):
            p = Problem(root + p.path[len(ROOT):], p.message)
        out.append(p)
    return out


def the_declaration(decls: Declarations) -> object:
    """The one declaration of `decls`; a list of several is a problem for commands that take one."""
    if len(decls.items) != 1:
        roots = ", ".join(root for root, _ in decls.items)
        raise SpecError([Problem(f"{decls.path}", f"holds {len(decls.items)} federations ({roots}): `validate` "
                                                  "checks them all; this command takes one declaration")])
    return decls.items[0][1]


def load_file(path: Path, key: str | None = None) -> FederationSpec:
    """Load and validate the one federation declared in a stack config file (or a bare declaration file)."""
    return parse_spec(the_declaration(read_declarations(path, key)))


def load_stack(stack: str, stacks_dir: Path = DEFAULT_STACKS_DIR) -> FederationSpec:
    """Load and validate `stacks/Pulumi.<stack>.yaml`."""
    return load_file(stack_file(stack, stacks_dir))
