"""The secrets role: values from the vault, never overwritten unless asked, never printed (even at -vvvv)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.harness.playbook import ROOT, run_playbook

VALUES = {
    "vault_anthropic_api_key": "sk-ant-test-7f3a9c1e5b2d4f6a8c0e",
    "vault_discord_webhook_errors": "https://discord.com/api/webhooks/111/errors-token-Zq8w",
    "vault_discord_webhook_performance": "https://discord.com/api/webhooks/222/perf-token-Xy7v",
}
NEW_VALUES = {key: value + "-rotated" for key, value in VALUES.items()}


def vault_args(tmp_path: Path, values: dict) -> list[str]:
    """Pass the values as users do: an ansible-vault encrypted vars file, not -e on the command line."""
    password = tmp_path / "vault-password"
    password.write_text("test-vault-password\n")
    vault = tmp_path / "vault.yml"
    vault.write_text(yaml.safe_dump(values))
    subprocess.run(
        [
            str(Path(sys.executable).parent / "ansible-vault"),
            "encrypt",
            str(vault),
            "--vault-password-file",
            str(password),
        ],
        check=True,
        capture_output=True,
    )
    assert next(iter(values.values())) not in vault.read_text()
    return ["-e", f"@{vault}", "--vault-password-file", str(password)]


@pytest.fixture(scope="module")
def fresh(emulator):
    emulator.reset_state()
    return emulator


def files_under(directory: Path) -> list[str]:
    """The text of every file under directory. Another test worker's runs create and remove their own files
    there meanwhile: os.walk skips a directory that vanished, and a file that vanished is skipped too."""
    texts = []
    for parent, _dirs, names in os.walk(directory):
        for name in names:
            try:
                texts.append((Path(parent) / name).read_text(errors="replace"))
            except (FileNotFoundError, IsADirectoryError):
                continue
    return texts


def value(aws, name):
    return aws("secretsmanager").get_secret_value(SecretId=f"sage/{name}")["SecretString"]


def test_values_are_stored_and_never_printed_even_at_vvvv(fresh, aws, tmp_path):
    log = tmp_path / "ansible.log"
    run = run_playbook(
        "site.yml",
        fresh.endpoint,
        "--tags",
        "secrets",
        "-vvvv",
        "--diff",
        *vault_args(tmp_path, VALUES),
        env={"ANSIBLE_LOG_PATH": str(log)},
    ).assert_ok()
    assert value(aws, "anthropic-api-key") == VALUES["vault_anthropic_api_key"]
    assert value(aws, "discord-webhook-errors") == VALUES["vault_discord_webhook_errors"]
    described = aws("secretsmanager").describe_secret(SecretId="sage/discord-webhook-business")
    assert not described.get("VersionIdsToStages"), "no value given: none stored"
    assert "sage/discord-webhook-business" in run.output.split("have no value yet")[1]

    leftovers = [text for d in (ROOT / ".ansible", Path.home() / ".ansible" / "tmp") for text in files_under(d)]
    for text in [run.output, log.read_text(), *leftovers]:
        for secret in VALUES.values():
            assert secret not in text
            assert secret.split("/")[-1] not in text


def test_existing_values_are_kept_unless_overwrite_is_asked(fresh, aws, tmp_path):
    kept = run_playbook("site.yml", fresh.endpoint, "--tags", "secrets", *vault_args(tmp_path, NEW_VALUES)).assert_ok()
    assert kept.changed == 0
    assert value(aws, "anthropic-api-key") == VALUES["vault_anthropic_api_key"]

    replaced = run_playbook(
        "site.yml",
        fresh.endpoint,
        "--tags",
        "secrets",
        "-vvv",
        *vault_args(tmp_path, NEW_VALUES),
        extra_vars={"secrets_overwrite_values": True},
    ).assert_ok()
    assert replaced.changed == 1
    assert value(aws, "anthropic-api-key") == NEW_VALUES["vault_anthropic_api_key"]
    for secret in NEW_VALUES.values():
        assert secret not in replaced.output

    again = run_playbook(
        "site.yml", fresh.endpoint, "--tags", "secrets", extra_vars={**NEW_VALUES, "secrets_overwrite_values": True}
    ).assert_ok()
    assert again.changed == 0


def test_a_value_given_later_fills_an_empty_secret(fresh, aws):
    business = "https://discord.com/api/webhooks/333/biz-token-Wq1"
    run = run_playbook(
        "site.yml",
        fresh.endpoint,
        "--tags",
        "secrets",
        extra_vars={**VALUES, "vault_discord_webhook_business": business},
    ).assert_ok()
    assert run.changed == 1
    assert value(aws, "discord-webhook-business") == business
    assert "have no value yet" not in run.output
