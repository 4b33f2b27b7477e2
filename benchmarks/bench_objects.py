"""Hub object count vs managed-cluster count, and vs pools/ClientApps.

Counts the objects the program registers on the hub, from `federation.planning.planned_objects`
(the pure builders the components call; `tests/test_components_federation.py` checks that the
program registers exactly these), plus the two key-material resources that live only in Pulumi
state. Nothing is timed.

* OCM mode (installStrategy Placements): the Placement selects clusters on the hub at run time, so
  the object count must not depend on how many clusters it may select (`numberOfClusters` 1 → 1000).
* Manual mode: one ManagedClusterAddOn and one AddOnDeploymentConfig per LISTED cluster, so the count
  grows with the clusters you list (by design; reported separately).
* Pools/ClientApps: linear (one Placement, binding, AddOnTemplate, ADC per pool; one MWRS per ClientApp).

    python benchmarks/bench_objects.py
    python benchmarks/bench_objects.py --clusters 1 10 --pools 1 10
"""

from __future__ import annotations

import argparse
import itertools
import sys
from collections import Counter
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


from benchmarks.common import Report, Table, Target, add_out_argument, declaration

NAME = "objects"
DEFAULT_CLUSTERS = (1, 10, 100, 1000)
DEFAULT_POOLS = (1, 10, 100, 1000)
KEY_MATERIAL_RESOURCES = 2  # SuperLinkCertificate + SharedSecret (Pulumi state only, not on the cluster)
CA = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


def count(data: dict[str, Any]) -> tuple[int, Counter[str]]:
    """(objects, by kind) the program registers on the hub for `data` (Secrets with key material included)."""
    from federation import flower, planning
    from federation.loading import parse_spec
    from federation.manifests import hub

    spec = parse_spec(data)
    secrets = hub.HubSecrets(tls_cert="cert", tls_key="key", ca_cert=CA, tls_checksum="0" * 64,
                             superexec_secret="s" if flower.uses_superexec_secret(spec) else None)
    objs = planning.planned_objects(spec, material=planning.KeyMaterial(secrets, CA))
    return len(objs), Counter(o["kind"] for o in objs)


def _kinds(kinds: Counter[str], names: tuple[str, ...]) -> list[int]:
    return [kinds.get(k, 0) for k in names]


OCM_KINDS = ("Placement", "ManagedClusterSetBinding", "AddOnTemplate", "AddOnDeploymentConfig",
             "ClusterManagementAddOn", "ManagedClusterAddOn", "ManifestWorkReplicaSet")


def measure(clusters: list[int], pools: list[int]) -> Report:
    ocm_rows, manual_rows, pool_rows = [], [], []
    ocm_counts = []
    for n in clusters:
        total, kinds = count(declaration(1, number_of_clusters=n))
        ocm_counts.append(total)
        ocm_rows.append([n, total, total + KEY_MATERIAL_RESOURCES, *_kinds(kinds, OCM_KINDS)])
    for n in clusters:
        total, kinds = count(declaration(1, manual_clusters_per_pool=n))
        manual_rows.append([n, total, total + KEY_MATERIAL_RESOURCES, *_kinds(kinds, OCM_KINDS)])
    pool_counts = []
    for n in pools:
        total, kinds = count(declaration(n))
        pool_counts.append((n, total))
        pool_rows.append([n, n, total, total + KEY_MATERIAL_RESOURCES, *_kinds(kinds, OCM_KINDS)])
    cols = ["objects", "+ key material", *OCM_KINDS]
    flat = len(set(ocm_counts)) == 1
    slopes = {(b[1] - a[1]) / (b[0] - a[0]) for a, b in itertools.pairwise(pool_counts) if b[0] != a[0]}
    linear = len(slopes) <= 1
    targets = [
        Target("hub objects vs clusters (OCM Placements mode)", "independent of cluster count",
               f"{min(ocm_counts)}..{max(ocm_counts)} objects for numberOfClusters {min(clusters)}..{max(clusters)}", flat),
        Target("hub objects vs pools + ClientApps", "linear",
               f"{', '.join(f'{s:g}' for s in sorted(slopes)) or '-'} objects per (pool + ClientApp)", linear),
    ]
    notes = [
        "Manual mode lists clusters explicitly: one ManagedClusterAddOn + one per-cluster AddOnDeploymentConfig per listed "
        "cluster, so its count grows linearly with the clusters listed (expected, not a regression).",
        "`+ key material` adds the SuperLinkCertificate and SharedSecret dynamic resources (Pulumi state only).",
    ]
    return Report(
        NAME, "Hub objects vs clusters and pools",
        "Object counts from the pure builders (`planned_objects`, what the program registers); one pool/ClientApp "
        "for the cluster sweeps, N pools with N ClientApps for the pool sweep. Not timed.",
        tables=[
            Table("OCM mode (installStrategy Placements), 1 pool: numberOfClusters", ["numberOfClusters", *cols], ocm_rows),
            Table("Manual mode, 1 pool: listed clusters", ["listed clusters", *cols], manual_rows),
            Table("Pools (each with one ClientApp)", ["pools", "ClientApps", *cols], pool_rows),
        ],
        targets=targets, notes=notes,
        data={"ocm": ocm_rows, "manual": manual_rows, "pools": pool_rows},
    )


def main(argv: list[str] | None = None) -> Report:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clusters", type=int, nargs="+", default=list(DEFAULT_CLUSTERS))
    parser.add_argument("--pools", type=int, nargs="+", default=list(DEFAULT_POOLS))
    add_out_argument(parser)
    args = parser.parse_args(argv)
    report = measure(args.clusters, args.pools)
    report.write(args.out)
    report.print()
    return report


if __name__ == "__main__":
    main()
