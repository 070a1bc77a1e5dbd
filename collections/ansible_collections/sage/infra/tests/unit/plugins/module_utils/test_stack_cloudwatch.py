# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""CloudWatch alarms and dashboards as read and compared: an alarm's options (as sage.infra.cloudwatch_metric_alarm
takes them) against DescribeAlarms in the module's own view, every option, tags; a dashboard's body by meaning."""

import copy

import boto3
import pytest
from ansible_collections.sage.infra.plugins.module_utils.stack import plan_entry
from ansible_collections.sage.infra.plugins.module_utils.stack_cloudwatch import (
    alarm_state,
    alarm_view,
    desired_state,
    read_alarms,
    read_dashboards,
    same_body,
)
from moto import mock_aws

REGION = "us-west-2"
TOPIC = "arn:aws:sns:us-west-2:123456789012:sage-alerts"
TAGS = {"Project": "sage"}
CPU = {
    "description": "CPU above 80%",
    "namespace": "AWS/ECS",
    "metric_name": "CPUUtilization",
    "dimensions": {"ServiceName": "web", "ClusterName": "sage"},
    "statistic": "Average",
    "period": 300,
    "evaluation_periods": 2,
    "comparison_operator": "GreaterThanThreshold",
    "threshold": 80.0,
    "treat_missing_data": "missing",
    "alarm_actions": [TOPIC],
    "ok_actions": [TOPIC],
    "tags": TAGS,
}
LB = [{"Name": "LoadBalancer", "Value": "app/sage/0123"}]
RATE = {
    "description": "5xx rate",
    "metrics": [
        {
            "Id": "requests",
            "ReturnData": False,
            "MetricStat": {
                "Metric": {"Namespace": "AWS/ApplicationELB", "MetricName": "RequestCount", "Dimensions": LB},
                "Period": 60,
                "Stat": "Sum",
            },
        },
        {"Id": "rate", "Label": "rate", "ReturnData": True, "Expression": "100 * requests"},
    ],
    "evaluation_periods": 1,
    "comparison_operator": "GreaterThanThreshold",
    "threshold": 5.0,
    "treat_missing_data": "notBreaching",
    "alarm_actions": [TOPIC],
    "ok_actions": [TOPIC],
    "tags": TAGS,
}


def described(options, **changes):
    """The DescribeAlarms entry of an alarm put with these options (what AWS fills in, in AWS's shapes)."""
    alarm = {
        "AlarmName": "a",
        "AlarmArn": "arn:aws:cloudwatch:us-west-2:123456789012:alarm:a",
        "AlarmDescription": options["description"],
        "ActionsEnabled": True,
        "OKActions": [TOPIC],
        "AlarmActions": [TOPIC],
        "InsufficientDataActions": [],
        "EvaluationPeriods": options["evaluation_periods"],
        "Threshold": options["threshold"],
        "ComparisonOperator": options["comparison_operator"],
        "TreatMissingData": options["treat_missing_data"],
        "StateValue": "OK",
    }
    if "metrics" in options:
        alarm["Metrics"] = copy.deepcopy(options["metrics"])
    else:
        alarm.update(
            MetricName=options["metric_name"],
            Namespace=options["namespace"],
            Statistic=options["statistic"],
            Period=options["period"],
            Dimensions=[{"Name": k, "Value": v} for k, v in sorted(options["dimensions"].items())],
        )
    alarm.update(changes)
    return alarm


@pytest.fixture
def cloudwatch(monkeypatch, fake_aws_credentials):
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        yield boto3.client("cloudwatch", region_name=REGION)


def current(cloudwatch, name):
    return read_alarms(cloudwatch, [name])[name]


def put(cloudwatch, name, options, **changes):
    alarm = described(options, AlarmName=name, **changes)
    for key in ("AlarmArn", "StateValue"):
        alarm.pop(key)
    cloudwatch.put_metric_alarm(**alarm, Tags=[{"Key": k, "Value": v} for k, v in TAGS.items()])


def entry(desired, view):
    return plan_entry("alarm", "a", desired, {"alarm": {"a": view}})


@pytest.mark.parametrize("options", [CPU, RATE])
def test_an_alarm_as_put_is_in_sync(cloudwatch, options):
    put(cloudwatch, "a", options)
    assert entry(options, current(cloudwatch, "a"))["action"] == "unchanged"


def test_the_defaults_aws_fills_in_are_not_differences():
    # No DatapointsToAlarm, TreatMissingData, ReturnData or Label as AWS may answer; a threshold as an int.
    alarm = described(RATE, TreatMissingData=None)
    alarm["Metrics"] = [{key: value for key, value in q.items() if key != "ReturnData"} for q in alarm["Metrics"]]
    alarm["Metrics"][0]["ReturnData"] = False
    options = dict(RATE, treat_missing_data="missing", threshold=5)
    assert entry(options, dict(_state(alarm), tags=TAGS))["action"] == "unchanged"
    assert desired_state(options)["datapoints_to_alarm"] == 1  # AWS's default: every evaluation period


def _state(alarm):
    return alarm_state(alarm_view(alarm))


@pytest.mark.parametrize(
    ("changes", "attribute"),
    [
        ({"Threshold": 95.0}, "threshold"),
        ({"DatapointsToAlarm": 1}, "datapoints_to_alarm"),
        ({"EvaluationPeriods": 3, "DatapointsToAlarm": 2}, "evaluation_periods"),
        ({"Unit": "Percent"}, "unit"),  # a setting the options do not give, added by hand
        ({"OKActions": []}, "ok_actions"),
        ({"AlarmActions": [TOPIC, "arn:aws:sns:us-west-2:123456789012:other"]}, "alarm_actions"),
        ({"Dimensions": [{"Name": "ClusterName", "Value": "other"}]}, "dimensions"),
        ({"ActionsEnabled": False}, "actions_enabled"),
    ],
)
def test_each_setting_that_drifts_is_named(changes, attribute):
    view = dict(_state(described(CPU, **changes)), tags=TAGS)
    result = entry(CPU, view)
    assert result["action"] == "update"
    assert [change["attribute"] for change in result["changes"]] == [attribute]


def test_a_metric_math_query_that_drifts_is_named():
    alarm = described(RATE)
    alarm["Metrics"][0]["MetricStat"]["Period"] = 300
    assert [c["attribute"] for c in entry(RATE, dict(_state(alarm), tags=TAGS))["changes"]] == ["metrics"]


def test_a_query_period_given_as_text_is_the_number():
    options = copy.deepcopy(RATE)
    options["metrics"][0]["MetricStat"]["Period"] = "60"
    assert entry(options, dict(_state(described(RATE)), tags=TAGS))["action"] == "unchanged"


def test_tags_with_purge_and_only_when_given():
    view = dict(_state(described(CPU)), tags={**TAGS, "Owner": "me", "aws:cloudformation:stack": "x"})
    assert [c["attribute"] for c in entry(CPU, view)["changes"]] == ["tags"]
    untagged = {key: value for key, value in CPU.items() if key != "tags"}
    assert entry(untagged, view)["action"] == "unchanged"


def test_a_deleted_alarm_is_created_and_a_disabled_one_deleted(cloudwatch):
    assert entry(CPU, current(cloudwatch, "a"))["action"] == "create"
    put(cloudwatch, "a", CPU)
    assert entry(None, current(cloudwatch, "a"))["action"] == "delete"


def test_alarms_are_read_with_one_describe_call_and_their_tags(cloudwatch, calls):
    put(cloudwatch, "a", CPU)
    put(cloudwatch, "b", RATE)
    calls.clear()
    read = read_alarms(cloudwatch, ["a", "b", "missing"])
    assert read["missing"] is None
    assert read["a"]["threshold"] == 80.0 and read["a"]["tags"] == TAGS
    assert read["a"]["arn"].endswith(":alarm:a")
    assert sorted(calls) == ["DescribeAlarms", "ListTagsForResource", "ListTagsForResource"]


def test_more_than_a_hundred_names_take_a_describe_call_per_hundred(cloudwatch, calls):
    calls.clear()
    assert read_alarms(cloudwatch, [f"alarm-{n}" for n in range(150)]) == {f"alarm-{n}": None for n in range(150)}
    assert calls == ["DescribeAlarms", "DescribeAlarms"]


BODY = {"widgets": [{"type": "metric", "properties": {"annotations": {"horizontal": [{"value": 80}]}}}]}


def test_dashboard_bodies_compare_by_meaning():
    assert same_body(
        BODY, {"widgets": [{"properties": {"annotations": {"horizontal": [{"value": 80.0}]}}, "type": "metric"}]}
    )
    assert not same_body(BODY, {"widgets": []})
    assert not same_body({"a": True}, {"a": 1})
    assert not same_body({"a": float("nan")}, {"a": float("nan")})


def test_dashboards_are_read_and_a_missing_one_is_none(cloudwatch):
    cloudwatch.put_dashboard(DashboardName="d", DashboardBody='{"widgets": [{"type": "text"}]}')
    read = read_dashboards(cloudwatch, ["d", "missing"])
    assert read["missing"] is None
    assert read["d"]["body"] == {"widgets": [{"type": "text"}]}
    result = plan_entry("dashboard", "d", {"body": {"widgets": []}}, {"dashboard": read})
    assert [change["attribute"] for change in result["changes"]] == ["body"]
