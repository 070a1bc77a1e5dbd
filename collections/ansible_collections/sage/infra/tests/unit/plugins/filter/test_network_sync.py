"""sage.infra's network_sync filters: in sync only when the module would change nothing; anything else is left to it."""

import copy
import json
import types

import pytest
from ansible_collections.sage.infra.plugins.filter import network as nf
from ansible_collections.sage.infra.plugins.filter import network_sync

# The filters as templates get them (each imports stack_ec2 when first called).
ns = types.SimpleNamespace(**network_sync.FilterModule().filters())

TAGS = {"Project": "sage", "ManagedBy": "ansible"}
PLAN = nf.subnet_plan({"public": ["10.0.1.0/24"], "database": ["10.0.21.0/24"]}, ["us-west-2a"], "sage")


def subnet_info(cidr, name, tier, **changes):
    subnet = {
        "id": f"subnet-{name}",
        "cidr_block": cidr,
        "availability_zone": "us-west-2a",
        "map_public_ip_on_launch": False,
        "assign_ipv6_address_on_creation": False,
        "ipv6_cidr_block_association_set": [],
        "tags": {**TAGS, "Name": name, "Tier": tier, "aws:cloudformation:stack-name": "ignored"},
    }
    subnet.update(changes)
    return subnet


EXISTING_SUBNETS = [
    subnet_info("10.0.1.0/24", "sage-public-1", "public"),
    subnet_info("10.0.21.0/24", "sage-database-1", "database"),
]


def test_subnets_as_planned_are_in_sync_with_their_ids():
    synced = ns.subnets_in_sync(PLAN, EXISTING_SUBNETS, TAGS)
    assert [(s["name"], s["in_sync"], s["id"]) for s in synced] == [
        ("sage-public-1", True, "subnet-sage-public-1"),
        ("sage-database-1", True, "subnet-sage-database-1"),
    ]


@pytest.mark.parametrize(
    "changes",
    [
        {"availability_zone": "us-west-2b"},
        {"map_public_ip_on_launch": True},
        {"assign_ipv6_address_on_creation": True},
        {"ipv6_cidr_block_association_set": [{"ipv6_cidr_block": "2600::/64"}]},
        {"tags": {**TAGS, "Name": "sage-public-1"}},
        {"tags": {**TAGS, "Name": "sage-public-1", "Tier": "public", "Extra": "purged by the module"}},
        {"map_public_ip_on_launch": None},
    ],
)
def test_a_subnet_differing_in_anything_the_module_manages_is_not_in_sync(changes):
    existing = [subnet_info("10.0.1.0/24", "sage-public-1", "public", **changes), EXISTING_SUBNETS[1]]
    synced = ns.subnets_in_sync(PLAN, existing, TAGS)
    assert [s["in_sync"] for s in synced] == [False, True]
    assert synced[0]["id"] == "subnet-sage-public-1"


def test_a_missing_subnet_is_not_in_sync_and_has_no_id():
    synced = ns.subnets_in_sync(PLAN, EXISTING_SUBNETS[1:], TAGS)
    assert [(s["in_sync"], s["id"]) for s in synced] == [(False, None), (True, "subnet-sage-database-1")]


def test_ids_come_from_the_module_where_it_ran_and_are_grouped_in_plan_order():
    synced = ns.subnets_in_sync(PLAN, EXISTING_SUBNETS[1:], TAGS)
    results = [{"item": synced[0], "subnet": {"id": "subnet-new"}}]
    now = ns.with_applied_ids(synced, results, "subnet.id")
    assert ns.ids_by(now, "tier") == {"public": ["subnet-new"], "database": ["subnet-sage-database-1"]}
    planned_in_check_mode = ns.with_applied_ids(synced, [{"item": synced[0], "subnet": {}}], "subnet.id")
    # A subnet to be created has no id yet: the plan (and the route tables planned after it) shows a placeholder.
    assert ns.ids_by(planned_in_check_mode, "tier") == {
        "public": ["(known after apply)"],
        "database": ["subnet-sage-database-1"],
    }


def route_table_plan(nat_ids=("nat-1",)):
    subnet_ids = {
        "public": ["subnet-p1", "subnet-p2"],
        "private": ["subnet-a1", "subnet-a2"],
        "database": ["subnet-d1"],
    }
    return nf.route_table_plan(subnet_ids, "igw-1", list(nat_ids), "single", "sage", TAGS)


def route_table_info(planned, index, **changes):
    """The table ec2_vpc_route_table_info reports for planned[index] when it is as planned."""
    item = planned[index]
    table = {
        "id": f"rtb-{index}",
        "tags": dict(item["tags"]),
        "associations": [
            {"main": False, "subnet_id": s, "association_state": {"state": "associated"}} for s in item["subnets"]
        ],
        "routes": [{"destination_cidr_block": "10.0.0.0/16", "gateway_id": "local", "origin": "CreateRouteTable"}]
        + [
            {
                "destination_cidr_block": r["dest"],
                "origin": "CreateRoute",
                **{k: v for k, v in r.items() if k != "dest"},
            }
            for r in item["routes"]
        ]
        + [{"destination_prefix_list_id": "pl-68a54001", "gateway_id": "vpce-1", "origin": "CreateRoute"}],
    }
    table.update(changes)
    return table


def test_the_route_table_plan_per_tier():
    planned = route_table_plan()
    assert [(t["name"], t["subnets"], t["routes"]) for t in planned] == [
        ("sage-public-rt", ["subnet-p1", "subnet-p2"], [{"dest": "0.0.0.0/0", "gateway_id": "igw-1"}]),
        ("sage-private-rt-1", ["subnet-a1"], [{"dest": "0.0.0.0/0", "nat_gateway_id": "nat-1"}]),
        ("sage-private-rt-2", ["subnet-a2"], [{"dest": "0.0.0.0/0", "nat_gateway_id": "nat-1"}]),
        ("sage-database-rt", ["subnet-d1"], []),
    ]
    assert planned[1]["tags"] == {**TAGS, "Name": "sage-private-rt-1", "Tier": "private"}
    per_az = nf.route_table_plan(
        {"public": [], "private": ["a", "b"], "database": []}, "igw", ["nat-a", "nat-b"], "per_az", "s", {}
    )
    assert [t["routes"][0]["nat_gateway_id"] for t in per_az if t["tier"] == "private"] == ["nat-a", "nat-b"]
    assert [t["tier"] for t in route_table_plan(nat_ids=())] == ["public", "database"]


def test_route_tables_as_planned_are_in_sync_ignoring_local_and_endpoint_routes():
    planned = route_table_plan()
    existing = [route_table_info(planned, i) for i in range(4)]
    existing.append({"id": "rtb-main", "tags": {}, "associations": [{"main": True}], "routes": []})
    synced = ns.route_tables_in_sync(planned, existing)
    assert [(t["in_sync"], t["id"]) for t in synced] == [(True, f"rtb-{i}") for i in range(4)]


@pytest.mark.parametrize(
    "drift",
    [
        lambda t: t["routes"].pop(1),  # the default route deleted
        lambda t: t["routes"][1].update(gateway_id="igw-other"),
        lambda t: t["routes"].append(
            {"destination_cidr_block": "10.9.0.0/16", "gateway_id": "pcx", "origin": "CreateRoute"}
        ),
        lambda t: t["associations"].pop(),
        lambda t: t["associations"].append({"main": False, "subnet_id": "subnet-x"}),
        lambda t: t["tags"].update(Extra="x"),
        lambda t: t["tags"].pop("Project"),
    ],
)
def test_a_route_table_that_drifted_is_not_in_sync(drift):
    planned = route_table_plan()
    existing = [route_table_info(planned, i) for i in range(4)]
    drift(existing[0])
    assert [t["in_sync"] for t in ns.route_tables_in_sync(planned, existing)] == [False, True, True, True]


def test_two_tables_with_the_planned_tags_are_left_to_the_module():
    planned = route_table_plan()
    existing = [route_table_info(planned, i) for i in range(4)] + [route_table_info(planned, 3, id="rtb-dup")]
    synced = ns.route_tables_in_sync(planned, existing)
    assert [t["in_sync"] for t in synced] == [True, True, True, False]


GROUPS = [
    {
        "key": "default",
        "name": "default",
        "description": "default VPC security group",
        "tags": None,
        "ingress": [],
        "egress": [],
    },
    {
        "key": "alb",
        "name": "sage-alb-sg",
        "description": "ALB",
        "ingress": [{"proto": "tcp", "ports": [80, 443], "cidr_ip": "0.0.0.0/0", "rule_desc": "web"}],
        "egress": [
            {"proto": "tcp", "ports": ["3000"], "cidr_ip": ["10.0.11.0/24", "10.0.12.0/24"], "rule_desc": "app"}
        ],
    },
    {
        "key": "ecs",
        "name": "sage-ecs-sg",
        "description": "ECS",
        "ingress": [{"proto": "tcp", "ports": ["3000"], "group_name": "sage-alb-sg", "rule_desc": "from alb"}],
        "egress": [{"proto": "all", "cidr_ip": "0.0.0.0/0", "rule_desc": "out"}],
    },
]


def group_info():
    """The groups as ec2_security_group_info reports them when they are as planned (AWS merges rules)."""
    return [
        {
            "group_name": "default",
            "group_id": "sg-d",
            "description": "default VPC security group",
            "ip_permissions": [],
            "ip_permissions_egress": [],
            "tags": {"Owner": "kept"},
        },
        {
            "group_name": "sage-alb-sg",
            "group_id": "sg-a",
            "description": "ALB",
            "tags": {**TAGS, "Name": "sage-alb-sg"},
            "ip_permissions": [
                {
                    "ip_protocol": "tcp",
                    "from_port": port,
                    "to_port": port,
                    "ip_ranges": [{"cidr_ip": "0.0.0.0/0", "description": "web"}],
                    "ipv6_ranges": [],
                    "user_id_group_pairs": [],
                    "prefix_list_ids": [],
                }
                for port in (443, 80)
            ],
            "ip_permissions_egress": [
                {
                    "ip_protocol": "tcp",
                    "from_port": 3000,
                    "to_port": 3000,
                    "ip_ranges": [
                        {"cidr_ip": "10.0.12.0/24", "description": "app"},
                        {"cidr_ip": "10.0.11.0/24", "description": "app"},
                    ],
                }
            ],
        },
        {
            "group_name": "sage-ecs-sg",
            "group_id": "sg-e",
            "description": "ECS",
            "tags": {**TAGS, "Name": "sage-ecs-sg"},
            "ip_permissions": [
                {
                    "ip_protocol": "tcp",
                    "from_port": 3000,
                    "to_port": 3000,
                    "user_id_group_pairs": [{"group_id": "sg-a", "user_id": "123456789012", "description": "from alb"}],
                }
            ],
            "ip_permissions_egress": [
                {"ip_protocol": "-1", "ip_ranges": [{"cidr_ip": "0.0.0.0/0", "description": "out"}]}
            ],
        },
    ]


def test_security_groups_as_planned_are_in_sync_and_the_default_group_keeps_its_tags():
    synced = ns.security_groups_in_sync(GROUPS, group_info(), TAGS)
    assert [(g["key"], g["in_sync"], g["id"]) for g in synced] == [
        ("default", True, "sg-d"),
        ("alb", True, "sg-a"),
        ("ecs", True, "sg-e"),
    ]
    assert synced[0]["tags"] is None and synced[1]["tags"] == {**TAGS, "Name": "sage-alb-sg"}


@pytest.mark.parametrize(
    ("index", "drift"),
    [
        (0, lambda g: g["ip_permissions"].append({"ip_protocol": "-1", "user_id_group_pairs": [{"group_id": "sg-d"}]})),
        (
            0,
            lambda g: g["ip_permissions_egress"].append({"ip_protocol": "-1", "ip_ranges": [{"cidr_ip": "0.0.0.0/0"}]}),
        ),
        (1, lambda g: g["ip_permissions"].pop()),
        (1, lambda g: g["ip_permissions"][0]["ip_ranges"][0].update(description="changed by hand")),
        (1, lambda g: g["ip_permissions"][0]["ip_ranges"].append({"cidr_ip": "192.0.2.0/24", "description": "web"})),
        (1, lambda g: g["ip_permissions_egress"][0].update(to_port=3001)),
        (1, lambda g: g["ip_permissions"][0].update(prefix_list_ids=[{"prefix_list_id": "pl-1"}])),
        (1, lambda g: g.update(description="other")),
        (1, lambda g: g["tags"].pop("Name")),
        (2, lambda g: g["ip_permissions"][0]["user_id_group_pairs"][0].update(group_id="sg-d")),
        (2, lambda g: g["ip_permissions_egress"][0].update(ip_protocol="tcp", from_port=0, to_port=65535)),
    ],
)
def test_a_security_group_that_drifted_is_not_in_sync(index, drift):
    existing = group_info()
    drift(existing[index])
    assert [g["in_sync"] for g in ns.security_groups_in_sync(GROUPS, existing, TAGS)] == [i != index for i in range(3)]


@pytest.mark.parametrize(
    "rule",
    [
        {"proto": "tcp", "ports": ["1000-2000"], "cidr_ip": "10.0.0.0/8"},
        {"proto": "icmp", "ports": [8], "cidr_ip": "10.0.0.0/8"},
        {"proto": "tcp", "ports": [22], "group_name": "sage-unknown-sg"},
        {"proto": "tcp", "ports": [22], "ip_prefix": "pl-1"},
        {"proto": "tcp", "ports": [22]},
    ],
)
def test_rules_it_does_not_understand_are_left_to_the_module(rule):
    planned = copy.deepcopy(GROUPS)
    planned[2]["ingress"].append(rule)
    assert [g["in_sync"] for g in ns.security_groups_in_sync(planned, group_info(), TAGS)] == [True, True, False]


def test_a_missing_or_duplicated_group_is_left_to_the_module():
    existing = group_info()
    synced = ns.security_groups_in_sync(GROUPS, [existing[0], existing[1]], TAGS)
    assert [(g["in_sync"], g["id"]) for g in synced] == [(True, "sg-d"), (True, "sg-a"), (False, None)]
    duplicated = ns.security_groups_in_sync(GROUPS, [*existing, dict(existing[1], group_id="sg-a2")], TAGS)
    assert [g["in_sync"] for g in duplicated] == [True, False, False]  # ecs refers to the ambiguous alb group


VPC = {
    "id": "vpc-1",
    "cidr_block": "10.0.0.0/16",
    "enable_dns_support": True,
    "enable_dns_hostnames": True,
    "tags": {**TAGS, "Name": "sage-vpc"},
}


def test_the_vpc_as_planned_is_in_sync():
    assert ns.vpc_in_sync([VPC], "10.0.0.0/16", {**TAGS, "Name": "sage-vpc"}) == VPC


@pytest.mark.parametrize(
    "existing",
    [
        [],
        [VPC, dict(VPC, id="vpc-2")],
        [dict(VPC, enable_dns_hostnames=False)],
        [dict(VPC, enable_dns_support=None)],
        [dict(VPC, cidr_block="10.1.0.0/16")],
        [dict(VPC, tags={"Name": "sage-vpc"})],
    ],
)
def test_a_vpc_missing_ambiguous_or_drifted_is_left_to_the_module(existing):
    assert ns.vpc_in_sync(existing, "10.0.0.0/16", {**TAGS, "Name": "sage-vpc"}) is None


def nat_info(subnet_id, name, **changes):
    gateway = {
        "nat_gateway_id": f"nat-{subnet_id}",
        "subnet_id": subnet_id,
        "state": "available",
        "nat_gateway_addresses": [{"allocation_id": f"eipalloc-{subnet_id}"}],
        "tags": {**TAGS, "Name": name},
    }
    gateway.update(changes)
    return gateway


def test_nat_gateways_as_planned_are_in_sync_and_keep_their_addresses():
    synced = ns.nat_gateways_in_sync(
        ["p1", "p2"], [nat_info("p1", "sage-nat-1"), nat_info("p2", "sage-nat-2")], "sage", TAGS
    )
    assert [(n["name"], n["in_sync"], n["id"], n["allocation_id"]) for n in synced] == [
        ("sage-nat-1", True, "nat-p1", "eipalloc-p1"),
        ("sage-nat-2", True, "nat-p2", "eipalloc-p2"),
    ]


@pytest.mark.parametrize(
    ("existing", "expected"),
    [
        ([], (False, None, None)),
        ([nat_info("p1", "sage-nat-1", state="pending")], (False, "nat-p1", "eipalloc-p1")),  # the module waits
        ([nat_info("p1", "sage-nat-1", tags={"Name": "sage-nat-1"})], (False, "nat-p1", "eipalloc-p1")),
        (
            [nat_info("p1", "sage-nat-1"), nat_info("p1", "sage-nat-1", nat_gateway_id="nat-2")],
            (False, "nat-p1", "eipalloc-p1"),
        ),
        ([nat_info("other", "sage-nat-1")], (False, None, None)),
    ],
)
def test_a_nat_gateway_missing_pending_or_drifted_is_left_to_the_module(existing, expected):
    (synced,) = ns.nat_gateways_in_sync(["p1"], existing, "sage", TAGS)
    assert (synced["in_sync"], synced["id"], synced["allocation_id"]) == expected


def test_nat_ids_from_the_module_or_as_found():
    synced = ns.nat_gateways_in_sync(["p1", "p2"], [nat_info("p1", "sage-nat-1")], "sage", TAGS)
    results = [{"item": synced[0], "skipped": True}, {"item": synced[1], "nat_gateway_id": "nat-new"}]
    assert [n["id"] for n in ns.with_applied_ids(synced, results, "nat_gateway_id")] == ["nat-p1", "nat-new"]


def test_a_drifted_subnet_names_the_attribute_and_a_missing_one_has_no_changes_list():
    existing = [subnet_info("10.0.1.0/24", "sage-public-1", "public", map_public_ip_on_launch=True)]
    synced = ns.subnets_in_sync(PLAN, existing, TAGS)
    assert synced[0]["changes"] == [{"attribute": "map_public_ip_on_launch", "current": True, "desired": False}]
    assert synced[1]["changes"] is None and synced[1]["in_sync"] is False


def test_vpc_changes_name_what_differs():
    vpc = {
        "id": "vpc-1",
        "cidr_block": "10.0.0.0/16",
        "enable_dns_support": True,
        "enable_dns_hostnames": False,
        "tags": {**TAGS, "Name": "sage-vpc"},
    }
    tags = {**TAGS, "Name": "sage-vpc"}
    assert ns.vpc_changes([vpc], "10.0.0.0/16", tags) == [
        {"attribute": "enable_dns_hostnames", "current": False, "desired": True}
    ]
    assert ns.vpc_in_sync([vpc], "10.0.0.0/16", tags) is None
    assert ns.vpc_in_sync([dict(vpc, enable_dns_hostnames=True)], "10.0.0.0/16", tags)["id"] == "vpc-1"
    assert [c["attribute"] for c in ns.vpc_changes([vpc, vpc], "10.0.0.0/16", tags)] == ["vpc"]


ENDPOINT = {
    "service_name": "com.amazonaws.us-west-2.s3",
    "state": "available",
    "route_table_ids": ["rtb-2", "rtb-1"],
    "tags": {**TAGS, "Name": "sage-s3-endpoint"},
}


def test_the_s3_endpoint_is_in_sync_on_exactly_the_private_route_tables():
    service, tags = "com.amazonaws.us-west-2.s3", {**TAGS, "Name": "sage-s3-endpoint"}
    assert ns.s3_endpoint_changes([ENDPOINT], service, ["rtb-1", "rtb-2"], tags) == []
    assert ns.s3_endpoint_changes([], service, ["rtb-1"], tags) is None
    assert ns.s3_endpoint_changes([dict(ENDPOINT, state="deleted")], service, ["rtb-1"], tags) is None
    assert [c["attribute"] for c in ns.s3_endpoint_changes([ENDPOINT], service, ["rtb-1"], tags)] == ["route_table_ids"]
    assert [
        c["attribute"] for c in ns.s3_endpoint_changes([ENDPOINT, ENDPOINT], service, ["rtb-1", "rtb-2"], tags)
    ] == ["count"]


def test_the_s3_endpoint_id_is_the_live_one_the_comparison_looks_at():
    service = "com.amazonaws.us-west-2.s3"
    deleted = dict(ENDPOINT, vpc_endpoint_id="vpce-old", state="deleted")
    assert ns.s3_endpoint_id([deleted, dict(ENDPOINT, vpc_endpoint_id="vpce-live")], service) == "vpce-live"
    assert ns.s3_endpoint_id([deleted], service) == ""


def test_the_s3_endpoint_policy_is_compared_by_meaning():
    service, tags = "com.amazonaws.us-west-2.s3", {**TAGS, "Name": "sage-s3-endpoint"}
    layers = {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::layers/*"}
    ours = {"Effect": "Allow", "Principal": "*", "Action": "s3:*", "Resource": ["arn:aws:s3:::b", "arn:aws:s3:::b/*"]}
    policy = {"Version": "2012-10-17", "Statement": [layers, ours]}
    # As DescribeVpcEndpoints returns it: JSON text, in its own order and formatting.
    stored = json.dumps({"Version": "2012-10-17", "Statement": [dict(ours, Resource=ours["Resource"][::-1]), layers]})
    assert (
        ns.s3_endpoint_changes([dict(ENDPOINT, policy_document=stored)], service, ["rtb-1", "rtb-2"], tags, policy)
        == []
    )
    full_access = json.dumps({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}]})
    changes = ns.s3_endpoint_changes(
        [dict(ENDPOINT, policy_document=full_access)], service, ["rtb-1", "rtb-2"], tags, policy
    )
    assert [c["attribute"] for c in changes] == ["policy"]
    assert (
        ns.s3_endpoint_changes([dict(ENDPOINT, policy_document=full_access)], service, ["rtb-1", "rtb-2"], tags) == []
    )


FLOW_LOG = {
    "log_destination_type": "cloud-watch-logs",
    "traffic_type": "ALL",
    "log_group_name": "/aws/vpc/sage",
    "deliver_logs_permission_arn": "arn:role",
    "max_aggregation_interval": 600,
    "tags": {**TAGS, "Name": "sage-flow-log"},
}
WANTED_FLOW_LOG = {key: value for key, value in FLOW_LOG.items() if key != "log_destination_type"}


def test_the_flow_log_compares_what_the_module_would_recreate_or_retag():
    assert ns.flow_log_changes([FLOW_LOG], WANTED_FLOW_LOG) == []
    assert ns.flow_log_changes([dict(FLOW_LOG, traffic_type="REJECT")], WANTED_FLOW_LOG) is None
    drifted = ns.flow_log_changes([dict(FLOW_LOG, deliver_logs_permission_arn="arn:other")], WANTED_FLOW_LOG)
    assert [c["attribute"] for c in drifted] == ["deliver_logs_permission_arn"]
    assert [c["attribute"] for c in ns.flow_log_changes([FLOW_LOG], dict(WANTED_FLOW_LOG, tags=TAGS))] == ["tags"]
