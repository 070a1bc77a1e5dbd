#!/usr/bin/python


# Copyright: Contributors to the sage-infra project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: ecs_service
version_added: 0.1.0
short_description: Manage an Amazon ECS service and wait for its rollouts
description:
  - Create, update or delete an Amazon ECS service that uses the rolling update (C(ECS)) deployment controller.
  - Unlike M(community.aws.ecs_service), the task definition is compared by its resolved ARN (whatever form
    O(task_definition) takes), every managed setting is compared normalised so that a run with the same
    input changes nothing, and the module waits for the deployment it starts to complete, fail or time out,
    including the automatic rollback of the ECS deployment circuit breaker (see RV(rollout)).
  - A run that changes nothing makes a single C(DescribeServices) call, plus one C(DescribeTaskDefinition) call
    when O(task_definition) is a family without revision (or names a task definition the service does not run),
    or with O(state=absent) one C(DescribeScalableTargets) call.
  - Settings that are not set are not managed, except on creation where AWS applies its defaults.
    Placement, service registries, Service Connect and volumes are never managed.
author:
  - sage-infra developers (!UNKNOWN)
options:
  cluster:
    description:
      - Short name or ARN of the cluster the service runs in.
    type: str
    required: true
  name:
    description:
      - Name of the service. Up to 255 letters, digits, hyphens and underscores.
    type: str
    required: true
  state:
    description:
      - Whether the service should exist.
      - A service that is C(DRAINING) or C(INACTIVE) (being deleted or deleted) counts as absent; with
        O(state=present) a C(DRAINING) service is waited for (see O(wait)) and created again.
      - With O(state=absent) the module also deregisters the Application Auto Scaling scalable target of the
        service's desired count (resource ID C(service/<cluster>/<name>)), which AWS keeps after C(DeleteService);
        deregistering it deletes its scaling policies too. This is done whether or not the service still exists,
        so that a run also cleans up after a deletion interrupted half-way (see RV(scalable_target_deregistered)).
        It needs the C(application-autoscaling:DescribeScalableTargets) and
        C(application-autoscaling:DeregisterScalableTarget) permissions.
      - With O(state=present) Application Auto Scaling is never called.
    type: str
    choices: ['present', 'absent']
    default: present
  task_definition:
    description:
      - Task definition the service runs, as an ARN, as V(family:revision), or as a family alone for its latest
        C(ACTIVE) revision. Compared with the service by its resolved ARN; a different one starts a deployment.
      - Required to create the service. When not set the task definition of an existing service is not managed.
    type: str
  desired_count:
    description:
      - Number of tasks to keep running. Required to create the service.
      - When not set the desired count of an existing service is not managed.
    type: int
  autoscaling_owns_desired_count:
    description:
      - When V(true), O(desired_count) is only used to create the service. Afterwards Application Auto Scaling
        owns the desired count, which is never compared nor reset.
    type: bool
    default: false
  launch_type:
    description:
      - Launch type of the tasks. Mutually exclusive with O(capacity_provider_strategy).
      - When neither is set a new service uses the capacity provider strategy of the cluster, or the V(EC2)
        launch type when the cluster has none.
      - AWS cannot change the launch type of an existing service (nor go back from a capacity provider strategy
        to a launch type in a way this module can check), so such a change fails without changing anything;
        delete the service and create it again.
    type: str
    choices: ['FARGATE', 'EC2']
  capacity_provider_strategy:
    description:
      - Capacity provider strategy of the tasks. Mutually exclusive with O(launch_type).
      - The capacity providers must be associated with the cluster. A service moves from a launch type to a
        capacity provider strategy, or to another strategy, in place with a new deployment (C(forceNewDeployment)).
      - Compared without regard to the order of the capacity providers.
    type: list
    elements: dict
    suboptions:
      capacity_provider:
        description:
          - Name of the capacity provider, for example V(FARGATE) or V(FARGATE_SPOT).
        type: str
        required: true
      weight:
        description:
          - Relative share of the tasks placed with this capacity provider, between V(0) and V(1000).
        type: int
        default: 1
      base:
        description:
          - Minimum number of tasks placed with this capacity provider, between V(0) and V(100000).
            Only one capacity provider of a strategy may have a base.
        type: int
        default: 0
  platform_version:
    description:
      - Fargate platform version, for example V(1.4.0).
      - Defaults to V(LATEST) for a service on Fargate (launch type or capacity providers); not used otherwise.
        A change starts a deployment.
    type: str
  subnets:
    description:
      - IDs of the subnets of the tasks (C(awsvpc) network mode). When not set the network configuration is
        not managed. Compared without regard to order; a change starts a deployment.
    type: list
    elements: str
  security_groups:
    description:
      - IDs of the security groups of the tasks. Requires O(subnets). Compared without regard to order.
      - When not set the security groups of an existing service are kept.
    type: list
    elements: str
  assign_public_ip:
    description:
      - Whether the tasks get a public IP address. Requires O(subnets).
      - Defaults to V(false) when O(subnets) is set.
    type: bool
  load_balancers:
    description:
      - Target groups the tasks are registered with. V([]) removes them all; when not set they are not managed.
      - Compared without regard to order; a change starts a deployment.
    type: list
    elements: dict
    suboptions:
      target_group_arn:
        description:
          - ARN of the Elastic Load Balancing target group.
        type: str
        required: true
      container_name:
        description:
          - Name of the container (as in the task definition) to register.
        type: str
        required: true
      container_port:
        description:
          - Port of the container to register.
        type: int
        required: true
  health_check_grace_period_seconds:
    description:
      - Seconds during which ECS ignores failing load balancer and container health checks of a new task.
      - When not set it is not managed. AWS reports V(0) for a service without one.
    type: int
  deployment:
    description:
      - How tasks are replaced during a deployment. When not set it is not managed (AWS uses the defaults
        below on creation); when set, sub-options that are not set take these defaults.
    type: dict
    suboptions:
      minimum_healthy_percent:
        description:
          - Lower limit, in percent of O(desired_count), of the tasks kept running during a deployment.
        type: int
        default: 100
      maximum_percent:
        description:
          - Upper limit, in percent of O(desired_count), of the tasks running during a deployment.
        type: int
        default: 200
      circuit_breaker:
        description:
          - The deployment circuit breaker, which marks a deployment whose tasks keep failing to start as
            C(FAILED) instead of retrying for ever.
          - Defaults to disabled.
        type: dict
        suboptions:
          enable:
            description:
              - Whether the circuit breaker is on.
            type: bool
            default: false
          rollback:
            description:
              - Whether ECS rolls a failed deployment back to the last completed one.
              - Requires O(deployment.circuit_breaker.enable=true).
            type: bool
            default: false
      alarms:
        description:
          - CloudWatch alarms that fail a deployment when one of them goes into C(ALARM) while it rolls out (ECS
            ignores an alarm already in C(ALARM) when the deployment starts), which catches a release whose tasks
            start but answer badly.
          - Defaults to none.
        type: dict
        default: {}
        suboptions:
          alarm_names:
            description:
              - Names of the alarms. ECS looks them up during each deployment.
            type: list
            elements: str
            default: []
          enable:
            description:
              - Whether the alarms are watched. Requires O(deployment.alarms.alarm_names).
            type: bool
            default: false
          rollback:
            description:
              - Whether ECS rolls a deployment failed by an alarm back to the last completed one.
              - Requires O(deployment.alarms.enable=true).
            type: bool
            default: false
  propagate_tags:
    description:
      - Whether the tasks get the tags of the task definition or of the service. When not set it is not managed.
    type: str
    choices: ['TASK_DEFINITION', 'SERVICE', 'NONE']
  enable_execute_command:
    description:
      - Whether ECS Exec is enabled for the tasks. When not set it is not managed (disabled on creation).
    type: bool
  enable_ecs_managed_tags:
    description:
      - Whether ECS tags the tasks with the cluster and service names. When not set it is not managed.
    type: bool
  force_new_deployment:
    description:
      - Start a new deployment even if nothing changed, for example to pull an image tag again.
        The task always reports a change.
    type: bool
    default: false
  wait:
    description:
      - Whether to wait until the deployment this run starts is C(COMPLETED) or C(FAILED), or O(wait_timeout) passes.
        A deployment that is already C(IN_PROGRESS) is waited for too.
      - With O(state=absent), whether to wait until the service is C(INACTIVE).
    type: bool
    default: true
  wait_timeout:
    description:
      - How long to wait, in seconds, see O(wait). At least V(1).
    type: int
    default: 900
  fail_on_rollout_failure:
    description:
      - Whether the task fails when the deployment it waits for is C(FAILED) or does not complete within
        O(wait_timeout) (RV(rollout.state) C(FAILED) or C(TIMED_OUT)). The same holds for a service whose
        current deployment has failed before the run.
      - With V(false) the task returns RV(rollout) instead, so that a playbook can roll back itself.
    type: bool
    default: true
notes:
  - In check mode nothing is changed and nothing is waited for; RV(service) then shows the service as it is
    (or a sketch of the one that would be created).
  - With the circuit breaker or the deployment alarms and their rollback enabled, ECS itself deploys the last
    completed task definition again when a deployment fails. RV(rollout.rolled_back_by_ecs) is then V(true),
    RV(rollout.alarms) names the alarms that failed it, if any, and RV(task_definition) is the task definition ECS
    rolled back to.
  - A deployment whose tasks keep failing without the circuit breaker stays C(IN_PROGRESS) on AWS; only
    O(wait_timeout) ends the wait (RV(rollout.state=TIMED_OUT)).
  - While waiting, C(DescribeServices) is called after 1, 2 and 4 seconds, then every 5 seconds.
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.tags
  - amazon.aws.boto3
"""

EXAMPLES = r"""
# Note: These examples do not set authentication details, see the AWS Guide for details.

- name: A Fargate service behind a target group; wait until the deployment completes
  sage.infra.ecs_service:
    cluster: sage
    name: sage-backend
    task_definition: sage-backend
    desired_count: 2
    launch_type: FARGATE
    subnets: [subnet-0123456789abcdef0, subnet-0fedcba9876543210]
    security_groups: [sg-0123456789abcdef0]
    load_balancers:
      - target_group_arn: "{{ target_group_arn }}"
        container_name: backend
        container_port: 8080
    health_check_grace_period_seconds: 60
    deployment:
      circuit_breaker:
        enable: true
        rollback: true
    tags:
      Project: sage

- name: Deploy a new revision and roll back ourselves when it fails
  sage.infra.ecs_service:
    cluster: sage
    name: sage-backend
    task_definition: "{{ new_task_definition_arn }}"
    autoscaling_owns_desired_count: true
    fail_on_rollout_failure: false
    wait_timeout: 600
  register: deploy

- name: Back to the previous task definition
  sage.infra.ecs_service:
    cluster: sage
    name: sage-backend
    task_definition: "{{ deploy.previous_task_definition }}"
  when: deploy.rollout.state in ['FAILED', 'TIMED_OUT'] and not deploy.rollout.rolled_back_by_ecs

- name: Delete the service, with its Application Auto Scaling scalable target and scaling policies
  sage.infra.ecs_service:
    cluster: sage
    name: sage-backend
    state: absent
"""

RETURN = r"""
service:
  description:
    - The service after the run, with every field of C(DescribeServices) in snake case, tags as a dictionary.
    - Empty when O(state=absent).
  returned: always
  type: dict
  contains:
    service_name:
      description: Name of the service.
      type: str
      sample: sage-backend
    service_arn:
      description: ARN of the service. V(null) for a service that would be created in check mode.
      type: str
      sample: "arn:aws:ecs:eu-west-1:123456789012:service/sage/sage-backend"
    status:
      description: Status of the service.
      type: str
      sample: ACTIVE
    task_definition:
      description: ARN of the task definition of the service.
      type: str
      sample: "arn:aws:ecs:eu-west-1:123456789012:task-definition/sage-backend:7"
    desired_count:
      description: Desired number of tasks.
      type: int
      sample: 2
    running_count:
      description: Number of running tasks.
      type: int
      sample: 2
    deployments:
      description: Deployments of the service, the C(PRIMARY) one first.
      type: list
      elements: dict
    events:
      description: Latest service events, newest first.
      type: list
      elements: dict
    tags:
      description: Tags of the service.
      type: dict
      sample: {"Project": "sage"}
previous_task_definition:
  description: ARN of the task definition the service ran before the run; V(null) when it did not exist.
  returned: always
  type: str
  sample: "arn:aws:ecs:eu-west-1:123456789012:task-definition/sage-backend:6"
task_definition:
  description:
    - ARN of the task definition of the service after the run (after an ECS rollback, the one rolled back to).
    - V(null) when O(state=absent).
  returned: always
  type: str
  sample: "arn:aws:ecs:eu-west-1:123456789012:task-definition/sage-backend:7"
scalable_target_deregistered:
  description:
    - Whether the run deregistered the Application Auto Scaling scalable target of the service (with its scaling
      policies); in check mode, whether it would.
  returned: when O(state=absent)
  type: bool
  sample: true
rollout:
  description: The deployment the run started or waited for.
  returned: when O(state=present)
  type: dict
  contains:
    deployment_id:
      description: ID of the deployment; V(null) when RV(rollout.state=NONE).
      type: str
      sample: "ecs-svc/1234567890123456789"
    state:
      description:
        - V(COMPLETED), V(FAILED) or V(TIMED_OUT) (not completed within O(wait_timeout)).
        - V(IN_PROGRESS) when not waited for (O(wait=false) or check mode).
        - V(NONE) when the run neither started nor waited for a deployment.
      type: str
      sample: COMPLETED
    reason:
      description: Why the deployment is in that state (C(rolloutStateReason), completed by the module).
      type: str
      sample: "ECS deployment circuit breaker: tasks failed to start."
    task_definition:
      description: ARN of the task definition the deployment rolls out.
      type: str
      sample: "arn:aws:ecs:eu-west-1:123456789012:task-definition/sage-backend:7"
    rolled_back_by_ecs:
      description:
        - Whether the deployment failed and ECS rolled the service back (circuit breaker or alarms, with rollback).
      type: bool
      sample: false
    alarms:
      description: The deployment alarms in C(ALARM) when the deployment failed (empty when none failed it).
      type: list
      elements: str
      sample: ["sage-api-error-rate-high"]
    failed_tasks:
      description: Number of tasks of the deployment that failed to start.
      type: int
      sample: 0
"""

import copy
import itertools
import re
import time

try:
    import botocore
except ImportError:
    pass  # Handled by AnsibleAWSModule

from ansible.module_utils.common.dict_transformations import camel_dict_to_snake_dict
from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.sage.infra.plugins.module_utils.ecs import (
    apply_tags,
    dict_to_tags,
    tag_changes,
    tags_to_dict,
)
from ansible_collections.sage.infra.plugins.module_utils.ecs import call as ecs_call
from ansible_collections.sage.infra.plugins.module_utils.stack_ecs import (
    SIMPLE,
    desired_view,
    is_fargate,
    normal_deployment,
    primary_deployment,
    service_differences,
    service_view,
)

# Seconds between two DescribeServices while waiting: 1, 2, 4, then every POLL_DELAY.
FIRST_POLL_DELAY = 1
POLL_DELAY = 5
NAME_RE = r"[A-Za-z0-9_-]{1,255}"
LAST_EVENTS = 3
# UpdateService parameters that start a deployment.
DEPLOYING = ("taskDefinition", "networkConfiguration", "platformVersion", "loadBalancers", "forceNewDeployment")
# Application Auto Scaling: the scalable target of a service's desired count, less its resource ID.
SCALABLE_TARGET = {"ServiceNamespace": "ecs", "ScalableDimension": "ecs:service:DesiredCount"}


def validate(module):
    """Check the options before any AWS call."""
    params = module.params
    if not re.fullmatch(NAME_RE, params["name"]):
        module.fail_json(
            msg=f"name {params['name']!r} is invalid: use 1 to 255 letters, digits, hyphens or underscores"
        )
    if params["wait_timeout"] < 1:
        module.fail_json(msg=f"wait_timeout must be at least 1 second; got {params['wait_timeout']}")
    if params["state"] == "absent":
        return
    for option in ("desired_count", "health_check_grace_period_seconds"):
        if params[option] is not None and params[option] < 0:
            module.fail_json(msg=f"{option} must not be negative; got {params[option]}")
    if params["assign_public_ip"] is not None and params["subnets"] is None:
        module.fail_json(msg="assign_public_ip requires subnets (the awsvpc network configuration)")
    if params["subnets"] is not None and not params["subnets"]:
        module.fail_json(msg="subnets must not be empty; leave it unset not to manage the network configuration")
    if params["platform_version"] is not None and params["launch_type"] == "EC2":
        module.fail_json(msg="platform_version only applies to Fargate; it cannot be set with launch_type=EC2")
    deployment = params["deployment"]
    if deployment is not None:
        if not 0 <= deployment["minimum_healthy_percent"] <= 100:
            module.fail_json(
                msg="deployment.minimum_healthy_percent must be between 0 and 100; "
                f"got {deployment['minimum_healthy_percent']}"
            )
        if deployment["maximum_percent"] < max(deployment["minimum_healthy_percent"], 1):
            module.fail_json(
                msg="deployment.maximum_percent must be at least 1 and at least deployment.minimum_healthy_percent; "
                f"got {deployment['maximum_percent']}"
            )
        breaker = deployment["circuit_breaker"] or {}
        if breaker.get("rollback") and not breaker.get("enable"):
            module.fail_json(
                msg="deployment.circuit_breaker.rollback requires deployment.circuit_breaker.enable=true "
                "(ECS only rolls back a deployment the circuit breaker has failed)"
            )
        alarms = deployment["alarms"] or {}
        if alarms.get("enable") and not alarms.get("alarm_names"):
            module.fail_json(msg="deployment.alarms.enable=true needs deployment.alarms.alarm_names")
        if alarms.get("rollback") and not alarms.get("enable"):
            module.fail_json(
                msg="deployment.alarms.rollback requires deployment.alarms.enable=true "
                "(ECS only rolls back a deployment its alarms have failed)"
            )
    strategy = params["capacity_provider_strategy"]
    if strategy is not None:
        if not strategy:
            module.fail_json(msg="capacity_provider_strategy must not be empty; use launch_type or leave both unset")
        names = [item["capacity_provider"] for item in strategy]
        if len(set(names)) != len(names):
            module.fail_json(msg=f"capacity_provider_strategy names a capacity provider twice: {names}")
        for item in strategy:
            if not 0 <= item["weight"] <= 1000 or not 0 <= item["base"] <= 100000:
                module.fail_json(
                    msg="capacity_provider_strategy weight must be between 0 and 1000 and base between 0 and 100000; "
                    f"got {item}"
                )
        if sum(1 for item in strategy if item["base"]) > 1:
            module.fail_json(msg="capacity_provider_strategy: only one capacity provider may have a base")
        if not any(item["weight"] for item in strategy):
            module.fail_json(msg="capacity_provider_strategy: at least one capacity provider needs a weight above 0")
    for item in params["load_balancers"] or []:
        if not 1 <= item["container_port"] <= 65535:
            module.fail_json(msg=f"load_balancers container_port must be between 1 and 65535; got {item}")


def the_service(module):
    """The service as error messages name it: ``service <name> in cluster <cluster>``."""
    return f"service {module.params['name']} in cluster {module.params['cluster']}"


def call(module, client, action, what, **kwargs):
    """``ecs.call``, failing with ``Failed to <what> service <name> in cluster <cluster>``."""
    return ecs_call(module, client, action, f"{what} {the_service(module)}", **kwargs)


def describe_service(module, client):
    """The service as DescribeServices reports it (tags included), or None when it does not exist."""
    params = module.params
    try:
        response = client.describe_services(
            aws_retry=True, cluster=params["cluster"], services=[params["name"]], include=["TAGS"]
        )
    except is_boto3_error_code("ClusterNotFoundException") as e:
        if params["state"] == "absent":
            return None
        module.fail_json_aws(e, msg=f"Cluster {params['cluster']} of service {params['name']} does not exist")
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:  # pylint: disable=duplicate-except
        module.fail_json_aws(e, msg=f"Failed to describe {the_service(module)}")
    if response.get("services"):
        return response["services"][0]
    failures = [failure for failure in response.get("failures") or [] if failure.get("reason") != "MISSING"]
    if failures:
        module.fail_json(
            msg=f"Failed to describe {the_service(module)}: {failures}",
            failures=failures,
        )
    return None


def resolve_task_definition(module, client, current):
    """The ARN of O(task_definition); DescribeTaskDefinition only when the service's own ARN does not tell it."""
    wanted = module.params["task_definition"]
    if wanted is None:
        return None
    if current and (wanted == current or (":" in wanted and current.endswith(f":task-definition/{wanted}"))):
        return current
    response = ecs_call(
        module, client, "describe_task_definition", f"find task_definition {wanted}", taskDefinition=wanted
    )
    definition = response["taskDefinition"]
    if definition.get("status", "ACTIVE") != "ACTIVE":
        module.fail_json(
            msg=f"task_definition {wanted} ({definition['taskDefinitionArn']}) is {definition['status']}: "
            "ECS starts no task of a deregistered task definition; register a new revision"
        )
    return definition["taskDefinitionArn"]


def network_request(view):
    vpc = {"subnets": view["subnets"], "assignPublicIp": "ENABLED" if view["assign_public_ip"] else "DISABLED"}
    if view["security_groups"]:
        vpc["securityGroups"] = view["security_groups"]
    return {"awsvpcConfiguration": vpc}


def strategy_request(strategy):
    return [
        {"capacityProvider": item["capacity_provider"], "weight": item["weight"], "base": item["base"]}
        for item in strategy
    ]


def load_balancers_request(load_balancers):
    return [
        {
            "targetGroupArn": item["target_group_arn"],
            "containerName": item["container_name"],
            "containerPort": item["container_port"],
        }
        for item in load_balancers
    ]


def deployment_request(deployment, current=None):
    """deploymentConfiguration; what the module does not manage is kept from the current one."""
    request = copy.deepcopy(current or {})
    request.update(
        minimumHealthyPercent=deployment["minimum_healthy_percent"],
        maximumPercent=deployment["maximum_percent"],
        deploymentCircuitBreaker=dict(deployment["circuit_breaker"]),
        alarms=alarms_request(deployment["alarms"]),
    )
    return request


def alarms_request(alarms):
    return {"alarmNames": list(alarms["alarm_names"]), "enable": alarms["enable"], "rollback": alarms["rollback"]}


def drop_none(view):
    return {key: value for key, value in view.items() if value is not None}


def service_result(service, tags=None):
    """The service in snake case, with its tags (as given, else as described) as a dictionary."""
    result = camel_dict_to_snake_dict(service or {}, ignore_list=["tags"])
    if service:
        result["tags"] = tags_to_dict(service.get("tags"))
    if tags is not None:
        result["tags"] = tags
    return result


def poll_delay(attempt, remaining):
    return min(POLL_DELAY, FIRST_POLL_DELAY * 2**attempt, remaining)


def rollout_state(service, deployment_id, task_definition):
    """(state, deployment followed, rolled back by ECS, extra reason) of a deployment in a described service."""
    deployments = service.get("deployments") or []
    primary = primary_deployment(service)
    mine = next((d for d in deployments if d.get("id") == deployment_id), None)
    if mine is None:
        # Gone: ECS removes a failed deployment once its rollback has completed.
        if primary is not None and primary.get("taskDefinition") == task_definition:
            return rollout_state(service, primary["id"], task_definition)  # redeployed by someone else: follow it
        breaker = (service.get("deploymentConfiguration") or {}).get("deploymentCircuitBreaker") or {}
        where = f"deployment {primary['id']} of {primary.get('taskDefinition')}" if primary else "no deployment"
        return "FAILED", {"id": deployment_id}, bool(breaker.get("rollback")), f"the service now runs {where}"
    state = mine.get("rolloutState")
    if state is None:  # not reported (older services): settled when the only deployment runs all its tasks
        settled = len(deployments) == 1 and mine.get("runningCount") == mine.get("desiredCount")
        state = "COMPLETED" if settled else "IN_PROGRESS"
    if state == "FAILED":
        rolled_back = primary is not None and primary.get("id") != deployment_id
        return "FAILED", mine, rolled_back, None
    if state == "COMPLETED":
        return "COMPLETED", mine, False, None
    if mine.get("status") != "PRIMARY":
        where = f"deployment {primary['id']} of {primary.get('taskDefinition')}" if primary else "another deployment"
        return "FAILED", mine, False, f"superseded by {where}"
    return "IN_PROGRESS", mine, False, None


def follow_rollout(module, client, service, deployment_id):
    """Wait (when asked) for a deployment; return (last description of the service, rollout)."""
    params = module.params
    task_definition = next(
        (d.get("taskDefinition") for d in service.get("deployments") or [] if d.get("id") == deployment_id),
        service.get("taskDefinition"),
    )
    deadline = time.monotonic() + params["wait_timeout"]
    for attempt in itertools.count():
        state, deployment, rolled_back, extra = rollout_state(service, deployment_id, task_definition)
        deployment_id = deployment["id"]
        if state != "IN_PROGRESS" or not params["wait"] or module.check_mode:
            break
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            state = "TIMED_OUT"
            break
        time.sleep(poll_delay(attempt, remaining))
        service = describe_service(module, client)
        if service is None or service.get("status") != "ACTIVE":
            status = service.get("status") if service else "gone"
            module.fail_json(msg=f"Service {params['name']} is {status} while waiting for deployment {deployment_id}")
    reason = deployment.get("rolloutStateReason")
    if state == "TIMED_OUT":
        failed = deployment.get("failedTasks") or 0
        reason = f"not completed within {params['wait_timeout']} seconds ({failed} failed tasks); last state: {reason}"
    if extra:
        reason = f"{reason}; {extra}" if reason else extra
    # A deployment the circuit breaker failed was not failed by an alarm; else the alarms the reason names, when it
    # names any (an alarm may have been in ALARM before the deployment started, which ECS ignores).
    by_breaker = "circuit breaker" in (reason or "")
    alarms = alarms_in_alarm(module, service) if state == "FAILED" and not by_breaker else []
    alarms = [name for name in alarms if name in (reason or "")] or alarms
    if alarms and not any(name in (reason or "") for name in alarms):
        in_alarm = f"deployment alarms in ALARM: {', '.join(alarms)}"
        reason = f"{reason}; {in_alarm}" if reason else in_alarm
    rollout = {
        "deployment_id": deployment_id,
        "state": state,
        "reason": reason,
        "task_definition": task_definition,
        "rolled_back_by_ecs": rolled_back,
        "failed_tasks": deployment.get("failedTasks", 0),
        "alarms": alarms,
    }
    return service, rollout


def alarms_in_alarm(module, service):
    """The service's deployment alarms that are in ALARM (none when it has none): what failed a deployment."""
    configuration = (service.get("deploymentConfiguration") or {}).get("alarms") or {}
    names = configuration.get("alarmNames") or []
    if not configuration.get("enable") or not names:
        return []
    client = module.client("cloudwatch", retry_decorator=AWSRetry.jittered_backoff())
    try:
        found = client.describe_alarms(aws_retry=True, AlarmNames=names, StateValue="ALARM")
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        module.fail_json_aws(e, msg=f"Failed to read the deployment alarms {', '.join(names)}")
    return sorted(alarm["AlarmName"] for alarm in found.get("MetricAlarms", []) + found.get("CompositeAlarms", []))


def no_rollout(task_definition):
    return {
        "deployment_id": None,
        "state": "NONE",
        "reason": None,
        "task_definition": task_definition,
        "rolled_back_by_ecs": False,
        "failed_tasks": 0,
        "alarms": [],
    }


def rollout_failure_message(module, service, rollout):
    name = module.params["name"]
    what = "failed to roll out" if rollout["state"] == "FAILED" else "did not finish rolling out"
    running = [
        f"{d.get('taskDefinition')} ({d.get('runningCount', 0)} running, deployment {d.get('status')})"
        for d in service.get("deployments") or []
        if d.get("runningCount")
    ]
    now = f"The service's task definition is now {service.get('taskDefinition')}"
    if rollout["rolled_back_by_ecs"]:
        by = (
            f"its deployment alarm {', '.join(rollout['alarms'])}"
            if rollout["alarms"]
            else "the ECS deployment circuit breaker"
        )
        now += f" (rolled back by {by})"
    now += "; running tasks: " + ("; ".join(running) if running else "none")
    events = [event.get("message") for event in (service.get("events") or [])[:LAST_EVENTS]]
    msg = (
        f"Task definition {rollout['task_definition']} {what} to service {name} "
        f"(deployment {rollout['deployment_id']}, {rollout['state']}): {rollout['reason']}. {now}."
    )
    if events:
        msg += " Last events: " + " | ".join(events)
    return msg


def finish(module, changed, service, previous, rollout, before, after, tags=None):
    """(changed, output, before, after), or fail_json for a failed rollout when asked to."""
    result = service_result(service, tags)
    output = {
        "service": result,
        "previous_task_definition": previous,
        "task_definition": (service or {}).get("taskDefinition") or after.get("task_definition"),
        "rollout": rollout,
    }
    if rollout["state"] in ("FAILED", "TIMED_OUT") and module.params["fail_on_rollout_failure"]:
        if module._diff:
            output["diff"] = {"before": before, "after": after}
        module.fail_json(msg=rollout_failure_message(module, service, rollout), changed=changed, **output)
    return changed, output, before, after


def wait_inactive(module, client):
    """Poll until the service is INACTIVE or gone."""
    params = module.params
    deadline = time.monotonic() + params["wait_timeout"]
    for attempt in itertools.count():
        service = describe_service(module, client)
        if service is None or service.get("status") == "INACTIVE":
            return
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            module.fail_json(
                msg=f"Timed out after {params['wait_timeout']} seconds waiting for service {params['name']} "
                f"to be deleted (status: {service.get('status')})"
            )
        time.sleep(poll_delay(attempt, remaining))


def create_service(module, client):
    params = module.params
    for option in ("task_definition", "desired_count"):
        if params[option] is None:
            module.fail_json(msg=f"{option} is required to create service {params['name']}")
    task_definition = resolve_task_definition(module, client, None)
    fargate = is_fargate(params["launch_type"], params["capacity_provider_strategy"])
    want = desired_view(params, task_definition, fargate)
    after = drop_none(
        dict(
            want,
            tags=params["tags"] or {},
            deployment=want["deployment"]
            or normal_deployment({"minimum_healthy_percent": 100, "maximum_percent": 200}),
        )
    )
    if module.check_mode:
        sketch = {"serviceName": params["name"], "serviceArn": None, "status": None, "taskDefinition": task_definition}
        sketch["desiredCount"] = params["desired_count"]
        return finish(module, True, sketch, None, no_rollout(task_definition), {}, after, tags=after["tags"])

    request = {
        "cluster": params["cluster"],
        "serviceName": params["name"],
        "taskDefinition": task_definition,
        "desiredCount": params["desired_count"],
    }
    if params["launch_type"]:
        request["launchType"] = params["launch_type"]
    if want["capacity_provider_strategy"]:
        request["capacityProviderStrategy"] = strategy_request(want["capacity_provider_strategy"])
    if want["platform_version"]:
        request["platformVersion"] = want["platform_version"]
    if want["subnets"] is not None:
        request["networkConfiguration"] = network_request(want)
    if want["load_balancers"]:
        request["loadBalancers"] = load_balancers_request(want["load_balancers"])
    if want["deployment"] is not None:
        request["deploymentConfiguration"] = deployment_request(want["deployment"])
    for option, api_name in SIMPLE.items():
        if params[option] is not None:
            request[api_name] = params[option]
    if params["tags"]:
        request["tags"] = dict_to_tags(params["tags"])
    service = call(module, client, "create_service", "create", **request)["service"]
    primary = primary_deployment(service)
    if primary is None:
        rollout = no_rollout(task_definition)
    else:
        service, rollout = follow_rollout(module, client, service, primary["id"])
    after = dict(drop_none(service_view(service)), tags=params["tags"] or {})
    return finish(module, True, service, None, rollout, {}, after, tags=after["tags"])


def plan_update(module, service, task_definition):
    """Return (before, after, UpdateService parameters, tags to set, tag keys to unset)."""
    params, name = module.params, module.params["name"]
    before = service_view(service)
    if params["launch_type"] or params["capacity_provider_strategy"]:
        fargate = is_fargate(params["launch_type"], params["capacity_provider_strategy"])
    else:
        fargate = is_fargate(before["launch_type"], before["capacity_provider_strategy"])
    want = desired_view(params, task_definition, fargate)
    after, update = dict(before), {}

    if want["launch_type"] and before["capacity_provider_strategy"]:
        module.fail_json(
            msg=f"launch_type {want['launch_type']} cannot replace the capacity provider strategy of existing service "
            f"{name} in place; delete the service (state=absent) and create it again, or keep "
            "capacity_provider_strategy",
            launch_type=want["launch_type"],
            current_capacity_provider_strategy=before["capacity_provider_strategy"],
        )
    if want["launch_type"] and before["launch_type"] and want["launch_type"] != before["launch_type"]:
        module.fail_json(
            msg=f"launch_type cannot be changed from {before['launch_type']} to {want['launch_type']} on existing "
            f"service {name}; delete the service (state=absent) and create it again, or move it to a "
            "capacity_provider_strategy",
            launch_type=want["launch_type"],
            current_launch_type=before["launch_type"],
        )
    # What differs is the stack's comparison of a service (module_utils/stack_ecs): one truth.
    differs = set(service_differences(want, before, params["autoscaling_owns_desired_count"]))
    if "capacity_provider_strategy" in differs:
        # A new strategy only applies to new tasks: AWS documents forceNewDeployment for the move.
        update["capacityProviderStrategy"] = strategy_request(want["capacity_provider_strategy"])
        update["forceNewDeployment"] = True
        after.update(capacity_provider_strategy=want["capacity_provider_strategy"], launch_type=None)

    if "task_definition" in differs:
        update["taskDefinition"] = after["task_definition"] = want["task_definition"]
    if "desired_count" in differs:
        update["desiredCount"] = after["desired_count"] = want["desired_count"]
    if "platform_version" in differs:
        update["platformVersion"] = after["platform_version"] = want["platform_version"]

    if differs & {"subnets", "security_groups", "assign_public_ip"}:
        network = {
            "subnets": want["subnets"],
            "security_groups": before["security_groups"]
            if want["security_groups"] is None
            else want["security_groups"],
            "assign_public_ip": want["assign_public_ip"],
        }
        update["networkConfiguration"] = network_request(network)
        after.update(network)

    if "load_balancers" in differs:
        update["loadBalancers"] = load_balancers_request(want["load_balancers"])
        after["load_balancers"] = want["load_balancers"]
    if "deployment" in differs:
        update["deploymentConfiguration"] = deployment_request(
            want["deployment"], service.get("deploymentConfiguration")
        )
        after["deployment"] = want["deployment"]
    for option, api_name in SIMPLE.items():
        if option in differs:
            update[api_name] = after[option] = want[option]
    if params["force_new_deployment"]:
        update["forceNewDeployment"] = True

    tags_to_set, tags_to_unset, after["tags"] = tag_changes(before["tags"], params["tags"], params["purge_tags"])
    return drop_none(before), drop_none(after), update, tags_to_set, tags_to_unset


def update_service(module, client, service):
    params = module.params
    controller = (service.get("deploymentController") or {}).get("type", "ECS")
    if controller != "ECS":
        module.fail_json(
            msg=f"Service {params['name']} uses the {controller} deployment controller; this module only manages "
            "services with the rolling update (ECS) deployment controller"
        )
    previous = service.get("taskDefinition")
    task_definition = resolve_task_definition(module, client, previous)
    before, after, update, tags_to_set, tags_to_unset = plan_update(module, service, task_definition)
    changed = bool(update or tags_to_set or tags_to_unset)
    primary = primary_deployment(service)
    if module.check_mode:
        deploying = any(key in update for key in DEPLOYING)
        if deploying or primary is None or primary.get("rolloutState") not in ("IN_PROGRESS", "FAILED"):
            rollout = no_rollout(after.get("task_definition"))
        else:
            service, rollout = follow_rollout(module, client, service, primary["id"])
        return finish(module, changed, service, previous, rollout, before, after)

    arn = service["serviceArn"]
    apply_tags(module, client, arn, tags_to_set, tags_to_unset, the_service(module))
    if update:
        response = call(module, client, "update_service", "update", cluster=params["cluster"], service=arn, **update)
        service = response["service"]  # without tags
    # Follow the deployment this run started, else one that is still running or has failed.
    new_primary = primary_deployment(service)
    started = new_primary is not None and (primary is None or new_primary.get("id") != primary.get("id"))
    if started or (new_primary is not None and new_primary.get("rolloutState") in ("IN_PROGRESS", "FAILED")):
        service, rollout = follow_rollout(module, client, service, new_primary["id"])
    else:
        rollout = no_rollout(service.get("taskDefinition"))
    return finish(module, changed, service, previous, rollout, before, after, tags=after["tags"])


def ensure_present(module, client, service):
    params = module.params
    if service is not None and service.get("status") == "DRAINING":
        if not module.check_mode:
            if not params["wait"]:
                module.fail_json(
                    msg=f"Service {params['name']} is DRAINING (being deleted); run again once it is INACTIVE, "
                    "or set wait=true"
                )
            wait_inactive(module, client)
        service = None
    if service is None or service.get("status") == "INACTIVE":
        return create_service(module, client)
    return update_service(module, client, service)


def scalable_target_id(module):
    """The service's resource ID for Application Auto Scaling: ``service/<cluster name>/<service name>``."""
    cluster = module.params["cluster"].rsplit("/", 1)[-1]  # a cluster ARN ends with cluster/<name>
    return f"service/{cluster}/{module.params['name']}"


def remove_scalable_target(module, autoscaling):
    """Deregister the scalable target of the service's desired count, if any (not in check mode).

    DeregisterScalableTarget deletes the target's scaling policies too. Return the target as
    DescribeScalableTargets reports it, or None when there is none.
    """
    resource_id = scalable_target_id(module)
    response = call(
        module,
        autoscaling,
        "describe_scalable_targets",
        "describe the scalable target of",
        ResourceIds=[resource_id],
        **SCALABLE_TARGET,
    )
    target = next(iter(response.get("ScalableTargets") or []), None)
    if target is not None and not module.check_mode:
        call(
            module,
            autoscaling,
            "deregister_scalable_target",
            "deregister the scalable target of",
            ResourceId=resource_id,
            **SCALABLE_TARGET,
        )
    return target


def ensure_absent(module, client, service, autoscaling):
    params = module.params
    output = {"service": {}, "previous_task_definition": None, "task_definition": None}
    changed, before = False, {}
    exists = service is not None and service.get("status") != "INACTIVE"
    if exists:
        before = drop_none(service_view(service))
        output["previous_task_definition"] = service.get("taskDefinition")
    if exists and service.get("status") == "ACTIVE":  # else DRAINING: being deleted already
        changed = True
        if not module.check_mode:
            if service.get("desiredCount"):
                call(
                    module,
                    client,
                    "update_service",
                    "scale in",
                    cluster=params["cluster"],
                    service=params["name"],
                    desiredCount=0,
                )
            call(
                module,
                client,
                "delete_service",
                "delete",
                cluster=params["cluster"],
                service=params["name"],
                force=True,
            )
    # AWS keeps the scalable target (and its policies) of a deleted service: remove it, even when an earlier
    # run was interrupted after the service was deleted.
    target = remove_scalable_target(module, autoscaling)
    output["scalable_target_deregistered"] = target is not None
    if target is not None:
        changed = True
        before["scalable_target"] = {
            "resource_id": target.get("ResourceId"),
            "min_capacity": target.get("MinCapacity"),
            "max_capacity": target.get("MaxCapacity"),
        }
    if exists and params["wait"] and not module.check_mode:
        wait_inactive(module, client)
    return changed, output, before, {}


def main():
    argument_spec = {
        "cluster": {"type": "str", "required": True},
        "name": {"type": "str", "required": True},
        "state": {"type": "str", "default": "present", "choices": ["present", "absent"]},
        "task_definition": {"type": "str"},
        "desired_count": {"type": "int"},
        "autoscaling_owns_desired_count": {"type": "bool", "default": False},
        "launch_type": {"type": "str", "choices": ["FARGATE", "EC2"]},
        "capacity_provider_strategy": {
            "type": "list",
            "elements": "dict",
            "options": {
                "capacity_provider": {"type": "str", "required": True},
                "weight": {"type": "int", "default": 1},
                "base": {"type": "int", "default": 0},
            },
        },
        "platform_version": {"type": "str"},
        "subnets": {"type": "list", "elements": "str"},
        "security_groups": {"type": "list", "elements": "str"},
        "assign_public_ip": {"type": "bool"},
        "load_balancers": {
            "type": "list",
            "elements": "dict",
            "options": {
                "target_group_arn": {"type": "str", "required": True},
                "container_name": {"type": "str", "required": True},
                "container_port": {"type": "int", "required": True},
            },
        },
        "health_check_grace_period_seconds": {"type": "int"},
        "deployment": {
            "type": "dict",
            "options": {
                "minimum_healthy_percent": {"type": "int", "default": 100},
                "maximum_percent": {"type": "int", "default": 200},
                "circuit_breaker": {
                    "type": "dict",
                    "options": {
                        "enable": {"type": "bool", "default": False},
                        "rollback": {"type": "bool", "default": False},
                    },
                },
                "alarms": {
                    "type": "dict",
                    "default": {},
                    "options": {
                        "alarm_names": {"type": "list", "elements": "str", "default": []},
                        "enable": {"type": "bool", "default": False},
                        "rollback": {"type": "bool", "default": False},
                    },
                },
            },
        },
        "propagate_tags": {"type": "str", "choices": ["TASK_DEFINITION", "SERVICE", "NONE"]},
        "enable_execute_command": {"type": "bool"},
        "enable_ecs_managed_tags": {"type": "bool"},
        "tags": {"type": "dict", "aliases": ["resource_tags"]},
        "purge_tags": {"type": "bool", "default": True},
        "force_new_deployment": {"type": "bool", "default": False},
        "wait": {"type": "bool", "default": True},
        "wait_timeout": {"type": "int", "default": 900},
        "fail_on_rollout_failure": {"type": "bool", "default": True},
    }
    module = AnsibleAWSModule(
        argument_spec=argument_spec,
        mutually_exclusive=[("launch_type", "capacity_provider_strategy")],
        required_by={"security_groups": "subnets"},
        supports_check_mode=True,
    )
    validate(module)

    client = module.client("ecs", retry_decorator=AWSRetry.jittered_backoff())
    service = describe_service(module, client)
    if module.params["state"] == "present":
        changed, output, before, after = ensure_present(module, client, service)
    else:
        autoscaling = module.client("application-autoscaling", retry_decorator=AWSRetry.jittered_backoff())
        changed, output, before, after = ensure_absent(module, client, service, autoscaling)
    if module._diff:
        output["diff"] = {"before": before, "after": after}
    module.exit_json(changed=changed, **output)


if __name__ == "__main__":
    main()
