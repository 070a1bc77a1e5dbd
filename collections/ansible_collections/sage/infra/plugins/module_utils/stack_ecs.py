# Copyright: Contributors to the sage-infra project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ECS clusters, task definitions and services, and the target tracking scaling policy of a service: how they
are read and compared. The normalised views and desired views of sage.infra.ecs_cluster,
sage.infra.ecs_task_definition and sage.infra.ecs_service live here, so that those modules and the stack's
comparison say the same thing about "in sync".

Names: a cluster by its name, a task definition by its family (the latest ACTIVE revision), a service as
``<cluster>/<service>``, a scaling policy as ``<resource id>/<policy name>`` (an ECS service's resource id is
``service/<cluster>/<service>``).
"""

from __future__ import annotations

import re

from ansible_collections.sage.infra.plugins.module_utils.stack import (
    Kind,
    canonical,
    fan_out,
    own_tags,
    register,
    tag_dict,
)


def tags_of(tags):
    """ECS tags ([{key, value}], lower case) as a dict of own tags."""
    return tag_dict(tags, "key", "value")


# --- clusters ---------------------------------------------------------------------------------------------------

INSIGHTS = "containerInsights"


def strategy_view(strategy):
    """A capacity provider strategy, in either form, as sorted snake_case items (weight and base 0 if unset)."""
    items = [
        {
            "capacity_provider": item.get("capacityProvider", item.get("capacity_provider")),
            "weight": item.get("weight") or 0,
            "base": item.get("base") or 0,
        }
        for item in strategy or []
    ]
    return sorted(items, key=lambda item: item["capacity_provider"])


def strategy_api(strategy):
    return [{"capacityProvider": i["capacity_provider"], "weight": i["weight"], "base": i["base"]} for i in strategy]


def cluster_view(cluster):
    """The managed attributes of a described cluster."""
    settings = {s.get("name"): s.get("value") for s in cluster.get("settings") or []}
    return {
        "container_insights": settings.get(INSIGHTS, "disabled"),
        "capacity_providers": sorted(cluster.get("capacityProviders") or []),
        "default_capacity_provider_strategy": strategy_view(cluster.get("defaultCapacityProviderStrategy")),
        "tags": tags_of(cluster.get("tags")),
    }


def cluster_settings(params, before):
    """What the cluster should have but its tags: the options given, the rest as it is."""
    after = {**before, "container_insights": params["container_insights"]}
    if params.get("capacity_providers") is not None:
        after["capacity_providers"] = sorted(params["capacity_providers"])
    if params.get("default_capacity_provider_strategy") is not None:
        after["default_capacity_provider_strategy"] = strategy_view(params["default_capacity_provider_strategy"])
    return after


register(
    Kind(
        "ecs_cluster",
        compare={
            "default_capacity_provider_strategy": lambda desired, current: (
                strategy_view(desired) == strategy_view(current)
            )
        },
    )
)


def read_clusters(client, names):
    """{name: view or None}: one DescribeClusters per 100 names. An INACTIVE (deleted) cluster is None."""
    names = list(dict.fromkeys(names or []))
    views = dict.fromkeys(names)
    for start in range(0, len(names), 100):
        response = client.describe_clusters(clusters=names[start : start + 100], include=["SETTINGS", "TAGS"])
        for cluster in response.get("clusters") or []:
            if cluster.get("status") != "INACTIVE" and cluster["clusterName"] in views:
                views[cluster["clusterName"]] = dict(cluster_view(cluster), arn=cluster["clusterArn"])
    return views


# --- task definitions -------------------------------------------------------------------------------------------

# Every field RegisterTaskDefinition accepts but family and tags.
REGISTRABLE = (
    "containerDefinitions",
    "cpu",
    "memory",
    "networkMode",
    "requiresCompatibilities",
    "executionRoleArn",
    "taskRoleArn",
    "runtimePlatform",
    "volumes",
    "ephemeralStorage",
    "pidMode",
    "ipcMode",
    "proxyConfiguration",
    "placementConstraints",
    "inferenceAccelerators",
    "enableFaultInjection",
    "trustedExecutionConfiguration",
)
# Task level options of sage.infra.ecs_task_definition and their API fields.
OPTION_FIELDS = {
    "cpu": "cpu",
    "memory": "memory",
    "network_mode": "networkMode",
    "requires_compatibilities": "requiresCompatibilities",
    "execution_role_arn": "executionRoleArn",
    "task_role_arn": "taskRoleArn",
    "runtime_platform": "runtimePlatform",
    "volumes": "volumes",
}
# Booleans that default to false: false and missing mean the same.
FALSE_BY_DEFAULT = frozenset(
    (
        "enableFaultInjection",
        "readOnly",
        "disableNetworking",
        "privileged",
        "readonlyRootFilesystem",
        "interactive",
        "pseudoTerminal",
    )
)


def snake(name):
    """An API field's name in snake case (containerDefinitions -> container_definitions)."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def prune(value):
    """Recursively drop None, empty lists and dicts, and false booleans that default to false."""
    if isinstance(value, list):
        return [prune(item) for item in value]
    if not isinstance(value, dict):
        return value
    pruned = {}
    for key, item in value.items():
        item = prune(item)
        if item is None or item == [] or item == {} or (item is False and key in FALSE_BY_DEFAULT):
            continue
        pruned[key] = item
    return pruned


def by_name(items):
    """Items sorted by their name, for the lists whose order does not matter."""
    return sorted(items, key=lambda item: str(item.get("name", "")))


def normalize_port_mapping(mapping, network_mode):
    mapping = {"protocol": "tcp", **mapping}
    if network_mode in ("awsvpc", "host"):
        if "containerPort" in mapping:
            mapping.setdefault("hostPort", mapping["containerPort"])
    elif mapping.get("hostPort") == 0:
        del mapping["hostPort"]  # a dynamic host port
    return mapping


def normalize_container(container, network_mode):
    container = {"essential": True, **prune(container)}
    if container.get("cpu") == 0:
        del container["cpu"]
    if "portMappings" in container:
        container["portMappings"] = [normalize_port_mapping(m, network_mode) for m in container["portMappings"]]
    for key in ("environment", "secrets"):
        if key in container:
            container[key] = by_name(container[key])
    return container


def normalize_volume(volume):
    efs = volume.get("efsVolumeConfiguration")
    if efs is not None:
        volume = {**volume, "efsVolumeConfiguration": {"rootDirectory": "/", **efs}}
    return volume


def normalize_definition(definition):
    """The registrable fields of a task definition in a canonical form: equal forms register equal revisions."""
    normal = prune({key: definition.get(key) for key in REGISTRABLE})
    for key in ("cpu", "memory"):
        if key in normal:
            normal[key] = str(normal[key])
    if "requiresCompatibilities" in normal:
        normal["requiresCompatibilities"] = sorted(normal["requiresCompatibilities"])
    network_mode = normal.get("networkMode")
    containers = [normalize_container(c, network_mode) for c in normal.get("containerDefinitions", [])]
    normal["containerDefinitions"] = by_name(containers)
    if "volumes" in normal:
        normal["volumes"] = by_name([normalize_volume(v) for v in normal["volumes"]])
    return normal


def images_of(definition):
    """{container name: image} of a task definition."""
    return {c.get("name"): c.get("image") for c in (definition or {}).get("containerDefinitions", [])}


def revision_of(arn):
    return int(arn.rsplit(":", 1)[1])


def family_of(arn):
    return arn.rsplit("/", 1)[-1].rsplit(":", 1)[0]


def plain(value):
    """A deep copy of plain data (dicts, lists, scalars); also of the lazily templated containers a filter is given,
    which copy.deepcopy cannot copy."""
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    return value


def definition_from_options(options, current):
    """The definition the options ask for (container_definitions and the task level options, by their module
    names), as API fields. With keep_deployed_image, each container keeps the image of the container of the
    same name in `current` (the latest ACTIVE revision), so that provisioning never undoes a deploy."""
    containers = plain(options.get("container_definitions") or [])
    if options.get("keep_deployed_image") and current is not None:
        deployed = images_of(current)
        for container in containers:
            if container.get("name") in deployed:
                container["image"] = deployed[container["name"]]
    desired = {"containerDefinitions": containers}
    desired.update({field: options.get(option) for option, field in OPTION_FIELDS.items()})
    if options.get("ephemeral_storage") is not None:
        desired["ephemeralStorage"] = {"sizeInGiB": options["ephemeral_storage"]}
    return desired


def definition_of_view(view):
    """The API fields of a task definition view (the reader's snake_case attributes)."""
    return {field: view[snake(field)] for field in REGISTRABLE if view.get(snake(field)) is not None}


class TaskDefinitionKind(Kind):
    """The latest ACTIVE revision of a family against the options of sage.infra.ecs_task_definition: a new
    revision is registered exactly when the normalised definitions differ (each differing field is named);
    the tags are set on the latest revision (purge_tags)."""

    def changes(self, desired, current):
        want = normalize_definition(definition_from_options(desired, definition_of_view(current)))
        have = normalize_definition(definition_of_view(current))
        changes = [
            {"attribute": snake(field), "current": have.get(field), "desired": want.get(field)}
            for field in REGISTRABLE
            if want.get(field) != have.get(field)
        ]
        if "tags" in desired and canonical(own_tags(desired["tags"])) != canonical(own_tags(current.get("tags"))):
            changes.append({"attribute": "tags", "current": current.get("tags"), "desired": desired["tags"]})
        return changes


register(TaskDefinitionKind("task_definition"))


def _is_not_found(error):
    return "Unable to describe task definition" in str(error)


def read_task_definitions(client, families):
    """{family: view or None}: the latest ACTIVE revision of each family, one DescribeTaskDefinition (AWS
    describes the latest ACTIVE revision of a family; should it return another, the ACTIVE revisions are
    listed and the latest described)."""

    def describe(name):
        try:
            response = client.describe_task_definition(taskDefinition=name, include=["TAGS"])
        except client.exceptions.ClientException as error:
            if _is_not_found(error):
                return None, {}
            raise
        return response["taskDefinition"], tags_of(response.get("tags"))

    def read(family):
        definition, tags = describe(family)
        if definition is not None and definition.get("status") != "ACTIVE":
            arns = [
                arn
                for page in client.get_paginator("list_task_definitions").paginate(familyPrefix=family, status="ACTIVE")
                for arn in page["taskDefinitionArns"]
                if family_of(arn) == family
            ]
            definition, tags = describe(max(arns, key=revision_of)) if arns else (None, {})
        if definition is None:
            return None
        view = {snake(field): definition[field] for field in REGISTRABLE if field in definition}
        return dict(view, arn=definition["taskDefinitionArn"], revision=definition.get("revision"), tags=tags)

    return fan_out(read, families)


# --- services ---------------------------------------------------------------------------------------------------

# Options compared and set as they are, with their CreateService/UpdateService parameter.
SIMPLE = {
    "health_check_grace_period_seconds": "healthCheckGracePeriodSeconds",
    "propagate_tags": "propagateTags",
    "enable_execute_command": "enableExecuteCommand",
    "enable_ecs_managed_tags": "enableECSManagedTags",
}


def is_fargate(launch_type, strategy):
    return launch_type == "FARGATE" or any(item["capacity_provider"].startswith("FARGATE") for item in strategy or [])


def normal_strategy(items, key="capacity_provider"):
    """A capacity provider strategy in option form, sorted; None when there is none."""
    if not items:
        return None
    if key == "capacityProvider":
        items = [
            {
                "capacity_provider": item["capacityProvider"],
                "weight": item.get("weight", 0),
                "base": item.get("base", 0),
            }
            for item in items
        ]
    return sorted(
        ({"capacity_provider": i["capacity_provider"], "weight": i["weight"], "base": i["base"]} for i in items),
        key=lambda item: item["capacity_provider"],
    )


def normal_load_balancers(items, aws=False):
    if items is None:
        return None
    if aws:
        items = [
            {
                "target_group_arn": item.get("targetGroupArn"),
                "container_name": item.get("containerName"),
                "container_port": item.get("containerPort"),
            }
            for item in items
        ]
    keys = ("target_group_arn", "container_name", "container_port")
    return sorted(({key: item[key] for key in keys} for item in items), key=lambda item: [str(item[k]) for k in keys])


def normal_deployment(deployment):
    breaker = deployment.get("circuit_breaker") or {}
    alarms = deployment.get("alarms") or {}
    return {
        "minimum_healthy_percent": deployment["minimum_healthy_percent"],
        "maximum_percent": deployment["maximum_percent"],
        "circuit_breaker": {"enable": bool(breaker.get("enable")), "rollback": bool(breaker.get("rollback"))},
        "alarms": {
            "alarm_names": sorted(alarms.get("alarm_names") or []),
            "enable": bool(alarms.get("enable")),
            "rollback": bool(alarms.get("rollback")),
        },
    }


def service_view(service):
    """The managed settings of a described service, normalised."""
    vpc = (service.get("networkConfiguration") or {}).get("awsvpcConfiguration")
    configuration = service.get("deploymentConfiguration") or {}
    breaker = configuration.get("deploymentCircuitBreaker") or {}
    alarms = configuration.get("alarms") or {}
    return {
        "task_definition": service.get("taskDefinition"),
        "desired_count": service.get("desiredCount"),
        "launch_type": service.get("launchType"),
        "capacity_provider_strategy": normal_strategy(service.get("capacityProviderStrategy"), "capacityProvider"),
        "platform_version": service.get("platformVersion"),
        "subnets": sorted(vpc.get("subnets") or []) if vpc else None,
        "security_groups": sorted(vpc.get("securityGroups") or []) if vpc else None,
        "assign_public_ip": vpc.get("assignPublicIp") == "ENABLED" if vpc else None,
        "load_balancers": normal_load_balancers(service.get("loadBalancers") or [], aws=True),
        "health_check_grace_period_seconds": service.get("healthCheckGracePeriodSeconds", 0),
        "deployment": normal_deployment(
            {
                "minimum_healthy_percent": configuration.get("minimumHealthyPercent", 100),
                "maximum_percent": configuration.get("maximumPercent", 200),
                "circuit_breaker": breaker,
                "alarms": {
                    "alarm_names": alarms.get("alarmNames"),
                    "enable": alarms.get("enable"),
                    "rollback": alarms.get("rollback"),
                },
            }
        ),
        "propagate_tags": service.get("propagateTags", "NONE"),
        "enable_execute_command": bool(service.get("enableExecuteCommand")),
        "enable_ecs_managed_tags": bool(service.get("enableECSManagedTags")),
        "tags": tags_of(service.get("tags")),
    }


def desired_view(params, task_definition, fargate):
    """The managed settings as the options ask for them; None when an option is not set."""
    subnets = params["subnets"]
    return {
        "task_definition": task_definition,
        "desired_count": params["desired_count"],
        "launch_type": params["launch_type"],
        "capacity_provider_strategy": normal_strategy(params["capacity_provider_strategy"]),
        "platform_version": params["platform_version"] or ("LATEST" if fargate else None),
        "subnets": None if subnets is None else sorted(subnets),
        "security_groups": None if params["security_groups"] is None else sorted(params["security_groups"]),
        "assign_public_ip": None if subnets is None else bool(params["assign_public_ip"]),
        "load_balancers": normal_load_balancers(params["load_balancers"]),
        "deployment": None if params["deployment"] is None else normal_deployment(params["deployment"]),
        "tags": params["tags"],
        **{option: params[option] for option in SIMPLE},
    }


def service_differences(want, before, autoscaling_owns_desired_count=False):
    """The settings (but the tags) an update would change: those asked for (not None) that differ. The desired
    count is left to autoscaling when it owns it."""
    return [
        key
        for key, value in want.items()
        if key != "tags"
        and value is not None
        and not (key == "desired_count" and autoscaling_owns_desired_count)
        and value != before.get(key)
    ]


# The options of sage.infra.ecs_service that the comparison uses, with the defaults of its argument spec.
SERVICE_OPTIONS = {
    "task_definition": None,
    "desired_count": None,
    "autoscaling_owns_desired_count": False,
    "launch_type": None,
    "capacity_provider_strategy": None,
    "platform_version": None,
    "subnets": None,
    "security_groups": None,
    "assign_public_ip": None,
    "load_balancers": None,
    "deployment": None,
    "tags": None,
    "purge_tags": True,
    **dict.fromkeys(SIMPLE),
}


def service_params(options):
    """Options as the module's argument spec would give them: every option, sub-options with their defaults."""
    params = {**SERVICE_OPTIONS, **options}
    if params["capacity_provider_strategy"] is not None:
        params["capacity_provider_strategy"] = [
            {"weight": 1, "base": 0, **item} for item in params["capacity_provider_strategy"]
        ]
    if params["load_balancers"] is not None:
        params["load_balancers"] = [
            dict(item, container_port=int(item["container_port"])) for item in params["load_balancers"]
        ]
    if params["deployment"] is not None:
        params["deployment"] = {"minimum_healthy_percent": 100, "maximum_percent": 200, **params["deployment"]}
    return params


class ServiceKind(Kind):
    """A service against the options of sage.infra.ecs_service, compared as the module's update compares them,
    the tags as purge_tags does; `rollout_state` (desired COMPLETED) makes a rollout still in progress or failed
    a difference, as the module then follows it."""

    def changes(self, desired, current):
        params = service_params({key: value for key, value in desired.items() if key != "rollout_state"})
        if params["launch_type"] or params["capacity_provider_strategy"]:
            fargate = is_fargate(params["launch_type"], params["capacity_provider_strategy"])
        else:
            fargate = is_fargate(current.get("launch_type"), current.get("capacity_provider_strategy"))
        want = desired_view(params, params["task_definition"], fargate)
        changes = [
            {"attribute": key, "current": current.get(key), "desired": want[key]}
            for key in service_differences(want, current, params["autoscaling_owns_desired_count"])
        ]
        tags = params["tags"]
        if tags is not None and not self.tags_in_sync(tags, current.get("tags") or {}, params["purge_tags"]):
            changes.append({"attribute": "tags", "current": current.get("tags"), "desired": tags})
        rollout = desired.get("rollout_state")
        if rollout is not None and rollout != current.get("rollout_state"):
            changes.append({"attribute": "rollout_state", "current": current.get("rollout_state"), "desired": rollout})
        return changes

    @staticmethod
    def tags_in_sync(tags, current, purge):
        wanted = {key: str(value) for key, value in tags.items()}
        have = {key: str(value) for key, value in own_tags(current).items()}
        return wanted == have if purge else wanted.items() <= have.items()


register(ServiceKind("ecs_service"))


def primary_deployment(service):
    return next((d for d in (service or {}).get("deployments") or [] if d.get("status") == "PRIMARY"), None)


def read_services(client, names):
    """{"<cluster>/<service>": view or None}: one DescribeServices per cluster and 10 services. A service that is
    not ACTIVE (DRAINING, INACTIVE) is None: the module creates it again."""
    names = list(dict.fromkeys(names or []))
    views = dict.fromkeys(names)
    by_cluster = {}
    for name in names:
        cluster, service = name.rsplit("/", 1) if "/" in name else ("", name)
        by_cluster.setdefault(cluster, []).append(service)
    for cluster, services in by_cluster.items():
        for start in range(0, len(services), 10):
            try:
                response = client.describe_services(
                    cluster=cluster, services=services[start : start + 10], include=["TAGS"]
                )
            except client.exceptions.ClusterNotFoundException:
                continue
            for service in response.get("services") or []:
                if service.get("status") != "ACTIVE":
                    continue
                primary = primary_deployment(service) or {}
                views[f"{cluster}/{service['serviceName']}"] = dict(
                    service_view(service),
                    arn=service["serviceArn"],
                    rollout_state=primary.get("rolloutState"),
                )
    return views


# --- the target tracking scaling policy of a service (Application Auto Scaling) ----------------------------------

SCALABLE_DIMENSION = "ecs:service:DesiredCount"


def _tracking_form(configuration):
    """A target tracking configuration as AWS applies it: unset options and DisableScaleIn false left out."""
    if not isinstance(configuration, dict):
        return configuration
    form = {key: value for key, value in configuration.items() if value is not None}
    if form.get("DisableScaleIn") is False:
        del form["DisableScaleIn"]
    if isinstance(form.get("TargetValue"), (int, float)):
        form["TargetValue"] = float(form["TargetValue"])
    return canonical(form)


register(
    Kind(
        "scaling_policy",
        compare={
            "target_tracking_scaling_policy_configuration": lambda desired, current: (
                _tracking_form(desired) == _tracking_form(current)
            )
        },
    )
)


def split_policy_name(name):
    """(resource id, policy name) of "<resource id>/<policy name>"."""
    resource_id, policy_name = name.rsplit("/", 1) if "/" in name else ("", name)
    return resource_id, policy_name


def read_scaling_policies(client, names):
    """{"<resource id>/<policy name>": view or None} of ECS services' desired count: one DescribeScalableTargets
    per 50 resources, one DescribeScalingPolicies per resource. A policy that does not exist is None."""
    names = list(dict.fromkeys(names or []))
    wanted = {}
    for name in names:
        resource_id, policy = split_policy_name(name)
        wanted.setdefault(resource_id, []).append(policy)
    ids = list(wanted)
    targets = {}
    for start in range(0, len(ids), 50):
        response = client.describe_scalable_targets(
            ServiceNamespace="ecs", ScalableDimension=SCALABLE_DIMENSION, ResourceIds=ids[start : start + 50]
        )
        targets.update({target["ResourceId"]: target for target in response.get("ScalableTargets") or []})

    def read(resource_id):
        response = client.describe_scaling_policies(
            ServiceNamespace="ecs",
            ResourceId=resource_id,
            ScalableDimension=SCALABLE_DIMENSION,
            PolicyNames=wanted[resource_id],
        )
        return {policy["PolicyName"]: policy for policy in response.get("ScalingPolicies") or []}

    policies = fan_out(read, ids)
    views = {}
    for name in names:
        resource_id, policy_name = split_policy_name(name)
        policy = policies[resource_id].get(policy_name)
        target = targets.get(resource_id) or {}
        views[name] = (
            None
            if policy is None
            else {
                "arn": policy.get("PolicyARN"),
                "policy_type": policy.get("PolicyType"),
                "target_tracking_scaling_policy_configuration": policy.get("TargetTrackingScalingPolicyConfiguration"),
                "min_capacity": target.get("MinCapacity"),
                "max_capacity": target.get("MaxCapacity"),
            }
        )
    return views


READERS = {
    "ecs_cluster": ("ecs", read_clusters),
    "task_definition": ("ecs", read_task_definitions),
    "ecs_service": ("ecs", read_services),
    "scaling_policy": ("application-autoscaling", read_scaling_policies),
}
