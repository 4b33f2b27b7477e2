"""What every `flower-federation` command shares: consoles, exit codes, stack options, spec loading."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console

from federation.errors import SpecError
from federation.loading import load_file, stack_file
from federation.spec import FederationSpec

EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

StackOpt = Annotated[str | None, typer.Option("--stack", "-s", help="Stack name: reads stacks/Pulumi.<stack>.yaml.")]
FileOpt = Annotated[Path | None, typer.Option("--file", "-f", help="A stack config file to read instead.")]
StacksDirOpt = Annotated[Path, typer.Option("--stacks-dir", help="Directory of the stack files.")]


def fail_bad_input(exc: SpecError) -> NoReturn:
    """Print every problem on its own line to stderr and exit 2."""
    for problem in exc.problems:
        err.print(str(problem), markup=False)
    raise typer.Exit(EXIT_BAD_INPUT)


def resolve_spec(stack: str | None, file: Path | None, stacks_dir: Path) -> FederationSpec:
    """Load the spec named by `--stack` or `--file` (exactly one), exiting 2 on bad input."""
    if (stack is None) == (file is None):
        err.print("error: give exactly one of --stack NAME or --file PATH")
        raise typer.Exit(EXIT_BAD_INPUT)
    path = file if file is not None else stack_file(str(stack), stacks_dir)
    try:
        return load_file(path)
    except SpecError as exc:
        fail_bad_input(exc)
