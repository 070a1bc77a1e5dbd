# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests for sage.infra.cloudwatch_dashboard, run against moto in-process.

What moto 5.2 does with dashboards, and how the tests account for it:

- PutDashboard only checks that the body is JSON: any name (even with spaces), any JSON value (even a list)
  and any widgets are accepted, and DashboardValidationMessages is always empty. The module's own validation
  is what the error tests check, and the validation messages are put into moto's answer by the tests.
- GetDashboard returns the body string exactly as it was put, so a body put by another tool (other key order,
  80.0 for 80, spaces) can be stored directly with boto3.
- The ARN has no region (arn:aws:cloudwatch::<account>:dashboard/<name>), as in AWS: dashboards are global.
"""

import copy
import json

import boto3
import botocore.client
import pytest
from ansible_collections.sage.infra.plugins.modules import cloudwatch_dashboard as mod
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.cloudwatch.responses import CloudWatchResponse
from moto.core import DEFAULT_ACCOUNT_ID
from moto.core.responses import ActionResult

REGION = "us-east-1"
NAME = "sage-web"
ARN = f"arn:aws:cloudwatch::{DEFAULT_ACCOUNT_ID}:dashboard/{NAME}"
TEXT = {"type": "text", "x": 0, "y": 0, "width": 24, "height": 1, "properties": {"markdown": "Managed by Ansible"}}
CPU = {
    "type": "metric",
    "x": 0,
    "y": 1,
    "width": 12,
    "height": 6,
    "properties": {
        "title": "CPU",
        "region": REGION,
        "stat": "Average",
        "period": 60,
        "stacked": True,
        "metrics": [["AWS/ECS", "CPUUtilization", "ClusterName", "sage", "ServiceName", "web"]],
        "annotations": {"horizontal": [{"label": "high", "value": 80}]},
    },
}
BODY = {"start": "-PT6H", "periodOverride": "inherit", "widgets": [TEXT, CPU]}


@pytest.fixture(autouse=True)
def aws(monkeypatch, fake_aws_credentials):
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        yield boto3.client("cloudwatch", region_name=REGION)


@pytest.fixture
def run(module_runner):
    return module_runner(mod.main, name=NAME, region=REGION)


def stored(client, name=NAME):
    """The body of the dashboard in moto, parsed; None when there is no such dashboard."""
    try:
        return json.loads(client.get_dashboard(DashboardName=name)["DashboardBody"])
    except client.exceptions.ResourceNotFound:
        return None


def with_cpu(**properties):
    body = copy.deepcopy(BODY)
    body["widgets"][1]["properties"].update(properties)
    return body


# --- pure functions -----------------------------------------------------------------------------------------


def test_same_body_ignores_key_order_and_number_form_but_not_list_order_or_types():
    assert mod.same_body({"a": 1, "b": [80, {"x": 1.5, "y": 2}]}, {"b": [80.0, {"y": 2.0, "x": 1.5}], "a": 1.0})
    assert not mod.same_body({"a": [1, 2]}, {"a": [2, 1]})
    assert not mod.same_body({"a": 1.5}, {"a": 1})
    assert not mod.same_body({"a": True}, {"a": 1})
    assert not mod.same_body({"a": False}, {"a": 0})
    assert not mod.same_body({"a": "80"}, {"a": 80})
    assert not mod.same_body({"a": None}, {})


def test_normalise_keeps_booleans():
    assert mod.normalise({"a": [True, 2.0, 2.5, None, "3.0"]}) == {"a": [True, 2, 2.5, None, "3.0"]}
    assert isinstance(mod.normalise(2.0), int)
    assert mod.normalise(True) is True


# --- present ------------------------------------------------------------------------------------------------


def test_create_then_rerun_makes_one_call_and_no_change(run, aws, calls):
    result = run(body=BODY)
    assert result["changed"] is True
    assert calls == ["GetDashboard", "PutDashboard", "GetDashboard"]
    assert result["dashboard"] == {"name": NAME, "arn": ARN, "body": BODY}
    assert stored(aws) == BODY

    calls.clear()
    result = run(body=BODY)
    assert result["changed"] is False
    assert calls == ["GetDashboard"]
    assert result["dashboard"] == {"name": NAME, "arn": ARN, "body": BODY}


def test_body_is_put_as_compact_json_with_sorted_keys(run, aws):
    run(body=BODY)
    sent = aws.get_dashboard(DashboardName=NAME)["DashboardBody"]
    assert sent == json.dumps(BODY, sort_keys=True, separators=(",", ":"))


def test_key_order_and_number_form_do_not_matter(run, aws, calls):
    # As another tool could have put it: other key order, floats for ints, spaces.
    reordered = {
        "widgets": [
            dict(reversed(list(TEXT.items()))),
            {**CPU, "x": 0.0, "height": 6.0, "properties": {**CPU["properties"], "period": 60.0}},
        ],
        "periodOverride": "inherit",
        "start": "-PT6H",
    }
    reordered["widgets"][1]["properties"]["annotations"] = {"horizontal": [{"value": 80.0, "label": "high"}]}
    aws.put_dashboard(DashboardName=NAME, DashboardBody=json.dumps(reordered, indent=2))
    calls.clear()
    result = run(body=BODY)
    assert result["changed"] is False
    assert calls == ["GetDashboard"]
    assert result["dashboard"]["body"]["widgets"][1]["properties"]["period"] == 60.0


def test_widget_order_change_is_a_change(run, aws, calls):
    run(body=BODY)
    swapped = {**BODY, "widgets": [CPU, TEXT]}
    calls.clear()
    result = run(body=swapped)
    assert result["changed"] is True
    assert calls == ["GetDashboard", "PutDashboard"]
    assert [w["type"] for w in stored(aws)["widgets"]] == ["metric", "text"]
    assert result["dashboard"] == {"name": NAME, "arn": ARN, "body": swapped}


def test_metric_list_order_change_is_a_change(run, aws):
    run(body=BODY)
    metrics = [["AWS/ECS", "MemoryUtilization"], ["AWS/ECS", "CPUUtilization"]]
    assert run(body=with_cpu(metrics=metrics))["changed"] is True
    assert run(body=with_cpu(metrics=metrics[::-1]))["changed"] is True
    assert stored(aws)["widgets"][1]["properties"]["metrics"] == metrics[::-1]


@pytest.mark.parametrize(
    "change",
    [{"period": 300}, {"stacked": 1}, {"stat": "Maximum"}, {"annotations": {}}, {"title": "CPU "}],
    ids=["number", "bool to int", "string", "nested dict", "trailing space"],
)
def test_update(run, aws, calls, change):
    run(body=BODY)
    calls.clear()
    result = run(body=with_cpu(**change))
    assert result["changed"] is True
    assert calls == ["GetDashboard", "PutDashboard"]
    assert stored(aws) == with_cpu(**change)
    calls.clear()
    assert run(body=with_cpu(**change))["changed"] is False
    assert calls == ["GetDashboard"]


def test_top_level_keys_are_managed(run, aws):
    run(body=BODY)
    without_start = {k: v for k, v in BODY.items() if k != "start"}
    assert run(body=without_start)["changed"] is True
    assert stored(aws) == without_start


def test_body_given_as_json_string(run, aws, calls):
    """Ansible parses a JSON string given for a dict option, for example from a file lookup."""
    run(body=BODY)
    calls.clear()
    result = run(body=json.dumps(BODY, indent=2))
    assert result["changed"] is False
    assert calls == ["GetDashboard"]


# --- check mode and diff ------------------------------------------------------------------------------------


def test_check_mode_makes_no_change(run, aws, calls):
    result = run(check_mode=True, body=BODY)
    assert result["changed"] is True
    assert calls == ["GetDashboard"]
    assert result["dashboard"] == {"name": NAME, "arn": None, "body": BODY}
    assert stored(aws) is None

    run(body=BODY)
    calls.clear()
    result = run(check_mode=True, body=with_cpu(period=300))
    assert result["changed"] is True
    assert calls == ["GetDashboard"]
    assert result["dashboard"] == {"name": NAME, "arn": ARN, "body": with_cpu(period=300)}
    assert stored(aws) == BODY

    calls.clear()
    result = run(check_mode=True, body=BODY)
    assert result["changed"] is False

    calls.clear()
    result = run(check_mode=True, state="absent")
    assert result["changed"] is True
    assert calls == ["GetDashboard"]
    assert stored(aws) == BODY


def test_diff(run, aws):
    result = run(diff=True, body=BODY)
    assert result["diff"] == {"before": {}, "after": BODY}

    result = run(diff=True, body=with_cpu(period=300.0))
    assert result["diff"]["before"] == BODY
    assert result["diff"]["after"] == with_cpu(period=300)
    assert isinstance(result["diff"]["after"]["widgets"][1]["properties"]["period"], int)

    aws.put_dashboard(DashboardName=NAME, DashboardBody=json.dumps(with_cpu(period=300.0)))
    result = run(diff=True, body=with_cpu(period=300))
    assert result["changed"] is False
    assert result["diff"]["before"] == result["diff"]["after"] == with_cpu(period=300)

    result = run(diff=True, check_mode=True, state="absent")
    assert result["diff"] == {"before": with_cpu(period=300), "after": {}}


# --- absent -------------------------------------------------------------------------------------------------


def test_delete_then_delete_again_is_unchanged(run, aws, calls):
    run(body=BODY)
    aws.put_dashboard(DashboardName="sage-other", DashboardBody=json.dumps(BODY))
    calls.clear()
    result = run(state="absent")
    assert result["changed"] is True
    assert calls == ["GetDashboard", "DeleteDashboards"]
    assert result["dashboard"] == {}
    assert stored(aws) is None
    assert stored(aws, "sage-other") == BODY

    calls.clear()
    result = run(state="absent")
    assert result["changed"] is False
    assert calls == ["GetDashboard"]
    assert result["dashboard"] == {}


def test_absent_ignores_the_body(run, calls):
    result = run(state="absent", body={"no": "widgets"})
    assert result["changed"] is False
    assert calls == ["GetDashboard"]


# --- errors -------------------------------------------------------------------------------------------------


def widgets(*items):
    return {"widgets": list(items)}


BAD_INPUTS = {
    "no body": ({}, "state is present but all of the following are missing: body"),
    "no widgets": ({"body": {"start": "-PT3H"}}, "body must have a widgets list; got widgets=None"),
    "widgets not a list": ({"body": {"widgets": {"type": "text"}}}, "body must have a widgets list; got widgets={"),
    "widget not a dict": ({"body": widgets(TEXT, "text")}, "body.widgets[1] must be a dict; got 'text'"),
    "widget without type": (
        {"body": widgets(TEXT, TEXT, CPU, {k: v for k, v in CPU.items() if k != "type"})},
        "body.widgets[3] has no type",
    ),
    "empty type": ({"body": widgets({**TEXT, "type": ""})}, "body.widgets[0].type must be a non-empty string"),
    "type not a string": ({"body": widgets({**TEXT, "type": 3})}, "body.widgets[0].type must be a non-empty string"),
    "not a dict": ({"body": "widgets"}, "argument 'body' is of type"),
    "too big": (
        {"body": widgets({**TEXT, "properties": {"markdown": "x" * (1024 * 1024 - 91)}})},
        "body is 1048577 bytes once serialised to JSON; AWS allows at most 1048576 (1 MB)",
    ),
    "NaN": ({"body": widgets({**CPU, "y": float("nan")})}, "body cannot be serialised to JSON"),
    "empty name": ({"name": "", "body": BODY}, "name must be 1 to 255 characters, each a letter, a digit,"),
    "name with a space": ({"name": "sage web", "body": BODY}, "got 'sage web' (8 characters)"),
    "name with a dot": ({"name": "sage.web", "state": "absent"}, "name must be 1 to 255 characters"),
    "name with a newline": ({"name": "sage\n", "state": "absent"}, "name must be 1 to 255 characters"),
    "name too long": ({"name": "a" * 256, "body": BODY}, "(256 characters)"),
}


@pytest.mark.parametrize("args, expected", BAD_INPUTS.values(), ids=BAD_INPUTS.keys())
def test_bad_input_fails_clearly_before_any_aws_call(run, calls, args, expected):
    msg = run.fail(**args)
    assert expected in msg
    assert calls == []


def test_limits_are_inclusive(run, aws):
    assert run(name="a" * 255, body=BODY)["changed"] is True
    overhead = len(mod.serialise(widgets({**TEXT, "properties": {"markdown": ""}})))
    assert run(body=widgets({**TEXT, "properties": {"markdown": "x" * (1024 * 1024 - overhead)}}))["changed"] is True
    assert run(body=widgets())["changed"] is True
    assert stored(aws) == {"widgets": []}


def answer_put_dashboard(monkeypatch, messages):
    """Make moto answer PutDashboard with these validation messages (after storing the body, as AWS does)."""
    original = CloudWatchResponse.put_dashboard

    def put_dashboard(self):
        original(self)
        return ActionResult({"DashboardValidationMessages": messages})

    monkeypatch.setattr(CloudWatchResponse, "put_dashboard", put_dashboard)


def test_validation_messages_of_a_successful_put_fail(run, aws, monkeypatch):
    answer_put_dashboard(
        monkeypatch,
        [
            {"DataPath": "/widgets/1/properties/metrics/0", "Message": "Should NOT have more than 2 items"},
            {"Message": "Unknown property"},
        ],
    )
    msg = run.fail(body=BODY)
    assert msg == (
        f"CloudWatch returned validation messages for the body of dashboard {NAME} (it may have been saved anyway): "
        "/widgets/1/properties/metrics/0: Should NOT have more than 2 items; (body): Unknown property"
    )


def test_no_validation_messages_is_success(run, monkeypatch):
    answer_put_dashboard(monkeypatch, [])
    assert run(body=BODY)["changed"] is True


def test_put_rejected_with_validation_messages_fails_with_them(run, monkeypatch):
    original = botocore.client.BaseClient._make_api_call

    def rejecting(self, operation_name, api_params):
        if operation_name != "PutDashboard":
            return original(self, operation_name, api_params)
        # The shape botocore gives a DashboardInvalidInputError: its modeled fields at the top of the response.
        response = {
            "Error": {"Code": "InvalidParameterInput", "Message": "The field DashboardBody must be valid"},
            "dashboardValidationMessages": [{"DataPath": "/widgets/0/width", "Message": "Should be integer"}],
        }
        raise ClientError(response, operation_name)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", rejecting)
    msg = run.fail(body=BODY)
    assert msg.startswith(f"CloudWatch rejected the body of dashboard {NAME}: /widgets/0/width: Should be integer")
    assert "The field DashboardBody must be valid" in msg


def test_get_access_denied_fails_clearly(run, monkeypatch):
    def denied(self, operation_name, api_params):
        raise ClientError({"Error": {"Code": "AccessDenied", "Message": "not authorized"}}, operation_name)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", denied)
    msg = run.fail(body=BODY)
    assert msg.startswith(f"Failed to get CloudWatch dashboard {NAME}: ")
    assert "AccessDenied" in msg
