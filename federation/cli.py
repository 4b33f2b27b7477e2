"""The `flower-federation` command line.

Exit codes: 0 success, 1 a run or check failed, 2 bad input (every problem printed as
`path.to.field: message`, nothing written).
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import click
import typer
from typer.core import TyperGroup

from federation.cli_support import (
    EXIT_BAD_INPUT,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    FileOpt,
    KeyOpt,
    OutputOpt,
    StackOpt,
    StacksDirOpt,
    err,
    fail_bad_input,
    out,
    read_source,
    resolve,
    resolve_spec,
    validate_stack,
)
from federation.errors import ROOT, Problem, SpecError
from federation.loading import DEFAULT_STACKS_DIR
from federation.spec import FederationSpec

if TYPE_CHECKING:
    from federation.ops.status import ControlView, HubRefs


def _local_app() -> typer.Typer:
    from federation.local.cli import local_app

    return local_app


#: Command groups imported only when used (run, or listed by `--help`): `local` brings the local runner,
#: TLS and `cryptography`, which no other command needs.
_LAZY_GROUPS: dict[str, Callable[[], typer.Typer]] = {"local": _local_app}


class _Pending(click.Command):
    """Stands for a command group of :data:`_LAZY_GROUPS` until :meth:`_RootGroup.get_command` imports it."""


class _RootGroup(TyperGroup):
    """The root group, with the :data:`_LAZY_GROUPS` in place (same names and order) but not imported."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        for name in _LAZY_GROUPS:
            self.commands.setdefault(name, _Pending(name))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if isinstance(self.commands.get(cmd_name), _Pending):
            self.commands[cmd_name] = typer.main.get_group(_LAZY_GROUPS[cmd_name]())
        return super().get_command(ctx, cmd_name)


app = typer.Typer(
    cls=_RootGroup,
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
def validate(stack: StackOpt = None, file: FileOpt = None, key: KeyOpt = None,
             stacks_dir: StacksDirOpt = DEFAULT_STACKS_DIR) -> None:
    """Validate a stack's federation declaration(s) and policy settings and print a summary (warnings on stderr)."""
    where = str(file) if file else f"stack {stack}"
    for root, spec in validate_stack(stack, file, stacks_dir, key):
        print_summary(spec, where if root == ROOT else f"{where} {root}")



def main() -> None:
    """Console-script entry point."""
    # What is imported by now lives as long as the process: spare every full garbage collection a walk
    # over it (about a tenth of the CPU of `validate` on 1 000 pools).
    gc.freeze()
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
    key: KeyOpt = None,
    stacks_dir: StacksDirOpt = DEFAULT_STACKS_DIR,
) -> None:
    """Write the objects the Pulumi program would register as YAML (one file per object, in apply order)."""
    from federation import planning
    from federation import render as rendering

    spec = resolve_spec(stack, file, stacks_dir, key)
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
        required = planning.omitted_secrets(spec, material=material)
        files = rendering.render_files(objs, required)
        rendering.write_files(out_dir, files)
    except SpecError as exc:
        fail_bad_input(exc)
    if include_secrets:
        err.print("[yellow]warning:[/] --include-secrets wrote freshly generated private keys in plain text to "
                  f"{out_dir}; they differ from the ones in Pulumi state and on every run")
    note = "" if include_secrets else " (Secrets with key material left out)"
    out.print(f"wrote {rendering.object_count(files)} objects and kustomization.yaml to {out_dir}{note}", markup=False)
    if required:
        out.print(f"create these Secrets first (keys and commands: {out_dir / 'REQUIRED-SECRETS.md'}):", markup=False)
        for line in rendering.required_secrets_lines(required):
            out.print(line, markup=False)


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
    key: KeyOpt = None,
) -> None:
    """Evaluate the policy rules against the objects the program would register; exit 1 on a mandatory violation.

    `--output json` prints one JSON document (for CI); the text table is plain when stdout is not a terminal.
    """
    import json

    from federation import planning, policies

    source = read_source(stack, file, stacks_dir, key)
    spec = resolve(source)
    try:
        settings = policies.parse_settings(source.config.get(policies.POLICY_CONFIG_KEY))
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


KubeconfigOpt = Annotated[Path | None, typer.Option(
    "--kubeconfig", help="Kubeconfig of the hub (default: $KUBECONFIG, ~/.kube/config, or in-cluster).")]
ContextOpt = Annotated[str | None, typer.Option(
    "--context", help="Kubeconfig context of the hub (default: the stack file's kubernetes:context).")]
ControlAddressOpt = Annotated[str | None, typer.Option(
    "--control-address", help="HOST:PORT where the SuperLink's Control API is already reachable (your own "
                              "port-forward or tunnel); skips the port-forward.")]


def _hub_context(config: Mapping[str, object], context: str | None) -> str | None:
    """`--context`, else the stack file's `kubernetes:context` (what `pulumi up` deployed to), else None."""
    if context is not None:
        return context
    value = config.get("kubernetes:context")
    return value if isinstance(value, str) and value else None


def _context_hint(message: str, given: str | None, used: str | None) -> str:
    """`message`, saying where the context came from when the user did not pass --context."""
    if given is None and used is not None and message.startswith("--context"):
        return f"{message}; {used!r} is the stack file's kubernetes:context (pass --context NAME)"
    return message


def _bad(message: str) -> NoReturn:
    err.print(message, markup=False)
    raise typer.Exit(EXIT_BAD_INPUT)


@app.command()
def status(
    stack: StackOpt = None,
    file: FileOpt = None,
    stacks_dir: StacksDirOpt = DEFAULT_STACKS_DIR,
    kubeconfig: KubeconfigOpt = None,
    context: ContextOpt = None,
    control_address: ControlAddressOpt = None,
    no_port_forward: Annotated[bool, typer.Option(
        "--no-port-forward", help="Do not ask Flower (SuperNodes and runs are then reported unknown).")] = False,
    output: OutputOpt = "text",
) -> None:
    """Show a deployed federation, read live from the hub: SuperLink, SuperNodes and runs, Placements, addon, ClientApps.

    Exit 0 healthy, 1 degraded (or a part that could not be read: unknown), 2 bad input.
    """
    import json

    from federation.manifests import hub as hub_manifests
    from federation.ops import connect as connecting
    from federation.ops import control, hub
    from federation.ops import status as st

    source = read_source(stack, file, stacks_dir)
    spec = resolve(source)
    if control_address is not None:
        try:
            connecting.check_address(control_address)
        except connecting.ConnectError as exc:
            _bad(str(exc))
    given = context
    context = _hub_context(source.config, context)
    try:
        api = hub.api_client(kubeconfig, context)
    except hub.HubError as exc:
        _bad(_context_hint(str(exc), given, context))
    refs = st.refs(spec)
    try:
        snap = hub.snapshot(api, refs)
    except hub.HubError as exc:
        if output == "json":
            print(json.dumps({"federation": spec.name, "health": "unknown", "error": str(exc)}, indent=2))
        else:
            err.print(f"federation {spec.name}: UNKNOWN: {exc}", markup=False)
        raise typer.Exit(EXIT_FAILED) from None
    ca_pem = None
    if refs.tls_secret is not None:
        from base64 import b64decode

        value = ((snap.tls_secret or {}).get("data") or {}).get(hub_manifests.CA_CERT_KEY)
        ca_pem = b64decode(value).decode("utf-8") if isinstance(value, str) else None
    if no_port_forward and control_address is None:
        view = st.ControlView(via="not asked", error="--no-port-forward")
    elif refs.tls_secret is not None and ca_pem is None:
        view = st.ControlView(via="not asked", error=f"no CA: Secret {refs.tls_secret} has no readable "
                                                     f"{hub_manifests.CA_CERT_KEY}")
    elif control_address is not None:
        view = control.query(spec, control_address, ca_pem, via="--control-address")
    elif hub.in_cluster():
        view = control.query(spec, hub_manifests.api_address(spec), ca_pem, via="in-cluster")
    else:
        view = _query_through_port_forward(spec, api, refs, ca_pem)
    result = st.evaluate(spec, snap, view)
    if output == "json":
        print(json.dumps(result.as_json(), indent=2))
    else:
        where = f" on context {context}" if context else ""
        print(st.render_text(result, source=where))
    raise typer.Exit(result.exit_code())


def _query_through_port_forward(spec: FederationSpec, api: Any, refs: HubRefs, ca_pem: str | None) -> ControlView:
    """Flower's answer through a port-forward to the SuperLink pod, opened and closed here."""
    from federation.ops import control, hub
    from federation.ops import status as st

    try:
        pod = hub.ready_pod(api, refs.namespace, dict(refs.superlink_selector))
        forward = hub.PortForward(api, refs.namespace, pod, spec.hub.api_port).start()
    except hub.HubError as exc:
        return st.ControlView(via="port-forward", error=str(exc))
    try:
        view = control.query(spec, forward.address, ca_pem, via=forward.description)
    finally:
        forward.close()
    if view.error is not None and forward.errors:
        view = st.ControlView(via=view.via, address=view.address, error=f"{view.error} ({forward.errors[-1]})")
    return view


@app.command()
def connect(
    stack: StackOpt = None,
    file: FileOpt = None,
    stacks_dir: StacksDirOpt = DEFAULT_STACKS_DIR,
    name: Annotated[str | None, typer.Option(
        "--name", help="Connection name for `flwr run . NAME` (default: the federation's name).")] = None,
    flwr_home: Annotated[Path | None, typer.Option(
        "--flwr-home", help="Flower's config directory (default: $FLWR_HOME, else ~/.flwr).")] = None,
    ca_from: Annotated[str, typer.Option(
        "--ca-from", click_type=click.Choice(["hub", "pulumi", "file"]),
        help="Where the SuperLink CA comes from: the TLS Secret on the hub, the stack output caCertificate "
             "(`pulumi stack output`, run next to the stacks directory), or --ca-file.")] = "hub",
    ca_file: Annotated[Path | None, typer.Option("--ca-file", help="PEM of the SuperLink CA (implies --ca-from file).")] = None,
    control_address: ControlAddressOpt = None,
    port_forward: Annotated[bool, typer.Option(
        "--port-forward", help="Open a port-forward to the SuperLink's Control API and keep it open until Ctrl-C.")] = False,
    local_port: Annotated[int, typer.Option(
        "--local-port", min=0, max=65535, help="Local port of --port-forward (0: a free one).")] = 0,
    make_default: Annotated[bool, typer.Option("--default", help="Also make it flwr's default connection.")] = False,
    kubeconfig: KubeconfigOpt = None,
    context: ContextOpt = None,
) -> None:
    """Write the SuperLink connection `flwr` reads ($FLWR_HOME/config.toml), so `flwr run . NAME` reaches the federation.

    The Control API is inside the hub only: the connection points at the in-cluster address (for `flwr` in
    a pod that hub.controlClients admits), at --control-address, or at a --port-forward this command holds open.
    """
    from federation.manifests import hub as hub_manifests
    from federation.ops import connect as connecting

    source = read_source(stack, file, stacks_dir)
    spec = resolve(source)
    if ca_file is not None:
        ca_from = "file"
    if port_forward and control_address is not None:
        _bad("error: give at most one of --port-forward or --control-address")
    home = connecting.flwr_home(flwr_home)
    try:
        conn_name = connecting.check_name(name or spec.name)
        if control_address is not None:
            connecting.check_address(control_address)
    except connecting.ConnectError as exc:
        _bad(str(exc))
    hub_context = _hub_context(source.config, context)
    api: Any = None

    def hub_api() -> Any:
        nonlocal api
        from federation.ops import hub

        if api is None:
            try:
                api = hub.api_client(kubeconfig, hub_context)
            except hub.HubError as exc:
                _bad(_context_hint(str(exc), context, hub_context))
        return api

    ca_pem = None
    if connecting.uses_tls(spec):
        ca_pem = _connect_ca(spec, stack, stacks_dir, ca_from, ca_file, hub_api)
    forward = None
    if port_forward:
        from federation.ops import hub
        from federation.ops import status as st

        refs = st.refs(spec)
        try:
            pod = hub.ready_pod(hub_api(), refs.namespace, dict(refs.superlink_selector))
            forward = hub.PortForward(hub_api(), refs.namespace, pod, spec.hub.api_port, local_port=local_port).start()
        except hub.HubError as exc:
            if exc.bad_input:
                _bad(str(exc))
            err.print(f"error: {exc}", markup=False)
            raise typer.Exit(EXIT_FAILED) from None
        address = forward.address
    else:
        address = control_address or hub_manifests.api_address(spec)
    try:
        conn = connecting.connection(spec, home, conn_name, address)
        path = connecting.write_connection(home, conn, ca_pem=ca_pem, make_default=make_default)
    except (connecting.ConnectError, OSError) as exc:
        if forward is not None:
            forward.close()
        _bad(f"error: {exc}")
    trust = "insecure (tls.mode insecure)" if conn.insecure else f"CA {conn.root_certificates}"
    out.print(f"wrote SuperLink connection {conn_name} to {path}: address {address}, {trust}", markup=False)
    out.print(f"  try: FLWR_HOME={home} flwr ls {conn_name}    flwr run . {conn_name}", markup=False)
    if forward is None:
        if control_address is None:
            out.print(f"  {address} is the Control API inside the hub (from a pod hub.controlClients admits); "
                      "from elsewhere use --port-forward", markup=False)
        return
    _hold(forward)


def _connect_ca(spec: FederationSpec, stack: str | None, stacks_dir: Path, ca_from: str, ca_file: Path | None,
                hub_api: Any) -> str:
    """The CA PEM `connect` writes, from --ca-file, the stack output, or the hub's TLS Secret (exit 2 on bad input)."""
    from federation.manifests import hub as hub_manifests
    from federation.ops import connect as connecting

    try:
        if ca_from == "file":
            if ca_file is None:
                _bad("--ca-from file needs --ca-file PATH")
            try:
                return connecting.check_ca(ca_file.read_text(encoding="utf-8"), f"--ca-file {ca_file}")
            except (OSError, UnicodeDecodeError) as exc:
                _bad(f"--ca-file: cannot read {ca_file}: {exc}")
        if ca_from == "pulumi":
            if stack is None:
                _bad("--ca-from pulumi needs --stack NAME (the Pulumi stack)")
            return connecting.check_ca(_pulumi_ca(stack, stacks_dir), f"pulumi stack output caCertificate ({stack})")
        from federation.ops import hub

        secret = hub_manifests.tls_secret_name(spec)
        assert secret is not None  # TLS is on
        try:
            return connecting.check_ca(hub.read_ca(hub_api(), spec.hub.namespace, secret),
                                       f"Secret {spec.hub.namespace}/{secret}")
        except hub.HubError as exc:
            err.print(f"error: {exc}", markup=False)
            raise typer.Exit(EXIT_FAILED) from None
    except connecting.ConnectError as exc:
        _bad(str(exc))


def _pulumi_ca(stack: str, stacks_dir: Path) -> str:
    """`caCertificate` from `pulumi stack output --json --show-secrets`, run in the project directory."""
    import json
    import shutil
    import subprocess

    project = stacks_dir.resolve().parent
    exe = shutil.which("pulumi")
    if exe is None:
        _bad("--ca-from pulumi: the pulumi CLI is not on PATH (or use --ca-from hub / --ca-file)")
    res = subprocess.run([exe, "stack", "output", "--json", "--show-secrets", "--stack", stack, "--non-interactive"],
                         cwd=project, capture_output=True, text=True, timeout=120, check=False)
    if res.returncode != 0:
        err.print(f"error: `pulumi stack output` in {project} exited {res.returncode}: {res.stderr.strip()[-800:]}",
                  markup=False)
        raise typer.Exit(EXIT_FAILED)
    try:
        value = json.loads(res.stdout).get("caCertificate")
    except (ValueError, AttributeError):
        value = None
    if not isinstance(value, str):
        err.print(f"error: stack {stack} has no caCertificate output (was `pulumi up` run?)", markup=False)
        raise typer.Exit(EXIT_FAILED)
    return value


def _hold(forward: Any) -> None:
    """Keep the port-forward open until Ctrl-C or SIGTERM."""
    import signal
    import threading

    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    out.print(f"forwarding {forward.address} -> {forward.description}; Ctrl-C to stop", markup=False)
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        forward.close()
    out.print(f"port-forward closed: the connection needs it open again (connect --port-forward --local-port "
              f"{forward.local_port})", markup=False)
