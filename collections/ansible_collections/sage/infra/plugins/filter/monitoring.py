# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of the monitoring role (module_utils/monitoring): alarm settings checked before any AWS call, the alarms
option of sage.infra.cloudwatch_metric_alarm, per-node metric queries and the dashboard's body."""

from __future__ import annotations

FILTERS = ("alarm_setting_errors", "alarm_options", "node_metric_queries", "dashboard_body")


def _from_monitoring(name):
    """module_utils/monitoring's function `name`, imported when first called: only the monitoring role's tasks use
    them, and Ansible loads every filter file of the collection, from source, in each task's worker."""

    def monitoring_filter(*args, **kwargs):
        from ansible_collections.sage.infra.plugins.module_utils import monitoring

        return getattr(monitoring, name)(*args, **kwargs)

    monitoring_filter.__name__ = name
    return monitoring_filter


class FilterModule:
    def filters(self):
        return {name: _from_monitoring(name) for name in FILTERS}
