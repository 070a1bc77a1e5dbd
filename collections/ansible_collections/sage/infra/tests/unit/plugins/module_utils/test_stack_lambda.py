# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Lambda functions and their policy statements as read and compared: the settings amazon.aws.lambda is given, the
code by the hash of the package its sources make (without building it), and the statement amazon.aws.lambda_policy
manages, as that module reads it back."""

import json

import boto3
import pytest
from ansible_collections.sage.infra.plugins.module_utils.stack import plan_entry
from ansible_collections.sage.infra.plugins.module_utils.stack_lambda import (
    build_zip,
    code_sha256,
    package_sha256,
    read_functions,
    read_statements,
)
from moto import mock_aws

REGION = "us-west-2"
NAME = "sage-discord-alert"
TOPIC = "arn:aws:sns:us-west-2:123456789012:sage-alerts"
ENVIRONMENT = {"LOG_LEVEL": "INFO", "CHANNEL_BY_ALARM": json.dumps({"a": "errors"})}


@pytest.fixture
def sources(tmp_path):
    (tmp_path / "handler.py").write_text("def handler(event, context):\n    return None\n")
    (tmp_path / "discord.py").write_text("URL = None\n")
    return {
        "files": [{"src": str(tmp_path / "handler.py")}, {"src": str(tmp_path / "discord.py"), "dest": "discord.py"}]
    }


def package_bytes(package):
    contents = {}
    for entry in package["files"]:
        with open(entry["src"], "rb") as source:
            contents[entry.get("dest") or entry["src"].rsplit("/", 1)[1]] = source.read()
    return build_zip(contents, 0o644)


@pytest.fixture
def aws(monkeypatch, fake_aws_credentials):
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        yield boto3.client("lambda", region_name=REGION)


def make_function(client, package, **changes):
    role = boto3.client("iam", region_name=REGION).create_role(
        RoleName=NAME,
        AssumeRolePolicyDocument=json.dumps(
            {
                "Statement": [
                    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
                ]
            }
        ),
    )["Role"]["Arn"]
    settings = {
        "FunctionName": NAME,
        "Runtime": "python3.12",
        "Role": role,
        "Handler": "handler.handler",
        "Code": {"ZipFile": package_bytes(package)},
        "Description": "Posts alarms",
        "Timeout": 60,
        "MemorySize": 128,
        "Environment": {"Variables": ENVIRONMENT},
        "Tags": {"Project": "sage"},
        **changes,
    }
    client.create_function(**settings)
    return role


def desired(role, package):
    return {
        "description": "Posts alarms",
        "runtime": "python3.12",
        "handler": "handler.handler",
        "role": role,
        "timeout": 60,
        "memory_size": 128,
        "environment": ENVIRONMENT,
        "dead_letter_arn": "",
        "tags": {"Project": "sage"},
        "package": package,
    }


def entry(client, want):
    return plan_entry("lambda_function", NAME, want, {"lambda_function": read_functions(client, [NAME])})


def test_the_package_hash_is_known_from_the_sources_alone(sources):
    assert package_sha256(sources) == code_sha256(package_bytes(sources))
    assert package_sha256({"files": [{"src": "/nonexistent/handler.py"}]}) is None


def test_a_function_as_deployed_is_in_sync_with_one_call(aws, sources, calls):
    role = make_function(aws, sources)
    calls.clear()
    assert entry(aws, desired(role, sources))["action"] == "unchanged"
    assert calls == ["GetFunction"]


def test_changed_sources_are_new_code(aws, sources, tmp_path):
    role = make_function(aws, sources)
    (tmp_path / "handler.py").write_text("def handler(event, context):\n    return 1\n")
    result = entry(aws, desired(role, sources))
    assert [change["attribute"] for change in result["changes"]] == ["code_sha256"]
    assert result["changes"][0]["desired"] == package_sha256(sources)


def test_the_environment_that_drifts_is_named_with_the_variables_that_differ(aws, sources):
    role = make_function(aws, sources)
    aws.update_function_configuration(
        FunctionName=NAME, Environment={"Variables": dict(ENVIRONMENT, LOG_LEVEL="DEBUG")}
    )
    (change,) = entry(aws, desired(role, sources))["changes"]
    assert change == {"attribute": "environment", "current": {"LOG_LEVEL": "DEBUG"}, "desired": {"LOG_LEVEL": "INFO"}}


@pytest.mark.parametrize(
    ("setting", "attribute"),
    [
        ({"Timeout": 30}, "timeout"),
        ({"MemorySize": 256}, "memory_size"),
        ({"Handler": "other.handler"}, "handler"),
        ({"Description": "other"}, "description"),
    ],
)
def test_each_setting_that_drifts_is_named(aws, sources, setting, attribute):
    role = make_function(aws, sources)
    aws.update_function_configuration(FunctionName=NAME, **setting)
    assert [change["attribute"] for change in entry(aws, desired(role, sources))["changes"]] == [attribute]


def test_a_dead_letter_target_and_tags(aws, sources):
    role = make_function(aws, sources)
    aws.tag_resource(Resource=read_functions(aws, [NAME])[NAME]["arn"], Tags={"Owner": "me"})
    want = dict(desired(role, sources), dead_letter_arn="arn:aws:sqs:us-west-2:123456789012:dlq")
    assert [change["attribute"] for change in entry(aws, want)["changes"]] == ["dead_letter_arn", "tags"]


def test_a_missing_function_is_created(aws, sources):
    assert entry(aws, desired("arn:role", sources))["action"] == "create"


def test_the_topics_permission_is_read_as_the_module_reads_it(aws, sources, calls):
    make_function(aws, sources)
    aws.add_permission(
        FunctionName=NAME,
        StatementId="sage-alerts",
        Action="lambda:InvokeFunction",
        Principal="sns.amazonaws.com",
        SourceArn=TOPIC,
    )
    names = [f"{NAME}/sage-alerts", f"{NAME}/other", "missing/sage-alerts"]
    calls.clear()
    read = {"lambda_policy": read_statements(aws, names)}
    assert sorted(calls) == ["GetPolicy", "GetPolicy"]
    want = {"action": "lambda:InvokeFunction", "principal": "sns.amazonaws.com", "source_arn": TOPIC}
    assert plan_entry("lambda_policy", names[0], want, read)["action"] == "unchanged"
    assert plan_entry("lambda_policy", names[1], want, read)["action"] == "create"
    assert plan_entry("lambda_policy", names[2], want, read)["action"] == "create"
    other_topic = dict(want, source_arn=TOPIC + "-other")
    assert [c["attribute"] for c in plan_entry("lambda_policy", names[0], other_topic, read)["changes"]] == [
        "source_arn"
    ]


def test_a_condition_the_module_compares_but_the_role_does_not_give_differs():
    read = {
        "lambda_policy": {
            "f/s": {
                "action": "lambda:InvokeFunction",
                "principal": "sns.amazonaws.com",
                "source_arn": TOPIC,
                "source_account": "123456789012",
                "event_source_token": None,
            }
        }
    }
    want = {"action": "lambda:InvokeFunction", "principal": "sns.amazonaws.com", "source_arn": TOPIC}
    assert [c["attribute"] for c in plan_entry("lambda_policy", "f/s", want, read)["changes"]] == ["source_account"]
