# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ECS clusters, task definitions, services and a service's target tracking policy as read and compared: the same
normalised forms as sage.infra.ecs_cluster, ecs_task_definition and ecs_service use."""

import boto3
import pytest
from ansible_collections.sage.infra.plugins.module_utils.stack import plan_entry
from ansible_collections.sage.infra.plugins.module_utils.stack_ecs import (
    read_clusters,
    read_scaling_policies,
    read_services,
    read_task_definitions,
)
from moto import mock_aws

REGION = "us-west-2"
TAGS = {"Project": "sage"}
STRATEGY = [{"capacity_provider": "FARGATE", "weight": 1, "base": 1}]


def entry(kind, desired, current, name="x"):
    return plan_entry(kind, name, desired, {kind: {name: current}})


def changed(kind, desired, current):
    return [change["attribute"] for change in entry(kind, desired, current)["changes"]]


# --- clusters ---------------------------------------------------------------------------------------------------

CLUSTER = {
    "container_insights": "enabled",
    "capacity_providers": ["FARGATE", "FARGATE_SPOT"],
    "default_capacity_provider_strategy": STRATEGY,
    "tags": TAGS,
}


def test_a_cluster_in_sync_and_each_setting_drifting():
    read = dict(CLUSTER, capacity_providers=["FARGATE_SPOT", "FARGATE"], arn="arn:cluster")
    assert changed("ecs_cluster", CLUSTER, read) == []
    # The strategy in either spelling, its weight and base 0 when unset (as the module's argument spec says).
    api_spelling = [{"capacityProvider": "FARGATE", "weight": 1, "base": 1}, {"capacityProvider": "FARGATE_SPOT"}]
    spot = [*STRATEGY, {"capacity_provider": "FARGATE_SPOT", "weight": 0, "base": 0}]
    assert changed("ecs_cluster", dict(CLUSTER, default_capacity_provider_strategy=api_spelling),
                   dict(read, default_capacity_provider_strategy=spot)) == []  # fmt: skip
    for attribute, value in [
        ("container_insights", "disabled"),
        ("capacity_providers", ["FARGATE"]),
        ("default_capacity_provider_strategy", []),
        ("tags", {}),
    ]:
        assert changed("ecs_cluster", CLUSTER, dict(read, **{attribute: value})) == [attribute]


# --- task definitions -------------------------------------------------------------------------------------------

CONTAINER = {
    "name": "app",
    "image": "repo:latest",
    "essential": True,
    "portMappings": [{"containerPort": 3000, "hostPort": 3000, "protocol": "tcp"}],
    "environment": [{"name": "B", "value": "2"}, {"name": "A", "value": "1"}],
}
TASK = {
    "container_definitions": [CONTAINER],
    "cpu": "512",
    "memory": "1024",
    "network_mode": "awsvpc",
    "requires_compatibilities": ["FARGATE"],
    "execution_role_arn": "arn:role/execution",
    "task_role_arn": "arn:role/task",
    "runtime_platform": {"cpuArchitecture": "X86_64", "operatingSystemFamily": "LINUX"},
    "keep_deployed_image": True,
    "tags": TAGS,
}


def described_task(**changes):
    """A task definition view as the reader gives it: AWS's additions (cpu 0, empty lists), its order."""
    container = dict(CONTAINER, cpu=0, mountPoints=[], volumesFrom=[], environment=CONTAINER["environment"][::-1])
    view = {key: value for key, value in TASK.items() if key != "keep_deployed_image"}
    return {**view, "container_definitions": [container], "volumes": [], "arn": "arn:td:1", "revision": 1, **changes}


def test_a_task_definition_in_sync_despite_what_aws_adds():
    assert changed("task_definition", TASK, described_task()) == []


def test_the_deployed_image_is_kept_as_the_module_keeps_it():
    deployed = described_task(container_definitions=[dict(CONTAINER, image="repo:good-1")])
    assert changed("task_definition", TASK, deployed) == []
    assert changed("task_definition", dict(TASK, keep_deployed_image=False), deployed) == ["container_definitions"]


@pytest.mark.parametrize(
    ("attribute", "value"),
    [
        ("cpu", "1024"),
        ("execution_role_arn", "arn:role/other"),
        ("container_definitions", [dict(CONTAINER, environment=[{"name": "A", "value": "1"}])]),
        # What the options do not set is dropped by a new revision: a difference too.
        ("volumes", [{"name": "data"}]),
        ("pid_mode", "task"),
    ],
)
def test_each_field_that_differs_registers_a_revision(attribute, value):
    assert changed("task_definition", TASK, described_task(**{attribute: value})) == [attribute]


def test_tags_alone_differ_without_a_new_revision():
    result = entry("task_definition", TASK, described_task(tags={}))
    assert [change["attribute"] for change in result["changes"]] == ["tags"]


# --- services ---------------------------------------------------------------------------------------------------

SERVICE = {
    "task_definition": "arn:td:1",
    "desired_count": 1,
    "autoscaling_owns_desired_count": True,
    "capacity_provider_strategy": STRATEGY,
    "platform_version": "LATEST",
    "subnets": ["subnet-a", "subnet-b"],
    "security_groups": ["sg-ecs"],
    "assign_public_ip": False,
    "load_balancers": [{"target_group_arn": "arn:tg", "container_name": "app", "container_port": 3000}],
    "health_check_grace_period_seconds": 60,
    "deployment": {
        "minimum_healthy_percent": 100,
        "maximum_percent": 200,
        "circuit_breaker": {"enable": True, "rollback": True},
    },
    "propagate_tags": "SERVICE",
    "enable_execute_command": False,
    "tags": TAGS,
    "rollout_state": "COMPLETED",
}
SERVICE_READ = {
    **{key: value for key, value in SERVICE.items() if key != "autoscaling_owns_desired_count"},
    # As the reader normalizes a service without deployment alarms.
    "deployment": dict(SERVICE["deployment"], alarms={"alarm_names": [], "enable": False, "rollback": False}),
    "launch_type": None,
    "enable_ecs_managed_tags": False,
    "arn": "arn:service",
    "desired_count": 3,
}


def test_a_service_in_sync_whatever_autoscaling_did_to_its_count():
    assert changed("ecs_service", SERVICE, SERVICE_READ) == []
    assert changed("ecs_service", dict(SERVICE, autoscaling_owns_desired_count=False), SERVICE_READ) == [
        "desired_count"
    ]


@pytest.mark.parametrize(
    ("attribute", "value"),
    [
        ("task_definition", "arn:td:2"),
        ("capacity_provider_strategy", [{"capacity_provider": "FARGATE_SPOT", "weight": 1, "base": 0}]),
        ("security_groups", ["sg-other"]),
        ("assign_public_ip", True),
        ("load_balancers", []),
        ("health_check_grace_period_seconds", 0),
        (
            "deployment",
            {
                "minimum_healthy_percent": 50,
                "maximum_percent": 200,
                "circuit_breaker": {"enable": False, "rollback": False},
            },
        ),
        ("propagate_tags", "NONE"),
        ("tags", {"Project": "other"}),
        ("rollout_state", "IN_PROGRESS"),
        ("rollout_state", None),
    ],
)
def test_each_service_setting_that_drifts_is_named(attribute, value):
    assert changed("ecs_service", SERVICE, dict(SERVICE_READ, **{attribute: value})) == [attribute]


def test_an_unknown_task_definition_differs():
    result = entry("ecs_service", dict(SERVICE, task_definition="(known after apply)"), SERVICE_READ)
    assert result["changes"] == [
        {"attribute": "task_definition", "current": "arn:td:1", "desired": "(known after apply)"}
    ]


# --- scaling policies -------------------------------------------------------------------------------------------

TRACKING = {
    "TargetValue": 60.0,
    "PredefinedMetricSpecification": {"PredefinedMetricType": "ECSServiceAverageCPUUtilization"},
    "ScaleInCooldown": 300,
    "ScaleOutCooldown": 60,
}
POLICY = {
    "policy_type": "TargetTrackingScaling",
    "target_tracking_scaling_policy_configuration": TRACKING,
    "min_capacity": 1,
    "max_capacity": 4,
}


def test_a_scaling_policy_in_sync_and_drifting():
    read = dict(
        POLICY, target_tracking_scaling_policy_configuration=dict(TRACKING, TargetValue=60, DisableScaleIn=False)
    )
    assert changed("scaling_policy", POLICY, read) == []
    assert changed("scaling_policy", POLICY, dict(read, max_capacity=10)) == ["max_capacity"]
    drifted = dict(read, target_tracking_scaling_policy_configuration=dict(TRACKING, TargetValue=80.0))
    assert changed("scaling_policy", POLICY, drifted) == ["target_tracking_scaling_policy_configuration"]
    scale_in_off = dict(read, target_tracking_scaling_policy_configuration=dict(TRACKING, DisableScaleIn=True))
    assert changed("scaling_policy", POLICY, scale_in_off) == ["target_tracking_scaling_policy_configuration"]


# --- the readers against moto -----------------------------------------------------------------------------------


@pytest.fixture
def aws(monkeypatch, fake_aws_credentials):
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        yield lambda service: boto3.client(service, region_name=REGION)


def test_the_readers_against_moto(aws, calls):
    ecs = aws("ecs")
    ecs.create_cluster(
        clusterName="sage",
        capacityProviders=["FARGATE", "FARGATE_SPOT"],
        defaultCapacityProviderStrategy=[{"capacityProvider": "FARGATE", "weight": 1, "base": 1}],
        settings=[{"name": "containerInsights", "value": "enabled"}],
        tags=[{"key": "Project", "value": "sage"}],
    )
    ecs.create_cluster(clusterName="gone")
    ecs.delete_cluster(cluster="gone")
    registered = ecs.register_task_definition(
        family="app",
        containerDefinitions=[CONTAINER],
        cpu="512",
        memory="1024",
        networkMode="awsvpc",
        requiresCompatibilities=["FARGATE"],
        executionRoleArn="arn:role/execution",
        taskRoleArn="arn:role/task",
        runtimePlatform={"cpuArchitecture": "X86_64", "operatingSystemFamily": "LINUX"},
        tags=[{"key": "Project", "value": "sage"}],
    )["taskDefinition"]
    # A later revision, deregistered (a failed deploy): the latest ACTIVE one is still the first.
    later = ecs.register_task_definition(
        family="app", containerDefinitions=[dict(CONTAINER, image="repo:crashes", memory=512)]
    )
    ecs.deregister_task_definition(taskDefinition=later["taskDefinition"]["taskDefinitionArn"])
    ecs.create_service(
        cluster="sage",
        serviceName="app",
        taskDefinition=registered["taskDefinitionArn"],
        desiredCount=1,
        tags=[{"key": "Project", "value": "sage"}],
    )
    autoscaling = aws("application-autoscaling")
    resource = "service/sage/app"
    dimension = "ecs:service:DesiredCount"
    autoscaling.register_scalable_target(
        ServiceNamespace="ecs", ResourceId=resource, ScalableDimension=dimension, MinCapacity=1, MaxCapacity=4
    )
    autoscaling.put_scaling_policy(
        PolicyName="cpu",
        ServiceNamespace="ecs",
        ResourceId=resource,
        ScalableDimension=dimension,
        PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration=TRACKING,
    )
    calls.clear()

    clusters = read_clusters(ecs, ["sage", "gone", "missing"])
    assert clusters["gone"] is None and clusters["missing"] is None
    assert entry("ecs_cluster", CLUSTER, clusters["sage"])["action"] == "unchanged"

    definitions = read_task_definitions(ecs, ["app", "missing"])
    assert definitions["missing"] is None
    assert definitions["app"]["arn"] == registered["taskDefinitionArn"]
    assert changed("task_definition", TASK, definitions["app"]) == []

    services = read_services(ecs, ["sage/app", "sage/missing", "missing/app"])
    assert services["sage/missing"] is None and services["missing/app"] is None
    service = services["sage/app"]
    assert (service["task_definition"], service["desired_count"], service["tags"]) == (
        registered["taskDefinitionArn"],
        1,
        TAGS,
    )

    policies = read_scaling_policies(autoscaling, [f"{resource}/cpu", f"{resource}/missing"])
    assert policies[f"{resource}/missing"] is None
    assert changed("scaling_policy", POLICY, policies[f"{resource}/cpu"]) == []
    assert not [call for call in calls if not call.startswith(("Describe", "List"))], "the readers never write"
