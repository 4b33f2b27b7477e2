"""The `flower-federation` command line.

Exit codes: 0 success, 1 a run or check failed, 2 bad input (every problem printed as
`path.to.field: message`, nothing written).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer

from federation.cli_support import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    FileOpt,
    OutputOpt,
    StackOpt,
    StacksDirOpt,
    err,
    fail_bad_input,
    out,
    resolve_spec,
    validate_stack,
)
from federation.errors import Problem, SpecError
from federation.loading import DEFAULT_STACKS_DIR, stack_file
from federation.local.cli import local_app
from federation.spec import FederationSpec

app = typer.Typer(
    name="flower-federation",
    help="Declare a Flower federation once; validate it, run it locally, or deploy it with Pulumi and OCM.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def package_version() -> str:
    """This installation's version, from the package metadata (setuptools-scm: the git tag, or a dev version)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("flower-federation")
    except PackageNotFoundError:
        return "unknown (not installed: pip install -e .)"


def _print_version(value: bool) -> None:
    if value:
        out.print(f"flower-federation {package_version()}", markup=False)
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", callback=_print_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """Declare a Flower federation once; validate it, run it locally, or deploy it with Pulumi and OCM."""


def _selection_summary(spec: FederationSpec, index: int) -> list[str]:
    sel = spec.pools[index].selection
    parts = [f"sets {','.join(sel.cluster_sets)}"]
    if sel.clusters:
        parts.append(f"clusters {','.join(sel.clusters)}")
    if sel.label_selector:
        labels = [f"{k}={v}" for k, v in sel.label_selector.match_labels.items()]
        labels += [f"{e.key} {e.operator} {','.join(e.values)}".strip() for e in sel.label_selector.match_expressions]
        parts.append("labels " + "; ".join(labels))
    if sel.claim_selector:
        parts.append("claims " + "; ".join(f"{e.key} {e.operator} {','.join(e.values)}".strip()
                                           for e in sel.claim_selector.match_expressions))
    if sel.cel_expressions:
        parts.append(f"{len(sel.cel_expressions)} CEL expression(s)")
    if sel.prioritizers and sel.prioritizers.configurations:
        scores = [
            (f"{c.add_on.resource_name}/{c.add_on.score_name}" if c.add_on else str(c.built_in)) + f"×{c.weight}"
            for c in sel.prioritizers.configurations
        ]
        parts.append("scores " + ", ".join(scores))
    if sel.number_of_clusters:
        parts.append(f"at most {sel.number_of_clusters} clusters")
    return parts


def print_summary(spec: FederationSpec, source: str) -> None:
    """A short, readable summary of a valid federation."""
    hub = spec.hub
    tls = hub.tls.mode + (" + SuperNode auth" if hub.supernode_auth.enabled else "")
    state = f"sqlite on {hub.persistence.size} PVC" if hub.persistence.enabled else "in memory"
    out.print(f"[bold green]valid[/] {source}: federation [bold]{spec.name}[/] on Flower {spec.flower.version}")
    lines = [
        f"  hub        {hub.namespace}: SuperLink {hub.exposure.type} port {hub.port}, TLS {tls}, "
        f"isolation {hub.isolation}, state {state}"
    ]
    for i, pool in enumerate(spec.pools):
        lines.append(f"  pool       {pool.name}: " + ", ".join(_selection_summary(spec, i)))
        gpu = "CPU only"
        if pool.gpu:
            gpu = f"GPU {pool.gpu.count}× {pool.gpu.resource_name}"
            if pool.gpu.node_selector:
                gpu += " on nodes " + ",".join(f"{k}={v}" for k, v in pool.gpu.node_selector.items())
        lines.append(
            f"             {gpu}; {pool.replicas} SuperNode(s) per cluster, isolation {pool.isolation}, "
            f"rollout {pool.rollout_strategy.type}"
        )
    for app_ in spec.client_apps:
        lines.append(f"  clientApp  {app_.name}: {app_.image} -> pools {', '.join(app_.pools)}, "
                     f"rollout {app_.rollout_strategy.type}")
    out.print("\n".join(lines), markup=False)


@app.command()
def validate(stack: StackOpt = None, file: FileOpt = None, stacks_dir: StacksDirOpt = DEFAULT_STACKS_DIR) -> None:
    """Validate a stack's federation declaration and policy settings and print a summary (warnings on stderr)."""
    spec = validate_stack(stack, file, stacks_dir)
    print_summary(spec, str(file) if file else f"stack {stack}")


app.add_typer(local_app, name="local")


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(EXIT_INTERRUPTED)


OutOpt = Annotated[Path, typer.Option("--out", "-o", help="Directory to write the YAML files to.")]


@app.command()
def render(
    stack: StackOpt = None,
    file: FileOpt = None,
    out_dir: OutOpt = Path("out"),
    ca_certificate: Annotated[Path | None, typer.Option(
        "--ca-certificate", help="PEM of the SuperLink CA (e.g. `pulumi stack output caCertificate`).")] = None,
    include_secrets: Annotated[bool, typer.Option(
        "--include-secrets", help="Generate fresh key material and write its Secrets (plain text!).")] = False,
    stacks_dir: StacksDirOpt = DEFAULT_STACKS_DIR,
) -> None:
    """Write the objects the Pulumi program would register as YAML (one file per object, in apply order)."""
    from federation import planning
    from federation import render as rendering

    spec = resolve_spec(stack, file, stacks_dir)
    ca_pem = None
    if ca_certificate is not None:
        try:
            ca_pem = ca_certificate.read_text(encoding="utf-8")
        except OSError as exc:
            fail_bad_input(SpecError([Problem(str(ca_certificate), f"cannot read: {exc.strerror}")]))
        if "BEGIN CERTIFICATE" not in ca_pem or "PRIVATE KEY" in ca_pem:
            fail_bad_input(SpecError([Problem(str(ca_certificate), "expected a PEM certificate (and no private key)")]))
    try:
        material = planning.generate_material(spec) if include_secrets else None
        objs = planning.planned_objects(spec, material=material, ca_certificate=ca_pem)
        files = rendering.render_files(objs)
        rendering.write_files(out_dir, files)
    except SpecError as exc:
        fail_bad_input(exc)
    if include_secrets:
        err.print("[yellow]warning:[/] --include-secrets wrote freshly generated private keys in plain text to "
                  f"{out_dir}; they differ from the ones in Pulumi state and on every run")
    note = "" if include_secrets else " (Secrets with key material left out)"
    out.print(f"wrote {len(files) - 1} objects and kustomization.yaml to {out_dir}{note}", markup=False)


def print_table(header: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> None:
    """A rich table on a terminal; plain columns (no box drawing, no colour, one line per row) otherwise."""
    if out.is_terminal:
        from rich.table import Table

        table = Table(header_style="bold", show_lines=False)
        for col in header:
            table.add_column(col, overflow="fold")
        for row in rows:
            table.add_row(*row)
        out.print(table)
        return
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header) - 1)]
    for row in [header, *rows]:
        cells = [cell.ljust(w) for cell, w in zip(row, widths, strict=False)] + [row[-1]]
        print("  ".join(cells).rstrip())


@app.command()
def check(
    stack: StackOpt = None,
    file: FileOpt = None,
    stacks_dir: StacksDirOpt = DEFAULT_STACKS_DIR,
    write_pack_config: Annotated[Path | None, typer.Option(
        "--write-pack-config", help="Also write the matching `pulumi preview --policy-pack-config` JSON.")] = None,
    output: OutputOpt = "text",
) -> None:
    """Evaluate the policy rules against the objects the program would register; exit 1 on a mandatory violation.

    `--output json` prints one JSON document (for CI); the text table is plain when stdout is not a terminal.
    """
    import json

    from federation import planning, policies
    from federation.loading import read_stack_config

    spec = resolve_spec(stack, file, stacks_dir)
    path = file if file is not None else stack_file(str(stack), stacks_dir)
    try:
        settings = policies.parse_settings(read_stack_config(path, policies.POLICY_CONFIG_KEY, required=False))
    except SpecError as exc:
        fail_bad_input(exc)
    objs = planning.planned_objects(spec, material=planning.generate_material(spec))
    violations = policies.evaluate(objs, settings)
    if write_pack_config is not None:
        write_pack_config.write_text(json.dumps(policies.pack_config(settings), indent=2) + "\n", encoding="utf-8")
    mandatory = [v for v in violations if v.enforcement == "mandatory"]
    env = "production" if settings.production else "non-production"
    if output == "json":
        doc = {
            "passed": not mandatory,
            "settings": {"production": settings.production, "allowInsecure": settings.allow_insecure,
                         "requireImageDigests": settings.require_image_digests},
            "rules": len(policies.RULES),
            "objects": len(objs),
            "mandatory": len(mandatory),
            "advisory": len(violations) - len(mandatory),
            "violations": [{"rule": v.rule, "enforcement": v.enforcement, "object": v.subject, "message": v.message}
                           for v in violations],
        }
        print(json.dumps(doc, indent=2))
        if mandatory:
            raise typer.Exit(EXIT_FAILED)
        return
    if not violations:
        out.print(f"[bold green]passed[/] {len(policies.RULES)} rules on {len(objs)} objects ({env} settings)")
        return
    rows = [(v.rule, v.enforcement, v.subject, v.message) for v in violations]
    print_table(("rule", "enforcement", "object", "violation"), rows)
    summary = f"{len(mandatory)} mandatory and {len(violations) - len(mandatory)} advisory violation(s) ({env} settings)"
    if mandatory:
        err.print(f"[bold red]failed[/] {summary}")
        raise typer.Exit(EXIT_FAILED)
    out.print(f"[yellow]passed with warnings[/] {summary}")
