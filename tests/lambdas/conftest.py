"""Fixtures for the tests of the alert Lambda (files/lambdas/discord_alert).

The Lambda is loaded the way its deployment package lays it out: ``handler.py`` with the collection's
``plugins/module_utils/discord.py`` next to it as the top-level module ``discord``. Each ``new_container()``
loads ``handler.py`` afresh, i.e. with the empty caches of a new Lambda container. Secrets Manager is moto
in-process; the webhooks are on the fake Discord server of tests/harness/discord_server.py, whose rate-limit
window is a quarter of a second and whose retries back off from 10 ms, so the tests run in seconds.
"""

from __future__ import annotations

import importlib.util
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import boto3
import botocore.client
import pytest
from moto import mock_aws

from tests.harness import discord_server as fake_discord

ROOT = Path(__file__).resolve().parents[2]
HANDLER = ROOT / "files" / "lambdas" / "discord_alert" / "handler.py"
DISCORD = ROOT / "collections" / "ansible_collections" / "sage" / "infra" / "plugins" / "module_utils" / "discord.py"
REGION = "us-west-2"
CHANNELS = ("errors", "performance", "business")


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def discord_module(monkeypatch):
    """module_utils/discord.py as the Lambda imports it (``import discord``), with short retry backoffs."""
    module = _load("discord", DISCORD)
    monkeypatch.setitem(sys.modules, "discord", module)
    monkeypatch.setattr(module, "BACKOFF_INITIAL", 0.01)
    monkeypatch.setattr(module, "BACKOFF_MAX", 0.05)
    return module


@pytest.fixture
def new_container(discord_module):
    """Load handler.py afresh: a new Lambda container, with nothing cached."""
    return lambda: _load("handler", HANDLER)


@pytest.fixture
def secretsmanager(monkeypatch):
    """moto in-process, with dummy credentials and nothing of the caller's AWS environment."""
    for var in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_REGION", REGION)
    with mock_aws():
        yield boto3.client("secretsmanager", region_name=REGION)


@pytest.fixture
def discord_server():
    with fake_discord.running(burst=5, window=0.25) as server:
        yield server


@dataclass
class Channel:
    name: str
    webhook_id: str
    url: str
    token: str
    secret_arn: str


@pytest.fixture
def channels(discord_server, secretsmanager, monkeypatch):
    """One webhook per channel on the fake server, its URL in a secret; the Lambda's environment set for them."""
    result = {}
    for name in CHANNELS:
        url = discord_server.create_webhook()
        webhook_id = url.rsplit("/", 2)[1]
        arn = secretsmanager.create_secret(Name=f"sage/discord-webhook-{name}", SecretString=url)["ARN"]
        result[name] = Channel(name, webhook_id, url, discord_server.token(webhook_id), arn)
    arns = ", ".join(f'"{name}": "{channel.secret_arn}"' for name, channel in result.items())
    monkeypatch.setenv("WEBHOOK_SECRET_ARNS", "{" + arns + "}")
    monkeypatch.setenv("CHANNEL_BY_ALARM", '{"sage-ecs-cpu-high": "performance", "sage-alb-5xx-rate": "errors"}')
    monkeypatch.setenv("DEFAULT_CHANNEL", "errors")
    monkeypatch.setenv("ALLOW_INSECURE_WEBHOOK_URL", "true")
    monkeypatch.setenv("DEADLINE_MARGIN_SECONDS", "0.1")
    monkeypatch.delenv("DISCORD_USERNAME", raising=False)
    return result


class Context:
    """The part of the Lambda context object the handler uses: time left, counted from creation."""

    def __init__(self, seconds: float = 30.0):
        self.ends = time.monotonic() + seconds
        self.function_name = "sage-discord-alert"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.ends - time.monotonic()) * 1000))


@pytest.fixture
def context():
    return Context


@pytest.fixture
def secret_reads(monkeypatch):
    """SecretId of every GetSecretValue call, in order (from any thread)."""
    recorded = []
    lock = threading.Lock()
    original = botocore.client.BaseClient._make_api_call

    def recording(self, operation_name, api_params):
        if operation_name == "GetSecretValue":
            with lock:
                recorded.append(api_params.get("SecretId"))
        return original(self, operation_name, api_params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", recording)
    return recorded
