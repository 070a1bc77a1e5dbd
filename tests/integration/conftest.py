"""One converged stack (site.yml on the local inventory) shared by the test modules that only read it
or change it the way users do (deploys). Converged again if a test reset the emulator since.

`make test` runs these files in two pytest-xdist workers, each with its own emulator. Each file is one unit of work
(its tests together and in order, in one worker), except that the files on the shared stack are one unit together,
so the stack is converged once per test session. Units start longest first, so both workers stay busy to the end.
(pytest-xdist's own `--dist loadgroup` cannot do this here: it renames test ids in a way pytest 9.2 ignores.)"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest
from xdist.scheduler import LoadScopeScheduling

from tests.harness.ecr import push_image
from tests.harness.playbook import run_make

REPOSITORY = "sage-backend"

SHARED_STACK = "the shared stack"
SHARED_STACK_FILES = (
    "test_diagnose.py",
    "test_site_logs.py",
    "test_plan.py",
    "test_site.py",
    "test_site_backup_bucket.py",
    "test_site_compute.py",
    "test_site_deploy.py",
    "test_site_monitoring.py",
)
# Then the files that take longest (each converges on an emptied emulator of its own or runs the molecule scenarios).
STARTED_FIRST = (
    SHARED_STACK,
    "test_lifecycle.py",
    "test_faults.py",
    "test_molecule.py",
    "test_secret_hygiene.py",
    "test_real_timing.py",
)


def _unit(file_name: str) -> str:
    return SHARED_STACK if file_name in SHARED_STACK_FILES else file_name


class SharedStackScheduling(LoadScopeScheduling):
    """--dist loadscope, with the shared stack's files as one scope and every other file a scope of its own."""

    def _split_scope(self, nodeid: str) -> str:
        return _unit(Path(nodeid.split("::", 1)[0]).name)


def pytest_xdist_make_scheduler(config, log):
    return SharedStackScheduling(config, log)


def pytest_collection_modifyitems(items):
    strays = sorted({item.path.name for item in items if "_stack_cache" in item.fixturenames} - set(SHARED_STACK_FILES))
    if strays:
        raise pytest.UsageError(f"{', '.join(strays)}: on the shared stack, add to SHARED_STACK_FILES in {__file__}")
    # The order in which the workers get the units (make test passes --no-loadscope-reorder).
    rank = {unit: position for position, unit in enumerate(STARTED_FIRST)}
    items.sort(key=lambda item: rank.get(_unit(item.path.name), len(rank)))


@pytest.fixture(scope="session")
def _stack_cache():
    return {}


@pytest.fixture(scope="module")
def converged(emulator, aws, _stack_cache):
    """The first site.yml run (at -vvv) on an account where CI already pushed the backend's `latest` image, run as
    the README's `make demo` (which finds this worker's emulator answering on its port)."""
    if _stack_cache.get("generation") != emulator.generation:
        emulator.reset_state()
        emulator.configure_rollout(seconds=1.0, failing_images=[])
        aws("ecr").create_repository(repositoryName=REPOSITORY)
        push_image(aws("ecr"), REPOSITORY, "initial-sha", "latest")
        port = urlsplit(emulator.endpoint).port
        run = run_make("demo", f"EMULATOR_PORT={port}", "DEMO_ARGS=-vvv").assert_ok()
        assert run.changed > 0
        _stack_cache.update(generation=emulator.generation, run=run)
    return _stack_cache["run"]
