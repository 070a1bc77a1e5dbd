"""Bad input fails with a message naming the variable, before any AWS call (counted at the emulator)."""

from __future__ import annotations

import pytest

from tests.harness.playbook import run_playbook

ONE_ZONE = {
    "network_az_count": 1,
    "network_public_subnet_cidrs": ["10.0.1.0/24"],
    "network_private_subnet_cidrs": ["10.0.11.0/24"],
    "network_database_subnet_cidrs": ["10.0.21.0/24"],
}

CASES = {
    "vpc prefix out of range": ({"network_vpc_cidr": "10.0.0.0/33"}, "network_vpc_cidr"),
    "vpc not a cidr": ({"network_vpc_cidr": "banana"}, "network_vpc_cidr: 'banana' is not a valid"),
    "vpc too large": ({"network_vpc_cidr": "10.0.0.0/8"}, "network_vpc_cidr: '10.0.0.0/8' must have a prefix"),
    "subnet outside the vpc": (
        {"network_public_subnet_cidrs": ["10.9.1.0/24", "10.0.2.0/24"]},
        "network_public_subnet_cidrs: '10.9.1.0/24' lies outside network_vpc_cidr",
    ),
    "overlapping subnets": (
        {"network_private_subnet_cidrs": ["10.0.1.128/25", "10.0.12.0/24"]},
        "network_private_subnet_cidrs: '10.0.1.128/25' overlaps",
    ),
    "zone count mismatch": ({"network_az_count": 3}, "has 2 subnet(s) but network_az_count is 3"),
    "prod needs two zones": (
        {**ONE_ZONE, "sage_environment": "prod"},
        "network_az_count: 1 availability zone(s) given, this environment needs at least 2",
    ),
    "unknown nat mode": ({"network_nat_gateway_mode": "triple"}, "network_nat_gateway_mode"),
    "unknown environment": ({"sage_environment": "qa"}, "sage_environment"),
    "retention not accepted by CloudWatch": (
        {"network_flow_logs_retention_days": 2},
        "network_flow_logs_retention_days",
    ),
    "zone count not a number": ({"network_az_count": "two"}, "network_az_count"),
    "explicit zones of the wrong count": (
        {"network_availability_zones": ["us-west-2a"]},
        "network_availability_zones lists 1 zone(s) but network_az_count is 2",
    ),
    "app port not a number": ({"network_app_port": "http"}, "network_app_port"),
    "recovery window too short": ({"secrets_recovery_window_days": 3}, "secrets_recovery_window_days"),
    "secret without value_var": (
        {"secrets_definitions": [{"key": "k", "name": "sage/k", "description": "d"}]},
        "value_var",
    ),
    "secret name with spaces": (
        {"secrets_definitions": [{"key": "k", "name": "sage/my key", "description": "d", "value_var": "v"}]},
        "secrets_definitions needs unique keys and unique names",
    ),
}


@pytest.mark.parametrize("extra_vars, expected", CASES.values(), ids=CASES.keys())
def test_bad_input_fails_before_any_aws_call(emulator, extra_vars, expected):
    emulator.reset_calls()
    run = run_playbook("site.yml", emulator.endpoint, extra_vars=extra_vars)
    assert run.returncode != 0, run.output
    assert expected in run.output, run.output[-4000:]
    assert emulator.calls() == [], "no AWS API call may happen before the input is valid"
