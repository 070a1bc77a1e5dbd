# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests for sage.infra.sns_topic_encryption, run against moto in-process.

moto stores KmsMasterKeyId verbatim, as AWS does, and returns it from GetTopicAttributes only when it is not
empty; it checks neither that the key exists nor its form, so the form checks are the module's own.
"""

import boto3
import botocore.client
import pytest
from ansible_collections.sage.infra.plugins.modules import sns_topic_encryption as mod
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID

REGION = "us-east-1"
NAME = "sage-alerts"
ARN = f"arn:aws:sns:{REGION}:{DEFAULT_ACCOUNT_ID}:{NAME}"
KEY_ID = "1234abcd-12ab-34cd-56ef-1234567890ab"
KEY_ARN = f"arn:aws:kms:{REGION}:{DEFAULT_ACCOUNT_ID}:key/{KEY_ID}"
ALIAS = "alias/sage-alerts"


@pytest.fixture(autouse=True)
def aws(monkeypatch, fake_aws_credentials):
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        client = boto3.client("sns", region_name=REGION)
        assert client.create_topic(Name=NAME)["TopicArn"] == ARN
        yield client


@pytest.fixture
def run(module_runner):
    return module_runner(mod.main, topic_arn=ARN, region=REGION)


def stored_key(client, arn=ARN):
    """KmsMasterKeyId as stored, None when the attribute is absent."""
    return client.get_topic_attributes(TopicArn=arn)["Attributes"].get("KmsMasterKeyId")


# --- set, change, remove ------------------------------------------------------------------------------------


def test_set_key_then_noop(run, aws, calls):
    result = run(kms_key_id=ALIAS)
    assert result["changed"] is True
    assert result["topic_arn"] == ARN
    assert result["kms_key_id"] == ALIAS
    assert calls == ["GetTopicAttributes", "SetTopicAttributes"]
    assert stored_key(aws) == ALIAS

    calls.clear()
    result = run(kms_key_id=ALIAS)
    assert result["changed"] is False
    assert result["kms_key_id"] == ALIAS
    assert calls == ["GetTopicAttributes"]
    assert stored_key(aws) == ALIAS


def test_change_key(run, aws, calls):
    run(kms_key_id=ALIAS)
    calls.clear()
    result = run(kms_key_id=KEY_ARN)
    assert result["changed"] is True
    assert result["kms_key_id"] == KEY_ARN
    assert calls == ["GetTopicAttributes", "SetTopicAttributes"]
    assert stored_key(aws) == KEY_ARN


def test_remove_encryption(run, aws, calls, monkeypatch):
    run(kms_key_id=KEY_ID)
    sent = []
    original = botocore.client.BaseClient._make_api_call

    def recording(self, operation_name, api_params):
        sent.append((operation_name, api_params))
        return original(self, operation_name, api_params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", recording)
    result = run(kms_key_id="")
    assert result["changed"] is True
    assert result["kms_key_id"] == ""
    assert sent == [
        ("GetTopicAttributes", {"TopicArn": ARN}),
        ("SetTopicAttributes", {"TopicArn": ARN, "AttributeName": "KmsMasterKeyId", "AttributeValue": ""}),
    ]
    assert not stored_key(aws)

    sent.clear()
    result = run()  # kms_key_id defaults to "": not encrypted, as the topic now is
    assert result["changed"] is False
    assert result["kms_key_id"] == ""
    assert [name for name, _params in sent] == ["GetTopicAttributes"]


def test_unencrypted_topic_is_left_alone_by_default(run, aws, calls):
    assert stored_key(aws) is None
    calls.clear()
    result = run()
    assert result["changed"] is False
    assert calls == ["GetTopicAttributes"]


def test_attribute_set_to_empty_string_means_not_encrypted(run, aws, calls):
    aws.set_topic_attributes(TopicArn=ARN, AttributeName="KmsMasterKeyId", AttributeValue="")
    calls.clear()
    assert run(kms_key_id="")["changed"] is False
    assert calls == ["GetTopicAttributes"]


@pytest.mark.parametrize(
    "key",
    [
        KEY_ID,
        KEY_ID.upper(),
        "mrk-1234abcd12ab34cd56ef1234567890ab",
        KEY_ARN,
        f"arn:aws-cn:kms:cn-north-1:{DEFAULT_ACCOUNT_ID}:key/mrk-1234abcd12ab34cd56ef1234567890ab",
        "alias/aws/sns",
        "alias/sage/alerts_key-1",
        f"arn:aws:kms:{REGION}:{DEFAULT_ACCOUNT_ID}:alias/sage-alerts",
        f"arn:aws-us-gov:kms:us-gov-west-1:{DEFAULT_ACCOUNT_ID}:alias/sage-alerts",
    ],
)
def test_every_key_form_is_set_verbatim(run, aws, key):
    assert run(kms_key_id=key)["changed"] is True
    assert stored_key(aws) == key
    assert run(kms_key_id=key)["changed"] is False


# --- check mode and diff ------------------------------------------------------------------------------------


def test_check_mode_makes_no_change(run, aws, calls):
    result = run(check_mode=True, kms_key_id=ALIAS)
    assert result["changed"] is True
    assert result["kms_key_id"] == ALIAS
    assert calls == ["GetTopicAttributes"]
    assert stored_key(aws) is None

    run(kms_key_id=ALIAS)
    calls.clear()
    result = run(check_mode=True, kms_key_id=KEY_ARN)
    assert result["changed"] is True
    assert calls == ["GetTopicAttributes"]
    assert stored_key(aws) == ALIAS

    calls.clear()
    result = run(check_mode=True, kms_key_id="")
    assert result["changed"] is True
    assert result["kms_key_id"] == ""
    assert calls == ["GetTopicAttributes"]
    assert stored_key(aws) == ALIAS

    assert run(check_mode=True, kms_key_id=ALIAS)["changed"] is False


def test_diff(run):
    result = run(diff=True, kms_key_id=ALIAS)
    assert result["diff"] == {"before": {"kms_key_id": ""}, "after": {"kms_key_id": ALIAS}}

    result = run(diff=True, check_mode=True, kms_key_id=KEY_ARN)
    assert result["diff"] == {"before": {"kms_key_id": ALIAS}, "after": {"kms_key_id": KEY_ARN}}

    result = run(diff=True, kms_key_id=ALIAS)
    assert result["changed"] is False
    assert result["diff"] == {"before": {"kms_key_id": ALIAS}, "after": {"kms_key_id": ALIAS}}

    result = run(diff=True, kms_key_id="")
    assert result["diff"] == {"before": {"kms_key_id": ALIAS}, "after": {"kms_key_id": ""}}

    assert "diff" not in run(kms_key_id=ALIAS)


# --- region -------------------------------------------------------------------------------------------------


def test_calls_are_made_in_the_region_of_the_topic(module_runner, aws, calls, monkeypatch):
    """A topic can only be addressed in its region (moto, like AWS, does not find it from another one)."""
    other = boto3.client("sns", region_name="eu-west-1")
    with pytest.raises(ClientError, match="NotFound"):
        other.get_topic_attributes(TopicArn=ARN)

    run = module_runner(mod.main, topic_arn=ARN, region="eu-west-1")
    assert run(kms_key_id=ALIAS)["changed"] is True
    assert stored_key(aws) == ALIAS

    monkeypatch.delenv("AWS_DEFAULT_REGION")
    run = module_runner(mod.main, topic_arn=ARN)
    assert run(kms_key_id=ALIAS)["changed"] is False


# --- errors -------------------------------------------------------------------------------------------------


def test_missing_topic_fails_clearly(run, aws, calls):
    missing = f"arn:aws:sns:{REGION}:{DEFAULT_ACCOUNT_ID}:no-such-topic"
    msg = run.fail(topic_arn=missing, kms_key_id=ALIAS)
    assert msg == f"SNS topic {missing} does not exist"
    assert calls == ["GetTopicAttributes"]

    aws.delete_topic(TopicArn=ARN)
    calls.clear()
    assert run.fail(kms_key_id="") == f"SNS topic {ARN} does not exist"
    assert calls == ["GetTopicAttributes"]


BAD_ARNS = {
    "topic name only": NAME,
    "empty": "",
    "not sns": f"arn:aws:sqs:{REGION}:{DEFAULT_ACCOUNT_ID}:{NAME}",
    "short account": f"arn:aws:sns:{REGION}:12345678901:{NAME}",
    "no region": f"arn:aws:sns::{DEFAULT_ACCOUNT_ID}:{NAME}",
    "bad region": f"arn:aws:sns:useast1:{DEFAULT_ACCOUNT_ID}:{NAME}",
    "bad partition": f"arn:amazon:sns:{REGION}:{DEFAULT_ACCOUNT_ID}:{NAME}",
    "no name": f"arn:aws:sns:{REGION}:{DEFAULT_ACCOUNT_ID}:",
    "bad character in name": f"arn:aws:sns:{REGION}:{DEFAULT_ACCOUNT_ID}:sage.alerts",
    "name too long": f"arn:aws:sns:{REGION}:{DEFAULT_ACCOUNT_ID}:{'a' * 257}",
    "subscription ARN": f"{ARN}:0b7c0d4e-1234-4a5b-8c9d-0123456789ab",
    "trailing newline": f"{ARN}\n",
    "leading space": f" {ARN}",
}


@pytest.mark.parametrize("arn", BAD_ARNS.values(), ids=BAD_ARNS.keys())
def test_malformed_topic_arn_fails_before_any_aws_call(run, calls, arn):
    msg = run.fail(topic_arn=arn, kms_key_id=ALIAS)
    assert msg.startswith("topic_arn must be an SNS topic ARN, arn:<partition>:sns:<region>:<12 digit account>:")
    assert msg.endswith(f"got {arn!r}")
    assert calls == []


@pytest.mark.parametrize(
    "arn",
    [
        ARN,
        f"arn:aws:sns:{REGION}:{DEFAULT_ACCOUNT_ID}:sage-alerts.fifo",
        f"arn:aws:sns:{REGION}:{DEFAULT_ACCOUNT_ID}:{'a' * 256}",
        f"arn:aws:sns:{REGION}:{DEFAULT_ACCOUNT_ID}:{'a' * 251}.fifo",
        f"arn:aws-cn:sns:cn-north-1:{DEFAULT_ACCOUNT_ID}:Sage_Alerts-1",
        f"arn:aws-us-gov:sns:us-gov-west-1:{DEFAULT_ACCOUNT_ID}:{NAME}",
        f"arn:aws-iso-b:sns:us-isob-east-1:{DEFAULT_ACCOUNT_ID}:{NAME}",
        f"arn:aws-eusc:sns:eusc-de-east-1:{DEFAULT_ACCOUNT_ID}:{NAME}",
    ],
)
def test_valid_topic_arns(arn):
    assert mod.TOPIC_ARN.fullmatch(arn)


@pytest.mark.parametrize(
    "arn",
    [f"arn:aws:sns:{REGION}:{DEFAULT_ACCOUNT_ID}:{'a' * 252}.fifo", f"arn:aws:sns:{REGION}:{DEFAULT_ACCOUNT_ID}:.fifo"],
)
def test_invalid_fifo_topic_arns(arn):
    assert not mod.TOPIC_ARN.fullmatch(arn)


BAD_KEYS = {
    "alias without prefix": "sage-alerts",
    "short key id": "1234abcd-12ab-34cd-56ef",
    "alias prefix only": "alias/",
    "key ARN of another service": f"arn:aws:sns:{REGION}:{DEFAULT_ACCOUNT_ID}:key/{KEY_ID}",
    "key ARN with a bad id": f"arn:aws:kms:{REGION}:{DEFAULT_ACCOUNT_ID}:key/not-a-key",
    "space": " ",
    "trailing space": f"{ALIAS} ",
}


@pytest.mark.parametrize("key", BAD_KEYS.values(), ids=BAD_KEYS.keys())
def test_malformed_kms_key_id_fails_before_any_aws_call(run, aws, calls, key):
    msg = run.fail(kms_key_id=key)
    assert msg.startswith("kms_key_id must be a KMS key ID, key ARN, alias name (alias/...) or alias ARN")
    assert msg.endswith(f"got {key!r}")
    assert calls == []


def test_access_denied_fails_clearly(run, monkeypatch):
    def denied(self, operation_name, api_params):
        raise ClientError({"Error": {"Code": "AuthorizationError", "Message": "not authorized"}}, operation_name)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", denied)
    msg = run.fail(kms_key_id=ALIAS)
    assert msg.startswith(f"Failed to get the attributes of SNS topic {ARN}: ")
    assert "not authorized" in msg


def test_set_error_fails_clearly(run, aws, monkeypatch):
    original = botocore.client.BaseClient._make_api_call

    def invalid(self, operation_name, api_params):
        if operation_name == "SetTopicAttributes":
            raise ClientError({"Error": {"Code": "InvalidParameter", "Message": "bad key"}}, operation_name)
        return original(self, operation_name, api_params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", invalid)
    msg = run.fail(kms_key_id=ALIAS)
    assert msg.startswith(f"Failed to set the KMS key of SNS topic {ARN}: ")
    assert "bad key" in msg
    assert stored_key(aws) is None
