"""Every molecule scenario (converge, idempotence, verify, destroy) against the session's emulator."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.harness.playbook import ROOT

SCENARIOS = sorted(p.parent.name for p in (ROOT / "molecule").glob("*/molecule.yml"))


def test_scenarios_are_found():
    assert {"network", "secrets"} <= set(SCENARIOS)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_molecule_scenario(emulator, scenario):
    bin_dir = Path(sys.executable).parent
    env = dict(
        os.environ,
        AWS_ENDPOINT_URL=emulator.endpoint,
        ANSIBLE_FORCE_COLOR="0",
        NO_COLOR="1",
        PATH=f"{bin_dir}:{os.environ.get('PATH', '')}",
    )
    run = subprocess.run(
        [str(bin_dir / "molecule"), "test", "-s", scenario],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-8000:]
    for step in ("converge", "idempotence", "verify", "destroy"):
        assert f"{scenario} > {step}: Executed: Successful" in output, output[-4000:]
