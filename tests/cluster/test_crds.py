"""The OCM CRDs kept in crds/ocm are the ones the control plane installs from the OCM module it builds."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.cluster.conftest import CACHE, REPO, Rig

pytestmark = pytest.mark.cluster

KEPT = REPO / "crds" / "ocm"


def test_kept_crds_equal_the_ones_the_rig_installs(rig: Rig) -> None:
    installed = {p.name: p.read_bytes() for p in (CACHE / "ocm-crds").glob("*.crd.yaml")}
    kept = {p.name: p.read_bytes() for p in KEPT.glob("*.crd.yaml")}
    assert sorted(kept) == sorted(installed)
    assert [n for n in kept if kept[n] != installed[n]] == []
    # and the API server serves exactly those versions and schemas
    from kubernetes import client

    ext = client.ApiextensionsV1Api(rig.api())
    for name, raw in kept.items():
        crd = yaml.safe_load(raw)
        live = ext.read_custom_resource_definition(crd["metadata"]["name"])
        served = {v.name: v.schema.open_apiv3_schema is not None for v in live.spec.versions}
        assert served == {v["name"]: True for v in crd["spec"]["versions"]}, name


def test_provenance_lists_every_kept_file() -> None:
    readme = (KEPT / "README.md").read_text()
    for path in KEPT.glob("*.crd.yaml"):
        assert f"`{path.name}`" in readme, path.name
    assert "open-cluster-management.io/api@v1.2.0" in readme
    assert Path(REPO / "rig" / "tools" / "ocm" / "go.mod").read_text().count("open-cluster-management.io/api v1.2.0") == 1
