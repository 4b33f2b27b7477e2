"""Shared fixtures: a recording Pulumi mock engine; one port range per xdist worker."""

from __future__ import annotations

import os
from typing import Any

import pytest

from federation.local.runner import PORT_RANGE_ENV

# The CLI's rich consoles read the width once, when created: wide enough that tables never wrap rule
# names, for the in-process CLI tests as for the processes the tests start.
os.environ.setdefault("COLUMNS", "200")

#: Below Linux's ephemeral range (32768-60999), so the kernel never hands these out on its own.
_PORT_BASE, _PORT_SPAN = 20000, 2500


def pytest_configure(config: pytest.Config) -> None:
    """Each xdist worker (and the processes it starts) takes ports from its own range: no races between workers."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw-1")
    index = int(worker.removeprefix("gw")) + 1 if worker.startswith("gw") else 0
    start = _PORT_BASE + index * _PORT_SPAN
    os.environ[PORT_RANGE_ENV] = f"{start}-{start + _PORT_SPAN - 1}"

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
