"""Shared fixtures: one AWS emulator for the whole test session, started on a free loopback port."""

from __future__ import annotations

import functools

import pytest

from tests.harness import emulator as emulator_harness


@pytest.fixture(scope="session")
def emulator():
    with emulator_harness.running() as running:
        yield running


@pytest.fixture(scope="session")
def aws(emulator):
    """A boto3 client factory pointed at the emulator: aws("ec2")."""
    return functools.partial(emulator_harness.client, emulator.endpoint)
