# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which subnets, route tables and security groups differ from the plan, read from ONE *_info call each.

A no-op run then skips the amazon.aws module for every resource already as planned: that module would make
3 to 10 describe calls per resource to reach the same answer. The comparison is conservative: an item is in sync
only when every attribute the module manages (with the options the network role passes) is as planned; anything
unexpected (an unknown rule shape, a duplicate name, an IPv6 block) leaves it to the module.
"""

from __future__ import annotations


def _own_tags(tags):
    """The tags a module with purge_tags compares: AWS's reserved aws:* tags are neither set nor purged."""
    return {key: value for key, value in (tags or {}).items() if not key.startswith("aws:")}


def vpc_in_sync(existing, cidr, tags):
    """The one VPC found by its Name tag and CIDR (ec2_vpc_net_info) if it is as ec2_vpc_net would leave it
    (DNS support and hostnames on, exactly these tags), else None: then the module runs."""
    if len(existing) != 1:
        return None
    vpc = existing[0]
    in_sync = (
        vpc.get("cidr_block") == cidr
        and vpc.get("enable_dns_support") is True
        and vpc.get("enable_dns_hostnames") is True
        and _own_tags(vpc.get("tags")) == dict(tags)
    )
    return vpc if in_sync else None


def subnets_in_sync(plan, existing, tags):
    """Each planned subnet ({name, tier, cidr, az, index}) with in_sync and the existing subnet's id.

    existing: ec2_vpc_subnet_info's subnets of the VPC; tags: the stack's tags (Name and Tier are added).
    The role calls ec2_vpc_subnet with map_public=false, no IPv6 and purge_tags.
    """
    by_cidr = {subnet["cidr_block"]: subnet for subnet in existing}
    out = []
    for item in plan:
        subnet = by_cidr.get(item["cidr"])
        want_tags = dict(tags or {}, Name=item["name"], Tier=item["tier"])
        in_sync = bool(
            subnet
            and subnet.get("availability_zone") == item["az"]
            and subnet.get("map_public_ip_on_launch") is False
            and not subnet.get("assign_ipv6_address_on_creation")
            and not subnet.get("ipv6_cidr_block_association_set")
            and _own_tags(subnet.get("tags")) == want_tags
        )
        out.append(dict(item, in_sync=in_sync, id=subnet["id"] if subnet else None))
    return out


def nat_gateways_in_sync(subnet_ids, existing, name_prefix, tags):
    """One NAT gateway per given public subnet: [{name, index, subnet_id, in_sync, id, allocation_id}].

    existing: ec2_vpc_nat_gateway_info's pending and available gateways of the VPC. A gateway found in the subnet
    keeps its Elastic IP (allocation_id); it is in sync when available with exactly the planned tags.
    """
    found = {}
    for gateway in existing:
        found.setdefault(gateway.get("subnet_id"), []).append(gateway)
    out = []
    for index, subnet_id in enumerate(subnet_ids):
        name = f"{name_prefix}-nat-{index + 1}"
        gateways = found.get(subnet_id, [])
        gateway = gateways[0] if gateways else None
        addresses = (gateway or {}).get("nat_gateway_addresses") or [{}]
        in_sync = bool(
            len(gateways) == 1
            and gateway.get("state") == "available"
            and _own_tags(gateway.get("tags")) == dict(tags or {}, Name=name)
        )
        out.append(
            {
                "name": name,
                "index": index,
                "subnet_id": subnet_id,
                "in_sync": in_sync,
                "id": gateway.get("nat_gateway_id") if gateway else None,
                "allocation_id": addresses[0].get("allocation_id"),
            }
        )
    return out


def with_applied_ids(synced, results, id_path):
    """The synced plan in its order, each item's id taken from the module's loop result where it ran.

    results: the registered loop over the items not in sync; id_path: where the result holds the id
    ("subnet.id", "route_table.id", "group_id"). An item planned in check mode has no id yet (None).
    """
    applied = {}
    for result in results or []:
        value = result
        for key in id_path.split("."):
            value = value.get(key) if isinstance(value, dict) else None
        applied[result["item"]["name"]] = value
    return [dict(item, id=applied.get(item["name"])) if not item["in_sync"] else item for item in synced]


def ids_by(items, attribute):
    """{value of attribute: [ids of the items with that value, in order]}, items without an id left out."""
    grouped = {}
    for item in items:
        if item.get("id"):
            grouped.setdefault(item[attribute], []).append(item["id"])
    return grouped


def route_tables_in_sync(planned, existing):
    """Each planned route table ({tags, subnets, routes}) with in_sync and the existing table's id.

    Found as ec2_vpc_route_table's lookup=tag finds it (every planned tag present); in sync when exactly one
    table matches, with exactly the planned tags, non-main subnet associations and created routes
    (routes: [{dest, gateway_id | nat_gateway_id}]). Routes without a destination CIDR (gateway endpoints)
    and the local route are left alone by the module and ignored here too.
    """
    out = []
    for item in planned:
        want_tags = item["tags"]
        matches = [
            table
            for table in existing
            if all((table.get("tags") or {}).get(key) == value for key, value in want_tags.items())
        ]
        table = matches[0] if len(matches) == 1 else None
        in_sync = bool(
            table
            and _own_tags(table.get("tags")) == want_tags
            and _associated_subnets(table) == sorted(item["subnets"])
            and _created_routes(table) == sorted(_planned_route(route) for route in item["routes"])
        )
        out.append(dict(item, in_sync=in_sync, id=table["id"] if table else None))
    return out


def _associated_subnets(table):
    return sorted(
        association.get("subnet_id")
        for association in table.get("associations") or []
        if not association.get("main") and association.get("association_state", {}).get("state") != "disassociated"
    )


def _created_routes(table):
    routes = []
    for route in table.get("routes") or []:
        if route.get("origin") != "CreateRoute" or not route.get("destination_cidr_block"):
            continue
        target = route.get("nat_gateway_id") or route.get("gateway_id") or repr(sorted(route.items()))
        routes.append((route["destination_cidr_block"], target))
    return sorted(routes)


def _planned_route(route):
    return route["dest"], route.get("nat_gateway_id") or route.get("gateway_id")


def security_groups_in_sync(planned, existing, tags):
    """Each planned group ({name, description, ingress, egress}) with in_sync, its id and the tags to set.

    Rules as ec2_security_group takes them (proto, ports, cidr_ip, cidr_ipv6, group_name, rule_desc), with
    purge_rules and purge_rules_egress. A group is tagged with tags + its Name, except one planned with
    tags: null (the VPC's default group), whose tags are left as they are.
    """
    by_name = {}
    for group in existing:
        by_name.setdefault(group["group_name"], []).append(group)
    ids = {name: groups[0]["group_id"] for name, groups in by_name.items() if len(groups) == 1}
    out = []
    for item in planned:
        want_tags = None if "tags" in item and item["tags"] is None else dict(tags or {}, Name=item["name"])
        groups = by_name.get(item["name"], [])
        group = groups[0] if len(groups) == 1 else None
        ingress, egress = _rules(item["ingress"], ids), _rules(item["egress"], ids)
        in_sync = bool(
            group
            and group.get("description") == item["description"]
            and ingress is not None
            and egress is not None
            and ingress == _permissions(group.get("ip_permissions"))
            and egress == _permissions(group.get("ip_permissions_egress"))
            and (want_tags is None or _own_tags(group.get("tags")) == want_tags)
        )
        out.append(dict(item, in_sync=in_sync, id=group["group_id"] if group else None, tags=want_tags))
    return out


def _as_list(value):
    return value if isinstance(value, list) else [value]


def _rules(rules, ids):
    """The planned rules as a sorted list of (protocol, from, to, target, description); None if not understood."""
    flat = []
    for rule in rules:
        proto = str(rule.get("proto", ""))
        targets = (
            [("cidr", cidr) for cidr in _as_list(rule.get("cidr_ip", []))]
            + [("cidr6", cidr) for cidr in _as_list(rule.get("cidr_ipv6", []))]
            + [("group", ids.get(name)) for name in _as_list(rule.get("group_name", []))]
        )
        if not targets or any(target is None for _kind, target in targets) or set(rule) - _RULE_KEYS:
            return None
        if proto in ("all", "-1"):
            port_ranges = [(None, None)]
        else:
            try:
                port_ranges = [(int(port), int(port)) for port in rule.get("ports", [])]
            except (TypeError, ValueError):
                return None  # a range such as "1000-2000": left to the module
            if proto not in ("tcp", "udp") or not port_ranges:
                return None
        proto = "-1" if proto in ("all", "-1") else proto
        for low, high in port_ranges:
            flat += [(proto, low, high, kind, target, rule.get("rule_desc")) for kind, target in targets]
    return sorted(flat, key=repr)


_RULE_KEYS = {"proto", "ports", "cidr_ip", "cidr_ipv6", "group_name", "rule_desc"}


def _permissions(permissions):
    """ec2_security_group_info's ip_permissions as the same tuples."""
    flat = []
    for permission in permissions or []:
        proto = str(permission.get("ip_protocol"))
        low, high = (None, None) if proto == "-1" else (permission.get("from_port"), permission.get("to_port"))
        if permission.get("prefix_list_ids"):
            flat.append(("prefix-list", repr(permission["prefix_list_ids"])))
        for kind, key, target in (
            ("cidr", "ip_ranges", "cidr_ip"),
            ("cidr6", "ipv6_ranges", "cidr_ipv6"),
            ("group", "user_id_group_pairs", "group_id"),
        ):
            flat += [
                (proto, low, high, kind, entry.get(target), entry.get("description"))
                for entry in permission.get(key) or []
            ]
    return sorted(flat, key=repr)


class FilterModule:
    def filters(self):
        return {
            "vpc_in_sync": vpc_in_sync,
            "subnets_in_sync": subnets_in_sync,
            "nat_gateways_in_sync": nat_gateways_in_sync,
            "with_applied_ids": with_applied_ids,
            "ids_by": ids_by,
            "route_tables_in_sync": route_tables_in_sync,
            "security_groups_in_sync": security_groups_in_sync,
        }
