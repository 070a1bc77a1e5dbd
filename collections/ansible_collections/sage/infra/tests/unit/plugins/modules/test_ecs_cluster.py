# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests for sage.infra.ecs_cluster, run against moto in-process."""

import boto3
import botocore.client
import pytest
from ansible_collections.sage.infra.plugins.module_utils import stack_ecs
from ansible_collections.sage.infra.plugins.modules import ecs_cluster as mod
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ecs.models import EC2ContainerServiceBackend, ecs_backends

REGION = "us-east-1"
NAME = "sage"
MUTATING = ("Register", "Deregister", "Update", "Put", "Create", "Delete", "Tag", "Untag")
STRATEGY = [
    {"capacity_provider": "FARGATE", "weight": 1, "base": 1},
    {"capacity_provider": "FARGATE_SPOT", "weight": 3},
]


@pytest.fixture(autouse=True)
def aws(monkeypatch, fake_aws_credentials):
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        yield boto3.client("ecs", region_name=REGION)


@pytest.fixture
def run(module_runner):
    return module_runner(mod.main, name=NAME, region=REGION)


def mutating(calls):
    return [c for c in calls if c.startswith(MUTATING)]


def described(client, name=NAME):
    return client.describe_clusters(clusters=[name], include=["SETTINGS", "TAGS"])["clusters"][0]


def insights(cluster):
    return {s["name"]: s["value"] for s in cluster["settings"]}["containerInsights"]


def add_service(client, name, cluster=NAME):
    client.register_task_definition(family="td", containerDefinitions=[{"name": "a", "image": "a", "memory": 128}])
    client.create_service(cluster=cluster, serviceName=name, taskDefinition="td", desiredCount=0)


# --- pure functions -----------------------------------------------------------------------------------------


def test_strategy_view_accepts_both_forms_sorts_and_defaults():
    api = [{"capacityProvider": "FARGATE_SPOT", "weight": 3}, {"capacityProvider": "FARGATE", "weight": 1, "base": 1}]
    expected = [
        {"capacity_provider": "FARGATE", "weight": 1, "base": 1},
        {"capacity_provider": "FARGATE_SPOT", "weight": 3, "base": 0},
    ]
    assert stack_ecs.strategy_view(api) == expected
    assert stack_ecs.strategy_view(STRATEGY) == expected
    assert stack_ecs.strategy_view(None) == []
    assert stack_ecs.strategy_api(expected)[1] == {"capacityProvider": "FARGATE_SPOT", "weight": 3, "base": 0}


def test_cluster_view_defaults():
    assert stack_ecs.cluster_view({"clusterName": "x", "status": "ACTIVE"}) == {
        "container_insights": "disabled",
        "capacity_providers": [],
        "default_capacity_provider_strategy": [],
        "tags": {},
    }
    cluster = {
        "settings": [{"name": "containerInsights", "value": "enhanced"}],
        "capacityProviders": ["FARGATE_SPOT", "FARGATE"],
        "tags": [{"key": "app", "value": "sage"}],
    }
    view = stack_ecs.cluster_view(cluster)
    assert view["container_insights"] == "enhanced"
    assert view["capacity_providers"] == ["FARGATE", "FARGATE_SPOT"]
    assert view["tags"] == {"app": "sage"}


# --- present ------------------------------------------------------------------------------------------------


def test_create_then_noop_with_one_call(run, aws, calls):
    args = {
        "container_insights": "enhanced",
        "capacity_providers": ["FARGATE", "FARGATE_SPOT"],
        "default_capacity_provider_strategy": STRATEGY,
        "tags": {"app": "sage"},
    }
    result = run(**args)
    assert result["changed"] is True
    assert calls == ["DescribeClusters", "CreateCluster"]
    cluster = result["cluster"]
    assert cluster["cluster_arn"].endswith(f":cluster/{NAME}")
    assert cluster["cluster_name"] == NAME
    assert cluster["status"] == "ACTIVE"
    assert cluster["container_insights"] == "enhanced"
    assert cluster["settings"] == [{"name": "containerInsights", "value": "enhanced"}]
    assert cluster["capacity_providers"] == ["FARGATE", "FARGATE_SPOT"]
    assert cluster["default_capacity_provider_strategy"][1] == {
        "capacity_provider": "FARGATE_SPOT",
        "weight": 3,
        "base": 0,
    }
    assert cluster["tags"] == {"app": "sage"}

    aws_cluster = described(aws)
    assert insights(aws_cluster) == "enhanced"
    assert aws_cluster["capacityProviders"] == ["FARGATE", "FARGATE_SPOT"]
    assert aws_cluster["tags"] == [{"key": "app", "value": "sage"}]

    calls.clear()
    reordered = {
        **args,
        "capacity_providers": ["FARGATE_SPOT", "FARGATE"],
        "default_capacity_provider_strategy": list(reversed(STRATEGY)),
    }
    result = run(**reordered)
    assert result["changed"] is False
    assert calls == ["DescribeClusters"]


def test_create_defaults_to_container_insights_enabled(run, aws):
    result = run()
    assert result["cluster"]["container_insights"] == "enabled"
    assert insights(described(aws)) == "enabled"
    assert "capacityProviders" not in described(aws) or described(aws)["capacityProviders"] == []
    assert run()["changed"] is False


def test_update_container_insights_only(run, aws, calls):
    aws.create_cluster(clusterName=NAME, capacityProviders=["FARGATE"], tags=[{"key": "a", "value": "b"}])
    calls.clear()
    result = run(container_insights="enabled")
    assert result["changed"] is True
    assert calls == ["DescribeClusters", "UpdateCluster"]
    assert insights(described(aws)) == "enabled"
    assert result["cluster"]["capacity_providers"] == ["FARGATE"]  # not managed, left alone
    assert result["cluster"]["tags"] == {"a": "b"}
    assert described(aws)["tags"] == [{"key": "a", "value": "b"}]


def test_update_capacity_providers_keeps_the_strategy_when_not_given(run, aws, calls):
    run(capacity_providers=["FARGATE"], default_capacity_provider_strategy=[{"capacity_provider": "FARGATE"}])
    calls.clear()
    result = run(capacity_providers=["FARGATE", "FARGATE_SPOT"])
    assert result["changed"] is True
    assert calls == ["DescribeClusters", "PutClusterCapacityProviders"]
    aws_cluster = described(aws)
    assert aws_cluster["capacityProviders"] == ["FARGATE", "FARGATE_SPOT"]
    assert aws_cluster["defaultCapacityProviderStrategy"] == [{"capacityProvider": "FARGATE", "weight": 0, "base": 0}]


def test_update_strategy_keeps_the_capacity_providers_when_not_given(run, aws, calls):
    run(capacity_providers=["FARGATE", "FARGATE_SPOT"])
    calls.clear()
    result = run(default_capacity_provider_strategy=STRATEGY)
    assert result["changed"] is True
    assert calls == ["DescribeClusters", "PutClusterCapacityProviders"]
    aws_cluster = described(aws)
    assert sorted(aws_cluster["capacityProviders"]) == ["FARGATE", "FARGATE_SPOT"]
    assert len(aws_cluster["defaultCapacityProviderStrategy"]) == 2

    result = run(default_capacity_provider_strategy=[])
    assert result["changed"] is True
    assert described(aws)["defaultCapacityProviderStrategy"] == []
    assert run(default_capacity_provider_strategy=[])["changed"] is False


def test_tags(run, aws, calls):
    run(tags={"app": "sage", "old": "x"})
    calls.clear()
    result = run(tags={"app": "sage", "new": "y"})
    assert result["changed"] is True
    assert sorted(calls) == ["DescribeClusters", "TagResource", "UntagResource"]
    assert result["cluster"]["tags"] == {"app": "sage", "new": "y"}
    assert {t["key"]: t["value"] for t in described(aws)["tags"]} == {"app": "sage", "new": "y"}

    result = run(tags={"more": "z"}, purge_tags=False)
    assert result["changed"] is True
    assert result["cluster"]["tags"] == {"app": "sage", "new": "y", "more": "z"}
    assert run()["changed"] is False  # tags not given: not managed


def test_present_recreates_an_inactive_cluster(run, aws):
    aws.create_cluster(clusterName=NAME)
    aws.delete_cluster(cluster=NAME)
    result = run(container_insights="disabled")
    assert result["changed"] is True
    assert result["cluster"]["status"] == "ACTIVE"
    assert described(aws)["status"] == "ACTIVE"


# --- check mode and diff -------------------------------------------------------------------------------------


def test_check_mode_makes_no_change(run, aws, calls):
    result = run(check_mode=True, capacity_providers=["FARGATE"], tags={"a": "b"})
    assert result["changed"] is True
    assert result["cluster"]["cluster_arn"] is None
    assert result["cluster"]["container_insights"] == "enabled"
    assert result["cluster"]["capacity_providers"] == ["FARGATE"]
    assert result["cluster"]["tags"] == {"a": "b"}
    assert calls == ["DescribeClusters"]
    assert aws.describe_clusters(clusters=[NAME])["clusters"] == []

    aws.create_cluster(clusterName=NAME, tags=[{"key": "a", "value": "b"}])
    calls.clear()
    result = run(check_mode=True, container_insights="enhanced", default_capacity_provider_strategy=STRATEGY, tags={})
    assert result["changed"] is True
    assert result["cluster"]["container_insights"] == "enhanced"
    assert result["cluster"]["settings"] == [{"name": "containerInsights", "value": "enhanced"}]
    assert result["cluster"]["tags"] == {}
    assert len(result["cluster"]["default_capacity_provider_strategy"]) == 2
    assert calls == ["DescribeClusters"]
    aws_cluster = described(aws)
    assert insights(aws_cluster) == "disabled"
    assert aws_cluster["tags"] == [{"key": "a", "value": "b"}]

    calls.clear()
    result = run(check_mode=True, state="absent")
    assert result["changed"] is True
    assert mutating(calls) == []
    assert described(aws)["status"] == "ACTIVE"


def test_diff(run, aws):
    result = run(diff=True, capacity_providers=["FARGATE"])
    assert result["diff"]["before"] == {}
    assert result["diff"]["after"] == {
        "container_insights": "enabled",
        "capacity_providers": ["FARGATE"],
        "default_capacity_provider_strategy": [],
        "tags": {},
    }
    result = run(diff=True, container_insights="disabled", tags={"a": "b"})
    assert result["diff"]["before"]["container_insights"] == "enabled"
    assert result["diff"]["after"]["container_insights"] == "disabled"
    assert result["diff"]["before"]["tags"] == {}
    assert result["diff"]["after"]["tags"] == {"a": "b"}
    assert result["diff"]["after"]["capacity_providers"] == ["FARGATE"]

    result = run(diff=True, state="absent")
    assert result["diff"]["before"]["container_insights"] == "disabled"
    assert result["diff"]["after"] == {}


# --- absent -------------------------------------------------------------------------------------------------


def test_absent_deletes_then_is_idempotent(run, aws, calls):
    aws.create_cluster(clusterName=NAME)
    calls.clear()
    result = run(state="absent")
    assert result["changed"] is True
    assert result["cluster"]["status"] == "INACTIVE"
    assert calls == ["DescribeClusters", "ListServices", "DeleteCluster"]
    assert described(aws)["status"] == "INACTIVE"

    calls.clear()
    result = run(state="absent")
    assert result["changed"] is False
    assert result["cluster"]["status"] == "INACTIVE"
    assert calls == ["DescribeClusters"]


def test_absent_missing_cluster_is_unchanged(run, calls):
    result = run(state="absent")
    assert result["changed"] is False
    assert result["cluster"] == {}
    assert calls == ["DescribeClusters"]


def test_absent_fails_while_services_are_active(run, aws, calls):
    aws.create_cluster(clusterName=NAME)
    add_service(aws, "web")
    add_service(aws, "api")
    add_service(aws, "old")
    aws.delete_service(cluster=NAME, service="old")  # INACTIVE: does not count
    calls.clear()
    msg = run.fail(state="absent")
    assert msg == f"Cannot delete ECS cluster {NAME}: it still has ACTIVE services: api, web. Delete them first."
    assert mutating(calls) == []
    assert described(aws)["status"] == "ACTIVE"
    assert run.fail(state="absent", check_mode=True) == msg

    aws.delete_service(cluster=NAME, service="web")
    aws.delete_service(cluster=NAME, service="api")
    assert run(state="absent")["changed"] is True
    assert described(aws)["status"] == "INACTIVE"


def test_absent_lists_services_in_batches_of_ten(run, aws, calls):
    aws.create_cluster(clusterName=NAME)
    for index in range(12):
        add_service(aws, f"svc{index:02d}")
    calls.clear()
    msg = run.fail(state="absent")
    assert msg.count("svc") == 12
    assert calls.count("DescribeServices") == 2


def deprovision_on_delete(monkeypatch):
    """moto deletes at once; make DeleteCluster answer DEPROVISIONING, as AWS does for clusters with ASG providers."""
    original_delete = EC2ContainerServiceBackend.delete_cluster

    def deprovisioning(self, cluster_str):
        cluster = original_delete(self, cluster_str)
        cluster.status = "DEPROVISIONING"
        return cluster

    monkeypatch.setattr(EC2ContainerServiceBackend, "delete_cluster", deprovisioning)


def test_absent_waits_until_inactive(run, aws, monkeypatch):
    deprovision_on_delete(monkeypatch)
    aws.create_cluster(clusterName=NAME)
    backend = ecs_backends[DEFAULT_ACCOUNT_ID][REGION]
    sleeps = []

    def sleep(seconds):
        sleeps.append(seconds)
        backend.clusters[NAME].status = "INACTIVE"

    monkeypatch.setattr(mod.time, "sleep", sleep)
    result = run(state="absent")
    assert result["changed"] is True
    assert result["cluster"]["status"] == "INACTIVE"
    assert sleeps == [mod.POLL_DELAY]


def test_absent_wait_timeout_and_no_wait(run, aws, monkeypatch):
    deprovision_on_delete(monkeypatch)
    aws.create_cluster(clusterName=NAME)
    msg = run.fail(state="absent", wait_timeout=0)
    assert msg == f"Timed out after 0 seconds waiting for cluster {NAME} to become INACTIVE (status: DEPROVISIONING)"

    aws.create_cluster(clusterName=NAME)
    result = run(state="absent", wait=False)
    assert result["changed"] is True
    assert result["cluster"]["status"] == "DEPROVISIONING"


# --- errors -------------------------------------------------------------------------------------------------


def test_describe_access_denied_fails_clearly(run, monkeypatch):
    def denied(self, operation_name, api_params):
        error = {"Error": {"Code": "AccessDeniedException", "Message": "not authorized"}}
        raise ClientError(error, operation_name)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", denied)
    msg = run.fail()
    assert msg.startswith(f"Failed to describe cluster {NAME}: ")
    assert "AccessDeniedException" in msg


def test_invalid_strategy_fails_on_the_option(run, calls):
    msg = run.fail(default_capacity_provider_strategy=[{"weight": 1}])
    assert "capacity_provider" in msg
    assert calls == []


def test_numeric_tag_values_do_not_report_a_change_on_every_run(run):
    run(tags={"Version": 2})
    again = run(tags={"Version": 2})
    assert again["changed"] is False
