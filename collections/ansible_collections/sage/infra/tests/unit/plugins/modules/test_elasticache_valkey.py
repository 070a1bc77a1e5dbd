# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests for sage.infra.elasticache_valkey.

Most tests run against moto in-process. moto 5.2.5 has gaps that the ``aws`` fixture papers over
(see ``moto_elasticache.patch_moto_gaps``, shared with the integration tests' AWS emulator);
what moto does not implement at all (IncreaseReplicaCount,
DecreaseReplicaCount, groups that are not 'available' at once) and the error paths use a botocore
Stubber attached to the module's client.
"""

import functools
import json

import boto3
import botocore.client
import botocore.session
import pytest
from ansible_collections.sage.infra.plugins.modules import elasticache_valkey
from ansible_collections.sage.infra.tests.unit import moto_elasticache
from botocore.stub import Stubber
from moto import mock_aws
from moto.elasticache.models import elasticache_backends

REGION = "us-east-1"
GROUP = "sage-cache"
ARN = f"arn:aws:elasticache:{REGION}:123456789012:replicationgroup:{GROUP}"
TOKEN = "Sup3r-Secret-Token-0123456789"
OTHER_TOKEN = "An0ther-Secret-Token-987654321"
MUTATING = (
    "CreateReplicationGroup",
    "ModifyReplicationGroup",
    "DeleteReplicationGroup",
    "IncreaseReplicaCount",
    "DecreaseReplicaCount",
    "AddTagsToResource",
    "RemoveTagsFromResource",
)
NOOP_CALLS = ["DescribeReplicationGroups", "DescribeCacheClusters", "ListTagsForResource"]


@pytest.fixture(autouse=True)
def aws(monkeypatch, fake_aws_credentials):
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    moto_elasticache.patch_moto_gaps(functools.partial(monkeypatch.setattr, raising=False))
    with mock_aws():
        yield boto3.client("elasticache", region_name=REGION)


@pytest.fixture
def run(module_runner):
    secrets = (TOKEN, OTHER_TOKEN, "shortToken1")
    return module_runner(elasticache_valkey.main, diff=True, secrets=secrets, replication_group_id=GROUP, region=REGION)


@pytest.fixture
def clock(monkeypatch, fake_time):
    monkeypatch.setattr(elasticache_valkey, "time", fake_time)
    return fake_time


class Plan:
    """Responses a Stubber gives, in order, to the module's ElastiCache client."""

    def __init__(self):
        self.items = []
        self.stubbers = []

    def add(self, method, response=None, error=None, **params):
        self.items.append((method, response, error, params or None))
        return self

    def attach(self, client):
        stubber = Stubber(client)
        for method, response, error, params in self.items:
            if error:
                stubber.add_client_error(method, service_error_code=error, service_message=f"{error} happened")
            else:
                stubber.add_response(method, response or {}, params)
        stubber.activate()
        self.stubbers.append(stubber)

    def done(self):
        assert len(self.stubbers) == 1
        self.stubbers[0].assert_no_pending_responses()


@pytest.fixture
def stub(monkeypatch):
    plan = Plan()
    original = botocore.session.Session.create_client

    def create_client(self, service_name, *args, **kwargs):
        client = original(self, service_name, *args, **kwargs)
        if service_name == "elasticache":
            plan.attach(client)
        return client

    monkeypatch.setattr(botocore.session.Session, "create_client", create_client)
    return plan


def stub_group(status="available", nodes=1, **extra):
    """A DescribeReplicationGroups entry, as AWS returns it."""
    members = [f"{GROUP}-{i:03}" for i in range(1, nodes + 1)]
    group = {
        "ReplicationGroupId": GROUP,
        "Description": "Managed by Ansible",
        "Status": status,
        "MemberClusters": members,
        "AutomaticFailover": "enabled" if nodes > 1 else "disabled",
        "MultiAZ": "enabled" if nodes > 1 else "disabled",
        "SnapshotRetentionLimit": 0,
        "SnapshotWindow": "03:00-04:00",
        "ClusterEnabled": False,
        "CacheNodeType": "cache.t3.micro",
        "AuthTokenEnabled": False,
        "TransitEncryptionEnabled": True,
        "TransitEncryptionMode": "required",
        "AtRestEncryptionEnabled": True,
        "ARN": ARN,
        "Engine": "valkey",
    }
    if status == "available":
        endpoint = {"Address": f"master.{GROUP}.abc123.use1.cache.amazonaws.com", "Port": 6379}
        reader = {"Address": f"replica.{GROUP}.abc123.use1.cache.amazonaws.com", "Port": 6379}
        group["NodeGroups"] = [
            {"NodeGroupId": "0001", "Status": "available", "PrimaryEndpoint": endpoint, "ReaderEndpoint": reader}
        ]
    group.update(extra)
    return {"ReplicationGroups": [group]}


MEMBER = {
    "CacheClusters": [
        {
            "CacheClusterId": f"{GROUP}-001",
            "Engine": "valkey",
            "EngineVersion": "8.0.1",
            "CacheSubnetGroupName": "default",
            "PreferredMaintenanceWindow": "sun:05:00-sun:06:00",
        }
    ]
}


def test_create_single_node_then_noop(run, aws, calls):
    result = run(tags={"app": "sage"}, snapshot_window="03:00-04:00")
    assert result["changed"] is True
    assert calls == ["DescribeReplicationGroups", "CreateReplicationGroup", "DescribeReplicationGroups"]
    group = result["replication_group"]
    assert group["id"] == GROUP
    assert group["arn"] == ARN
    assert group["status"] == "available"
    assert group["engine"] == "valkey"
    assert group["engine_version"] == "8.0"
    assert group["node_type"] == "cache.t3.micro"
    assert group["primary_endpoint"]["address"].startswith(f"master.{GROUP}.")
    assert group["primary_endpoint"]["port"] == 6379
    assert group["member_clusters"] == [f"{GROUP}-001"]
    assert group["num_cache_clusters"] == 1
    assert group["automatic_failover"] is False
    assert group["multi_az"] is False
    assert group["transit_encryption_enabled"] is True
    assert group["at_rest_encryption_enabled"] is True
    assert group["auth_token_enabled"] is False
    assert group["snapshot_window"] == "03:00-04:00"
    assert group["tags"] == {"app": "sage"}
    assert result["diff"]["before"] == {}
    assert result["diff"]["after"]["engine_version"] == "8.0"

    described = aws.describe_replication_groups(ReplicationGroupId=GROUP)["ReplicationGroups"][0]
    assert described["Engine"] == "valkey"
    assert described["AutomaticFailover"] == "disabled"
    assert aws.list_tags_for_resource(ResourceName=ARN)["TagList"] == [{"Key": "app", "Value": "sage"}]

    calls.clear()
    result = run(tags={"app": "sage"}, snapshot_window="03:00-04:00")
    assert result["changed"] is False
    assert calls == NOOP_CALLS
    assert result["replication_group"]["engine_version"] == "8.0.1"
    assert result["replication_group"]["tags"] == {"app": "sage"}
    assert result["diff"]["before"] == result["diff"]["after"]

    calls.clear()
    assert run()["changed"] is False
    assert calls == ["DescribeReplicationGroups", "DescribeCacheClusters"]


def test_create_two_nodes_with_failover(run, aws, requests):
    args = {"num_cache_clusters": 2, "automatic_failover": True, "multi_az": True, "auth_token": TOKEN}
    result = run(**args)
    assert result["changed"] is True
    group = result["replication_group"]
    assert group["num_cache_clusters"] == 2
    assert group["automatic_failover"] is True
    assert group["multi_az"] is True
    assert group["auth_token_enabled"] is True
    create = next(params for name, params in requests if name == "CreateReplicationGroup")
    assert create == {
        "ReplicationGroupId": GROUP,
        "ReplicationGroupDescription": "Managed by Ansible",
        "Engine": "valkey",
        "EngineVersion": "8.0",
        "CacheNodeType": "cache.t3.micro",
        "NumCacheClusters": 2,
        "AutomaticFailoverEnabled": True,
        "MultiAZEnabled": True,
        "Port": 6379,
        "TransitEncryptionEnabled": True,
        "AtRestEncryptionEnabled": True,
        "AuthToken": TOKEN,
    }
    described = aws.describe_replication_groups(ReplicationGroupId=GROUP)["ReplicationGroups"][0]
    assert described["AutomaticFailover"] == "enabled"
    assert described["MultiAZ"] == "enabled"
    assert len(described["MemberClusters"]) == 2

    requests.clear()
    assert run(**args)["changed"] is False  # the token of an existing group is left alone
    assert [name for name, _params in requests] == ["DescribeReplicationGroups", "DescribeCacheClusters"]


def test_modify_in_place(run, aws, requests):
    base = {
        "snapshot_retention_limit": 1,
        "preferred_maintenance_window": "sun:05:00-sun:06:00",
        "tags": {"app": "sage", "old": "x"},
    }
    run(**base)
    requests.clear()
    new = {
        "snapshot_retention_limit": 7,
        "preferred_maintenance_window": "Mon:05:00-Mon:06:00",
        "tags": {"app": "sage2", "new": "y"},
    }
    result = run(**new)
    assert result["changed"] is True
    names = [name for name, _params in requests]
    assert names == [
        *NOOP_CALLS,
        "RemoveTagsFromResource",
        "AddTagsToResource",
        "ModifyReplicationGroup",
        "DescribeReplicationGroups",
    ]
    params = dict(requests)
    assert params["ModifyReplicationGroup"] == {
        "ReplicationGroupId": GROUP,
        "SnapshotRetentionLimit": 7,
        "PreferredMaintenanceWindow": "mon:05:00-mon:06:00",
        "ApplyImmediately": True,
    }
    assert params["RemoveTagsFromResource"] == {"ResourceName": ARN, "TagKeys": ["old"]}
    diff = result["diff"]
    assert diff["before"]["snapshot_retention_limit"] == 1
    assert diff["after"]["snapshot_retention_limit"] == 7
    assert diff["before"]["preferred_maintenance_window"] == "sun:05:00-sun:06:00"
    assert diff["after"]["preferred_maintenance_window"] == "mon:05:00-mon:06:00"
    assert diff["before"]["tags"] == {"app": "sage", "old": "x"}
    assert diff["after"]["tags"] == {"app": "sage2", "new": "y"}
    assert result["replication_group"]["snapshot_retention_limit"] == 7
    assert result["replication_group"]["tags"] == {"app": "sage2", "new": "y"}

    described = aws.describe_replication_groups(ReplicationGroupId=GROUP)["ReplicationGroups"][0]
    assert described["SnapshotRetentionLimit"] == 7
    tags = aws.list_tags_for_resource(ResourceName=ARN)["TagList"]
    assert {tag["Key"]: tag["Value"] for tag in tags} == {"app": "sage2", "new": "y"}

    requests.clear()
    assert run(**new)["changed"] is False
    assert [name for name, _params in requests] == NOOP_CALLS
    assert run(tags={"extra": "z"}, purge_tags=False)["replication_group"]["tags"] == {
        "app": "sage2",
        "new": "y",
        "extra": "z",
    }


def test_auto_minor_version_upgrade_is_created_compared_and_modified(run, aws, requests):
    run(auto_minor_version_upgrade=False)
    described = aws.describe_replication_groups(ReplicationGroupId=GROUP)["ReplicationGroups"][0]
    assert described["AutoMinorVersionUpgrade"] is False
    requests.clear()
    result = run(auto_minor_version_upgrade=True)
    assert result["changed"] is True
    assert dict(requests)["ModifyReplicationGroup"] == {
        "ReplicationGroupId": GROUP,
        "AutoMinorVersionUpgrade": True,
        "ApplyImmediately": True,
    }
    assert result["diff"]["before"]["auto_minor_version_upgrade"] is False
    assert result["replication_group"]["auto_minor_version_upgrade"] is True
    requests.clear()
    assert run(auto_minor_version_upgrade=True)["changed"] is False
    assert "ModifyReplicationGroup" not in [name for name, _params in requests]


def test_modify_node_type_engine_and_groups(run, requests):
    run(security_group_ids=["sg-1"], cache_parameter_group_name="default.valkey8", description="one")
    requests.clear()
    args = {
        "node_type": "cache.t3.small",
        "engine_version": "8.1",
        "security_group_ids": ["sg-2", "sg-1"],
        "cache_parameter_group_name": "sage-valkey8",
        "description": "two",
        "snapshot_window": "01:00-02:00",
    }
    result = run(**args)
    assert result["changed"] is True
    assert dict(requests)["ModifyReplicationGroup"] == {
        "ReplicationGroupId": GROUP,
        "EngineVersion": "8.1",
        "ReplicationGroupDescription": "two",
        "CacheNodeType": "cache.t3.small",
        "SecurityGroupIds": ["sg-1", "sg-2"],
        "CacheParameterGroupName": "sage-valkey8",
        "SnapshotWindow": "01:00-02:00",
        "ApplyImmediately": True,
    }
    assert result["replication_group"]["security_group_ids"] == ["sg-1", "sg-2"]
    assert run(**args)["changed"] is False

    msg = run.fail(engine_version="7.2")
    assert "engine_version" in msg
    assert "downgrade" in msg


def test_check_mode_makes_no_change(run, aws, calls):
    result = run(check_mode=True, tags={"a": "b"}, num_cache_clusters=2, automatic_failover=True, multi_az=True)
    assert result["changed"] is True
    assert result["replication_group"]["num_cache_clusters"] == 2
    assert result["replication_group"]["arn"] is None
    assert calls == ["DescribeReplicationGroups"]
    assert aws.describe_replication_groups()["ReplicationGroups"] == []

    run(tags={"a": "b"}, snapshot_retention_limit=1)
    calls.clear()
    result = run(check_mode=True, tags={"c": "d"}, snapshot_retention_limit=5, node_type="cache.t3.small")
    assert result["changed"] is True
    assert result["replication_group"]["snapshot_retention_limit"] == 5
    assert result["replication_group"]["node_type"] == "cache.t3.small"
    assert result["replication_group"]["tags"] == {"c": "d"}
    assert calls == NOOP_CALLS
    described = aws.describe_replication_groups(ReplicationGroupId=GROUP)["ReplicationGroups"][0]
    assert described["SnapshotRetentionLimit"] == 1
    assert described["CacheNodeType"] == "cache.t3.micro"
    assert aws.list_tags_for_resource(ResourceName=ARN)["TagList"] == [{"Key": "a", "Value": "b"}]

    calls.clear()
    assert run(check_mode=True, state="absent")["changed"] is True
    assert calls == ["DescribeReplicationGroups"]
    assert aws.describe_replication_groups(ReplicationGroupId=GROUP)["ReplicationGroups"]


def test_absent_then_absent_unchanged(run, aws, requests):
    run()
    requests.clear()
    result = run(state="absent", final_snapshot_identifier="sage-cache-final")
    assert result["changed"] is True
    assert result["replication_group"] == {}
    assert result["diff"]["before"]["node_type"] == "cache.t3.micro"
    assert result["diff"]["after"] == {}
    assert requests == [
        ("DescribeReplicationGroups", {"ReplicationGroupId": GROUP}),
        (
            "DeleteReplicationGroup",
            {"ReplicationGroupId": GROUP, "RetainPrimaryCluster": False, "FinalSnapshotIdentifier": "sage-cache-final"},
        ),
        ("DescribeReplicationGroups", {"ReplicationGroupId": GROUP}),
    ]
    assert aws.describe_replication_groups()["ReplicationGroups"] == []

    requests.clear()
    result = run(state="absent")
    assert result["changed"] is False
    assert [name for name, _params in requests] == ["DescribeReplicationGroups"]


def test_auth_token_never_shown_and_rotated_only_with_strategy(run, requests):
    result = run(auth_token=TOKEN, num_cache_clusters=2, automatic_failover=True, multi_az=True)
    assert result["diff"]["after"]["auth_token_enabled"] is True
    args = {"num_cache_clusters": 2, "automatic_failover": True, "multi_az": True}

    requests.clear()
    assert run(auth_token=OTHER_TOKEN, **args)["changed"] is False
    assert "ModifyReplicationGroup" not in [name for name, _params in requests]

    for check_mode in (True, False):
        requests.clear()
        result = run(check_mode=check_mode, auth_token=OTHER_TOKEN, auth_token_update_strategy="ROTATE", **args)
        assert result["changed"] is True
        assert result["diff"]["before"]["auth_token_enabled"] is True
        assert result["diff"]["after"]["auth_token_enabled"] is True
        modify = [params for name, params in requests if name == "ModifyReplicationGroup"]
        if check_mode:
            assert modify == []
        else:
            assert modify == [
                {
                    "ReplicationGroupId": GROUP,
                    "AuthToken": OTHER_TOKEN,
                    "AuthTokenUpdateStrategy": "ROTATE",
                    "ApplyImmediately": True,
                }
            ]

    msg = run.fail(auth_token=TOKEN, auth_token_update_strategy="SET", transit_encryption=False, **args)
    assert "transit_encryption" in msg


def test_auth_token_warns_when_group_has_none(run):
    run()
    result = run(auth_token=TOKEN)
    assert result["changed"] is False
    assert "set auth_token_update_strategy=ROTATE" in json.dumps(result["warnings"])


def test_enabling_transit_encryption_takes_two_steps(run, requests):
    run(transit_encryption=False)
    requests.clear()
    result = run()
    assert result["changed"] is True
    modify = dict(requests)["ModifyReplicationGroup"]
    assert modify["TransitEncryptionEnabled"] is True
    assert modify["TransitEncryptionMode"] == "preferred"
    assert result["replication_group"]["transit_encryption_mode"] == "preferred"

    requests.clear()
    assert run()["changed"] is True
    assert dict(requests)["ModifyReplicationGroup"]["TransitEncryptionMode"] == "required"
    assert run()["changed"] is False


@pytest.mark.parametrize(
    ("args", "option"),
    [
        ({"at_rest_encryption": False}, "at_rest_encryption"),
        ({"kms_key_id": "arn:aws:kms:us-east-1:123456789012:key/other"}, "kms_key_id"),
        ({"port": 6380}, "port"),
        ({"cache_subnet_group_name": "other"}, "cache_subnet_group_name"),
    ],
)
def test_immutable_change_fails_without_changing(run, aws, calls, args, option):
    run()
    calls.clear()
    msg = run.fail(**args)
    assert msg.startswith(f"{option} cannot be changed on existing replication group {GROUP}")
    assert "create a new group and migrate" in msg
    assert calls == ["DescribeReplicationGroups", "DescribeCacheClusters"]


def test_present_while_being_deleted_without_wait_fails(run, aws):
    run()
    elasticache_backends["123456789012"][REGION].replication_groups[GROUP].status = "deleting"
    msg = run.fail(wait=False)
    assert "is being deleted" in msg
    assert run(state="absent", wait=False)["changed"] is False


@pytest.mark.parametrize(
    ("args", "named"),
    [
        ({"engine_version": "8"}, ["engine_version"]),
        ({"engine_version": "8.0.1"}, ["engine_version"]),
        ({"node_type": "t3.micro"}, ["node_type"]),
        ({"num_cache_clusters": 2}, ["automatic_failover", "multi_az"]),
        ({"num_cache_clusters": 2, "automatic_failover": True}, ["automatic_failover", "multi_az"]),
        ({"automatic_failover": True}, ["automatic_failover", "multi_az"]),
        ({"multi_az": True}, ["automatic_failover", "multi_az"]),
        ({"num_cache_clusters": 7}, ["num_cache_clusters"]),
        ({"snapshot_retention_limit": 36}, ["snapshot_retention_limit"]),
        ({"snapshot_window": "3:00-4:00"}, ["snapshot_window"]),
        ({"preferred_maintenance_window": "sunday:05:00-sunday:06:00"}, ["preferred_maintenance_window"]),
        (
            {"snapshot_window": "04:30-05:30", "preferred_maintenance_window": "sun:05:00-sun:06:00"},
            ["snapshot_window", "preferred_maintenance_window"],
        ),
        (
            {"snapshot_window": "23:30-00:30", "preferred_maintenance_window": "sat:23:00-sun:00:10"},
            ["snapshot_window", "preferred_maintenance_window"],
        ),
        ({"auth_token": "shortToken1"}, ["auth_token"]),
        ({"auth_token": TOKEN + " x"}, ["auth_token"]),
        ({"auth_token": TOKEN + "@"}, ["auth_token"]),
        ({"auth_token": TOKEN, "transit_encryption": False}, ["auth_token", "transit_encryption"]),
        ({"kms_key_id": "alias/k", "at_rest_encryption": False}, ["kms_key_id", "at_rest_encryption"]),
        ({"auth_token_update_strategy": "ROTATE"}, ["auth_token"]),
        ({"replication_group_id": "1cache"}, ["replication_group_id"]),
        ({"replication_group_id": "cache-"}, ["replication_group_id"]),
        ({"replication_group_id": "ca--che"}, ["replication_group_id"]),
        ({"replication_group_id": "cache_1"}, ["replication_group_id"]),
        ({"replication_group_id": "c" * 41}, ["replication_group_id"]),
    ],
)
def test_validation_fails_before_any_call(run, calls, args, named):
    msg = run.fail(**args)
    for option in named:
        assert option in msg
    assert calls == []


def test_windows_that_do_not_overlap_pass(run):
    result = run(snapshot_window="03:00-04:00", preferred_maintenance_window="sun:05:00-sun:06:00")
    assert result["changed"] is True
    result = run(
        replication_group_id="c" * 40, snapshot_window="23:00-00:00", preferred_maintenance_window="sat:00:00-sat:01:00"
    )
    assert result["changed"] is True


# --- Stubber: what moto does not implement, waiting and errors ---


def test_increase_replica_count_before_enabling_failover(run, stub, calls, clock):
    args = {"ReplicationGroupId": GROUP}
    stub.add("describe_replication_groups", stub_group(), **args)
    stub.add("describe_cache_clusters", MEMBER, CacheClusterId=f"{GROUP}-001")
    stub.add(
        "increase_replica_count",
        {"ReplicationGroup": stub_group("modifying")["ReplicationGroups"][0]},
        ReplicationGroupId=GROUP,
        NewReplicaCount=1,
        ApplyImmediately=True,
    )
    stub.add("describe_replication_groups", stub_group("modifying", nodes=2, AutomaticFailover="disabled"), **args)
    stub.add("describe_replication_groups", stub_group(nodes=2, AutomaticFailover="disabled", MultiAZ="disabled"))
    stub.add(
        "modify_replication_group",
        {"ReplicationGroup": stub_group("modifying", nodes=2)["ReplicationGroups"][0]},
        ReplicationGroupId=GROUP,
        AutomaticFailoverEnabled=True,
        MultiAZEnabled=True,
        ApplyImmediately=True,
    )
    stub.add("describe_replication_groups", stub_group(nodes=2), **args)
    result = run(num_cache_clusters=2, automatic_failover=True, multi_az=True)
    stub.done()
    assert result["changed"] is True
    assert calls == [
        "DescribeReplicationGroups",
        "DescribeCacheClusters",
        "IncreaseReplicaCount",
        "DescribeReplicationGroups",
        "DescribeReplicationGroups",
        "ModifyReplicationGroup",
        "DescribeReplicationGroups",
    ]
    assert clock.sleeps == [15]
    group = result["replication_group"]
    assert group["num_cache_clusters"] == 2
    assert group["automatic_failover"] is True
    assert group["reader_endpoint"]["address"].startswith("replica.")
    assert result["diff"]["before"]["num_cache_clusters"] == 1
    assert result["diff"]["after"]["num_cache_clusters"] == 2


def test_decrease_replica_count_after_disabling_failover(run, stub, calls, clock):
    stub.add("describe_replication_groups", stub_group(nodes=3))
    stub.add("describe_cache_clusters", MEMBER)
    stub.add(
        "modify_replication_group",
        {"ReplicationGroup": stub_group("modifying", nodes=3)["ReplicationGroups"][0]},
        ReplicationGroupId=GROUP,
        AutomaticFailoverEnabled=False,
        MultiAZEnabled=False,
        ApplyImmediately=True,
    )
    stub.add("describe_replication_groups", stub_group(nodes=3, AutomaticFailover="disabled", MultiAZ="disabled"))
    stub.add(
        "decrease_replica_count",
        {"ReplicationGroup": stub_group("modifying")["ReplicationGroups"][0]},
        ReplicationGroupId=GROUP,
        NewReplicaCount=0,
        ApplyImmediately=True,
    )
    result = run(wait=False)  # the step between the two calls is waited for anyway
    stub.done()
    assert result["changed"] is True
    assert calls[2:] == [
        "ModifyReplicationGroup",
        "DescribeReplicationGroups",
        "DecreaseReplicaCount",
    ]
    assert result["replication_group"]["num_cache_clusters"] == 1


def test_create_waits_through_creating(run, stub, calls, clock):
    stub.add("describe_replication_groups", error="ReplicationGroupNotFoundFault")
    stub.add("create_replication_group", {"ReplicationGroup": stub_group("creating")["ReplicationGroups"][0]})
    stub.add("describe_replication_groups", stub_group("creating"))
    stub.add("describe_replication_groups", stub_group("creating"))
    stub.add("describe_replication_groups", stub_group())
    result = run(tags={"a": "b"})
    stub.done()
    assert result["changed"] is True
    assert result["replication_group"]["status"] == "available"
    assert result["replication_group"]["primary_endpoint"]["port"] == 6379
    assert clock.sleeps == [15, 15]
    assert calls.count("DescribeReplicationGroups") == 4


def test_existing_group_in_modifying_is_waited_for(run, stub, calls, clock):
    stub.add("describe_replication_groups", stub_group("modifying"))
    stub.add("describe_replication_groups", stub_group("snapshotting"))
    stub.add("describe_replication_groups", stub_group())
    stub.add("describe_cache_clusters", MEMBER)
    result = run()
    stub.done()
    assert result["changed"] is False
    assert clock.sleeps == [15]  # once between 'snapshotting' and 'available'
    assert calls == ["DescribeReplicationGroups"] * 3 + ["DescribeCacheClusters"]


def test_wait_timeout_gives_clear_message(run, stub, clock):
    stub.add("describe_replication_groups", error="ReplicationGroupNotFoundFault")
    stub.add("create_replication_group", {"ReplicationGroup": stub_group("creating")["ReplicationGroups"][0]})
    for _attempt in range(4):
        stub.add("describe_replication_groups", stub_group("creating"))
    msg = run.fail(wait_timeout=40)
    stub.done()
    assert msg == (
        f"Timed out after 40 seconds waiting for replication group {GROUP} to become available (status: creating)"
    )
    assert clock.sleeps == [15, 15, 10]


def test_delete_waits_until_gone(run, stub, calls, clock):
    stub.add("describe_replication_groups", stub_group())
    stub.add("delete_replication_group", {"ReplicationGroup": stub_group("deleting")["ReplicationGroups"][0]})
    stub.add("describe_replication_groups", stub_group("deleting"))
    stub.add("describe_replication_groups", error="ReplicationGroupNotFoundFault")
    result = run(state="absent")
    stub.done()
    assert result["changed"] is True
    assert clock.sleeps == [15]


@pytest.mark.parametrize("code", ["InsufficientCacheClusterCapacity", "AccessDenied"])
def test_aws_error_fails_clearly(run, stub, code):
    stub.add("describe_replication_groups", error="ReplicationGroupNotFoundFault")
    stub.add("create_replication_group", error=code)
    result = run.failure(auth_token=TOKEN)
    stub.done()
    assert result["msg"].startswith(f"Failed to create replication group {GROUP}: ")
    assert code in result["msg"]
    assert result["error"]["code"] == code


def test_describe_error_fails_clearly(run, stub):
    stub.add("describe_replication_groups", error="AccessDenied")
    msg = run.fail()
    assert msg.startswith(f"Failed to describe replication group {GROUP}: ")


def test_other_engine_is_refused(run, stub, calls):
    stub.add("describe_replication_groups", stub_group(Engine="redis"))
    msg = run.fail()
    assert "redis" in msg
    assert calls == ["DescribeReplicationGroups"]
