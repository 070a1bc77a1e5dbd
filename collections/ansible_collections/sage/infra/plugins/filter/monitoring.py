# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of the monitoring role (module_utils/monitoring): alarm settings checked before any AWS call, the alarms
option of sage.infra.cloudwatch_metric_alarm, per-node metric queries and the dashboard's body."""

from __future__ import annotations

from ansible_collections.sage.infra.plugins.module_utils.deferred import deferred

FILTERS = ("alarm_setting_errors", "alarm_options", "node_metric_queries", "dashboard_body")


class FilterModule:
    def filters(self):
        return {name: deferred("monitoring", name) for name in FILTERS}
