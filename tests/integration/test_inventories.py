"""The four inventories: readable without a vault password, and different where environments should be."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.harness.playbook import ROOT

BIN = Path(sys.executable).parent
ENVIRONMENTS = ["local", "dev", "staging", "prod"]


def inventory_vars(environment: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "ANSIBLE_VAULT_PASSWORD_FILE"}
    listed = subprocess.run(
        [str(BIN / "ansible-inventory"), "-i", f"inventories/{environment}", "--list"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        stdin=subprocess.DEVNULL,
    )
    return json.loads(listed.stdout)["_meta"]["hostvars"]["localhost"]


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_inventory_lists_without_a_vault_password_and_site_passes_syntax_check(environment):
    hostvars = inventory_vars(environment)
    assert hostvars["sage_environment"] == environment
    assert hostvars["sage_aws_region"] == "us-west-2"
    assert hostvars["sage_stack_name"].startswith("sage")
    syntax = subprocess.run(
        [str(BIN / "ansible-playbook"), "site.yml", "-i", f"inventories/{environment}", "--syntax-check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert syntax.returncode == 0, syntax.stdout + syntax.stderr


def test_environments_differ_where_they_should():
    hostvars = {environment: inventory_vars(environment) for environment in ENVIRONMENTS}
    assert hostvars["prod"]["network_nat_gateway_mode"] == "per_az"
    assert {hostvars[e]["network_nat_gateway_mode"] for e in ("dev", "staging")} == {"single"}
    assert hostvars["prod"]["network_flow_logs_enabled"] is True
    assert hostvars["dev"]["network_flow_logs_enabled"] is False
    assert len({hostvars[e]["sage_stack_name"] for e in ("dev", "staging", "prod")}) == 3, "no name clashes"


def test_only_the_local_inventory_points_at_an_emulator():
    assert "endpoint_url" in inventory_vars("local")["sage_aws_connection"]
    for environment in ("dev", "staging", "prod"):
        connection = inventory_vars(environment)["sage_aws_connection"]
        assert set(connection) == {"region", "aws_config"}, "real environments take credentials from the environment"
