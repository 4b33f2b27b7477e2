"""Shared fixtures: a recording Pulumi mock engine."""

from __future__ import annotations

from typing import Any

import pytest

SECRET_SIG = "4dabf18193072939515e22adb298388d"


def unwrap(value: Any) -> Any:
    """Strip Pulumi's secret wrappers from mock inputs, recursively."""
    if isinstance(value, dict):
        if SECRET_SIG in value:
            return unwrap(value["value"])
        return {k: unwrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap(v) for v in value]
    return value


@pytest.fixture
def pulumi_mocks():
    """Fresh mocks per test: records every registered resource and the options it was registered with."""
    import pulumi
    from pulumi.runtime.mocks import MockMonitor

    class Recorder(pulumi.runtime.Mocks):
        def __init__(self) -> None:
            self.resources: list[pulumi.runtime.MockResourceArgs] = []
            self.requests: dict[str, Any] = {}
            self.state: dict[str, dict[str, Any]] = {}

        def new_resource(self, args: pulumi.runtime.MockResourceArgs):
            self.resources.append(args)
            outputs = dict(args.inputs)
            outputs.update(self.state.get(args.name, {}))
            return f"{args.name}-id", outputs

        def call(self, args: pulumi.runtime.MockCallArgs):
            return {}

        def by_type(self, suffix: str) -> list[pulumi.runtime.MockResourceArgs]:
            return [r for r in self.resources if r.typ.endswith(suffix)]

    class RecordingMonitor(MockMonitor):
        def RegisterResource(self, request):
            recorder.requests[request.name] = request
            return super().RegisterResource(request)

    recorder = Recorder()
    pulumi.runtime.set_mocks(recorder, project="flower-federation", stack="test", preview=False,
                             monitor=RecordingMonitor(recorder))
    pulumi.runtime.set_all_config({})
    yield recorder
    pulumi.runtime.set_all_config({})
