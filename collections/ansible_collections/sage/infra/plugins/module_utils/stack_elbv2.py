# Copyright: Contributors to the sage-infra project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Target groups and application load balancers, as community.aws.elb_target_group and
amazon.aws.elb_application_lb manage them.

A target group: protocol, port, VPC and target type (which the module cannot change: a difference makes it fail,
saying so), the health check, the deregistration delay and the tags (purge_tags). A load balancer: scheme (shown,
set at creation only), subnets and security groups (sets), the attributes the stack sets (invalid header fields
dropped, deletion protection, idle timeout, access logs: off unless said, as AWS reports a load balancer that never
had them), its listeners (purge_listeners: the whole set, matched by port, with
their protocol, default actions and, for HTTPS, TLS policy and certificate) and the tags. Listeners use the
module's own spelling ({Protocol, Port, DefaultActions, SslPolicy, Certificates}), so a role compares the list it
gives the module."""

from __future__ import annotations

from ansible_collections.sage.infra.plugins.module_utils.stack import Kind, canonical, fan_out, register, tag_dict


def _codes(value):
    return None if value is None else sorted(code.strip() for code in str(value).split(","))


register(
    Kind(
        "target_group",
        # Compared as the module does: the same codes in any order.
        compare={"successful_response_codes": lambda desired, current: _codes(desired) == _codes(current)},
    )
)

# What the module compares of a default action; the rest (Order, a ForwardConfig repeating the target group) not.
_ACTION_KEYS = ("Type", "TargetGroupArn", "RedirectConfig", "FixedResponseConfig", "AuthenticateOidcConfig")
# The redirect settings AWS fills in when a redirect leaves them out ("keep as requested").
_REDIRECT_DEFAULTS = {"Host": "#{host}", "Path": "/#{path}", "Query": "#{query}", "Port": "#{port}"}
_SECURE = ("HTTPS", "TLS")


def _action(action):
    out = {key: action[key] for key in _ACTION_KEYS if action.get(key) is not None}
    if out.get("Type") == "redirect" and isinstance(out.get("RedirectConfig"), dict):
        out["RedirectConfig"] = {**_REDIRECT_DEFAULTS, **out["RedirectConfig"]}
    return out


def listener_view(listener):
    """A listener (as DescribeListeners returns it, or as the module's listeners option gives it) in the form
    both are compared in: port as a number; TLS policy and certificate for HTTPS and TLS listeners only."""
    out = {
        "Port": int(listener["Port"]) if str(listener.get("Port", "")).isdigit() else listener.get("Port"),
        "Protocol": listener.get("Protocol"),
        "DefaultActions": [_action(action) for action in listener.get("DefaultActions") or []],
    }
    if out["Protocol"] in _SECURE:
        if listener.get("SslPolicy"):
            out["SslPolicy"] = listener["SslPolicy"]
        certificates = listener.get("Certificates") or []
        if certificates:
            out["Certificates"] = [{"CertificateArn": certificates[0].get("CertificateArn")}]
    return out


def listeners_equal(desired, current):
    """The listeners (the whole set) are as desired: the same ports, each with the same settings."""
    if desired is None or current is None:
        return desired == current
    return canonical([listener_view(item) for item in desired]) == canonical([listener_view(item) for item in current])


register(Kind("load_balancer", compare={"listeners": listeners_equal}))


def _not_found(client, error_name):
    return getattr(client.exceptions, error_name)


def _describe_by_names(client, operation, key, names, not_found):
    """The described resources of the names that exist: one call per 20 names; a batch naming one that does not
    exist fails as a whole, and is then described name by name."""
    found = []
    for start in range(0, len(names), 20):
        batch = names[start : start + 20]
        try:
            found.extend(getattr(client, operation)(Names=batch)[key])
        except _not_found(client, not_found):
            for name in batch:
                try:
                    found.extend(getattr(client, operation)(Names=[name])[key])
                except _not_found(client, not_found):
                    pass
    return found


def _tags(client, arns):
    """{arn: tags} of the given ARNs: one DescribeTags per 20."""
    tags = {}
    for start in range(0, len(arns), 20):
        for description in client.describe_tags(ResourceArns=arns[start : start + 20])["TagDescriptions"]:
            tags[description["ResourceArn"]] = tag_dict(description.get("Tags"))
    return tags


def _attributes(attributes):
    return {item["Key"]: item["Value"] for item in attributes}


def read_target_groups(client, names):
    """{name: view or None}: DescribeTargetGroups (20 names a call), DescribeTargetGroupAttributes per group,
    DescribeTags (20 a call)."""
    names = list(dict.fromkeys(names or []))
    groups = {
        group["TargetGroupName"]: group
        for group in _describe_by_names(
            client, "describe_target_groups", "TargetGroups", names, "TargetGroupNotFoundException"
        )
    }
    attributes = fan_out(
        lambda arn: _attributes(client.describe_target_group_attributes(TargetGroupArn=arn)["Attributes"]),
        [group["TargetGroupArn"] for group in groups.values()],
    )
    tags = _tags(client, [group["TargetGroupArn"] for group in groups.values()])
    views = {}
    for name in names:
        group = groups.get(name)
        if group is None:
            views[name] = None
            continue
        arn = group["TargetGroupArn"]
        delay = attributes[arn].get("deregistration_delay.timeout_seconds")
        views[name] = {
            "arn": arn,
            "protocol": group.get("Protocol"),
            "port": group.get("Port"),
            "vpc_id": group.get("VpcId"),
            "target_type": group.get("TargetType"),
            "health_check_protocol": group.get("HealthCheckProtocol"),
            "health_check_path": group.get("HealthCheckPath"),
            "health_check_interval": group.get("HealthCheckIntervalSeconds"),
            "health_check_timeout": group.get("HealthCheckTimeoutSeconds"),
            "healthy_threshold_count": group.get("HealthyThresholdCount"),
            "unhealthy_threshold_count": group.get("UnhealthyThresholdCount"),
            "successful_response_codes": (group.get("Matcher") or {}).get("HttpCode"),
            "deregistration_delay_timeout": int(delay) if delay is not None else None,
            "tags": tags.get(arn, {}),
        }
    return views


def _flag(value):
    return None if value is None else value == "true"


def read_load_balancers(client, names):
    """{name: view or None}: DescribeLoadBalancers (20 names a call), then per load balancer its attributes and
    listeners, DescribeTags (20 a call)."""
    names = list(dict.fromkeys(names or []))
    balancers = {
        balancer["LoadBalancerName"]: balancer
        for balancer in _describe_by_names(
            client, "describe_load_balancers", "LoadBalancers", names, "LoadBalancerNotFoundException"
        )
    }
    arns = [balancer["LoadBalancerArn"] for balancer in balancers.values()]

    def details(arn):
        attributes = _attributes(client.describe_load_balancer_attributes(LoadBalancerArn=arn)["Attributes"])
        listeners = [
            listener
            for page in client.get_paginator("describe_listeners").paginate(LoadBalancerArn=arn)
            for listener in page["Listeners"]
        ]
        return attributes, listeners

    described = fan_out(details, arns)
    tags = _tags(client, arns)
    views = {}
    for name in names:
        balancer = balancers.get(name)
        if balancer is None:
            views[name] = None
            continue
        arn = balancer["LoadBalancerArn"]
        attributes, listeners = described[arn]
        idle = attributes.get("idle_timeout.timeout_seconds")
        views[name] = {
            "arn": arn,
            "dns_name": balancer.get("DNSName"),
            "type": balancer.get("Type"),
            "scheme": balancer.get("Scheme"),
            "subnets": sorted(zone["SubnetId"] for zone in balancer.get("AvailabilityZones") or []),
            "security_groups": sorted(balancer.get("SecurityGroups") or []),
            "http_drop_invalid_header_fields": _flag(attributes.get("routing.http.drop_invalid_header_fields.enabled")),
            "deletion_protection": _flag(attributes.get("deletion_protection.enabled")),
            "idle_timeout": int(idle) if idle is not None else None,
            "access_logs_enabled": attributes.get("access_logs.s3.enabled") == "true",
            "access_logs_s3_bucket": attributes.get("access_logs.s3.bucket") or None,
            "access_logs_s3_prefix": attributes.get("access_logs.s3.prefix") or None,
            "listeners": sorted(
                (dict(listener_view(listener), ListenerArn=listener["ListenerArn"]) for listener in listeners),
                key=lambda listener: listener["Port"],
            ),
            "tags": tags.get(arn, {}),
        }
    return views


READERS = {
    "target_group": ("elbv2", read_target_groups),
    "load_balancer": ("elbv2", read_load_balancers),
}
