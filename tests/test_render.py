"""`render`: the program's objects as YAML, deterministic, secrets only on request; `check` via the CLI."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from federation import planning, render, tls
from federation.errors import SpecError
from federation.loading import load_stack, parse_spec, read_stack_config, stack_file
from tests.schemas import validate_object
from tests.test_cli import run_cli

REPO = Path(__file__).resolve().parents[1]
STACKS = REPO / "stacks"


@pytest.fixture(scope="module")
def ca_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ca") / "ca.crt"
    path.write_text(tls.generate_ca(validity_days=30).cert_pem)
    return path


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_planned_objects_are_schema_valid_and_keyless_without_material(stack: str, ca_file: Path) -> None:
    spec = load_stack(stack, STACKS)
    objs = planning.planned_objects(spec, material=None, ca_certificate=ca_file.read_text())
    for obj in objs:
        validate_object(obj)
    text = "".join(render.render_files(objs).values())
    assert "PRIVATE KEY" not in text
    assert not any(o["kind"] == "Secret" for o in objs)


def test_material_fills_the_secrets() -> None:
    spec = load_stack("prod", STACKS)
    objs = planning.planned_objects(spec, material=planning.generate_material(spec))
    secrets = {o["metadata"]["name"]: o for o in objs if o["kind"] == "Secret"}
    assert set(secrets) == {"flower-prod-superlink-tls", "flower-prod-superexec-secret"}
    tls_data = secrets["flower-prod-superlink-tls"]["stringData"]
    assert "BEGIN PRIVATE KEY" in tls_data["tls.key"]
    tls.verify_chain(tls_data["tls.crt"], tls_data["ca.crt"], server_name="flower-prod-superlink.flower-prod.svc")


def test_tls_needs_a_ca_to_render() -> None:
    spec = load_stack("dev", STACKS)
    with pytest.raises(SpecError, match="--ca-certificate"):
        planning.planned_objects(spec, material=None)


def test_insecure_renders_without_ca() -> None:
    data = read_stack_config(stack_file("dev", STACKS))
    assert isinstance(data, dict)
    data = copy.deepcopy(data)
    data["hub"]["tls"] = {"mode": "insecure", "allowInsecure": True}
    objs = planning.planned_objects(parse_spec(data), material=None)
    templates = [o for o in objs if o["kind"] == "AddOnTemplate"]
    assert templates
    for t in templates:
        manifests = t["spec"]["agentSpec"]["workload"]["manifests"]
        assert not any(m["kind"] == "ConfigMap" for m in manifests)
        node = next(m for m in manifests if m["kind"] == "Deployment")
        assert "--insecure" in node["spec"]["template"]["spec"]["containers"][0]["args"]


def test_cli_render_is_deterministic_and_complete(tmp_path: Path, ca_file: Path) -> None:
    outs = []
    for run in ("a", "b"):
        out = tmp_path / run
        res = run_cli("render", "--stack", "prod", "--out", str(out), "--ca-certificate", str(ca_file))
        assert res.returncode == 0, res.stderr
        outs.append({p.name: p.read_bytes() for p in sorted(out.iterdir())})
    assert outs[0] == outs[1]
    files = outs[0]
    kustomization = yaml.safe_load(files.pop("kustomization.yaml"))
    assert b"Secrets to create before applying" in files.pop("REQUIRED-SECRETS.md")  # not a resource: kustomize ignores it
    assert kustomization["resources"] == sorted(files)
    docs = [yaml.safe_load(v) for _, v in sorted(files.items())]
    spec = load_stack("prod", STACKS)
    assert docs == planning.planned_objects(spec, material=None, ca_certificate=ca_file.read_text())


def test_cli_render_replaces_its_own_files_only(tmp_path: Path, ca_file: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "999-stale.yaml").write_text("kind: Stale\n")
    assert run_cli("render", "--stack", "dev", "--out", str(out), "--ca-certificate", str(ca_file)).returncode == 0
    assert not (out / "999-stale.yaml").exists()
    (out / "notes.txt").write_text("mine")
    res = run_cli("render", "--stack", "dev", "--out", str(out), "--ca-certificate", str(ca_file))
    assert res.returncode == 2 and "holds files render did not write" in res.stderr


def test_cli_render_include_secrets_warns(tmp_path: Path) -> None:
    res = run_cli("render", "--stack", "dev", "--out", str(tmp_path / "o"), "--include-secrets")
    assert res.returncode == 0, res.stderr
    assert "warning" in res.stderr and "plain text" in res.stderr
    assert any("BEGIN PRIVATE KEY" in p.read_text() for p in (tmp_path / "o").iterdir())


def test_cli_render_bad_input_writes_nothing(tmp_path: Path) -> None:
    res = run_cli("render", "--stack", "dev", "--out", str(tmp_path / "o"))
    assert res.returncode == 2 and "federation.hub.tls:" in res.stderr
    assert not (tmp_path / "o").exists()


# --- check ----------------------------------------------------------------------------------------


def _weakened(tmp_path: Path) -> Path:
    doc: dict[str, Any] = yaml.safe_load((STACKS / "Pulumi.prod.yaml").read_text())
    fed = doc["config"]["flower:federation"]
    fed["hub"]["exposure"]["loadBalancerSourceRanges"] = []
    fed["hub"]["supernodeAuth"] = {"enabled": False}
    fed["hub"]["persistence"]["enabled"] = False
    fed["flower"]["images"]["superlink"] = "registry.example.com/flwr/superlink:1.41.0"
    del fed["pools"][0]["selection"]["numberOfClusters"]
    path = tmp_path / "Pulumi.weak.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def test_check_prod_passes() -> None:
    res = run_cli("check", "--stack", "prod")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "passed 15 rules" in res.stdout and "production settings" in res.stdout


def test_check_advises_automatic_key_registration_in_production(tmp_path: Path) -> None:
    doc: dict[str, Any] = yaml.safe_load((STACKS / "Pulumi.prod.yaml").read_text())
    doc["config"]["flower:federation"]["hub"]["supernodeAuth"]["registration"] = "Manual"
    path = tmp_path / "Pulumi.manual.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    res = run_cli("check", "--file", str(path))
    assert res.returncode == 0, res.stdout + res.stderr
    assert "supernode-keys-registered-automatically" in res.stdout and "advisory" in res.stdout
    assert "passed with warnings 0 mandatory and 1 advisory" in res.stdout


def test_check_weakened_prod_fails_with_named_rules(tmp_path: Path) -> None:
    res = run_cli("check", "--file", str(_weakened(tmp_path)))
    assert res.returncode == 1
    for rule in ("loadbalancer-source-ranges", "supernode-auth-in-production", "superlink-state-persisted",
                 "placements-bounded-in-production", "images-pinned"):
        assert rule in res.stdout, rule
    assert "no-insecure-transport" not in res.stdout
    assert "mandatory" in res.stderr and "failed" in res.stderr


def test_check_advisory_only_exits_0(tmp_path: Path) -> None:
    path = _weakened(tmp_path)
    doc = yaml.safe_load(path.read_text())
    doc["config"]["flower:policy"]["enforcement"] = {
        r: "advisory" for r in ("loadbalancer-source-ranges", "supernode-auth-in-production", "superlink-state-persisted",
                                "placements-bounded-in-production", "images-pinned")}
    path.write_text(yaml.safe_dump(doc))
    res = run_cli("check", "--file", str(path))
    assert res.returncode == 0, res.stdout + res.stderr
    assert "passed with warnings" in res.stdout


def test_check_bad_policy_settings_exit_2(tmp_path: Path) -> None:
    doc = yaml.safe_load((STACKS / "Pulumi.prod.yaml").read_text())
    doc["config"]["flower:policy"]["strict"] = True
    path = tmp_path / "Pulumi.p.yaml"
    path.write_text(yaml.safe_dump(doc))
    res = run_cli("check", "--file", str(path))
    assert res.returncode == 2 and "policy.strict: unknown key 'strict'" in res.stderr


def test_check_writes_pack_config(tmp_path: Path) -> None:
    import json

    target = tmp_path / "pack.json"
    assert run_cli("check", "--stack", "prod", "--write-pack-config", str(target)).returncode == 0
    config = json.loads(target.read_text())
    assert config["supernode-auth-in-production"] == {
        "enforcementLevel": "mandatory", "production": True, "allowInsecure": False, "requireImageDigests": True}


def test_libyaml_and_pure_python_dumpers_write_the_same_bytes() -> None:
    from federation.render import _PureDumper

    spec = load_stack("prod", STACKS)
    for obj in planning.planned_objects(spec, material=planning.generate_material(spec)):
        assert render.to_yaml(obj) == render.to_yaml(obj, dumper=_PureDumper)


# --- the Secrets render leaves out (issue #18.4) -----------------------------------------------------------------


def _dev(**hub: Any) -> Any:
    data = read_stack_config(stack_file("dev", STACKS))
    assert isinstance(data, dict)
    data = copy.deepcopy(data)
    data["hub"].update(hub)
    return data


def _referenced_secrets(objs: list[dict[str, Any]]) -> dict[tuple[str, str], set[str]]:
    """(namespace, name) → keys of every Secret a top-level (hub) pod template mounts or pulls with."""
    refs: dict[tuple[str, str], set[str]] = {}
    for obj in objs:
        pod = obj.get("spec", {}).get("template", {}).get("spec") if obj["kind"] == "Deployment" else None
        if not pod:
            continue
        ns = obj["metadata"]["namespace"]
        for vol in pod.get("volumes", []):
            if "secret" in vol:
                refs.setdefault((ns, vol["secret"]["secretName"]), set()).update(
                    i["key"] for i in vol["secret"].get("items", []))
        for pull in pod.get("imagePullSecrets", []):
            refs.setdefault((ns, pull["name"]), set()).add(".dockerconfigjson")
    return refs


@pytest.mark.parametrize("variant", ["generate", "existing", "insecure-subprocess", "auth-and-pull"])
def test_omitted_secrets_are_exactly_the_unrendered_secrets_the_hub_pods_mount(variant: str, ca_file: Path) -> None:
    hub_overrides: dict[str, Any] = {
        "generate": {},
        "existing": {"tls": {"mode": "existingSecret", "secretName": "mine"}, "createNamespace": False},
        "insecure-subprocess": {"tls": {"mode": "insecure", "allowInsecure": True}, "isolation": "subprocess",
                                "allowSubprocessIsolation": True},
        "auth-and-pull": {"supernodeAuth": {"enabled": True}},
    }[variant]
    data = _dev(**hub_overrides)
    if variant == "auth-and-pull":
        data.setdefault("flower", {})["imagePullSecrets"] = ["regcred"]
    spec = parse_spec(data)
    objs = planning.planned_objects(spec, material=None, ca_certificate=ca_file.read_text())
    rendered = {(o["metadata"].get("namespace"), o["metadata"]["name"]) for o in objs if o["kind"] == "Secret"}
    missing = {k: v for k, v in _referenced_secrets(objs).items() if k not in rendered}
    required = planning.omitted_secrets(spec, material=None)
    hub_listed = {(r.namespace, r.name): set(r.keys) for r in required if r.cluster == "hub"}
    assert hub_listed == missing
    spokes = [r for r in required if r.cluster == "spokes"]
    if spec.hub.supernode_auth.enabled:
        (auth,) = spokes
        assert (auth.namespace, auth.keys) == (spec.distribution.ocm.agent_namespace, ("private-key",))
        # ...the name the SuperNode pods in the AddOnTemplates mount.
        assert f'"secretName": "{auth.name}"' in __import__("json").dumps(objs)
    else:
        assert spokes == []


def test_with_material_only_the_users_own_secrets_are_left_out() -> None:
    spec = parse_spec(_dev())
    assert planning.omitted_secrets(spec, material=planning.generate_material(spec)) == []
    existing = parse_spec(_dev(tls={"mode": "existingSecret", "secretName": "mine"}, createNamespace=False))
    (mine,) = planning.omitted_secrets(existing, material=planning.generate_material(existing))
    assert (mine.name, mine.type, mine.keys) == ("mine", "kubernetes.io/tls", ("tls.crt", "tls.key", "ca.crt"))
    assert mine.sans[:2] == ("flower-dev-superlink-api", "flower-dev-superlink-api.flower-dev.svc")


def test_required_secrets_file_is_written_next_to_the_objects_and_replaced(tmp_path: Path, ca_file: Path) -> None:
    spec = parse_spec(_dev())
    objs = planning.planned_objects(spec, material=None, ca_certificate=ca_file.read_text())
    files = render.render_files(objs, planning.omitted_secrets(spec, material=None))
    assert render.object_count(files) == len(objs)
    out = tmp_path / "out"
    render.write_files(out, files)
    text = (out / render.REQUIRED_SECRETS_FILE).read_text()
    assert "| hub | flower-dev | `flower-dev-superlink-tls` | `kubernetes.io/tls` | `tls.crt`, `tls.key`, `ca.crt` |" in text
    assert "kubectl -n flower-dev create secret generic flower-dev-superexec-secret --from-file=secret=" in text
    # Not YAML: kustomize and `kubectl apply -f out/` never see it.
    assert render.REQUIRED_SECRETS_FILE not in yaml.safe_load((out / "kustomization.yaml").read_text())["resources"]
    # A second render into the same directory is allowed, and drops the list when nothing is left out.
    render.write_files(out, render.render_files(objs, []))
    assert not (out / render.REQUIRED_SECRETS_FILE).exists()


@pytest.mark.skipif(__import__("shutil").which("openssl") is None, reason="needs the openssl CLI")
def test_the_documented_openssl_commands_make_a_secret_the_superlink_accepts(tmp_path: Path) -> None:
    """The commands REQUIRED-SECRETS.md prints, run by the real openssl, pass the deploy-time check."""
    import base64
    import subprocess

    from federation.manifests import hub

    spec = parse_spec(_dev(tls={"mode": "existingSecret", "secretName": "mine"}, createNamespace=False))
    (tls_secret,) = [r for r in planning.omitted_secrets(spec, material=None) if r.type == "kubernetes.io/tls"]
    script = "\n".join(render.openssl_commands(tls_secret.sans, tls_secret.sans[0]))
    assert script in render.required_secrets_markdown([tls_secret])
    subprocess.run(["bash", "-euc", script], cwd=tmp_path, check=True, capture_output=True)
    data = {k: base64.b64encode((tmp_path / f).read_bytes()).decode()
            for k, f in (("tls.crt", "server.crt"), ("tls.key", "server.key"), ("ca.crt", "ca.crt"))}
    checked = hub.check_tls_secret(spec, data)
    assert checked.ca_certificate == (tmp_path / "ca.crt").read_text()
    for name in tls_secret.sans:
        tls.verify_chain((tmp_path / "server.crt").read_text(), checked.ca_certificate, server_name=name)


def test_docs_gitops_shows_the_commands_render_prints_for_dev() -> None:
    """docs/gitops.md quotes the OpenSSL commands for stacks/Pulumi.dev.yaml: they stay what render prints."""
    spec = load_stack("dev", STACKS)
    (tls_secret,) = [r for r in planning.omitted_secrets(spec, material=None) if r.type == "kubernetes.io/tls"]
    doc = (REPO / "docs" / "gitops.md").read_text()
    assert "\n".join(render.openssl_commands(tls_secret.sans, tls_secret.sans[0])) in doc
    for line in render.required_secrets_markdown(planning.omitted_secrets(spec, material=None)).splitlines():
        if line.startswith(("kubectl ", "  --from-file", "openssl rand")):
            assert line in doc, line
