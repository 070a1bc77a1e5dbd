# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests for sage.infra.ecs_task_definition, run against moto in-process."""

import copy

import boto3
import botocore.client
import pytest
from ansible_collections.sage.infra.plugins.module_utils import stack_ecs
from ansible_collections.sage.infra.plugins.modules import ecs_task_definition as mod
from botocore.exceptions import ClientError
from moto import mock_aws

REGION = "us-east-1"
FAMILY = "sage-backend"
REPO = "123456789012.dkr.ecr.us-east-1.amazonaws.com/sage-backend"
EXEC_ROLE = "arn:aws:iam::123456789012:role/sage-exec"
TASK_ROLE = "arn:aws:iam::123456789012:role/sage-task"
SECRET_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:sage/key-AbCdEf"
MUTATING = ("Register", "Deregister", "Update", "Put", "Create", "Delete", "Tag", "Untag")


def containers(image=f"{REPO}:bootstrap"):
    return [
        {
            "name": "app",
            "image": image,
            "portMappings": [{"containerPort": 8000}],
            "environment": [{"name": "LOG_LEVEL", "value": "info"}, {"name": "APP_ENV", "value": "prod"}],
            "secrets": [{"name": "ANTHROPIC_API_KEY", "valueFrom": SECRET_ARN}],
            "logConfiguration": {"logDriver": "awslogs", "options": {"awslogs-group": "/ecs/sage-backend"}},
        }
    ]


def task_args(**overrides):
    args = {
        "container_definitions": containers(),
        "cpu": "512",
        "memory": "1024",
        "execution_role_arn": EXEC_ROLE,
        "task_role_arn": TASK_ROLE,
        "runtime_platform": {"cpuArchitecture": "ARM64", "operatingSystemFamily": "LINUX"},
        "tags": {"app": "sage"},
    }
    args.update(overrides)
    return args


@pytest.fixture(autouse=True)
def aws(monkeypatch, fake_aws_credentials):
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        yield boto3.client("ecs", region_name=REGION)


@pytest.fixture
def run(module_runner):
    return module_runner(mod.main, family=FAMILY, region=REGION)


def mutating(calls):
    return [c for c in calls if c.startswith(MUTATING)]


def described(client, name=FAMILY):
    response = client.describe_task_definition(taskDefinition=name, include=["TAGS"])
    return response["taskDefinition"], {t["key"]: t["value"] for t in response.get("tags", [])}


# --- normaliser ---------------------------------------------------------------------------------------------


def test_prune_drops_empty_values_and_default_false_recursively():
    value = {
        "a": None,
        "b": [],
        "c": {},
        "d": {"e": [], "f": 0, "g": ""},
        "readOnly": False,
        "privileged": True,
        "essential": False,
        "list": [{"x": None, "y": 1}],
    }
    pruned = {"d": {"f": 0, "g": ""}, "privileged": True, "essential": False, "list": [{"y": 1}]}
    assert stack_ecs.prune(value) == pruned


@pytest.mark.parametrize(
    ("mapping", "network_mode", "expected"),
    [
        ({"containerPort": 80}, "awsvpc", {"containerPort": 80, "hostPort": 80, "protocol": "tcp"}),
        ({"containerPort": 80, "protocol": "udp"}, "host", {"containerPort": 80, "hostPort": 80, "protocol": "udp"}),
        ({"containerPort": 80, "hostPort": 0}, "bridge", {"containerPort": 80, "protocol": "tcp"}),
        ({"containerPort": 80, "hostPort": 8080}, "bridge", {"containerPort": 80, "hostPort": 8080, "protocol": "tcp"}),
        ({"containerPort": 80}, "bridge", {"containerPort": 80, "protocol": "tcp"}),
    ],
)
def test_normalize_port_mapping(mapping, network_mode, expected):
    assert stack_ecs.normalize_port_mapping(mapping, network_mode) == expected


def test_normalize_container_defaults_and_order():
    given = {
        "name": "app",
        "image": "img",
        "environment": [{"name": "B", "value": "2"}, {"name": "A", "value": "1"}],
        "secrets": [{"name": "Z", "valueFrom": "arn:z"}, {"name": "Y", "valueFrom": "arn:y"}],
        "portMappings": [{"containerPort": 80}],
    }
    described_by_aws = {
        "name": "app",
        "image": "img",
        "cpu": 0,
        "essential": True,
        "environment": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
        "secrets": [{"name": "Y", "valueFrom": "arn:y"}, {"name": "Z", "valueFrom": "arn:z"}],
        "portMappings": [{"containerPort": 80, "hostPort": 80, "protocol": "tcp"}],
        "mountPoints": [],
        "volumesFrom": [],
        "systemControls": [],
    }
    normal = stack_ecs.normalize_container(given, "awsvpc")
    assert normal == stack_ecs.normalize_container(described_by_aws, "awsvpc")
    assert normal["essential"] is True
    assert "cpu" not in normal
    assert [e["name"] for e in normal["environment"]] == ["A", "B"]
    # what matters is still compared
    assert normal != stack_ecs.normalize_container({**given, "essential": False}, "awsvpc")
    assert normal != stack_ecs.normalize_container({**given, "cpu": 256}, "awsvpc")
    changed_env = {**given, "environment": [{"name": "A", "value": "1"}, {"name": "B", "value": "3"}]}
    assert normal != stack_ecs.normalize_container(changed_env, "awsvpc")


def test_normalize_definition_ignores_describe_only_fields_and_types():
    desired = {
        "containerDefinitions": [{"name": "b", "image": "b"}, {"name": "a", "image": "a"}],
        "cpu": 512,
        "memory": "1024",
        "networkMode": "awsvpc",
        "requiresCompatibilities": ["FARGATE", "EC2"],
        "taskRoleArn": None,
        "volumes": [{"name": "data", "efsVolumeConfiguration": {"fileSystemId": "fs-1"}}],
    }
    from_aws = {
        "taskDefinitionArn": "arn:aws:ecs:us-east-1:123456789012:task-definition/f:3",
        "family": "f",
        "revision": 3,
        "status": "ACTIVE",
        "compatibilities": ["EC2", "FARGATE"],
        "requiresAttributes": [{"name": "com.amazonaws.ecs.capability.docker-remote-api.1.18"}],
        "registeredAt": "2025-01-01T00:00:00Z",
        "registeredBy": "arn:aws:iam::123456789012:root",
        "containerDefinitions": [
            {"name": "a", "image": "a", "cpu": 0, "essential": True, "environment": []},
            {"name": "b", "image": "b", "mountPoints": []},
        ],
        "cpu": "512",
        "memory": "1024",
        "networkMode": "awsvpc",
        "requiresCompatibilities": ["EC2", "FARGATE"],
        "placementConstraints": [],
        "volumes": [{"name": "data", "efsVolumeConfiguration": {"fileSystemId": "fs-1", "rootDirectory": "/"}}],
        "enableFaultInjection": False,
    }
    assert stack_ecs.normalize_definition(desired) == stack_ecs.normalize_definition(from_aws)
    assert stack_ecs.normalize_definition(desired) != stack_ecs.normalize_definition({**from_aws, "memory": "2048"})
    other_role = {**from_aws, "taskRoleArn": TASK_ROLE}
    assert stack_ecs.normalize_definition(desired) != stack_ecs.normalize_definition(other_role)
    other_image = copy.deepcopy(from_aws)
    other_image["containerDefinitions"][0]["image"] = "a:2"
    assert stack_ecs.normalize_definition(desired) != stack_ecs.normalize_definition(other_image)


def test_normalize_definition_does_not_mutate_its_input():
    desired = {"containerDefinitions": [{"name": "a", "image": "a", "portMappings": [{"containerPort": 1}]}]}
    before = copy.deepcopy(desired)
    stack_ecs.normalize_definition({**desired, "networkMode": "awsvpc"})
    assert desired == before


def test_arn_helpers():
    arn = "arn:aws:ecs:us-east-1:123456789012:task-definition/sage-backend:12"
    assert stack_ecs.revision_of(arn) == 12
    assert stack_ecs.family_of(arn) == "sage-backend"
    assert stack_ecs.images_of({"containerDefinitions": [{"name": "a", "image": "x"}]}) == {"a": "x"}
    assert stack_ecs.images_of(None) == {}


# --- present ------------------------------------------------------------------------------------------------


def test_create_then_noop_with_one_call(run, aws, calls):
    result = run(**task_args())
    assert result["changed"] is True
    assert result["revision"] == 1
    assert result["arn"].endswith(f":task-definition/{FAMILY}:1")
    assert result["previous_arn"] is None
    assert result["image"] == {"app": f"{REPO}:bootstrap"}
    td = result["task_definition"]
    assert td["task_definition_arn"] == result["arn"]
    assert td["cpu"] == "512"
    assert td["execution_role_arn"] == EXEC_ROLE
    assert td["runtime_platform"] == {"cpu_architecture": "ARM64", "operating_system_family": "LINUX"}
    assert td["container_definitions"][0]["portMappings"][0]["containerPort"] == 8000  # camelCase kept
    assert td["container_definitions"][0]["logConfiguration"]["options"] == {"awslogs-group": "/ecs/sage-backend"}
    assert td["tags"] == {"app": "sage"}
    assert "RegisterTaskDefinition" in calls

    definition, tags = described(aws)
    assert definition["taskRoleArn"] == TASK_ROLE
    assert definition["requiresCompatibilities"] == ["FARGATE"]
    assert definition["networkMode"] == "awsvpc"
    assert tags == {"app": "sage"}

    calls.clear()
    result = run(**task_args())
    assert result["changed"] is False
    assert result["revision"] == 1
    assert result["previous_arn"] == result["arn"]
    assert calls == ["DescribeTaskDefinition"]


def test_noop_despite_aws_side_defaults_and_order(run, aws, calls):
    run(**task_args())
    reordered = containers()
    reordered[0]["environment"].reverse()
    reordered[0]["essential"] = True
    reordered[0]["portMappings"] = [{"containerPort": 8000, "hostPort": 8000, "protocol": "tcp"}]
    reordered[0]["mountPoints"] = []
    calls.clear()
    result = run(**task_args(container_definitions=reordered, cpu=512, memory=1024))
    assert result["changed"] is False
    assert calls == ["DescribeTaskDefinition"]


@pytest.mark.parametrize(
    "change",
    [
        {"memory": "2048"},
        {"cpu": "1024"},
        {"execution_role_arn": "arn:aws:iam::123456789012:role/other"},
        {"task_role_arn": None},
        {"runtime_platform": {"cpuArchitecture": "X86_64", "operatingSystemFamily": "LINUX"}},
        {"ephemeral_storage": 30},
    ],
)
def test_task_level_change_registers_a_new_revision(run, aws, calls, change):
    first = run(**task_args())
    calls.clear()
    result = run(**task_args(**change))
    assert result["changed"] is True
    assert result["revision"] == 2
    assert result["previous_arn"] == first["arn"]
    assert calls == ["DescribeTaskDefinition", "RegisterTaskDefinition"]
    assert result["task_definition"]["tags"] == {"app": "sage"}
    assert described(aws)[1] == {"app": "sage"}  # tags carried over to the new revision
    assert run(**task_args(**change))["changed"] is False


def test_container_change_registers_a_new_revision(run, aws):
    run(**task_args())
    changed = containers()
    changed[0]["environment"][0]["value"] = "debug"
    result = run(**task_args(container_definitions=changed))
    assert result["changed"] is True
    assert result["revision"] == 2
    env = {e["name"]: e["value"] for e in described(aws)[0]["containerDefinitions"][0]["environment"]}
    assert env["LOG_LEVEL"] == "debug"


def test_tag_change_updates_tags_without_a_new_revision(run, aws, calls):
    run(**task_args(tags={"app": "sage", "old": "x"}))
    calls.clear()
    result = run(**task_args(tags={"app": "sage", "team": "infra"}))
    assert result["changed"] is True
    assert result["revision"] == 1
    assert result["task_definition"]["tags"] == {"app": "sage", "team": "infra"}
    assert sorted(calls) == ["DescribeTaskDefinition", "TagResource", "UntagResource"]
    assert described(aws)[1] == {"app": "sage", "team": "infra"}

    result = run(**task_args(tags={"more": "y"}, purge_tags=False))
    assert result["changed"] is True
    assert described(aws)[1] == {"app": "sage", "team": "infra", "more": "y"}
    assert run(**task_args(tags=None))["changed"] is False


def test_keep_deployed_image(run, aws, calls):
    # no revision yet: the given image is used
    result = run(**task_args(keep_deployed_image=True))
    assert result["image"] == {"app": f"{REPO}:bootstrap"}
    run(base_revision=FAMILY, container_images={"app": f"{REPO}:abc123"})

    calls.clear()
    result = run(**task_args(keep_deployed_image=True))
    assert result["changed"] is False
    assert result["image"] == {"app": f"{REPO}:abc123"}
    assert calls == ["DescribeTaskDefinition"]

    # without it, provisioning would undo the deploy
    assert run(**task_args(), check_mode=True)["image"] == {"app": f"{REPO}:bootstrap"}

    # a provisioning change keeps the deployed image; a new container uses its given image
    with_sidecar = [*containers(), {"name": "sidecar", "image": "public.ecr.aws/x/sidecar:1", "essential": False}]
    result = run(**task_args(keep_deployed_image=True, container_definitions=with_sidecar, memory="2048"))
    assert result["changed"] is True
    assert result["revision"] == 3
    assert result["image"] == {"app": f"{REPO}:abc123", "sidecar": "public.ecr.aws/x/sidecar:1"}


def test_base_revision_changes_only_the_image(run, aws, calls):
    first = run(**task_args(volumes=[{"name": "scratch"}], ephemeral_storage=30))
    calls.clear()
    result = run(base_revision=first["arn"], container_images={"app": f"{REPO}:abc123"})
    assert result["changed"] is True
    assert result["revision"] == 2
    assert result["previous_arn"] == first["arn"]
    assert result["image"] == {"app": f"{REPO}:abc123"}
    assert calls == ["DescribeTaskDefinition", "DescribeTaskDefinition", "RegisterTaskDefinition"]

    old, old_tags = described(aws, f"{FAMILY}:1")
    new, new_tags = described(aws, f"{FAMILY}:2")
    assert new_tags == old_tags == {"app": "sage"}
    assert new["containerDefinitions"][0].pop("image") == f"{REPO}:abc123"
    assert old["containerDefinitions"][0].pop("image") == f"{REPO}:bootstrap"
    for key in stack_ecs.REGISTRABLE:
        assert new.get(key) == old.get(key), key
    assert new["ephemeralStorage"] == {"sizeInGiB": 30}

    # deploying the same image again: nothing to do, two describes
    calls.clear()
    result = run(base_revision=FAMILY, container_images={"app": f"{REPO}:abc123"})
    assert result["changed"] is False
    assert result["revision"] == 2
    assert calls == ["DescribeTaskDefinition", "DescribeTaskDefinition"]


def test_base_revision_with_tags_option(run, aws):
    run(**task_args())
    result = run(base_revision=f"{FAMILY}:1", container_images={"app": "img:2"}, tags={"deploy": "x"}, purge_tags=False)
    assert result["task_definition"]["tags"] == {"app": "sage", "deploy": "x"}
    assert described(aws)[1] == {"app": "sage", "deploy": "x"}


def test_base_revision_errors(run, aws, calls):
    run(**task_args())
    msg = run.fail(base_revision=FAMILY, container_images={"ap": "img:2"})
    assert "container_images" in msg
    assert "'ap'" in msg
    assert "app" in msg

    msg = run.fail(base_revision=f"{FAMILY}:9", container_images={"app": "img:2"})
    assert msg == f"base_revision {FAMILY}:9 not found"

    msg = run.fail(base_revision=FAMILY)
    assert "base_revision" in msg
    assert "container_images" in msg

    msg = run.fail(base_revision=FAMILY, container_images={"app": "img:2"}, cpu="1024")
    assert "mutually exclusive" in msg
    assert "base_revision" in msg
    assert "cpu" in msg

    msg = run.fail(base_revision=FAMILY, container_images={"app": "img:2"}, container_definitions=containers())
    assert "mutually exclusive" in msg
    assert mutating(calls) == ["RegisterTaskDefinition"]  # only the first run


def test_input_errors(run, calls):
    assert "container_definitions" in run.fail()
    assert "family" in run.fail(family="sage:1", **task_args())
    assert "arn is only valid with state=absent" in run.fail(arn=f"{FAMILY}:1", **task_args())
    msg = run.fail(container_definitions=[{"name": "app"}])
    assert msg == "container_definitions[0] needs a name and an image"
    assert calls == []


# --- check mode and diff -------------------------------------------------------------------------------------


def test_check_mode_create_and_update_make_no_change(run, aws, calls):
    result = run(check_mode=True, **task_args())
    assert result["changed"] is True
    assert result["arn"] is None
    assert result["revision"] is None
    assert result["image"] == {"app": f"{REPO}:bootstrap"}
    assert result["task_definition"]["memory"] == "1024"
    assert result["task_definition"]["tags"] == {"app": "sage"}
    assert mutating(calls) == []
    assert aws.list_task_definitions()["taskDefinitionArns"] == []

    first = run(**task_args())
    calls.clear()
    result = run(check_mode=True, **task_args(memory="2048", tags={"x": "y"}))
    assert result["changed"] is True
    assert result["previous_arn"] == first["arn"]
    assert result["task_definition"]["memory"] == "2048"
    assert calls == ["DescribeTaskDefinition"]

    calls.clear()
    result = run(check_mode=True, **task_args(tags={"x": "y"}))
    assert result["changed"] is True
    assert result["task_definition"]["tags"] == {"x": "y"}
    assert calls == ["DescribeTaskDefinition"]

    calls.clear()
    result = run(check_mode=True, base_revision=FAMILY, container_images={"app": "img:2"})
    assert result["changed"] is True
    assert result["image"] == {"app": "img:2"}
    assert mutating(calls) == []
    assert len(aws.list_task_definitions()["taskDefinitionArns"]) == 1
    assert described(aws) == (described(aws, first["arn"])[0], {"app": "sage"})


def test_diff(run, aws):
    result = run(diff=True, **task_args())
    assert result["diff"]["before"] == {}
    after = result["diff"]["after"]
    assert after["memory"] == "1024"
    assert after["tags"] == {"app": "sage"}
    assert after["containerDefinitions"][0]["image"] == f"{REPO}:bootstrap"
    assert "revision" not in after

    result = run(diff=True, **task_args(memory="2048"))
    assert result["diff"]["before"]["memory"] == "1024"
    assert result["diff"]["after"]["memory"] == "2048"
    assert result["diff"]["before"]["containerDefinitions"] == result["diff"]["after"]["containerDefinitions"]

    result = run(diff=True, **task_args(memory="2048"))
    assert result["changed"] is False
    assert result["diff"]["before"] == result["diff"]["after"]


# --- absent -------------------------------------------------------------------------------------------------


def test_absent_one_revision_is_idempotent(run, aws, calls):
    run(**task_args())
    run(**task_args(memory="2048"))

    calls.clear()
    result = run(state="absent", arn=f"{FAMILY}:1", check_mode=True)
    assert result["changed"] is True
    assert mutating(calls) == []
    assert described(aws, f"{FAMILY}:1")[0]["status"] == "ACTIVE"

    calls.clear()
    result = run(state="absent", arn=f"{FAMILY}:1", diff=True)
    assert result["changed"] is True
    assert result["deregistered"] == [result["arn"]]
    assert result["task_definition"]["status"] == "INACTIVE"
    assert result["diff"] == {"before": {"status": "ACTIVE"}, "after": {"status": "INACTIVE"}}
    assert calls == ["DescribeTaskDefinition", "DeregisterTaskDefinition"]
    assert described(aws, f"{FAMILY}:1")[0]["status"] == "INACTIVE"
    assert described(aws, f"{FAMILY}:2")[0]["status"] == "ACTIVE"

    calls.clear()
    result = run(state="absent", arn=f"{FAMILY}:1")
    assert result["changed"] is False
    assert result["deregistered"] == []
    assert calls == ["DescribeTaskDefinition"]

    result = run(state="absent", arn=f"{FAMILY}:7")
    assert result["changed"] is False
    assert result["task_definition"] == {}


def test_absent_revision_of_another_family_fails(run, aws):
    aws.register_task_definition(family="other", containerDefinitions=[{"name": "a", "image": "a", "memory": 128}])
    msg = run.fail(state="absent", arn="other:1")
    assert msg == f"arn other:1 is a revision of family other, not of {FAMILY}"
    assert described(aws, "other:1")[0]["status"] == "ACTIVE"


def test_absent_all_revisions_then_present_again(run, aws, calls):
    run(**task_args())
    run(**task_args(memory="2048"))
    aws.register_task_definition(family="sage-backend-worker", containerDefinitions=containers(), memory="512")

    calls.clear()
    result = run(state="absent", check_mode=True)
    assert result["changed"] is True
    assert len(result["deregistered"]) == 2
    assert mutating(calls) == []

    result = run(state="absent")
    assert result["changed"] is True
    assert [stack_ecs.revision_of(arn) for arn in result["deregistered"]] == [1, 2]
    assert result["previous_arn"] == result["deregistered"][-1]
    assert aws.list_task_definitions(familyPrefix=FAMILY)["taskDefinitionArns"] == []
    assert described(aws, "sage-backend-worker")[0]["status"] == "ACTIVE"  # another family, same prefix

    result = run(state="absent")
    assert result["changed"] is False
    assert result["deregistered"] == []

    # the family has no ACTIVE revision left: present registers a new one
    result = run(**task_args(memory="2048"))
    assert result["changed"] is True
    assert result["previous_arn"] is None
    assert result["revision"] == 3


# --- errors -------------------------------------------------------------------------------------------------


def test_describe_access_denied_fails_clearly(run, monkeypatch):
    def denied(self, operation_name, api_params):
        error = {"Error": {"Code": "AccessDeniedException", "Message": "not authorized"}}
        raise ClientError(error, operation_name)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", denied)
    msg = run.fail(**task_args())
    assert msg.startswith(f"Failed to describe task definition {FAMILY}: ")
    assert "AccessDeniedException" in msg


def test_register_error_fails_clearly(run):
    # moto rejects a container without memory when the task has none either
    msg = run.fail(**task_args(memory=None, cpu=None))
    assert msg.startswith(f"Failed to register task definition {FAMILY}: ")
