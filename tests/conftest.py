"""Shared fixtures: one AWS emulator for the whole test session, started on a free loopback port."""

from __future__ import annotations

import boto3
import pytest

from tests.harness import emulator as emulator_harness

REGION = "us-west-2"


@pytest.fixture(scope="session")
def emulator():
    with emulator_harness.running() as running:
        yield running


@pytest.fixture(scope="session")
def aws(emulator):
    """A boto3 client factory pointed at the emulator."""

    def client(service: str):
        return boto3.client(
            service,
            region_name=REGION,
            endpoint_url=emulator.endpoint,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    return client
