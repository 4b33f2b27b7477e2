"""`flower-federation local up`: run the declared federation for real on this machine."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from federation.cli_support import (
    EXIT_BAD_INPUT,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    FileOpt,
    StackOpt,
    StacksDirOpt,
    err,
    out,
    resolve_spec,
)
from federation.loading import DEFAULT_STACKS_DIR
from federation.local.progress import RunProgress
from federation.local.runner import ROUNDS_KEY, LocalFederation, LocalRunError, RunResult, app_config, default_app
from federation.spec import FederationSpec

local_app = typer.Typer(
    name="local",
    help="Run the federation on this machine with real Flower processes (no cluster).",
    no_args_is_help=True,
)


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _describe(spec: FederationSpec, fed: LocalFederation) -> list[str]:
    hub = spec.hub
    security = "TLS" if fed.tls else "insecure"
    if hub.supernode_auth.enabled:
        security += " + SuperNode auth"
    state = "sqlite" if hub.persistence.enabled else "in memory"
    lines = [f"SuperLink {fed.api_address} ({security}, isolation {hub.isolation}, state {state}), "
             f"SuperNodes dial the Fleet proxy {fed.superlink_address}"]
    for pool in spec.pools:
        nodes = [n for n in fed.supernodes if n.pool == pool.name]
        lines.append(f"pool {pool.name}: {len(nodes)} SuperNode(s), isolation {pool.isolation}")
    return lines


def _print_result(result: RunResult, rounds: int) -> None:
    if result.ok:
        out.print(f"[bold green]completed[/] run {result.run_id}: {len(result.rounds)}/{rounds} round(s) "
                  f"in {result.duration_seconds:.1f}s")
        last = result.rounds[-1] if result.rounds else None
        if last is not None and last.loss is not None:
            out.print(f"final loss {last.loss:.4g}")
        return
    err.print(f"[bold red]failed[/] {result.reason or result.status}")
    for line in result.error_lines[-10:]:
        err.print(f"  {line}", markup=False)


@local_app.command("up")
def up(
    stack: StackOpt = None,
    file: FileOpt = None,
    stacks_dir: StacksDirOpt = DEFAULT_STACKS_DIR,
    app: Annotated[Path | None, typer.Option("--app", help="Flower App directory (default: examples/quickstart-numpy).")] = None,
    rounds: Annotated[int | None, typer.Option("--rounds", min=1, help="Server rounds (default: local.rounds).")] = None,
    workdir: Annotated[Path | None, typer.Option("--workdir", help="Work dir for all state and logs (kept).")] = None,
    keep: Annotated[bool, typer.Option("--keep", help="Keep the work dir (logs, state, certificates).")] = False,
) -> None:
    """Start a SuperLink and the SuperNodes of every pool on 127.0.0.1, run the app, tear everything down."""
    spec = resolve_spec(stack, file, stacks_dir)
    if app is not None and not (app / "pyproject.toml").is_file():
        err.print(f"--app: {app} is not a Flower App directory (no pyproject.toml)")
        raise typer.Exit(EXIT_BAD_INPUT)
    try:
        app_dir = app if app is not None else default_app()
    except LocalRunError as exc:
        err.print(f"--app: {exc}")
        raise typer.Exit(EXIT_BAD_INPUT) from None
    try:
        declared = app_config(app_dir)
    except LocalRunError as exc:
        err.print(f"--app: {exc}", markup=False)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    n_rounds = spec.local.rounds if rounds is None else rounds
    if ROUNDS_KEY not in declared and rounds is not None:
        err.print(f"[yellow]warning:[/] --rounds is not applied: {app_dir.name} declares no {ROUNDS_KEY} "
                  f"(its run-config keys: {', '.join(sorted(declared)) or 'none'})")
    if workdir is not None:
        workdir.mkdir(parents=True, exist_ok=True)

    # Ctrl-C and SIGTERM both tear the federation down (also when SIGINT was ignored by a parent shell).
    previous = {sig: signal.signal(sig, _raise_interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}
    fed = LocalFederation(spec, workdir, keep=keep, on_step=lambda step: out.print(f"  {step}", style="dim",
                                                                                   markup=False))
    result: RunResult | None = None
    try:
        out.print(f"[bold]local federation[/] {spec.name}: starting in {fed.workdir}")
        started = time.monotonic()
        fed.start()
        for line in _describe(spec, fed):
            out.print(f"  {line}", markup=False)
        plan = f"for {n_rounds} round(s)" if ROUNDS_KEY in declared else "(rounds as the app sets them)"
        out.print(f"  up in {time.monotonic() - started:.1f}s; running {app_dir.name} {plan}", markup=False)
        result = _run_with_progress(fed, app_dir, n_rounds if ROUNDS_KEY in declared else None)
    except LocalRunError as exc:
        fed.keep = True
        err.print(f"[bold red]error[/] {exc}")
        err.print(f"logs kept in {fed.logs_dir}", markup=False)
        raise typer.Exit(EXIT_FAILED) from None
    except KeyboardInterrupt:
        names = sorted({p.name for p in fed.processes if p.running()})
        err.print(f"interrupted: stopping {len(names)} process(es) ({', '.join(names) or 'none left'}): "
                  f"SIGTERM now, SIGKILL after {fed.grace_seconds:.0f}s", markup=False)
        raise typer.Exit(EXIT_INTERRUPTED) from None
    finally:
        if result is not None and not result.ok:
            fed.keep = True
        fed.stop(report=_StopReporter())
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    _print_result(result, n_rounds)
    if fed.keep:
        out.print(f"work dir kept: {fed.workdir} (logs in {fed.logs_dir})", markup=False)
    if not result.ok:
        raise typer.Exit(EXIT_FAILED)


class _StopReporter:
    """Says which processes the teardown still waits for (SIGTERM sent), each time that set changes."""

    def __init__(self) -> None:
        self.last: list[str] = []

    def __call__(self, names: list[str], seconds_left: float) -> None:
        if names != self.last:
            self.last = names
            err.print(f"  stopping: waiting for {', '.join(names)} to exit (SIGKILL in {seconds_left:.0f}s)",
                      markup=False)


#: Without a terminal (CI logs, `| tee`), a line at least this often while nothing else is printed.
HEARTBEAT_SECONDS = 15.0


def _waiting_for(progress: RunProgress) -> str:
    if progress.run_id is None:
        return "flwr run to start the run (building and uploading the FAB)"
    if not progress.current_round:
        return f"run {progress.run_id}'s ServerApp to start round 1 (it waits for enough SuperNodes)"
    return f"round {progress.current_round} of run {progress.run_id} (training on the SuperNodes)"


def _run_with_progress(fed: LocalFederation, app_dir: Path, rounds: int | None) -> RunResult:
    """`fed.run` with a live bar on a terminal, and plain progress lines (events, a heartbeat) otherwise."""
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TextColumn("round {task.completed}/{task.total}"),
               TimeElapsedColumn())
    plain = not out.is_terminal
    with Progress(*columns, console=out, transient=True, disable=plain) as bar:
        task = bar.add_task("waiting for the run to start", total=rounds)
        printed: set[int] = set()
        started = time.monotonic()
        last_output = [started]

        def say(text: str) -> None:
            bar.print(text, markup=False)
            last_output[0] = time.monotonic()

        def show(progress: RunProgress, number: int) -> None:
            current = progress.rounds.get(number)
            if current is None or number in printed or not (current.train or current.evaluate):
                return
            printed.add(number)
            say(f"round {number}/{progress.total_rounds}  {current.summary()}")
            bar.update(task, completed=len(printed))

        def listener(line: str, progress: RunProgress, events: list[str]) -> None:
            if "run" in events:
                bar.update(task, description=f"run {progress.run_id}")
                if plain:
                    say(f"run {progress.run_id} started")
            if "round" in events and progress.total_rounds:
                show(progress, progress.current_round - 1)
                description = f"run {progress.run_id}: round {progress.current_round}"
                bar.update(task, total=progress.total_rounds, description=description)
                if plain:
                    say(f"round {progress.current_round}/{progress.total_rounds} started")
            if "evaluate" in events or "finished" in events:
                show(progress, progress.current_round)
            if plain and "idle" in events and time.monotonic() - last_output[0] >= HEARTBEAT_SECONDS:
                say(f"  {time.monotonic() - started:.0f}s: waiting for {_waiting_for(progress)}")

        return fed.run(app_dir, rounds, listener=listener)
