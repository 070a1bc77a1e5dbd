# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ElastiCache as read and compared: the Valkey replication group's view and comparison, shared with
sage.infra.elasticache_valkey (what one says is in sync, the other leaves alone), and the subnet and parameter
groups."""

import functools

import boto3
import pytest
from ansible_collections.sage.infra.plugins.module_utils.stack import KINDS, plan_entry
from ansible_collections.sage.infra.plugins.module_utils.stack_elasticache import (
    read_replication_groups,
    read_subnet_groups,
)
from ansible_collections.sage.infra.plugins.modules import elasticache_valkey
from ansible_collections.sage.infra.tests.unit import moto_elasticache
from moto import mock_aws

REGION = "us-east-1"
GROUP = "sage-valkey"
TOKEN = "Sup3r-Secret-Token-0123456789"
DESIRED = {
    "description": "Valkey cache of sage",
    "engine_version": "8.0",
    "node_type": "cache.t3.micro",
    "num_cache_clusters": 1,
    "automatic_failover": False,
    "multi_az": False,
    "port": 6379,
    "transit_encryption_enabled": True,
    "transit_encryption_mode": "required",
    "at_rest_encryption_enabled": True,
    "snapshot_retention_limit": 1,
    "snapshot_window": "05:00-06:00",
    "preferred_maintenance_window": "sun:06:30-sun:07:30",
    "tags": {"Project": "sage", "Name": GROUP},
}
# The same, as the module's options.
OPTIONS = {
    "description": "Valkey cache of sage",
    "engine_version": "8.0",
    "node_type": "cache.t3.micro",
    "num_cache_clusters": 1,
    "automatic_failover": False,
    "multi_az": False,
    "port": 6379,
    "transit_encryption": True,
    "at_rest_encryption": True,
    "auth_token": TOKEN,
    "snapshot_retention_limit": 1,
    "snapshot_window": "05:00-06:00",
    "preferred_maintenance_window": "sun:06:30-sun:07:30",
    "tags": {"Project": "sage", "Name": GROUP},
}


def changes(kind, desired, current):
    return [change["attribute"] for change in KINDS[kind].changes(desired, current)]


def current(**changes_):
    return {
        **DESIRED,
        "engine_version": "8.0.1",
        "kms_key_id": "arn:aws:kms:us-east-1:123456789012:key/abcd",
        "auth_token_enabled": True,
        "status": "available",
        **changes_,
    }


def test_in_sync_with_a_patch_version():
    assert changes("replication_group", DESIRED, current()) == []


@pytest.mark.parametrize(
    ("attribute", "value"),
    [
        ("description", "by hand"),
        ("engine_version", "7.2.4"),
        ("node_type", "cache.t3.small"),
        ("num_cache_clusters", 2),
        ("automatic_failover", True),
        ("multi_az", True),
        ("port", 6380),
        ("transit_encryption_enabled", False),
        ("transit_encryption_mode", "preferred"),
        ("at_rest_encryption_enabled", False),
        ("snapshot_retention_limit", 0),
        ("snapshot_window", "01:00-02:00"),
        ("preferred_maintenance_window", "mon:06:30-mon:07:30"),
        ("tags", {"Project": "sage"}),
    ],
)
def test_each_attribute_drifting(attribute, value):
    assert changes("replication_group", DESIRED, current(**{attribute: value})) == [attribute]


def test_what_elasticache_valkey_accepts_as_the_same():
    assert changes("replication_group", dict(DESIRED, kms_key_id="abcd"), current()) == []
    assert changes("replication_group", dict(DESIRED, kms_key_id="other"), current()) == ["kms_key_id"]
    assert changes("replication_group", DESIRED, current(port=None)) == []  # no endpoint yet
    assert changes("replication_group", DESIRED, current(transit_encryption_mode=None)) == []
    assert changes("replication_group", DESIRED, current(preferred_maintenance_window="Sun:06:30-Sun:07:30")) == []
    assert changes("replication_group", dict(DESIRED, engine_version="8.x"), current()) == ["engine_version"]


def test_the_auth_token_is_neither_compared_nor_shown():
    desired = dict(DESIRED, auth_token=TOKEN)
    entry = plan_entry("replication_group", GROUP, desired, {"replication_group": {GROUP: current()}}, "cache")
    assert TOKEN not in str(entry)
    created = plan_entry("replication_group", GROUP, desired, {"replication_group": {GROUP: None}}, "cache")
    assert created["action"] == "create" and TOKEN not in str(created)


def test_subnet_and_parameter_groups():
    subnets = {"description": "d", "subnets": ["subnet-2", "subnet-1"]}
    assert changes("cache_subnet_group", subnets, {"description": "d", "subnets": ["subnet-1", "subnet-2"]}) == []
    assert changes("cache_subnet_group", subnets, {"description": "d", "subnets": ["subnet-1"]}) == ["subnets"]
    wanted = {"family": "valkey8", "parameters": {"maxmemory-policy": "allkeys-lru"}, "tags": {}}
    have = {"family": "valkey8", "parameters": {"maxmemory-policy": "allkeys-lru", "timeout": "0"}, "tags": {}}
    assert changes("cache_parameter_group", wanted, have) == []
    assert changes("cache_parameter_group", wanted, dict(have, parameters={})) == ["parameters"]


@pytest.fixture
def aws(monkeypatch, fake_aws_credentials):
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    moto_elasticache.patch_moto_gaps(functools.partial(monkeypatch.setattr, raising=False))
    with mock_aws():
        yield boto3.client("elasticache", region_name=REGION)


def test_the_read_and_the_module_agree(aws, calls, module_runner):
    run = module_runner(elasticache_valkey.main, secrets=(TOKEN,), replication_group_id=GROUP, region=REGION)
    run(**OPTIONS)
    calls.clear()
    read = read_replication_groups(aws, [GROUP, "missing"])
    # Read concurrently: one DescribeReplicationGroups per group, the member cluster and the tags of the one found.
    assert sorted(calls) == [
        "DescribeCacheClusters",
        "DescribeReplicationGroups",
        "DescribeReplicationGroups",
        "ListTagsForResource",
    ]
    assert read["missing"] is None
    view = read[GROUP]
    assert view["primary_endpoint"]["port"] == 6379 and view["member_clusters"] == [f"{GROUP}-001"]
    assert TOKEN not in str(read)
    stack = {"replication_group": read}
    assert plan_entry("replication_group", GROUP, DESIRED, stack)["action"] == "unchanged"
    assert run(**OPTIONS)["changed"] is False

    aws.modify_replication_group(ReplicationGroupId=GROUP, SnapshotRetentionLimit=5, ApplyImmediately=True)
    entry = plan_entry(
        "replication_group", GROUP, DESIRED, {"replication_group": read_replication_groups(aws, [GROUP])}
    )
    assert [(c["attribute"], c["current"], c["desired"]) for c in entry["changes"]] == [
        ("snapshot_retention_limit", 5, 1)
    ]
    assert run(**OPTIONS)["changed"] is True
    assert (
        plan_entry("replication_group", GROUP, DESIRED, {"replication_group": read_replication_groups(aws, [GROUP])})[
            "action"
        ]
        == "unchanged"
    )


def test_subnet_group_reader(aws):
    ec2 = boto3.client("ec2", region_name=REGION)
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    aws.create_cache_subnet_group(
        CacheSubnetGroupName="sage-cache-subnets", CacheSubnetGroupDescription="d", SubnetIds=[subnet]
    )
    read = read_subnet_groups(aws, ["sage-cache-subnets", "missing"])
    assert read["missing"] is None
    assert changes("cache_subnet_group", {"description": "d", "subnets": [subnet]}, read["sage-cache-subnets"]) == []
