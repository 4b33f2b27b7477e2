"""The components one by one: bring your own SuperLink, add SuperNode pools, the addon and a ClientApp.

No `SuperLink` and no `Federation` here: the SuperLink already runs (anywhere the managed clusters
can reach). The program creates the OCM namespace, one `SuperNodePool` per pool, a `FlowerAddon`
pointed at the existing SuperLink (`superlink_address`, `ca_certificate`) and one
`ClientAppDistribution` per ClientApp, wiring the ordering that `Federation` would otherwise do.
"""

import ipaddress
from pathlib import Path
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import yaml

from components import ClientAppDistribution, FlowerAddon, SuperNodePool
from federation.errors import SpecError
from federation.loading import parse_spec

HERE = Path(__file__).resolve().parent

config = pulumi.Config()
superlink_address = config.require("superlinkAddress")
ca_certificate = config.require("caCertificate")  # public; the addon refuses anything with a private key
declaration: dict[str, Any] = yaml.safe_load((HERE / "declaration.yaml").read_text(encoding="utf-8"))


def describe_existing_superlink(data: dict[str, Any], address: str) -> dict[str, Any]:
    """Set `hub.exposure` to the address the SuperNodes dial, so the declaration validates and agrees
    with `superlink_address` (the spec requires an external address whenever SuperNodes run on spokes)."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        raise SystemExit(f"superlinkAddress: expected HOST:PORT, got {address!r}")
    host = host.strip("[]")
    try:
        ipaddress.ip_address(host)
        target = {"externalIPs": [host]}
    except ValueError:
        target = {"externalNames": [host]}
    hub = dict(data.get("hub") or {})
    hub["exposure"] = {**(hub.get("exposure") or {}), **target, "externalPort": int(port)}
    return {**data, "hub": hub}


declaration = describe_existing_superlink(declaration, superlink_address)
try:
    spec = parse_spec(declaration)
except SpecError as exc:
    raise SystemExit("invalid declaration.yaml:\n" + "\n".join(str(p) for p in exc.problems)) from None

# The namespace of the OCM objects (what SuperLink would create when it owns the hub namespace).
namespace = k8s.core.v1.Namespace(
    "ocm-namespace",
    metadata={"name": spec.ocm_namespace, "labels": {"app.kubernetes.io/part-of": spec.name}},
)

# Pools in order; a later pool depends on the earlier ones (it may use a cluster-set binding an
# earlier pool owns).
pools: list[SuperNodePool] = []
for pool in spec.pools:
    pools.append(SuperNodePool(
        f"{spec.name}-pool-{pool.name}",
        {"federation": declaration, "pool": pool.name},
        pulumi.ResourceOptions(depends_on=[namespace, *pools]),
    ))

# The addon's ClusterManagementAddOn takes the Placement names from the pools' outputs, so it is
# created after every Placement and destroyed before them; its other objects only need the namespace.
addon = FlowerAddon(
    f"{spec.name}-addon",
    {"federation": declaration, "superlink_address": superlink_address, "ca_certificate": ca_certificate,
     "placement_names": pulumi.Output.all(*[p.placement_name for p in pools]).apply(list)},
    pulumi.ResourceOptions(depends_on=[namespace]),
)

client_apps = [
    ClientAppDistribution(
        f"{spec.name}-clientapp-{app.name}",
        {"federation": declaration, "client_app": app.name},
        pulumi.ResourceOptions(depends_on=[*pools, addon]),
    )
    for app in spec.client_apps
]

pulumi.export("placementNames", pulumi.Output.all(*[p.placement_name for p in pools]))
pulumi.export("addonName", addon.addon_name)
pulumi.export("templateNames", addon.template_names)
pulumi.export("clientAppNames", pulumi.Output.all(*[a.name for a in client_apps]))
