# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The network role's comparisons (module_utils/stack_ec2): which VPC, subnets, NAT gateways, route tables,
security groups, S3 endpoint and flow log differ from the plan, each with the attributes that differ."""

from __future__ import annotations

from ansible_collections.sage.infra.plugins.module_utils.deferred import deferred

COMPARISONS = (
    "vpc_changes",
    "vpc_in_sync",
    "subnets_in_sync",
    "nat_gateways_in_sync",
    "with_applied_ids",
    "ids_by",
    "route_tables_in_sync",
    "security_groups_in_sync",
    "s3_endpoint_changes",
    "s3_endpoint_id",
    "flow_log_changes",
)


class FilterModule:
    def filters(self):
        return {name: deferred("stack_ec2", name) for name in COMPARISONS}
