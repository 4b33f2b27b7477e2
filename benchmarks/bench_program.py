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
    python benchmarks/bench_program.py --show-fair 2             # the fair hand-written program at 2 pools
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


def _lit(value: Any) -> str:
    """`value` as a Python literal; a `SENTINEL` string stands for the expression after it (an Output)."""
    if isinstance(value, str):
        if SENTINEL in value:
            if not value.startswith(SENTINEL):
                raise AssertionError(f"an Output embedded in a string: {value[:80]!r}")
            return value.removeprefix(SENTINEL)
        return repr(value)
    if value is None or isinstance(value, bool | int | float):
        return repr(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_lit(k)}: {_lit(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_lit(v) for v in value) + "]"
    raise TypeError(f"no literal for {type(value).__name__}")


def _expr(code: str) -> str:
    return SENTINEL + code


def fair_source(spec: Any) -> str:
    """The fair hand-written program for `spec`, as Python source: one statement per resource, literal arguments.

    What a careful user writes without this library (the objects are our builders' output, pasted as
    literals): the same resources, Pulumi names, `depends_on` edges, options, and Outputs in the same
    places (key material from the dynamic resources, the hub namespace, the Placement names in the
    ClusterManagementAddOn); no components, no helpers. Generated at set-up, compiled there (as Python
    compiles a program file before running it); running it is the timed part.
    """
    from federation import flower
    from federation.manifests import hub, ocm

    if spec.distribution.ocm.install_strategy == "Manual":
        raise ValueError("the fair program covers installStrategy Placements (the generated declarations)")
    tls = spec.hub.tls.mode == "generate"
    shared = flower.uses_superexec_secret(spec)
    lines = ["def program():"]

    def emit(line: str) -> None:
        lines.append("    " + line)

    def opts(depends_on: list[str] | None = None, replace: list[str] | None = None) -> str:
        parts = ([f"depends_on=[{', '.join(depends_on)}]"] if depends_on else []) + ["delete_before_replace=True"]
        if replace:
            parts.append(f"replace_on_changes={replace!r}")
        return f"pulumi.ResourceOptions({', '.join(parts)})"

    material = hub.HubSecrets()
    if tls:
        dns, ips = hub.superlink_sans(spec)
        emit(f"cert = SuperLinkCertificate('fl-superlink-tls', dns_names={dns!r}, ip_addresses={ips!r}, "
             f"validity_days={spec.hub.tls.validity_days!r}, renew_before_days={spec.hub.tls.renew_before_days!r}, "
             f"common_name={hub.superlink_service_name(spec)!r})")
        emit("tls_key = pulumi.Output.secret(cert.key_pem)")
        emit("checksum = pulumi.Output.all(cert.cert_pem, cert.ca_cert_pem).apply(lambda pems: tls_checksum(*pems))")
        material = hub.HubSecrets(tls_cert=_expr("cert.cert_pem"), tls_key=_expr("tls_key"), ca_cert=_expr("cert.ca_cert_pem"),
                                  tls_checksum=_expr("checksum"))
    if shared:
        emit("shared = SharedSecret('fl-superlink-superexec-secret')")
        material = hub.HubSecrets(**{**vars(material), "superexec_secret": _expr("pulumi.Output.secret(shared.secret)")})

    # The hub: the Namespace first; Deployments after the ServiceAccounts, Secrets, ConfigMaps and the PVC.
    namespace = None
    prerequisites: list[str] = []
    for i, obj in enumerate(hub.hub_objects(spec, tls_material=material)):
        kind = obj["kind"]
        group, cls = _TYPED[(obj["apiVersion"], kind)]
        deps = [namespace] if namespace else []
        if kind == "Deployment":
            deps += prerequisites
        fields = "".join(f", {_FIELDS[k]}={_lit(v)}" for k, v in obj.items() if k in _FIELDS)
        emit(f"h{i} = k8s.{group}.v1.{cls}({'fl-superlink-' + kind.lower() + '-' + obj['metadata']['name']!r}, "
             f"metadata={_lit(obj['metadata'])}{fields}, opts={opts(deps, _REPLACE.get(kind))})")
        if kind == "Namespace":
            namespace = f"h{i}"
            emit(f"ns = h{i}.metadata.apply(lambda m: m.name)")
        elif kind in ("ServiceAccount", "Secret", "ConfigMap", "PersistentVolumeClaim"):
            prerequisites.append(f"h{i}")
    in_hub = spec.ocm_namespace == spec.hub.namespace and namespace is not None

    def custom(var: str, name: str, obj: dict[str, Any], options: str) -> None:
        meta = dict(obj["metadata"])
        if in_hub and "namespace" in meta:
            meta["namespace"] = _expr("ns")
        emit(f"{var} = k8s.apiextensions.CustomResource({name!r}, api_version={obj['apiVersion']!r}, kind={obj['kind']!r}, "
             f"metadata={_lit(meta)}, spec={_lit(obj['spec'])}, opts={options})")

    # Pools: the cluster-set bindings, then the Placement after them.
    owners = ocm.binding_owners(spec)
    index = {p.name: i for i, p in enumerate(spec.pools)}
    binding_var: dict[str, str] = {}
    for i, pool in enumerate(spec.pools):
        own = []
        for obj in ocm.pool_bindings(spec, pool):
            cluster_set = obj["spec"]["clusterSet"]
            if owners[cluster_set] != pool.name:
                continue
            binding_var[cluster_set] = f"b{i}_{len(own)}"
            own.append(binding_var[cluster_set])
            custom(binding_var[cluster_set], f"fl-pool-{pool.name}-binding-{cluster_set}", obj,
                   opts(replace=["spec.clusterSet"]))
        earlier = [binding_var[s] for s in pool.selection.cluster_sets if owners[s] != pool.name]
        custom(f"p{i}", f"fl-pool-{pool.name}-placement", ocm.placement(spec, pool), opts([*own, *earlier]))

    # The addon: a template (with the CA) and a config per pool; the CMA after all of them and the Placements.
    address = ocm.superlink_address(spec)
    if tls:  # what the SuperNodes trust (the CA and hub.tls.additionalCaCertificates) and its checksum
        emit("ca_trust = cert.ca_cert_pem.apply(ca_bundle)")
        emit("ca_sum = ca_trust.apply(ca_checksum)")
    for i, pool in enumerate(spec.pools):
        template = ocm.addon_template(spec, pool, _expr("ca_trust") if tls else None)
        if tls:
            _replace_leaf(template, getattr(ocm, "CA_CHECKSUM_PLACEHOLDER", None), _expr("ca_sum"))
        custom(f"t{i}", f"fl-addon-template-{pool.name}", template, opts(replace=["spec.addonName"]))
        custom(f"c{i}", f"fl-addon-config-{pool.name}", ocm.deployment_config(spec, pool, address), opts())
    cma = ocm.cluster_management_addon(spec)
    pool_of = {ocm.placement_name(spec, p): p.name for p in spec.pools}
    for entry in cma["spec"]["installStrategy"].get("placements", []):
        entry["name"] = _expr(f"p{index[pool_of[entry['name']]]}.metadata.apply(lambda m: m['name'])")
    custom("cma", "fl-addon-cma", cma, opts([f"{k}{i}" for k in "tc" for i in range(len(spec.pools))]))

    # ClientApps: a Placement per pool (after the pool's), then the ManifestWorkReplicaSet after those and the CMA.
    pool_by_name = {p.name: p for p in spec.pools}
    for i, app in enumerate(spec.client_apps):
        own = []
        for j, p in enumerate(app.pools):
            own.append(f"q{i}_{j}")
            custom(own[-1], f"fl-clientapp-{app.name}-placement-{p}", ocm.clientapp_placement(spec, pool_by_name[p]),
                   opts([f"p{index[p]}"]))
        custom(f"a{i}", f"fl-clientapp-{app.name}-mwrs", ocm.manifest_work_replica_set(spec, app), opts([*own, "cma"]))
    return "\n".join(lines) + "\n"


def fair_module(spec: Any) -> str:
    """The fair program as a stand-alone Pulumi program file (`__main__.py`), for the real engine.

    Reads `declaration.json` only for the trust bundle's extra CAs (`ocm.ca_bundle` needs the spec).
    """
    header = (
        "import functools\nimport json\nfrom pathlib import Path\n\nimport pulumi\nimport pulumi_kubernetes as k8s\n\n"
        "from components.keys import SharedSecret, SuperLinkCertificate\nfrom federation.loading import parse_spec\n"
        "from federation.manifests import ocm\nfrom federation.manifests.hub import tls_checksum\n\n"
        "ca_checksum = ocm.ca_checksum\n"
        "ca_bundle = functools.partial(ocm.ca_bundle, parse_spec(json.loads(Path('declaration.json').read_text())))\n\n\n"
    )
    return header + fair_source(spec) + "\n\nprogram()\n"


def _replace_leaf(obj: Any, old: Any, new: Any) -> None:
    """Replace every leaf equal to `old` by `new`, in place."""
    items = obj.items() if isinstance(obj, dict) else enumerate(obj) if isinstance(obj, list) else ()
    for key, value in list(items):
        if old is not None and value == old:
            obj[key] = new
        elif isinstance(value, dict | list):
            _replace_leaf(value, old, new)


def _fair_program(source: str, spec: Any) -> Any:
    """The program function of `source` (compiled here, at set-up)."""
    import functools

    import pulumi
    import pulumi_kubernetes as k8s

    from components.keys import SharedSecret, SuperLinkCertificate
    from federation.manifests import ocm
    from federation.manifests.hub import tls_checksum

    # The helpers a hand-written program would spell out itself: the trust bundle text and its checksum.
    namespace: dict[str, Any] = {"pulumi": pulumi, "k8s": k8s, "SuperLinkCertificate": SuperLinkCertificate,
                                 "SharedSecret": SharedSecret, "tls_checksum": tls_checksum,
                                 "ca_bundle": functools.partial(ocm.ca_bundle, spec), "ca_checksum": ocm.ca_checksum}
    exec(compile(source, "<fair hand-written program>", "exec"), namespace)  # noqa: S102 - our own generated program
    return namespace["program"]


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
    fair = _fair_program(fair_source(spec), spec) if which == "fair" else None

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
            fair()
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


def summarise_log(path: Path) -> list[list[Any]]:
    """Medians and IQRs from the per-round lines a (possibly interrupted) run printed on stderr."""
    import re

    series: dict[tuple[str, int], dict[str, list[float]]] = {}
    for line in path.read_text().splitlines():
        m = re.match(r"\s*gc=(\w+) pools=(\d+)\s+(.*)", line)
        if not m:
            continue
        cpu = {w: float(v) for w, v in re.findall(r"(\w+) ([\d.]+)s", m.group(3))}
        for which, value in cpu.items():
            series.setdefault((m.group(1), int(m.group(2))), {}).setdefault(which, []).append(value)
    rows = []
    for (gc_mode, size), cpu in series.items():
        programs = list(cpu)
        rounds = min(len(v) for v in cpu.values())
        row: list[Any] = [gc_mode, size, rounds]
        for which in programs:
            row += [which, median(cpu[which][:rounds]), _fmt_iqr(cpu[which][:rounds])]
        for base in programs[1:]:
            ratios = [o / b for o, b in zip(cpu["ours"][:rounds], cpu[base][:rounds], strict=True)]
            row += [f"ours/{base}", median(ratios), _fmt_iqr(ratios)]
        rows.append(row)
    return rows


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
    parser.add_argument("--show-fair", type=int, default=None, metavar="POOLS",
                        help="print the fair hand-written program for POOLS pools and exit")
    parser.add_argument("--from-log", type=Path, default=None, metavar="FILE",
                        help="print medians and IQRs from the per-round lines of an earlier (interrupted) run and exit")
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
    if args.from_log is not None:
        for row in summarise_log(args.from_log):
            print("  ".join(f"{v:.3f}" if isinstance(v, float) else str(v) for v in row))
        return None
    if args.show_fair is not None:
        from federation.loading import parse_spec

        print(fair_source(parse_spec(declaration(args.show_fair))), end="")
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
