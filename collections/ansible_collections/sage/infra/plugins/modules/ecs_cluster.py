#!/usr/bin/python


# Copyright: Contributors to the sage-infra project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: ecs_cluster
version_added: 0.1.0
short_description: Manage an ECS cluster, its Container Insights setting and capacity providers
description:
  - Create, update or delete an Amazon ECS cluster.
  - Unlike M(community.aws.ecs_cluster), Container Insights is managed, and the capacity providers,
    the default capacity provider strategy and the tags are compared with what the cluster has,
    so that a run that changes nothing makes a single C(DescribeClusters) call.
  - Only what differs is updated, with C(UpdateCluster), C(PutClusterCapacityProviders),
    C(TagResource) and C(UntagResource).
author:
  - sage-infra developers (!UNKNOWN)
options:
  name:
    description:
      - Name of the cluster, for example V(sage).
    type: str
    required: true
  state:
    description:
      - Whether the cluster should exist.
      - V(absent) fails, naming them, while the cluster has C(ACTIVE) services.
        A missing or C(INACTIVE) cluster is left alone.
      - An C(INACTIVE) (deleted) cluster is created again by V(present).
    type: str
    choices: ['present', 'absent']
    default: present
  container_insights:
    description:
      - The C(containerInsights) setting of the cluster. V(enhanced) is Container Insights with enhanced observability.
    type: str
    choices: ['enabled', 'enhanced', 'disabled']
    default: enabled
  capacity_providers:
    description:
      - Capacity providers of the cluster, for example V([FARGATE, FARGATE_SPOT]). The order does not matter.
      - When not set they are not managed. V([]) removes them all.
    type: list
    elements: str
  default_capacity_provider_strategy:
    description:
      - Default capacity provider strategy of the cluster. The order does not matter.
      - When not set it is not managed. V([]) removes it.
    type: list
    elements: dict
    suboptions:
      capacity_provider:
        description:
          - Name of the capacity provider, which must be one of the capacity providers of the cluster.
        type: str
        required: true
      weight:
        description:
          - Relative share of the tasks launched with this capacity provider.
        type: int
        default: 0
      base:
        description:
          - Minimum number of tasks run on this capacity provider. Only one capacity provider may have a base.
        type: int
        default: 0
  wait:
    description:
      - With O(state=absent), whether to wait until the deleted cluster is C(INACTIVE).
    type: bool
    default: true
  wait_timeout:
    description:
      - How long to wait, in seconds, for O(wait).
    type: int
    default: 300
notes:
  - In check mode nothing is changed; RV(cluster) then shows the cluster as it would be.
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.tags
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: A Fargate cluster with Container Insights, mostly on Spot
  sage.infra.ecs_cluster:
    name: sage
    container_insights: enabled
    capacity_providers: [FARGATE, FARGATE_SPOT]
    default_capacity_provider_strategy:
      - capacity_provider: FARGATE
        weight: 1
        base: 1
      - capacity_provider: FARGATE_SPOT
        weight: 3
    tags:
      app: sage

- name: Delete the cluster once its services are gone
  sage.infra.ecs_cluster:
    name: sage-old
    state: absent
"""

RETURN = r"""
cluster:
  description:
    - The cluster after the run, as C(DescribeClusters) returns it with snake_case keys,
      plus RV(cluster.container_insights).
    - Empty when the cluster does not exist; with O(state=absent), the deleted cluster.
  type: dict
  returned: always
  contains:
    cluster_arn:
      description: ARN of the cluster, V(null) for a cluster that would be created in check mode.
      type: str
      sample: "arn:aws:ecs:eu-west-1:123456789012:cluster/sage"
    cluster_name:
      description: Name of the cluster.
      type: str
      sample: sage
    status:
      description: Status of the cluster.
      type: str
      sample: ACTIVE
    container_insights:
      description: The C(containerInsights) setting.
      type: str
      sample: enabled
    settings:
      description: Settings of the cluster.
      type: list
      elements: dict
      sample: [{"name": "containerInsights", "value": "enabled"}]
    capacity_providers:
      description: Capacity providers of the cluster, sorted.
      type: list
      elements: str
      sample: ["FARGATE", "FARGATE_SPOT"]
    default_capacity_provider_strategy:
      description: Default capacity provider strategy, sorted by capacity provider.
      type: list
      elements: dict
      sample: [{"capacity_provider": "FARGATE", "weight": 1, "base": 1}]
    active_services_count:
      description: Number of C(ACTIVE) services of the cluster.
      type: int
      sample: 2
    tags:
      description: Tags of the cluster.
      type: dict
      sample: {"app": "sage"}
"""

import time

from ansible.module_utils.common.dict_transformations import camel_dict_to_snake_dict
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.sage.infra.plugins.module_utils.ecs import (
    call,
    desired_tags,
    dict_to_tags,
    sync_tags,
)
from ansible_collections.sage.infra.plugins.module_utils.stack_ecs import (
    INSIGHTS,
    cluster_settings,
    cluster_view,
    strategy_api,
)
from ansible_collections.sage.infra.plugins.module_utils.state import exit_for_state

POLL_DELAY = 5


def describe_cluster(module, client):
    """The cluster (ACTIVE, INACTIVE or in between), None when there is no such cluster."""
    name = module.params["name"]
    response = call(
        module,
        client,
        "describe_clusters",
        f"describe cluster {name}",
        clusters=[name],
        include=["SETTINGS", "TAGS", "CONFIGURATIONS"],
    )
    clusters = response.get("clusters") or []
    return clusters[0] if clusters else None


def desired_view(params, before):
    """What the cluster should have: the options given, the rest as it is."""
    after = cluster_settings(params, before)
    after["tags"] = desired_tags(before.get("tags", {}), params["tags"], params["purge_tags"])
    return after


def cluster_result(cluster, view):
    """The returned cluster: the described one with the managed attributes of ``view``."""
    others = [s for s in cluster.get("settings") or [] if s.get("name") != INSIGHTS]
    result = camel_dict_to_snake_dict({k: v for k, v in cluster.items() if k != "tags"})
    result.update(view, settings=[{"name": INSIGHTS, "value": view["container_insights"]}, *others])
    return result


def create_cluster(module, client):
    params = module.params
    after = desired_view(params, cluster_view({}))
    if module.check_mode:
        cluster = {"clusterName": params["name"], "clusterArn": None, "status": "ACTIVE"}
        return True, cluster_result(cluster, after), {}, after
    kwargs = {"clusterName": params["name"], "settings": [{"name": INSIGHTS, "value": after["container_insights"]}]}
    if after["capacity_providers"]:
        kwargs["capacityProviders"] = after["capacity_providers"]
    if after["default_capacity_provider_strategy"]:
        kwargs["defaultCapacityProviderStrategy"] = strategy_api(after["default_capacity_provider_strategy"])
    if after["tags"]:
        kwargs["tags"] = dict_to_tags(after["tags"])
    cluster = call(module, client, "create_cluster", f"create cluster {params['name']}", **kwargs)["cluster"]
    return True, cluster_result(cluster, after), {}, after


def ensure_present(module, client, cluster):
    if cluster is None or cluster["status"] == "INACTIVE":
        return create_cluster(module, client)

    name, check = module.params["name"], module.check_mode
    before = cluster_view(cluster)
    after = desired_view(module.params, before)
    if after["container_insights"] != before["container_insights"] and not check:
        settings = [{"name": INSIGHTS, "value": after["container_insights"]}]
        call(
            module, client, "update_cluster", f"update the settings of cluster {name}", cluster=name, settings=settings
        )
    providers = ("capacity_providers", "default_capacity_provider_strategy")
    if any(after[key] != before[key] for key in providers) and not check:
        call(
            module,
            client,
            "put_cluster_capacity_providers",
            f"put the capacity providers of cluster {name}",
            cluster=name,
            capacityProviders=after["capacity_providers"],
            defaultCapacityProviderStrategy=strategy_api(after["default_capacity_provider_strategy"]),
        )
    after["tags"] = sync_tags(module, client, cluster["clusterArn"], before["tags"], f"cluster {name}")
    return after != before, cluster_result(cluster, after), before, after


def active_services(module, client, name):
    """Names of the ACTIVE services of the cluster."""
    arns, kwargs = [], {"cluster": name}
    while True:
        page = call(module, client, "list_services", f"list the services of cluster {name}", **kwargs)
        arns.extend(page.get("serviceArns", []))
        if not page.get("nextToken"):
            break
        kwargs["nextToken"] = page["nextToken"]
    names = []
    for start in range(0, len(arns), 10):  # DescribeServices takes at most 10 services
        batch = arns[start : start + 10]
        response = call(
            module,
            client,
            "describe_services",
            f"describe the services of cluster {name}",
            cluster=name,
            services=batch,
        )
        names.extend(s["serviceName"] for s in response.get("services", []) if s.get("status") == "ACTIVE")
    return sorted(names)


def wait_inactive(module, client, cluster):
    name, timeout = module.params["name"], module.params["wait_timeout"]
    deadline = time.monotonic() + timeout
    while cluster is not None and cluster["status"] != "INACTIVE":
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            module.fail_json(
                msg=f"Timed out after {timeout} seconds waiting for cluster {name} to become INACTIVE "
                f"(status: {cluster['status']})"
            )
        time.sleep(min(POLL_DELAY, remaining))
        cluster = describe_cluster(module, client)
    return cluster


def ensure_absent(module, client, cluster):
    if cluster is None:
        return False, {}, {}, {}
    before = cluster_view(cluster)
    if cluster["status"] == "INACTIVE":
        return False, cluster_result(cluster, before), {}, {}

    name = module.params["name"]
    services = active_services(module, client, name)
    if services:
        module.fail_json(
            msg=f"Cannot delete ECS cluster {name}: it still has ACTIVE services: {', '.join(services)}. "
            "Delete them first."
        )
    if module.check_mode:
        return True, cluster_result({**cluster, "status": "INACTIVE"}, before), before, {}
    deleted = call(module, client, "delete_cluster", f"delete cluster {name}", cluster=name)["cluster"]
    if module.params["wait"]:
        deleted = wait_inactive(module, client, deleted) or {**deleted, "status": "INACTIVE"}
    return True, cluster_result(deleted, before), before, {}


def main():
    argument_spec = {
        "name": {"type": "str", "required": True},
        "state": {"type": "str", "default": "present", "choices": ["present", "absent"]},
        "container_insights": {"type": "str", "default": "enabled", "choices": ["enabled", "enhanced", "disabled"]},
        "capacity_providers": {"type": "list", "elements": "str"},
        "default_capacity_provider_strategy": {
            "type": "list",
            "elements": "dict",
            "options": {
                "capacity_provider": {"type": "str", "required": True},
                "weight": {"type": "int", "default": 0},
                "base": {"type": "int", "default": 0},
            },
        },
        "tags": {"type": "dict", "aliases": ["resource_tags"]},
        "purge_tags": {"type": "bool", "default": True},
        "wait": {"type": "bool", "default": True},
        "wait_timeout": {"type": "int", "default": 300},
    }
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    client = module.client("ecs", retry_decorator=AWSRetry.jittered_backoff())
    cluster = describe_cluster(module, client)
    exit_for_state(module, "cluster", ensure_present, ensure_absent, client, cluster)


if __name__ == "__main__":
    main()
