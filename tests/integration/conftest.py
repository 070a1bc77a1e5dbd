"""One converged stack (site.yml on the local inventory) shared by the test modules that only read it
or change it the way users do (deploys). Converged again if a test reset the emulator since.

`make test` runs these files in two pytest-xdist workers (`--dist loadgroup`), each with its own emulator: a
file's tests stay together and in order in one worker, and the files that use the converged stack share a worker,
so the stack is converged once."""

from __future__ import annotations

import pytest

from tests.harness.ecr import push_image
from tests.harness.playbook import run_playbook

REPOSITORY = "sage-backend"


def pytest_collection_modifyitems(items):
    uses_stack = {item.path for item in items if "converged" in item.fixturenames}
    for item in items:
        item.add_marker(pytest.mark.xdist_group("converged-stack" if item.path in uses_stack else item.path.stem))


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
