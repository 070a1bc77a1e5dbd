# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The monitoring role's alarms and dashboard: alarm settings checked before any AWS call, the alarms option of
sage.infra.cloudwatch_metric_alarm, per-node metric queries, and the dashboard's body."""

from numbers import Number

COMMON_SETTINGS = ("enabled", "threshold", "period", "evaluation_periods", "datapoints_to_alarm", "channel")
HIGH_RESOLUTION_PERIODS = (10, 20, 30)
MAX_EVALUATION_SECONDS = 86400  # CloudWatch evaluates at most one day of periods


def _is_number(value):
    return isinstance(value, Number) and not isinstance(value, bool)


def _is_whole(value):
    return _is_number(value) and float(value).is_integer()


def _threshold_errors(name, value, limits):
    if not _is_number(value):
        return [f"{name} must be a number, got {value!r}"]
    if limits.get("integer") and not _is_whole(value):
        return [f"{name} must be a whole number, got {value!r}"]
    bounds = []
    if "min" in limits and value < limits["min"]:
        bounds.append(f"at least {limits['min']}")
    if "above" in limits and value <= limits["above"]:
        bounds.append(f"above {limits['above']}")
    if "max" in limits and value > limits["max"]:
        bounds.append(f"at most {limits['max']}")
    if "below" in limits and value >= limits["below"]:
        bounds.append(f"below {limits['below']}")
    if bounds:
        return [f"{name} must be {' and '.join(bounds)}, got {value!r}"]
    return []


def _period_errors(name, settings):
    """``name(*settings)``: the variable and alarm (``<variable>.<alarm>``) these settings come from."""
    period, evaluations = settings.get("period"), settings.get("evaluation_periods")
    errors = []
    if not _is_whole(period) or not (period in HIGH_RESOLUTION_PERIODS or (period >= 60 and period % 60 == 0)):
        errors.append(f"{name('period')}.period must be 10, 20, 30 or a multiple of 60 seconds, got {period!r}")
    if not _is_whole(evaluations) or evaluations < 1:
        errors.append(
            f"{name('evaluation_periods')}.evaluation_periods must be a whole number of at least 1, got {evaluations!r}"
        )
    elif not errors and period * evaluations > MAX_EVALUATION_SECONDS:
        errors.append(
            f"{name('period', 'evaluation_periods')}: period x evaluation_periods ({period} x {evaluations} s) "
            f"must not exceed one day ({MAX_EVALUATION_SECONDS} s)"
        )
    datapoints = settings.get("datapoints_to_alarm")
    if (
        datapoints is not None
        and _is_whole(evaluations)
        and (not _is_whole(datapoints) or not 1 <= datapoints <= evaluations)
    ):
        errors.append(
            f"{name('datapoints_to_alarm', 'evaluation_periods')}.datapoints_to_alarm must be 1 to evaluation_periods "
            f"({evaluations}), got {datapoints!r}"
        )
    return errors


def alarm_setting_errors(alarms, overrides, limits, channels, alarms_var="monitoring_alarms", overrides_var=None):
    """Messages (empty when all is well) naming the variable and setting at fault.

    ``alarms`` are the role's alarm settings, ``overrides`` the user's changes to them (merged over
    ``alarms``), ``limits`` each alarm's threshold bounds ({min, above, max, below, integer}), and
    ``channels`` the Discord channels an alarm may notify.
    """
    overrides_var = overrides_var or alarms_var.replace("alarms", "alarm_overrides")
    errors = []
    if not isinstance(overrides, dict):
        return [f"{overrides_var} must be a dict of alarm name -> settings"]
    for key in sorted(set(overrides) - set(alarms)):
        errors.append(f"{overrides_var}.{key} is not an alarm of this role (known: {', '.join(sorted(alarms))})")
    for key in sorted(set(alarms) & set(limits)):
        # combine(recursive=true) replaces the alarm's settings by any override that is not a dict (null too)
        change = overrides.get(key, {})
        if not isinstance(change, dict):
            errors.append(f"{overrides_var}.{key} must be a dict of settings, got {change!r}")
            continue
        settings = {**alarms[key], **change}

        def name(*names, key=key, change=change):
            """The variable a message names: the overrides when they set one of these settings."""
            return f"{overrides_var if any(setting in change for setting in names) else alarms_var}.{key}"

        allowed = set(COMMON_SETTINGS) | set(alarms[key])
        for setting in sorted(set(settings) - allowed):
            errors.append(f"{name(setting)}.{setting} is not a setting (known: {', '.join(sorted(allowed))})")
        if not isinstance(settings.get("enabled"), bool):
            errors.append(f"{name('enabled')}.enabled must be true or false, got {settings.get('enabled')!r}")
        errors += _threshold_errors(f"{name('threshold')}.threshold", settings.get("threshold"), limits[key])
        errors += _period_errors(name, settings)
        if settings.get("channel") not in channels:
            errors.append(
                f"{name('channel')}.channel must be one of {', '.join(channels)}, got {settings.get('channel')!r}"
            )
        for setting in sorted(set(alarms[key]) - set(COMMON_SETTINGS)):
            if not _is_whole(settings[setting]) or settings[setting] < 0:
                errors.append(
                    f"{name(setting)}.{setting} must be a whole number of at least 0, got {settings[setting]!r}"
                )
    return errors


def node_metric_queries(nodes, dimension, namespace, metric_name, period, stat, label):
    """Metric math queries for the worst node: one query a node (m0, m1, ...) and MAX over them.

    ElastiCache reports memory and CPU per node (dimension CacheClusterId), so a replication group's
    alarm watches the fullest or busiest of its nodes.
    """
    queries = [
        {
            "Id": f"m{index}",
            "ReturnData": False,
            "MetricStat": {
                "Metric": {
                    "Namespace": namespace,
                    "MetricName": metric_name,
                    "Dimensions": [{"Name": dimension, "Value": node}],
                },
                "Period": int(period),
                "Stat": stat,
            },
        }
        for index, node in enumerate(nodes)
    ]
    ids = ", ".join(query["Id"] for query in queries)
    queries.append({"Id": "worst", "Label": label, "ReturnData": True, "Expression": f"MAX([{ids}])"})
    return queries


def alarm_options(definitions, settings, keys):
    """The alarms option of sage.infra.cloudwatch_metric_alarm, one item per key of `keys` (the alarms whose
    resource this play built): the alarm's definition without its tier, present when its setting is enabled and
    absent (deleted) when not, with the setting's evaluation periods, period (a single-metric alarm) and
    datapoints to alarm. Actions and tags are given beside it, once for all."""
    options = []
    for key in keys:
        definition, setting = definitions[key], settings[key]
        option = {name: value for name, value in definition.items() if name != "tier"}
        option.update(
            state="present" if setting["enabled"] else "absent",
            description=definition["description"].strip(),
            threshold=float(definition["threshold"]),
            evaluation_periods=setting["evaluation_periods"],
        )
        if "metric_name" in definition:
            option["period"] = setting["period"]
        if "datapoints_to_alarm" in setting:
            option["datapoints_to_alarm"] = setting["datapoints_to_alarm"]
        options.append(option)
    return options


PERCENT = {"min": 0, "max": 100}


def _graph(title, region, metrics, period=60, stat=None, y_axis=None, alarm_lines=(), width=12):
    """A time-series widget; y_axis: the left axis' bounds; alarm_lines: (label, value) drawn as horizontal lines
    (an alarm's threshold)."""
    properties = {"title": title, "region": region, "view": "timeSeries", "period": period, "metrics": metrics}
    if stat:
        properties["stat"] = stat
    if y_axis:
        properties["yAxis"] = {"left": dict(y_axis)}
    if alarm_lines:
        properties["annotations"] = {
            "horizontal": [{"label": label, "value": float(value)} for label, value in alarm_lines]
        }
    return {"type": "metric", "width": width, "height": 6, "properties": properties}


def _service_widgets(settings, definitions, region, ecs):
    alb = ["AWS/ApplicationELB"]
    lb = ["LoadBalancer", ecs["load_balancer"]]
    service = ["ClusterName", ecs["cluster"], "ServiceName", ecs["service"]]
    (rate,) = [query for query in definitions["api_error_rate"]["metrics"] if query.get("ReturnData")]
    target_group = ["TargetGroup", ecs["target_group"]]
    return [
        _graph(
            "API requests and 5xx",
            region,
            [[*alb, metric, *lb] for metric in ("RequestCount", "HTTPCode_Target_5XX_Count", "HTTPCode_ELB_5XX_Count")],
            stat="Sum",
        ),
        _graph(
            "API 5xx error rate (%)",
            region,
            [
                [{"id": "rate", "label": "5xx error rate (%)", "expression": rate["Expression"].strip()}],
                [*alb, "HTTPCode_Target_5XX_Count", *lb, {"id": "target5xx", "stat": "Sum", "visible": False}],
                [*alb, "HTTPCode_ELB_5XX_Count", *lb, {"id": "alb5xx", "stat": "Sum", "visible": False}],
                [*alb, "RequestCount", *lb, {"id": "requests", "stat": "Sum", "visible": False}],
            ],
            period=settings["api_error_rate"]["period"],
            y_axis={"min": 0},
            alarm_lines=[("alarm", settings["api_error_rate"]["threshold"])],
        ),
        _graph(
            "API response time (s)",
            region,
            [[*alb, "TargetResponseTime", *lb, {"stat": stat, "label": stat}] for stat in ("p95", "p50")],
            period=settings["api_latency_p95"]["period"],
            alarm_lines=[("p95 alarm", settings["api_latency_p95"]["threshold"])],
        ),
        _graph(
            "Targets",
            region,
            [[*alb, metric, *target_group, *lb] for metric in ("HealthyHostCount", "UnHealthyHostCount")],
            stat="Maximum",
        ),
        _graph(
            "Backend CPU and memory (%)",
            region,
            [["AWS/ECS", metric, *service] for metric in ("CPUUtilization", "MemoryUtilization")],
            period=settings["ecs_cpu"]["period"],
            stat="Average",
            y_axis=PERCENT,
            alarm_lines=[("CPU alarm", settings["ecs_cpu"]["threshold"])],
        ),
        _graph(
            "Backend tasks",
            region,
            [["ECS/ContainerInsights", metric, *service] for metric in ("DesiredTaskCount", "RunningTaskCount")],
            stat="Average",
        ),
    ]


def _database_widgets(settings, definitions, region, database):
    instance = ["DBInstanceIdentifier", database["identifier"]]
    return [
        _graph(
            "Database CPU (%)",
            region,
            [["AWS/RDS", "CPUUtilization", *instance]],
            period=settings["rds_cpu"]["period"],
            stat="Average",
            y_axis=PERCENT,
            alarm_lines=[("alarm", settings["rds_cpu"]["threshold"])],
            width=8,
        ),
        _graph(
            "Database connections",
            region,
            [["AWS/RDS", "DatabaseConnections", *instance]],
            stat="Maximum",
            alarm_lines=[
                ("max_connections", database["max_connections"]),
                ("alarm", definitions["rds_connections"]["threshold"]),
            ],
            width=8,
        ),
        _graph(
            "Database free storage (bytes)",
            region,
            [["AWS/RDS", "FreeStorageSpace", *instance]],
            period=settings["rds_free_storage"]["period"],
            stat="Minimum",
            alarm_lines=[("alarm", definitions["rds_free_storage"]["threshold"])],
            width=8,
        ),
    ]


def _cache_widgets(settings, region, nodes):
    def per_node(metric):
        return [["AWS/ElastiCache", metric, "CacheClusterId", node] for node in nodes]

    return [
        _graph(
            f"Valkey {title} (%)",
            region,
            per_node(metric),
            period=settings[key]["period"],
            stat=stat,
            y_axis=PERCENT,
            alarm_lines=[("alarm", settings[key]["threshold"])],
        )
        for title, metric, key, stat in (
            ("memory", "DatabaseMemoryUsagePercentage", "valkey_memory", "Maximum"),
            ("engine CPU", "EngineCPUUtilization", "valkey_cpu", "Average"),
        )
    ]


def dashboard_body(settings, definitions, region, alarm_arns, ecs=None, database=None, cache_nodes=()):
    """The body of the CloudWatch dashboard: a widget of the alarms (alarm_arns, when any), then graphs of what they
    watch, each alarm's threshold drawn on its graph. settings: each alarm's settings (monitoring_alarms with the
    overrides); definitions: how each alarm watches its signal (the role's _monitoring_alarm_definitions). The
    resources watched, each left out when the play did not build it: ecs {load_balancer, target_group, cluster,
    service} (CloudWatch's names), database {identifier, max_connections}, cache_nodes (the Valkey nodes' ids)."""
    widgets = []
    if alarm_arns:
        widgets.append(
            {"type": "alarm", "width": 24, "height": 3, "properties": {"title": "Alarms", "alarms": list(alarm_arns)}}
        )
    if ecs:
        widgets += _service_widgets(settings, definitions, region, ecs)
    if database:
        widgets += _database_widgets(settings, definitions, region, database)
    if cache_nodes:
        widgets += _cache_widgets(settings, region, cache_nodes)
    return {"widgets": widgets}
