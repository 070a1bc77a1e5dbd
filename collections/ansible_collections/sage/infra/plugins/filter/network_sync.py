# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The network role's comparisons (module_utils/stack_ec2): which VPC, subnets, NAT gateways, route tables,
security groups, S3 endpoint and flow log differ from the plan, each with the attributes that differ."""

from __future__ import annotations

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
    "flow_log_changes",
)


def _from_stack_ec2(name):
    """stack_ec2's function `name`, imported when first called: only the network role's tasks use them, and
    Ansible loads every filter file of the collection, from source, in each task's worker."""

    def comparison(*args, **kwargs):
        from ansible_collections.sage.infra.plugins.module_utils import stack_ec2

        return getattr(stack_ec2, name)(*args, **kwargs)

    comparison.__name__ = name
    return comparison


class FilterModule:
    def filters(self):
        return {name: _from_stack_ec2(name) for name in COMPARISONS}
