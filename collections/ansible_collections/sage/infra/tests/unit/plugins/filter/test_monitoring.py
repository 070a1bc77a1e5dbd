# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests for the alarm_setting_errors and node_metric_queries filters of the monitoring role.

The alarms, threshold limits and channels are read from roles/monitoring (defaults/main.yml and vars/main.yml),
called as roles/monitoring/tasks/validate.yml calls the filter, so the tests follow the role.
"""

import copy
from pathlib import Path

import pytest
import yaml
from ansible_collections.sage.infra.plugins.filter.monitoring import FilterModule
from ansible_collections.sage.infra.plugins.module_utils import monitoring
from ansible_collections.sage.infra.plugins.module_utils.monitoring import alarm_setting_errors, node_metric_queries


def _role_dir():
    for parent in Path(__file__).resolve().parents:
        if (parent / "roles" / "monitoring" / "defaults" / "main.yml").is_file():
            return parent / "roles" / "monitoring"
    raise RuntimeError(f"roles/monitoring not found above {__file__}")


def _load(relative):
    with open(_role_dir() / relative, encoding="utf-8") as f:
        return yaml.safe_load(f)


DEFAULTS = _load("defaults/main.yml")
ROLE_VARS = _load("vars/main.yml")
ALARMS = DEFAULTS["monitoring_alarms"]
LIMITS = ROLE_VARS["_monitoring_threshold_limits"]
CHANNELS = ROLE_VARS["_monitoring_channels"]
PERCENT_ALARMS = sorted(key for key, limit in LIMITS.items() if limit == {"above": 0, "max": 100})
KNOWN_ALARMS = ", ".join(sorted(ALARMS))
KNOWN_SETTINGS = "channel, datapoints_to_alarm, enabled, evaluation_periods, period, threshold"


def errors(overrides=None, alarms=None):
    """What the role's check reports for these overrides (and alarms: the role's defaults when None)."""
    return alarm_setting_errors(
        copy.deepcopy(ALARMS if alarms is None else alarms),
        {} if overrides is None else overrides,
        LIMITS,
        CHANNELS,
    )


def alarms_with(key, **settings):
    """The role's alarms with these settings of one alarm changed in monitoring_alarms itself."""
    alarms = copy.deepcopy(ALARMS)
    alarms[key].update(settings)
    return alarms


# --- the role's own settings ----------------------------------------------------------------------------------------


def test_the_role_defaults_give_no_error():
    assert alarm_setting_errors(ALARMS, DEFAULTS["monitoring_alarm_overrides"], LIMITS, CHANNELS) == []


def test_the_role_limits_cover_every_alarm_and_only_those():
    assert set(LIMITS) == set(ALARMS)
    assert PERCENT_ALARMS  # the percent checks below are not vacuous


def test_the_inputs_are_not_changed():
    alarms, overrides = copy.deepcopy(ALARMS), {"ecs_cpu": {"threshold": 150, "treshold": 1}, "nope": {}}
    alarm_setting_errors(alarms, overrides, LIMITS, CHANNELS)
    assert alarms == ALARMS
    assert overrides == {"ecs_cpu": {"threshold": 150, "treshold": 1}, "nope": {}}


def test_the_filters_are_registered_and_call_module_utils():
    filters = FilterModule().filters()
    assert sorted(filters) == ["alarm_options", "alarm_setting_errors", "dashboard_body", "node_metric_queries"]
    overrides = {"ecs_cpu": {"threshold": 150}}
    assert filters["alarm_setting_errors"](ALARMS, overrides, LIMITS, CHANNELS) == alarm_setting_errors(
        ALARMS, overrides, LIMITS, CHANNELS
    )
    assert filters["node_metric_queries"](["n1"], "CacheClusterId", "AWS/ElastiCache", "CPU", 60, "Average", "x") == (
        node_metric_queries(["n1"], "CacheClusterId", "AWS/ElastiCache", "CPU", 60, "Average", "x")
    )


# --- accepted overrides ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "overrides",
    [
        {"ecs_cpu": {}},
        {"ecs_cpu": {"threshold": 70}, "valkey_cpu": {"enabled": False}},
        {"ecs_cpu": {"threshold": 100}},
        {"ecs_cpu": {"threshold": 0.5}},
        {"api_latency_p95": {"threshold": 4000}},
        {"api_latency_p95": {"threshold": 0.25}},
        {"rds_free_storage": {"threshold": 99.5}},
        {"ecs_running_tasks": {"threshold": 2}},
        {"ecs_running_tasks": {"threshold": 3.0}},
        {"alb_unhealthy_hosts": {"threshold": 0}},
        {"alb_unhealthy_hosts": {"threshold": 4}},
        {"rds_cpu": {"channel": "business"}},
        {"ecs_cpu": {"period": 10}},
        {"ecs_cpu": {"period": 20}},
        {"ecs_cpu": {"period": 30}},
        {"ecs_cpu": {"period": 60}},
        {"ecs_cpu": {"period": 120}},
        {"ecs_cpu": {"period": 3600, "evaluation_periods": 24}},
        {"ecs_cpu": {"period": 300, "evaluation_periods": 288}},  # exactly one day
        {"ecs_cpu": {"evaluation_periods": 5, "datapoints_to_alarm": 3}},
        {"ecs_cpu": {"evaluation_periods": 5, "datapoints_to_alarm": 5}},
        {"ecs_cpu": {"datapoints_to_alarm": 1}},
        {"api_error_rate": {"min_requests": 0}},
        {"api_error_rate": {"min_requests": 500}},
    ],
)
def test_accepted_overrides(overrides):
    assert errors(overrides) == []


# --- rejected overrides: one message naming monitoring_alarm_overrides.<alarm>.<setting> ----------------------------


@pytest.mark.parametrize("key", PERCENT_ALARMS)
@pytest.mark.parametrize(
    ("threshold", "bound"),
    [(0, "above 0"), (-1, "above 0"), (101, "at most 100"), (150, "at most 100"), (100.5, "at most 100")],
)
def test_percent_thresholds_out_of_range(key, threshold, bound):
    assert errors({key: {"threshold": threshold}}) == [
        f"monitoring_alarm_overrides.{key}.threshold must be {bound}, got {threshold}"
    ]


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (
            {"ecs_cpu": {"threshold": "high"}},
            "monitoring_alarm_overrides.ecs_cpu.threshold must be a number, got 'high'",
        ),
        (
            {"ecs_cpu": {"threshold": "80"}},
            "monitoring_alarm_overrides.ecs_cpu.threshold must be a number, got '80'",
        ),
        (
            {"ecs_cpu": {"threshold": None}},
            "monitoring_alarm_overrides.ecs_cpu.threshold must be a number, got None",
        ),
        (
            {"ecs_cpu": {"threshold": [80]}},
            "monitoring_alarm_overrides.ecs_cpu.threshold must be a number, got [80]",
        ),
        (
            {"ecs_cpu": {"threshold": True}},
            "monitoring_alarm_overrides.ecs_cpu.threshold must be a number, got True",
        ),
        (
            {"alb_unhealthy_hosts": {"threshold": False}},
            "monitoring_alarm_overrides.alb_unhealthy_hosts.threshold must be a number, got False",
        ),
        (
            {"ecs_running_tasks": {"threshold": 1.5}},
            "monitoring_alarm_overrides.ecs_running_tasks.threshold must be a whole number, got 1.5",
        ),
        (
            {"ecs_running_tasks": {"threshold": 0}},
            "monitoring_alarm_overrides.ecs_running_tasks.threshold must be at least 1, got 0",
        ),
        (
            {"alb_unhealthy_hosts": {"threshold": 0.5}},
            "monitoring_alarm_overrides.alb_unhealthy_hosts.threshold must be a whole number, got 0.5",
        ),
        (
            {"alb_unhealthy_hosts": {"threshold": -1}},
            "monitoring_alarm_overrides.alb_unhealthy_hosts.threshold must be at least 0, got -1",
        ),
        (
            {"rds_free_storage": {"threshold": 100}},
            "monitoring_alarm_overrides.rds_free_storage.threshold must be below 100, got 100",
        ),
        (
            {"rds_free_storage": {"threshold": 0}},
            "monitoring_alarm_overrides.rds_free_storage.threshold must be above 0, got 0",
        ),
        (
            {"api_latency_p95": {"threshold": 4001}},
            "monitoring_alarm_overrides.api_latency_p95.threshold must be at most 4000, got 4001",
        ),
        (
            {"api_latency_p95": {"threshold": 0}},
            "monitoring_alarm_overrides.api_latency_p95.threshold must be above 0, got 0",
        ),
    ],
)
def test_rejected_thresholds(overrides, expected):
    assert errors(overrides) == [expected]


def test_a_bound_of_both_sides_reports_both():
    limits = {**LIMITS, "ecs_cpu": {"min": 5, "above": 10, "max": 100}}
    assert alarm_setting_errors(ALARMS, {"ecs_cpu": {"threshold": 3}}, limits, CHANNELS) == [
        "monitoring_alarm_overrides.ecs_cpu.threshold must be at least 5 and above 10, got 3"
    ]


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (
            {"ecs_memory": {"threshold": 80}},
            f"monitoring_alarm_overrides.ecs_memory is not an alarm of this role (known: {KNOWN_ALARMS})",
        ),
        (
            {"ecs_cpu": {"treshold": 70}},
            f"monitoring_alarm_overrides.ecs_cpu.treshold is not a setting (known: {KNOWN_SETTINGS})",
        ),
        (  # min_requests is a setting of api_error_rate only
            {"ecs_cpu": {"min_requests": 5}},
            f"monitoring_alarm_overrides.ecs_cpu.min_requests is not a setting (known: {KNOWN_SETTINGS})",
        ),
        (
            {"ecs_cpu": {"enabled": "yes"}},
            "monitoring_alarm_overrides.ecs_cpu.enabled must be true or false, got 'yes'",
        ),
        (
            {"ecs_cpu": {"enabled": 1}},
            "monitoring_alarm_overrides.ecs_cpu.enabled must be true or false, got 1",
        ),
        (
            {"ecs_cpu": {"enabled": None}},
            "monitoring_alarm_overrides.ecs_cpu.enabled must be true or false, got None",
        ),
        (
            {"ecs_cpu": {"channel": "alerts"}},
            "monitoring_alarm_overrides.ecs_cpu.channel must be one of errors, performance, business, got 'alerts'",
        ),
        (
            {"ecs_cpu": {"channel": "Errors"}},
            "monitoring_alarm_overrides.ecs_cpu.channel must be one of errors, performance, business, got 'Errors'",
        ),
        (
            {"ecs_cpu": {"evaluation_periods": 0}},
            "monitoring_alarm_overrides.ecs_cpu.evaluation_periods must be a whole number of at least 1, got 0",
        ),
        (
            {"ecs_cpu": {"evaluation_periods": 1.5}},
            "monitoring_alarm_overrides.ecs_cpu.evaluation_periods must be a whole number of at least 1, got 1.5",
        ),
        (
            {"ecs_cpu": {"evaluation_periods": "2"}},
            "monitoring_alarm_overrides.ecs_cpu.evaluation_periods must be a whole number of at least 1, got '2'",
        ),
        (
            {"ecs_cpu": {"period": 300, "evaluation_periods": 289}},
            "monitoring_alarm_overrides.ecs_cpu: period x evaluation_periods (300 x 289 s) must not exceed one day "
            "(86400 s)",
        ),
        (
            {"ecs_cpu": {"period": 10, "evaluation_periods": 8641}},
            "monitoring_alarm_overrides.ecs_cpu: period x evaluation_periods (10 x 8641 s) must not exceed one day "
            "(86400 s)",
        ),
        (
            {"ecs_cpu": {"datapoints_to_alarm": 3}},  # evaluation_periods 2
            "monitoring_alarm_overrides.ecs_cpu.datapoints_to_alarm must be 1 to evaluation_periods (2), got 3",
        ),
        (
            {"ecs_cpu": {"datapoints_to_alarm": 0}},
            "monitoring_alarm_overrides.ecs_cpu.datapoints_to_alarm must be 1 to evaluation_periods (2), got 0",
        ),
        (
            {"ecs_cpu": {"datapoints_to_alarm": 1.5}},
            "monitoring_alarm_overrides.ecs_cpu.datapoints_to_alarm must be 1 to evaluation_periods (2), got 1.5",
        ),
        (
            {"ecs_cpu": {"evaluation_periods": 4, "datapoints_to_alarm": 5}},
            "monitoring_alarm_overrides.ecs_cpu.datapoints_to_alarm must be 1 to evaluation_periods (4), got 5",
        ),
        (
            {"api_error_rate": {"min_requests": -1}},
            "monitoring_alarm_overrides.api_error_rate.min_requests must be a whole number of at least 0, got -1",
        ),
        (
            {"api_error_rate": {"min_requests": 2.5}},
            "monitoring_alarm_overrides.api_error_rate.min_requests must be a whole number of at least 0, got 2.5",
        ),
        (
            {"api_error_rate": {"min_requests": "20"}},
            "monitoring_alarm_overrides.api_error_rate.min_requests must be a whole number of at least 0, got '20'",
        ),
        (
            {"api_error_rate": {"min_requests": True}},
            "monitoring_alarm_overrides.api_error_rate.min_requests must be a whole number of at least 0, got True",
        ),
    ],
)
def test_rejected_settings(overrides, expected):
    assert errors(overrides) == [expected]


@pytest.mark.parametrize("period", [45, 0, 90, -60, 60.5, 15, 5, "60", None, True])
def test_rejected_periods(period):
    assert errors({"ecs_cpu": {"period": period}}) == [
        f"monitoring_alarm_overrides.ecs_cpu.period must be 10, 20, 30 or a multiple of 60 seconds, got {period!r}"
    ]


@pytest.mark.parametrize("period", [10, 20, 30, 60, 120, 300, 3600, 120.0])
def test_accepted_periods(period):
    assert errors({"ecs_cpu": {"period": period}}) == []


@pytest.mark.parametrize("override", [80, "threshold: 70", [{"threshold": 70}], None, [], 0, "", False])
def test_an_override_that_is_not_a_dict(override):
    assert errors({"ecs_cpu": override}) == [
        f"monitoring_alarm_overrides.ecs_cpu must be a dict of settings, got {override!r}"
    ]


@pytest.mark.parametrize("overrides", [None, [], [{"ecs_cpu": {"threshold": 70}}], "ecs_cpu", 0])
def test_overrides_that_are_not_a_dict(overrides):
    assert alarm_setting_errors(ALARMS, overrides, LIMITS, CHANNELS) == [
        "monitoring_alarm_overrides must be a dict of alarm name -> settings"
    ]


# --- the variable named is the one the bad value comes from ---------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({"threshold": 150}, "monitoring_alarms.ecs_cpu.threshold must be at most 100, got 150"),
        ({"period": 45}, "monitoring_alarms.ecs_cpu.period must be 10, 20, 30 or a multiple of 60 seconds, got 45"),
        ({"enabled": "no"}, "monitoring_alarms.ecs_cpu.enabled must be true or false, got 'no'"),
        ({"channel": "x"}, "monitoring_alarms.ecs_cpu.channel must be one of errors, performance, business, got 'x'"),
        (
            {"evaluation_periods": 0},
            "monitoring_alarms.ecs_cpu.evaluation_periods must be a whole number of at least 1, got 0",
        ),
        (
            {"evaluation_periods": 289},  # period 300
            "monitoring_alarms.ecs_cpu: period x evaluation_periods (300 x 289 s) must not exceed one day (86400 s)",
        ),
        (
            {"datapoints_to_alarm": 3},
            "monitoring_alarms.ecs_cpu.datapoints_to_alarm must be 1 to evaluation_periods (2), got 3",
        ),
    ],
)
def test_a_bad_value_of_the_alarms_names_monitoring_alarms(settings, expected):
    assert errors({}, alarms_with("ecs_cpu", **settings)) == [expected]


def test_a_bad_extra_setting_of_the_alarms_names_monitoring_alarms():
    assert errors({}, alarms_with("api_error_rate", min_requests=-5)) == [
        "monitoring_alarms.api_error_rate.min_requests must be a whole number of at least 0, got -5"
    ]


def test_an_override_of_another_setting_does_not_take_the_blame():
    """ecs_cpu is overridden (threshold), but the bad period comes from monitoring_alarms."""
    assert errors({"ecs_cpu": {"threshold": 70}}, alarms_with("ecs_cpu", period=45)) == [
        "monitoring_alarms.ecs_cpu.period must be 10, 20, 30 or a multiple of 60 seconds, got 45"
    ]


def test_an_override_fixes_a_bad_value_of_the_alarms():
    assert errors({"ecs_cpu": {"period": 60}}, alarms_with("ecs_cpu", period=45)) == []


def test_an_override_that_breaks_the_day_limit_is_named():
    """evaluation_periods comes from the override, the period from the alarms: the override is named."""
    assert errors({"ecs_cpu": {"evaluation_periods": 289}}) == [
        "monitoring_alarm_overrides.ecs_cpu: period x evaluation_periods (300 x 289 s) must not exceed one day "
        "(86400 s)"
    ]


def test_the_variable_names_follow_alarms_var():
    alarms, overrides = alarms_with("ecs_cpu", period=45), {"rds_cpu": {"threshold": 0}}
    assert alarm_setting_errors(alarms, overrides, LIMITS, CHANNELS, alarms_var="x_alarms") == [
        "x_alarms.ecs_cpu.period must be 10, 20, 30 or a multiple of 60 seconds, got 45",
        "x_alarm_overrides.rds_cpu.threshold must be above 0, got 0",
    ]
    assert alarm_setting_errors(alarms, overrides, LIMITS, CHANNELS, overrides_var="mine") == [
        "monitoring_alarms.ecs_cpu.period must be 10, 20, 30 or a multiple of 60 seconds, got 45",
        "mine.rds_cpu.threshold must be above 0, got 0",
    ]


# --- several errors -------------------------------------------------------------------------------------------------


def test_every_error_is_reported():
    overrides = {
        "ecs_cpu": {"threshold": 0, "period": 45, "channel": "alerts", "treshold": 70},
        "valkey_cpu": {"enabled": "no"},
        "api_error_rate": {"min_requests": -1, "datapoints_to_alarm": 2},
        "rds_cpu": 80,
        "bogus": {},
        "another": {"threshold": 1},
    }
    assert errors(overrides) == [
        f"monitoring_alarm_overrides.another is not an alarm of this role (known: {KNOWN_ALARMS})",
        f"monitoring_alarm_overrides.bogus is not an alarm of this role (known: {KNOWN_ALARMS})",
        "monitoring_alarm_overrides.api_error_rate.datapoints_to_alarm must be 1 to evaluation_periods (1), got 2",
        "monitoring_alarm_overrides.api_error_rate.min_requests must be a whole number of at least 0, got -1",
        f"monitoring_alarm_overrides.ecs_cpu.treshold is not a setting (known: {KNOWN_SETTINGS})",
        "monitoring_alarm_overrides.ecs_cpu.threshold must be above 0, got 0",
        "monitoring_alarm_overrides.ecs_cpu.period must be 10, 20, 30 or a multiple of 60 seconds, got 45",
        "monitoring_alarm_overrides.ecs_cpu.channel must be one of errors, performance, business, got 'alerts'",
        "monitoring_alarm_overrides.rds_cpu must be a dict of settings, got 80",
        "monitoring_alarm_overrides.valkey_cpu.enabled must be true or false, got 'no'",
    ]


def test_period_and_evaluation_errors_together():
    assert errors({"ecs_cpu": {"period": 45, "evaluation_periods": 0}}) == [
        "monitoring_alarm_overrides.ecs_cpu.period must be 10, 20, 30 or a multiple of 60 seconds, got 45",
        "monitoring_alarm_overrides.ecs_cpu.evaluation_periods must be a whole number of at least 1, got 0",
    ]


def test_an_alarm_without_limits_is_left_to_the_role():
    """roles/monitoring/tasks/validate.yml reports alarms that have no threshold limits (it cannot build them)."""
    alarms = {**copy.deepcopy(ALARMS), "custom": {"enabled": "maybe", "threshold": "x"}}
    assert errors({"custom": {"period": 45}}, alarms) == []


# --- node_metric_queries --------------------------------------------------------------------------------------------

NODES = ("sage-cache-001", "sage-cache-002", "sage-cache-003")


def queries(nodes=NODES, period=300):
    return node_metric_queries(
        nodes, "CacheClusterId", "AWS/ElastiCache", "EngineCPUUtilization", period, "Average", "Busiest node (%)"
    )


def test_one_query_a_node_then_the_max():
    assert queries() == [
        *(
            {
                "Id": f"m{index}",
                "ReturnData": False,
                "MetricStat": {
                    "Metric": {
                        "Namespace": "AWS/ElastiCache",
                        "MetricName": "EngineCPUUtilization",
                        "Dimensions": [{"Name": "CacheClusterId", "Value": node}],
                    },
                    "Period": 300,
                    "Stat": "Average",
                },
            }
            for index, node in enumerate(NODES)
        ),
        {"Id": "worst", "Label": "Busiest node (%)", "ReturnData": True, "Expression": "MAX([m0, m1, m2])"},
    ]


@pytest.mark.parametrize("count", [1, 2, 5, 12])
def test_ids_and_the_single_returned_expression(count):
    nodes = [f"node-{index}" for index in range(count)]
    result = queries(nodes)
    ids = [query["Id"] for query in result]
    assert ids == [f"m{index}" for index in range(count)] + ["worst"]
    assert len(set(ids)) == len(ids)
    returned = [query for query in result if query["ReturnData"] is True]
    assert len(returned) == 1
    assert returned[0]["Expression"] == "MAX([" + ", ".join(f"m{index}" for index in range(count)) + "])"
    assert returned[0]["Label"] == "Busiest node (%)"
    assert all(query["ReturnData"] is False for query in result[:-1])
    assert [query["MetricStat"]["Metric"]["Dimensions"] for query in result[:-1]] == [
        [{"Name": "CacheClusterId", "Value": node}] for node in nodes
    ]


@pytest.mark.parametrize("period", [300, "300", 300.0])
def test_the_period_is_an_integer(period):
    for query in queries(period=period)[:-1]:
        assert query["MetricStat"]["Period"] == 300
        assert isinstance(query["MetricStat"]["Period"], int)


def test_the_nodes_are_not_changed():
    nodes = list(NODES)
    queries(nodes)
    assert nodes == list(NODES)


# --- alarm_options ----------------------------------------------------------------------------------------

DEFINITIONS = {
    "ecs_cpu": {
        "tier": "ecs",
        "name": "sage-backend-cpu-high",
        "description": "Average CPU is above 80%\n",
        "namespace": "AWS/ECS",
        "metric_name": "CPUUtilization",
        "statistic": "Average",
        "comparison_operator": "GreaterThanThreshold",
        "threshold": "80",
        "treat_missing_data": "missing",
    },
    "api_error_rate": {
        "tier": "ecs",
        "name": "sage-api-error-rate",
        "description": "5xx above 5%",
        "metrics": [{"Id": "rate", "Expression": "100 * errors / requests", "ReturnData": True}],
        "comparison_operator": "GreaterThanThreshold",
        "threshold": 5,
        "treat_missing_data": "notBreaching",
    },
}
SETTINGS = {
    "ecs_cpu": {"enabled": True, "threshold": 80, "period": 300, "evaluation_periods": 2},
    "api_error_rate": {
        "enabled": False,
        "threshold": 5,
        "period": 60,
        "evaluation_periods": 5,
        "datapoints_to_alarm": 3,
    },
}


def test_alarm_options_are_the_definitions_with_their_settings():
    cpu, errors = monitoring.alarm_options(DEFINITIONS, SETTINGS, ["ecs_cpu", "api_error_rate"])
    assert cpu == {
        "name": "sage-backend-cpu-high",
        "description": "Average CPU is above 80%",
        "namespace": "AWS/ECS",
        "metric_name": "CPUUtilization",
        "statistic": "Average",
        "comparison_operator": "GreaterThanThreshold",
        "threshold": 80.0,
        "treat_missing_data": "missing",
        "state": "present",
        "evaluation_periods": 2,
        "period": 300,
    }
    # A metric-math alarm has no period of its own (its queries do); a disabled one is deleted.
    assert errors["state"] == "absent" and "period" not in errors
    assert errors["datapoints_to_alarm"] == 3 and errors["metrics"] == DEFINITIONS["api_error_rate"]["metrics"]


def test_alarm_options_only_for_the_keys_given_in_their_order():
    assert [option["name"] for option in monitoring.alarm_options(DEFINITIONS, SETTINGS, ["api_error_rate"])] == [
        "sage-api-error-rate"
    ]
    assert monitoring.alarm_options(DEFINITIONS, SETTINGS, []) == []


# --- dashboard_body ---------------------------------------------------------------------------------------

DASHBOARD_SETTINGS = {key: {**value, "period": 60 * (index + 1)} for index, (key, value) in enumerate(ALARMS.items())}
DASHBOARD_DEFINITIONS = {
    "api_error_rate": {
        "metrics": [
            {"Id": "requests", "ReturnData": False},
            {"Id": "rate", "ReturnData": True, "Expression": "100 * errors / requests\n"},
        ]
    },
    "rds_connections": {"threshold": "72"},
    "rds_free_storage": {"threshold": 2147483648},
}
ECS = {"load_balancer": "app/sage-alb/1", "target_group": "targetgroup/sage-tg/2", "cluster": "c", "service": "s"}
DATABASE = {"identifier": "sage-db", "max_connections": "90"}


def dashboard(**watched):
    return monitoring.dashboard_body(DASHBOARD_SETTINGS, DASHBOARD_DEFINITIONS, "us-west-2", **watched)


def titles(body):
    return [widget["properties"]["title"] for widget in body["widgets"]]


def test_the_dashboard_shows_the_alarms_then_each_tier_built():
    body = dashboard(alarm_arns=["arn:a", "arn:b"], ecs=ECS, database=DATABASE, cache_nodes=["n1", "n2"])
    assert titles(body) == [
        "Alarms",
        "API requests and 5xx",
        "API 5xx error rate (%)",
        "API response time (s)",
        "Targets",
        "Backend CPU and memory (%)",
        "Backend tasks",
        "Database CPU (%)",
        "Database connections",
        "Database free storage (bytes)",
        "Valkey memory (%)",
        "Valkey engine CPU (%)",
    ]
    assert body["widgets"][0] == {
        "type": "alarm",
        "width": 24,
        "height": 3,
        "properties": {"title": "Alarms", "alarms": ["arn:a", "arn:b"]},
    }
    assert {widget["properties"]["region"] for widget in body["widgets"][1:]} == {"us-west-2"}


def test_a_tier_not_built_and_no_alarms_leave_their_widgets_out():
    assert titles(dashboard(alarm_arns=[], database=DATABASE)) == [
        "Database CPU (%)",
        "Database connections",
        "Database free storage (bytes)",
    ]
    assert dashboard(alarm_arns=[]) == {"widgets": []}


def test_each_alarm_threshold_is_drawn_on_its_graph_with_the_alarm_period():
    body = dashboard(alarm_arns=[], ecs=ECS, database=DATABASE, cache_nodes=["n1"])
    graphs = {widget["properties"]["title"]: widget["properties"] for widget in body["widgets"]}
    for title, key in [
        ("API 5xx error rate (%)", "api_error_rate"),
        ("API response time (s)", "api_latency_p95"),
        ("Backend CPU and memory (%)", "ecs_cpu"),
        ("Database CPU (%)", "rds_cpu"),
        ("Valkey memory (%)", "valkey_memory"),
        ("Valkey engine CPU (%)", "valkey_cpu"),
    ]:
        assert graphs[title]["period"] == DASHBOARD_SETTINGS[key]["period"], title
        (line,) = [line for line in graphs[title]["annotations"]["horizontal"] if "alarm" in line["label"]]
        assert line["value"] == float(DASHBOARD_SETTINGS[key]["threshold"]), title
    connections = graphs["Database connections"]["annotations"]["horizontal"]
    assert connections == [{"label": "max_connections", "value": 90.0}, {"label": "alarm", "value": 72.0}]
    assert graphs["Database free storage (bytes)"]["annotations"]["horizontal"][0]["value"] == 2147483648.0


def test_the_error_rate_graph_uses_the_alarm_expression_and_the_watched_resources():
    body = dashboard(alarm_arns=[], ecs=ECS, cache_nodes=["n1", "n2"])
    graphs = {widget["properties"]["title"]: widget["properties"] for widget in body["widgets"]}
    rate = graphs["API 5xx error rate (%)"]["metrics"][0][0]
    assert rate == {"id": "rate", "label": "5xx error rate (%)", "expression": "100 * errors / requests"}
    assert graphs["Targets"]["metrics"][0] == [
        "AWS/ApplicationELB",
        "HealthyHostCount",
        "TargetGroup",
        "targetgroup/sage-tg/2",
        "LoadBalancer",
        "app/sage-alb/1",
    ]
    assert graphs["Backend tasks"]["metrics"][1] == [
        "ECS/ContainerInsights",
        "RunningTaskCount",
        "ClusterName",
        "c",
        "ServiceName",
        "s",
    ]
    assert [line[3] for line in graphs["Valkey memory (%)"]["metrics"]] == ["n1", "n2"]
    assert graphs["Valkey memory (%)"]["yAxis"] == {"left": {"min": 0, "max": 100}}
    assert graphs["API 5xx error rate (%)"]["yAxis"] == {"left": {"min": 0}}
