"""One converged stack (site.yml on the local inventory) shared by the test modules that only read it
or change it the way users do (deploys). Converged again if a test reset the emulator since.

`make test` runs these files in two pytest-xdist workers (`--dist loadfile`), each with its own emulator: a
file's tests stay together and in order in one worker. Each worker converges the stack once, for the files that
use it that it runs."""

from __future__ import annotations

import pytest

from tests.harness.ecr import push_image
from tests.harness.playbook import run_playbook

REPOSITORY = "sage-backend"


@pytest.fixture(scope="session")
def _stack_cache():
    return {}


@pytest.fixture(scope="module")
def converged(emulator, aws, _stack_cache):
    """The first site.yml run (at -vvv) on an account where CI already pushed the backend's `latest` image."""
    if _stack_cache.get("generation") != emulator.generation:
        emulator.reset_state()
        emulator.configure_rollout(seconds=1.0, failing_images=[])
        aws("ecr").create_repository(repositoryName=REPOSITORY)
        push_image(aws("ecr"), REPOSITORY, "initial-sha", "latest")
        run = run_playbook("site.yml", emulator.endpoint, "-vvv").assert_ok()
        assert run.changed > 0
        _stack_cache.update(generation=emulator.generation, run=run)
    return _stack_cache["run"]
