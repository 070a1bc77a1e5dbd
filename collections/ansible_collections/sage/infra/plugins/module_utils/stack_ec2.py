# Copyright: Contributors to the sage-infra project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The network (VPC, subnets, internet and NAT gateways, route tables, security groups, S3 endpoint, flow log):
read in the shapes the amazon.aws *_info modules return, and compared with the plan the network role makes.

Each comparison gives, per planned item, ``changes`` ([{attribute, current, desired}], empty when in sync) and
``in_sync``; an item is in sync only when every attribute its module manages (with the options the network role
passes) is as planned. Anything unexpected (an unknown rule shape, a duplicate name, an IPv6 block) is a change,
so the module runs and decides.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from ansible.module_utils.common.dict_transformations import camel_dict_to_snake_dict
from ansible_collections.sage.infra.plugins.module_utils.stack import UNKNOWN, canonical_policy, own_tags, tag_dict


def _snake(item):
    out = camel_dict_to_snake_dict(item, ignore_list=["Tags"])
    out.pop("tags", None)
    out["tags"] = tag_dict(item.get("Tags"))
    return out


def _pages(client, operation, key, **kwargs):
    return [item for page in client.get_paginator(operation).paginate(**kwargs) for item in page[key]]


def read_network(client, spec):
    """The VPC named spec.vpc_name with spec.vpc_cidr, and what lives in it, as the *_info modules return them.

    Two calls for the VPC's DNS attributes, then one call per kind, concurrently. The internet gateway is found
    by spec.igw_name, attached or not (one an interrupted run created but never attached); the NAT gateways'
    Elastic IPs by their Name tag, spec.eip_name_prefix followed by anything.
    """
    filters = [{"Name": "tag:Name", "Values": [spec["vpc_name"]]}, {"Name": "cidr-block", "Values": [spec["vpc_cidr"]]}]
    vpcs = []
    for vpc in _pages(client, "describe_vpcs", "Vpcs", Filters=filters):
        view = _snake(vpc)
        view["id"] = vpc["VpcId"]
        for attribute, key in (("enableDnsSupport", "EnableDnsSupport"), ("enableDnsHostnames", "EnableDnsHostnames")):
            answer = client.describe_vpc_attribute(VpcId=vpc["VpcId"], Attribute=attribute)
            view["enable_dns_support" if key == "EnableDnsSupport" else "enable_dns_hostnames"] = answer[key]["Value"]
        vpcs.append(view)
    out = {"vpcs": vpcs}
    in_vpc = [{"Name": "vpc-id", "Values": [vpcs[0]["id"]]}] if len(vpcs) == 1 else None

    def subnets():
        return [
            dict(_snake(s), id=s["SubnetId"]) for s in _pages(client, "describe_subnets", "Subnets", Filters=in_vpc)
        ]

    def internet_gateways():
        by_name = [{"Name": "tag:Name", "Values": [spec["igw_name"]]}]
        return [_snake(g) for g in _pages(client, "describe_internet_gateways", "InternetGateways", Filters=by_name)]

    def nat_gateways():
        states = [*in_vpc, {"Name": "state", "Values": ["pending", "available"]}]
        return [_snake(g) for g in _pages(client, "describe_nat_gateways", "NatGateways", Filter=states)]

    def route_tables():
        tables = []
        for table in _pages(client, "describe_route_tables", "RouteTables", Filters=in_vpc):
            view = _snake(table)
            view["id"] = table["RouteTableId"]
            for association in view.get("associations") or []:
                association["id"] = association.get("route_table_association_id")
            tables.append(view)
        return tables

    def security_groups():
        return [_snake(g) for g in _pages(client, "describe_security_groups", "SecurityGroups", Filters=in_vpc)]

    def vpc_endpoints():
        return [_snake(e) for e in _pages(client, "describe_vpc_endpoints", "VpcEndpoints", Filters=in_vpc)]

    def flow_logs():
        by_vpc = [{"Name": "resource-id", "Values": [vpcs[0]["id"]]}]
        return [_snake(f) for f in _pages(client, "describe_flow_logs", "FlowLogs", Filters=by_vpc)]

    def addresses():
        by_name = [{"Name": "tag:Name", "Values": [spec["eip_name_prefix"] + "*"]}]
        return [_snake(a) for a in client.describe_addresses(Filters=by_name)["Addresses"]]

    readers = {"internet_gateways": internet_gateways, "addresses": addresses}
    if in_vpc:
        readers.update(
            subnets=subnets,
            nat_gateways=nat_gateways,
            route_tables=route_tables,
            security_groups=security_groups,
            vpc_endpoints=vpc_endpoints,
            flow_logs=flow_logs,
        )
    else:
        out.update(subnets=[], nat_gateways=[], route_tables=[], security_groups=[], vpc_endpoints=[], flow_logs=[])
    with ThreadPoolExecutor(max_workers=len(readers)) as pool:
        futures = {key: pool.submit(read) for key, read in readers.items()}
        out.update({key: future.result() for key, future in futures.items()})
    return out


READERS = {"network": ("ec2", read_network)}


def _change(attribute, current, desired):
    return {"attribute": attribute, "current": current, "desired": desired}


def _changes(pairs):
    """[{attribute, current, desired}] for each (attribute, current, desired, equal) whose equal is false."""
    return [_change(attribute, current, desired) for attribute, current, desired, equal in pairs if not equal]


def vpc_changes(existing, cidr, tags):
    """What differs between the VPCs found by Name tag and CIDR and the one ec2_vpc_net would leave (DNS support
    and hostnames on, exactly these tags). No VPC, or more than one, is a change of `vpc` itself."""
    if len(existing) != 1:
        return [_change("vpc", [vpc.get("id") for vpc in existing] or None, f"one VPC with {cidr}")]
    vpc = existing[0]
    return _changes(
        [
            ("cidr_block", vpc.get("cidr_block"), cidr, vpc.get("cidr_block") == cidr),
            ("enable_dns_support", vpc.get("enable_dns_support"), True, vpc.get("enable_dns_support") is True),
            ("enable_dns_hostnames", vpc.get("enable_dns_hostnames"), True, vpc.get("enable_dns_hostnames") is True),
            ("tags", own_tags(vpc.get("tags")), dict(tags), own_tags(vpc.get("tags")) == dict(tags)),
        ]
    )


def vpc_in_sync(existing, cidr, tags):
    """The one VPC found if it is as ec2_vpc_net would leave it, else None: then the module runs."""
    return existing[0] if not vpc_changes(existing, cidr, tags) else None


def subnets_in_sync(plan, existing, tags):
    """Each planned subnet ({name, tier, cidr, az, index}) with changes, in_sync and the existing subnet's id.

    existing: ec2_vpc_subnet_info's subnets of the VPC; tags: the stack's tags (Name and Tier are added).
    The role calls ec2_vpc_subnet with map_public=false, no IPv6 and purge_tags.
    """
    by_cidr = {subnet["cidr_block"]: subnet for subnet in existing}
    out = []
    for item in plan:
        subnet = by_cidr.get(item["cidr"])
        want_tags = dict(tags or {}, Name=item["name"], Tier=item["tier"])
        if subnet:
            changes = _changes(
                [
                    ("az", subnet.get("availability_zone"), item["az"], subnet.get("availability_zone") == item["az"]),
                    (
                        "map_public_ip_on_launch",
                        subnet.get("map_public_ip_on_launch"),
                        False,
                        subnet.get("map_public_ip_on_launch") is False,
                    ),
                    (
                        "ipv6",
                        bool(
                            subnet.get("assign_ipv6_address_on_creation")
                            or subnet.get("ipv6_cidr_block_association_set")
                        ),
                        False,
                        not subnet.get("assign_ipv6_address_on_creation")
                        and not subnet.get("ipv6_cidr_block_association_set"),
                    ),
                    ("tags", own_tags(subnet.get("tags")), want_tags, own_tags(subnet.get("tags")) == want_tags),
                ]
            )
        else:
            changes = None
        out.append(_synced(item, changes, subnet["id"] if subnet else None))
    return out


def _synced(item, changes, found_id, **extra):
    """The planned item with in_sync, changes (None when the resource does not exist) and the found id."""
    return dict(item, in_sync=changes == [], changes=changes, id=found_id, **extra)


def nat_gateways_in_sync(subnet_ids, existing, name_prefix, tags):
    """One NAT gateway per given public subnet: [{name, index, subnet_id, in_sync, changes, id, allocation_id}].

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
        want_tags = dict(tags or {}, Name=name)
        changes = None
        if gateway:
            changes = _changes(
                [
                    ("count", len(gateways), 1, len(gateways) == 1),
                    ("state", gateway.get("state"), "available", gateway.get("state") == "available"),
                    ("tags", own_tags(gateway.get("tags")), want_tags, own_tags(gateway.get("tags")) == want_tags),
                ]
            )
        item = {"name": name, "index": index, "subnet_id": subnet_id}
        out.append(
            _synced(
                item,
                changes,
                gateway.get("nat_gateway_id") if gateway else None,
                allocation_id=addresses[0].get("allocation_id"),
            )
        )
    return out


def with_applied_ids(synced, results, id_path):
    """The synced plan in its order, each item's id taken from the module's loop result where it ran.

    results: the registered loop over the items not in sync; id_path: where the result holds the id
    ("subnet.id", "route_table.id", "group_id"). An item to be created whose module did not run, or ran in check
    mode, has no id yet: "(known after apply)".
    """
    applied = {}
    for result in results or []:
        if result.get("skipped"):
            continue
        value = result
        for key in id_path.split("."):
            value = value.get(key) if isinstance(value, dict) else None
        applied[result["item"]["name"]] = value
    return [
        dict(item, id=applied.get(item["name"]) or item["id"] or UNKNOWN) if not item["in_sync"] else item
        for item in synced
    ]


def ids_by(items, attribute):
    """{value of attribute: [ids of the items with that value, in order]}, items without an id left out."""
    grouped = {}
    for item in items:
        if item.get("id"):
            grouped.setdefault(item[attribute], []).append(item["id"])
    return grouped


def route_tables_in_sync(planned, existing):
    """Each planned route table ({tags, subnets, routes}) with changes, in_sync and the existing table's id.

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
        table = matches[0] if matches else None
        changes = None
        if table:
            subnets, routes = _associated_subnets(table), _created_routes(table)
            want_subnets, want_routes = (
                sorted(item["subnets"]),
                sorted(_planned_route(route) for route in item["routes"]),
            )
            changes = _changes(
                [
                    ("count", len(matches), 1, len(matches) == 1),
                    ("tags", own_tags(table.get("tags")), want_tags, own_tags(table.get("tags")) == want_tags),
                    ("subnets", subnets, want_subnets, subnets == want_subnets),
                    ("routes", [list(r) for r in routes], [list(r) for r in want_routes], routes == want_routes),
                ]
            )
        out.append(_synced(item, changes, table["id"] if len(matches) == 1 else None))
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
    """Each planned group ({name, description, ingress, egress}) with changes, in_sync, its id and the tags to set.

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
        group = groups[0] if groups else None
        changes = None
        if group:
            ingress, egress = _rules(item["ingress"], ids), _rules(item["egress"], ids)
            have_in, have_out = (
                _permissions(group.get("ip_permissions")),
                _permissions(group.get("ip_permissions_egress")),
            )
            changes = _changes(
                [
                    ("count", len(groups), 1, len(groups) == 1),
                    (
                        "description",
                        group.get("description"),
                        item["description"],
                        group.get("description") == item["description"],
                    ),
                    ("ingress", _shown(have_in), _shown(ingress), ingress is not None and ingress == have_in),
                    ("egress", _shown(have_out), _shown(egress), egress is not None and egress == have_out),
                    (
                        "tags",
                        own_tags(group.get("tags")),
                        want_tags,
                        want_tags is None or own_tags(group.get("tags")) == want_tags,
                    ),
                ]
            )
        out.append(_synced(item, changes, group["group_id"] if len(groups) == 1 else None, tags=want_tags))
    return out


def _shown(rules):
    """Rules as a plan shows them: "proto from-to target (description)"; None (not understood) as such."""
    if rules is None:
        return "(rules the comparison does not understand: the module decides)"
    shown = []
    for rule in rules:
        if rule[0] == "prefix-list":
            shown.append(f"prefix lists {rule[1]}")
            continue
        proto, low, high, _kind, target, description = rule
        ports = "all" if low is None else (str(low) if low == high else f"{low}-{high}")
        shown.append(f"{proto} {ports} {target}" + (f" ({description})" if description else ""))
    return shown


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


def _live_endpoints(existing, service):
    return [
        endpoint
        for endpoint in existing
        if endpoint.get("service_name") == service and endpoint.get("state") not in ("deleted", "deleting")
    ]


def s3_endpoint_id(existing, service):
    """The ID of the VPC's gateway endpoint for `service` that s3_endpoint_changes compares; "" when there is none."""
    found = _live_endpoints(existing, service)
    return found[0].get("vpc_endpoint_id", "") if found else ""


def s3_endpoint_changes(existing, service, route_table_ids, tags, policy=None):
    """What differs between the VPC's gateway endpoints for `service` and the one ec2_vpc_endpoint (and
    sage.infra.vpc_endpoint_policy, for `policy`) would leave: exactly one, available, on exactly these route tables,
    with exactly these tags and, when given, this policy (by meaning). None when there is none."""
    found = _live_endpoints(existing, service)
    if not found:
        return None
    endpoint = found[0]
    tables = sorted(endpoint.get("route_table_ids") or [])
    pairs = [
        ("count", len(found), 1, len(found) == 1),
        ("state", endpoint.get("state"), "available", endpoint.get("state") == "available"),
        ("route_table_ids", tables, sorted(route_table_ids), tables == sorted(route_table_ids)),
        ("tags", own_tags(endpoint.get("tags")), dict(tags), own_tags(endpoint.get("tags")) == dict(tags)),
    ]
    if policy is not None:
        current = endpoint.get("policy_document")
        pairs.append(("policy", current, policy, canonical_policy(current) == canonical_policy(policy)))
    return _changes(pairs)


def flow_log_changes(existing, desired):
    """What differs between the VPC's flow logs and the one sage.infra.ec2_vpc_flow_log would leave.

    desired: {traffic_type, log_group_name, deliver_logs_permission_arn, max_aggregation_interval, tags}, a flow
    log to CloudWatch Logs with the default format. None when the VPC has no flow log to that group."""
    matches = [
        flow_log
        for flow_log in existing
        if flow_log.get("log_destination_type", "cloud-watch-logs") == "cloud-watch-logs"
        and flow_log.get("traffic_type") == desired["traffic_type"]
        and flow_log.get("log_group_name") == desired["log_group_name"]
    ]
    if not matches:
        return None
    flow_log = matches[0]
    pairs = [("count", len(matches), 1, len(matches) == 1)]
    for key in ("deliver_logs_permission_arn", "max_aggregation_interval"):
        pairs.append((key, flow_log.get(key), desired[key], flow_log.get(key) == desired[key]))
    have_tags = own_tags(flow_log.get("tags"))
    pairs.append(("tags", have_tags, dict(desired["tags"]), have_tags == dict(desired["tags"])))
    return _changes(pairs)
