"""The CIDR checks and subnet layout of sage.infra's network filters."""

import pytest
from ansible_collections.sage.infra.plugins.filter import network as nf

GOOD = {
    "network_public_subnet_cidrs": ["10.0.1.0/24", "10.0.2.0/24"],
    "network_private_subnet_cidrs": ["10.0.11.0/24", "10.0.12.0/24"],
    "network_database_subnet_cidrs": ["10.0.21.0/24", "10.0.22.0/24"],
}


def test_the_specified_layout_is_valid():
    assert nf.cidr_layout_errors(GOOD, "10.0.0.0/16", 2, min_az_count=2) == []


@pytest.mark.parametrize(
    ("change", "vpc", "az_count", "expected"),
    [
        ({}, "10.0.0.0/33", 2, "network_vpc_cidr: '10.0.0.0/33' is not a valid"),
        ({}, "10.0.0.1/16", 2, "network_vpc_cidr: '10.0.0.1/16' is not a valid"),
        ({}, "10.0.0.0/8", 2, "network_vpc_cidr: '10.0.0.0/8' must have a prefix length"),
        (
            {"network_public_subnet_cidrs": ["10.1.1.0/24", "10.0.2.0/24"]},
            "10.0.0.0/16",
            2,
            "network_public_subnet_cidrs: '10.1.1.0/24' lies outside network_vpc_cidr",
        ),
        (
            {"network_private_subnet_cidrs": ["10.0.1.0/25", "10.0.12.0/24"]},
            "10.0.0.0/16",
            2,
            "network_private_subnet_cidrs: '10.0.1.0/25' overlaps '10.0.1.0/24' of network_public_subnet_cidrs",
        ),
        (
            {"network_database_subnet_cidrs": ["10.0.21.0/24"]},
            "10.0.0.0/16",
            2,
            "network_database_subnet_cidrs: has 1 subnet(s) but network_az_count is 2",
        ),
        (
            {"network_public_subnet_cidrs": ["nonsense", "10.0.2.0/24"]},
            "10.0.0.0/16",
            2,
            "network_public_subnet_cidrs: 'nonsense' is not a valid",
        ),
        (
            {"network_public_subnet_cidrs": "10.0.1.0/24"},
            "10.0.0.0/16",
            2,
            "network_public_subnet_cidrs: must be a list",
        ),
        ({}, "10.0.0.0/16", 1, "network_az_count: 1 availability zone(s) given, this environment needs at least 2"),
    ],
)
def test_each_problem_names_its_variable(change, vpc, az_count, expected):
    errors = nf.cidr_layout_errors({**GOOD, **change}, vpc, az_count, min_az_count=2)
    assert any(expected in error for error in errors), errors


def test_subnet_plan_puts_one_subnet_of_each_tier_in_each_zone():
    plan = nf.subnet_plan(
        {"public": ["10.0.1.0/24", "10.0.2.0/24"], "database": ["10.0.21.0/24", "10.0.22.0/24"]},
        ["us-west-2a", "us-west-2b"],
        "sage",
    )
    assert plan == [
        {"name": "sage-public-1", "tier": "public", "cidr": "10.0.1.0/24", "az": "us-west-2a", "index": 0},
        {"name": "sage-public-2", "tier": "public", "cidr": "10.0.2.0/24", "az": "us-west-2b", "index": 1},
        {"name": "sage-database-1", "tier": "database", "cidr": "10.0.21.0/24", "az": "us-west-2a", "index": 0},
        {"name": "sage-database-2", "tier": "database", "cidr": "10.0.22.0/24", "az": "us-west-2b", "index": 1},
    ]
