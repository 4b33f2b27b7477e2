"""Payload checks: the sizes `payloads.problems` computes from probes equal the sizes of the objects built one by one."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from federation import payloads
from federation.loading import read_stack_config, stack_file
from federation.manifests import ocm
from federation.spec import FederationSpec
from federation.templating import compact_json, compact_size, template_variables

REPO = Path(__file__).resolve().parents[1]
CA = ocm.PLACEHOLDER_CA


def stack_data(stack: str) -> dict[str, Any]:
    data = read_stack_config(stack_file(stack, REPO / "stacks"))
    assert isinstance(data, dict)
    return copy.deepcopy(data)


def fleet(stack: str, *, manual: bool = False, mirrors: list[dict[str, str]] | None = None) -> dict[str, Any]:
    """`stack` with many pools alike but for names (1 to 63 characters) and selections, and ClientApps alike but
    for names, images (digests, Docker Hub short names, other registries) and pools (one or two each)."""
    data = stack_data(stack)
    template = data["pools"][0]
    names = ["p", "pool-b", "a" * 63, "x-1", "gpu-cluster-pool-with-a-long-name", "q9"]
    data["pools"] = []
    for i, name in enumerate(names):
        pool = copy.deepcopy(template)
        pool["name"] = name
        selection: dict[str, Any] = {"clusterSets": [f"set-{i}"] * (i % 3 + 1)}
        if i % 2:
            selection["labelSelector"] = {"matchLabels": {"zone": f"z{i}"}}
        if manual:
            selection["clusters"] = [f"c{i}-{j}" for j in range(i + 1)]
        pool["selection"] = selection
        data["pools"].append(pool)
    images = ["flwr/clientapp:1.0", "ubuntu:24.04", "registry.example.com/fl/clientapp:2.3.1@sha256:" + "4c" * 32,
              "ghcr.io/example/a-much-longer-image-name/clientapp:1.0.0-rc1", "localhost:5000/app:1", "python"]
    app = data["clientApps"][0]
    data["clientApps"] = []
    for i, image in enumerate(images):
        entry = copy.deepcopy(app)
        entry["name"] = ["a", "trainer", "b" * 50, "app-3", "c-4", "evaluator-five"][i]
        entry["image"] = image
        entry["pools"] = [names[i]] if i % 2 == 0 else [names[i], names[(i + 1) % len(names)]]
        data["clientApps"].append(entry)
    data["clientApps"].append({**copy.deepcopy(app), "name": "two-b", "image": "flwr/x:2", "pools": [names[4], names[5]]})
    if manual:
        data.setdefault("distribution", {}).setdefault("ocm", {})["installStrategy"] = "Manual"
    if mirrors is not None:
        data["flower"]["registryMirrors"] = mirrors
    return data


def prod_isolations() -> dict[str, Any]:
    """Pools in both isolations and with and without GPUs: several groups of alike pools."""
    data = fleet("prod")
    for i, pool in enumerate(data["pools"]):
        pool["isolation"] = "process" if i % 3 else "subprocess"
        if i >= 3:
            pool["gpu"] = {"resourceName": "nvidia.com/gpu", "count": 1, "nodeSelector": {"gpu": "yes"}}
    data["clientApps"] = [a for a in data["clientApps"]
                          if all(data["pools"][[p["name"] for p in data["pools"]].index(n)]["isolation"] == "process"
                                 for n in a["pools"])]
    return data


def task_pods() -> dict[str, Any]:
    data = fleet("prod")
    for app in data["clientApps"]:
        app["taskPods"] = {"enabled": True}
    return data


def insecure_dev() -> dict[str, Any]:
    data = fleet("dev")
    data["hub"]["tls"] = {"mode": "insecure", "allowInsecure": True}
    return data


CASES = {
    "dev": lambda: fleet("dev"),
    "prod": lambda: fleet("prod"),
    "manual": lambda: fleet("prod", manual=True),
    "mirrors": lambda: fleet("prod", mirrors=[{"source": "", "mirror": "mirror.local:5000/all"},
                                              {"source": "ghcr.io/example", "mirror": "m.example.com/gh"}]),
    "isolations": prod_isolations,
    "task-pods": task_pods,
    "insecure": insecure_dev,
}


def spec_of(data: dict[str, Any]) -> FederationSpec:
    """The typed spec without the rules (payloads.problems is what is under test)."""
    return FederationSpec.model_validate(data)


def built_template_sizes(spec: FederationSpec) -> list[tuple[int, set[str]]]:
    out = []
    for pool in spec.pools:
        text = compact_json(ocm.addon_template(spec, pool, CA))
        out.append((len(text.encode()), template_variables(text)))
    return out


def computed_template_sizes(spec: FederationSpec) -> list[tuple[int, set[str]]]:
    out = []
    for built in payloads._templates(spec, [payloads._pool_key(p) for p in spec.pools]):
        assert not isinstance(built, ValueError)
        out.append((built.size, built.variables))
    return out


def built_mwrs_sizes(spec: FederationSpec) -> list[int | None]:
    known = spec.pools_by_name
    return [compact_size(ocm.manifest_work_replica_set(spec, app)) if any(n in known for n in app.pools) else None
            for app in spec.client_apps]


def computed_mwrs_sizes(spec: FederationSpec) -> list[int | None]:
    keys: dict[str, str] = {}
    for pool in spec.pools:
        keys.setdefault(pool.name, payloads._pool_key(pool))
    return list(payloads._mwrs_sizes(spec, keys))


class Builds:
    """Counts the builder calls payloads makes."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.templates = self.mwrs = 0
        template, mwrs = ocm.addon_template, ocm.manifest_work_replica_set

        def count_template(*args: Any, **kwargs: Any) -> Any:
            self.templates += 1
            return template(*args, **kwargs)

        def count_mwrs(*args: Any, **kwargs: Any) -> Any:
            self.mwrs += 1
            return mwrs(*args, **kwargs)

        monkeypatch.setattr(ocm, "addon_template", count_template)
        monkeypatch.setattr(ocm, "manifest_work_replica_set", count_mwrs)


@pytest.mark.parametrize("case", sorted(CASES))
def test_computed_sizes_equal_the_built_objects(case: str) -> None:
    spec = spec_of(CASES[case]())
    assert computed_template_sizes(spec) == built_template_sizes(spec)
    assert computed_mwrs_sizes(spec) == built_mwrs_sizes(spec)


@pytest.mark.parametrize("case", sorted(CASES))
def test_problems_equal_those_of_building_each_object(case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    data = CASES[case]()
    data.setdefault("distribution", {}).setdefault("ocm", {})["maxManifestBytes"] = 1024  # every payload is over
    spec = spec_of(data)
    found = list(payloads.problems(spec))
    assert sum("bytes (JSON)" in p.message for p in found) == len(spec.pools) + len(spec.client_apps)
    with monkeypatch.context() as m:  # no probes: every template and ManifestWorkReplicaSet is built
        m.setattr(payloads, "_shared_template", lambda *_: None)
        m.setattr(payloads, "_mwrs_probe", lambda *_: None)
        assert found == list(payloads.problems(spec))


def test_alike_pools_and_client_apps_are_built_twice_not_each(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = spec_of(fleet("prod"))
    builds = Builds(monkeypatch)
    list(payloads.problems(spec))
    # one group of pools and two of ClientApps (one pool or two): two probes each
    assert (builds.templates, builds.mwrs) == (2, 4)


def test_a_lone_pool_or_client_app_is_built_once(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = spec_of(stack_data("prod"))  # cpu and gpu differ, so do their ClientApps
    builds = Builds(monkeypatch)
    list(payloads.problems(spec))
    assert (builds.templates, builds.mwrs) == (2, 2)


def test_a_name_that_enters_other_than_verbatim_falls_back_to_building(monkeypatch: pytest.MonkeyPatch) -> None:
    template, mwrs = ocm.addon_template, ocm.manifest_work_replica_set

    def shouting_template(spec: FederationSpec, pool: Any, ca: Any) -> Any:
        out = template(spec, pool, ca)
        out["metadata"]["annotations"]["pool"] = pool.name.upper() + "x" * (len(pool.name) // 10)
        return out

    def shortened_mwrs(spec: FederationSpec, app: Any) -> Any:
        out = mwrs(spec, app)
        out["metadata"]["annotations"]["app"] = "x" * (len(app.name) // 10)  # not linear in the name's length
        return out

    monkeypatch.setattr(ocm, "addon_template", shouting_template)
    monkeypatch.setattr(ocm, "manifest_work_replica_set", shortened_mwrs)
    spec = spec_of(fleet("prod"))
    assert computed_template_sizes(spec) == built_template_sizes(spec)
    assert computed_mwrs_sizes(spec) == built_mwrs_sizes(spec)


def test_a_template_that_reads_the_selection_falls_back_to_building(monkeypatch: pytest.MonkeyPatch) -> None:
    template = ocm.addon_template

    def with_sets(spec: FederationSpec, pool: Any, ca: Any) -> Any:
        out = template(spec, pool, ca)
        out["metadata"]["annotations"]["sets"] = ",".join(pool.selection.cluster_sets)
        return out

    monkeypatch.setattr(ocm, "addon_template", with_sets)
    spec = spec_of(fleet("prod"))
    assert computed_template_sizes(spec) == built_template_sizes(spec)


def test_a_stand_in_written_by_the_user_falls_back_to_building() -> None:
    data = fleet("prod")
    for pool in data["pools"]:
        pool["nodeConfig"] = {"note": f"see {payloads._NAME_A}"}
    spec = spec_of(data)
    assert computed_template_sizes(spec) == built_template_sizes(spec)


def test_unknown_and_repeated_pools_of_a_client_app() -> None:
    data = fleet("prod")
    names = [p["name"] for p in data["pools"]]
    data["clientApps"] += [
        {**data["clientApps"][0], "name": "gone", "pools": ["nowhere"]},
        {**data["clientApps"][0], "name": "half", "pools": [names[0], "nowhere"]},
        {**data["clientApps"][0], "name": "twice", "pools": [names[1], names[1]]},
        {**data["clientApps"][0], "name": "twice-too", "pools": [names[2], names[2]]},
    ]
    spec = spec_of(data)
    sizes = computed_mwrs_sizes(spec)
    assert sizes == built_mwrs_sizes(spec)
    assert sizes[-4] is None


@pytest.mark.parametrize("text", ["pool-a", "registry.example.com/fl/app:1@sha256:" + "ab" * 32, 'a"b', "a\\b",
                                  "tab\there", "caf\u00e9", "\u2603 snow", "", "{{X}}"])
def test_bytes_is_the_json_encoded_length(text: str) -> None:
    assert payloads._bytes(text) == len(compact_json(text).encode()) - 2


def test_a_variable_in_a_pool_name_is_found() -> None:
    # Not a DNS label (validation rejects it), but the payload checks see the template as it would be built.
    spec = spec_of(fleet("dev"))
    pools = [p.model_copy(update={"name": f"{{{{V{i}}}}}"}) if i < 2 else p for i, p in enumerate(spec.pools)]
    spec = spec.model_copy(update={"pools": pools})
    assert computed_template_sizes(spec) == built_template_sizes(spec)
    assert "V0" in computed_template_sizes(spec)[0][1]
