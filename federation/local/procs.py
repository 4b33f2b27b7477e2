"""Process-tree bookkeeping for the local runner: start in a new session, stop by PID, no orphans.

Flower's SuperLink starts its SuperExec with ``start_new_session=True``, so killing the SuperLink's
process group does not reach it. Before signalling, we therefore snapshot every descendant of the
processes we started (from ``/proc``) and stop those too, each identified by (pid, start time) so a
recycled PID is never signalled.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

_PROC = Path("/proc")


def _stat(pid: int) -> tuple[int, int] | None:
    """(ppid, start time in clock ticks) of `pid`, or None if it is gone."""
    try:
        raw = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # The command name is in parentheses and may contain spaces: split after the last ')'.
    fields = raw[raw.rindex(")") + 2 :].split()
    # fields[0] is the state (field 3); ppid is field 4, starttime field 22.
    if fields[0] == "Z":
        return None
    return int(fields[1]), int(fields[19])


@dataclass(frozen=True)
class ProcId:
    """A process identified by PID and start time (immune to PID reuse)."""

    pid: int
    start: int

    @classmethod
    def of(cls, pid: int) -> ProcId | None:
        st = _stat(pid)
        return None if st is None else cls(pid, st[1])

    def alive(self) -> bool:
        st = _stat(self.pid)
        return st is not None and st[1] == self.start

    def signal(self, sig: signal.Signals) -> None:
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, sig)


def descendants(pid: int) -> list[ProcId]:
    """Every live descendant of `pid` (children first), read from /proc."""
    children: dict[int, list[int]] = {}
    if not _PROC.is_dir():
        return []
    for entry in _PROC.iterdir():
        if not entry.name.isdigit():
            continue
        st = _stat(int(entry.name))
        if st is not None:
            children.setdefault(st[0], []).append(int(entry.name))
    found: list[ProcId] = []
    todo = list(children.get(pid, []))
    while todo:
        child = todo.pop()
        proc = ProcId.of(child)
        if proc is not None:
            found.append(proc)
        todo.extend(children.get(child, []))
    return found


@dataclass
class ManagedProcess:
    """One process we started, in its own session/process group, logging to a file."""

    name: str
    argv: tuple[str, ...]
    env: Mapping[str, str]
    log_path: Path
    popen: subprocess.Popen[bytes] | subprocess.Popen[str] | None = None
    ident: ProcId | None = None
    #: Descendants seen so far (they may outlive their parent, e.g. a SuperExec with --parent-pid).
    known_descendants: set[ProcId] = field(default_factory=set)
    _log: IO[bytes] | None = None

    def start(self, cwd: Path | None = None) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        self.popen = subprocess.Popen(
            self.argv,
            env=dict(self.env),
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            start_new_session=True,
        )
        self.ident = ProcId.of(self.popen.pid)

    @property
    def pid(self) -> int | None:
        return self.popen.pid if self.popen else None

    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def returncode(self) -> int | None:
        return None if self.popen is None else self.popen.poll()

    def snapshot(self) -> set[ProcId]:
        """Record (and return) the current descendants."""
        if self.pid is not None and self.running():
            self.known_descendants.update(descendants(self.pid))
        self.known_descendants = {p for p in self.known_descendants if p.alive()}
        return set(self.known_descendants)

    def all_procs(self) -> list[ProcId]:
        procs = list(self.snapshot())
        if self.ident is not None and self.running():
            procs.append(self.ident)
        return procs

    def log_tail(self, lines: int = 20) -> list[str]:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return []
        return text.splitlines()[-lines:]

    def close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None


def _signal_groups(procs: Iterable[ProcId], sig: signal.Signals) -> None:
    for proc in procs:
        if not proc.alive():
            continue
        try:
            # Each session leader we know heads its own group; signal the whole group when it does.
            if os.getpgid(proc.pid) == proc.pid:
                os.killpg(proc.pid, sig)
            else:
                os.kill(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


#: Called while stopping, about once a second, with the names of the processes still running and the
#: seconds left before SIGKILL.
StopReporter = Callable[[list[str], float], None]


def stop_all(processes: Sequence[ManagedProcess], *, grace: float = 5.0, sig: signal.Signals = signal.SIGTERM,
             report: StopReporter | None = None) -> None:
    """Stop `processes` and all their descendants: `sig` (SIGTERM), then SIGKILL after `grace` seconds."""
    targets: list[ProcId] = []
    owner: dict[ProcId, str] = {}
    for proc in processes:
        for t in proc.all_procs():
            targets.append(t)
            owner.setdefault(t, proc.name)
    _signal_groups(targets, sig)
    deadline = time.monotonic() + grace
    next_report = time.monotonic() + 1.0
    while time.monotonic() < deadline:
        for proc in processes:
            proc.returncode()  # reap
        alive = [t for t in targets if t.alive()]
        if not alive:
            break
        if report is not None and time.monotonic() >= next_report:
            report(sorted({owner.get(t, "child process") for t in alive}), max(0.0, deadline - time.monotonic()))
            next_report += 1.0
        time.sleep(0.05)
    # Anything left (or newly spawned meanwhile) gets SIGKILL.
    for proc in processes:
        targets.extend(proc.all_procs())
    _signal_groups(targets, signal.SIGKILL)
    for t in targets:
        t.signal(signal.SIGKILL)
    for proc in processes:
        if proc.popen is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.popen.wait(timeout=5)
        proc.close_log()
