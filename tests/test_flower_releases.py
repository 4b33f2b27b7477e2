"""The per-release table of the runtime contract (`flower.RELEASES`) against every installed Flower release.

The project's own environment holds the pinned release; more installations (other venvs with
another verified release) are named by `$FLOWER_FEDERATION_EXTRA_FLWR` (bin directories, separated by
`os.pathsep`), e.g. `python -m venv /tmp/flwr141 && /tmp/flwr141/bin/pip install flwr==1.41.0`, then
`FLOWER_FEDERATION_EXTRA_FLWR=/tmp/flwr141/bin`. For each installation: its version is in the table,
every flag the table (and so the contract) uses is in that release's `--help`, and one short
federation (TLS, process isolation, the SuperExec secrets, the Fleet proxy) completes a round.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from federation import flower
from federation.local import LocalFederation
from federation.local.runner import BIN_DIR_ENV
from tests.e2e.specs import make_spec
from tests.test_local_e2e import EXAMPLE, assert_completed, assert_no_leftovers

pytestmark = [pytest.mark.e2e]


def installations() -> list[Path]:
    extra = [Path(d) for d in os.environ.get("FLOWER_FEDERATION_EXTRA_FLWR", "").split(os.pathsep) if d]
    return [Path(sys.executable).parent, *extra]


def installed_version(bin_dir: Path) -> str:
    out = subprocess.run([str(bin_dir / "flwr"), "--version"], capture_output=True, text=True, check=True, timeout=120)
    match = re.search(r"Flower version: (\S+)", out.stdout)
    assert match, out.stdout
    return match.group(1)


def help_flags(binary: Path) -> set[str]:
    out = subprocess.run([str(binary), "--help"], capture_output=True, text=True, check=True, timeout=120)
    return set(re.findall(r"(?m)^\s+(--[a-z0-9-]+)", out.stdout))


@pytest.mark.parametrize("bin_dir", installations(), ids=str)
def test_every_flag_of_the_release_table_is_in_the_installed_help(bin_dir: Path) -> None:
    version = installed_version(bin_dir)
    release = flower.release(version)  # KeyError: an installed release the contract was not verified against
    for binary, flags in release.flags.items():
        offered = help_flags(bin_dir / binary)
        assert flags <= offered, (version, binary, sorted(flags - offered))


@pytest.mark.timeout(240)
@pytest.mark.parametrize("bin_dir", installations(), ids=str)
def test_one_short_federation_per_installed_release(bin_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    version = installed_version(bin_dir)
    monkeypatch.setenv(BIN_DIR_ENV, str(bin_dir))
    spec = make_spec(flower={"version": version}, pools=[{"name": "cpu", "isolation": "process"}])
    assert spec.flower.images.superlink == f"flwr/superlink:{version}"
    with LocalFederation(spec, tmp_path) as fed:
        assert fed.superlink_process is not None and fed.superlink_process.argv[0] == str(bin_dir / "flower-superlink")
        result = fed.run(EXAMPLE, 1, timeout=150)
        pids = fed.pids()
    assert_completed(result, rounds=1)
    assert_no_leftovers(tmp_path, pids)
