"""End to end on the real control plane: what OCM delivers to real spokes runs, and Flower federates across them.

The rig runs a hub (kube-apiserver, controller-manager, scheduler, OCM's placement, addon and work
managers) and two spokes `e2e-1`, `e2e-2` (each its own kube-apiserver and controller-manager and
OCM's work agent), plus rig/podrunner.py playing the kubelet on all three: every pod of the hub
namespace `flower-e2e` and of the spokes runs the real Flower binaries from .venv (nginx for the
Fleet proxy) in its own network namespace. `pulumi up` of e2e_stack.yaml (real engine), then:

- the hub Deployments (SuperLink, ServerApp SuperExec, Fleet proxy) and on each spoke the SuperNode
  (from the addon manager's ManifestWork) and ClientApp SuperExec (from the ManifestWorkReplicaSet)
  Deployments are Available, their pods Ready on the runner's nodes (found by the federation's labels,
  whatever agent namespace the addon uses);
- SuperNode authentication with `registration: Automatic`: each SuperNode generates its key on its
  spoke, the work agent feeds the public key back to the hub, the hub's registrar registers it; `flwr
  supernode list` (through the rig's port-forward to the SuperLink's Control API) shows one online
  SuperNode per spoke, registered as `ocm:<spoke>`, with no manual step; a SuperNode with a key
  nobody published is refused; no private key is on the hub;
- `flwr run` of examples/quickstart-numpy completes 2 rounds;
- the SuperLink pod deleted: the new pod comes back with the runs in its PVC's state, the SuperNodes
  reconnect and the next run completes;
- a spoke moved out of the pool's cluster set loses its SuperNode and its key is unregistered from
  the SuperLink; moved in again, it gains a SuperNode with a new key, registered, without `pulumi up`;
- `pulumi destroy` stops every pod and removes everything, on the hub and on the spokes.

`make e2e-cluster` runs it. It needs root (network namespaces), the rig built (`make rig`) and nginx.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from federation.local.progress import RunProgress
from tests.cluster.conftest import REPO, RIG, Project, Rig, copy_project, missing_rig_binaries, read_env

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(2400)]

HERE = Path(__file__).parent
SPOKES = ("e2e-1", "e2e-2")
HUB_NS = "flower-e2e"
HUB_TASK_NS = f"{HUB_NS}-tasks"  # the ServerApp task pods' namespace (hub.superexec.taskPods)
STACK = "e2e"
NAME = "flower-e2e"


def wait(what: str, check: Callable[[], Any], timeout: float, every: float = 2.0) -> Any:
    """Poll CHECK until it returns something truthy; fail naming WHAT and the last value/error."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
            if last:
                return last
        except Exception as e:  # the cluster is converging: keep the last error for the message
            last = f"{type(e).__name__}: {e}"
        time.sleep(every)
    raise AssertionError(f"{what}: not reached after {timeout:.0f}s (last: {str(last)[:1500]})")


class State:
    """What the ordered tests of this module hand on to each other."""

    up = False
    forward: subprocess.Popen[str] | None = None
    flwr_home: Path | None = None
    #: The port-forward's local address of the SuperLink's own port, and the CA file (the Control API).
    address: str | None = None
    ca: Path | None = None


def control() -> Any:
    """The SuperLink's Control API through the port-forward, with the registrar's own client (names and keys)."""
    from federation.agents.registrar import FlowerControl

    assert State.address is not None and State.ca is not None
    return FlowerControl(State.address, str(State.ca))


def registered() -> dict[str, tuple[str, bytes]]:
    """Node name -> (status, public key) of the nodes the registrar owns (`ocm:<cluster>`), registered or not."""
    return {n.name: (n.status, n.public_key) for n in control().list_nodes() if n.name.startswith("ocm:")
            and n.status != "unregistered"}


@pytest.fixture(scope="module")
def e2e_rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    missing = missing_rig_binaries()
    if missing:
        pytest.fail(f"the rig is not built (missing {missing}): run `make rig`")
    if os.geteuid() != 0:
        pytest.fail("the end-to-end test needs root: network namespaces for the pods")
    if not (shutil.which("nginx") or os.access("/usr/sbin/nginx", os.X_OK)):
        pytest.fail("nginx is missing (apt-get install nginx-light): the Fleet proxy pod runs it")
    d = tmp_path_factory.mktemp("e2e-rig")
    args = [str(RIG), "up", str(d), "--context", "hub-e2e", "--pod-namespace", HUB_NS, "--pod-namespace", HUB_TASK_NS]
    for s in SPOKES:
        args += ["--spoke", s]
    started = time.monotonic()
    up = subprocess.run(args, capture_output=True, text=True, timeout=600, check=False)
    try:
        assert up.returncode == 0, f"rig up failed:\n{up.stderr[-4000:]}"
        reg = subprocess.run([str(RIG), "clusters", str(d), str(HERE / "e2e_clusters.yaml")],
                             capture_output=True, text=True, timeout=120, check=False)
        assert reg.returncode == 0, reg.stderr[-4000:]
        print(f"[e2e] rig with spokes {', '.join(SPOKES)} up in {time.monotonic() - started:.0f}s", flush=True)
        yield Rig(d, read_env(d / "env"))
    finally:
        if State.forward is not None and State.forward.poll() is None:
            State.forward.terminate()
            State.forward.wait(10)
        subprocess.run([str(RIG), "down", str(d)], capture_output=True, text=True, timeout=180, check=False)


@pytest.fixture(scope="module")
def e2e_project(e2e_rig: Rig, tmp_path_factory: pytest.TempPathFactory) -> Project:
    root = tmp_path_factory.mktemp("e2e-project") / "project"
    copy_project(root)
    shutil.copy2(HERE / "e2e_stack.yaml", root / "stacks" / f"Pulumi.{STACK}.yaml")
    project = Project(root, e2e_rig)
    project.init(STACK)
    return project


def deployment_available(rig: Rig, context: str, namespace: str, name: str) -> bool:
    from kubernetes.client.exceptions import ApiException

    try:
        dep = rig.apps(context).read_namespaced_deployment(name, namespace)
    except ApiException as e:
        if e.status == 404:
            return False
        raise
    conds = {c.type: c.status for c in dep.status.conditions or []}
    return conds.get("Available") == "True" and (dep.status.ready_replicas or 0) >= 1


def spoke_deployments(rig: Rig, spoke: str, component: str) -> list[Any]:
    """The federation's Deployments of COMPONENT (supernode, clientapp) on SPOKE, whatever namespace the addon uses."""
    sel = f"app.kubernetes.io/instance={NAME},app.kubernetes.io/component={component}"
    return list(rig.apps(f"spoke-{spoke}").list_deployment_for_all_namespaces(label_selector=sel).items)


def spoke_available(rig: Rig, spoke: str, component: str) -> bool:
    deps = spoke_deployments(rig, spoke, component)
    return bool(deps) and all(deployment_available(rig, f"spoke-{spoke}", d.metadata.namespace, d.metadata.name)
                              for d in deps)


def spoke_pods(rig: Rig, spoke: str, component: str) -> list[Any]:
    sel = f"app.kubernetes.io/instance={NAME},app.kubernetes.io/component={component}"
    return list(rig.core(f"spoke-{spoke}").list_pod_for_all_namespaces(label_selector=sel).items)


def pods(rig: Rig, context: str, namespace: str) -> list[Any]:
    return list(rig.core(context).list_namespaced_pod(namespace).items)


def flwr(*args: str, home: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "FLWR_HOME": str(home), "FLWR_TELEMETRY_ENABLED": "0", "FLWR_DISABLE_UPDATE_CHECK": "1",
           "PYTHONDONTWRITEBYTECODE": "1", "PATH": f"{REPO / '.venv' / 'bin'}:{os.environ.get('PATH', '')}"}
    return subprocess.run([str(REPO / ".venv" / "bin" / "flwr"), *args], env=env, capture_output=True, text=True,
                          timeout=timeout, check=False, cwd=home)


def test_pod_runner_container_sandbox(tmp_path: Path) -> None:
    """rig/podexec.py as the runner uses it: own netns and mount namespace, volumes bind-mounted, the pod's user."""
    import sys

    sys.path.insert(0, str(REPO / "rig"))
    import podrunner

    if os.geteuid() != 0:
        pytest.fail("needs root: network and mount namespaces")
    net = podrunner.Network({"bridge": "ffbe2etest", "cidr": "172.30.254.0/24", "gateway": "172.30.254.1",
                             "prefix": "ffe2t"})
    net.setup()
    netns = "ffe2t-sandbox01"
    try:
        ip = net.alloc()
        net.add_pod(netns, ip)
        secret, scratch = tmp_path / "secret", tmp_path / "tmp"
        secret.mkdir()
        scratch.mkdir(mode=0o777)
        scratch.chmod(0o777)
        (secret / "ca.crt").write_text("pem\n")
        os.chown(secret / "ca.crt", 0, 49999)
        (secret / "ca.crt").chmod(0o440)
        probe = ("import os, socket; print(os.getuid(), os.getgid(), sorted(os.getgroups()), socket.gethostname(), "
                 "open('/etc/rig-e2e/ca.crt').read().strip(), flush=True); open('/tmp/written', 'w').write('x'); "
                 "open('/etc/rig-e2e/nope', 'w')")
        spec = {"mounts": [{"src": str(scratch), "dst": "/tmp", "readOnly": False},
                           {"src": str(secret), "dst": "/etc/rig-e2e", "readOnly": True}],
                "uid": 49999, "gid": 49999, "groups": [49999], "hostname": "sandbox-pod", "cwd": "/",
                "expose": [os.path.realpath(REPO / ".venv" / "bin" / "python")],
                "env": {"PATH": f"{REPO / '.venv' / 'bin'}:/usr/bin:/bin"}, "argv": ["python", "-c", probe]}
        (tmp_path / "spec.json").write_text(json.dumps(spec))
        res = subprocess.run(["ip", "netns", "exec", netns, "unshare", "--mount", "--uts", "--propagation", "private",
                              "--", sys.executable, str(podrunner.PODEXEC), str(tmp_path / "spec.json")],
                             capture_output=True, text=True, timeout=60, check=False)
        assert res.stdout.split() == ["49999", "49999", "[49999]", "sandbox-pod", "pem"], res.stdout + res.stderr
        assert "Read-only file system" in res.stderr  # readOnly volume mounts are read-only
        assert (scratch / "written").stat().st_uid == 49999  # the emptyDir-like mount got the write
        assert not Path("/etc/rig-e2e/ca.crt").exists()  # mounts exist in the container's namespace only
    finally:
        net.del_pod(netns)
        net.cleanup()
        with contextlib.suppress(OSError):
            Path("/etc/rig-e2e").rmdir()


def test_pulumi_up_runs_every_pod_for_real(e2e_rig: Rig, e2e_project: Project) -> None:
    started = time.monotonic()
    e2e_project.pulumi("up", "--yes", "--skip-preview", stack=STACK, timeout=1200)
    State.up = True
    print(f"[e2e] pulumi up: {time.monotonic() - started:.0f}s", flush=True)
    for dep in (f"{NAME}-superlink", f"{NAME}-serverapp-superexec", f"{NAME}-fleet-proxy"):
        assert deployment_available(e2e_rig, "hub-e2e", HUB_NS, dep), dep
    for p in pods(e2e_rig, "hub-e2e", HUB_NS):
        assert p.spec.node_name == "flower-rig-hub", (p.metadata.name, p.spec.node_name)
    for spoke in SPOKES:
        for component in ("supernode", "clientapp"):
            wait(f"{spoke}: the {component} Deployment Available",
                 lambda spoke=spoke, component=component: spoke_available(e2e_rig, spoke, component), 420)
        running = [p for c in ("supernode", "clientapp") for p in spoke_pods(e2e_rig, spoke, c)
                   if p.status.phase == "Running"]
        assert len(running) == 2 and {p.spec.node_name for p in running} == {f"flower-rig-{spoke}"}, running
    print(f"[e2e] every Deployment Available on the hub and both spokes after {time.monotonic() - started:.0f}s",
          flush=True)
    # OCM saw it too: the ManifestWorks in each cluster namespace are Applied and Available
    custom = e2e_rig.custom("hub-e2e")
    addon = e2e_project.outputs(STACK)["addonName"]
    for spoke in SPOKES:
        works = custom.list_namespaced_custom_object("work.open-cluster-management.io", "v1", spoke, "manifestworks")
        names = sorted(w["metadata"]["name"] for w in works["items"])
        assert any(n.startswith(f"addon-{addon}-deploy") for n in names), names
        for w in works["items"]:
            conds = {c["type"]: c["status"] for c in w.get("status", {}).get("conditions", [])}
            assert conds.get("Applied") == "True" and conds.get("Available") == "True", (spoke, w["metadata"]["name"],
                                                                                          conds)


def test_supernodes_connect_one_per_spoke(e2e_rig: Rig, e2e_project: Project, tmp_path_factory:
                                          pytest.TempPathFactory) -> None:
    assert State.up, "pulumi up failed"
    fwd = subprocess.Popen([str(RIG), "port-forward", str(e2e_rig.dir), "--cluster", "hub", "--namespace", HUB_NS,
                            "--service", f"{NAME}-superlink-api", "--port", "9093"], stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL, text=True, start_new_session=True)
    State.forward = fwd
    assert fwd.stdout is not None
    port = int(fwd.stdout.readline().strip())
    home = tmp_path_factory.mktemp("flwr-home")
    ca = e2e_project.outputs(STACK)["caCertificate"]
    (home / "ca.crt").write_text(ca)
    (home / "config.toml").write_text(f'[superlink]\ndefault = "{STACK}"\n\n[superlink.{STACK}]\n'
                                      f'address = "127.0.0.1:{port}"\nroot-certificates = "{home / "ca.crt"}"\n')
    State.flwr_home = home
    State.address, State.ca = f"127.0.0.1:{port}", home / "ca.crt"

    def online() -> list[dict[str, Any]] | None:
        res = flwr("supernode", "list", STACK, "--format", "json", home=home)
        data = json.loads(res.stdout)
        nodes = [n for n in data.get("nodes", data.get("supernodes", [])) if n.get("status") == "online"]
        return nodes if len(nodes) == len(SPOKES) else None

    nodes = wait("one online SuperNode per spoke in `flwr supernode list`", online, 240, every=3)
    print(f"[e2e] flwr supernode list: {len(nodes)} online: {[n.get('node-id') for n in nodes]}", flush=True)
    # No manual step: the registrar registered each spoke's own key as node ocm:<spoke>, and they are the online ones.
    owned = registered()
    assert set(owned) == {f"ocm:{s}" for s in SPOKES}, owned
    assert {status for status, _ in owned.values()} == {"online"}, owned


def test_node_keys_stay_on_their_spoke_and_unknown_keys_are_refused(e2e_rig: Rig, tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization

    from federation import tls
    from federation.agents.registrar import canonical_key
    from federation.local.runner import free_port

    assert State.address is not None, "no SuperNodes"
    owned = registered()
    for spoke in SPOKES:
        secrets = e2e_rig.core(f"spoke-{spoke}").list_secret_for_all_namespaces(
            field_selector=f"metadata.name={NAME}-supernode-auth").items
        assert len(secrets) == 1, secrets
        private = base64.b64decode(secrets[0].data["private-key"])
        public = serialization.load_ssh_private_key(private, None).public_key()
        assert canonical_key(public.public_bytes(serialization.Encoding.OpenSSH,
                                                 serialization.PublicFormat.OpenSSH).decode()) == owned[f"ocm:{spoke}"][1]
    hub_text = json.dumps([e2e_rig.custom("hub-e2e").list_cluster_custom_object(g, v, r)
                           for g, v, r in (("work.open-cluster-management.io", "v1", "manifestworks"),
                                           ("addon.open-cluster-management.io", "v1alpha1", "addontemplates"))])
    assert "PRIVATE KEY" not in hub_text and f"{NAME}-supernode-public-key" in hub_text
    # A SuperNode with a key nobody published dials the same SuperLink and is refused.
    key = tls.generate_node_keypair()
    (tmp_path / "private-key").write_text(key.private_key_openssh)
    (tmp_path / "private-key").chmod(0o600)
    log = tmp_path / "stranger.log"
    with log.open("w") as out:
        stranger = subprocess.Popen(
            [str(REPO / ".venv" / "bin" / "flower-supernode"), "--superlink", State.address, "--root-certificates",
             str(State.ca), "--auth-supernode-private-key", str(tmp_path / "private-key"), "--isolation", "subprocess",
             "--host", "127.0.0.1", "--port", str(free_port())],
            env={**os.environ, "FLWR_HOME": str(tmp_path), "FLWR_TELEMETRY_ENABLED": "0",
                 "FLWR_DISABLE_UPDATE_CHECK": "1", "PATH": f"{REPO / '.venv' / 'bin'}:{os.environ.get('PATH', '')}"},
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            returncode = stranger.wait(120)
        except subprocess.TimeoutExpired:
            os.killpg(stranger.pid, signal.SIGKILL)
            stranger.wait(10)
            returncode = None
    text = log.read_text()
    print(f"[e2e] a SuperNode with an unknown key: exit {returncode}: {text.strip().splitlines()[-6:]}", flush=True)
    assert returncode not in (None, 0) and "Failed to activate SuperNode" in text, text[-3000:]
    assert set(registered()) == {f"ocm:{s}" for s in SPOKES}


def test_flwr_run_completes_two_rounds(tmp_path: Path) -> None:
    assert State.flwr_home is not None, "no SuperNodes"
    progress, status, out = run_quickstart(tmp_path, State.flwr_home)
    for r in progress.completed_rounds():
        print(f"[e2e] round {r.number}/{progress.total_rounds}  {r.summary()}", flush=True)
    assert status == "finished:completed", out[-4000:]
    assert [r.number for r in progress.completed_rounds()] == [1, 2], out[-4000:]


def run_quickstart(tmp_path: Path, home: Path) -> tuple[RunProgress, str, str]:
    """`flwr run` of examples/quickstart-numpy (2 rounds, one SuperNode per spoke): progress, final status, output."""
    app = tmp_path / "quickstart-numpy"
    shutil.copytree(REPO / "examples" / "quickstart-numpy", app,
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "build", "*.egg-info", ".venv"))
    started = time.monotonic()
    res = flwr("run", str(app), STACK, "--stream", "--run-config", f"num-server-rounds=2 min-nodes={len(SPOKES)}",
               home=home, timeout=900)
    out = res.stdout + res.stderr
    print(f"[e2e] flwr run: exit {res.returncode} after {time.monotonic() - started:.0f}s", flush=True)
    progress = RunProgress()
    for line in out.splitlines():
        progress.feed(line)
    assert progress.run_id is not None, out[-4000:]
    run_id = str(progress.run_id)

    def finished() -> str | None:
        runs = json.loads(flwr("ls", STACK, "--run-id", run_id, "--format", "json", home=home).stdout)["runs"]
        status = str(runs[0]["status"])
        return status if status.startswith("finished") else None

    return progress, wait(f"run {run_id} finished", finished, 120), out


def online_supernodes(home: Path) -> int:
    data = json.loads(flwr("supernode", "list", STACK, "--format", "json", home=home).stdout)
    return len([n for n in data.get("nodes", []) if n.get("status") == "online"])


def test_superlink_pod_deleted_comes_back_from_its_volume(e2e_rig: Rig, tmp_path: Path) -> None:
    assert State.flwr_home is not None, "no SuperNodes"
    home = State.flwr_home
    runs_before = json.loads(flwr("ls", STACK, "--format", "json", home=home).stdout)["runs"]
    assert runs_before, "no run recorded before the restart"
    core = e2e_rig.core("hub-e2e")
    old = next(p for p in pods(e2e_rig, "hub-e2e", HUB_NS) if "superlink" in p.metadata.name)
    core.delete_namespaced_pod(old.metadata.name, HUB_NS)
    started = time.monotonic()
    wait("a new SuperLink pod Ready", lambda: [p for p in pods(e2e_rig, "hub-e2e", HUB_NS)
                                              if "superlink" in p.metadata.name and p.metadata.name != old.metadata.name
                                              and p.status.container_statuses
                                              and all(c.ready for c in p.status.container_statuses)], 240)
    print(f"[e2e] SuperLink pod replaced in {time.monotonic() - started:.0f}s", flush=True)
    runs_after = wait("the runs of the old SuperLink, from the state on its PVC", lambda: json.loads(
        flwr("ls", STACK, "--format", "json", home=home).stdout)["runs"], 120)
    assert {r["run-id"] for r in runs_before} <= {r["run-id"] for r in runs_after}
    wait("both SuperNodes online again", lambda: online_supernodes(home) == len(SPOKES), 240, every=3)
    progress, status, out = run_quickstart(tmp_path, home)
    assert status == "finished:completed", out[-4000:]
    assert [r.number for r in progress.completed_rounds()] == [1, 2], out[-4000:]


def test_pool_follows_the_placement_without_pulumi_up(e2e_rig: Rig) -> None:
    assert State.flwr_home is not None, "no SuperNodes"
    home = State.flwr_home
    custom = e2e_rig.custom("hub-e2e")
    label = "cluster.open-cluster-management.io/clusterset"

    def move(cluster: str, clusterset: str) -> None:
        custom.patch_cluster_custom_object("cluster.open-cluster-management.io", "v1", "managedclusters", cluster,
                                           {"metadata": {"labels": {label: clusterset}}})

    old_key = registered()[f"ocm:{SPOKES[1]}"][1]
    move(SPOKES[1], "e2e-parked")  # no longer matches the pool's selection (cluster set e2e)
    started = time.monotonic()
    wait(f"{SPOKES[1]} loses its SuperNode Deployment and pod", lambda: not spoke_deployments(
        e2e_rig, SPOKES[1], "supernode") and not spoke_pods(e2e_rig, SPOKES[1], "supernode"), 240)
    wait("one SuperNode online", lambda: online_supernodes(home) == 1, 180, every=3)
    # The registrar unregistered its key (the addon's ManifestWork is gone).
    wait(f"ocm:{SPOKES[1]} unregistered", lambda: set(registered()) == {f"ocm:{SPOKES[0]}"}, 120)
    print(f"[e2e] {SPOKES[1]} left the pool in {time.monotonic() - started:.0f}s", flush=True)
    move(SPOKES[1], "e2e")  # matches again
    started = time.monotonic()
    wait(f"{SPOKES[1]} gains its SuperNode back", lambda: spoke_available(e2e_rig, SPOKES[1], "supernode"), 300)
    wait("two SuperNodes online", lambda: online_supernodes(home) == len(SPOKES), 240, every=3)
    # With a new key (the old one left with the addon; Flower never takes an unregistered key back).
    status, new_key = registered()[f"ocm:{SPOKES[1]}"]
    assert status == "online" and new_key != old_key
    print(f"[e2e] {SPOKES[1]} rejoined the pool in {time.monotonic() - started:.0f}s", flush=True)


TASK_NS = f"{NAME}-supernode-tasks"  # taskPods.namespace's default: <the ClientApp SuperExec's namespace>-tasks
TASK_SELECTOR = f"app.kubernetes.io/component=taskexecutor,app.kubernetes.io/instance={NAME}"


def set_node_gpus(rig: Rig, cluster: str, count: int) -> None:
    """What a device plugin advertises: `nvidia.com/gpu` of the runner node of CLUSTER (`hub` or a spoke)."""
    res = {"nvidia.com/gpu": str(count)}
    context = "hub-e2e" if cluster == "hub" else f"spoke-{cluster}"
    rig.core(context).patch_node_status(f"flower-rig-{cluster}", {"status": {"capacity": res, "allocatable": res}})


def hub_task_pods(rig: Rig) -> list[Any]:
    return list(rig.core("hub-e2e").list_namespaced_pod(HUB_TASK_NS, label_selector=TASK_SELECTOR).items)


def task_pods(rig: Rig, spoke: str) -> list[Any]:
    return list(rig.core(f"spoke-{spoke}").list_namespaced_pod(TASK_NS, label_selector=TASK_SELECTOR).items)


def gpu_request(container: Any) -> str | None:
    return ((container.resources.requests or {}) if container.resources else {}).get("nvidia.com/gpu")


def test_clientapp_task_pods_hold_the_gpu_only_while_they_run(e2e_rig: Rig, e2e_project: Project,
                                                              tmp_path: Path) -> None:
    """#17: `pulumi up` switches the ServerApp SuperExec (hub) and the ClientApp SuperExecs (spokes) to Flower's
    Kubernetes executor; each ServerApp run and ClientApp message runs as a task pod (the hub's real scheduler
    places the ServerApp's; the pod runners run them) that alone requests the GPU; finished pods are swept."""
    assert State.flwr_home is not None, "no SuperNodes"
    for cluster in ("hub", *SPOKES):
        set_node_gpus(e2e_rig, cluster, 1)

    def task_pods_on(doc: dict[str, Any]) -> None:
        doc["clientApps"][0]["taskPods"] = {"enabled": True, "gpu": {"count": 1}, "activePodBudget": 2}
        # the rig's runner owns the hub's task namespace (rig up --pod-namespace): Pulumi does not create it
        doc["hub"]["superexec"] = {"taskPods": {"enabled": True, "createNamespace": False, "gpu": {"count": 1},
                                                "activePodBudget": 2}}

    e2e_project.edit_federation(STACK, task_pods_on)
    started = time.monotonic()
    e2e_project.pulumi("up", "--yes", "--skip-preview", stack=STACK, timeout=1200)
    print(f"[e2e] pulumi up (ClientApp task pods): {time.monotonic() - started:.0f}s", flush=True)

    def executors_ready() -> bool:
        for spoke in SPOKES:
            deps = spoke_deployments(e2e_rig, spoke, "clientapp")
            if not deps or not all(deployment_available(e2e_rig, f"spoke-{spoke}", d.metadata.namespace, d.metadata.name)
                                   and "kubernetes" in " ".join(d.spec.template.spec.containers[0].args or [])
                                   for d in deps):
                return False
        return True

    wait("the ClientApp SuperExecs run the Kubernetes executor on both spokes", executors_ready, 420)
    hub_exec = e2e_rig.apps("hub-e2e").read_namespaced_deployment(f"{NAME}-serverapp-superexec", HUB_NS)
    assert "kubernetes" in hub_exec.spec.template.spec.containers[0].args
    assert gpu_request(hub_exec.spec.template.spec.containers[0]) is None
    for spoke in SPOKES:
        for dep in spoke_deployments(e2e_rig, spoke, "clientapp"):
            assert gpu_request(dep.spec.template.spec.containers[0]) is None  # the always-on part holds no GPU
    wait("two SuperNodes online", lambda: online_supernodes(State.flwr_home) == len(SPOKES), 240, every=3)

    seen: dict[str, dict[str, Any]] = {}
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            for cluster in ("hub", *SPOKES):
                with contextlib.suppress(Exception):
                    found = hub_task_pods(e2e_rig) if cluster == "hub" else task_pods(e2e_rig, cluster)
                    for pod in found:
                        seen[f"{cluster}/{pod.metadata.name}"] = {
                            "gpu": gpu_request(pod.spec.containers[0]), "phase": pod.status.phase,
                            "command": pod.spec.containers[0].command, "node": pod.spec.node_name}
            stop.wait(1.0)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        progress, status, out = run_quickstart(tmp_path, State.flwr_home)
    finally:
        stop.set()
        watcher.join(10)
    assert status == "finished:completed", out[-4000:]
    assert [r.number for r in progress.completed_rounds()] == [1, 2], out[-4000:]
    print(f"[e2e] ClientApp task pods seen during the run: {len(seen)}", flush=True)
    for cluster in ("hub", *SPOKES):
        mine = {k: v for k, v in seen.items() if k.startswith(f"{cluster}/")}
        assert mine, f"no task pod ran on {cluster}: {seen}"
        assert {v["gpu"] for v in mine.values()} == {"1"}, mine
        assert {v["node"] for v in mine.values()} == {f"flower-rig-{cluster}"}, mine
        command = "flwr-serverapp" if cluster == "hub" else "flwr-clientapp"
        assert all(command in " ".join(v["command"] or []) for v in mine.values()), mine
    started = time.monotonic()
    wait("finished task pods swept on the hub and both spokes",
         lambda: not hub_task_pods(e2e_rig) and not any(task_pods(e2e_rig, s) for s in SPOKES), 240, every=5)
    print(f"[e2e] task pods swept {time.monotonic() - started:.0f}s after the run", flush=True)


def test_unschedulable_task_pods_are_bounded_by_the_budget(e2e_rig: Rig, tmp_path: Path) -> None:
    """No GPU left on the hub: the ServerApp's task pod cannot schedule (the hub's real kube-scheduler); Flower
    launches another after each 30 s activation window, up to activePodBudget (2), never more."""
    assert State.flwr_home is not None, "no SuperNodes"
    set_node_gpus(e2e_rig, "hub", 0)
    app = tmp_path / "quickstart-numpy"
    shutil.copytree(REPO / "examples" / "quickstart-numpy", app,
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "build", "*.egg-info", ".venv"))
    res = flwr("run", str(app), STACK, "--run-config", f"num-server-rounds=1 min-nodes={len(SPOKES)}", "--format", "json",
               home=State.flwr_home, timeout=300)
    run_id = str(json.loads(res.stdout[res.stdout.index("{"):])["run-id"])
    try:
        most = 0
        deadline = time.monotonic() + 100  # more than three activation windows
        while time.monotonic() < deadline:
            most = max(most, len([p for p in hub_task_pods(e2e_rig) if p.status.phase in ("Pending", "Running")]))
            time.sleep(2)
        pending = [p for p in hub_task_pods(e2e_rig) if p.status.phase == "Pending"]
        reasons = {c.reason for p in pending for c in p.status.conditions or [] if c.type == "PodScheduled"}
        print(f"[e2e] unschedulable ServerApp task pods: at most {most} at a time, {len(pending)} pending "
              f"({', '.join(sorted(r for r in reasons if r))})", flush=True)
        assert pending and reasons == {"Unschedulable"}, [p.status for p in pending]
        assert most == 2, f"{most} task pods at once: the budget (2) did not bound them"
    finally:
        flwr("stop", run_id, STACK, home=State.flwr_home)
        set_node_gpus(e2e_rig, "hub", 1)
    # The GPU back: the pending task pods run, find their run stopped and finish; the executor sweeps them.
    started = time.monotonic()
    wait("the stopped run's task pods swept", lambda: not hub_task_pods(e2e_rig), 240, every=5)
    print(f"[e2e] task pods of the stopped run swept after {time.monotonic() - started:.0f}s", flush=True)


def test_pulumi_destroy_stops_every_pod(e2e_rig: Rig, e2e_project: Project) -> None:
    if State.forward is not None:
        State.forward.terminate()
        State.forward.wait(10)
    started = time.monotonic()
    e2e_project.pulumi("destroy", "--yes", "--skip-preview", stack=STACK, timeout=900)
    print(f"[e2e] pulumi destroy: {time.monotonic() - started:.0f}s", flush=True)
    wait("no pod left in the hub namespace", lambda: not pods(e2e_rig, "hub-e2e", HUB_NS), 120)
    for spoke in SPOKES:
        wait(f"no pod left on {spoke}", lambda spoke=spoke: not [
            p for p in e2e_rig.core(f"spoke-{spoke}").list_pod_for_all_namespaces().items
            if p.metadata.namespace not in ("kube-system",)], 180)
    pids = e2e_rig.dir / "runner" / "container-pids"
    wait("the pod runner has no container process left",
         lambda: not pids.exists() or not pids.read_text().strip(), 60)
