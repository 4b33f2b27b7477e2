"""Unit tests of the Flower runtime contract (federation/flower.py): argv and env, no processes."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from federation import flower
from tests.e2e.specs import make_spec

LAYOUT = flower.local_layout("/w")


def opt(argv: tuple[str, ...], flag: str) -> str:
    """The value following `flag` (exactly once)."""
    assert argv.count(flag) == 1, (flag, argv)
    return argv[argv.index(flag) + 1]


# --- SuperLink ----------------------------------------------------------------------------


def test_superlink_tls_defaults_and_container_host() -> None:
    proc = flower.superlink(make_spec(), flower.CONTAINER)
    argv = proc.argv
    assert argv[0] == "flower-superlink"
    assert opt(argv, "--host") == "0.0.0.0"
    # Its own port is hub.apiPort; hub.port belongs to the Fleet proxy in front of it.
    assert opt(argv, "--port") == "9093"
    assert opt(argv, "--isolation") == "process"
    assert opt(argv, "--ssl-certfile") == "/etc/flwr/tls/tls.crt"
    assert opt(argv, "--ssl-keyfile") == "/etc/flwr/tls/tls.key"
    assert opt(argv, "--ssl-ca-certfile") == "/etc/flwr/tls/ca.crt"
    assert "--insecure" not in argv
    assert opt(argv, "--database") == "/var/lib/flwr/state/state.db"
    assert "--disable-runtime-dependency-installation" in argv
    assert "--enable-supernode-auth" not in argv
    # Process isolation (the hub's default) authenticates the ServerApp SuperExec with the shared secret.
    assert opt(argv, "--superexec-auth-secret-file") == "/etc/flwr/superexec/secret"
    assert proc.tls and proc.scheme == "HTTPS" and proc.port == 9093 and proc.health_path == "/health"
    assert "/var/lib/flwr/state" in proc.writable_paths


def test_superlink_insecure_has_no_ssl_flags() -> None:
    spec = make_spec(hub={"tls": {"mode": "insecure", "allowInsecure": True}})
    proc = flower.superlink(spec, LAYOUT, host="127.0.0.1", port=12345)
    assert "--insecure" in proc.argv
    assert not any(a.startswith("--ssl-") for a in proc.argv)
    assert opt(proc.argv, "--host") == "127.0.0.1"
    assert opt(proc.argv, "--port") == "12345"
    assert proc.port == 12345 and not proc.tls and proc.scheme == "HTTP"


def test_superlink_database_in_memory_without_persistence() -> None:
    spec = make_spec(hub={"persistence": {"enabled": False}})
    assert opt(flower.superlink(spec, LAYOUT).argv, "--database") == ":flwr-in-memory:"
    assert opt(flower.superlink(make_spec(), LAYOUT).argv, "--database") == "/w/state/state.db"


def test_superlink_node_auth_and_process_isolation_secret() -> None:
    spec = make_spec(hub={"isolation": "process", "supernodeAuth": {"enabled": True}})
    argv = flower.superlink(spec, LAYOUT).argv
    assert "--enable-supernode-auth" in argv
    assert opt(argv, "--isolation") == "process"
    assert opt(argv, "--superexec-auth-secret-file") == "/w/secret/secret"
    assert flower.uses_superexec_secret(spec)
    assert flower.uses_superexec_secret(make_spec())
    subprocess_hub = make_spec(hub={"isolation": "subprocess", "allowSubprocessIsolation": True})
    assert not flower.uses_superexec_secret(subprocess_hub)
    assert "--superexec-auth-secret-file" not in flower.superlink(subprocess_hub, LAYOUT).argv


def test_superlink_runtime_dependency_installation_opt_in() -> None:
    spec = make_spec(hub={"runtimeDependencyInstallation": True})
    proc = flower.superlink(spec, LAYOUT)
    assert "--disable-runtime-dependency-installation" not in proc.argv
    assert "FLWR_DISABLE_RUNTIME_DEPENDENCY_INSTALLATION" not in proc.env


def test_superlink_listens_on_the_api_port_not_the_fleet_port() -> None:
    spec = make_spec(hub={"port": 8443, "apiPort": 9443})
    proc = flower.superlink(spec, LAYOUT)
    assert opt(proc.argv, "--port") == "9443" and proc.port == 9443


# --- SuperNode ----------------------------------------------------------------------------


def test_supernode_tls_and_node_config() -> None:
    spec = make_spec(pools=[{"name": "cpu", "nodeConfig": {"batch-size": 64, "label": 'a "b"', "gpu": False}}])
    proc = flower.supernode(spec, spec.pools[0], flower.CONTAINER, superlink_address="superlink.ns:8000",
                            cluster_name="c1", extra_node_config={"partition-id": 0})
    argv = proc.argv
    assert argv[0] == "flower-supernode"
    assert opt(argv, "--superlink") == "superlink.ns:8000"
    assert opt(argv, "--root-certificates") == "/etc/flwr/tls/ca.crt"
    assert "--insecure" not in argv
    assert "--auth-supernode-private-key" not in argv
    assert opt(argv, "--host") == "0.0.0.0"
    assert opt(argv, "--port") == str(flower.SUPERNODE_RUNTIME_PORT)
    assert opt(argv, "--isolation") == "subprocess"
    assert opt(argv, "--node-config") == 'batch-size=64 cluster-name="c1" gpu=false label="a \\u0022b\\u0022" partition-id=0'
    # No dependency installation on SuperNodes (the flag is off by default there).
    assert "--allow-runtime-dependency-installation" not in argv
    assert proc.tls is False


def test_supernode_insecure_auth_and_process_isolation() -> None:
    spec = make_spec(hub={"supernodeAuth": {"enabled": True}}, pools=[{"name": "cpu", "isolation": "process"}])
    argv = flower.supernode(spec, spec.pools[0], LAYOUT, superlink_address="127.0.0.1:1", cluster_name="x",
                            host="127.0.0.1", port=4242).argv
    assert opt(argv, "--auth-supernode-private-key") == "/w/auth/private-key"
    assert opt(argv, "--isolation") == "process"
    assert opt(argv, "--port") == "4242" and opt(argv, "--host") == "127.0.0.1"
    insecure = make_spec(hub={"tls": {"mode": "insecure", "allowInsecure": True}})
    argv = flower.supernode(insecure, insecure.pools[0], LAYOUT, superlink_address="h:1", cluster_name="x").argv
    assert "--insecure" in argv and "--root-certificates" not in argv


def test_node_config_cluster_name_always_from_the_argument() -> None:
    spec = make_spec()
    argv = flower.supernode(spec, spec.pools[0], LAYOUT, superlink_address="h:1", cluster_name="real",
                            extra_node_config={"cluster-name": "other"}).argv
    assert opt(argv, "--node-config") == 'cluster-name="real"'


def test_node_config_survives_shell_quoting() -> None:
    value = flower.format_node_config({"cluster-name": "c 1", "lr": 0.5, "n": 3, "flag": True})
    assert value == 'cluster-name="c 1" flag=true lr=0.5 n=3'
    # One argv element: a shell round trip keeps it intact.
    assert shlex.split(shlex.join(["--node-config", value])) == ["--node-config", value]


@pytest.mark.parametrize(("value", "rendered"), [(1, "1"), (1.5, "1.5"), (True, "true"), ("s", '"s"'), ("a\\b", '"a\\\\b"')])
def test_format_node_config_values_are_toml(value: Any, rendered: str) -> None:
    assert flower.format_node_config({"k": value}) == f"k={rendered}"


_KEYS = st.from_regex(r"[a-z][a-z0-9_-]{0,15}", fullmatch=True)
_VALUES = st.one_of(
    st.text(max_size=40),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False),
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(_KEYS, _VALUES, max_size=6))
def test_flower_parses_back_every_node_config(config: dict[str, Any]) -> None:
    """Flower's own parser (`flwr run`, `flower-supernode`) reads every value back exactly: quotes, newlines, `=`."""
    from flwr.common.config import parse_config_args

    assert parse_config_args([flower.format_node_config(config)]) == config


def test_dotted_keys_parse_as_flat_keys() -> None:
    from flwr.common.config import parse_config_args

    config = {"data.path": "/d", "data.split": 0.2, "lr": 1}
    assert parse_config_args([flower.format_node_config(config)]) == config


def test_quotes_and_newlines_reach_flower_intact() -> None:
    from flwr.common.config import parse_config_args

    config = {"note": 'say "hi"\nbye', "path": "C:\\data\\x", "eq": "a=b c=d", "quote": "it's"}
    rendered = flower.format_node_config(config)
    assert '\\u0022' in rendered and "\n" not in rendered  # one line, no bare quote inside a value
    assert parse_config_args([rendered]) == config


# --- SuperExec ----------------------------------------------------------------------------


def test_serverapp_superexec_with_secret_and_tls() -> None:
    spec = make_spec(hub={"isolation": "process"})
    proc = flower.serverapp_superexec(spec, flower.CONTAINER, superlink_host="superlink")
    argv = proc.argv
    assert argv[0] == "flower-superexec"
    assert opt(argv, "--runtime-api-address") == "superlink:9093"  # hub.apiPort, not the proxy's port
    assert opt(argv, "--root-certificates") == "/etc/flwr/tls/ca.crt"
    assert opt(argv, "--superexec-auth-secret-file") == "/etc/flwr/superexec/secret"
    assert "--parent-pid" not in argv
    assert "--allow-runtime-dependency-installation" not in argv
    # Plaintext gRPC health for the kubelet's liveness probe.
    assert opt(argv, "--health-server-address") == f"0.0.0.0:{flower.GRPC_HEALTH_PORT}"
    assert proc.grpc_health_port == flower.GRPC_HEALTH_PORT and proc.port is None
    local = flower.serverapp_superexec(spec, LAYOUT, superlink_host="127.0.0.1", port=5555)
    assert opt(local.argv, "--runtime-api-address") == "127.0.0.1:5555"


def test_serverapp_superexec_insecure() -> None:
    spec = make_spec(hub={"isolation": "process", "tls": {"mode": "insecure", "allowInsecure": True}})
    argv = flower.serverapp_superexec(spec, LAYOUT, superlink_host="127.0.0.1").argv
    assert "--insecure" in argv and "--root-certificates" not in argv


def test_clientapp_superexec_dials_its_supernode_plain_http_with_the_node_secret() -> None:
    argv = flower.clientapp_superexec(LAYOUT, supernode_host=flower.LOOPBACK).argv
    assert argv == ("flower-superexec", "--runtime-api-address", "127.0.0.1:9094", "--insecure",
                    "--superexec-auth-secret-file", "/w/secret/secret", "--health-server-address", "0.0.0.0:9099")
    bare = flower.clientapp_superexec(LAYOUT, supernode_host="h", secret=False, health_port=None).argv
    assert bare == ("flower-superexec", "--runtime-api-address", "h:9094", "--insecure")


def test_supernode_in_process_isolation_requires_the_secret_of_its_superexec() -> None:
    spec = make_spec(pools=[{"name": "cpu", "isolation": "process"}])
    process = spec.pools[0]
    subprocess_ = process.model_copy(update={"isolation": "subprocess"})
    argv = flower.supernode(spec, process, LAYOUT, superlink_address="h:1", cluster_name="c").argv
    assert opt(argv, "--superexec-auth-secret-file") == "/w/secret/secret"
    argv = flower.supernode(spec, subprocess_, LAYOUT, superlink_address="h:1", cluster_name="c").argv
    assert "--superexec-auth-secret-file" not in argv


def test_superexec_parent_pid() -> None:
    argv = flower.superexec(LAYOUT, runtime_api_address="h:1", tls=True, secret=True, parent_pid=42).argv
    assert opt(argv, "--parent-pid") == "42"
    assert opt(argv, "--superexec-auth-secret-file") == "/w/secret/secret"


# --- environment and layout -------------------------------------------------------------


def test_environment_offline_defaults() -> None:
    env = flower.environment(LAYOUT)
    assert env == {
        "FLWR_HOME": "/w/flwr-home",
        "FLWR_TELEMETRY_ENABLED": "0",
        "FLWR_DISABLE_UPDATE_CHECK": "1",
        "FLWR_DISABLE_RUNTIME_DEPENDENCY_INSTALLATION": "1",
    }
    assert "FLWR_DISABLE_RUNTIME_DEPENDENCY_INSTALLATION" not in flower.environment(LAYOUT, dependency_installation=True)


def test_container_environment_sets_home() -> None:
    env = flower.environment(flower.CONTAINER)
    assert env["HOME"] == "/app" and env["FLWR_HOME"] == "/var/lib/flwr/home"
    assert set(flower.CONTAINER.writable_paths()) >= {"/var/lib/flwr/home", "/app/.cache", "/tmp"}


def test_every_process_gets_the_contract_env() -> None:
    spec = make_spec(pools=[{"name": "cpu", "isolation": "process"}])
    procs = [
        flower.superlink(spec, LAYOUT),
        flower.supernode(spec, spec.pools[0], LAYOUT, superlink_address="h:1", cluster_name="c"),
        flower.serverapp_superexec(spec, LAYOUT, superlink_host="h"),
        flower.clientapp_superexec(LAYOUT, supernode_host="h"),
    ]
    for proc in procs:
        assert proc.env["FLWR_HOME"] == "/w/flwr-home"
        assert proc.env["FLWR_TELEMETRY_ENABLED"] == "0"
        assert proc.env["FLWR_DISABLE_UPDATE_CHECK"] == "1"
        assert proc.env["FLWR_DISABLE_RUNTIME_DEPENDENCY_INSTALLATION"] == "1"


def test_local_layout_paths() -> None:
    layout = flower.local_layout("/tmp/x")
    assert layout.flwr_home == "/tmp/x/flwr-home"
    assert layout.database == "/tmp/x/state/state.db"
    assert layout.ca_cert == "/tmp/x/tls/ca.crt"
    assert layout.node_private_key == "/tmp/x/auth/private-key"
    assert layout.superexec_secret == "/tmp/x/secret/secret"
    assert layout.home is None


def test_tls_files_land_where_the_layout_points(tmp_path: Path) -> None:
    from federation import tls as tls_mod

    layout = flower.local_layout(str(tmp_path))
    ca = tls_mod.generate_ca(validity_days=2)
    cert = tls_mod.issue_server_certificate(ca, dns_names=["localhost"], ip_addresses=[], validity_days=1)
    paths = tls_mod.write_tls_files(Path(layout.tls_dir), cert)
    assert (str(paths.ca_cert), str(paths.cert), str(paths.key)) == (layout.ca_cert, layout.server_cert, layout.server_key)


# --- releases and the SQLite state backup ------------------------------------------------


def test_release_table_covers_every_supported_version_and_the_default() -> None:
    from federation.spec import DEFAULT_FLOWER_VERSION, SUPPORTED_FLOWER_VERSIONS

    assert set(flower.RELEASES) == set(SUPPORTED_FLOWER_VERSIONS)
    assert flower.FLOWER_VERSION == DEFAULT_FLOWER_VERSION
    assert flower.release("1.41.0").version == "1.41.0"
    with pytest.raises(KeyError, match=r"1\.40\.0 is not verified"):
        flower.release("1.40.0")


def _contract_flags() -> dict[str, set[str]]:
    """Every flag any contract builder emits, over specs that switch every option on and off."""
    specs = [
        make_spec(),
        make_spec(hub={"tls": {"mode": "insecure", "allowInsecure": True}, "isolation": "subprocess",
                       "allowSubprocessIsolation": True, "runtimeDependencyInstallation": True,
                       "persistence": {"enabled": False}}),
        make_spec(hub={"supernodeAuth": {"enabled": True}}, pools=[{"name": "cpu", "isolation": "process"}]),
    ]
    used: dict[str, set[str]] = {}
    for spec in specs:
        procs = [flower.superlink(spec, LAYOUT), flower.serverapp_superexec(spec, LAYOUT, superlink_host="h"),
                 flower.clientapp_superexec(LAYOUT, supernode_host="h"),
                 flower.superexec(LAYOUT, runtime_api_address="h:1", tls=True, secret=True, parent_pid=1),
                 flower.superexec(LAYOUT, runtime_api_address="h:1", tls=False, executor_config="/c.yaml")]
        procs += [flower.supernode(spec, pool, LAYOUT, superlink_address="h:1", cluster_name="c") for pool in spec.pools]
        for proc in procs:
            used.setdefault(proc.argv[0], set()).update(a for a in proc.argv if a.startswith("--"))
    return used


def test_every_flag_the_contract_emits_is_in_each_release_table() -> None:
    used = _contract_flags()
    for version, rel in flower.RELEASES.items():
        for binary, flags in used.items():
            assert flags <= rel.flags[binary], (version, binary, flags - rel.flags[binary])


def test_state_backup_copies_the_database_once_per_version(tmp_path: Path) -> None:
    import sqlite3
    import subprocess
    import sys

    layout = flower.local_layout(str(tmp_path))
    proc = flower.state_backup(layout, "1.42.0")
    assert proc.writable_paths == (layout.state_dir,)
    # No line of the script starts with whitespace (see _STATE_BACKUP).
    assert not [line for line in proc.argv[2].splitlines() if line[:1].isspace()]

    def run() -> str:
        out = subprocess.run([sys.executable, *proc.argv[1:]], check=True, capture_output=True, text=True)
        return out.stdout

    assert "nothing to back up" in run()
    Path(layout.state_dir).mkdir()
    db = sqlite3.connect(layout.database)
    db.execute("create table t (v text)")
    db.execute("insert into t values ('before')")
    db.commit()
    assert "backed up" in run()
    backup = Path(f"{layout.database}.bak-1.42.0")
    db.execute("update t set v = 'after'")
    db.commit()
    db.close()
    assert "kept as is" in run()  # a restart of the same version keeps the pre-migration copy
    copy = sqlite3.connect(backup)
    assert copy.execute("select v from t").fetchall() == [("before",)]
    copy.close()
    assert not Path(f"{backup}.tmp").exists()


# --- the Kubernetes executor (task pods) ---------------------------------------------------


def test_superexec_kubernetes_executor_flags_only_with_a_config() -> None:
    plain = flower.clientapp_superexec(flower.CONTAINER, supernode_host="sn")
    assert "--executor" not in plain.argv and "--executor-config" not in plain.argv
    path = flower.executor_config_path()
    assert path == "/etc/flwr/executor/executor.yaml"
    client = flower.clientapp_superexec(flower.CONTAINER, supernode_host="sn.ns.svc", executor_config=path)
    assert opt(client.argv, "--executor") == "kubernetes"
    assert opt(client.argv, "--executor-config") == path
    assert opt(client.argv, "--runtime-api-address") == "sn.ns.svc:9094"
    server = flower.serverapp_superexec(make_spec(hub={"isolation": "process"}), flower.CONTAINER,
                                        superlink_host="api.ns.svc", executor_config=path)
    assert opt(server.argv, "--executor") == "kubernetes" and opt(server.argv, "--executor-config") == path
    # The task pods get the CA from the SuperExec's own --root-certificates (Flower copies it into <pod>-appio).
    assert opt(server.argv, "--root-certificates") == flower.CONTAINER.ca_cert


def test_flowers_own_parser_reads_the_executor_flags() -> None:
    from flwr.supercore.cli.flower_superexec import _parse_args
    from flwr.supercore.constant import ExecutorType

    proc = flower.clientapp_superexec(flower.CONTAINER, supernode_host="sn.ns.svc",
                                      executor_config=flower.executor_config_path())
    args = _parse_args().parse_args(list(proc.argv[1:]))
    assert args.executor == ExecutorType.KUBERNETES
    assert args.executor_config == flower.executor_config_path()
    assert args.runtime_api_address == "sn.ns.svc:9094" and args.insecure


def test_installed_superexec_help_lists_the_executor_flags() -> None:
    import subprocess
    import sys

    binary = Path(sys.executable).parent / "flower-superexec"
    out = subprocess.run([str(binary), "--help"], capture_output=True, text=True, timeout=60, check=True,
                         env={"PATH": "/usr/bin:/bin", "FLWR_TELEMETRY_ENABLED": "0", "FLWR_DISABLE_UPDATE_CHECK": "1",
                              "HOME": "/nonexistent"}).stdout
    assert "--executor {subprocess,kubernetes}" in out and "--executor-config PATH" in out


def test_task_executor_env_and_scratch_match_the_spec_constants() -> None:
    from federation.spec import TASK_CONTRACT_ENV, TASK_CONTRACT_PATHS

    task = flower.task_executor(flower.CONTAINER)
    # The spec refuses user env/mounts that collide with these: keep its lists equal to the contract.
    assert set(task.env) == set(TASK_CONTRACT_ENV)
    assert set(task.writable_paths) == set(TASK_CONTRACT_PATHS)
    assert task.env["FLWR_HOME"] == flower.CONTAINER.flwr_home and task.env["FLWR_TELEMETRY_ENABLED"] == "0"
    assert task.env["FLWR_DISABLE_RUNTIME_DEPENDENCY_INSTALLATION"] == "1"
    assert "FLWR_DISABLE_RUNTIME_DEPENDENCY_INSTALLATION" not in flower.task_executor(
        flower.CONTAINER, dependency_installation=True).env


def test_appio_mount_path_is_flowers() -> None:
    from flwr.supercore.superexec.executor import kubernetes_executor as k

    assert flower.APPIO_MOUNT_PATH == k.APPIO_CREDENTIALS_MOUNT_PATH
    from flwr.supercore.constant import TASK_TYPE_TO_COMMAND, TaskType

    assert {TASK_TYPE_TO_COMMAND[TaskType.SERVER_APP], TASK_TYPE_TO_COMMAND[TaskType.CLIENT_APP]} == set(flower.TASK_COMMANDS)


def test_task_argv_is_what_flowers_executor_builds() -> None:
    from flwr.supercore.constant import TaskType
    from flwr.supercore.superexec.executor import kubernetes_executor as k
    from flwr.supercore.superexec.executor.types import ExecutionSpec

    for tls in (False, True):
        spec = ExecutionSpec(task_type=TaskType.SERVER_APP, runtime_api_address="api.ns.svc:9093", token="t",
                             insecure=False, root_certificates_path=None, runtime_dependency_install=False,
                             parent_pid=None, suppress_output=False, task_id=1)
        expected = k._taskexecutor_args(spec, "PEM" if tls else None)
        assert flower.task_argv("flwr-serverapp", "api.ns.svc:9093", root_certificates=tls) == ("flwr-serverapp", *expected)
