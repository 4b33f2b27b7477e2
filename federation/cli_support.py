"""What every `flower-federation` command shares: consoles, exit codes, stack options, spec loading."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, NoReturn

import click
import typer
from rich.console import Console

from federation.errors import Problem, SpecError
from federation.loading import Declarations, parse_spec, read_declarations, rooted, stack_file, the_declaration
from federation.spec import FederationSpec

EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

StackOpt = Annotated[str | None, typer.Option("--stack", "-s", help="Stack name: reads stacks/Pulumi.<stack>.yaml.")]
FileOpt = Annotated[Path | None, typer.Option(
    "--file", "-f", help="A stack config file to read instead, or a bare declaration (a file without 'config:').")]
KeyOpt = Annotated[str | None, typer.Option(
    "--key", help="The stack config key holding the declaration (default flower:federation); its value may be a "
                  "list of declarations (validate checks each).")]
StacksDirOpt = Annotated[Path, typer.Option("--stacks-dir", help="Directory of the stack files.")]
OutputOpt = Annotated[str, typer.Option("--output", help="text (for people) or json (for scripts and CI).",
                                        click_type=click.Choice(["text", "json"]))]


def fail_bad_input(exc: SpecError) -> NoReturn:
    """Print every problem on its own line to stderr and exit 2."""
    for problem in exc.problems:
        err.print(str(problem), markup=False)
    raise typer.Exit(EXIT_BAD_INPUT)


def stacks_in(stacks_dir: Path) -> list[str]:
    """The stack names of the `Pulumi.<stack>.yaml` files in `stacks_dir`, sorted (empty when it is no directory)."""
    try:
        return sorted(p.name[len("Pulumi."):-len(".yaml")] for p in stacks_dir.iterdir()
                      if p.name.startswith("Pulumi.") and p.name.endswith(".yaml") and p.is_file())
    except OSError:
        return []


def missing_stack_problem(stack: str, stacks_dir: Path) -> Problem:
    """`stacks/Pulumi.x.yaml: no such stack file`, saying where it looked and which stacks it found there."""
    path = stack_file(stack, stacks_dir)
    where = stacks_dir.resolve()
    if not stacks_dir.is_dir():
        hint = f"looked in {where}, which is not a directory: run from the project directory or pass --stacks-dir DIR"
    else:
        found = stacks_in(stacks_dir)
        hint = (f"looked in {where}; stacks there: {', '.join(found)}" if found
                else f"looked in {where}; no Pulumi.<stack>.yaml there (pass --stacks-dir DIR)")
    return Problem(str(path), f"no such stack file ({hint})")


def stack_path(stack: str | None, file: Path | None, stacks_dir: Path) -> Path:
    """The stack file named by `--stack` or `--file` (exactly one), exiting 2 when it is not there."""
    if (stack is None) == (file is None):
        err.print("error: give exactly one of --stack NAME or --file PATH")
        raise typer.Exit(EXIT_BAD_INPUT)
    if file is not None:
        return file
    path = stack_file(str(stack), stacks_dir)
    if not path.exists():
        fail_bad_input(SpecError([missing_stack_problem(str(stack), stacks_dir)]))
    return path



def read_source(stack: str | None, file: Path | None, stacks_dir: Path, key: str | None = None) -> Declarations:
    """The declaration(s) named by `--stack` or `--file` (and `--key`), read once; exit 2 on bad input."""
    path = stack_path(stack, file, stacks_dir)
    try:
        return read_declarations(path, key)
    except SpecError as exc:
        fail_bad_input(exc)


def resolve_spec(stack: str | None, file: Path | None, stacks_dir: Path, key: str | None = None) -> FederationSpec:
    """Load the spec named by `--stack` or `--file` (exactly one), exiting 2 on bad input."""
    return resolve(read_source(stack, file, stacks_dir, key))


def resolve(source: Declarations) -> FederationSpec:
    """The one federation `source` declares, validated; exit 2 on bad input."""
    try:
        return parse_spec(the_declaration(source))
    except SpecError as exc:
        fail_bad_input(exc)


def validate_stack(stack: str | None, file: Path | None, stacks_dir: Path,
                   key: str | None = None) -> list[tuple[str, FederationSpec]]:
    """What `validate` checks: every federation of one file and its policy settings (`flower:policy`), every
    problem in one pass (exit 2); warnings (mutable image tags) go to stderr, exit 0.

    Returns each federation's root in problem paths (`federation`, `federations[1]`) with its spec.
    """
    from federation import policies
    from federation.validation import shared_names, warnings

    source = read_source(stack, file, stacks_dir, key)
    problems: list[Problem] = []
    specs: list[tuple[str, FederationSpec]] = []
    for root, data in source.items:
        try:
            specs.append((root, parse_spec(data)))
        except SpecError as exc:
            problems.extend(rooted(exc.problems, root))
    problems.extend(shared_names(specs))
    try:
        policies.parse_settings(source.config.get(policies.POLICY_CONFIG_KEY))
    except SpecError as exc:
        problems.extend(exc.problems)
    if problems:
        fail_bad_input(SpecError(problems))
    for root, spec in specs:
        for warning in rooted(warnings(spec), root):
            err.print(f"warning: {warning}", markup=False)
    return specs
