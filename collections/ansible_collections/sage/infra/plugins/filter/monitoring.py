# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of the monitoring role: alarm settings checked before any AWS call, and per-node metric queries."""

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


class FilterModule:
    def filters(self):
        return {
            "alarm_setting_errors": alarm_setting_errors,
            "alarm_options": alarm_options,
            "node_metric_queries": node_metric_queries,
        }
