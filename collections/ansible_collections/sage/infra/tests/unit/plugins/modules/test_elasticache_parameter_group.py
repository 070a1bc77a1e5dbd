# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests for sage.infra.elasticache_parameter_group, run against botocore's Stubber.

moto does not implement ElastiCache parameter groups, so every AWS response is stubbed. The stubbed
client is returned by ``boto3_conn``, so ``AnsibleAWSModule.client`` still wraps it in amazon.aws'
``RetryingBotoClientWrapper`` and the module's ``aws_retry=True`` calls go through the real wrapper.
"""

import botocore.session
import pytest
from ansible_collections.amazon.aws.plugins.module_utils import modules as aws_modules
from ansible_collections.sage.infra.plugins.modules import elasticache_parameter_group
from botocore.stub import Stubber

REGION = "us-east-1"
NAME = "sage-valkey8"
ARN = f"arn:aws:elasticache:{REGION}:123456789012:parametergroup:{NAME}"
MUTATING = ("Create", "Modify", "Delete", "AddTags", "RemoveTags")


@pytest.fixture
def stub(monkeypatch, fake_aws_credentials):
    client = botocore.session.get_session().create_client("elasticache", region_name=REGION)
    monkeypatch.setattr(aws_modules, "boto3_conn", lambda *args, **kwargs: client)
    with Stubber(client) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


@pytest.fixture
def run(module_runner):
    return module_runner(elasticache_parameter_group.main, name=NAME, region=REGION)


def group(family="valkey8", description="Managed by Ansible"):
    return {
        "CacheParameterGroupName": NAME,
        "CacheParameterGroupFamily": family,
        "Description": description,
        "IsGlobal": False,
        "ARN": ARN,
    }


def param(name, value, modifiable=True, change_type="immediate"):
    return {
        "ParameterName": name,
        "ParameterValue": value,
        "IsModifiable": modifiable,
        "ChangeType": change_type,
        "DataType": "string",
    }


def expect_describe_group(stub, found=True, family="valkey8"):
    if found:
        response = {"CacheParameterGroups": [group(family)]}
        stub.add_response("describe_cache_parameter_groups", response, {"CacheParameterGroupName": NAME})
    else:
        stub.add_client_error(
            "describe_cache_parameter_groups",
            service_error_code="CacheParameterGroupNotFound",
            service_message=f"CacheParameterGroup {NAME} not found.",
            http_status_code=404,
            expected_params={"CacheParameterGroupName": NAME},
        )


def expect_describe_parameters(stub, *pages):
    """One DescribeCacheParameters response per page of parameters, chained with markers."""
    for index, parameters in enumerate(pages):
        expected = {"CacheParameterGroupName": NAME}
        if index:
            expected["Marker"] = f"page{index}"
        response = {"Parameters": parameters}
        if index + 1 < len(pages):
            response["Marker"] = f"page{index + 1}"
        stub.add_response("describe_cache_parameters", response, expected)


def expect_modify(stub, values):
    expected = {
        "CacheParameterGroupName": NAME,
        "ParameterNameValues": [{"ParameterName": k, "ParameterValue": v} for k, v in values.items()],
    }
    stub.add_response("modify_cache_parameter_group", {"CacheParameterGroupName": NAME}, expected)


def expect_list_tags(stub, tags):
    tag_list = [{"Key": k, "Value": v} for k, v in tags.items()]
    stub.add_response("list_tags_for_resource", {"TagList": tag_list}, {"ResourceName": ARN})


CURRENT = [
    param("maxmemory-policy", "volatile-lru"),
    param("timeout", "0"),
    param("databases", "16", change_type="requires-reboot"),
    param("lua-time-limit", "5000", modifiable=False),
]


def test_create_with_parameters_in_two_batches(run, stub, calls):
    wanted = {f"param-{i:02d}": str(i) for i in range(25)}
    expect_describe_group(stub, found=False)
    stub.add_response(
        "create_cache_parameter_group",
        {"CacheParameterGroup": group()},
        {
            "CacheParameterGroupName": NAME,
            "CacheParameterGroupFamily": "valkey8",
            "Description": "Sage.ai cache",
            "Tags": [{"Key": "app", "Value": "sage"}],
        },
    )
    expect_modify(stub, dict(list(wanted.items())[:20]))
    expect_modify(stub, dict(list(wanted.items())[20:]))

    result = run(family="valkey8", description="Sage.ai cache", parameters=wanted, tags={"app": "sage"}, diff=True)
    assert result["changed"] is True
    assert calls == [
        "DescribeCacheParameterGroups",
        "CreateCacheParameterGroup",
        "ModifyCacheParameterGroup",
        "ModifyCacheParameterGroup",
    ]
    assert result["parameter_group"] == {
        "name": NAME,
        "family": "valkey8",
        "description": "Sage.ai cache",
        "arn": ARN,
        "tags": {"app": "sage"},
        "parameters": wanted,
    }
    assert result["changed_parameters"] == list(wanted)
    assert result["requires_reboot"] == []
    assert result["diff"]["before"] == {}
    assert result["diff"]["after"]["parameters"] == wanted


def test_create_without_parameters_makes_no_modify(run, stub, calls):
    expect_describe_group(stub, found=False)
    stub.add_response("create_cache_parameter_group", {"CacheParameterGroup": group(family="redis7")})
    result = run(family="redis7")
    assert result["changed"] is True
    assert calls == ["DescribeCacheParameterGroups", "CreateCacheParameterGroup"]


def test_noop_makes_only_describe_calls(run, stub, calls):
    expect_describe_group(stub)
    expect_describe_parameters(stub, CURRENT[:2], CURRENT[2:])  # two pages
    expect_list_tags(stub, {"app": "sage"})
    result = run(
        family="valkey8",
        parameters={"maxmemory-policy": "volatile-lru", "timeout": 0, "databases": 16},
        tags={"app": "sage"},
    )
    assert result["changed"] is False
    assert calls == [
        "DescribeCacheParameterGroups",
        "DescribeCacheParameters",
        "DescribeCacheParameters",
        "ListTagsForResource",
    ]
    assert result["changed_parameters"] == []
    assert result["requires_reboot"] == []
    assert result["parameter_group"]["parameters"] == {
        "maxmemory-policy": "volatile-lru",
        "timeout": "0",
        "databases": "16",
    }
    assert result["parameter_group"]["tags"] == {"app": "sage"}


def test_noop_without_tags_does_not_list_tags(run, stub, calls):
    expect_describe_group(stub)
    expect_describe_parameters(stub, CURRENT)
    result = run(family="valkey8", parameters={"maxmemory-policy": "volatile-lru"})
    assert result["changed"] is False
    assert calls == ["DescribeCacheParameterGroups", "DescribeCacheParameters"]
    assert "tags" not in result["parameter_group"]


def test_one_parameter_differs_modifies_only_it(run, stub, calls):
    expect_describe_group(stub)
    expect_describe_parameters(stub, CURRENT)
    expect_modify(stub, {"databases": "32"})
    result = run(family="valkey8", parameters={"maxmemory-policy": "volatile-lru", "databases": 32}, diff=True)
    assert result["changed"] is True
    assert calls == ["DescribeCacheParameterGroups", "DescribeCacheParameters", "ModifyCacheParameterGroup"]
    assert result["changed_parameters"] == ["databases"]
    assert result["requires_reboot"] == ["databases"]
    assert result["diff"]["before"]["parameters"] == {"maxmemory-policy": "volatile-lru", "databases": "16"}
    assert result["diff"]["after"]["parameters"] == {"maxmemory-policy": "volatile-lru", "databases": "32"}


def test_immediate_change_needs_no_reboot(run, stub):
    expect_describe_group(stub)
    expect_describe_parameters(stub, CURRENT)
    expect_modify(stub, {"maxmemory-policy": "allkeys-lru"})
    result = run(family="valkey8", parameters={"maxmemory-policy": "allkeys-lru"})
    assert result["changed_parameters"] == ["maxmemory-policy"]
    assert result["requires_reboot"] == []


def test_unknown_parameter_fails_naming_it(run, stub, calls):
    expect_describe_group(stub)
    expect_describe_parameters(stub, CURRENT)
    msg = run.fail(family="valkey8", parameters={"maxmemory-policy": "allkeys-lru", "no-such-param": "1"})
    assert "no-such-param" in msg
    assert "valkey8" in msg
    assert not [c for c in calls if c.startswith(MUTATING)]


def test_non_modifiable_parameter_fails_naming_it(run, stub, calls):
    expect_describe_group(stub)
    expect_describe_parameters(stub, CURRENT)
    msg = run.fail(family="valkey8", parameters={"lua-time-limit": "1000"})
    assert "lua-time-limit" in msg
    assert "not modifiable" in msg
    assert not [c for c in calls if c.startswith(MUTATING)]


def test_family_change_fails(run, stub, calls):
    expect_describe_group(stub, family="redis7")
    msg = run.fail(family="valkey8", parameters={"timeout": "0"})
    assert "redis7" in msg
    assert "valkey8" in msg
    assert "delete the group and create it again" in msg
    assert calls == ["DescribeCacheParameterGroups"]


def test_tags_updated_with_purge(run, stub, calls):
    expect_describe_group(stub)
    expect_describe_parameters(stub, CURRENT)
    expect_list_tags(stub, {"app": "sage", "old": "x"})
    stub.add_response("remove_tags_from_resource", {"TagList": []}, {"ResourceName": ARN, "TagKeys": ["old"]})
    stub.add_response(
        "add_tags_to_resource", {"TagList": []}, {"ResourceName": ARN, "Tags": [{"Key": "team", "Value": "infra"}]}
    )
    result = run(family="valkey8", parameters={"timeout": "0"}, tags={"app": "sage", "team": "infra"})
    assert result["changed"] is True
    assert result["changed_parameters"] == []
    assert result["parameter_group"]["tags"] == {"app": "sage", "team": "infra"}


def test_check_mode_makes_no_mutating_call(run, stub, calls):
    expect_describe_group(stub)
    expect_describe_parameters(stub, CURRENT)
    expect_list_tags(stub, {})
    result = run(check_mode=True, family="valkey8", parameters={"databases": "32"}, tags={"app": "sage"})
    assert result["changed"] is True
    assert result["changed_parameters"] == ["databases"]
    assert result["requires_reboot"] == ["databases"]
    assert calls == ["DescribeCacheParameterGroups", "DescribeCacheParameters", "ListTagsForResource"]


def test_check_mode_create_makes_no_mutating_call(run, stub, calls):
    expect_describe_group(stub, found=False)
    result = run(check_mode=True, family="valkey8", parameters={"maxmemory-policy": "allkeys-lru"})
    assert result["changed"] is True
    assert result["parameter_group"]["arn"] is None
    assert result["changed_parameters"] == ["maxmemory-policy"]
    assert calls == ["DescribeCacheParameterGroups"]


def test_absent_existing_deletes(run, stub, calls):
    expect_describe_group(stub)
    stub.add_response("delete_cache_parameter_group", {}, {"CacheParameterGroupName": NAME})
    result = run(state="absent")
    assert result["changed"] is True
    assert result["parameter_group"] == {}
    assert calls == ["DescribeCacheParameterGroups", "DeleteCacheParameterGroup"]


def test_absent_existing_check_mode(run, stub, calls):
    expect_describe_group(stub)
    result = run(state="absent", check_mode=True)
    assert result["changed"] is True
    assert calls == ["DescribeCacheParameterGroups"]


def test_absent_missing_is_unchanged(run, stub, calls):
    expect_describe_group(stub, found=False)
    result = run(state="absent")
    assert result["changed"] is False
    assert calls == ["DescribeCacheParameterGroups"]


def test_absent_group_in_use_fails_clearly(run, stub):
    expect_describe_group(stub)
    stub.add_client_error(
        "delete_cache_parameter_group",
        service_error_code="InvalidCacheParameterGroupState",
        service_message="Parameter group is in use.",
        http_status_code=400,
    )
    msg = run.fail(state="absent")
    assert "still used by a cluster or replication group" in msg
    assert NAME in msg


def test_access_denied_gives_clear_message(run, stub):
    stub.add_client_error(
        "describe_cache_parameter_groups",
        service_error_code="AccessDenied",
        service_message="User is not authorized to perform: elasticache:DescribeCacheParameterGroups",
        http_status_code=403,
    )
    result = run.failure(family="valkey8")
    assert result["msg"].startswith(f"Failed to describe ElastiCache parameter group {NAME}")
    assert "AccessDenied" in result["msg"]
    assert result["error"]["code"] == "AccessDenied"


@pytest.mark.parametrize("family", ["valkey-8", "redis", "mysql8.0", "valkey8.x.y"])
def test_bad_family_fails_before_any_call(run, stub, calls, family):
    msg = run.fail(family=family)
    assert "family" in msg
    assert family in msg
    assert calls == []


@pytest.mark.parametrize("family", ["valkey8", "valkey7", "redis7", "redis6.x", "redis5.0", "memcached1.6"])
def test_good_families_accepted(run, stub, calls, family):
    expect_describe_group(stub, found=False)
    result = run(family=family, check_mode=True)
    assert result["parameter_group"]["family"] == family


def test_boolean_value_fails_before_any_call(run, stub, calls):
    msg = run.fail(family="valkey8", parameters={"activerehashing": True})
    assert "activerehashing" in msg
    assert calls == []
