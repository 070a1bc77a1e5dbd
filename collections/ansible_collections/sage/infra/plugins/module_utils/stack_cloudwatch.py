# Copyright: Contributors to the sage-infra project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""CloudWatch metric alarms and dashboards, as sage.infra.cloudwatch_metric_alarm and sage.infra.cloudwatch_dashboard
manage them. Both modules compare with the functions here: an alarm through ``alarm_view`` (the configuration
PutMetricAlarm sets, normalised), a dashboard through ``same_body``.

In a plan, an alarm's desired state is the options of sage.infra.cloudwatch_metric_alarm for it (``name`` and
``state`` aside); it is compared in the view of those options (``alarm_state``), every option, so that a setting
added by hand (a unit, an action) differs as it does for the module."""

from __future__ import annotations

import json

from ansible.module_utils.common.text.converters import to_text
from ansible.module_utils.parsing.convert_bool import boolean
from ansible_collections.sage.infra.plugins.module_utils.stack import Kind, fan_out, own_tags, register, tag_dict

STATISTICS = ["SampleCount", "Average", "Sum", "Minimum", "Maximum"]
THRESHOLD_OPERATORS = [
    "GreaterThanOrEqualToThreshold",
    "GreaterThanThreshold",
    "LessThanThreshold",
    "LessThanOrEqualToThreshold",
]
BAND_OPERATORS = ["LessThanLowerOrGreaterThanUpperThreshold", "LessThanLowerThreshold", "GreaterThanUpperThreshold"]
UNITS = [
    "Seconds",
    "Microseconds",
    "Milliseconds",
    "Bytes",
    "Kilobytes",
    "Megabytes",
    "Gigabytes",
    "Terabytes",
    "Bits",
    "Kilobits",
    "Megabits",
    "Gigabits",
    "Terabits",
    "Percent",
    "Count",
    "Bytes/Second",
    "Kilobytes/Second",
    "Megabytes/Second",
    "Gigabytes/Second",
    "Terabytes/Second",
    "Bits/Second",
    "Kilobits/Second",
    "Megabits/Second",
    "Gigabits/Second",
    "Terabits/Second",
    "Count/Second",
    "None",
]
SINGLE_METRIC_OPTIONS = ["metric_name", "namespace", "statistic", "extended_statistic", "dimensions", "period", "unit"]
# The keys of a DescribeAlarms entry that PutMetricAlarm sets (they have the same names in both).
SINGLE_METRIC_KEYS = ("MetricName", "Namespace", "Statistic", "ExtendedStatistic", "Dimensions", "Period", "Unit")
CONFIG_KEYS = (
    "AlarmDescription",
    "ActionsEnabled",
    "OKActions",
    "AlarmActions",
    "InsufficientDataActions",
    *SINGLE_METRIC_KEYS,
    "EvaluationPeriods",
    "DatapointsToAlarm",
    "Threshold",
    "ComparisonOperator",
    "TreatMissingData",
    "EvaluateLowSampleCountPercentile",
    "Metrics",
    "ThresholdMetricId",
)
ACTION_KEYS = ("AlarmActions", "OKActions", "InsufficientDataActions")
# Each configuration key as the module's option that sets it: the vocabulary of an alarm in a plan.
OPTION_BY_KEY = {
    "AlarmDescription": "description",
    "ActionsEnabled": "actions_enabled",
    "OKActions": "ok_actions",
    "AlarmActions": "alarm_actions",
    "InsufficientDataActions": "insufficient_data_actions",
    "MetricName": "metric_name",
    "Namespace": "namespace",
    "Statistic": "statistic",
    "ExtendedStatistic": "extended_statistic",
    "Dimensions": "dimensions",
    "Period": "period",
    "Unit": "unit",
    "EvaluationPeriods": "evaluation_periods",
    "DatapointsToAlarm": "datapoints_to_alarm",
    "Threshold": "threshold",
    "ComparisonOperator": "comparison_operator",
    "TreatMissingData": "treat_missing_data",
    "EvaluateLowSampleCountPercentile": "evaluate_low_sample_count_percentile",
    "Metrics": "metrics",
    "ThresholdMetricId": "threshold_metric_id",
}

# The options of one alarm of sage.infra.cloudwatch_metric_alarm, with their defaults.
ALARM_OPTIONS = {
    "name": {"type": "str", "required": True},
    "state": {"type": "str", "default": "present", "choices": ["present", "absent"]},
    "description": {"type": "str"},
    "metric_name": {"type": "str"},
    "namespace": {"type": "str"},
    "statistic": {"type": "str", "choices": STATISTICS},
    "extended_statistic": {"type": "str"},
    "dimensions": {"type": "dict"},
    "period": {"type": "int"},
    "unit": {"type": "str", "choices": UNITS},
    "metrics": {"type": "list", "elements": "dict"},
    "comparison_operator": {"type": "str", "choices": THRESHOLD_OPERATORS + BAND_OPERATORS},
    "threshold": {"type": "float"},
    "threshold_metric_id": {"type": "str"},
    "evaluation_periods": {"type": "int"},
    "datapoints_to_alarm": {"type": "int"},
    "treat_missing_data": {
        "type": "str",
        "default": "missing",
        "choices": ["breaching", "notBreaching", "ignore", "missing"],
    },
    "evaluate_low_sample_count_percentile": {"type": "str", "choices": ["evaluate", "ignore"]},
    "alarm_actions": {"type": "list", "elements": "str", "default": []},
    "ok_actions": {"type": "list", "elements": "str", "default": []},
    "insufficient_data_actions": {"type": "list", "elements": "str", "default": []},
    "actions_enabled": {"type": "bool", "default": True},
    "tags": {"type": "dict", "aliases": ["resource_tags"]},
    "purge_tags": {"type": "bool", "default": True},
}


# --- the desired alarm, and the normalised view both it and the described alarm are compared in --------------


def desired_alarm(params, metrics):
    """The alarm the options describe, in the shape of a DescribeAlarms entry (also PutMetricAlarm's parameters)."""
    alarm = {
        "AlarmName": params["name"],
        "ActionsEnabled": params["actions_enabled"],
        "OKActions": list(params["ok_actions"]),
        "AlarmActions": list(params["alarm_actions"]),
        "InsufficientDataActions": list(params["insufficient_data_actions"]),
        "EvaluationPeriods": params["evaluation_periods"],
        "ComparisonOperator": params["comparison_operator"],
        "TreatMissingData": params["treat_missing_data"],
    }
    optional = {
        "AlarmDescription": params["description"],
        "DatapointsToAlarm": params["datapoints_to_alarm"],
        "Threshold": params["threshold"],
        "ThresholdMetricId": params["threshold_metric_id"],
        "EvaluateLowSampleCountPercentile": params["evaluate_low_sample_count_percentile"],
    }
    if metrics is None:
        optional.update(
            MetricName=params["metric_name"],
            Namespace=params["namespace"],
            Statistic=params["statistic"],
            ExtendedStatistic=params["extended_statistic"],
            Period=params["period"],
            Unit=params["unit"],
        )
        dimensions = params["dimensions"] or {}
        if dimensions:
            alarm["Dimensions"] = [{"Name": name, "Value": to_text(value)} for name, value in dimensions.items()]
    else:
        alarm["Metrics"] = metrics
    alarm.update({key: value for key, value in optional.items() if value is not None})
    return alarm


def dimensions_view(dimensions):
    return sorted(
        ({"Name": d.get("Name"), "Value": d.get("Value")} for d in dimensions or []),
        key=lambda d: (d["Name"] or "", d["Value"] or ""),
    )


def compact(view):
    """Drop the keys without a value (None, or an empty dimension list), so that absent and None compare equal."""
    return {key: value for key, value in view.items() if value is not None and not (key == "Dimensions" and not value)}


def _whole(value):
    """A whole number given as text ("60", as templating may leave it) as the number; anything else as it is."""
    return int(value) if isinstance(value, str) and value.strip().isdigit() else value


def query_view(query):
    view = {
        "Id": query.get("Id"),
        "Expression": query.get("Expression"),
        "Label": query.get("Label") or None,
        "AccountId": query.get("AccountId") or None,
        "ReturnData": boolean(query.get("ReturnData", True), strict=False),  # the API default
        "Period": _whole(query.get("Period")),
    }
    stat = query.get("MetricStat")
    if stat:
        metric = stat.get("Metric") or {}
        view["MetricStat"] = compact(
            {
                "Metric": compact(
                    {
                        "Namespace": metric.get("Namespace"),
                        "MetricName": metric.get("MetricName"),
                        "Dimensions": dimensions_view(metric.get("Dimensions")),
                    }
                ),
                "Period": _whole(stat.get("Period")),
                "Stat": stat.get("Stat"),
                "Unit": stat.get("Unit"),
            }
        )
        if view["Period"] == view["MetricStat"].get("Period"):
            view["Period"] = None  # the period of a MetricStat query is the one of its MetricStat
    return compact(view)


def alarm_view(alarm):
    """The managed configuration of an alarm (described or desired), normalised for comparison.

    Action lists and dimensions are sorted, queries sorted by Id, the threshold is a float, and the defaults
    AWS applies are made explicit: DatapointsToAlarm is EvaluationPeriods, TreatMissingData is missing,
    ActionsEnabled is true, ReturnData is true. An empty description or low sample count setting is none.
    """
    view = {key: alarm.get(key) for key in CONFIG_KEYS}
    view["AlarmDescription"] = view["AlarmDescription"] or None
    view["ActionsEnabled"] = True if view["ActionsEnabled"] is None else view["ActionsEnabled"]
    for key in ACTION_KEYS:
        view[key] = sorted(set(view[key] or []))
    view["Dimensions"] = dimensions_view(view["Dimensions"])
    view["Metrics"] = sorted((query_view(q) for q in view["Metrics"] or []), key=lambda q: q["Id"] or "") or None
    if view["Metrics"]:
        for key in SINGLE_METRIC_KEYS:
            view[key] = None  # a metric math alarm has its metrics and periods in its queries
    if view["DatapointsToAlarm"] is None:
        view["DatapointsToAlarm"] = view["EvaluationPeriods"]
    view["TreatMissingData"] = view["TreatMissingData"] or "missing"
    view["EvaluateLowSampleCountPercentile"] = view["EvaluateLowSampleCountPercentile"] or None
    if view["ThresholdMetricId"]:
        view["Threshold"] = None  # an anomaly detection alarm compares with its band, not a threshold
    elif view["Threshold"] is not None:
        view["Threshold"] = float(view["Threshold"])
    return compact(view)


def alarm_state(view):
    """An alarm_view in the module's vocabulary: every option, None where the alarm has no such setting."""
    return {option: view.get(key) for key, option in OPTION_BY_KEY.items()}


def desired_state(options):
    """The alarm_state the options of one alarm of the module (with its defaults) would give the alarm."""
    params = {option: spec.get("default") for option, spec in ALARM_OPTIONS.items()}
    params.update(options)
    for option in ("evaluation_periods", "datapoints_to_alarm", "period"):
        params[option] = _whole(params[option])
    return alarm_state(alarm_view(desired_alarm(params, params["metrics"])))


class AlarmKind(Kind):
    """An alarm: the desired options are compared, as the module compares them, in the view of every option;
    tags (when given) as the module's purge_tags does."""

    def changes(self, desired, current):
        want = desired_state({key: value for key, value in desired.items() if key not in ("name", "state", "tags")})
        if desired.get("tags") is not None:
            want["tags"] = {key: to_text(value) for key, value in own_tags(desired["tags"]).items()}
        return super().changes(want, current)


register(AlarmKind("alarm"))


def read_alarms(client, names):
    """{name: alarm_state with its tags and ARN, or None}: one DescribeAlarms call per 100 names, then the tags of
    each alarm found (ListTagsForResource), concurrently. A composite alarm of such a name is not a metric alarm:
    None (the module then fails, naming it)."""
    names = list(dict.fromkeys(names or []))
    found = {}
    for first in range(0, len(names), 100):
        chunk = names[first : first + 100]
        for page in client.get_paginator("describe_alarms").paginate(AlarmNames=chunk, AlarmTypes=["MetricAlarm"]):
            found.update((alarm["AlarmName"], alarm) for alarm in page.get("MetricAlarms") or [])

    def read(name):
        alarm = found[name]
        tags = client.list_tags_for_resource(ResourceARN=alarm["AlarmArn"]).get("Tags")
        return dict(alarm_state(alarm_view(alarm)), tags=tag_dict(tags), arn=alarm["AlarmArn"])

    read_found = fan_out(read, [name for name in names if name in found])
    return {name: read_found.get(name) for name in names}


# --- dashboards ----------------------------------------------------------------------------------------------


def serialise(body):
    return json.dumps(body, sort_keys=True, separators=(",", ":"), allow_nan=False)


def normalise(value):
    """The value with integral floats made ints, so that 80 and 80.0 compare equal."""
    if isinstance(value, dict):
        return {key: normalise(item) for key, item in value.items()}
    if isinstance(value, list):
        return [normalise(item) for item in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def same_body(a, b):
    # Compared as canonical JSON rather than as Python values, where True == 1 and False == 0.
    try:
        return serialise(normalise(a)) == serialise(normalise(b))
    except ValueError:
        return False  # NaN or infinity: not a body the module would leave alone


register(Kind("dashboard", compare={"body": same_body}))


def read_dashboards(client, names):
    """{name: {body, arn} or None}: one GetDashboard call each, concurrently."""

    def read(name):
        try:
            response = client.get_dashboard(DashboardName=name)
        except client.exceptions.ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ResourceNotFound":
                raise
            return None
        return {"body": json.loads(response.get("DashboardBody") or "{}"), "arn": response.get("DashboardArn")}

    return fan_out(read, names)


READERS = {"alarm": ("cloudwatch", read_alarms), "dashboard": ("cloudwatch", read_dashboards)}
