#!/usr/bin/python


# Copyright: Contributors to the sage-infra project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: cloudwatch_metric_alarm
version_added: 0.1.0
short_description: Manage CloudWatch metric alarms, single-metric or metric math, idempotently
description:
  - Create, update or delete an Amazon CloudWatch metric alarm, watching either a single metric
    (O(metric_name), O(namespace), O(statistic) or O(extended_statistic), O(dimensions), O(period))
    or a metric math expression (O(metrics)); or several alarms in one run with O(alarms).
  - Unlike M(amazon.aws.cloudwatch_metric_alarm), the alarm C(DescribeAlarms) returns is compared with
    the desired one after normalising both (order of dimensions, queries and actions, numbers, and the
    defaults AWS fills in), so a run that changes nothing, metric math alarms included, reports no change
    and makes a single C(DescribeAlarms) call, plus one C(ListTagsForResource) call when O(tags) is set.
  - C(PutMetricAlarm) replaces the whole alarm, so the options describe the whole alarm. An option that
    is not set is not left as it is but set to the AWS default; for example, an alarm action not in
    O(alarm_actions) is removed.
  - The options are checked before any AWS call, and a bad value fails naming the option.
  - After a C(PutMetricAlarm) call, the alarm is described again for RV(alarm).
  - With O(alarms), one run manages many alarms with one C(DescribeAlarms) call per 100 of them (plus their
    C(ListTagsForResource) calls), rather than one run and one C(DescribeAlarms) call each.
author:
  - sage-infra developers (!UNKNOWN)
options:
  name:
    description:
      - Name of the alarm, unique in the account and region.
      - Exactly one of O(name) and O(alarms) is required.
    type: str
  alarms:
    description:
      - Several alarms in one run, each a dict of the options of one alarm (O(name), O(state), O(description),
        O(metric_name) ... O(tags), O(purge_tags)), checked as they are when given directly, all of them before
        any AWS call.
      - An option given beside O(alarms) applies to each alarm that does not set it, for example the actions
        and the tags shared by all of them.
      - The names must be unique in the list. Mutually exclusive with O(name).
    type: list
    elements: dict
  state:
    description:
      - Whether the alarm should exist.
      - The module fails when O(name) is a composite alarm, with either state.
    type: str
    choices: ['present', 'absent']
    default: present
  description:
    description:
      - Description of the alarm. No description when not set.
    type: str
  metric_name:
    description:
      - For a single-metric alarm, name of the metric, for example V(CPUUtilization).
      - Requires O(namespace), O(period), and one of O(statistic) and O(extended_statistic).
      - With O(state=present), one of O(metric_name) and O(metrics) is required.
    type: str
  namespace:
    description:
      - For a single-metric alarm, namespace of the metric, for example V(AWS/ECS).
    type: str
  statistic:
    description:
      - For a single-metric alarm, the statistic of the metric. Mutually exclusive with O(extended_statistic).
    type: str
    choices: ['SampleCount', 'Average', 'Sum', 'Minimum', 'Maximum']
  extended_statistic:
    description:
      - For a single-metric alarm, a percentile or other extended statistic, for example V(p95) or V(p99.9).
        Mutually exclusive with O(statistic).
      - One of V(pN), V(tmN), V(tcN), V(tsN), V(wmN) with N from 0 to 100, V(IQM), V(PR(n:m)),
        V(TM(X%:Y%)), V(TC(X%:Y%)), V(TS(X%:Y%)) or V(WM(X%:Y%)).
    type: str
  dimensions:
    description:
      - For a single-metric alarm, dimensions of the metric, as a dict of names to values,
        for example C(ClusterName) V(sage) and C(ServiceName) V(web) (see the examples).
    type: dict
  period:
    description:
      - For a single-metric alarm, length in seconds of each evaluation period.
      - V(10), V(20), V(30) (high resolution metrics) or a multiple of V(60).
    type: int
  unit:
    description:
      - For a single-metric alarm, the unit of the metric. When not set, the alarm uses the data of any unit.
    type: str
    choices: ['Seconds', 'Microseconds', 'Milliseconds', 'Bytes', 'Kilobytes', 'Megabytes', 'Gigabytes', 'Terabytes',
              'Bits', 'Kilobits', 'Megabits', 'Gigabits', 'Terabits', 'Percent', 'Count', 'Bytes/Second',
              'Kilobytes/Second', 'Megabytes/Second', 'Gigabytes/Second', 'Terabytes/Second', 'Bits/Second',
              'Kilobits/Second', 'Megabits/Second', 'Gigabits/Second', 'Terabits/Second', 'Count/Second', 'None']
  metrics:
    description:
      - For a metric math (or anomaly detection, or Metrics Insights) alarm, the C(MetricDataQuery) structures
        exactly as C(PutMetricAlarm) takes them, with their CamelCase keys, so that they can be pasted from
        the AWS documentation. Mutually exclusive with the single-metric options.
      - Each query has an C(Id) (a lowercase letter, then letters, digits and underscores, unique in the list),
        and either an C(Expression) or a C(MetricStat) (C(Metric) with C(Namespace), C(MetricName) and
        optional C(Dimensions) as a list of C(Name)/C(Value) dicts; C(Period); C(Stat); optional C(Unit)).
        Optional keys are C(Label), C(ReturnData), C(Period) and C(AccountId).
      - C(ReturnData) defaults to V(true) as in the API, so exactly one query must have C(ReturnData) V(true)
        and the others V(false); with O(threshold_metric_id), that query and exactly one other.
      - The order of the queries and of their dimensions does not matter.
    type: list
    elements: dict
  comparison_operator:
    description:
      - How the statistic or expression is compared with the threshold. Required with O(state=present).
      - The last three are for anomaly detection alarms, which require O(threshold_metric_id).
    type: str
    choices: ['GreaterThanOrEqualToThreshold', 'GreaterThanThreshold', 'LessThanThreshold',
              'LessThanOrEqualToThreshold', 'LessThanLowerOrGreaterThanUpperThreshold', 'LessThanLowerThreshold',
              'GreaterThanUpperThreshold']
  threshold:
    description:
      - The value to compare with. Required with O(state=present) unless O(threshold_metric_id) is set.
    type: float
  threshold_metric_id:
    description:
      - For an anomaly detection alarm, the C(Id) of the C(ANOMALY_DETECTION_BAND) expression in O(metrics)
        used as the threshold. Mutually exclusive with O(threshold).
    type: str
  evaluation_periods:
    description:
      - Number of periods over which data is compared with the threshold, at least 1.
        Required with O(state=present).
    type: int
  datapoints_to_alarm:
    description:
      - Number of breaching data points within O(evaluation_periods) that make the alarm go to C(ALARM)
        (an "M out of N" alarm), from 1 to O(evaluation_periods). Defaults to O(evaluation_periods).
    type: int
  treat_missing_data:
    description:
      - How missing data points are treated.
    type: str
    choices: ['breaching', 'notBreaching', 'ignore', 'missing']
    default: missing
  evaluate_low_sample_count_percentile:
    description:
      - For a percentile alarm, whether the alarm changes state during periods with too few data points
        to be statistically significant (V(evaluate)) or not (V(ignore)).
    type: str
    choices: ['evaluate', 'ignore']
  alarm_actions:
    description:
      - ARNs of the actions (for example SNS topics) run when the alarm goes to C(ALARM). The order does not matter.
    type: list
    elements: str
    default: []
  ok_actions:
    description:
      - ARNs of the actions run when the alarm goes to C(OK). The order does not matter.
    type: list
    elements: str
    default: []
  insufficient_data_actions:
    description:
      - ARNs of the actions run when the alarm goes to C(INSUFFICIENT_DATA). The order does not matter.
    type: list
    elements: str
    default: []
  actions_enabled:
    description:
      - Whether the actions run when the alarm changes state.
    type: bool
    default: true
notes:
  - In check mode nothing is changed; RV(alarm) then shows the alarm as it would be.
  - Tags are read with C(ListTagsForResource) only when O(tags) is set. They are given to C(PutMetricAlarm)
    when the alarm is created, and updated with C(TagResource) and C(UntagResource) on the alarm ARN.
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.tags
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: CPU of the web service above 80% for 3 minutes out of 5
  sage.infra.cloudwatch_metric_alarm:
    name: sage-web-cpu-high
    description: CPU of the web service above 80%
    namespace: AWS/ECS
    metric_name: CPUUtilization
    dimensions:
      ClusterName: sage
      ServiceName: web
    statistic: Average
    period: 60
    evaluation_periods: 5
    datapoints_to_alarm: 3
    comparison_operator: GreaterThanThreshold
    threshold: 80
    alarm_actions: ["{{ alerts_topic_arn }}"]
    ok_actions: ["{{ alerts_topic_arn }}"]
    tags:
      app: sage

- name: p95 latency of the load balancer above 1 second
  sage.infra.cloudwatch_metric_alarm:
    name: sage-alb-latency-p95
    namespace: AWS/ApplicationELB
    metric_name: TargetResponseTime
    dimensions:
      LoadBalancer: app/sage/0123456789abcdef
    extended_statistic: p95
    period: 300
    evaluation_periods: 2
    comparison_operator: GreaterThanThreshold
    threshold: 1
    treat_missing_data: notBreaching
    alarm_actions: ["{{ alerts_topic_arn }}"]

- name: 5XX error rate above 5%, only when there are requests
  sage.infra.cloudwatch_metric_alarm:
    name: sage-alb-5xx-rate
    metrics:
      - Id: error_rate
        Expression: "IF(requests > 10, 100 * (FILL(elb5xx, 0) + FILL(target5xx, 0)) / requests, 0)"
        Label: 5XX error rate (%)
        ReturnData: true
      - Id: elb5xx
        MetricStat:
          Metric:
            Namespace: AWS/ApplicationELB
            MetricName: HTTPCode_ELB_5XX_Count
            Dimensions: [{Name: LoadBalancer, Value: app/sage/0123456789abcdef}]
          Period: 60
          Stat: Sum
        ReturnData: false
      - Id: target5xx
        MetricStat:
          Metric:
            Namespace: AWS/ApplicationELB
            MetricName: HTTPCode_Target_5XX_Count
            Dimensions: [{Name: LoadBalancer, Value: app/sage/0123456789abcdef}]
          Period: 60
          Stat: Sum
        ReturnData: false
      - Id: requests
        MetricStat:
          Metric:
            Namespace: AWS/ApplicationELB
            MetricName: RequestCount
            Dimensions: [{Name: LoadBalancer, Value: app/sage/0123456789abcdef}]
          Period: 60
          Stat: Sum
        ReturnData: false
    evaluation_periods: 5
    datapoints_to_alarm: 3
    comparison_operator: GreaterThanThreshold
    threshold: 5
    treat_missing_data: notBreaching
    alarm_actions: ["{{ alerts_topic_arn }}"]

- name: Anomaly detection on the request count
  sage.infra.cloudwatch_metric_alarm:
    name: sage-alb-requests-anomaly
    metrics:
      - Id: m1
        MetricStat:
          Metric:
            Namespace: AWS/ApplicationELB
            MetricName: RequestCount
            Dimensions: [{Name: LoadBalancer, Value: app/sage/0123456789abcdef}]
          Period: 300
          Stat: Sum
      - Id: ad1
        Expression: ANOMALY_DETECTION_BAND(m1, 2)
    threshold_metric_id: ad1
    evaluation_periods: 3
    comparison_operator: LessThanLowerOrGreaterThanUpperThreshold

- name: Delete an alarm
  sage.infra.cloudwatch_metric_alarm:
    name: sage-old-alarm
    state: absent

- name: Two alarms in one run, with the same actions and tags
  sage.infra.cloudwatch_metric_alarm:
    alarms:
      - name: sage-rds-cpu-high
        namespace: AWS/RDS
        metric_name: CPUUtilization
        dimensions: {DBInstanceIdentifier: sage-postgres}
        statistic: Average
        period: 300
        evaluation_periods: 2
        comparison_operator: GreaterThanThreshold
        threshold: 80
      - name: sage-old-alarm
        state: absent
    alarm_actions: ["{{ alerts_topic_arn }}"]
    ok_actions: ["{{ alerts_topic_arn }}"]
    tags:
      app: sage
"""

RETURN = r"""
alarms:
  description:
    - With O(alarms), the result of each alarm, in the order of O(alarms), each as RV(alarm).
    - With C(--diff), the diff holds the alarms that change, by name.
  type: list
  elements: dict
  returned: when O(alarms) is set
  sample: [{"alarm_name": "sage-web-cpu-high", "threshold": 80.0}]
alarm:
  description:
    - The alarm after the run, as C(DescribeAlarms) returns it with snake_case keys, plus RV(alarm.tags).
    - In check mode, the described alarm with the desired configuration.
    - Empty when the alarm does not exist; with O(state=absent), the deleted alarm.
  type: dict
  returned: when O(name) is set
  contains:
    alarm_name:
      description: Name of the alarm.
      type: str
      sample: sage-web-cpu-high
    alarm_arn:
      description: ARN of the alarm, V(null) for an alarm that would be created in check mode.
      type: str
      sample: "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:sage-web-cpu-high"
    alarm_description:
      description: Description of the alarm, when it has one.
      type: str
      sample: CPU of the web service above 80%
    actions_enabled:
      description: Whether the actions run.
      type: bool
      sample: true
    alarm_actions:
      description: ARNs of the actions run on C(ALARM).
      type: list
      elements: str
      sample: ["arn:aws:sns:eu-west-1:123456789012:alerts"]
    ok_actions:
      description: ARNs of the actions run on C(OK).
      type: list
      elements: str
      sample: []
    insufficient_data_actions:
      description: ARNs of the actions run on C(INSUFFICIENT_DATA).
      type: list
      elements: str
      sample: []
    metric_name:
      description: Name of the metric of a single-metric alarm.
      type: str
      sample: CPUUtilization
    namespace:
      description: Namespace of the metric of a single-metric alarm.
      type: str
      sample: AWS/ECS
    statistic:
      description: Statistic of a single-metric alarm.
      type: str
      sample: Average
    extended_statistic:
      description: Extended statistic of a single-metric alarm.
      type: str
      sample: p95
    dimensions:
      description: Dimensions of the metric of a single-metric alarm.
      type: list
      elements: dict
      sample: [{"name": "ClusterName", "value": "sage"}]
    period:
      description: Period of a single-metric alarm, in seconds.
      type: int
      sample: 60
    unit:
      description: Unit of the metric of a single-metric alarm, when set.
      type: str
      sample: Percent
    metrics:
      description: The C(MetricDataQuery) structures of a metric math alarm, with snake_case keys.
      type: list
      elements: dict
      sample: [{"id": "e1", "expression": "m1 * 100", "return_data": true}]
    evaluation_periods:
      description: Number of evaluation periods.
      type: int
      sample: 5
    datapoints_to_alarm:
      description: Number of breaching data points that make the alarm go to C(ALARM), when set.
      type: int
      sample: 3
    threshold:
      description: Threshold of the alarm, absent for an anomaly detection alarm.
      type: float
      sample: 80.0
    threshold_metric_id:
      description: Id of the C(ANOMALY_DETECTION_BAND) query of an anomaly detection alarm.
      type: str
      sample: ad1
    comparison_operator:
      description: Comparison operator.
      type: str
      sample: GreaterThanThreshold
    treat_missing_data:
      description: How missing data points are treated.
      type: str
      sample: missing
    evaluate_low_sample_count_percentile:
      description: The low sample count setting of a percentile alarm, when set.
      type: str
      sample: ignore
    state_value:
      description: State of the alarm; absent for an alarm that would be created in check mode.
      type: str
      sample: OK
    alarm_configuration_updated_timestamp:
      description: When the configuration of the alarm last changed, in ISO 8601 format.
      type: str
      sample: "2025-01-31T12:00:00+00:00"
    tags:
      description: Tags of the alarm.
      type: dict
      returned: when O(tags) is set
      sample: {"app": "sage"}
"""

import datetime
import re

try:
    import botocore
except ImportError:
    pass  # caught by AnsibleAWSModule

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.module_utils.common.dict_transformations import camel_dict_to_snake_dict
from ansible.module_utils.common.text.converters import to_text
from ansible.module_utils.errors import UnsupportedError
from ansible.module_utils.parsing.convert_bool import boolean
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.amazon.aws.plugins.module_utils.tagging import (
    ansible_dict_to_boto3_tag_list,
    boto3_tag_list_to_ansible_dict,
    compare_aws_tags,
)
from ansible_collections.sage.infra.plugins.module_utils.stack_cloudwatch import (
    ALARM_OPTIONS,
    BAND_OPERATORS,
    CONFIG_KEYS,
    SINGLE_METRIC_OPTIONS,
    UNITS,
    alarm_view,
    desired_alarm,
)
from ansible_collections.sage.infra.plugins.module_utils.state import exit_for_states, repeated_names

QUERY_KEYS = ("Id", "Expression", "MetricStat", "Label", "ReturnData", "Period", "AccountId")
METRIC_STAT_KEYS = ("Metric", "Period", "Stat", "Unit")
METRIC_KEYS = ("Namespace", "MetricName", "Dimensions")
QUERY_ID = re.compile(r"^[a-z][A-Za-z0-9_]*$")
_NUMBER = r"\d+(?:\.\d+)?"
EXTENDED_STATISTIC = re.compile(
    rf"^(?:(?:p|tm|tc|ts|wm)(?P<n>{_NUMBER})|IQM|PR\((?:-?{_NUMBER})?:(?:-?{_NUMBER})?\)"
    rf"|(?:TM|TC|TS|WM)\((?:{_NUMBER}%)?:(?:{_NUMBER}%)?\))$"
)


class InvalidOption(Exception):
    """A bad option value; the message names the option."""


# --- validation of the options, before any AWS call ----------------------------------------------------------


def valid_period(period):
    """CloudWatch alarm periods: 10, 20 or 30 seconds (high resolution), or a multiple of 60."""
    return period in (10, 20, 30) or (period > 0 and period % 60 == 0)


def check_period(period, where):
    if not valid_period(period):
        raise InvalidOption(f"{where} must be 10, 20, 30 (high resolution) or a multiple of 60 seconds; got {period}")


def valid_extended_statistic(value):
    match = EXTENDED_STATISTIC.match(value or "")
    return bool(match) and (match.group("n") is None or float(match.group("n")) <= 100)


def as_int(value, where):
    if isinstance(value, bool) or not isinstance(value, (int, str)) or not str(value).strip().isdigit():
        raise InvalidOption(f"{where} must be a whole number; got {value!r}")
    return int(value)


def as_text(value, where):
    if not isinstance(value, str) or not value:
        raise InvalidOption(f"{where} must be a non-empty string; got {value!r}")
    return value


def check_keys(value, allowed, where):
    if not isinstance(value, dict):
        raise InvalidOption(f"{where} must be a dict; got {value!r}")
    unknown = sorted(set(value) - set(allowed))
    if unknown:
        raise InvalidOption(f"{where} has unknown key(s) {', '.join(unknown)}; allowed: {', '.join(allowed)}")


def clean_dimensions(dimensions, where):
    if not isinstance(dimensions, list):
        raise InvalidOption(f"{where} must be a list of {{Name, Value}} dicts; got {dimensions!r}")
    cleaned = []
    for index, dimension in enumerate(dimensions):
        at = f"{where}[{index}]"
        check_keys(dimension, ("Name", "Value"), at)
        cleaned.append(
            {
                "Name": as_text(dimension.get("Name"), f"{at}.Name"),
                "Value": as_text(dimension.get("Value"), f"{at}.Value"),
            }
        )
    return cleaned


def clean_metric_stat(stat, where):
    check_keys(stat, METRIC_STAT_KEYS, where)
    metric = stat.get("Metric")
    check_keys(metric, METRIC_KEYS, f"{where}.Metric")
    cleaned_metric = {
        "Namespace": as_text(metric.get("Namespace"), f"{where}.Metric.Namespace"),
        "MetricName": as_text(metric.get("MetricName"), f"{where}.Metric.MetricName"),
    }
    if metric.get("Dimensions"):
        cleaned_metric["Dimensions"] = clean_dimensions(metric["Dimensions"], f"{where}.Metric.Dimensions")
    if stat.get("Period") is None:
        raise InvalidOption(f"{where}.Period is required")
    cleaned = {
        "Metric": cleaned_metric,
        "Period": as_int(stat["Period"], f"{where}.Period"),
        "Stat": as_text(stat.get("Stat"), f"{where}.Stat"),
    }
    check_period(cleaned["Period"], f"{where}.Period")
    if stat.get("Unit") is not None:
        if stat["Unit"] not in UNITS:
            raise InvalidOption(f"{where}.Unit must be one of {', '.join(UNITS)}; got {stat['Unit']!r}")
        cleaned["Unit"] = stat["Unit"]
    return cleaned


def clean_query(query, index):
    """One MetricDataQuery of the metrics option, checked, with ReturnData explicit and typed values."""
    where = f"metrics[{index}]"
    check_keys(query, QUERY_KEYS, where)
    query_id = query.get("Id")
    if not isinstance(query_id, str) or not QUERY_ID.match(query_id):
        raise InvalidOption(
            f"{where}.Id must start with a lowercase letter and contain only letters, digits and underscores; "
            f"got {query_id!r}"
        )
    where = f"{where} (Id {query_id})"
    has_expression, has_stat = query.get("Expression") is not None, query.get("MetricStat") is not None
    if has_expression == has_stat:
        raise InvalidOption(f"{where} must have exactly one of Expression and MetricStat")
    try:
        return_data = boolean(query.get("ReturnData", True), strict=True)
    except TypeError as e:
        raise InvalidOption(f"{where}.ReturnData must be a boolean; got {query.get('ReturnData')!r}") from e
    cleaned = {"Id": query_id, "ReturnData": return_data}
    if has_expression:
        cleaned["Expression"] = as_text(query["Expression"], f"{where}.Expression")
    else:
        cleaned["MetricStat"] = clean_metric_stat(query["MetricStat"], f"{where}.MetricStat")
    for key in ("Label", "AccountId"):
        if query.get(key) is not None:
            cleaned[key] = as_text(query[key], f"{where}.{key}")
    if query.get("Period") is not None:
        cleaned["Period"] = as_int(query["Period"], f"{where}.Period")
        check_period(cleaned["Period"], f"{where}.Period")
    return cleaned


def clean_metrics(metrics, threshold_metric_id):
    if not metrics:
        raise InvalidOption("metrics must have at least one query")
    cleaned = [clean_query(query, index) for index, query in enumerate(metrics)]
    ids = [query["Id"] for query in cleaned]
    duplicates = sorted({query_id for query_id in ids if ids.count(query_id) > 1})
    if duplicates:
        raise InvalidOption(f"metrics: the query Ids must be unique; repeated: {', '.join(duplicates)}")
    returning = [query["Id"] for query in cleaned if query["ReturnData"]]
    if threshold_metric_id is None:
        if len(returning) != 1:
            raise InvalidOption(
                "metrics: exactly one query must have ReturnData true (the others false; it defaults to true); "
                f"found {len(returning)}{': ' + ', '.join(returning) if returning else ''}"
            )
        return cleaned
    band = next((query for query in cleaned if query["Id"] == threshold_metric_id), None)
    if band is None:
        raise InvalidOption(f"threshold_metric_id {threshold_metric_id} is not the Id of a query in metrics")
    if "Expression" not in band:
        raise InvalidOption(
            f"threshold_metric_id {threshold_metric_id} must name an ANOMALY_DETECTION_BAND Expression, "
            "not a MetricStat"
        )
    others = [query_id for query_id in returning if query_id != threshold_metric_id]
    if not band["ReturnData"] or len(others) != 1:
        raise InvalidOption(
            f"metrics: with threshold_metric_id, query {threshold_metric_id} and exactly one other query must have "
            f"ReturnData true (the others false; it defaults to true); found: {', '.join(returning) or 'none'}"
        )
    return cleaned


def validate(params):
    """Check the options of state=present; return the cleaned metrics (None for a single-metric alarm)."""
    if params["metric_name"] is not None:
        if (params["statistic"] is None) == (params["extended_statistic"] is None):
            raise InvalidOption(
                "a single-metric alarm (metric_name) needs exactly one of statistic and extended_statistic"
            )
        if params["extended_statistic"] is not None and not valid_extended_statistic(params["extended_statistic"]):
            raise InvalidOption(
                f"extended_statistic must be a percentile like p95 or p99.9 (p0 to p100), or tmN, tcN, tsN, wmN, IQM, "
                f"PR(n:m), TM(X%:Y%), TC(X%:Y%), TS(X%:Y%) or WM(X%:Y%); got {params['extended_statistic']!r}"
            )
        check_period(params["period"], "period")
        for key, value in (params["dimensions"] or {}).items():
            if not isinstance(value, (str, int, float)) or isinstance(value, bool) or value == "":
                raise InvalidOption(f"dimensions: the value of {key} must be a non-empty string; got {value!r}")

    evaluation_periods = params["evaluation_periods"]
    if evaluation_periods < 1:
        raise InvalidOption(f"evaluation_periods must be at least 1; got {evaluation_periods}")
    datapoints = params["datapoints_to_alarm"]
    if datapoints is not None and not 1 <= datapoints <= evaluation_periods:
        raise InvalidOption(
            f"datapoints_to_alarm must be from 1 to evaluation_periods ({evaluation_periods}); got {datapoints}"
        )

    band_id, operator = params["threshold_metric_id"], params["comparison_operator"]
    if band_id is None:
        if params["threshold"] is None:
            raise InvalidOption("threshold is required (unless threshold_metric_id is set for anomaly detection)")
        if operator in BAND_OPERATORS:
            raise InvalidOption(
                f"comparison_operator {operator} is for anomaly detection; it needs threshold_metric_id"
            )
    else:
        if params["metrics"] is None:
            raise InvalidOption(
                "threshold_metric_id needs metrics, with the ANOMALY_DETECTION_BAND expression it names"
            )
        if operator not in BAND_OPERATORS:
            raise InvalidOption(
                f"with threshold_metric_id, comparison_operator must be one of {', '.join(BAND_OPERATORS)}; "
                f"got {operator}"
            )
    if params["metrics"] is not None:
        return clean_metrics(params["metrics"], band_id)
    return None


def diff_view(view, tags):
    result = camel_dict_to_snake_dict(view)
    if tags is not None:
        result["tags"] = tags
    return result


def alarm_result(alarm, tags):
    """A DescribeAlarms entry with snake_case keys and ISO 8601 timestamps, plus the tags when managed."""
    result = camel_dict_to_snake_dict(
        {k: v.isoformat() if isinstance(v, datetime.datetime) else v for k, v in alarm.items()}
    )
    if tags is not None:
        result["tags"] = tags
    return result


# --- AWS calls ---------------------------------------------------------------------------------------------


def call(module, client, action, failure, **kwargs):
    """``client.<action>(**kwargs)``, retried; fail with ``Failed to <failure>`` on a botocore error."""
    try:
        return getattr(client, action)(aws_retry=True, **kwargs)
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        module.fail_json_aws(e, msg=f"Failed to {failure}")


def describe_alarms(module, client, names):
    """{name: metric alarm} of those of ``names`` that exist; fails on a composite alarm of one of the names."""
    found = {}
    for first in range(0, len(names), 100):  # DescribeAlarms takes up to 100 names
        chunk, token = names[first : first + 100], {}
        while True:
            response = call(
                module,
                client,
                "describe_alarms",
                f"describe CloudWatch alarm {', '.join(chunk)}",
                AlarmNames=chunk,
                AlarmTypes=["MetricAlarm", "CompositeAlarm"],
                **token,
            )
            composite = sorted(a["AlarmName"] for a in response.get("CompositeAlarms") or [] if a["AlarmName"] in chunk)
            if composite:
                module.fail_json(
                    msg=f"CloudWatch alarm {', '.join(composite)} is a composite alarm; "
                    "sage.infra.cloudwatch_metric_alarm manages metric alarms only"
                )
            found.update((a["AlarmName"], a) for a in response.get("MetricAlarms") or [] if a["AlarmName"] in chunk)
            if not response.get("NextToken"):
                break
            token = {"NextToken": response["NextToken"]}
    return found


def describe_alarm(module, client, name):
    return describe_alarms(module, client, [name]).get(name)


def list_tags(module, client, arn):
    response = call(module, client, "list_tags_for_resource", f"list the tags of {arn}", ResourceARN=arn)
    return boto3_tag_list_to_ansible_dict(response.get("Tags") or [])


def tag_changes(current, tags, purge_tags):
    """(tags to set, tag keys to unset, resulting tags), values compared and kept as text."""
    to_set, to_unset = compare_aws_tags(current, tags, purge_tags)
    result = {key: value for key, value in current.items() if key not in to_unset}
    result.update({key: to_text(value) for key, value in to_set.items()})
    return to_set, to_unset, result


# --- states ------------------------------------------------------------------------------------------------


def ensure_present(module, client, params, current, metrics):
    name, check, managed_tags = params["name"], module.check_mode, params["tags"] is not None
    desired = desired_alarm(params, metrics)
    after_view = alarm_view(desired)

    if current is None:
        tags = {key: to_text(value) for key, value in (params["tags"] or {}).items()}
        if not check:
            kwargs = {"Tags": ansible_dict_to_boto3_tag_list(tags)} if tags else {}
            call(module, client, "put_metric_alarm", f"create CloudWatch alarm {name}", **desired, **kwargs)
        created = None if check else describe_alarm(module, client, name)
        result = alarm_result(created or {"AlarmArn": None, **desired}, tags if managed_tags else None)
        return True, result, {}, diff_view(after_view, tags if managed_tags else None)

    before_view = alarm_view(current)
    config_changed = before_view != after_view
    before_tags = after_tags = None
    to_set, to_unset = {}, []
    if managed_tags:
        before_tags = list_tags(module, client, current["AlarmArn"])
        to_set, to_unset, after_tags = tag_changes(before_tags, params["tags"], params["purge_tags"])

    alarm = current
    if config_changed:
        alarm = {**{k: v for k, v in current.items() if k not in CONFIG_KEYS}, **desired}
        if not check:
            call(module, client, "put_metric_alarm", f"update CloudWatch alarm {name}", **desired)
            alarm = describe_alarm(module, client, name) or alarm
    if not check:
        arn = current["AlarmArn"]
        if to_unset:
            call(module, client, "untag_resource", f"untag CloudWatch alarm {name}", ResourceARN=arn, TagKeys=to_unset)
        if to_set:
            tag_list = ansible_dict_to_boto3_tag_list(to_set)
            call(module, client, "tag_resource", f"tag CloudWatch alarm {name}", ResourceARN=arn, Tags=tag_list)
    changed = config_changed or bool(to_set or to_unset)
    before, after = diff_view(before_view, before_tags), diff_view(after_view, after_tags)
    return changed, alarm_result(alarm, after_tags), before, after


def ensure_absent(module, client, params, current, _metrics):
    if current is None:
        return False, {}, {}, {}
    name = params["name"]
    if not module.check_mode:
        call(module, client, "delete_alarms", f"delete CloudWatch alarm {name}", AlarmNames=[name])
    return True, alarm_result(current, None), diff_view(alarm_view(current), None), {}


# The rules between the options of one alarm, checked by AnsibleModule's own validator.
ALARM_VALIDATOR = ArgumentSpecValidator(
    ALARM_OPTIONS,
    mutually_exclusive=[
        *(["metrics", option] for option in SINGLE_METRIC_OPTIONS),
        ["statistic", "extended_statistic"],
        ["threshold", "threshold_metric_id"],
    ],
    required_if=[
        ["state", "present", ["comparison_operator", "evaluation_periods"]],
        ["state", "present", ["metric_name", "metrics"], True],
    ],
    required_by={"metric_name": ["namespace", "period"]},
)


def checked_alarm(options, where=""):
    """(the options of one alarm, validated with defaults applied; its cleaned metrics or None)."""
    result = ALARM_VALIDATOR.validate(options)
    try:
        if result.error_messages:
            unsupported = isinstance(result.errors[0], UnsupportedError)
            raise InvalidOption(f"{'Unsupported parameters: ' if unsupported else ''}{result.errors.msg}")
        params = result.validated_parameters
        return params, validate(params) if params["state"] == "present" else None
    except InvalidOption as e:
        raise InvalidOption(f"{where}{e}") from e


def checked_alarms(params):
    """Each alarm of the run, checked: [(its options, its metrics)], one for O(name), one per item of O(alarms)."""
    given = {key: value for key, value in params.items() if key in ALARM_OPTIONS and value is not None}
    if params["alarms"] is None:
        return [checked_alarm(given)]
    alarms = []
    for index, item in enumerate(params["alarms"]):
        label = item.get("name") if isinstance(item, dict) else None
        alarms.append(checked_alarm({**given, **item}, f"alarms[{index}]{f' ({label})' if label else ''}: "))
    error = repeated_names("alarms", [alarm[0]["name"] for alarm in alarms])
    if error:
        raise InvalidOption(error)
    return alarms


def main():
    argument_spec = {
        **ALARM_OPTIONS,
        "name": {"type": "str"},
        "alarms": {"type": "list", "elements": "dict"},
    }
    module = AnsibleAWSModule(
        argument_spec=argument_spec,
        supports_check_mode=True,
        mutually_exclusive=[["name", "alarms"]],
        required_one_of=[["name", "alarms"]],
    )
    try:
        alarms = checked_alarms(module.params)
    except InvalidOption as e:
        module.fail_json(msg=str(e))

    client = module.client("cloudwatch", retry_decorator=AWSRetry.jittered_backoff())
    current = describe_alarms(module, client, [alarm[0]["name"] for alarm in alarms])
    outcomes = {}  # name: (changed, result, before, after)
    for params, metrics in alarms:
        ensure = ensure_present if params["state"] == "present" else ensure_absent
        outcomes[params["name"]] = ensure(module, client, params, current.get(params["name"]), metrics)
    exit_for_states(module, "alarm", "alarms", outcomes)


if __name__ == "__main__":
    main()
