# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests for sage.infra.cloudwatch_metric_alarm, run against moto in-process.

What moto 5.2 does with alarms, and how the tests account for it:

- DescribeAlarms returns what PutMetricAlarm was given, and omits DatapointsToAlarm, TreatMissingData, Unit,
  EvaluateLowSampleCountPercentile and ThresholdMetricId when they were not given (as AWS does); it returns
  ``Dimensions: []`` for a metric math alarm and ``Metrics: []`` for a single-metric alarm. The module
  always sends ReturnData and TreatMissingData, so alarms it creates come back with them; alarms created
  without them (``test_adopts_an_alarm_created_without_the_defaults``) and the AWS shapes moto does not
  produce (ReturnData omitted, a query Period equal to its MetricStat's, an empty description) are covered
  by the pure ``alarm_view`` tests.
- moto validates almost nothing: not the ReturnData rule, the periods, nor the threshold; only
  ExtendedStatistic (it accepts pN only, so the tmN/TM(..)/IQM forms are tested on the validation alone)
  and EvaluateLowSampleCountPercentile. The module's own validation is what the error tests check.
- moto drops AccountId from the queries (``test_account_id_is_sent``), and does not implement
  PutCompositeAlarm (the composite alarm is put into the backend directly).
- PutMetricAlarm on an existing alarm keeps its tags in moto, as in AWS (which ignores Tags then).
"""

import copy

import boto3
import botocore.client
import pytest
from ansible_collections.sage.infra.plugins.modules import cloudwatch_metric_alarm as mod
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.cloudwatch.models import cloudwatch_backends
from moto.core import DEFAULT_ACCOUNT_ID

REGION = "us-east-1"
NAME = "sage-web-cpu-high"
MUTATING = ("Put", "Delete", "Tag", "Untag", "Set", "Enable", "Disable")
TOPIC_A = f"arn:aws:sns:{REGION}:{DEFAULT_ACCOUNT_ID}:alerts-a"
TOPIC_B = f"arn:aws:sns:{REGION}:{DEFAULT_ACCOUNT_ID}:alerts-b"
CPU = {
    "namespace": "AWS/ECS",
    "metric_name": "CPUUtilization",
    "dimensions": {"ClusterName": "sage", "ServiceName": "web"},
    "statistic": "Average",
    "period": 60,
    "evaluation_periods": 5,
    "comparison_operator": "GreaterThanThreshold",
    "threshold": 80,
}
LB = [{"Name": "LoadBalancer", "Value": "app/sage/0123456789abcdef"}]


def alb_query(query_id, metric_name):
    return {
        "Id": query_id,
        "MetricStat": {
            "Metric": {"Namespace": "AWS/ApplicationELB", "MetricName": metric_name, "Dimensions": LB},
            "Period": 60,
            "Stat": "Sum",
        },
        "ReturnData": False,
    }


# Error rate of the load balancer in %, computed only when there are enough requests.
ERROR_RATE = {
    "metrics": [
        {
            "Id": "error_rate",
            "Expression": "IF(requests > 10, 100 * (FILL(m1, 0) + FILL(m2, 0)) / requests, 0)",
            "Label": "5XX error rate (%)",
            "ReturnData": True,
        },
        alb_query("m1", "HTTPCode_ELB_5XX_Count"),
        alb_query("m2", "HTTPCode_Target_5XX_Count"),
        alb_query("requests", "RequestCount"),
    ],
    "evaluation_periods": 5,
    "datapoints_to_alarm": 3,
    "comparison_operator": "GreaterThanThreshold",
    "threshold": 5,
    "treat_missing_data": "notBreaching",
}
ANOMALY = {
    "metrics": [
        {
            "Id": "m1",
            "MetricStat": {
                "Metric": {"Namespace": "AWS/ApplicationELB", "MetricName": "RequestCount", "Dimensions": LB},
                "Period": 300,
                "Stat": "Sum",
            },
        },
        {"Id": "ad1", "Expression": "ANOMALY_DETECTION_BAND(m1, 2)"},
    ],
    "threshold_metric_id": "ad1",
    "evaluation_periods": 3,
    "comparison_operator": "LessThanLowerOrGreaterThanUpperThreshold",
}


@pytest.fixture(autouse=True)
def aws(monkeypatch, fake_aws_credentials):
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        yield boto3.client("cloudwatch", region_name=REGION)


@pytest.fixture
def run(module_runner):
    return module_runner(mod.main, name=NAME, region=REGION)


def mutating(calls):
    return [c for c in calls if c.startswith(MUTATING)]


def described(client, name=NAME):
    alarms = client.describe_alarms(AlarmNames=[name])["MetricAlarms"]
    return alarms[0] if alarms else None


def aws_tags(client, name=NAME):
    arn = described(client, name)["AlarmArn"]
    return {t["Key"]: t["Value"] for t in client.list_tags_for_resource(ResourceARN=arn)["Tags"]}


# --- pure functions -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("period", [10, 20, 30, 60, 120, 300, 3600, 86400])
def test_valid_periods(period):
    assert mod.valid_period(period)


@pytest.mark.parametrize("period", [0, -60, 1, 5, 15, 45, 90, 61])
def test_invalid_periods(period):
    assert not mod.valid_period(period)


@pytest.mark.parametrize(
    "value",
    [
        *("p0", "p50", "p95", "p99.9", "p100", "tm90", "tc99", "ts10.5", "wm90", "IQM", "PR(100:2000)", "PR(:300)"),
        *("TM(10%:90%)", "TC(:95%)", "TS(5%:)", "WM(25%:75%)"),
    ],
)
def test_valid_extended_statistics(value):
    assert mod.valid_extended_statistic(value)


@pytest.mark.parametrize(
    "value", ["", "p", "p101", "p100.5", "P95", "95", "p95%", "pp95", "Average", "iqm", "TM(10:90)", "xx90", "p-1"]
)
def test_invalid_extended_statistics(value):
    assert not mod.valid_extended_statistic(value)


def aws_shaped_math_alarm():
    """A metric math alarm as AWS may describe it: defaults omitted or filled in, queries and lists reordered."""
    return {
        "AlarmName": NAME,
        "AlarmArn": "arn:aws:cloudwatch:us-east-1:123456789012:alarm:x",
        "AlarmDescription": "",
        "OKActions": [],
        "AlarmActions": [TOPIC_B, TOPIC_A],
        "InsufficientDataActions": [],
        "Dimensions": [],
        "EvaluationPeriods": 3,
        "Threshold": 5,
        "ComparisonOperator": "GreaterThanThreshold",
        "EvaluateLowSampleCountPercentile": "",
        "Metrics": [
            {
                "Id": "m1",
                "MetricStat": {
                    "Metric": {
                        "Namespace": "N",
                        "MetricName": "X",
                        "Dimensions": [{"Name": "B", "Value": "2"}, {"Name": "A", "Value": "1"}],
                    },
                    "Period": 60,
                    "Stat": "Sum",
                },
                "Period": 60,
                "ReturnData": False,
            },
            {"Id": "e1", "Expression": "m1 * 2"},
        ],
        "StateValue": "OK",
    }


def test_alarm_view_normalises_what_aws_fills_in_or_omits():
    params = {
        "name": NAME,
        "description": None,
        "actions_enabled": True,
        "alarm_actions": [TOPIC_A, TOPIC_B],
        "ok_actions": [],
        "insufficient_data_actions": [],
        "evaluation_periods": 3,
        "datapoints_to_alarm": 3,
        "comparison_operator": "GreaterThanThreshold",
        "threshold": 5.0,
        "threshold_metric_id": None,
        "treat_missing_data": "missing",
        "evaluate_low_sample_count_percentile": None,
    }
    metrics = [
        {"Id": "e1", "Expression": "m1 * 2", "ReturnData": True},
        {
            "Id": "m1",
            "ReturnData": False,
            "MetricStat": {
                "Metric": {
                    "Namespace": "N",
                    "MetricName": "X",
                    "Dimensions": [{"Name": "A", "Value": "1"}, {"Name": "B", "Value": "2"}],
                },
                "Period": 60,
                "Stat": "Sum",
            },
        },
    ]
    desired = mod.desired_alarm(params, metrics)
    assert desired["TreatMissingData"] == "missing"
    assert "Period" not in desired and "Dimensions" not in desired
    current = aws_shaped_math_alarm()
    assert mod.alarm_view(current) == mod.alarm_view(desired)

    view = mod.alarm_view(current)
    assert view["DatapointsToAlarm"] == 3
    assert view["TreatMissingData"] == "missing"
    assert view["ActionsEnabled"] is True
    assert view["Threshold"] == 5.0 and isinstance(view["Threshold"], float)
    assert view["AlarmActions"] == [TOPIC_A, TOPIC_B]
    assert [q["Id"] for q in view["Metrics"]] == ["e1", "m1"]
    assert view["Metrics"][0]["ReturnData"] is True
    assert "Period" not in view["Metrics"][1]
    assert "AlarmDescription" not in view and "EvaluateLowSampleCountPercentile" not in view

    # Each of these is a real difference.
    for change in (
        # Metrics[0] is m1, Metrics[1] is e1.
        lambda a: a["Metrics"][0].update(Period=300),
        lambda a: a["Metrics"][1].update(Period=300),
        lambda a: a["Metrics"][1].update(ReturnData=False),
        lambda a: a["Metrics"][0].update(ReturnData=True),
        lambda a: a["Metrics"][1].update(Label="rate"),
        lambda a: a["Metrics"][0]["MetricStat"]["Metric"]["Dimensions"].pop(),
        lambda a: a["Metrics"][0]["MetricStat"].update(Unit="Count"),
        lambda a: a["Metrics"][0]["MetricStat"].update(Stat="Average"),
        lambda a: a.update(DatapointsToAlarm=2),
        lambda a: a.update(TreatMissingData="breaching"),
        lambda a: a.update(AlarmActions=[TOPIC_A]),
        lambda a: a.update(AlarmDescription="x"),
        lambda a: a.update(Threshold=5.5),
        lambda a: a.update(ActionsEnabled=False),
        lambda a: a.update(EvaluateLowSampleCountPercentile="ignore"),
    ):
        changed = copy.deepcopy(current)
        change(changed)
        assert mod.alarm_view(changed) != mod.alarm_view(desired)


def test_alarm_view_of_a_single_metric_alarm():
    alarm = {
        "MetricName": "CPU",
        "Namespace": "AWS/ECS",
        "Statistic": "Average",
        "Dimensions": [{"Name": "b", "Value": "2"}, {"Name": "a", "Value": "1"}],
        "Period": 60,
        "Metrics": [],
        "EvaluationPeriods": 2,
        "Threshold": 80,
        "ComparisonOperator": "GreaterThanThreshold",
    }
    view = mod.alarm_view(alarm)
    assert view["Dimensions"] == [{"Name": "a", "Value": "1"}, {"Name": "b", "Value": "2"}]
    assert "Metrics" not in view and "Unit" not in view
    assert view["DatapointsToAlarm"] == 2
    assert mod.alarm_view({**alarm, "Unit": "Percent"}) != view
    # An anomaly detection alarm compares with its band: a Threshold AWS would report is not compared.
    assert "Threshold" not in mod.alarm_view({**alarm, "ThresholdMetricId": "ad1"})


# --- single-metric alarms -----------------------------------------------------------------------------------


def test_create_single_metric_alarm_then_noop_with_one_call(run, aws, calls):
    args = {**CPU, "description": "CPU high", "alarm_actions": [TOPIC_A], "datapoints_to_alarm": 3}
    result = run(**args)
    assert result["changed"] is True
    assert calls == ["DescribeAlarms", "PutMetricAlarm", "DescribeAlarms"]
    alarm = result["alarm"]
    assert alarm["alarm_name"] == NAME
    assert alarm["alarm_arn"] == f"arn:aws:cloudwatch:{REGION}:{DEFAULT_ACCOUNT_ID}:alarm:{NAME}"
    assert alarm["metric_name"] == "CPUUtilization"
    assert alarm["namespace"] == "AWS/ECS"
    assert alarm["statistic"] == "Average"
    assert alarm["threshold"] == 80.0
    assert alarm["alarm_actions"] == [TOPIC_A]
    assert alarm["treat_missing_data"] == "missing"
    assert alarm["state_value"] == "OK"
    assert isinstance(alarm["alarm_configuration_updated_timestamp"], str)
    assert "tags" not in alarm

    aws_alarm = described(aws)
    assert aws_alarm["AlarmDescription"] == "CPU high"
    assert sorted(d["Name"] for d in aws_alarm["Dimensions"]) == ["ClusterName", "ServiceName"]
    assert aws_alarm["Period"] == 60
    assert aws_alarm["EvaluationPeriods"] == 5
    assert aws_alarm["DatapointsToAlarm"] == 3
    assert aws_alarm["ComparisonOperator"] == "GreaterThanThreshold"
    assert aws_alarm["ActionsEnabled"] is True
    assert "ExtendedStatistic" not in aws_alarm and "Unit" not in aws_alarm

    calls.clear()
    reordered = {**args, "dimensions": {"ServiceName": "web", "ClusterName": "sage"}, "threshold": 80.0}
    result = run(**reordered)
    assert result["changed"] is False
    assert calls == ["DescribeAlarms"]
    assert result["alarm"]["alarm_arn"].endswith(f":alarm:{NAME}")


def test_change_threshold_updates_the_alarm(run, aws, calls):
    run(**CPU)
    before = described(aws)
    calls.clear()
    result = run(**{**CPU, "threshold": 90.5})
    assert result["changed"] is True
    assert calls == ["DescribeAlarms", "PutMetricAlarm", "DescribeAlarms"]
    assert result["alarm"]["threshold"] == 90.5
    assert described(aws)["Threshold"] == 90.5
    assert described(aws)["Dimensions"] == before["Dimensions"]  # PutMetricAlarm was given every option
    assert run(**{**CPU, "threshold": 90.5})["changed"] is False


@pytest.mark.parametrize(
    "change",
    [
        {"statistic": "Maximum"},
        {"period": 300},
        {"unit": "Percent"},
        {"dimensions": {"ClusterName": "sage"}},
        {"evaluation_periods": 6},
        {"datapoints_to_alarm": 2},
        {"comparison_operator": "GreaterThanOrEqualToThreshold"},
        {"treat_missing_data": "breaching"},
        {"description": "now described"},
        {"actions_enabled": False},
        {"insufficient_data_actions": [TOPIC_B]},
    ],
)
def test_each_option_change_is_detected(run, aws, change):
    run(**CPU)
    result = run(**{**CPU, **change})
    assert result["changed"] is True
    assert run(**{**CPU, **change})["changed"] is False


def test_unset_options_are_reset_as_put_metric_alarm_replaces_the_alarm(run, aws):
    run(**CPU, description="x", alarm_actions=[TOPIC_A], unit="Percent", datapoints_to_alarm=2)
    result = run(**CPU)
    assert result["changed"] is True
    aws_alarm = described(aws)
    assert aws_alarm["AlarmActions"] == []
    assert "AlarmDescription" not in aws_alarm and "Unit" not in aws_alarm
    assert "DatapointsToAlarm" not in aws_alarm


def test_p95_extended_statistic(run, aws, calls):
    args = {**CPU, "statistic": None, "extended_statistic": "p95", "evaluate_low_sample_count_percentile": "ignore"}
    args = {k: v for k, v in args.items() if v is not None}
    result = run(**args)
    assert result["changed"] is True
    assert result["alarm"]["extended_statistic"] == "p95"
    assert "statistic" not in result["alarm"]
    aws_alarm = described(aws)
    assert aws_alarm["ExtendedStatistic"] == "p95"
    assert aws_alarm["EvaluateLowSampleCountPercentile"] == "ignore"
    assert "Statistic" not in aws_alarm

    calls.clear()
    assert run(**args)["changed"] is False
    assert calls == ["DescribeAlarms"]
    assert run(**{**args, "extended_statistic": "p99.9"})["changed"] is True
    assert described(aws)["ExtendedStatistic"] == "p99.9"
    assert run(**CPU)["changed"] is True  # back to a plain statistic
    assert described(aws)["Statistic"] == "Average"
    assert "ExtendedStatistic" not in described(aws)


def test_actions_are_order_insensitive(run, aws, calls):
    run(**CPU, alarm_actions=[TOPIC_A, TOPIC_B], ok_actions=[TOPIC_B, TOPIC_A])
    calls.clear()
    result = run(**CPU, alarm_actions=[TOPIC_B, TOPIC_A], ok_actions=[TOPIC_A, TOPIC_B])
    assert result["changed"] is False
    assert calls == ["DescribeAlarms"]

    result = run(**CPU, alarm_actions=[TOPIC_B], ok_actions=[TOPIC_A, TOPIC_B])
    assert result["changed"] is True
    assert described(aws)["AlarmActions"] == [TOPIC_B]


def test_adopts_an_alarm_created_without_the_defaults(run, aws, calls):
    """An alarm created elsewhere, without TreatMissingData/DatapointsToAlarm/ActionsEnabled, is not changed."""
    aws.put_metric_alarm(
        AlarmName=NAME,
        Namespace="AWS/ECS",
        MetricName="CPUUtilization",
        Dimensions=[{"Name": "ServiceName", "Value": "web"}, {"Name": "ClusterName", "Value": "sage"}],
        Statistic="Average",
        Period=60,
        EvaluationPeriods=5,
        Threshold=80,
        ComparisonOperator="GreaterThanThreshold",
    )
    aws_alarm = described(aws)
    assert "TreatMissingData" not in aws_alarm and "DatapointsToAlarm" not in aws_alarm
    calls.clear()
    result = run(**CPU, datapoints_to_alarm=5, treat_missing_data="missing", actions_enabled=True)
    assert result["changed"] is False
    assert calls == ["DescribeAlarms"]


# --- metric math alarms -------------------------------------------------------------------------------------


def test_metric_math_alarm_create_then_noop(run, aws, calls):
    result = run(**ERROR_RATE, alarm_actions=[TOPIC_A])
    assert result["changed"] is True
    assert calls == ["DescribeAlarms", "PutMetricAlarm", "DescribeAlarms"]
    metrics = {q["id"]: q for q in result["alarm"]["metrics"]}
    assert metrics["error_rate"]["return_data"] is True
    assert metrics["requests"]["metric_stat"]["metric"]["metric_name"] == "RequestCount"
    assert "metric_name" not in result["alarm"] and "period" not in result["alarm"]

    aws_alarm = described(aws)
    assert [q["Id"] for q in aws_alarm["Metrics"]] == ["error_rate", "m1", "m2", "requests"]
    assert aws_alarm["Metrics"][0]["Expression"] == ERROR_RATE["metrics"][0]["Expression"]
    assert aws_alarm["Metrics"][0]["Label"] == "5XX error rate (%)"
    assert aws_alarm["Metrics"][3]["MetricStat"]["Metric"]["Dimensions"] == LB
    assert [q["ReturnData"] for q in aws_alarm["Metrics"]] == [True, False, False, False]
    assert "MetricName" not in aws_alarm and "Period" not in aws_alarm
    assert aws_alarm["DatapointsToAlarm"] == 3
    assert aws_alarm["TreatMissingData"] == "notBreaching"

    calls.clear()
    result = run(**ERROR_RATE, alarm_actions=[TOPIC_A])
    assert result["changed"] is False
    assert calls == ["DescribeAlarms"]

    # The queries in another order, ReturnData left to its default on the expression, and strings from a
    # template for the numbers and booleans: still no change.
    queries = copy.deepcopy(list(reversed(ERROR_RATE["metrics"])))
    del queries[-1]["ReturnData"]
    queries[0]["MetricStat"]["Period"] = "60"
    queries[1]["ReturnData"] = "false"
    calls.clear()
    result = run(**{**ERROR_RATE, "metrics": queries}, alarm_actions=[TOPIC_A])
    assert result["changed"] is False
    assert calls == ["DescribeAlarms"]


def test_metric_math_change_is_detected(run, aws):
    run(**ERROR_RATE)
    queries = copy.deepcopy(ERROR_RATE["metrics"])
    queries[0]["Expression"] = "100 * (FILL(m1, 0) + FILL(m2, 0)) / requests"
    assert run(**{**ERROR_RATE, "metrics": queries})["changed"] is True
    assert described(aws)["Metrics"][0]["Expression"] == queries[0]["Expression"]

    queries[3]["MetricStat"]["Period"] = 300
    assert run(**{**ERROR_RATE, "metrics": queries})["changed"] is True
    queries[3]["MetricStat"]["Metric"]["Dimensions"] = []
    assert run(**{**ERROR_RATE, "metrics": queries})["changed"] is True
    assert run(**{**ERROR_RATE, "metrics": queries})["changed"] is False


def test_switch_between_single_metric_and_metric_math(run, aws):
    run(**CPU)
    assert run(**ERROR_RATE)["changed"] is True
    aws_alarm = described(aws)
    assert len(aws_alarm["Metrics"]) == 4 and "MetricName" not in aws_alarm
    assert run(**CPU)["changed"] is True
    aws_alarm = described(aws)
    assert aws_alarm["Metrics"] == [] and aws_alarm["MetricName"] == "CPUUtilization"


def test_anomaly_detection_alarm(run, aws, calls):
    result = run(**ANOMALY)
    assert result["changed"] is True
    aws_alarm = described(aws)
    assert aws_alarm["ThresholdMetricId"] == "ad1"
    assert "Threshold" not in aws_alarm
    assert [q["ReturnData"] for q in aws_alarm["Metrics"]] == [True, True]
    calls.clear()
    assert run(**ANOMALY)["changed"] is False
    assert calls == ["DescribeAlarms"]


def test_account_id_is_sent(run, monkeypatch):
    sent = []
    original = botocore.client.BaseClient._make_api_call

    def recording(self, operation_name, api_params):
        if operation_name == "PutMetricAlarm":
            sent.append(api_params)
        return original(self, operation_name, api_params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", recording)
    queries = copy.deepcopy(ERROR_RATE["metrics"])
    queries[3]["AccountId"] = "210987654321"
    run(**{**ERROR_RATE, "metrics": queries})
    assert sent[0]["Metrics"][3]["AccountId"] == "210987654321"
    assert sent[0]["AlarmName"] == NAME
    assert "Tags" not in sent[0]


# --- tags ---------------------------------------------------------------------------------------------------


def test_tags(run, aws, calls):
    result = run(**CPU, tags={"app": "sage", "old": "x", "Version": 2})
    assert result["changed"] is True
    assert calls == ["DescribeAlarms", "PutMetricAlarm", "DescribeAlarms"]  # tags given to PutMetricAlarm
    assert result["alarm"]["tags"] == {"app": "sage", "old": "x", "Version": "2"}
    assert aws_tags(aws) == {"app": "sage", "old": "x", "Version": "2"}

    calls.clear()
    result = run(**CPU, tags={"app": "sage", "old": "x", "Version": 2})
    assert result["changed"] is False
    assert calls == ["DescribeAlarms", "ListTagsForResource"]

    calls.clear()
    result = run(**CPU, tags={"app": "sage", "new": "y"})
    assert result["changed"] is True
    assert calls == ["DescribeAlarms", "ListTagsForResource", "UntagResource", "TagResource"]
    assert result["alarm"]["tags"] == {"app": "sage", "new": "y"}
    assert aws_tags(aws) == {"app": "sage", "new": "y"}

    result = run(**CPU, tags={"more": "z"}, purge_tags=False)
    assert result["changed"] is True
    assert aws_tags(aws) == {"app": "sage", "new": "y", "more": "z"}

    calls.clear()
    result = run(**CPU)  # tags not given: not managed, not read
    assert result["changed"] is False
    assert calls == ["DescribeAlarms"]
    assert "tags" not in result["alarm"]

    result = run(**{**CPU, "threshold": 1}, tags={})
    assert result["changed"] is True
    assert aws_tags(aws) == {}
    assert described(aws)["Threshold"] == 1.0


# --- check mode and diff ------------------------------------------------------------------------------------


def test_check_mode_makes_no_change(run, aws, calls):
    result = run(check_mode=True, **ERROR_RATE, tags={"a": "b"})
    assert result["changed"] is True
    assert calls == ["DescribeAlarms"]
    assert described(aws) is None
    alarm = result["alarm"]
    assert alarm["alarm_arn"] is None
    assert alarm["alarm_name"] == NAME
    assert len(alarm["metrics"]) == 4
    assert alarm["tags"] == {"a": "b"}

    run(**CPU, tags={"a": "b"})
    calls.clear()
    result = run(check_mode=True, **{**CPU, "threshold": 99, "statistic": "Maximum"}, tags={"c": "d"})
    assert result["changed"] is True
    assert mutating(calls) == []
    assert result["alarm"]["threshold"] == 99.0
    assert result["alarm"]["statistic"] == "Maximum"
    assert result["alarm"]["alarm_arn"].endswith(f":alarm:{NAME}")
    assert result["alarm"]["tags"] == {"c": "d"}
    assert described(aws)["Threshold"] == 80.0
    assert aws_tags(aws) == {"a": "b"}

    calls.clear()
    result = run(check_mode=True, state="absent")
    assert result["changed"] is True
    assert mutating(calls) == []
    assert described(aws) is not None


def test_diff(run, aws):
    result = run(diff=True, **CPU, alarm_actions=[TOPIC_B, TOPIC_A])
    assert result["diff"]["before"] == {}
    after = result["diff"]["after"]
    assert after["alarm_actions"] == [TOPIC_A, TOPIC_B]
    assert after["threshold"] == 80.0
    assert after["datapoints_to_alarm"] == 5
    assert after["treat_missing_data"] == "missing"
    assert after["dimensions"] == [{"name": "ClusterName", "value": "sage"}, {"name": "ServiceName", "value": "web"}]
    assert "tags" not in after

    result = run(diff=True, **{**CPU, "threshold": 90}, alarm_actions=[TOPIC_A], tags={"a": "b"})
    before, after = result["diff"]["before"], result["diff"]["after"]
    assert before["threshold"] == 80.0 and after["threshold"] == 90.0
    assert before["alarm_actions"] == [TOPIC_A, TOPIC_B] and after["alarm_actions"] == [TOPIC_A]
    assert before["tags"] == {} and after["tags"] == {"a": "b"}
    assert {k: v for k, v in before.items() if k not in ("threshold", "alarm_actions", "tags")} == {
        k: v for k, v in after.items() if k not in ("threshold", "alarm_actions", "tags")
    }

    result = run(diff=True, **{**CPU, "threshold": 90}, alarm_actions=[TOPIC_A], tags={"a": "b"})
    assert result["changed"] is False
    assert result["diff"]["before"] == result["diff"]["after"]

    result = run(diff=True, state="absent")
    assert result["diff"]["before"]["threshold"] == 90.0
    assert result["diff"]["after"] == {}


def test_diff_of_a_metric_math_alarm(run):
    result = run(diff=True, **ERROR_RATE)
    metrics = result["diff"]["after"]["metrics"]
    assert [q["id"] for q in metrics] == ["error_rate", "m1", "m2", "requests"]
    assert metrics[1]["metric_stat"]["period"] == 60
    assert "period" not in result["diff"]["after"]


# --- absent -------------------------------------------------------------------------------------------------


def test_absent_deletes_then_is_idempotent(run, aws, calls):
    run(**CPU)
    calls.clear()
    result = run(state="absent")
    assert result["changed"] is True
    assert calls == ["DescribeAlarms", "DeleteAlarms"]
    assert result["alarm"]["alarm_name"] == NAME
    assert described(aws) is None

    calls.clear()
    result = run(state="absent")
    assert result["changed"] is False
    assert result["alarm"] == {}
    assert calls == ["DescribeAlarms"]


def test_absent_ignores_the_alarm_options(run, calls):
    """The options of a present alarm are not checked when it is to be absent."""
    result = run(state="absent", metric_name="X", namespace="N", period=7, evaluation_periods=0)
    assert result["changed"] is False
    assert calls == ["DescribeAlarms"]


# --- errors -------------------------------------------------------------------------------------------------


def composite_alarm():
    cloudwatch_backends[DEFAULT_ACCOUNT_ID][REGION].put_metric_alarm(
        name=NAME,
        namespace=None,
        metric_name=None,
        comparison_operator=None,
        evaluation_periods=None,
        period=None,
        threshold=None,
        statistic=None,
        description=None,
        dimensions=[],
        alarm_actions=[],
        rule="ALARM(other)",
    )


@pytest.mark.parametrize("state", ["present", "absent"])
def test_composite_alarm_of_that_name_fails_clearly(run, aws, requests, state):
    composite_alarm()
    msg = run.fail(state=state, **CPU)
    assert msg == (
        f"CloudWatch alarm {NAME} is a composite alarm; sage.infra.cloudwatch_metric_alarm manages metric alarms only"
    )
    # AWS returns composite alarms only when asked for them (moto returns them anyway).
    assert requests == [("DescribeAlarms", {"AlarmNames": [NAME], "AlarmTypes": ["MetricAlarm", "CompositeAlarm"]})]


def test_describe_access_denied_fails_clearly(run, monkeypatch):
    def denied(self, operation_name, api_params):
        raise ClientError({"Error": {"Code": "AccessDenied", "Message": "not authorized"}}, operation_name)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", denied)
    msg = run.fail(**CPU)
    assert msg.startswith(f"Failed to describe CloudWatch alarm {NAME}: ")
    assert "AccessDenied" in msg


def with_query(index, **changes):
    """ERROR_RATE with query ``index`` changed (a None value removes the key)."""
    queries = copy.deepcopy(ERROR_RATE["metrics"])
    queries[index].update(changes)
    queries[index] = {k: v for k, v in queries[index].items() if v is not None}
    return {**ERROR_RATE, "metrics": queries}


def with_stat(index, **changes):
    args = with_query(index)
    args["metrics"][index]["MetricStat"].update(changes)
    return args


def cpu_without(*keys):
    return {k: v for k, v in CPU.items() if k not in keys}


SINGLE = cpu_without("statistic")
BAD_INPUTS = {
    "no metric": (
        cpu_without("metric_name", "namespace", "statistic", "period"),
        "state is present but any of the following are missing: metric_name, metrics",
    ),
    "no comparison_operator": (
        cpu_without("comparison_operator"),
        "state is present but all of the following are missing: comparison_operator",
    ),
    "no evaluation_periods": (
        cpu_without("evaluation_periods"),
        "state is present but all of the following are missing: evaluation_periods",
    ),
    "metrics and metric_name": ({**ERROR_RATE, "metric_name": "X"}, "parameters are mutually exclusive: metrics|"),
    "metrics and dimensions": ({**ERROR_RATE, "dimensions": {"a": "b"}}, "mutually exclusive: metrics|dimensions"),
    "no namespace": (
        cpu_without("namespace"),
        "missing parameter(s) required by 'metric_name': namespace",
    ),
    "no statistic": (SINGLE, "needs exactly one of statistic and extended_statistic"),
    "both statistics": (
        {**CPU, "extended_statistic": "p95"},
        "parameters are mutually exclusive: statistic|extended_statistic",
    ),
    "bad extended_statistic": ({**SINGLE, "extended_statistic": "p101"}, "extended_statistic must be a percentile"),
    "bad statistic": ({**CPU, "statistic": "Avg"}, "value of statistic must be one of"),
    "bad period": ({**CPU, "period": 90}, "period must be 10, 20, 30 (high resolution) or a multiple of 60 seconds"),
    "evaluation_periods 0": ({**CPU, "evaluation_periods": 0}, "evaluation_periods must be at least 1; got 0"),
    "datapoints above evaluation_periods": (
        {**CPU, "datapoints_to_alarm": 6},
        "datapoints_to_alarm must be from 1 to evaluation_periods (5); got 6",
    ),
    "datapoints 0": ({**CPU, "datapoints_to_alarm": 0}, "datapoints_to_alarm must be from 1"),
    "no threshold": (cpu_without("threshold"), "threshold is required"),
    "threshold and threshold_metric_id": (
        {**ANOMALY, "threshold": 1},
        "parameters are mutually exclusive: threshold|threshold_metric_id",
    ),
    "band operator without band": (
        {**CPU, "comparison_operator": "LessThanLowerThreshold"},
        "comparison_operator LessThanLowerThreshold is for anomaly detection; it needs threshold_metric_id",
    ),
    "band without metrics": (
        {**cpu_without("threshold"), "threshold_metric_id": "ad1"},
        "threshold_metric_id needs metrics",
    ),
    "band operator missing": (
        {**ANOMALY, "comparison_operator": "GreaterThanThreshold"},
        "with threshold_metric_id, comparison_operator must be one of",
    ),
    "band id unknown": ({**ANOMALY, "threshold_metric_id": "ad2"}, "threshold_metric_id ad2 is not the Id of a query"),
    "band id is a metric": (
        {**ANOMALY, "threshold_metric_id": "m1"},
        "threshold_metric_id m1 must name an ANOMALY_DETECTION_BAND Expression",
    ),
    "band not returning": (
        {**ANOMALY, "metrics": [ANOMALY["metrics"][0], {**ANOMALY["metrics"][1], "ReturnData": False}]},
        "with threshold_metric_id, query ad1 and exactly one other query must have ReturnData true",
    ),
    "empty metrics": ({**ERROR_RATE, "metrics": []}, "metrics must have at least one query"),
    "duplicate ids": (with_query(1, Id="m2"), "metrics: the query Ids must be unique; repeated: m2"),
    "bad id": (with_query(1, Id="M1"), "metrics[1].Id must start with a lowercase letter"),
    "no id": (with_query(1, Id=None), "metrics[1].Id must start with a lowercase letter"),
    "no ReturnData true": (with_query(0, ReturnData=False), "exactly one query must have ReturnData true"),
    "ReturnData defaulting to true twice": (
        with_query(1, ReturnData=None),
        "exactly one query must have ReturnData true (the others false; it defaults to true); found 2: error_rate, m1",
    ),
    "bad ReturnData": (with_query(1, ReturnData="maybe"), "metrics[1] (Id m1).ReturnData must be a boolean"),
    "expression and metric stat": (
        with_query(1, Expression="m2"),
        "metrics[1] (Id m1) must have exactly one of Expression and MetricStat",
    ),
    "neither expression nor metric stat": (
        with_query(1, MetricStat=None),
        "metrics[1] (Id m1) must have exactly one of Expression and MetricStat",
    ),
    "unknown query key": (with_query(1, Returndata=False), "metrics[1] has unknown key(s) Returndata; allowed: Id,"),
    "bad metric stat period": (with_stat(2, Period=45), "metrics[2] (Id m2).MetricStat.Period must be 10, 20, 30"),
    "no metric stat period": (with_stat(2, Period=None), "metrics[2] (Id m2).MetricStat.Period is required"),
    "no stat": (with_stat(2, Stat=None), "metrics[2] (Id m2).MetricStat.Stat must be a non-empty string"),
    "bad unit": (with_stat(2, Unit="Percents"), "metrics[2] (Id m2).MetricStat.Unit must be one of Seconds,"),
    "no metric name": (
        with_stat(2, Metric={"Namespace": "N"}),
        "metrics[2] (Id m2).MetricStat.Metric.MetricName must be a non-empty string",
    ),
    "bad dimension": (
        with_stat(2, Metric={"Namespace": "N", "MetricName": "X", "Dimensions": [{"Name": "a"}]}),
        "metrics[2] (Id m2).MetricStat.Metric.Dimensions[0].Value must be a non-empty string",
    ),
    "bad query period": (with_query(0, Period="1m"), "metrics[0] (Id error_rate).Period must be a whole number"),
    "bad dimension value": ({**CPU, "dimensions": {"ClusterName": ["a"]}}, "dimensions: the value of ClusterName"),
}


@pytest.mark.parametrize("args, expected", BAD_INPUTS.values(), ids=BAD_INPUTS.keys())
def test_bad_input_fails_clearly_before_any_aws_call(run, calls, args, expected):
    msg = run.fail(**args)
    assert expected in msg
    assert calls == []


def test_high_resolution_periods_are_accepted(run, aws):
    assert run(**{**CPU, "period": 10})["changed"] is True
    assert described(aws)["Period"] == 10
    assert run(**with_stat(1, Period=30))["changed"] is True


# --- several alarms in one run (alarms) ---------------------------------------------------------------------


@pytest.fixture
def run_many(module_runner):
    return module_runner(mod.main, region=REGION)


def test_alarms_in_one_run_share_options_and_one_describe(run_many, aws, calls):
    shared = {"alarm_actions": [TOPIC_A], "ok_actions": [TOPIC_A], "tags": {"app": "sage"}}
    items = [{"name": "cpu", **CPU}, {"name": "errors", **ERROR_RATE, "ok_actions": []}]
    result = run_many(alarms=items, **shared)
    assert result["changed"] is True
    assert calls.count("DescribeAlarms") == 3  # all of them, then each created one
    assert [alarm["alarm_name"] for alarm in result["alarms"]] == ["cpu", "errors"]
    assert described(aws, "cpu")["OKActions"] == [TOPIC_A], "an option beside alarms applies to each"
    assert described(aws, "errors")["OKActions"] == [], "an item's own option wins"
    assert described(aws, "errors")["AlarmActions"] == [TOPIC_A]
    assert aws_tags(aws, "cpu") == aws_tags(aws, "errors") == {"app": "sage"}

    calls.clear()
    result = run_many(alarms=items, **shared)
    assert result["changed"] is False
    assert calls == ["DescribeAlarms", "ListTagsForResource", "ListTagsForResource"]
    assert [alarm["threshold"] for alarm in result["alarms"]] == [80.0, 5.0]


def test_alarms_change_only_what_differs_and_diff_by_name(run_many, aws, calls):
    run_many(alarms=[{"name": "cpu", **CPU}, {"name": "errors", **ERROR_RATE}])
    calls.clear()
    changed = [{"name": "cpu", **CPU, "threshold": 90}, {"name": "errors", "state": "absent"}]
    result = run_many(alarms=changed, check_mode=True, diff=True)
    assert result["changed"] is True
    assert mutating(calls) == []
    assert described(aws, "cpu")["Threshold"] == 80.0 and described(aws, "errors") is not None

    result = run_many(alarms=[*changed, {"name": "same", **CPU}], diff=True)
    assert sorted(result["diff"]["before"]) == ["cpu", "errors", "same"]
    assert result["diff"]["before"]["same"] == {} and result["diff"]["after"]["same"]["threshold"] == 80.0
    assert result["diff"]["before"]["cpu"]["threshold"] == 80.0
    assert result["diff"]["after"]["cpu"]["threshold"] == 90.0
    assert result["diff"]["after"]["errors"] == {}
    assert described(aws, "cpu")["Threshold"] == 90.0 and described(aws, "errors") is None

    result = run_many(alarms=[*changed, {"name": "same", **CPU}], diff=True)
    assert result["changed"] is False
    assert result["diff"] == {"before": {}, "after": {}}


def test_alarms_are_described_a_hundred_at_a_time(run_many, calls):
    result = run_many(alarms=[{"name": f"gone-{n}"} for n in range(150)], state="absent")
    assert result["changed"] is False
    assert calls == ["DescribeAlarms", "DescribeAlarms"]


ALARMS_BAD_INPUTS = {
    "an item's missing option": (
        {"alarms": [{"name": "a", **CPU}, {"name": "b", **cpu_without("comparison_operator")}]},
        "alarms[1] (b): state is present but all of the following are missing: comparison_operator",
    ),
    "an item's bad value": (
        {"alarms": [{"name": "a", **CPU, "period": 90}]},
        "alarms[0] (a): period must be 10, 20, 30 (high resolution) or a multiple of 60 seconds",
    ),
    "an item without a name": ({"alarms": [CPU]}, "alarms[0]: missing required arguments: name"),
    "an unknown option": ({"alarms": [{"name": "a", **CPU, "treshold": 1}]}, "alarms[0] (a): Unsupported parameters"),
    "repeated names": (
        {"alarms": [{"name": "a", **CPU}, {"name": "a", **CPU}]},
        "alarms: the names must be unique; repeated: a",
    ),
    "name and alarms": ({"name": "a", "alarms": [{"name": "b", **CPU}]}, "mutually exclusive: name|alarms"),
    "neither": ({}, "one of the following is required: name, alarms"),
}


@pytest.mark.parametrize("args, expected", ALARMS_BAD_INPUTS.values(), ids=ALARMS_BAD_INPUTS.keys())
def test_alarms_bad_input_fails_naming_the_item_before_any_aws_call(run_many, calls, args, expected):
    assert expected in run_many.fail(**args)
    assert calls == []
