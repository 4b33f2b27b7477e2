"""Hub object count vs managed-cluster count, and vs pools/ClientApps: what the program registers.

Each declaration is evaluated as `Federation("fl", ...)` under the Pulumi mock engine (one process per
declaration) and the registrations are counted as the engine receives them: Kubernetes objects by
kind, the key-material dynamic resources (`SuperLinkCertificate`, `SharedSecret`: Pulumi state only,
registered only when the declaration needs them) and the component resources, separately. The count
of Kubernetes objects is checked against `federation.planning.planned_objects` (what `render`
writes). Nothing is timed.

* OCM mode (installStrategy Placements): the Placement selects clusters on the hub at run time, so
  the object count must not depend on how many clusters it may select (`numberOfClusters` 1 → 1000).
* Manual mode: one ManagedClusterAddOn and one AddOnDeploymentConfig per LISTED cluster, so the count
  grows with the clusters you list (by design; reported separately).
* Pools/ClientApps: linear in the number of pools and ClientApps.

    python benchmarks/bench_objects.py
    python benchmarks/bench_objects.py --clusters 1 10 --pools 1 10
"""

from __future__ import annotations

import argparse
import itertools
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


from benchmarks.common import PYTHON, REPO, Report, Table, Target, add_out_argument, declaration

NAME = "objects"
DEFAULT_CLUSTERS = (1, 10, 100, 1000)
DEFAULT_MANUAL_CLUSTERS = (1, 10, 100)
DEFAULT_POOLS = (1, 10, 100)
OCM_KINDS = ("Placement", "ManagedClusterSetBinding", "AddOnTemplate", "AddOnDeploymentConfig",
             "ClusterManagementAddOn", "ManagedClusterAddOn", "ManifestWorkReplicaSet")


def count(data: dict[str, Any]) -> dict[str, Any]:
    """What `Federation` registers for `data` under the mock engine, in THIS process (see the module docstring)."""
    import pulumi

    from benchmarks.bench_program import _material, _mocks
    from components.federation import Federation
    from federation import flower, planning
    from federation.loading import parse_spec
    from federation.manifests import hub

    spec = parse_spec(data)
    mocks, monitor = _mocks()
    cert = secret = None
    if spec.hub.tls.mode == "generate":
        cert, secret = _material(spec)
        mocks.state["fl-superlink-tls"] = cert
    if flower.uses_superexec_secret(spec):
        secret = secret or "5e" * 32
        mocks.state["fl-superlink-superexec-secret"] = {"nbytes": 32, "secret": secret}
    pulumi.runtime.set_mocks(mocks, project="bench", stack="objects", preview=True, monitor=monitor)
    pulumi.runtime.set_all_config({})
    pulumi.runtime.test(lambda: Federation("fl", {"federation": data, "existing_ca_certificate": None}))()
    kinds: Counter[str] = Counter()
    dynamic = components = 0
    for r in mocks.resources:
        if not r.custom:
            components += 1
        elif r.typ.startswith("kubernetes:"):
            kinds[r.typ.rsplit(":", 1)[-1]] += 1
        else:
            dynamic += 1
    secrets = hub.HubSecrets(
        tls_cert=cert["cert_pem"] if cert else None, tls_key=cert["key_pem"] if cert else None,
        ca_cert=cert["ca_cert_pem"] if cert else None, superexec_secret=secret if flower.uses_superexec_secret(spec) else None,
        tls_checksum=hub.tls_checksum(cert["cert_pem"], cert["ca_cert_pem"]) if cert else None)
    planned = planning.planned_objects(spec, material=planning.KeyMaterial(secrets, cert["ca_cert_pem"] if cert else None))
    objects = sum(kinds.values())
    if objects != len(planned) or Counter(o["kind"] for o in planned) != kinds:
        raise RuntimeError(f"registered {dict(kinds)} but planned_objects has {dict(Counter(o['kind'] for o in planned))}")
    return {"objects": objects, "kinds": dict(kinds), "key_material": dynamic, "components": components}


def count_in_subprocess(data: dict[str, Any]) -> dict[str, Any]:
    proc = subprocess.run([PYTHON, str(Path(__file__).resolve()), "--worker"], input=json.dumps(data),
                          capture_output=True, text=True, cwd=REPO, check=False)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-4000:])
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def _row(first: list[Any], c: dict[str, Any]) -> list[Any]:
    return [*first, c["objects"], c["key_material"], c["components"], *(c["kinds"].get(k, 0) for k in OCM_KINDS)]


def measure(clusters: list[int], manual_clusters: list[int], pools: list[int]) -> Report:
    ocm_rows, manual_rows, pool_rows = [], [], []
    ocm_counts = []
    for n in clusters:
        c = count_in_subprocess(declaration(1, number_of_clusters=n))
        ocm_counts.append(c["objects"])
        ocm_rows.append(_row([n], c))
    for n in manual_clusters:
        manual_rows.append(_row([n], count_in_subprocess(declaration(1, manual_clusters_per_pool=n))))
    pool_counts = []
    for n in pools:
        c = count_in_subprocess(declaration(n))
        pool_counts.append((n, c["objects"] + c["key_material"] + c["components"]))
        pool_rows.append(_row([n, n], c))
    cols = ["Kubernetes objects", "key material (state only)", "components", *OCM_KINDS]
    flat = len(set(ocm_counts)) == 1
    slopes = {(b[1] - a[1]) / (b[0] - a[0]) for a, b in itertools.pairwise(pool_counts) if b[0] != a[0]}
    linear = len(slopes) <= 1
    targets = [
        Target("hub objects vs clusters (OCM Placements mode)", "independent of cluster count",
               f"{min(ocm_counts)}..{max(ocm_counts)} objects for numberOfClusters {min(clusters)}..{max(clusters)}", flat),
        Target("registrations vs pools + ClientApps", "linear",
               f"{', '.join(f'{s:g}' for s in sorted(slopes)) or '-'} registrations per (pool + ClientApp)", linear),
    ]
    notes = [
        "Manual mode lists clusters explicitly: one ManagedClusterAddOn + one per-cluster AddOnDeploymentConfig per listed "
        "cluster, so its count grows linearly with the clusters listed (expected, not a regression).",
        "Registrations per (pool + ClientApp) count every resource the engine tracks: Kubernetes objects and components.",
    ]
    return Report(
        NAME, "Hub objects vs clusters and pools (what the program registers)", " ".join(__doc__.split("\n\n")[1].split()),
        tables=[
            Table("OCM mode (installStrategy Placements), 1 pool: numberOfClusters", ["numberOfClusters", *cols], ocm_rows),
            Table("Manual mode, 1 pool: listed clusters", ["listed clusters", *cols], manual_rows),
            Table("Pools (each with one ClientApp)", ["pools", "ClientApps", *cols], pool_rows),
        ],
        targets=targets, notes=notes,
        data={"ocm": ocm_rows, "manual": manual_rows, "pools": pool_rows},
    )


def main(argv: list[str] | None = None) -> Report | None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clusters", type=int, nargs="+", default=list(DEFAULT_CLUSTERS),
                        help="numberOfClusters of the one pool (OCM mode)")
    parser.add_argument("--manual-clusters", type=int, nargs="+", default=list(DEFAULT_MANUAL_CLUSTERS),
                        help="clusters listed by the one pool (Manual mode)")
    parser.add_argument("--pools", type=int, nargs="+", default=list(DEFAULT_POOLS))
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    add_out_argument(parser)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(count(json.loads(sys.stdin.read()))))
        return None
    report = measure(args.clusters, args.manual_clusters, args.pools)
    report.write(args.out)
    report.print()
    return report


if __name__ == "__main__":
    main()
