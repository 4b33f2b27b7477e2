"""Parse the streamed output of `flwr run --stream` into rounds and per-round metrics."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_ROUND = re.compile(r"\[ROUND (\d+)/(\d+)\]")
_AGGREGATED = re.compile(r"Aggregated MetricRecord: (\{.*\})")
_GLOBAL = re.compile(r"└──> MetricRecord: (\{.*\})")
_RUN_ID = re.compile(r"Successfully started run (\d+)")
_FINISHED = re.compile(r"Strategy execution finished in ([0-9.]+)s")
_ERROR = re.compile(r"(\bERROR\b|\bCRITICAL\b|Traceback|Exception|Error:)")

Metrics = dict[str, float]


def strip_ansi(line: str) -> str:
    """`line` without ANSI colour and cursor escape sequences (Flower's log lines)."""
    return _ANSI.sub("", line)


def parse_metrics(text: str) -> Metrics:
    """`{'train-loss': 0.12, 'num-examples': 80}` -> dict of numbers (non-numbers dropped)."""
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return {k: float(v) for k, v in re.findall(r"'([^']+)':\s*([-+0-9.eE]+)", text)}
    if not isinstance(value, dict):
        return {}
    return {str(k): float(v) for k, v in value.items() if isinstance(v, int | float) and not isinstance(v, bool)}


@dataclass
class RoundMetrics:
    """What the ServerApp's strategy logged for one round."""

    number: int
    train: Metrics = field(default_factory=dict)
    evaluate: Metrics = field(default_factory=dict)
    server: Metrics = field(default_factory=dict)

    @property
    def loss(self) -> float | None:
        """The round's evaluation loss, else its train loss (first `*loss*` key found)."""
        for metrics in (self.evaluate, self.train, self.server):
            for key, value in metrics.items():
                if "loss" in key:
                    return value
        return None

    def summary(self) -> str:
        parts = []
        for label, metrics in (("train", self.train), ("eval", self.evaluate), ("server", self.server)):
            shown = {k: v for k, v in metrics.items() if k != "num-examples"}
            if shown:
                parts.append(f"{label} " + ", ".join(f"{k}={v:.4g}" for k, v in shown.items()))
        return "; ".join(parts) if parts else "no metrics"


@dataclass
class RunProgress:
    """Incremental parser: feed lines, read rounds, run id and error lines."""

    run_id: int | None = None
    total_rounds: int | None = None
    current_round: int = 0
    rounds: dict[int, RoundMetrics] = field(default_factory=dict)
    finished_in: float | None = None
    error_lines: list[str] = field(default_factory=list)
    _aggregated_seen: int = 0

    def feed(self, raw: str) -> list[str]:
        """Consume one line; return events ('run', 'round', 'train', 'evaluate', 'server', 'finished', 'error')."""
        line = strip_ansi(raw).rstrip("\n")
        events: list[str] = []
        if self.run_id is None and (m := _RUN_ID.search(line)):
            self.run_id = int(m.group(1))
            events.append("run")
        if m := _ROUND.search(line):
            self.current_round, self.total_rounds = int(m.group(1)), int(m.group(2))
            self.rounds.setdefault(self.current_round, RoundMetrics(self.current_round))
            self._aggregated_seen = 0
            events.append("round")
        elif (m := _AGGREGATED.search(line)) and self.current_round:
            metrics = parse_metrics(m.group(1))
            current = self.rounds[self.current_round]
            # FedAvg logs the aggregated train metrics first, then the evaluate metrics.
            if self._aggregated_seen == 0:
                current.train = metrics
                events.append("train")
            else:
                current.evaluate = metrics
                events.append("evaluate")
            self._aggregated_seen += 1
        elif (m := _GLOBAL.search(line)) and self.current_round:
            self.rounds[self.current_round].server = parse_metrics(m.group(1))
            events.append("server")
        if m := _FINISHED.search(line):
            self.finished_in = float(m.group(1))
            events.append("finished")
        if _ERROR.search(line):
            self.error_lines.append(line.strip())
            del self.error_lines[:-20]
            events.append("error")
        return events

    def completed_rounds(self) -> list[RoundMetrics]:
        """Rounds with at least their train metrics aggregated, in order."""
        return [r for _, r in sorted(self.rounds.items()) if r.train or r.evaluate]
