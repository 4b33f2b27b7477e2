"""Program evaluation under the Pulumi mock engine: our `Federation` vs two hand-written pulumi_kubernetes programs.

Three programs register the same custom resources for a generated declaration (N pools, N ClientApps):

* `ours`: `Federation("fl", ...)`, the library (components, references between the blocks);
* `fair`: a hand-written program with the SAME registrations: same objects (taken from our pure
  builders once, at setup, untimed), same Pulumi names, same `depends_on` and property dependencies,
  same `delete_before_replace`/`replace_on_changes`/secret options, the key material as Outputs of the
  two dynamic resources (`SuperLinkCertificate`, `SharedSecret`) in the Secrets, the pod checksum
  annotations and the AddOnTemplates, the hub namespace and Placement names as Outputs of their
  resources — and no components. The ratio ours/fair is the library's own cost;
* `naive`: the same Kubernetes objects with literal key material, no `depends_on` at all and no
  Outputs between resources (the old baseline): ours/naive also includes the cost of the ordering.

Equivalence is checked, not assumed: every worker records each custom resource's registration (type,
name, inputs as the engine receives them, secret markers included, dependencies, property
dependencies and options) and the driver compares `ours` with `fair` resource by resource (a
digest of all of it) and `ours` with `naive` by (type, namespace, name).

Each evaluation runs in its own subprocess (fresh interpreter, event loop and mock monitor): imports,
spec, key material (real keys, injected as the dynamic resources' state) and the hand programs'
objects are set up, one small warm-up program runs, then, optionally, `gc.freeze()`; the timed part
is one `pulumi.runtime.test` program call (constructing every resource and awaiting every
registration). It is timed in CPU seconds of the process, all threads (`time.process_time`); wall
time, garbage-collection passes and their time are recorded too. Runs go in rounds of one run of
each program, the order reversed every other round (ours, fair, naive, naive, fair, ours, ...); the
table gives medians and interquartile ranges of each side and of the per-round ratios.

    python benchmarks/bench_program.py                          # 1, 10, 100, 300 pools; 10 rounds; gc as is and frozen
    python benchmarks/bench_program.py --sizes 1 10 --rounds 3 --gc normal
    python benchmarks/bench_program.py --profile 100            # cProfile of ours at 100 pools (top functions)
    python benchmarks/bench_program.py --profile 100 --profile-which fair
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import PYTHON, REPO, Report, Table, Target, add_out_argument, declaration, iqr, median

NAME = "program"
TARGET_RATIO = 1.15
DEFAULT_SIZES = (1, 10, 100, 300)
DEFAULT_ROUNDS = 10
PROGRAMS = ("ours", "fair", "naive")
GC_MODES = ("normal", "freeze")
SECRET_SIG = "4dabf18193072939515e22adb298388d"  # noqa: S105 - Pulumi's secret marker, not a secret
#: Stand-ins for the key material in the hand programs' objects (replaced by Outputs in `fair`).
SENTINEL = "\x00key-material:"


# --- the worker (one evaluation per process) ------------------------------------------------------


def _mocks() -> Any:
    import pulumi
    from pulumi.runtime.mocks import MockMonitor

    class Recorder(pulumi.runtime.Mocks):
        def __init__(self) -> None:
            self.resources: list[pulumi.runtime.MockResourceArgs] = []
            self.requests: list[Any] = []
            self.state: dict[str, dict[str, Any]] = {}

        def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
            self.resources.append(args)
            outputs = dict(args.inputs)
            outputs.update(self.state.get(args.name, {}))
            return f"{args.name}-id", outputs

        def call(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:
            return {}

    class RecordingMonitor(MockMonitor):
        def RegisterResource(self, request: Any) -> Any:
            recorder.requests.append(request)
            return super().RegisterResource(request)

    recorder = Recorder()
    return recorder, RecordingMonitor(recorder)


def _material(spec: Any) -> tuple[dict[str, Any], str]:
    """What the engine holds in state for the certificate after `create` (real keys), and a fixed secret."""
    from components.keys import KEY_TYPE, SuperLinkCertificateProvider
    from federation.manifests import hub

    dns, ips = hub.superlink_sans(spec)
    outs = SuperLinkCertificateProvider().create({
        "dns_names": dns, "ip_addresses": ips, "validity_days": spec.hub.tls.validity_days,
        "renew_before_days": spec.hub.tls.renew_before_days, "key_type": KEY_TYPE,
        "common_name": hub.superlink_service_name(spec),
    }).outs
    assert outs is not None
    return outs, "5e" * 32


def _naive_objects(spec: Any, cert: dict[str, Any], secret: str) -> list[dict[str, Any]]:
    from federation import flower, planning
    from federation.manifests import hub

    secrets = hub.HubSecrets(tls_cert=cert["cert_pem"], tls_key=cert["key_pem"], ca_cert=cert["ca_cert_pem"],
                             superexec_secret=secret if flower.uses_superexec_secret(spec) else None,
                             tls_checksum=hub.tls_checksum(cert["cert_pem"], cert["ca_cert_pem"]))
    return planning.planned_objects(spec, material=planning.KeyMaterial(secrets, cert["ca_cert_pem"]))


_TYPED = {
    ("v1", "Namespace"): ("core", "Namespace"),
    ("v1", "ServiceAccount"): ("core", "ServiceAccount"),
    ("v1", "Secret"): ("core", "Secret"),
    ("v1", "ConfigMap"): ("core", "ConfigMap"),
    ("v1", "PersistentVolumeClaim"): ("core", "PersistentVolumeClaim"),
    ("v1", "Service"): ("core", "Service"),
    ("apps/v1", "Deployment"): ("apps", "Deployment"),
    ("networking.k8s.io/v1", "NetworkPolicy"): ("networking", "NetworkPolicy"),
    ("policy/v1", "PodDisruptionBudget"): ("policy", "PodDisruptionBudget"),
}
_FIELDS = {"spec": "spec", "type": "type", "stringData": "string_data", "data": "data",
           "automountServiceAccountToken": "automount_service_account_token"}


def _typed_class(obj: dict[str, Any]) -> Any:
    import pulumi_kubernetes as k8s

    group, kind = _TYPED[(obj["apiVersion"], obj["kind"])]
    return getattr(getattr(k8s, group).v1, kind)


def _naive_program(objs: list[dict[str, Any]], spec: Any) -> None:
    """The old baseline: one resource per object, literal arguments, no ordering at all."""
    import pulumi
    import pulumi_kubernetes as k8s

    from components.keys import SharedSecret, SuperLinkCertificate
    from federation import flower
    from federation.manifests import hub

    dns, ips = hub.superlink_sans(spec)
    SuperLinkCertificate("fl-superlink-tls", dns_names=dns, ip_addresses=ips, validity_days=spec.hub.tls.validity_days,
                         renew_before_days=spec.hub.tls.renew_before_days, common_name=hub.superlink_service_name(spec))
    if flower.uses_superexec_secret(spec):
        SharedSecret("fl-superlink-superexec-secret")
    for obj in objs:
        meta = obj["metadata"]
        name = f"{obj['kind'].lower()}-{meta.get('namespace', '')}-{meta['name']}"
        opts = pulumi.ResourceOptions(delete_before_replace=True)
        if (obj["apiVersion"], obj["kind"]) not in _TYPED:
            k8s.apiextensions.CustomResource(name, api_version=obj["apiVersion"], kind=obj["kind"], metadata=meta,
                                             spec=obj["spec"], opts=opts)
            continue
        kwargs = {_FIELDS[k]: v for k, v in obj.items() if k in _FIELDS}
        if "string_data" in kwargs:
            kwargs["string_data"] = pulumi.Output.secret(kwargs["string_data"])
        _typed_class(obj)(name, metadata=meta, **kwargs, opts=opts)


def _leaf_paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[tuple[Any, ...], str]]:
    """(path, material name) of every sentinel leaf in `value`; a sentinel inside a longer string is an error."""
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _leaf_paths(v, (*path, k))]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _leaf_paths(v, (*path, i))]
    if isinstance(value, str) and SENTINEL in value:
        if not value.startswith(SENTINEL):
            raise AssertionError(f"key material embedded in a string at {path}")
        return [(path, value.removeprefix(SENTINEL))]
    return []


def _set(obj: Any, path: tuple[Any, ...], value: Any) -> None:
    for step in path[:-1]:
        obj = obj[step]
    obj[path[-1]] = value


def _fair_plan(spec: Any) -> dict[str, Any]:
    """The fair program's objects, from our pure builders (setup, untimed), with sentinels for the key material."""
    from federation import flower
    from federation.manifests import hub, ocm

    material = hub.HubSecrets(
        tls_cert=SENTINEL + "tls_cert", tls_key=SENTINEL + "tls_key", ca_cert=SENTINEL + "ca_cert",
        tls_checksum=SENTINEL + "tls_checksum",
        superexec_secret=SENTINEL + "superexec_secret" if flower.uses_superexec_secret(spec) else None)
    if spec.distribution.ocm.install_strategy == "Manual":
        raise ValueError("the fair program covers installStrategy Placements (the generated declarations)")
    hub_objs = hub.hub_objects(spec, tls_material=material)
    owners = ocm.binding_owners(spec)
    pools = []
    address = ocm.superlink_address(spec)
    for pool in spec.pools:
        bindings = [b for b in ocm.pool_bindings(spec, pool) if owners[b["spec"]["clusterSet"]] == pool.name]
        earlier = [(owners[s], s) for s in pool.selection.cluster_sets if owners[s] != pool.name]
        pools.append({"name": pool.name, "bindings": bindings, "earlier": earlier,
                      "placement": ocm.placement(spec, pool),
                      "template": ocm.addon_template(spec, pool, SENTINEL + "ca_cert"),
                      "config": ocm.deployment_config(spec, pool, address)})
    apps = [{"name": app.name, "pools": list(app.pools), "mwrs": ocm.manifest_work_replica_set(spec, app)}
            for app in spec.client_apps]
    cma = ocm.cluster_management_addon(spec)
    placement_of = {ocm.placement_name(spec, p): p.name for p in spec.pools}
    return {
        "hub": [(o, _leaf_paths(o)) for o in hub_objs],
        "pools": [{**p, "template_ca": _leaf_paths(p["template"])} for p in pools],
        "cma": cma,
        "cma_placements": [placement_of[e["name"]] for e in cma["spec"]["installStrategy"].get("placements", [])],
        "apps": apps,
        "ocm_in_hub_namespace": spec.ocm_namespace == spec.hub.namespace,
        "sans": hub.superlink_sans(spec), "validity_days": spec.hub.tls.validity_days,
        "renew_before_days": spec.hub.tls.renew_before_days, "common_name": hub.superlink_service_name(spec),
        "tls": spec.hub.tls.mode == "generate", "superexec_secret": flower.uses_superexec_secret(spec),
    }


def _fair_program(plan: dict[str, Any]) -> None:
    """What a careful user writes without this library: the same resources, edges and options; no components."""
    import pulumi
    import pulumi_kubernetes as k8s

    from components.keys import SharedSecret, SuperLinkCertificate
    from federation.manifests import hub

    material: dict[str, Any] = {}
    if plan["tls"]:
        dns, ips = plan["sans"]
        cert = SuperLinkCertificate("fl-superlink-tls", dns_names=dns, ip_addresses=ips,
                                    validity_days=plan["validity_days"], renew_before_days=plan["renew_before_days"],
                                    common_name=plan["common_name"])
        material.update(tls_cert=cert.cert_pem, tls_key=pulumi.Output.secret(cert.key_pem), ca_cert=cert.ca_cert_pem,
                        tls_checksum=pulumi.Output.all(cert.cert_pem, cert.ca_cert_pem).apply(lambda p: hub.tls_checksum(*p)))
    if plan["superexec_secret"]:
        shared = SharedSecret("fl-superlink-superexec-secret")
        material["superexec_secret"] = pulumi.Output.secret(shared.secret)

    # The hub: the Namespace first; Deployments after the ServiceAccounts, Secrets, ConfigMaps and the PVC.
    namespace: Any = None
    namespace_name: Any = None
    prerequisites: list[Any] = []
    for obj, leaves in plan["hub"]:
        for path, what in leaves:
            _set(obj, path, material[what])
        kind = obj["kind"]
        deps = [namespace] if namespace is not None else []
        if kind == "Deployment":
            deps += prerequisites
        kwargs = {_FIELDS[k]: v for k, v in obj.items() if k in _FIELDS}
        res = _typed_class(obj)(
            f"fl-superlink-{kind.lower()}-{obj['metadata']['name']}", metadata=obj["metadata"], **kwargs,
            opts=pulumi.ResourceOptions(depends_on=deps or None, delete_before_replace=True,
                                        replace_on_changes=_REPLACE.get(kind)))
        if kind == "Namespace":
            namespace = res
            namespace_name = res.metadata.apply(lambda m: m.name)
        elif kind in ("ServiceAccount", "Secret", "ConfigMap", "PersistentVolumeClaim"):
            prerequisites.append(res)
    ocm_namespace = namespace_name if plan["ocm_in_hub_namespace"] else None

    def namespaced(obj: dict[str, Any]) -> dict[str, Any]:
        if ocm_namespace is not None:
            obj["metadata"]["namespace"] = ocm_namespace
        return obj["metadata"]

    def custom(name: str, obj: dict[str, Any], meta: Any, opts: Any) -> Any:
        return k8s.apiextensions.CustomResource(name, api_version=obj["apiVersion"], kind=obj["kind"], metadata=meta,
                                                spec=obj["spec"], opts=opts)

    # Pools: the cluster-set bindings, then the Placement after them.
    bindings: dict[tuple[str, str], Any] = {}
    placements: dict[str, Any] = {}
    for pool in plan["pools"]:
        own = []
        for obj in pool["bindings"]:
            cluster_set = obj["spec"]["clusterSet"]
            res = custom(f"fl-pool-{pool['name']}-binding-{cluster_set}", obj, namespaced(obj),
                         pulumi.ResourceOptions(delete_before_replace=True, replace_on_changes=["spec.clusterSet"]))
            bindings[(pool["name"], cluster_set)] = res
            own.append(res)
        obj = pool["placement"]
        placements[pool["name"]] = custom(
            f"fl-pool-{pool['name']}-placement", obj, namespaced(obj),
            pulumi.ResourceOptions(depends_on=[*own, *(bindings[e] for e in pool["earlier"])], delete_before_replace=True))

    # The addon: templates (with the CA) and configs per pool; the CMA after all of them and the Placements.
    addon_parts = []
    for pool in plan["pools"]:
        obj = pool["template"]
        for path, what in pool["template_ca"]:
            _set(obj, path, material[what])
        addon_parts.append(custom(f"fl-addon-template-{pool['name']}", obj, obj["metadata"],
                                  pulumi.ResourceOptions(delete_before_replace=True, replace_on_changes=["spec.addonName"])))
        obj = pool["config"]
        addon_parts.append(custom(f"fl-addon-config-{pool['name']}", obj, namespaced(obj),
                                  pulumi.ResourceOptions(delete_before_replace=True)))
    cma = plan["cma"]
    for entry, pool_name in zip(cma["spec"]["installStrategy"].get("placements", []), plan["cma_placements"], strict=True):
        entry["name"] = placements[pool_name].metadata.apply(lambda m: m["name"])
    cma_res = custom("fl-addon-cma", cma, cma["metadata"],
                     pulumi.ResourceOptions(depends_on=addon_parts, delete_before_replace=True))

    # ClientApps: after their pools' Placements and the CMA.
    for app in plan["apps"]:
        obj = app["mwrs"]
        custom(f"fl-clientapp-{app['name']}-mwrs", obj, namespaced(obj),
               pulumi.ResourceOptions(depends_on=[*(placements[p] for p in app["pools"]), cma_res],
                                      delete_before_replace=True))


#: The options every Kubernetes resource of the hub gets (the immutable fields of its kind).
_REPLACE: dict[str, list[str]] = {
    "Deployment": ["spec.selector"],
    "PersistentVolumeClaim": ["spec.storageClassName", "spec.accessModes"],
    "Secret": ["type"],
}


def _unwrap(value: Any) -> Any:
    if isinstance(value, dict):
        if SECRET_SIG in value:
            return _unwrap(value["value"])
        return {k: _unwrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unwrap(v) for v in value]
    return value


def _short(urns: Any) -> list[str]:
    return sorted(u.rsplit("::", 1)[-1] for u in urns)


def registrations(mocks: Any) -> dict[str, str]:
    """Pulumi name → digest of everything the engine receives for that custom resource, except its parent.

    Inputs as sent (secret markers included), dependencies and property dependencies (by name), and the
    options: delete_before_replace, replace_on_changes, additional_secret_outputs, ignore_changes,
    protect, provider, retain_on_delete, deleted_with, custom timeouts, import id.
    """
    inputs = {r.name: r.inputs for r in mocks.resources if r.custom}
    out = {}
    for req in mocks.requests:
        if not req.custom:
            continue
        record = {
            "type": req.type, "inputs": inputs[req.name], "dependencies": _short(req.dependencies),
            "property_dependencies": {k: _short(v.urns) for k, v in sorted(req.propertyDependencies.items()) if v.urns},
            "delete_before_replace": req.deleteBeforeReplace, "replace_on_changes": sorted(req.replaceOnChanges),
            "additional_secret_outputs": sorted(req.additionalSecretOutputs), "ignore_changes": sorted(req.ignoreChanges),
            "protect": req.protect, "provider": req.provider, "retain_on_delete": req.retainOnDelete,
            "deleted_with": req.deletedWith, "import_id": req.importId,
            "custom_timeouts": [req.customTimeouts.create, req.customTimeouts.update, req.customTimeouts.delete],
        }
        text = json.dumps(record, sort_keys=True, default=str)
        out[req.name] = hashlib.sha256(text.encode()).hexdigest()[:16]
    return out


def registered_keys(resources: list[Any]) -> list[str]:
    """Type and Kubernetes identity of every custom resource (names of the dynamic ones)."""
    keys = []
    for r in resources:
        if not r.custom:
            continue
        if r.typ.startswith("kubernetes:"):
            meta = _unwrap(r.inputs.get("metadata") or {})
            keys.append(f"{r.typ}|{meta.get('namespace', '')}|{meta.get('name')}")
        else:
            keys.append(f"{r.typ}|{r.name}")
    return sorted(keys)


def _digest(items: Any) -> str:
    return hashlib.sha256(json.dumps(items, sort_keys=True).encode()).hexdigest()[:16]


def evaluate(which: str, pools: int, *, gc_mode: str = "normal", profile: Path | None = None,
             material: Path | None = None) -> dict[str, Any]:
    """One timed evaluation of `which` in THIS process; see the module docstring.

    `material`: a JSON file with the certificate state and secret (the driver writes one per size, so that
    every program registers the same keys and the registrations can be compared); else fresh keys.
    """
    import gc
    import time

    import pulumi
    import pulumi_kubernetes as k8s

    import federation.tls  # noqa: F401 - imported by the library on first use; imports are set-up, untimed, for all
    from components.federation import Federation
    from federation.loading import parse_spec

    data = declaration(pools)
    spec = parse_spec(data)
    if material is not None and material.exists():
        cert, secret = json.loads(material.read_text())
    else:
        cert, secret = _material(spec)
        if material is not None:
            material.write_text(json.dumps([cert, secret]))
    naive = _naive_objects(spec, cert, secret) if which == "naive" else []
    plan = _fair_plan(spec) if which == "fair" else {}

    # Warm-up: a tiny unrelated program (first-program costs of the SDK), untimed.
    warm, warm_monitor = _mocks()
    pulumi.runtime.set_mocks(warm, project="bench", stack="warmup", preview=True, monitor=warm_monitor)
    pulumi.runtime.test(lambda: k8s.core.v1.ConfigMap("warmup", data={"a": "b"}))()

    mocks, monitor = _mocks()
    mocks.state["fl-superlink-tls"] = cert
    mocks.state["fl-superlink-superexec-secret"] = {"nbytes": 32, "secret": secret}
    pulumi.runtime.set_mocks(mocks, project="bench", stack="bench", preview=True, monitor=monitor)
    pulumi.runtime.set_all_config({})

    if which == "ours":
        def program() -> None:
            Federation("fl", {"federation": data, "existing_ca_certificate": None})
    elif which == "fair":
        def program() -> None:
            _fair_program(plan)
    elif which == "naive":
        def program() -> None:
            _naive_program(naive, spec)
    else:
        raise ValueError(which)

    gc_time = [0.0, 0.0]

    def on_gc(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            gc_time[1] = time.perf_counter()
        else:
            gc_time[0] += time.perf_counter() - gc_time[1]

    if gc_mode == "freeze":
        gc.collect()
        gc.freeze()
    gc.callbacks.append(on_gc)
    collections = sum(s["collections"] for s in gc.get_stats())
    profiler = None
    if profile is not None:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    pulumi.runtime.test(program)()
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(str(profile))
    gc.callbacks.remove(on_gc)
    collections = sum(s["collections"] for s in gc.get_stats()) - collections
    regs = registrations(mocks)
    return {
        "which": which, "pools": pools, "client_apps": len(spec.client_apps), "gc": gc_mode,
        "cpu_seconds": cpu, "wall_seconds": wall, "gc_collections": collections, "gc_seconds": gc_time[0],
        "custom_resources": sum(1 for r in mocks.resources if r.custom),
        "components": sum(1 for r in mocks.resources if not r.custom),
        "keys_digest": _digest(registered_keys(mocks.resources)),
        "registrations_digest": _digest(regs), "registrations": regs,
    }


def run_worker(which: str, pools: int, gc_mode: str = "normal", material: Path | None = None) -> dict[str, Any]:
    """Run one evaluation in a fresh interpreter and return its JSON line."""
    extra = ["--material", str(material)] if material is not None else []
    proc = subprocess.run([PYTHON, str(Path(__file__).resolve()), "--worker", which, "--pools", str(pools), "--gc", gc_mode,
                           *extra], capture_output=True, text=True, cwd=REPO, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"worker {which} {pools} failed:\n{proc.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def check_equivalent(runs: dict[str, dict[str, Any]]) -> None:
    """`fair` registers exactly what `ours` registers (resource by resource); `naive` the same Kubernetes objects."""
    ours = runs["ours"]
    if "fair" in runs and runs["fair"]["registrations_digest"] != ours["registrations_digest"]:
        a, b = ours["registrations"], runs["fair"]["registrations"]
        differ = sorted(n for n in set(a) | set(b) if a.get(n) != b.get(n))
        raise RuntimeError(f"ours and fair differ at {ours['pools']} pools in {len(differ)} resources: {differ[:10]}")
    if "naive" in runs and (runs["naive"]["keys_digest"] != ours["keys_digest"]
                            or runs["naive"]["custom_resources"] != ours["custom_resources"]):
        raise RuntimeError(f"ours and naive registered different objects at {ours['pools']} pools")


# --- the driver ------------------------------------------------------------------------------------


def _fmt_iqr(values: list[float]) -> str:
    q1, q3 = iqr(values)
    return f"{q1:.3f}–{q3:.3f}"


def _series(size: int, rounds: int, gc_mode: str, programs: list[str], material: Path) -> dict[str, Any]:
    """`rounds` rounds of one run of each program at `size` pools (order reversed every other round)."""
    runs: list[dict[str, Any]] = []
    for i in range(rounds):
        order = programs if i % 2 == 0 else programs[::-1]
        results = {which: run_worker(which, size, gc_mode, material) for which in order}
        check_equivalent(results)  # every round: the programs must stay equivalent
        for which in programs:
            results[which].pop("registrations")
            runs.append(results[which])
        print(f"  gc={gc_mode} pools={size:<4} " + "  ".join(f"{w} {results[w]['cpu_seconds']:.3f}s" for w in programs),
              file=sys.stderr, flush=True)
    return {"runs": runs, "cpu": {w: [r["cpu_seconds"] for r in runs if r["which"] == w] for w in programs}}


def measure(sizes: list[int], rounds: int, gc_modes: list[str], programs: list[str]) -> Report:
    raw: list[dict[str, Any]] = []
    rows: list[list[Any]] = []
    per_pool_rows: list[list[Any]] = []
    gc_rows: list[list[Any]] = []
    targets: list[Target] = []
    with tempfile.TemporaryDirectory(prefix="bench-program-") as tmp:
        for gc_mode in gc_modes:
            medians: dict[tuple[str, int], float] = {}
            for size in sizes:
                series = _series(size, rounds, gc_mode, programs, Path(tmp) / f"material-{size}.json")
                runs, cpu = series["runs"], series["cpu"]
                raw += runs
                ours = [r for r in runs if r["which"] == "ours"]
                ratios = {b: [o / h for o, h in zip(cpu["ours"], cpu[b], strict=True)] for b in programs[1:]}
                row: list[Any] = [gc_mode, size, ours[0]["custom_resources"], ours[0]["components"], rounds]
                for which in programs:
                    medians[(which, size)] = median(cpu[which])
                    row += [median(cpu[which]), _fmt_iqr(cpu[which])]
                for base in programs[1:]:
                    row += [median(ratios[base]), _fmt_iqr(ratios[base])]
                rows.append(row)
                gc_rows.append([gc_mode, size, *(
                    f"{median([r['gc_seconds'] / r['cpu_seconds'] for r in runs if r['which'] == w]) * 100:.0f}%"
                    for w in programs)])
                if "fair" in ratios:
                    ratio = median(ratios["fair"])
                    targets.append(Target(f"ours / fair at {size} pools (gc {gc_mode}, CPU)", f"<= {TARGET_RATIO}x",
                                          f"{ratio:.2f}x (IQR {_fmt_iqr(ratios['fair'])})", ratio <= TARGET_RATIO))
            for a, b in itertools.pairwise(sizes):
                per_pool_rows.append([gc_mode, f"{a} → {b}", *(
                    f"{(medians[(w, b)] - medians[(w, a)]) / (b - a) * 1000:.1f}" for w in programs)])
    columns = ["gc", "pools (= ClientApps)", "custom resources", "components (ours)", "rounds"]
    for which in programs:
        columns += [f"{which} CPU s", f"{which} IQR"]
    for base in programs[1:]:
        columns += [f"ours/{base}", f"ours/{base} IQR"]
    tables = [
        Table("CPU seconds of the timed program call (medians and interquartile ranges; ratios per round)", columns, rows),
        Table("Marginal CPU per pool + ClientApp (ms, between the medians of two sizes)", ["gc", "pools", *programs],
              per_pool_rows),
        Table("Share of the CPU time spent in garbage collection (median)", ["gc", "pools", *programs], gc_rows),
    ]
    tables = [t for t in tables if t.rows]  # one size: no marginal cost
    notes = ["`gc freeze`: `gc.freeze()` after the set-up and the warm-up, in every program alike (the objects "
             "created before it are never scanned again)."]
    return Report(NAME, "Program evaluation: Federation vs hand-written pulumi_kubernetes (mock engine, CPU time)",
                  " ".join(__doc__.split("\n\n", 1)[1].rsplit("\n\n", 1)[0].split()),
                  tables=tables, targets=targets, notes=notes, data={"runs": raw})


def profile_top(size: int, which: str, limit: int = 30, gc_mode: str = "normal") -> str:
    """cProfile of one evaluation in a subprocess; the top functions by cumulative and internal time."""
    import io
    import pstats

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "prof"
        proc = subprocess.run([PYTHON, str(Path(__file__).resolve()), "--worker", which, "--pools", str(size),
                               "--gc", gc_mode, "--profile-to", str(path)], capture_output=True, text=True, cwd=REPO,
                              check=False)
        if proc.returncode != 0:
            raise RuntimeError(proc.stderr[-4000:])
        buf = io.StringIO()
        stats = pstats.Stats(str(path), stream=buf)
        stats.sort_stats("cumulative").print_stats(limit)
        stats.sort_stats("tottime").print_stats(limit)
        return buf.getvalue()


def main(argv: list[str] | None = None) -> Report | None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(DEFAULT_SIZES), help="numbers of pools (= ClientApps)")
    parser.add_argument("--rounds", type=int, default=DEFAULT_ROUNDS, help="rounds of one run of each program per size")
    parser.add_argument("--gc", choices=[*GC_MODES, "both"], default="both", help="garbage collector as is, frozen, or both")
    parser.add_argument("--programs", nargs="+", choices=PROGRAMS, default=list(PROGRAMS),
                        help="programs to run (ours is always first)")
    parser.add_argument("--profile", type=int, default=None, metavar="POOLS", help="print a cProfile at POOLS and exit")
    parser.add_argument("--profile-which", choices=PROGRAMS, default="ours")
    parser.add_argument("--worker", choices=PROGRAMS, help=argparse.SUPPRESS)
    parser.add_argument("--pools", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--profile-to", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--material", type=Path, help=argparse.SUPPRESS)
    add_out_argument(parser)
    args = parser.parse_args(argv)
    if args.worker:
        gc_mode = "normal" if args.gc == "both" else args.gc
        print(json.dumps(evaluate(args.worker, args.pools, gc_mode=gc_mode, profile=args.profile_to,
                                  material=args.material)))
        return None
    if args.profile is not None:
        print(profile_top(args.profile, args.profile_which, gc_mode="normal" if args.gc == "both" else args.gc))
        return None
    programs = ["ours", *(p for p in args.programs if p != "ours")]
    gc_modes = list(GC_MODES) if args.gc == "both" else [args.gc]
    report = measure(args.sizes, args.rounds, gc_modes, programs)
    report.write(args.out)
    report.print()
    return report


if __name__ == "__main__":
    main()
