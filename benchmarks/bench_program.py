"""Program evaluation under the Pulumi mock engine: our `Federation` vs a hand-written pulumi_kubernetes program.

Both programs register the SAME custom resources: the two key-material dynamic resources
(`SuperLinkCertificate`, `SharedSecret`) and one Kubernetes resource per object the federation
plans (typed `k8s.core.v1`/`apps.v1`/... classes for the hub objects, `k8s.apiextensions.CustomResource`
for OCM). The hand-written program takes its object dicts from our pure builders ONCE, at setup
(untimed), and registers them with literal arguments, as a user without this library would; it has
no ComponentResources and no `depends_on`.

Each evaluation runs in its own subprocess (fresh interpreter, fresh event loop, fresh mock monitor).
Inside it: imports, spec generation, key material and the hand program's object dicts are set up,
then one small untimed warm-up program runs, then the timed part: one `pulumi.runtime.test`
program call = constructing every resource AND awaiting every outstanding registration with the
mock monitor (`wait_for_rpcs`). Runs alternate ours, hand, ours, hand, ...

    python benchmarks/bench_program.py                # 1, 10, 100 pools (as many ClientApps)
    python benchmarks/bench_program.py --sizes 1 10 --pairs 3
    python benchmarks/bench_program.py --profile 100  # cProfile of ours at 100 pools (top functions)
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import PYTHON, REPO, Report, Table, Target, add_out_argument, declaration, median

NAME = "program"
TARGET_RATIO = 1.15
DEFAULT_SIZES = (1, 10, 100)


def default_pairs(size: int) -> int:
    return 5 if size < 100 else 3


# --- the worker (one evaluation per process) ------------------------------------------------------


def _mocks() -> Any:
    import pulumi

    class Recorder(pulumi.runtime.Mocks):
        def __init__(self) -> None:
            self.resources: list[pulumi.runtime.MockResourceArgs] = []
            self.state: dict[str, dict[str, Any]] = {}

        def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
            self.resources.append(args)
            outputs = dict(args.inputs)
            outputs.update(self.state.get(args.name, {}))
            return f"{args.name}-id", outputs

        def call(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:
            return {}

    return Recorder()


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


def _hand_objects(spec: Any, cert: dict[str, Any], secret: str) -> list[dict[str, Any]]:
    from federation import flower, planning
    from federation.manifests import hub

    secrets = hub.HubSecrets(tls_cert=cert["cert_pem"], tls_key=cert["key_pem"], ca_cert=cert["ca_cert_pem"],
                             superexec_secret=secret if flower.uses_superexec_secret(spec) else None,
                             tls_checksum=hub.tls_checksum(cert["cert_pem"], cert["ca_cert_pem"]))
    return planning.planned_objects(spec, material=planning.KeyMaterial(secrets, cert["ca_cert_pem"]))


def _hand_program(objs: list[dict[str, Any]], spec: Any) -> None:
    """What a user writes without this library: one resource per object, literal arguments."""
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
    typed = {
        ("v1", "Namespace"): k8s.core.v1.Namespace,
        ("v1", "ServiceAccount"): k8s.core.v1.ServiceAccount,
        ("v1", "Secret"): k8s.core.v1.Secret,
        ("v1", "ConfigMap"): k8s.core.v1.ConfigMap,
        ("v1", "PersistentVolumeClaim"): k8s.core.v1.PersistentVolumeClaim,
        ("v1", "Service"): k8s.core.v1.Service,
        ("apps/v1", "Deployment"): k8s.apps.v1.Deployment,
        ("networking.k8s.io/v1", "NetworkPolicy"): k8s.networking.v1.NetworkPolicy,
        ("policy/v1", "PodDisruptionBudget"): k8s.policy.v1.PodDisruptionBudget,
    }
    fields = {"spec": "spec", "type": "type", "stringData": "string_data", "data": "data",
              "automountServiceAccountToken": "automount_service_account_token"}
    for obj in objs:
        meta = obj["metadata"]
        name = f"{obj['kind'].lower()}-{meta.get('namespace', '')}-{meta['name']}"
        opts = pulumi.ResourceOptions(delete_before_replace=True)
        cls = typed.get((obj["apiVersion"], obj["kind"]))
        if cls is None:
            k8s.apiextensions.CustomResource(name, api_version=obj["apiVersion"], kind=obj["kind"], metadata=meta,
                                             spec=obj["spec"], opts=opts)
            continue
        kwargs = {fields[k]: v for k, v in obj.items() if k in fields}
        if "string_data" in kwargs:
            kwargs["string_data"] = pulumi.Output.secret(kwargs["string_data"])
        cls(name, metadata=meta, **kwargs, opts=opts)


def _unwrap(value: Any) -> Any:
    sig = "4dabf18193072939515e22adb298388d"
    if isinstance(value, dict):
        if sig in value:
            return _unwrap(value["value"])
        return {k: _unwrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unwrap(v) for v in value]
    return value


def registered_keys(resources: list[Any]) -> list[str]:
    """Type and Kubernetes identity of every custom resource (names of the dynamic ones): equal for both programs."""
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


def evaluate(which: str, pools: int, *, profile: Path | None = None) -> dict[str, Any]:
    """One timed evaluation of `which` ("ours" or "hand") in THIS process; see the module docstring."""
    import pulumi
    import pulumi_kubernetes as k8s

    from components.federation import Federation
    from federation.loading import parse_spec

    data = declaration(pools)
    spec = parse_spec(data)
    cert, secret = _material(spec)
    objs = _hand_objects(spec, cert, secret) if which == "hand" else []

    # Warm-up: a tiny unrelated program (first-program costs of the SDK), untimed.
    pulumi.runtime.set_mocks(_mocks(), project="bench", stack="warmup", preview=True)
    pulumi.runtime.test(lambda: k8s.core.v1.ConfigMap("warmup", data={"a": "b"}))()

    mocks = _mocks()
    mocks.state["fl-superlink-tls"] = cert
    mocks.state["fl-superlink-superexec-secret"] = {"nbytes": 32, "secret": secret}
    pulumi.runtime.set_mocks(mocks, project="bench", stack="bench", preview=True)
    pulumi.runtime.set_all_config({})

    if which == "ours":
        def program() -> None:
            Federation("fl", {"federation": data, "existing_ca_certificate": None})
    elif which == "hand":
        def program() -> None:
            _hand_program(objs, spec)
    else:
        raise ValueError(which)

    profiler = None
    if profile is not None:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    start = time.perf_counter()
    pulumi.runtime.test(program)()
    seconds = time.perf_counter() - start
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(str(profile))
    keys = registered_keys(mocks.resources)
    return {
        "which": which, "pools": pools, "client_apps": len(spec.client_apps), "seconds": seconds,
        "custom_resources": sum(1 for r in mocks.resources if r.custom),
        "components": sum(1 for r in mocks.resources if not r.custom),
        "keys_digest": _digest(keys),
    }


def _digest(keys: list[str]) -> str:
    import hashlib

    return hashlib.sha256("\n".join(keys).encode()).hexdigest()[:16]


def run_worker(which: str, pools: int) -> dict[str, Any]:
    """Run one evaluation in a fresh interpreter and return its JSON line."""
    proc = subprocess.run([PYTHON, str(Path(__file__).resolve()), "--worker", which, "--pools", str(pools)],
                          capture_output=True, text=True, cwd=REPO, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"worker {which} {pools} failed:\n{proc.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


# --- the driver ------------------------------------------------------------------------------------


def measure(sizes: list[int], pairs: int | None) -> Report:
    rows, raw = [], []
    targets = []
    for size in sizes:
        n = pairs or default_pairs(size)
        ours: list[float] = []
        hand: list[float] = []
        ratios: list[float] = []
        first: dict[str, dict[str, Any]] = {}
        for _ in range(n):
            o = run_worker("ours", size)
            h = run_worker("hand", size)
            raw += [o, h]
            first.setdefault("ours", o)
            first.setdefault("hand", h)
            ours.append(o["seconds"])
            hand.append(h["seconds"])
            ratios.append(o["seconds"] / h["seconds"])
            print(f"  pools={size:<4} ours {o['seconds']:.3f}s  hand {h['seconds']:.3f}s", file=sys.stderr, flush=True)
        same = first["ours"]["keys_digest"] == first["hand"]["keys_digest"]
        if not same or first["ours"]["custom_resources"] != first["hand"]["custom_resources"]:
            raise RuntimeError(f"the two programs registered different objects at {size} pools: {first}")
        ratio = median(ratios)
        rows.append([size, first["ours"]["client_apps"], first["ours"]["custom_resources"], first["ours"]["components"],
                     n, median(ours), median(hand), ratio, min(ratios), max(ratios)])
        targets.append(Target(f"ours / hand at {size} pools", f"<= {TARGET_RATIO}x", f"{ratio:.2f}x", ratio <= TARGET_RATIO))
    table = Table("Program evaluation under mocks (seconds, medians)",
                  ["pools", "ClientApps", "custom resources (each)", "components (ours)", "pairs",
                   "ours s", "hand s", "median ratio", "min ratio", "max ratio"], rows)
    return Report(NAME, "Program evaluation: Federation vs hand-written pulumi_kubernetes",
                  __doc__.split("\n\n")[1].replace("\n", " ") + " " + __doc__.split("\n\n")[2].replace("\n", " "),
                  tables=[table], targets=targets, data={"runs": raw})


def profile_top(size: int, which: str, limit: int = 25) -> str:
    """cProfile of one evaluation in a subprocess; the top functions by cumulative time (ours and deps)."""
    import pstats
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "prof"
        proc = subprocess.run([PYTHON, str(Path(__file__).resolve()), "--worker", which, "--pools", str(size),
                               "--profile-to", str(path)], capture_output=True, text=True, cwd=REPO, check=False)
        if proc.returncode != 0:
            raise RuntimeError(proc.stderr[-4000:])
        import io

        buf = io.StringIO()
        stats = pstats.Stats(str(path), stream=buf)
        stats.sort_stats("cumulative").print_stats(limit)
        stats.sort_stats("tottime").print_stats(limit)
        return buf.getvalue()


def main(argv: list[str] | None = None) -> Report | None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(DEFAULT_SIZES), help="numbers of pools (= ClientApps)")
    parser.add_argument("--pairs", type=int, default=None, help="alternating (ours, hand) pairs per size (default 5, 3 at 100+)")
    parser.add_argument("--profile", type=int, default=None, metavar="POOLS", help="print a cProfile of ours at POOLS and exit")
    parser.add_argument("--profile-which", choices=["ours", "hand"], default="ours")
    parser.add_argument("--worker", choices=["ours", "hand"], help=argparse.SUPPRESS)
    parser.add_argument("--pools", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--profile-to", type=Path, help=argparse.SUPPRESS)
    add_out_argument(parser)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(evaluate(args.worker, args.pools, profile=args.profile_to)))
        return None
    if args.profile is not None:
        print(profile_top(args.profile, args.profile_which))
        return None
    report = measure(args.sizes, args.pairs)
    report.write(args.out)
    report.print()
    return report


if __name__ == "__main__":
    main()
