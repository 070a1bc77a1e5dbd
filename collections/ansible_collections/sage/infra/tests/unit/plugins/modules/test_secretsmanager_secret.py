# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests for sage.infra.secretsmanager_secret, run against moto in-process."""

import json

import boto3
import botocore.client
import pytest
from ansible_collections.sage.infra.plugins.modules import secretsmanager_secret
from botocore.exceptions import ClientError
from moto import mock_aws

REGION = "us-east-1"
NAME = "sage/anthropic-api-key"
VALUE = "sk-ant-s3cr3t-value-1"
OTHER_VALUE = "sk-ant-s3cr3t-value-2"
MUTATING = ("Create", "Put", "Update", "Tag", "Untag", "Delete", "Restore")


@pytest.fixture(autouse=True)
def aws(monkeypatch, fake_aws_credentials):
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        yield boto3.client("secretsmanager", region_name=REGION)


@pytest.fixture
def run(module_runner):
    return module_runner(secretsmanager_secret.main, secrets=(VALUE, OTHER_VALUE), name=NAME, region=REGION)


def current_value(client, name=NAME):
    return client.get_secret_value(SecretId=name)["SecretString"]


def test_create_without_value_then_seed_then_noop(run, aws, calls):
    result = run(description="Anthropic key")
    assert result["changed"] is True
    assert result["secret"]["has_value"] is False
    assert result["secret"]["value_written"] is False
    assert result["secret"]["arn"].startswith("arn:aws:secretsmanager:")
    assert "CreateSecret" in calls
    with pytest.raises(ClientError):
        aws.get_secret_value(SecretId=NAME)

    result = run(value=VALUE)
    assert result["changed"] is True
    assert result["secret"]["has_value"] is True
    assert result["secret"]["value_written"] is True
    assert result["secret"]["description"] == "Anthropic key"
    assert current_value(aws) == VALUE

    calls.clear()
    result = run(value=VALUE)
    assert result["changed"] is False
    assert result["secret"]["value_written"] is False
    assert calls == ["DescribeSecret"]


def test_create_with_value(run, aws):
    result = run(value=VALUE, description="d", tags={"app": "sage"})
    assert result["changed"] is True
    assert result["secret"]["has_value"] is True
    assert result["secret"]["value_written"] is True
    assert result["secret"]["tags"] == {"app": "sage"}
    assert current_value(aws) == VALUE
    described = aws.describe_secret(SecretId=NAME)
    assert described["Description"] == "d"
    assert described["Tags"] == [{"Key": "app", "Value": "sage"}]


def test_rerun_is_noop_with_exactly_one_call(run, calls):
    args = {"value": VALUE, "description": "d", "tags": {"app": "sage", "team": "infra"}}
    assert run(**args)["changed"] is True
    calls.clear()
    result = run(**args)
    assert result["changed"] is False
    assert result["secret"]["tags"] == {"app": "sage", "team": "infra"}
    assert result["secret"]["has_value"] is True
    assert calls == ["DescribeSecret"]


def test_existing_value_never_overwritten_by_default(run, aws, calls):
    aws.create_secret(Name=NAME, SecretString=VALUE)
    calls.clear()
    result = run(value=OTHER_VALUE)
    assert result["changed"] is False
    assert result["secret"]["value_written"] is False
    assert calls == ["DescribeSecret"]  # the value is not even read
    assert current_value(aws) == VALUE


def test_overwrite_value_replaces_only_when_different(run, aws, calls):
    aws.create_secret(Name=NAME, SecretString=VALUE)
    calls.clear()
    result = run(value=VALUE, overwrite_value=True)
    assert result["changed"] is False
    assert calls == ["DescribeSecret", "GetSecretValue"]

    calls.clear()
    result = run(value=OTHER_VALUE, overwrite_value=True)
    assert result["changed"] is True
    assert result["secret"]["value_written"] is True
    assert calls == ["DescribeSecret", "GetSecretValue", "PutSecretValue"]
    assert current_value(aws) == OTHER_VALUE


def test_overwrite_value_on_secret_without_value_does_not_read(run, aws, calls):
    aws.create_secret(Name=NAME)
    calls.clear()
    result = run(value=VALUE, overwrite_value=True)
    assert result["changed"] is True
    assert calls == ["DescribeSecret", "PutSecretValue"]
    assert current_value(aws) == VALUE


def test_description_update(run, aws):
    aws.create_secret(Name=NAME, Description="old")
    result = run(description="new")
    assert result["changed"] is True
    assert result["secret"]["description"] == "new"
    assert aws.describe_secret(SecretId=NAME)["Description"] == "new"
    # omitted description is not managed
    assert run()["changed"] is False
    assert aws.describe_secret(SecretId=NAME)["Description"] == "new"


def test_kms_key_id_update(run, aws):
    aws.create_secret(Name=NAME, KmsKeyId="alias/one")
    assert run(kms_key_id="alias/one")["changed"] is False
    result = run(kms_key_id="alias/two")
    assert result["changed"] is True
    assert aws.describe_secret(SecretId=NAME)["KmsKeyId"] == "alias/two"


def test_tag_updates(run, aws):
    aws.create_secret(Name=NAME, Tags=[{"Key": "app", "Value": "sage"}, {"Key": "old", "Value": "x"}])

    result = run(tags={"app": "sage2", "new": "y"}, purge_tags=False)
    assert result["changed"] is True
    assert result["secret"]["tags"] == {"app": "sage2", "new": "y", "old": "x"}

    result = run(tags={"app": "sage2", "new": "y"})
    assert result["changed"] is True
    assert result["secret"]["tags"] == {"app": "sage2", "new": "y"}
    tags = aws.describe_secret(SecretId=NAME)["Tags"]
    assert {t["Key"]: t["Value"] for t in tags} == {"app": "sage2", "new": "y"}

    assert run(tags={"app": "sage2", "new": "y"})["changed"] is False
    assert run()["changed"] is False  # tags omitted: not managed, not purged
    assert len(aws.describe_secret(SecretId=NAME)["Tags"]) == 2


def test_check_mode_create_makes_no_change(run, aws, calls):
    result = run(check_mode=True, value=VALUE, description="d", tags={"a": "b"})
    assert result["changed"] is True
    assert result["secret"]["has_value"] is True
    assert result["secret"]["value_written"] is True
    assert not [c for c in calls if c.startswith(MUTATING)]
    assert aws.list_secrets()["SecretList"] == []


def test_check_mode_update_makes_no_change(run, aws, calls):
    aws.create_secret(Name=NAME, Description="old", Tags=[{"Key": "a", "Value": "b"}])
    calls.clear()
    result = run(check_mode=True, value=VALUE, description="new", tags={"c": "d"}, kms_key_id="alias/k")
    assert result["changed"] is True
    assert result["secret"]["description"] == "new"
    assert result["secret"]["tags"] == {"c": "d"}
    assert result["secret"]["value_written"] is True
    assert calls == ["DescribeSecret"]
    described = aws.describe_secret(SecretId=NAME)
    assert described["Description"] == "old"
    assert described["Tags"] == [{"Key": "a", "Value": "b"}]
    assert "KmsKeyId" not in described
    assert "VersionIdsToStages" not in described

    aws.put_secret_value(SecretId=NAME, SecretString=VALUE)
    calls.clear()
    result = run(check_mode=True, value=OTHER_VALUE, overwrite_value=True)
    assert result["changed"] is True
    assert calls == ["DescribeSecret", "GetSecretValue"]
    assert current_value(aws) == VALUE


def test_check_mode_absent_makes_no_change(run, aws, calls):
    aws.create_secret(Name=NAME)
    calls.clear()
    result = run(check_mode=True, state="absent")
    assert result["changed"] is True
    assert calls == ["DescribeSecret"]
    assert "DeletedDate" not in aws.describe_secret(SecretId=NAME)


def test_absent_schedules_deletion_then_unchanged_then_present_restores(run, aws, calls):
    aws.create_secret(Name=NAME, SecretString=VALUE)
    calls.clear()
    result = run(state="absent", recovery_window_days=7)
    assert result["changed"] is True
    assert result["secret"]["deleted_date"]
    assert calls == ["DescribeSecret", "DeleteSecret"]
    assert "DeletedDate" in aws.describe_secret(SecretId=NAME)

    calls.clear()
    result = run(state="absent", recovery_window_days=7)
    assert result["changed"] is False
    assert result["secret"]["deleted_date"]
    assert calls == ["DescribeSecret"]

    # check mode restore reports a change and does nothing
    assert run(state="present", check_mode=True)["changed"] is True
    assert "DeletedDate" in aws.describe_secret(SecretId=NAME)

    result = run(state="present")
    assert result["changed"] is True
    assert "deleted_date" not in result["secret"]
    assert result["secret"]["has_value"] is True
    assert "DeletedDate" not in aws.describe_secret(SecretId=NAME)
    assert current_value(aws) == VALUE
    assert run(state="present")["changed"] is False


def test_absent_force_delete(run, aws):
    aws.create_secret(Name=NAME)
    result = run(state="absent", recovery_window_days=0)
    assert result["changed"] is True
    with pytest.raises(ClientError) as exc:
        aws.describe_secret(SecretId=NAME)
    assert exc.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_absent_missing_secret_is_unchanged(run, calls):
    result = run(state="absent")
    assert result["changed"] is False
    assert result["secret"] == {}
    assert calls == ["DescribeSecret"]


@pytest.mark.parametrize("days", [3, 31, -1])
def test_invalid_recovery_window_fails(run, calls, days):
    assert "recovery_window_days" in run.fail(state="absent", recovery_window_days=days)
    assert calls == []


def test_diff_never_contains_value(run, aws):
    result = run(diff=True, value=VALUE, description="d", tags={"a": "b"})
    assert result["diff"]["before"] == {}
    assert result["diff"]["after"]["has_value"] is True
    assert result["diff"]["after"]["description"] == "d"
    assert result["diff"]["after"]["tags"] == {"a": "b"}

    result = run(diff=True, value=OTHER_VALUE, overwrite_value=True, description="e", tags={"a": "c"})
    assert result["changed"] is True
    assert result["diff"]["before"]["description"] == "d"
    assert result["diff"]["after"]["description"] == "e"
    assert result["diff"]["before"]["tags"] == {"a": "b"}
    assert result["diff"]["after"]["tags"] == {"a": "c"}

    result = run(diff=True, check_mode=True, value=VALUE, overwrite_value=True)
    assert result["changed"] is True

    result = run(diff=True, state="absent")
    assert result["diff"]["after"] == {}
    assert result["diff"]["before"]["has_value"] is True


def test_diff_shows_value_being_added(run, aws):
    aws.create_secret(Name=NAME)
    result = run(diff=True, value=VALUE)
    assert result["diff"]["before"]["has_value"] is False
    assert result["diff"]["after"]["has_value"] is True


def test_describe_access_denied_fails_clearly(run, monkeypatch):
    def denied(self, operation_name, api_params):
        error = {"Error": {"Code": "AccessDeniedException", "Message": "not authorized to DescribeSecret"}}
        raise ClientError(error, operation_name)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", denied)
    result = run.failure(value=VALUE)
    assert result["msg"].startswith(f"Failed to describe secret {NAME}: ")
    assert "AccessDeniedException" in result["msg"]
    assert result["error"]["code"] == "AccessDeniedException"


# --- several secrets in one run ----------------------------------------------------------------------------------

OTHER = "sage/discord-webhook-errors"
THIRD = "sage/discord-webhook-business"


@pytest.fixture
def run_many(invoke):
    """run_many(items, **args): the result of a run with O(secrets)=items (module_runner's own `secrets` keyword
    is the values its output must not hold); run_many.fail(items, **args): the msg of a failed run."""

    def raw(items, check_mode=False, diff=False, **args):
        flags = {"_ansible_check_mode": check_mode, "_ansible_diff": diff}
        given = {} if items is None else {"secrets": items}
        module_args = {"region": REGION, **given, **flags, **args}
        return invoke(secretsmanager_secret.main, module_args, secrets=(VALUE, OTHER_VALUE))[:2]

    def ok(items, **args):
        rc, result = raw(items, **args)
        assert rc == 0 and not result.get("failed"), result
        return result

    def fail(items, **args):
        rc, result = raw(items, **args)
        assert rc == 1 and result["failed"] is True, result
        return result["msg"]

    ok.fail = fail
    return ok


def test_several_secrets_in_one_run_share_the_module_options(run_many, aws, calls):
    items = [
        {"name": NAME, "description": "Anthropic key", "value": VALUE},
        {"name": OTHER, "description": "errors channel"},
        {"name": THIRD, "value": OTHER_VALUE, "tags": {"app": "sage", "channel": "business"}},
    ]
    result = run_many(items, tags={"app": "sage"})
    assert result["changed"] is True
    assert [secret["name"] for secret in result["secrets"]] == [NAME, OTHER, THIRD]
    assert [secret["has_value"] for secret in result["secrets"]] == [True, False, True]
    assert current_value(aws, NAME) == VALUE and current_value(aws, THIRD) == OTHER_VALUE
    assert aws.describe_secret(SecretId=OTHER)["Tags"] == [{"Key": "app", "Value": "sage"}]
    assert {t["Key"]: t["Value"] for t in aws.describe_secret(SecretId=THIRD)["Tags"]} == {
        "app": "sage",
        "channel": "business",
    }

    calls.clear()
    result = run_many(items, tags={"app": "sage"}, diff=True)
    assert result["changed"] is False
    assert result["diff"] == {"before": {}, "after": {}}
    assert calls == ["DescribeSecret"] * 3


def test_an_item_overrides_the_module_options(run_many, aws):
    aws.create_secret(Name=NAME, SecretString=VALUE)
    aws.create_secret(Name=OTHER, SecretString=VALUE)
    items = [{"name": NAME, "value": OTHER_VALUE}, {"name": OTHER, "value": OTHER_VALUE, "overwrite_value": True}]
    result = run_many(items, diff=True)
    assert [secret["value_written"] for secret in result["secrets"]] == [False, True]
    assert current_value(aws, NAME) == VALUE and current_value(aws, OTHER) == OTHER_VALUE
    assert list(result["diff"]["after"]) == [OTHER]
    assert "has_value" in result["diff"]["after"][OTHER] and OTHER_VALUE not in json.dumps(result["diff"])

    result = run_many([{"name": NAME}, {"name": OTHER, "state": "present"}], state="absent")
    assert [secret.get("deleted_date") is not None for secret in result["secrets"]] == [True, False]


def test_check_mode_of_several_secrets_changes_nothing(run_many, aws, calls):
    aws.create_secret(Name=NAME)
    calls.clear()
    result = run_many([{"name": NAME, "value": VALUE}, {"name": OTHER}], check_mode=True)
    assert result["changed"] is True
    assert [secret["value_written"] for secret in result["secrets"]] == [True, False]
    assert calls == ["DescribeSecret"] * 2
    assert [s["Name"] for s in aws.list_secrets()["SecretList"]] == [NAME]


def test_repeated_names_or_a_bad_item_fail_before_any_call(run_many, calls):
    message = run_many.fail([{"name": NAME}, {"name": OTHER}, {"name": NAME}])
    assert message == f"secrets: the names must be unique; repeated: {NAME}"
    message = run_many.fail([{"name": NAME}, {"name": OTHER, "recovery_window_days": 3}], state="absent")
    assert message.endswith(f"got 3 for {OTHER}")
    assert "name" in run_many.fail([{"description": "no name"}])
    assert "mutually exclusive" in run_many.fail([{"name": OTHER}], name=NAME)
    assert "one of the following is required: name, secrets" in run_many.fail(None)
    assert calls == []


def test_a_labelled_value_is_written_when_its_label_is_missing_and_never_read(run, aws, calls):
    labelled = {"value": VALUE, "value_label": "sage-0123456789abcdef"}
    result = run(**labelled)
    assert result["changed"] is True and result["secret"]["value_written"] is True
    assert result["secret"]["value_labels"] == ["sage-0123456789abcdef"]
    assert current_value(aws) == VALUE
    stages = aws.describe_secret(SecretId=NAME)["VersionIdsToStages"]
    assert list(stages.values()) == [["AWSCURRENT", "sage-0123456789abcdef"]]

    calls.clear()
    assert run(**labelled)["changed"] is False
    assert calls == ["DescribeSecret"]

    # Put by hand (the console): the current version lacks the label, the value is written again without a read.
    aws.put_secret_value(SecretId=NAME, SecretString="by hand")
    calls.clear()
    result = run(**labelled)
    assert result["changed"] is True and result["secret"]["value_written"] is True
    assert "GetSecretValue" not in calls and current_value(aws) == VALUE

    # What the label names changed (a new endpoint): written again, even without overwrite_value.
    result = run(value=OTHER_VALUE, value_label="sage-fedcba9876543210")
    assert result["changed"] is True and current_value(aws) == OTHER_VALUE
    assert run(value=OTHER_VALUE, value_label="sage-fedcba9876543210")["changed"] is False


def test_a_labelled_value_in_check_mode_changes_nothing(run, aws, calls):
    assert run(value=VALUE)["changed"] is True
    calls.clear()
    result = run(value=OTHER_VALUE, value_label="sage-1", check_mode=True)
    assert result["changed"] is True and result["secret"]["value_written"] is True
    assert not [call for call in calls if call.startswith(MUTATING)]
    assert current_value(aws) == VALUE


@pytest.mark.parametrize("label", ["AWSCURRENT", "AWSPREVIOUS", "", "x" * 257])
def test_a_reserved_or_malformed_label_fails_before_any_call(run, calls, label):
    assert "value_label" in run.fail(value=VALUE, value_label=label)
    assert calls == []


def only_these_may(*principals):
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "secretsmanager:*",
                "Resource": "*",
                "Condition": {"StringNotEquals": {"aws:PrincipalArn": list(principals)}},
            }
        ],
    }


def current_policy(client, name=NAME):
    document = client.get_resource_policy(SecretId=name).get("ResourcePolicy")
    return json.loads(document) if document else None


APP = "arn:aws:iam::123456789012:role/sage-ecs-task-execution"
OPS = "arn:aws:iam::123456789012:role/ops/operator"


def test_a_resource_policy_is_put_compared_by_meaning_and_replaced(run, aws, calls):
    result = run(value=VALUE, resource_policy=only_these_may(APP, OPS))
    assert result["changed"] is True
    assert current_policy(aws) == only_these_may(APP, OPS)
    assert result["secret"]["resource_policy"] == only_these_may(APP, OPS)

    # The same document, its lists in another order and as text: nothing to do, one read of the policy.
    calls.clear()
    reordered = json.dumps(only_these_may(OPS, APP))
    assert run(value=VALUE, resource_policy=reordered)["changed"] is False
    assert calls == ["DescribeSecret", "GetResourcePolicy"]

    calls.clear()
    result = run(value=VALUE, resource_policy=only_these_may(OPS), check_mode=True, diff=True)
    assert result["changed"] is True and not [call for call in calls if call.startswith(MUTATING)]
    assert result["diff"]["before"]["resource_policy"] == only_these_may(APP, OPS)
    assert current_policy(aws) == only_these_may(APP, OPS)

    assert run(value=VALUE, resource_policy=only_these_may(OPS))["changed"] is True
    assert current_policy(aws) == only_these_may(OPS)
    assert current_value(aws) == VALUE


def test_a_secret_created_with_a_policy_and_a_policy_removed(run, aws):
    assert run(resource_policy=only_these_may(APP))["changed"] is True
    assert current_policy(aws) == only_these_may(APP)
    assert run(resource_policy="")["changed"] is True
    assert current_policy(aws) is None
    assert run(resource_policy={})["changed"] is False


def test_without_resource_policy_the_policy_is_neither_read_nor_touched(run, aws, calls):
    run(value=VALUE, resource_policy=only_these_may(APP))
    calls.clear()
    assert run(value=VALUE, description="new")["changed"] is True
    assert "GetResourcePolicy" not in calls and "PutResourcePolicy" not in calls
    assert current_policy(aws) == only_these_may(APP)
