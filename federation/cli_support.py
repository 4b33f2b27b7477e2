"""What every `flower-federation` command shares: consoles, exit codes, stack options, spec loading."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console

from federation.errors import Problem, SpecError
from federation.loading import parse_spec, read_stack_config, stack_file
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


def _stack_path(stack: str | None, file: Path | None, stacks_dir: Path) -> Path:
    if (stack is None) == (file is None):
        err.print("error: give exactly one of --stack NAME or --file PATH")
        raise typer.Exit(EXIT_BAD_INPUT)
    return file if file is not None else stack_file(str(stack), stacks_dir)


def resolve_spec(stack: str | None, file: Path | None, stacks_dir: Path) -> FederationSpec:
    """Load the spec named by `--stack` or `--file` (exactly one), exiting 2 on bad input."""
    path = _stack_path(stack, file, stacks_dir)
    try:
        return parse_spec(read_stack_config(path))
    except SpecError as exc:
        fail_bad_input(exc)


def validate_stack(stack: str | None, file: Path | None, stacks_dir: Path) -> FederationSpec:
    """What `validate` checks: the federation and the policy settings (`flower:policy`) of one stack file,
    every problem of both in one pass (exit 2); warnings (mutable image tags) go to stderr, exit 0."""
    from federation import policies
    from federation.validation import warnings

    path = _stack_path(stack, file, stacks_dir)
    problems: list[Problem] = []
    spec: FederationSpec | None = None
    try:
        spec = parse_spec(read_stack_config(path))
    except SpecError as exc:
        problems.extend(exc.problems)
    if not any(p.path == str(path) or p.path.startswith(f"{path}:") for p in problems):  # the file itself is readable
        try:
            policies.parse_settings(read_stack_config(path, policies.POLICY_CONFIG_KEY, required=False))
        except SpecError as exc:
            problems.extend(exc.problems)
    if problems or spec is None:
        fail_bad_input(SpecError(problems))
    for warning in warnings(spec):
        err.print(f"warning: {warning}", markup=False)
    return spec
