"""Problems found in a federation declaration, each tied to the field it is about."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

ROOT = "federation"


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with the declaration, e.g. `federation.pools[1].gpu.count: must be >= 1`."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class SpecError(Exception):
    """The declaration is invalid; `problems` lists every finding with its field path."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


def field_path(loc: Iterable[str | int], root: str = ROOT) -> str:
    """Render a location tuple as `root.a.b[2].c`."""
    out = root
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif out:
            out += f".{part}"
        else:
            out = part
    return out
