"""Shared helpers of the benchmarks: generated specs, machine facts, medians and the JSON/Markdown reports."""

from __future__ import annotations

import copy
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "benchmarks" / "results"
PYTHON = sys.executable

if str(REPO) not in sys.path:  # scripts run as `python benchmarks/bench_x.py`
    sys.path.insert(0, str(REPO))


# --- generated declarations ----------------------------------------------------------------------


def base_declaration() -> dict[str, Any]:
    """The dev stack's declaration (generated TLS, NodePort, externalNames), without its pools and apps."""
    from federation.loading import read_stack_config, stack_file

    data = read_stack_config(stack_file("dev", REPO / "stacks"))
    assert isinstance(data, dict)
    data = copy.deepcopy(data)
    data.pop("clientApps", None)
    data["pools"] = []
    return data


def pool_name(i: int) -> str:
    return f"pool-{i:04d}"


def declaration(pools: int, apps: int | None = None, *, number_of_clusters: int | None = None,
                manual_clusters_per_pool: int = 0) -> dict[str, Any]:
    """A valid declaration with `pools` disjoint pools (one cluster set each) and `apps` ClientApps.

    ClientApp i targets pool i (pools run with isolation `process`; pools without an app use
    `subprocess`, which needs none). `number_of_clusters` bounds every Placement;
    `manual_clusters_per_pool > 0` switches to installStrategy Manual with that many listed clusters per pool.
    """
    apps = pools if apps is None else apps
    if apps > pools:
        raise ValueError("one ClientApp per pool at most")
    data = base_declaration()
    for i in range(pools):
        selection: dict[str, Any] = {"clusterSets": [f"set-{i:04d}"]}
        if number_of_clusters is not None:
            selection["numberOfClusters"] = number_of_clusters
        if manual_clusters_per_pool:
            selection["clusters"] = [f"cluster-{i:04d}-{c:04d}" for c in range(manual_clusters_per_pool)]
        data["pools"].append({
            "name": pool_name(i),
            "selection": selection,
            "isolation": "process" if i < apps else "subprocess",
            "nodeConfig": {"num-partitions": max(pools, 1)},
        })
    data["clientApps"] = [
        {"name": f"app-{i:04d}", "image": f"ghcr.io/example/clientapp-{i:04d}:1.0.0", "pools": [pool_name(i)]}
        for i in range(apps)
    ]
    if manual_clusters_per_pool:
        data["distribution"] = {"ocm": {"installStrategy": "Manual"}}
    return data


def stack_yaml(data: dict[str, Any]) -> str:
    """A Pulumi stack file carrying `data` as `flower:federation`."""
    import yaml

    return yaml.safe_dump({"config": {"flower:federation": data}}, sort_keys=False)


# --- measuring -----------------------------------------------------------------------------------


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


def iqr(values: Sequence[float]) -> tuple[float, float]:
    """(first quartile, third quartile) of `values` (inclusive method; the value itself for one value)."""
    if not values:
        return float("nan"), float("nan")
    if len(values) == 1:
        return float(values[0]), float(values[0])
    q = statistics.quantiles(values, n=4, method="inclusive")
    return float(q[0]), float(q[2])


def cpu_timed(fn: Any, *args: Any, **kwargs: Any) -> tuple[float, Any]:
    """(CPU seconds of this process, all threads, result) of one call, with time.process_time."""
    start = time.process_time()
    result = fn(*args, **kwargs)
    return time.process_time() - start, result


def timed(fn: Any, *args: Any, **kwargs: Any) -> tuple[float, Any]:
    """(seconds, result) of one call, with time.perf_counter."""
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return time.perf_counter() - start, result


def machine() -> dict[str, Any]:
    """Where the numbers come from: cores, CPU model, Python and the packages that matter."""
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    packages = {}
    for dist in ("pulumi", "pulumi-kubernetes", "flwr", "pydantic", "PyYAML"):
        try:
            packages[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            packages[dist] = None
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": packages,
    }


# --- reports -------------------------------------------------------------------------------------


@dataclass
class Target:
    name: str
    target: str
    value: str
    met: bool | None  # None: not measured in this run


@dataclass
class Table:
    title: str
    columns: list[str]
    rows: list[list[Any]]


@dataclass
class Report:
    """One benchmark's results: tables, targets, notes; written as `<name>.json` and `<name>.md`."""

    name: str
    title: str
    method: str
    tables: list[Table] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "benchmark": self.name,
            "title": self.title,
            "generated": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "machine": machine(),
            "method": self.method,
            "tables": [{"title": t.title, "columns": t.columns, "rows": t.rows} for t in self.tables],
            "targets": [vars(t) for t in self.targets],
            "data": self.data,
            "notes": self.notes,
        }

    def to_markdown(self, level: int = 2) -> str:
        h = "#" * level
        lines = [f"{h} {self.title}", "", self.method, ""]
        for table in self.tables:
            lines += [f"{h}# {table.title}", "", markdown_table(table.columns, table.rows), ""]
        if self.targets:
            lines += [f"{h}# Targets", "", markdown_table(
                ["target", "goal", "measured", "met"],
                [[t.name, t.target, t.value, {True: "yes", False: "**no**", None: "not measured"}[t.met]]
                 for t in self.targets]), ""]
        for note in self.notes:
            lines.append(f"- {note}")
        if self.notes:
            lines.append("")
        return "\n".join(lines)

    def write(self, out: Path) -> tuple[Path, Path]:
        out.mkdir(parents=True, exist_ok=True)
        js, md = out / f"{self.name}.json", out / f"{self.name}.md"
        js.write_text(json.dumps(self.to_json(), indent=2) + "\n", encoding="utf-8")
        md.write_text(self.to_markdown() + "\n", encoding="utf-8")
        return js, md

    def print(self) -> None:
        print(f"\n== {self.title}")
        for table in self.tables:
            print(f"\n-- {table.title}")
            print(text_table(table.columns, table.rows))
        if self.targets:
            print("\n-- targets")
            print(text_table(["target", "goal", "measured", "met"],
                             [[t.name, t.target, t.value, {True: "yes", False: "NO", None: "-"}[t.met]] for t in self.targets]))
        for note in self.notes:
            print(f"* {note}")


def fmt(value: Any) -> str:
    if isinstance(value, float):
        if value != value:  # nan
            return "-"
        return f"{value:.3f}" if abs(value) < 100 else f"{value:.1f}"
    return str(value)


def markdown_table(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
    lines += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def text_table(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [list(columns)] + [[fmt(v) for v in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(columns))]
    out = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in cells]
    out.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(out)


def add_out_argument(parser: Any) -> None:
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help=f"directory for the JSON and Markdown reports (default {DEFAULT_OUT.relative_to(REPO)})")
