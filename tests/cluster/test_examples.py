"""The example programs (examples/*) through `pulumi preview/up/preview --expect-no-changes/destroy` on the real rig.

Each example runs from its own directory of the project copy, with its own Pulumi.yaml and stack file
(default-program: the root stacks through `stackConfigDir`), on a backend of its own (the default
program has the root program's project name, so its `dev` stack would collide with test_stacks.py on
the rig's shared backend). After `up`: every Kubernetes object in the stack's state exists on the API
server, each pool's Placement exists and its PlacementDecisions select the expected fake clusters
(tests/cluster/clusters.yaml), plus what the example itself adds (its namespace, quota, addon,
ManifestWorkReplicaSets). After `destroy`: none of those objects is left. The examples share
cluster-scoped names, so they run one after the other (parametrized, -p no:xdist).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from federation import tls
from federation.loading import parse_spec
from federation.manifests import ocm
from federation.spec import FederationSpec
from tests.cluster.conftest import REPO, Project, Rig
from tests.cluster.test_stacks import decisions, dynamic, read, wait_until

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(1800)]

PLACEMENTS = ("cluster.open-cluster-management.io", "v1beta1", "placements")
DECISIONS = ("cluster.open-cluster-management.io", "v1beta1", "placementdecisions")
CMAS = ("addon.open-cluster-management.io", "v1alpha1", "clustermanagementaddons")
MWRS = ("work.open-cluster-management.io", "v1alpha1", "manifestworkreplicasets")


def stack_config(name: str, stack: str) -> dict[str, Any]:
    example = REPO / "examples" / name
    project = yaml.safe_load((example / "Pulumi.yaml").read_text())
    where = example / project.get("stackConfigDir", ".")
    config: dict[str, Any] = yaml.safe_load((where / f"Pulumi.{stack}.yaml").read_text())["config"]
    return config


def live_objects(state: dict[str, Any]) -> list[dict[str, Any]]:
    """The Kubernetes objects a stack's state holds (custom resources of the kubernetes provider)."""
    out = []
    for res in state["deployment"].get("resources") or []:
        if not res["type"].startswith("kubernetes:") or res["type"].startswith("pulumi:providers:"):
            continue
        if not res.get("custom"):
            continue
        outputs = res.get("outputs") or {}
        if "kind" in outputs and "metadata" in outputs:
            out.append({"apiVersion": outputs["apiVersion"], "kind": outputs["kind"],
                        "metadata": {"name": outputs["metadata"]["name"],
                                     "namespace": outputs["metadata"].get("namespace")}})
    return out


def label(obj: dict[str, Any]) -> str:
    return f"{obj['kind']} {obj['metadata'].get('namespace') or ''}/{obj['metadata']['name']}"


def placement_decisions(rig: Rig, context: str, namespace: str, placement: str) -> list[str]:
    items = rig.custom(context).list_namespaced_custom_object(*DECISIONS[:2], namespace, DECISIONS[2])["items"]
    mine = [d for d in items if d["metadata"]["labels"].get("cluster.open-cluster-management.io/placement") == placement]
    return sorted(c["clusterName"] for d in mine for c in (d.get("status") or {}).get("decisions") or [])


def expect_decisions(rig: Rig, context: str, spec: FederationSpec, expected: dict[str, list[str]]) -> None:
    wait_until(f"{spec.name}: placement decisions {expected}",
               lambda: (lambda d: d if d == expected else None)(decisions(rig, context, spec)), timeout=90)


# --- what each example must have created, beyond the objects in its state ------------------------------------


def check_default_program(rig: Rig, context: str, config: dict[str, Any], outputs: dict[str, Any]) -> None:
    spec = parse_spec(config["flower:federation"])
    assert outputs["placementNames"] == [ocm.placement_name(spec, p) for p in spec.pools]
    for name in outputs["placementNames"]:
        rig.custom(context).get_namespaced_custom_object(*PLACEMENTS[:2], spec.ocm_namespace, PLACEMENTS[2], name)
    expect_decisions(rig, context, spec, {"cpu": ["dev-1", "dev-2"]})
    assert "BEGIN CERTIFICATE" in outputs["caCertificate"]


def check_embedded(rig: Rig, context: str, config: dict[str, Any], outputs: dict[str, Any]) -> None:
    declaration = yaml.safe_load((REPO / "examples" / "embedded" / "declaration.yaml").read_text())
    spec = parse_spec(declaration)
    assert outputs["namespace"] == spec.hub.namespace == "team-a-flower"
    ns = rig.core(context).read_namespace(spec.hub.namespace)
    assert ns.metadata.labels["team.example.com/owner"] == config["flower-embedded:team"]
    assert ns.metadata.labels["pod-security.kubernetes.io/enforce"] == "restricted"
    quota = rig.core(context).read_namespaced_resource_quota("flower-quota", spec.hub.namespace)
    assert quota.spec.hard["requests.cpu"] == config["flower-embedded:quota"]["requests.cpu"]
    from kubernetes import client

    client.NetworkingV1Api(rig.api(context)).read_namespaced_network_policy("default-deny-ingress", spec.hub.namespace)
    for name in outputs["placementNames"]:
        rig.custom(context).get_namespaced_custom_object(*PLACEMENTS[:2], spec.ocm_namespace, PLACEMENTS[2], name)
    expect_decisions(rig, context, spec, {"cpu": ["team-a-1", "team-a-2"]})
    # the quota admitted the hub's pods: the SuperLink Deployment is Available inside it
    apps = rig.apps(context).list_namespaced_deployment(spec.hub.namespace).items
    assert apps, "no Deployment in the embedded namespace"
    for d in apps:
        conditions = {c.type: c.status for c in (d.status.conditions or [])}
        assert conditions.get("Available") == "True", (d.metadata.name, conditions)


def check_side_by_side(rig: Rig, context: str, config: dict[str, Any], outputs: dict[str, Any]) -> None:
    federations = config["flower-side-by-side:federations"]
    assert sorted(outputs["federations"]) == sorted(f["name"] for f in federations)
    for declaration in federations:
        spec = parse_spec(declaration)
        out = outputs["federations"][spec.name]
        assert out["namespace"] == spec.hub.namespace
        assert out["addonName"] == spec.distribution.ocm.addon_name
        rig.custom(context).get_cluster_custom_object(*CMAS[:2], CMAS[2], spec.distribution.ocm.addon_name)
        for name in out["placementNames"]:
            rig.custom(context).get_namespaced_custom_object(*PLACEMENTS[:2], spec.ocm_namespace, PLACEMENTS[2], name)
        expect_decisions(rig, context, spec, {"cpu": ["dev-1", "dev-2"]})


#: building-blocks: `cpu` = research clusters without accelerator=nvidia; `gpu` = 2 of the nvidia ones the
#: pool can select (research-gpu-1 has a NoSelect taint this pool does not tolerate).
BYO_GPU_CANDIDATES = {"research-gpu-2", "research-gpu-3", "research-gpu-4", "research-gpu-5"}


def check_building_blocks(rig: Rig, context: str, config: dict[str, Any], outputs: dict[str, Any]) -> None:
    namespace = "flower-byo"
    rig.core(context).read_namespace(namespace)
    cpu, gpu = outputs["placementNames"]
    for name in (cpu, gpu):
        rig.custom(context).get_namespaced_custom_object(*PLACEMENTS[:2], namespace, PLACEMENTS[2], name)
    wait_until("building-blocks cpu decisions", lambda: placement_decisions(rig, context, namespace, cpu)
               == ["research-cpu-1", "research-cpu-2", "research-cpu-3"], timeout=90)
    chosen = wait_until("building-blocks gpu decisions", lambda: (lambda d: d if len(d) == 2 else None)(
        placement_decisions(rig, context, namespace, gpu)), timeout=90)
    assert set(chosen) <= BYO_GPU_CANDIDATES, chosen
    assert outputs["addonName"] == "flower-supernode-byo"
    cma = rig.custom(context).get_cluster_custom_object(*CMAS[:2], CMAS[2], outputs["addonName"])
    assert {p["name"] for p in cma["spec"]["installStrategy"]["placements"]} == {cpu, gpu}
    for name in outputs["clientAppNames"]:
        rig.custom(context).get_namespaced_custom_object(*MWRS[:2], namespace, MWRS[2], name)
    # the public CA reached the addon's configuration, no private key anywhere in it
    text = json.dumps(rig.custom(context).list_namespaced_custom_object(
        "addon.open-cluster-management.io", "v1alpha1", namespace, "addondeploymentconfigs")["items"])
    assert "PRIVATE KEY" not in text


EXAMPLES = {
    # name: (stack, context, check)
    "default-program": ("dev", "hub-dev", check_default_program),
    "embedded": ("staging", "hub-staging", check_embedded),
    "side-by-side": ("dev", "hub-dev", check_side_by_side),
    "building-blocks": ("research", "hub-research", check_building_blocks),
}


def test_every_example_is_covered() -> None:
    programs = sorted(p.parent.name for p in (REPO / "examples").glob("*/Pulumi.yaml"))
    assert programs == sorted(EXAMPLES)


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_example_lifecycle_on_the_real_control_plane(project: Project, rig: Rig, tmp_path: Path, name: str) -> None:
    stack, context, check = EXAMPLES[name]
    cwd = project.root / "examples" / name
    backend = tmp_path / "state"
    backend.mkdir()
    env = {"PULUMI_BACKEND_URL": f"file://{backend}"}
    config = stack_config(name, stack)
    assert config.get("kubernetes:context", config.get("flower-embedded:context")) == context

    def pulumi(*args: str, **kw: Any) -> Any:
        return project.pulumi(*args, cwd=cwd, stack=stack, env=env, **kw)

    project.pulumi("stack", "init", stack, cwd=cwd, env=env)
    if name == "building-blocks":
        ca = tls.generate_ca(validity_days=30).cert_pem
        # (`config set KEY -- VALUE` would swallow the flags Project.pulumi appends; set-all keeps them flags)
        pulumi("config", "set-all", "--plaintext", f"caCertificate={ca}")

    preview = pulumi("preview")
    created = int(re.search(r"\+ (\d+) to create", preview.stdout).group(1))  # type: ignore[union-attr]
    assert created > 5, preview.stdout[-3000:]

    pulumi("up", "--yes")
    outputs = json.loads(pulumi("stack", "output", "--json", "--show-secrets").stdout)
    state = json.loads(pulumi("stack", "export").stdout)
    objects = live_objects(state)
    assert len(objects) >= 5, [label(o) for o in objects]
    assert "PRIVATE KEY" not in json.dumps(state)
    dyn = dynamic(rig, context)
    missing = [label(o) for o in objects if read(dyn, o) is None]
    assert missing == []
    check(rig, context, config, outputs)

    pulumi("preview", "--expect-no-changes")

    pulumi("destroy", "--yes")

    def remaining() -> list[str]:
        return [label(o) for o in objects if read(dyn, o) is not None]

    try:  # OCM's finalizers and namespace deletion take a moment
        wait_until(f"{name}: every object gone", lambda: not remaining(), timeout=120)
    except AssertionError:
        assert remaining() == []
    after = json.loads(pulumi("stack", "export").stdout)
    assert [r["type"] for r in after["deployment"].get("resources") or []] == []
