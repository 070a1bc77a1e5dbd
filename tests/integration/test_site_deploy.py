"""playbooks/deploy.yml on the converged stack: roll out, no-op on the same tag, refuse a missing tag,
roll back a rollout that fails (tasks that do not start, or a release its deployment alarms catch)."""

from __future__ import annotations

import pytest

from tests.harness import discord_server, valkey_server
from tests.harness.ecr import push_image
from tests.harness.playbook import run_playbook

CLUSTER, SERVICE, REPOSITORY = "sage-cluster", "sage-backend", "sage-backend"


def running_image(aws):
    ecs = aws("ecs")
    (service,) = ecs.describe_services(cluster=CLUSTER, services=[SERVICE])["services"]
    definition = ecs.describe_task_definition(taskDefinition=service["taskDefinition"])["taskDefinition"]
    return service["taskDefinition"], definition["containerDefinitions"][0]["image"]


def deploy(emulator, tag, *args, **extra_vars):
    return run_playbook("playbooks/deploy.yml", emulator.endpoint, *args, extra_vars={"image_tag": tag, **extra_vars})


@pytest.fixture(scope="module")
def business_channel(converged, aws):
    """The fake Discord server, its webhook stored as the stack's business-channel secret; (server, webhook id)."""
    with discord_server.running() as server:
        url = server.create_webhook(webhook_id="424242")
        aws("secretsmanager").put_secret_value(SecretId="sage/discord-webhook-business", SecretString=url)
        yield server, "424242"


NOTIFY = {"ecs_deploy_notify": True, "ecs_deploy_notify_allow_insecure_url": True}


@pytest.fixture(scope="module")
def deployed(converged, aws, emulator):
    """The stack running image `good-1`."""
    emulator.configure_rollout(seconds=1.0, failing_images=[])
    push_image(aws("ecr"), REPOSITORY, "good-1")
    deploy(emulator, "good-1").assert_ok()
    return running_image(aws)


def test_a_new_tag_rolls_out(deployed, aws):
    arn, image = deployed
    assert image.endswith(f"/{REPOSITORY}:good-1")
    (service,) = aws("ecs").describe_services(cluster=CLUSTER, services=[SERVICE])["services"]
    assert service["deployments"][0]["rolloutState"] == "COMPLETED"
    before = aws("ecs").describe_task_definition(taskDefinition=f"{SERVICE}:1")["taskDefinition"]
    after = aws("ecs").describe_task_definition(taskDefinition=arn)["taskDefinition"]
    for key in ("cpu", "memory", "executionRoleArn", "taskRoleArn", "networkMode"):
        assert after[key] == before[key]
    (old,), (new,) = before["containerDefinitions"], after["containerDefinitions"]
    assert {k: v for k, v in new.items() if k != "image"} == {k: v for k, v in old.items() if k != "image"}


def test_the_running_tag_again_changes_nothing(deployed, emulator, aws):
    emulator.reset_calls()
    again = deploy(emulator, "good-1").assert_ok()
    assert again.changed == 0, again.output
    assert emulator.mutating_calls() == []
    assert running_image(aws) == deployed


def test_provisioning_again_keeps_the_deployed_image(deployed, emulator, aws):
    run = run_playbook("site.yml", emulator.endpoint).assert_ok()
    assert run.changed == 0, run.output
    assert running_image(aws) == deployed


def test_a_missing_tag_fails_before_touching_the_service(deployed, emulator, aws):
    emulator.reset_calls()
    run = deploy(emulator, "never-pushed")
    assert run.returncode != 0
    assert "image tag 'never-pushed' not found in ECR repository 'sage-backend'" in run.output, run.output[-3000:]
    assert emulator.mutating_calls() == []
    assert running_image(aws) == deployed


def test_a_malformed_tag_fails_before_any_aws_call(converged, emulator):
    emulator.reset_calls()
    run = deploy(emulator, "bad tag!")
    assert run.returncode != 0
    assert "ecs_deploy_image_tag (image_tag) must be a Docker tag" in run.output
    assert emulator.calls() == []


def test_check_mode_changes_nothing(deployed, emulator, aws):
    push_image(aws("ecr"), REPOSITORY, "good-2")
    emulator.reset_calls()
    deploy(emulator, "good-2", "--check").assert_ok()
    assert emulator.mutating_calls() == []
    assert running_image(aws) == deployed


def test_a_failed_rollout_is_rolled_back(deployed, emulator, aws, business_channel):
    push_image(aws("ecr"), REPOSITORY, "crashes")
    repository_uri = aws("ecr").describe_repositories(repositoryNames=[REPOSITORY])["repositories"][0]["repositoryUri"]
    emulator.configure_rollout(failing_images=[f"{repository_uri}:crashes"])
    try:
        run = deploy(emulator, "crashes", **NOTIFY)
    finally:
        emulator.configure_rollout(failing_images=[])
    assert run.returncode != 0
    assert "Deploying sage-backend:crashes failed" in run.output, run.output[-4000:]
    assert f"rolled the service back to {deployed[0]} and runs it again" in run.output
    server, webhook = business_channel
    (notice,) = server.messages(webhook)
    assert notice["embeds"][0]["title"] == "sage-backend: deploy rolled back"
    assert "crashes did not roll out (FAILED)" in notice["embeds"][0]["description"]
    assert running_image(aws) == deployed
    (service,) = aws("ecs").describe_services(cluster=CLUSTER, services=[SERVICE])["services"]
    assert service["deployments"][0]["rolloutState"] == "COMPLETED"
    active = aws("ecs").list_task_definitions(familyPrefix=SERVICE, status="ACTIVE")["taskDefinitionArns"]
    images = [
        aws("ecs").describe_task_definition(taskDefinition=a)["taskDefinition"]["containerDefinitions"][0]["image"]
        for a in active
    ]
    assert not [image for image in images if image.endswith(":crashes")], "the failed revision is deregistered"


def test_a_release_that_answers_badly_is_rolled_back_on_its_alarm(deployed, emulator, aws, business_channel):
    """Its tasks start (the circuit breaker sees nothing), but the API error rate alarm goes into ALARM during the
    rollout: the service's deployment alarms fail it, ECS rolls it back, and the deploy names the alarm."""
    alarm = "sage-api-error-rate-high"
    (service,) = aws("ecs").describe_services(cluster=CLUSTER, services=[SERVICE])["services"]
    assert service["deploymentConfiguration"]["alarms"] == {
        "alarmNames": [alarm, "sage-api-latency-p95-high"],
        "enable": True,
        "rollback": True,
    }
    for name in service["deploymentConfiguration"]["alarms"]["alarmNames"]:  # other tests may have set them off
        aws("cloudwatch").set_alarm_state(AlarmName=name, StateValue="OK", StateReason="before the deploy")
    push_image(aws("ecr"), REPOSITORY, "answers-5xx")
    repository_uri = aws("ecr").describe_repositories(repositoryNames=[REPOSITORY])["repositories"][0]["repositoryUri"]
    server, webhook = business_channel
    already_posted = len(server.messages(webhook))
    emulator.configure_rollout(alarming_images={f"{repository_uri}:answers-5xx": [alarm]})
    try:
        run = deploy(emulator, "answers-5xx", **NOTIFY)
    finally:
        emulator.configure_rollout(alarming_images={})
        aws("cloudwatch").set_alarm_state(AlarmName=alarm, StateValue="OK", StateReason="test over")
    assert run.returncode != 0
    assert "Deploying sage-backend:answers-5xx failed" in run.output, run.output[-4000:]
    assert f"ECS rolled the service back on its deployment alarm {alarm} to {deployed[0]}" in run.output
    notice = server.messages(webhook)[already_posted]
    assert f"answers-5xx did not roll out (FAILED: alarm {alarm})" in notice["embeds"][0]["description"]
    assert running_image(aws) == deployed


def test_building_without_a_docker_engine_fails_clearly(deployed, emulator, aws):
    """No Docker engine runs on this machine (and none in CI): the optional build says so, changing nothing."""
    emulator.reset_calls()
    run = run_playbook(
        "playbooks/deploy.yml", emulator.endpoint, extra_vars={"image_tag": "good-9", "ecs_deploy_build": True}
    )
    assert run.returncode != 0
    assert "ecs_deploy_build needs a Docker engine, and none answers here" in run.output, run.output[-3000:]
    assert emulator.mutating_calls() == []
    assert running_image(aws) == deployed


@pytest.mark.skipif(not valkey_server.binary(), reason="redis-server is not installed (make system-deps)")
def test_a_deploy_can_invalidate_cached_ai_responses_and_tell_the_business_channel(
    deployed, emulator, aws, business_channel
):
    """VALKEY_URL is pointed at a local Valkey-compatible server (redis-server) for this test only."""
    secrets = aws("secretsmanager")
    stored_url = secrets.get_secret_value(SecretId="sage/valkey-url")["SecretString"]
    with valkey_server.running(password="cache-pass") as server:
        secrets.put_secret_value(
            SecretId="sage/valkey-url", SecretString=f"redis://:cache-pass@{server.host}:{server.port}"
        )
        client = server.client()
        client.mset({"ai:response:1": "a", "ai:response:2": "b", "market:price": "c"})
        push_image(aws("ecr"), REPOSITORY, "good-3")
        try:
            run = run_playbook(
                "playbooks/deploy.yml",
                emulator.endpoint,
                "-vvv",
                extra_vars={"image_tag": "good-3", "ecs_deploy_invalidate_cache_patterns": ["ai:response:*"], **NOTIFY},
            ).assert_ok()
        finally:
            secrets.put_secret_value(SecretId="sage/valkey-url", SecretString=stored_url)
        assert sorted(client.keys("*")) == [b"market:price"]
    assert "cache-pass" not in run.output
    assert running_image(aws)[1].endswith(":good-3")
    server, webhook = business_channel
    notice = server.messages(webhook)[-1]
    assert notice["embeds"][0]["title"] == "sage-backend: deployed"
    assert {"name": "Image", "value": "sage-backend:good-3", "inline": True} in notice["embeds"][0]["fields"]
    assert server.token(webhook) not in run.output, "the webhook URL is never printed"
