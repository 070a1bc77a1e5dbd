# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters that check and lay out the VPC's subnets (stdlib ipaddress, no netaddr needed)."""

from __future__ import annotations

import ipaddress


def _network(value):
    try:
        return ipaddress.IPv4Network(str(value), strict=True), None
    except ValueError as exc:
        return None, str(exc)


def cidr_layout_errors(
    subnet_lists, vpc_cidr, az_count, vpc_var="network_vpc_cidr", az_var="network_az_count", min_az_count=1
):
    """Return one message per problem, each naming the variable at fault; [] when all is well.

    subnet_lists maps a variable name to its list of subnet CIDRs (one per availability zone).
    """
    errors = []
    vpc, problem = _network(vpc_cidr)
    if vpc is None:
        errors.append(f"{vpc_var}: '{vpc_cidr}' is not a valid IPv4 network in CIDR notation ({problem})")
    elif not 16 <= vpc.prefixlen <= 28:
        errors.append(f"{vpc_var}: '{vpc_cidr}' must have a prefix length between /16 and /28 (AWS limit)")

    try:
        az_count = int(az_count)
    except (TypeError, ValueError):
        return [*errors, f"{az_var}: '{az_count}' is not a number"]
    if az_count < min_az_count:
        errors.append(
            f"{az_var}: {az_count} availability zone(s) given, this environment needs at least {min_az_count}"
        )

    seen = []
    for var, cidrs in subnet_lists.items():
        if not isinstance(cidrs, list):
            errors.append(f"{var}: must be a list of CIDRs, got '{cidrs}'")
            continue
        if len(cidrs) != az_count:
            errors.append(
                f"{var}: has {len(cidrs)} subnet(s) but {az_var} is {az_count}; give one per availability zone"
            )
        for cidr in cidrs:
            subnet, problem = _network(cidr)
            if subnet is None:
                errors.append(f"{var}: '{cidr}' is not a valid IPv4 network in CIDR notation ({problem})")
                continue
            if not 16 <= subnet.prefixlen <= 28:
                errors.append(f"{var}: '{cidr}' must have a prefix length between /16 and /28 (AWS limit)")
            if vpc is not None and not subnet.subnet_of(vpc):
                errors.append(f"{var}: '{cidr}' lies outside {vpc_var} '{vpc}'")
            for other_var, other in seen:
                if subnet.overlaps(other):
                    errors.append(f"{var}: '{cidr}' overlaps '{other}' of {other_var}")
            seen.append((var, subnet))
    return errors


def subnet_plan(subnet_lists, availability_zones, name_prefix):
    """Lay subnets out one per tier and AZ: [{name, tier, cidr, az, index}, ...].

    subnet_lists maps a tier name (public, private, database) to its CIDRs in AZ order.
    """
    plan = []
    for tier, cidrs in subnet_lists.items():
        for index, (cidr, az) in enumerate(zip(cidrs, availability_zones, strict=False)):
            plan.append(
                {"name": f"{name_prefix}-{tier}-{index + 1}", "tier": tier, "cidr": cidr, "az": az, "index": index}
            )
    return plan


def route_table_plan(subnet_ids, igw_id, nat_ids, nat_mode, name_prefix, tags):
    """The route tables: public (to the internet gateway), one private per zone (to its NAT gateway, or to the
    single one) when there are NAT gateways, database (nothing leaves the VPC). [{name, tier, tags, subnets, routes}]
    """

    def table(name, tier, subnets, routes):
        return {
            "name": name,
            "tier": tier,
            "tags": dict(tags or {}, Name=name, Tier=tier),
            "subnets": subnets,
            "routes": routes,
        }

    tables = [
        table(f"{name_prefix}-public-rt", "public", subnet_ids["public"], [{"dest": "0.0.0.0/0", "gateway_id": igw_id}])
    ]
    if nat_ids:
        tables += [
            table(
                f"{name_prefix}-private-rt-{index + 1}",
                "private",
                [subnet_id],
                [{"dest": "0.0.0.0/0", "nat_gateway_id": nat_ids[index if nat_mode == "per_az" else 0]}],
            )
            for index, subnet_id in enumerate(subnet_ids["private"])
        ]
    return [*tables, table(f"{name_prefix}-database-rt", "database", subnet_ids["database"], [])]


class FilterModule:
    def filters(self):
        return {
            "cidr_layout_errors": cidr_layout_errors,
            "subnet_plan": subnet_plan,
            "route_table_plan": route_table_plan,
        }
