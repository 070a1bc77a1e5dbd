# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests for sage.infra.ecs_service and the moto shim it runs against (tests/unit/moto_ecs.py).

The module runs against moto in-process, with ``moto_ecs.patch_moto_gaps`` applied (the same shim the
integration tests' AWS emulator uses): deployments settle after ``ROLLOUT`` seconds, and images listed in
``failing_images`` never start, so rollouts complete, fail (circuit breaker, ECS rollback) or hang as on AWS.
Task definitions and clusters are made with boto3 directly.
"""

import functools
import time

import boto3
import botocore.client
import pytest
from ansible_collections.sage.infra.plugins.module_utils.ecs import tag_changes
from ansible_collections.sage.infra.plugins.modules import ecs_service
from ansible_collections.sage.infra.tests.unit import moto_ecs
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.ecs.models import ecs_backends

REGION = "us-east-1"
ACCOUNT = "123456789012"
CLUSTER = "sage"
NAME = "sage-web"
FAMILY = "sage-web"
SERVICE_ARN = f"arn:aws:ecs:{REGION}:{ACCOUNT}:service/{CLUSTER}/{NAME}"
TD_PREFIX = f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/{FAMILY}"
ROLLOUT_SECONDS = 0.05
GOOD = "nginx:1.27"
BAD = "nginx:broken"
MUTATING = (
    "CreateService",
    "UpdateService",
    "DeleteService",
    "TagResource",
    "UntagResource",
    "RegisterScalableTarget",
    "DeregisterScalableTarget",
    "PutScalingPolicy",
    "DeleteScalingPolicy",
)
RESOURCE_ID = f"service/{CLUSTER}/{NAME}"
SCALABLE = {"ServiceNamespace": "ecs", "ScalableDimension": "ecs:service:DesiredCount"}
CIRCUIT_BREAKER = {"circuit_breaker": {"enable": True, "rollback": True}}


class Env:
    def __init__(self, ecs):
        self.ecs = ecs
        self._vpc = None

    def _network(self):
        """Two subnets and two security groups, made on first use (moto's EC2 takes a while to start)."""
        if self._vpc is None:
            ec2 = boto3.client("ec2", region_name=REGION)
            self._vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
            self._subnets = [
                ec2.create_subnet(VpcId=self._vpc, CidrBlock=f"10.0.{i}.0/24")["Subnet"]["SubnetId"] for i in range(2)
            ]
            self._security_groups = [
                ec2.create_security_group(GroupName=f"sg{i}", Description="x", VpcId=self._vpc)["GroupId"]
                for i in range(2)
            ]
        return self._subnets, self._security_groups

    @property
    def subnets(self):
        return self._network()[0]

    @property
    def security_groups(self):
        return self._network()[1]

    def register(self, image=GOOD, family=FAMILY):
        """Register a Fargate task definition running `image`; return its ARN."""
        return self.ecs.register_task_definition(
            family=family,
            containerDefinitions=[{"name": "web", "image": image, "essential": True}],
            requiresCompatibilities=["FARGATE"],
            networkMode="awsvpc",
            cpu="256",
            memory="512",
        )["taskDefinition"]["taskDefinitionArn"]

    def describe(self):
        return self.ecs.describe_services(cluster=CLUSTER, services=[NAME], include=["TAGS"])["services"][0]

    def network(self, **extra):
        return {"subnets": self.subnets, "security_groups": self.security_groups, **extra}

    @property
    def autoscaling(self):
        return boto3.client("application-autoscaling", region_name=REGION)

    def register_scalable_target(self, minimum=1, maximum=4):
        """Register the service's scalable target with a target tracking policy (as roles/ecs does)."""
        self.autoscaling.register_scalable_target(
            ResourceId=RESOURCE_ID, MinCapacity=minimum, MaxCapacity=maximum, **SCALABLE
        )
        self.autoscaling.put_scaling_policy(
            PolicyName=f"{NAME}-cpu-target",
            ResourceId=RESOURCE_ID,
            PolicyType="TargetTrackingScaling",
            TargetTrackingScalingPolicyConfiguration={
                "TargetValue": 60.0,
                "PredefinedMetricSpecification": {"PredefinedMetricType": "ECSServiceAverageCPUUtilization"},
            },
            **SCALABLE,
        )

    def scalable_targets(self):
        return self.autoscaling.describe_scalable_targets(ServiceNamespace="ecs", ResourceIds=[RESOURCE_ID])[
            "ScalableTargets"
        ]


@pytest.fixture(autouse=True)
def aws(monkeypatch, fake_aws_credentials):
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    moto_ecs.patch_moto_gaps(functools.partial(monkeypatch.setattr, raising=False))
    monkeypatch.setitem(moto_ecs.ROLLOUT, "seconds", ROLLOUT_SECONDS)
    monkeypatch.setitem(moto_ecs.ROLLOUT, "failing_images", {BAD})
    monkeypatch.setattr(ecs_service, "POLL_DELAY", 0.01)
    with mock_aws():
        ecs = boto3.client("ecs", region_name=REGION)
        ecs.create_cluster(clusterName=CLUSTER, capacityProviders=["FARGATE", "FARGATE_SPOT"])
        yield Env(ecs)


def mutating(requests):
    return [(name, params) for name, params in requests if name in MUTATING]


@pytest.fixture
def run(module_runner):
    return module_runner(ecs_service.main, diff=True, cluster=CLUSTER, name=NAME, region=REGION)


@pytest.fixture
def clock(monkeypatch, fake_time):
    """A clock shared by the module (its waits) and the shim (its rollouts): sleeping costs nothing."""
    monkeypatch.setattr(ecs_service, "time", fake_time)
    monkeypatch.setattr(moto_ecs, "_now", fake_time.monotonic)
    monkeypatch.setattr(ecs_service, "POLL_DELAY", 5)  # the module's own delays
    monkeypatch.setitem(moto_ecs.ROLLOUT, "seconds", 6)
    return fake_time


@pytest.fixture
def create(run, aws):
    """Create the service (Fargate, in the VPC, circuit breaker with rollback) on a good image."""

    def _create(**args):
        arn = aws.register()
        params = {
            "task_definition": arn,
            "desired_count": 2,
            "launch_type": "FARGATE",
            **aws.network(),
            "deployment": CIRCUIT_BREAKER,
            **args,
        }
        result = run(**params)
        assert result["rollout"]["state"] == "COMPLETED"
        return arn, params

    return _create


def test_create_waits_until_completed_then_noop(run, aws, requests):
    arn = aws.register()
    args = {
        "task_definition": FAMILY,
        "desired_count": 2,
        "launch_type": "FARGATE",
        **aws.network(),
        "tags": {"app": "sage"},
    }
    requests.clear()
    result = run(**args)
    assert result["changed"] is True
    names = [name for name, _params in requests]
    assert names[:3] == ["DescribeServices", "DescribeTaskDefinition", "CreateService"]
    assert names[3:] == ["DescribeServices"] * len(names[3:])
    assert len(names) >= 4  # the deployment was IN_PROGRESS after CreateService: it was polled
    assert dict(requests)["CreateService"] == {
        "cluster": CLUSTER,
        "serviceName": NAME,
        "taskDefinition": arn,
        "desiredCount": 2,
        "launchType": "FARGATE",
        "platformVersion": "LATEST",
        "networkConfiguration": {
            "awsvpcConfiguration": {
                "subnets": sorted(aws.subnets),
                "assignPublicIp": "DISABLED",
                "securityGroups": sorted(aws.security_groups),
            }
        },
        "tags": [{"key": "app", "value": "sage"}],
    }
    rollout = result["rollout"]
    service = result["service"]
    assert rollout["state"] == "COMPLETED"
    assert rollout["task_definition"] == arn
    assert rollout["rolled_back_by_ecs"] is False
    assert rollout["deployment_id"] == service["deployments"][0]["id"]
    assert service["deployments"][0]["rollout_state"] == "COMPLETED"
    assert service["running_count"] == 2
    assert service["service_arn"] == SERVICE_ARN
    assert service["tags"] == {"app": "sage"}
    assert result["previous_task_definition"] is None
    assert result["task_definition"] == arn
    assert result["diff"]["before"] == {}
    assert result["diff"]["after"]["task_definition"] == arn
    assert result["diff"]["after"]["deployment"]["circuit_breaker"] == {"enable": False, "rollback": False}

    described = aws.describe()
    assert described["deploymentConfiguration"] == moto_ecs.DEFAULT_DEPLOYMENT_CONFIGURATION
    assert described["runningCount"] == 2

    # A re-run with the same input: one DescribeServices, plus one DescribeTaskDefinition for a bare family.
    requests.clear()
    result = run(**args)
    assert result["changed"] is False
    assert [name for name, _params in requests] == ["DescribeServices", "DescribeTaskDefinition"]
    assert result["rollout"]["state"] == "NONE"
    assert result["previous_task_definition"] == result["task_definition"] == arn
    assert result["diff"]["before"] == result["diff"]["after"]

    for task_definition in (arn, f"{FAMILY}:1"):
        requests.clear()
        reordered = dict(args, subnets=aws.subnets[::-1], security_groups=aws.security_groups[::-1])
        assert run(**dict(reordered, task_definition=task_definition))["changed"] is False
        assert [name for name, _params in requests] == ["DescribeServices"]


def test_update_task_definition_starts_a_deployment_and_waits(run, aws, create, requests):
    first, args = create()
    first_deployment = aws.describe()["deployments"][0]["id"]
    second = aws.register("nginx:1.28")
    requests.clear()
    result = run(**dict(args, task_definition=f"{FAMILY}:2"))
    assert result["changed"] is True
    assert mutating(requests) == [
        ("UpdateService", {"cluster": CLUSTER, "service": SERVICE_ARN, "taskDefinition": second})
    ]
    rollout = result["rollout"]
    assert rollout["state"] == "COMPLETED"
    assert rollout["task_definition"] == second
    assert rollout["deployment_id"] != first_deployment
    assert result["previous_task_definition"] == first
    assert result["task_definition"] == second
    assert [d["id"] for d in result["service"]["deployments"]] == [rollout["deployment_id"]]
    assert result["diff"]["before"]["task_definition"] == first
    assert result["diff"]["after"]["task_definition"] == second
    events = [event["message"] for event in result["service"]["events"]]
    assert events[0] == f"(service {NAME}) has reached a steady state."

    requests.clear()
    assert run(**dict(args, task_definition=second))["changed"] is False
    assert [name for name, _params in requests] == ["DescribeServices"]


def test_failing_image_is_rolled_back_by_ecs(run, aws, create, requests, clock):
    good, args = create()
    bad = aws.register(BAD)
    result = run(**dict(args, task_definition=bad, fail_on_rollout_failure=False))
    assert result["changed"] is True
    rollout = result["rollout"]
    assert rollout["state"] == "FAILED"
    assert rollout["rolled_back_by_ecs"] is True
    assert rollout["task_definition"] == bad
    assert rollout["reason"] == "ECS deployment circuit breaker: tasks failed to start."
    assert rollout["failed_tasks"] >= 1
    assert rollout["alarms"] == []
    assert result["previous_task_definition"] == good
    assert result["task_definition"] == good  # ECS rolled the service back
    assert aws.describe()["taskDefinition"] == good

    # The default: the task fails and says what failed, why, and what the service runs now.
    requests.clear()
    result = run.failure(**dict(args, task_definition=bad))
    assert [name for name, _params in mutating(requests)] == ["UpdateService"]
    msg = result["msg"]
    assert msg.startswith(f"Task definition {bad} failed to roll out to service {NAME} (deployment ecs-svc/")
    assert "FAILED): ECS deployment circuit breaker: tasks failed to start." in msg
    assert f"The service's task definition is now {good} (rolled back by the ECS deployment circuit breaker)" in msg
    assert "deployment failed: tasks failed to start." in msg
    assert result["rollout"]["rolled_back_by_ecs"] is True
    assert result["task_definition"] == good
    assert result["changed"] is True

    # Once ECS's rollback has completed, the old task definition is in place again: nothing to do.
    clock.now += 12
    requests.clear()
    result = run(**args)
    assert result["changed"] is False
    assert result["rollout"]["state"] == "NONE"
    assert [name for name, _params in requests] == ["DescribeServices"]


def test_an_alarm_during_the_rollout_fails_it_and_ecs_rolls_back_naming_the_alarm(run, aws, create, clock):
    """A release that starts fine but answers badly: the circuit breaker sees nothing, the deployment alarm does."""
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    for name in ("api-errors", "already-firing"):
        cloudwatch.put_metric_alarm(
            AlarmName=name,
            Namespace="AWS/ApplicationELB",
            MetricName="HTTPCode_Target_5XX_Count",
            Statistic="Sum",
            Period=60,
            EvaluationPeriods=1,
            Threshold=1,
            ComparisonOperator="GreaterThanThreshold",
        )
    cloudwatch.set_alarm_state(AlarmName="already-firing", StateValue="ALARM", StateReason="before the deploy")
    alarms = {"alarm_names": ["api-errors", "already-firing"], "enable": True, "rollback": True}
    _good, args = create(deployment=dict(CIRCUIT_BREAKER, alarms=alarms))
    configuration = aws.describe()["deploymentConfiguration"]["alarms"]
    assert configuration == {"alarmNames": ["already-firing", "api-errors"], "enable": True, "rollback": True}

    # An alarm already in ALARM when a deployment starts is ignored (as ECS does): this one completes.
    second = aws.register()
    assert run(**dict(args, task_definition=second))["rollout"]["state"] == "COMPLETED"

    third = aws.register()
    started = run(**dict(args, task_definition=third, wait=False))
    assert started["rollout"]["state"] == "IN_PROGRESS"
    cloudwatch.set_alarm_state(AlarmName="api-errors", StateValue="ALARM", StateReason="5xx after the deploy")
    result = run.failure(**dict(args, task_definition=third))
    rollout = result["rollout"]
    assert (rollout["state"], rollout["rolled_back_by_ecs"], rollout["alarms"]) == ("FAILED", True, ["api-errors"])
    assert rollout["failed_tasks"] == 0, "every task started: the alarm, not the circuit breaker, failed it"
    assert "alarm(s) detected: api-errors" in rollout["reason"]
    assert (
        f"The service's task definition is now {second} (rolled back by its deployment alarm api-errors)"
        in result["msg"]
    )
    assert aws.describe()["taskDefinition"] == second


def test_deployment_alarms_need_names_and_enable(run, aws):
    arn = aws.register()
    base = {"task_definition": arn, "desired_count": 1, "launch_type": "FARGATE", **aws.network()}
    enable_only = {"alarms": {"enable": True}}
    rollback_only = {"alarms": {"alarm_names": ["a"], "rollback": True}}
    assert "deployment.alarms.enable=true needs deployment.alarms.alarm_names" in run.fail(
        **base, deployment=enable_only
    )
    assert "deployment.alarms.rollback requires deployment.alarms.enable=true" in run.fail(
        **base, deployment=rollback_only
    )


def test_rollback_completed_before_the_first_poll(run, aws, create, clock, monkeypatch):
    """The failed deployment is gone when the module looks (its rollback completed meanwhile)."""
    monkeypatch.setitem(moto_ecs.ROLLOUT, "seconds", 0.4)  # failed after 0.4 s, rolled back after 0.8 s
    good, args = create()
    bad = aws.register(BAD)
    clock.sleeps.clear()
    result = run(**dict(args, task_definition=bad, fail_on_rollout_failure=False))
    rollout = result["rollout"]
    assert rollout["state"] == "FAILED"
    assert rollout["rolled_back_by_ecs"] is True
    assert "the service now runs deployment ecs-svc/" in rollout["reason"]
    assert result["task_definition"] == good
    assert [d["task_definition"] for d in result["service"]["deployments"]] == [good]
    assert clock.sleeps == [1]


def test_circuit_breaker_without_rollback_stays_failed(run, aws, create, requests):
    _good, args = create(deployment={"circuit_breaker": {"enable": True}})
    bad = aws.register(BAD)
    result = run.failure(**dict(args, task_definition=bad, deployment={"circuit_breaker": {"enable": True}}))
    assert result["rollout"]["state"] == "FAILED"
    assert result["rollout"]["rolled_back_by_ecs"] is False
    assert result["task_definition"] == bad
    assert f"The service's task definition is now {bad};" in result["msg"]

    # Nothing to change, but the service's deployment has failed: the task still fails, without waiting.
    requests.clear()
    args = dict(args, task_definition=bad, deployment={"circuit_breaker": {"enable": True}})
    result = run.failure(**args)
    assert result["changed"] is False
    assert "failed to roll out" in result["msg"]
    assert [name for name, _params in requests] == ["DescribeServices"]
    result = run(**args, fail_on_rollout_failure=False)
    assert result["changed"] is False
    assert result["rollout"]["state"] == "FAILED"


def test_failing_image_without_circuit_breaker_times_out(run, aws, create, clock):
    good, args = create(deployment=None)
    assert clock.sleeps == [1, 2, 4]  # a 6 second rollout: polled after 1, 2 and 4 seconds
    bad = aws.register(BAD)
    args = {key: value for key, value in args.items() if key != "deployment"}
    clock.sleeps.clear()
    result = run(**dict(args, task_definition=bad, wait_timeout=20, fail_on_rollout_failure=False))
    assert clock.sleeps == [1, 2, 4, 5, 5, 3]
    rollout = result["rollout"]
    assert result["changed"] is True
    assert rollout["state"] == "TIMED_OUT"
    assert rollout["rolled_back_by_ecs"] is False
    assert rollout["reason"].startswith("not completed within 20 seconds (")
    assert rollout["failed_tasks"] >= 2
    assert result["task_definition"] == bad

    # Still stuck: the deployment is waited for again, and the task fails.
    clock.sleeps.clear()
    result = run.failure(**dict(args, task_definition=bad, wait_timeout=1))
    assert clock.sleeps == [1]
    assert result["changed"] is False
    msg = result["msg"]
    assert msg.startswith(f"Task definition {bad} did not finish rolling out to service {NAME}")
    assert "TIMED_OUT" in msg
    assert f"{good} (2 running, deployment ACTIVE)" in msg  # the old tasks keep running
    assert "is unable to consistently start tasks successfully" in msg


def test_absent_waits_until_inactive(run, aws, create, clock):
    create()
    clock.sleeps.clear()
    assert run.fail(state="absent", wait_timeout=3) == (
        f"Timed out after 3 seconds waiting for service {NAME} to be deleted (status: DRAINING)"
    )
    assert clock.sleeps == [1, 2]
    clock.sleeps.clear()
    assert run(state="absent")["changed"] is False  # DRAINING already: waited for, not deleted again
    assert clock.sleeps == [1, 2]
    assert aws.describe()["status"] == "INACTIVE"


def test_wait_false_then_wait_for_the_running_deployment(run, aws, requests, clock):
    arn = aws.register()
    args = {"task_definition": arn, "desired_count": 1, "launch_type": "FARGATE", **aws.network()}
    requests.clear()
    result = run(**args, wait=False)
    assert result["changed"] is True
    assert result["rollout"]["state"] == "IN_PROGRESS"
    assert [name for name, _params in requests] == ["DescribeServices", "DescribeTaskDefinition", "CreateService"]
    deployment = result["rollout"]["deployment_id"]
    assert clock.sleeps == []

    result = run(**args)
    assert clock.sleeps == [1, 2, 4]
    assert result["changed"] is False
    assert result["rollout"]["state"] == "COMPLETED"
    assert result["rollout"]["deployment_id"] == deployment


def test_autoscaling_owns_desired_count(run, aws, create, requests):
    _arn, args = create(autoscaling_owns_desired_count=True)
    assert aws.describe()["desiredCount"] == 2
    aws.ecs.update_service(cluster=CLUSTER, service=NAME, desiredCount=5)  # Application Auto Scaling
    requests.clear()
    result = run(**args)
    assert result["changed"] is False
    assert [name for name, _params in requests] == ["DescribeServices"]
    assert result["service"]["desired_count"] == 5
    assert result["diff"]["after"]["desired_count"] == 5

    requests.clear()
    result = run(**dict(args, autoscaling_owns_desired_count=False))
    assert result["changed"] is True
    assert mutating(requests) == [("UpdateService", {"cluster": CLUSTER, "service": SERVICE_ARN, "desiredCount": 2})]
    assert result["rollout"]["state"] == "NONE"  # a new desired count starts no deployment
    assert result["diff"]["before"]["desired_count"] == 5
    assert result["diff"]["after"]["desired_count"] == 2
    assert aws.describe()["desiredCount"] == 2


def test_check_mode_makes_no_change(run, aws, requests):
    arn = aws.register()
    args = {"task_definition": arn, "desired_count": 2, "launch_type": "FARGATE", **aws.network(), "tags": {"a": "b"}}
    result = run(check_mode=True, **args)
    assert result["changed"] is True
    assert result["service"]["service_arn"] is None
    assert result["service"]["tags"] == {"a": "b"}
    assert result["rollout"]["state"] == "NONE"
    assert result["diff"]["after"]["desired_count"] == 2
    assert mutating(requests) == []
    assert aws.ecs.describe_services(cluster=CLUSTER, services=[NAME])["services"] == []

    run(**args)
    second = aws.register("nginx:1.28")
    requests.clear()
    result = run(check_mode=True, **dict(args, task_definition=second, desired_count=3, tags={"c": "d"}))
    assert result["changed"] is True
    assert mutating(requests) == []
    assert result["rollout"]["state"] == "NONE"
    assert result["previous_task_definition"] == arn
    assert result["diff"]["before"]["task_definition"] == arn
    assert result["diff"]["after"]["task_definition"] == second
    assert result["diff"]["after"]["desired_count"] == 3
    assert result["diff"]["after"]["tags"] == {"c": "d"}
    described = aws.describe()
    assert described["taskDefinition"] == arn
    assert described["desiredCount"] == 2
    assert len(described["deployments"]) == 1

    requests.clear()
    assert run(check_mode=True, state="absent")["changed"] is True
    assert mutating(requests) == []
    assert aws.describe()["status"] == "ACTIVE"


def test_update_settings_in_place_and_idempotent(run, aws, create, requests):
    _arn, args = create(tags={"app": "sage", "old": "x"})
    target_group = f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:targetgroup/web/0123456789abcdef"
    new = dict(
        args,
        security_groups=aws.security_groups[:1],
        assign_public_ip=True,
        load_balancers=[{"target_group_arn": target_group, "container_name": "web", "container_port": 80}],
        health_check_grace_period_seconds=30,
        deployment={"minimum_healthy_percent": 50, "maximum_percent": 150, "circuit_breaker": {"enable": True}},
        propagate_tags="SERVICE",
        enable_execute_command=True,
        enable_ecs_managed_tags=True,
        platform_version="1.4.0",
        tags={"app": "sage2"},
    )
    requests.clear()
    result = run(**new)
    assert result["changed"] is True
    assert mutating(requests) == [
        ("UntagResource", {"resourceArn": SERVICE_ARN, "tagKeys": ["old"]}),
        ("TagResource", {"resourceArn": SERVICE_ARN, "tags": [{"key": "app", "value": "sage2"}]}),
        (
            "UpdateService",
            {
                "cluster": CLUSTER,
                "service": SERVICE_ARN,
                "platformVersion": "1.4.0",
                "networkConfiguration": {
                    "awsvpcConfiguration": {
                        "subnets": sorted(aws.subnets),
                        "assignPublicIp": "ENABLED",
                        "securityGroups": aws.security_groups[:1],
                    }
                },
                "loadBalancers": [{"targetGroupArn": target_group, "containerName": "web", "containerPort": 80}],
                "deploymentConfiguration": {
                    "deploymentCircuitBreaker": {"enable": True, "rollback": False},
                    "alarms": {"alarmNames": [], "enable": False, "rollback": False},
                    "maximumPercent": 150,
                    "minimumHealthyPercent": 50,
                },
                "healthCheckGracePeriodSeconds": 30,
                "propagateTags": "SERVICE",
                "enableExecuteCommand": True,
                "enableECSManagedTags": True,
            },
        ),
    ]
    assert result["rollout"]["state"] == "COMPLETED"  # network, platform and load balancers start a deployment
    diff = result["diff"]
    assert diff["before"]["assign_public_ip"] is False
    assert diff["after"]["assign_public_ip"] is True
    assert diff["before"]["deployment"]["circuit_breaker"] == {"enable": True, "rollback": True}
    assert diff["after"]["deployment"] == {
        "minimum_healthy_percent": 50,
        "maximum_percent": 150,
        "circuit_breaker": {"enable": True, "rollback": False},
        "alarms": {"alarm_names": [], "enable": False, "rollback": False},
    }
    assert diff["before"]["tags"] == {"app": "sage", "old": "x"}
    assert diff["after"]["tags"] == {"app": "sage2"}
    assert result["service"]["tags"] == {"app": "sage2"}

    described = aws.describe()
    assert described["healthCheckGracePeriodSeconds"] == 30
    assert described["enableExecuteCommand"] is True
    assert described["enableECSManagedTags"] is True
    assert described["platformVersion"] == "1.4.0"

    requests.clear()
    result = run(**new)
    assert result["changed"] is False
    assert [name for name, _params in requests] == ["DescribeServices"]
    assert result["diff"]["before"] == result["diff"]["after"]

    # Tags only: no UpdateService and no deployment; security groups not set are kept.
    requests.clear()
    kept = {key: value for key, value in new.items() if key != "security_groups"}
    result = run(**dict(kept, tags={"extra": "y"}, purge_tags=False))
    assert [name for name, _params in mutating(requests)] == ["TagResource"]
    assert result["service"]["tags"] == {"app": "sage2", "extra": "y"}
    assert result["rollout"]["state"] == "NONE"


def test_tag_values_compare_as_text(run, create, requests):
    _arn, args = create(tags={"version": 2})
    requests.clear()
    result = run(**args)
    assert result["changed"] is False
    assert [name for name, _params in requests] == ["DescribeServices"]
    assert result["service"]["tags"] == {"version": "2"}


def test_tag_changes_never_unset_reserved_tags():
    """ecs.tag_changes, which plan_update relies on: as compare_aws_tags, aws: tags stay and values compare as text."""
    current = {"aws:cloudformation:stack-name": "sage", "app": "sage", "version": "2", "old": "x"}
    assert tag_changes(current, {"app": "sage2", "version": 2}, True) == (
        {"app": "sage2"},
        ["old"],
        {"aws:cloudformation:stack-name": "sage", "app": "sage2", "version": "2"},
    )
    assert tag_changes(current, {"new": "y"}, False) == ({"new": "y"}, [], {**current, "new": "y"})
    assert tag_changes(current, None, True) == ({}, [], current)


def test_capacity_provider_strategy_replaces_the_launch_type(run, aws, create, requests):
    _arn, args = create()
    strategy = [
        {"capacity_provider": "FARGATE_SPOT", "weight": 3},
        {"capacity_provider": "FARGATE", "weight": 1, "base": 1},
    ]
    args = {key: value for key, value in args.items() if key != "launch_type"}
    requests.clear()
    result = run(**args, capacity_provider_strategy=strategy)
    assert result["changed"] is True
    update = dict(mutating(requests))["UpdateService"]
    assert update["forceNewDeployment"] is True
    assert update["capacityProviderStrategy"] == [
        {"capacityProvider": "FARGATE", "weight": 1, "base": 1},
        {"capacityProvider": "FARGATE_SPOT", "weight": 3, "base": 0},
    ]
    assert result["rollout"]["state"] == "COMPLETED"
    assert result["diff"]["before"]["launch_type"] == "FARGATE"
    assert "launch_type" not in result["diff"]["after"]
    described = aws.describe()
    assert "launchType" not in described
    assert described["platformVersion"] == "LATEST"

    requests.clear()
    assert run(**args, capacity_provider_strategy=strategy[::-1])["changed"] is False
    assert [name for name, _params in requests] == ["DescribeServices"]

    requests.clear()
    msg = run.fail(**args, launch_type="FARGATE")
    assert msg.startswith("launch_type FARGATE cannot replace the capacity provider strategy")
    assert mutating(requests) == []


def test_launch_type_cannot_change_in_place(run, aws, requests):
    arn = aws.register()
    run(task_definition=arn, desired_count=1, launch_type="EC2")
    requests.clear()
    msg = run.fail(task_definition=arn, desired_count=1, launch_type="FARGATE")
    assert msg.startswith("launch_type cannot be changed from EC2 to FARGATE on existing service")
    assert mutating(requests) == []


def test_service_without_launch_type_uses_the_cluster_default_strategy(run, aws):
    aws.ecs.put_cluster_capacity_providers(
        cluster=CLUSTER,
        capacityProviders=["FARGATE", "FARGATE_SPOT"],
        defaultCapacityProviderStrategy=[{"capacityProvider": "FARGATE_SPOT", "weight": 1}],
    )
    arn = aws.register()
    result = run(task_definition=arn, desired_count=1, **aws.network())
    assert result["service"]["capacity_provider_strategy"] == [
        {"capacity_provider": "FARGATE_SPOT", "weight": 1, "base": 0}
    ]
    assert result["service"]["platform_version"] == "LATEST"
    assert run(task_definition=arn, desired_count=1, **aws.network())["changed"] is False


def test_force_new_deployment_always_deploys(run, aws, create, requests):
    arn, args = create()
    first = aws.describe()["deployments"][0]["id"]
    requests.clear()
    result = run(**args, force_new_deployment=True)
    assert result["changed"] is True
    assert mutating(requests) == [
        ("UpdateService", {"cluster": CLUSTER, "service": SERVICE_ARN, "forceNewDeployment": True})
    ]
    assert result["rollout"]["state"] == "COMPLETED"
    assert result["rollout"]["deployment_id"] != first
    assert result["task_definition"] == arn


def test_absent_then_absent_unchanged(run, aws, create, requests):
    arn, _args = create()
    requests.clear()
    result = run(state="absent")
    assert result["changed"] is True
    assert result["service"] == {}
    assert result["previous_task_definition"] == arn
    assert result["task_definition"] is None
    assert result["diff"]["before"]["desired_count"] == 2
    assert result["diff"]["after"] == {}
    assert result["scalable_target_deregistered"] is False
    assert "scalable_target" not in result["diff"]["before"]
    names = [name for name, _params in requests]
    assert names[:4] == ["DescribeServices", "UpdateService", "DeleteService", "DescribeScalableTargets"]
    assert set(names[4:]) == {"DescribeServices"}
    assert dict(mutating(requests)) == {
        "UpdateService": {"cluster": CLUSTER, "service": NAME, "desiredCount": 0},
        "DeleteService": {"cluster": CLUSTER, "service": NAME, "force": True},
    }
    assert dict(requests)["DescribeScalableTargets"] == {"ResourceIds": [RESOURCE_ID], **SCALABLE}
    assert aws.describe()["status"] == "INACTIVE"

    requests.clear()
    result = run(state="absent")
    assert result["changed"] is False
    assert result["scalable_target_deregistered"] is False
    assert [name for name, _params in requests] == ["DescribeServices", "DescribeScalableTargets"]
    assert run(state="absent", cluster="no-such-cluster")["changed"] is False


def test_absent_deregisters_the_scalable_target(run, aws, create, requests):
    arn, args = create()
    aws.register_scalable_target(minimum=2, maximum=6)

    # state=present never touches Application Auto Scaling.
    requests.clear()
    assert run(**args, autoscaling_owns_desired_count=True)["changed"] is False
    assert [name for name, _params in requests] == ["DescribeServices"]

    requests.clear()
    result = run(state="absent")
    assert result["changed"] is True
    assert result["scalable_target_deregistered"] is True
    assert result["previous_task_definition"] == arn
    assert result["diff"]["before"]["desired_count"] == 2
    assert result["diff"]["before"]["scalable_target"] == {
        "resource_id": RESOURCE_ID,
        "min_capacity": 2,
        "max_capacity": 6,
    }
    assert result["diff"]["after"] == {}
    names = [name for name, _params in requests]
    assert names[:5] == [
        "DescribeServices",
        "UpdateService",
        "DeleteService",
        "DescribeScalableTargets",
        "DeregisterScalableTarget",
    ]
    assert set(names[5:]) == {"DescribeServices"}  # waiting until INACTIVE
    assert dict(requests)["DeregisterScalableTarget"] == {"ResourceId": RESOURCE_ID, **SCALABLE}
    assert aws.scalable_targets() == []
    assert aws.describe()["status"] == "INACTIVE"

    requests.clear()
    result = run(state="absent")
    assert result["changed"] is False
    assert result["scalable_target_deregistered"] is False
    assert [name for name, _params in requests] == ["DescribeServices", "DescribeScalableTargets"]


def test_absent_in_check_mode_keeps_the_scalable_target(run, aws, create, requests):
    create()
    aws.register_scalable_target()
    requests.clear()
    result = run(state="absent", check_mode=True)
    assert result["changed"] is True
    assert result["scalable_target_deregistered"] is True
    assert result["diff"]["before"]["scalable_target"]["resource_id"] == RESOURCE_ID
    assert [name for name, _params in requests] == ["DescribeServices", "DescribeScalableTargets"]
    assert len(aws.scalable_targets()) == 1
    assert aws.describe()["status"] == "ACTIVE"


def test_absent_removes_the_scalable_target_of_a_deleted_service(run, aws, create, requests, clock):
    """A teardown interrupted after DeleteService: the service is gone, its scalable target is not."""
    create()
    aws.register_scalable_target()
    aws.ecs.delete_service(cluster=CLUSTER, service=NAME, force=True)
    clock.now += 6
    assert aws.describe()["status"] == "INACTIVE"

    requests.clear()
    result = run(state="absent", check_mode=True)
    assert result["changed"] is True
    assert result["scalable_target_deregistered"] is True
    assert mutating(requests) == []
    assert len(aws.scalable_targets()) == 1

    # The cluster given by its ARN: the resource ID still names the cluster by its name.
    cluster_arn = f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/{CLUSTER}"
    requests.clear()
    result = run(state="absent", cluster=cluster_arn)
    assert result["changed"] is True
    assert result["scalable_target_deregistered"] is True
    assert result["previous_task_definition"] is None
    assert result["diff"]["before"] == {
        "scalable_target": {"resource_id": RESOURCE_ID, "min_capacity": 1, "max_capacity": 4}
    }
    assert result["diff"]["after"] == {}
    assert [name for name, _params in requests] == [
        "DescribeServices",
        "DescribeScalableTargets",
        "DeregisterScalableTarget",
    ]
    assert aws.scalable_targets() == []

    assert run(state="absent", cluster=cluster_arn)["changed"] is False


def test_absent_deregisters_the_scalable_target_before_waiting(run, aws, create, clock):
    """A wait that times out leaves no scalable target behind; the next run only waits."""
    create()
    aws.register_scalable_target()
    msg = run.fail(state="absent", wait_timeout=3)
    assert msg.startswith(f"Timed out after 3 seconds waiting for service {NAME}")
    assert aws.scalable_targets() == []
    result = run(state="absent")
    assert result["changed"] is False
    assert result["scalable_target_deregistered"] is False
    assert aws.describe()["status"] == "INACTIVE"


@pytest.mark.parametrize(
    ("operation", "failure"),
    [
        ("DescribeScalableTargets", "describe the scalable target of"),
        ("DeregisterScalableTarget", "deregister the scalable target of"),
    ],
)
def test_absent_scalable_target_errors_name_the_service(run, aws, create, monkeypatch, operation, failure):
    create()
    aws.register_scalable_target()
    original = botocore.client.BaseClient._make_api_call

    def denied(self, operation_name, api_params):
        if operation_name == operation:
            error = {"Error": {"Code": "AccessDeniedException", "Message": "not allowed"}}
            raise ClientError(error, operation_name)
        return original(self, operation_name, api_params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", denied)
    msg = run.fail(state="absent")
    assert msg.startswith(f"Failed to {failure} service {NAME} in cluster {CLUSTER}")
    assert "not allowed" in msg
    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", original)
    assert len(aws.scalable_targets()) == 1


def test_recreate_a_draining_service(run, aws, create, clock):
    _arn, args = create()
    assert run(state="absent", wait=False)["changed"] is True
    assert aws.describe()["status"] == "DRAINING"
    msg = run.fail(**args, wait=False)
    assert "is DRAINING" in msg
    assert "set wait=true" in msg
    assert run(state="absent", wait=False)["changed"] is False

    result = run(**args)
    assert result["changed"] is True
    assert result["previous_task_definition"] is None
    assert result["rollout"]["state"] == "COMPLETED"
    assert aws.describe()["status"] == "ACTIVE"


def test_missing_and_inactive_task_definitions_fail_clearly(run, aws, requests):
    msg = run.fail(desired_count=1)
    assert msg == f"task_definition is required to create service {NAME}"
    msg = run.fail(task_definition=FAMILY)
    assert msg == f"desired_count is required to create service {NAME}"

    msg = run.fail(task_definition="nope:1", desired_count=1)
    assert msg.startswith("Failed to find task_definition nope:1")
    arn = aws.register()
    aws.ecs.deregister_task_definition(taskDefinition=arn)
    requests.clear()
    msg = run.fail(task_definition=arn, desired_count=1)
    assert f"task_definition {arn} ({arn}) is INACTIVE" in msg
    assert mutating(requests) == []
    msg = run.fail(task_definition="sage-web", desired_count=1)
    assert msg.startswith("Failed to find task_definition sage-web")


def test_family_resolves_to_the_latest_active_revision(run, aws):
    first = aws.register()
    second = aws.register("nginx:1.28")
    aws.ecs.deregister_task_definition(taskDefinition=second)
    result = run(task_definition=FAMILY, desired_count=1, launch_type="FARGATE", **aws.network())
    assert result["task_definition"] == first


def test_present_in_a_missing_cluster_fails(run):
    msg = run.fail(cluster="no-such-cluster", task_definition=FAMILY, desired_count=1)
    assert msg.startswith(f"Cluster no-such-cluster of service {NAME} does not exist")


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (
            {"launch_type": "FARGATE", "capacity_provider_strategy": [{"capacity_provider": "FARGATE"}]},
            ["launch_type", "capacity_provider_strategy"],
        ),
        ({"wait_timeout": 0}, ["wait_timeout"]),
        ({"wait_timeout": 0, "state": "absent"}, ["wait_timeout"]),
        ({"deployment": {"circuit_breaker": {"rollback": True}}}, ["deployment.circuit_breaker.rollback", "enable"]),
        ({"deployment": {"minimum_healthy_percent": 101}}, ["deployment.minimum_healthy_percent"]),
        ({"deployment": {"minimum_healthy_percent": 50, "maximum_percent": 40}}, ["deployment.maximum_percent"]),
        ({"name": "bad name"}, ["name"]),
        ({"name": "x" * 256}, ["name"]),
        ({"desired_count": -1}, ["desired_count"]),
        ({"health_check_grace_period_seconds": -5}, ["health_check_grace_period_seconds"]),
        ({"capacity_provider_strategy": []}, ["capacity_provider_strategy"]),
        (
            {
                "capacity_provider_strategy": [
                    {"capacity_provider": "FARGATE", "base": 1},
                    {"capacity_provider": "FARGATE_SPOT", "base": 1},
                ]
            },
            ["capacity_provider_strategy", "base"],
        ),
        (
            {"capacity_provider_strategy": [{"capacity_provider": "FARGATE", "weight": 0}]},
            ["capacity_provider_strategy", "weight"],
        ),
        (
            {"capacity_provider_strategy": [{"capacity_provider": "FARGATE", "weight": 1001}]},
            ["capacity_provider_strategy", "weight"],
        ),
        (
            {"capacity_provider_strategy": [{"capacity_provider": "FARGATE"}, {"capacity_provider": "FARGATE"}]},
            ["capacity_provider_strategy"],
        ),
        ({"assign_public_ip": True}, ["assign_public_ip", "subnets"]),
        ({"security_groups": ["sg-1"]}, ["security_groups", "subnets"]),
        ({"subnets": []}, ["subnets"]),
        ({"platform_version": "1.4.0", "launch_type": "EC2"}, ["platform_version", "launch_type"]),
        (
            {"load_balancers": [{"target_group_arn": "arn:tg", "container_name": "web", "container_port": 0}]},
            ["container_port"],
        ),
        ({"load_balancers": [{"target_group_arn": "arn:tg", "container_name": "web"}]}, ["container_port"]),
        ({"launch_type": "EXTERNAL"}, ["launch_type"]),
    ],
)
def test_validation_fails_before_any_call(run, calls, args, named):
    msg = run.fail(**{"task_definition": FAMILY, "desired_count": 1, **args})
    for option in named:
        assert option in msg
    assert calls == []


# --- the shim itself ---


def backend():
    return ecs_backends[ACCOUNT][REGION]


def test_shim_settings(monkeypatch):
    monkeypatch.setitem(moto_ecs.ROLLOUT, "seconds", 1.0)
    assert moto_ecs.configure_rollout(seconds=2, failing_images=["a:1", "b:2"]) == {
        "seconds": 2.0,
        "failing_images": ["a:1", "b:2"],
        "alarming_images": {},
    }
    assert moto_ecs.configure_rollout(alarming_images={"d:4": ["errors"]})["alarming_images"] == {"d:4": ["errors"]}
    assert moto_ecs.configure_rollout(failing_images="c:3")["failing_images"] == ["c:3"]
    assert moto_ecs.configure_rollout()["seconds"] == 2.0
    with pytest.raises(ValueError, match="seconds"):
        moto_ecs.configure_rollout(seconds=-1)
    moto_ecs.reset()
    assert moto_ecs.rollout_config() == {"seconds": 1.0, "failing_images": [], "alarming_images": {}}


def test_shim_settles_a_failure_its_rollback_and_completion_at_once(aws, clock):
    good, bad = aws.register(), aws.register(BAD)
    aws.ecs.create_service(
        cluster=CLUSTER,
        serviceName=NAME,
        taskDefinition=good,
        desiredCount=2,
        deploymentConfiguration={"deploymentCircuitBreaker": {"enable": True, "rollback": True}},
    )
    created = aws.describe()
    assert created["deployments"][0]["rolloutState"] == "IN_PROGRESS"
    assert created["runningCount"] == 0
    assert created["launchType"] == "EC2"
    assert "platformVersion" not in created
    assert "networkConfiguration" not in created
    assert created["deploymentConfiguration"]["maximumPercent"] == 200
    clock.now += 5.9
    assert aws.describe()["deployments"][0]["rolloutState"] == "IN_PROGRESS"
    clock.now += 0.1
    first = aws.describe()["deployments"][0]
    assert first["rolloutState"] == "COMPLETED"

    updated = aws.ecs.update_service(cluster=CLUSTER, service=NAME, taskDefinition=f"{FAMILY}:2")["service"]
    assert updated["taskDefinition"] == bad  # the ARN, not the family:revision given
    assert [(d["status"], d["rolloutState"]) for d in updated["deployments"]] == [
        ("PRIMARY", "IN_PROGRESS"),
        ("ACTIVE", "COMPLETED"),
    ]
    assert updated["runningCount"] == 2  # the old tasks keep running
    failed_id = updated["deployments"][0]["id"]
    clock.now += 15  # failure (after 6 s), rollback and its completion (after 12 s) all lie in the past
    described = aws.describe()
    assert described["taskDefinition"] == good
    assert [(d["taskDefinition"], d["rolloutState"]) for d in described["deployments"]] == [(good, "COMPLETED")]
    assert described["deployments"][0]["id"] not in (first["id"], failed_id)
    messages = [event["message"] for event in described["events"]]
    assert messages[:4] == [
        f"(service {NAME}) has reached a steady state.",
        f"(service {NAME}) (deployment {described['deployments'][0]['id']}) deployment completed.",
        f"(service {NAME}) rolling back to deployment {first['id']}.",
        f"(service {NAME}) (deployment {failed_id}) deployment failed: tasks failed to start.",
    ]


def test_shim_desired_count_zero_never_fails(aws):
    aws.ecs.create_service(cluster=CLUSTER, serviceName=NAME, taskDefinition=aws.register(BAD), desiredCount=0)
    time.sleep(ROLLOUT_SECONDS)
    assert aws.describe()["deployments"][0]["rolloutState"] == "COMPLETED"


def test_shim_refuses_like_aws(aws, clock):
    good = aws.register()
    kwargs = {"cluster": CLUSTER, "serviceName": NAME, "taskDefinition": good, "desiredCount": 1}
    with pytest.raises(ClientError, match="Specifying both a launch type and capacity provider strategy"):
        aws.ecs.create_service(
            **kwargs, launchType="FARGATE", capacityProviderStrategy=[{"capacityProvider": "FARGATE"}]
        )
    with pytest.raises(ClientError, match="not associated with the cluster"):
        aws.ecs.create_service(**kwargs, capacityProviderStrategy=[{"capacityProvider": "OTHER"}])
    aws.ecs.create_service(**kwargs)
    with pytest.raises(ClientError, match="Creation of service was not idempotent"):
        aws.ecs.create_service(**kwargs)
    with pytest.raises(ClientError, match="cannot be stopped while it is scaled above 0"):
        aws.ecs.delete_service(cluster=CLUSTER, service=NAME)
    assert aws.ecs.delete_service(cluster=CLUSTER, service=NAME, force=True)["service"]["status"] == "DRAINING"
    assert aws.describe()["desiredCount"] == 0
    with pytest.raises(ClientError, match="still Draining"):
        aws.ecs.create_service(**kwargs)
    with pytest.raises(ClientError) as error:
        aws.ecs.update_service(cluster=CLUSTER, service=NAME, desiredCount=1)
    assert error.value.response["Error"]["Code"] == "ServiceNotActiveException"
    clock.now += 6
    assert aws.describe()["status"] == "INACTIVE"
    with pytest.raises(ClientError) as error:
        aws.ecs.delete_service(cluster=CLUSTER, service=NAME, force=True)
    assert error.value.response["Error"]["Code"] == "ServiceNotActiveException"
    aws.ecs.deregister_task_definition(taskDefinition=good)
    with pytest.raises(ClientError, match="TaskDefinition is inactive"):
        aws.ecs.create_service(**kwargs)
    aws.register("nginx:2")
    assert aws.ecs.create_service(**kwargs | {"taskDefinition": FAMILY})["service"]["taskDefinition"].endswith(":2")


def test_shim_stuck_deployment_counts_failed_tasks(aws):
    aws.ecs.create_service(cluster=CLUSTER, serviceName=NAME, taskDefinition=aws.register(BAD), desiredCount=2)
    time.sleep(ROLLOUT_SECONDS * 3)
    deployment = aws.describe()["deployments"][0]
    assert deployment["rolloutState"] == "IN_PROGRESS"
    assert deployment["failedTasks"] >= 4
    events = [event["message"] for event in aws.describe()["events"]]
    assert len([m for m in events if "unable to consistently start tasks" in m]) == 1
    assert backend().services[f"{CLUSTER}:{NAME}"].running_count == 0
