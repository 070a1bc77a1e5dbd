#!/usr/bin/python


# Copyright: Contributors to the sage-infra project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: ecs_task_definition
version_added: 0.1.0
short_description: Register an ECS task definition revision only when it really changes
description:
  - Register or deregister revisions of an Amazon ECS task definition family.
  - Unlike M(community.aws.ecs_taskdefinition), a new revision is registered only when the desired
    definition differs from the latest C(ACTIVE) revision of the family, task level settings
    (O(cpu), O(memory), O(execution_role_arn), ...) included.
  - The comparison ignores what AWS adds or reorders on its side, see the notes.
  - The desired definition comes either from O(container_definitions) and the task level options,
    or, for a deploy, from an existing revision O(base_revision) with only the images of O(container_images)
    replaced.
  - A run that changes nothing makes a single C(DescribeTaskDefinition) call (two with O(base_revision)).
author:
  - sage-infra developers (!UNKNOWN)
options:
  family:
    description:
      - Name of the task definition family, for example V(sage-backend).
    type: str
    required: true
  state:
    description:
      - V(present) registers a new revision when the desired definition differs from the latest C(ACTIVE)
        revision of the family (or the family has none).
      - V(absent) deregisters the revision O(arn), or every C(ACTIVE) revision of the family when O(arn) is not set.
    type: str
    choices: ['present', 'absent']
    default: present
  arn:
    description:
      - With O(state=absent), the revision to deregister, as an ARN or as V(family:revision).
      - It must belong to O(family). A revision that does not exist or is already C(INACTIVE) is left alone.
      - Not valid with O(state=present).
    type: str
  container_definitions:
    description:
      - The container definitions, exactly as the C(RegisterTaskDefinition) API takes them (camelCase keys,
        for example C(portMappings), C(logConfiguration), C(secrets)).
      - Required with O(state=present) unless O(base_revision) is set; mutually exclusive with it.
    type: list
    elements: dict
  cpu:
    description:
      - Task level CPU units, for example V("512"). Use the number of units, not V(0.5 vCPU).
    type: str
  memory:
    description:
      - Task level memory in MiB, for example V("1024"). Use the number of MiB, not V(1 GB).
    type: str
  network_mode:
    description:
      - Docker networking mode of the containers.
    type: str
    choices: ['awsvpc', 'bridge', 'host', 'none']
    default: awsvpc
  requires_compatibilities:
    description:
      - Launch types the task definition is validated against.
    type: list
    elements: str
    default: ['FARGATE']
  execution_role_arn:
    description:
      - ARN of the IAM role the ECS agent uses to pull images and read secrets.
    type: str
  task_role_arn:
    description:
      - ARN of the IAM role the containers assume.
    type: str
  runtime_platform:
    description:
      - Operating system and CPU architecture, as the API takes it (keys C(cpuArchitecture) and
        C(operatingSystemFamily)), see the examples.
    type: dict
  ephemeral_storage:
    description:
      - Size of the ephemeral storage of a Fargate task, in GiB (V(21) to V(200)).
    type: int
  volumes:
    description:
      - Data volumes, exactly as the C(RegisterTaskDefinition) API takes them (camelCase keys).
    type: list
    elements: dict
  keep_deployed_image:
    description:
      - When V(true) and the family has an C(ACTIVE) revision, the C(image) of each container is taken from the
        container of the same name in the latest C(ACTIVE) revision, so that provisioning never undoes a deploy.
      - The C(image) of O(container_definitions) is then used only for a new family or a new container.
    type: bool
    default: false
  base_revision:
    description:
      - For a deploy, the revision (ARN or V(family:revision)) the new revision is copied from. Every field
        C(RegisterTaskDefinition) accepts, and the tags, are copied; only the images of O(container_images)
        are replaced.
      - The copy is then compared with the latest C(ACTIVE) revision of O(family) like any desired definition.
      - Requires O(container_images). Mutually exclusive with O(container_definitions), O(keep_deployed_image)
        and the task level options (O(cpu), O(memory), O(network_mode), O(requires_compatibilities),
        O(execution_role_arn), O(task_role_arn), O(runtime_platform), O(ephemeral_storage), O(volumes)).
    type: str
  container_images:
    description:
      - With O(base_revision), the new image of each container to change, by container name (see the examples).
      - Every key must be a container of O(base_revision).
    type: dict
notes:
  - "The comparison normalises both sides: missing and empty values are the same; C(essential) defaults to V(true);
    a container C(cpu) of V(0) is the same as none; port mappings default to protocol C(tcp), and to a C(hostPort)
    equal to the C(containerPort) with the V(awsvpc) and V(host) network modes; C(environment), C(secrets),
    containers and volumes are compared by name, whatever their order; O(cpu) and O(memory) compare as strings;
    fields AWS adds on describe (C(revision), C(status), C(compatibilities), C(requiresAttributes),
    C(registeredAt), ...) are ignored."
  - Tags that differ on an otherwise unchanged definition are updated on the latest revision, without a new
    revision. A new revision gets the tags of the revision it replaces (or of O(base_revision)), updated with O(tags).
  - In check mode nothing is changed; a revision that would be registered is returned without ARN nor revision number.
  - The values of the C(environment) of containers are returned and shown in diffs; keep secrets in C(secrets).
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.tags
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Provision the task definition without undoing the image of the last deploy
  sage.infra.ecs_task_definition:
    family: sage-backend
    cpu: "512"
    memory: "1024"
    execution_role_arn: "{{ execution_role_arn }}"
    task_role_arn: "{{ task_role_arn }}"
    runtime_platform:
      cpuArchitecture: ARM64
      operatingSystemFamily: LINUX
    keep_deployed_image: true
    container_definitions:
      - name: app
        image: "{{ ecr_repository_uri }}:bootstrap"
        portMappings:
          - containerPort: 8000
        environment:
          - name: LOG_LEVEL
            value: info
        secrets:
          - name: ANTHROPIC_API_KEY
            valueFrom: "{{ anthropic_secret_arn }}"
        logConfiguration:
          logDriver: awslogs
          options:
            awslogs-group: /ecs/sage-backend
            awslogs-region: eu-west-1
            awslogs-stream-prefix: app
    tags:
      app: sage
  register: task_definition

- name: Deploy - a new revision that differs only in the image
  sage.infra.ecs_task_definition:
    family: sage-backend
    base_revision: sage-backend
    container_images:
      app: "{{ ecr_repository_uri }}:{{ git_sha }}"
  register: deployed

- name: Deregister one revision
  sage.infra.ecs_task_definition:
    family: sage-backend
    arn: sage-backend:12
    state: absent

- name: Deregister every active revision of a family
  sage.infra.ecs_task_definition:
    family: sage-old-worker
    state: absent
"""

RETURN = r"""
task_definition:
  description:
    - The resulting revision as C(DescribeTaskDefinition) returns it, with snake_case keys, except that
      RV(task_definition.container_definitions) keeps the camelCase form of O(container_definitions).
    - The revision O(arn) with O(state=absent); empty when there is none, and with O(state=absent) without O(arn).
  type: dict
  returned: always
  contains:
    task_definition_arn:
      description: ARN of the revision, V(null) for a revision that would be registered in check mode.
      type: str
      sample: "arn:aws:ecs:eu-west-1:123456789012:task-definition/sage-backend:7"
    family:
      description: Family of the revision.
      type: str
      sample: sage-backend
    revision:
      description: Revision number, V(null) for a revision that would be registered in check mode.
      type: int
      sample: 7
    status:
      description: Status of the revision.
      type: str
      sample: ACTIVE
    container_definitions:
      description: The container definitions, in the camelCase form of the API.
      type: list
      elements: dict
      sample: [{"name": "app", "image": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/sage-backend:abc123"}]
    cpu:
      description: Task level CPU units.
      type: str
      sample: "512"
    memory:
      description: Task level memory in MiB.
      type: str
      sample: "1024"
    network_mode:
      description: Network mode.
      type: str
      sample: awsvpc
    tags:
      description: Tags of the revision.
      type: dict
      sample: {"app": "sage"}
arn:
  description: ARN of RV(task_definition), V(null) when there is none or in check mode for a new revision.
  type: str
  returned: always
  sample: "arn:aws:ecs:eu-west-1:123456789012:task-definition/sage-backend:7"
revision:
  description: Revision number of RV(task_definition), V(null) when there is none or in check mode for a new revision.
  type: int
  returned: always
  sample: 7
previous_arn:
  description:
    - ARN of the latest C(ACTIVE) revision of the family before the run, V(null) if there was none.
    - Always V(null) with O(state=absent) and O(arn).
  type: str
  returned: always
  sample: "arn:aws:ecs:eu-west-1:123456789012:task-definition/sage-backend:6"
image:
  description: Image of each container of RV(task_definition), by container name.
  type: dict
  returned: always
  sample: {"app": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/sage-backend:abc123"}
deregistered:
  description: ARNs of the revisions deregistered (or that would be in check mode).
  type: list
  elements: str
  returned: when O(state=absent)
  sample: ["arn:aws:ecs:eu-west-1:123456789012:task-definition/sage-backend:6"]
"""

import copy
import re

try:
    import botocore
except ImportError:
    pass  # caught by AnsibleAWSModule

from ansible.module_utils.common.dict_transformations import camel_dict_to_snake_dict
from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_message
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.sage.infra.plugins.module_utils.ecs import (
    call,
    desired_tags,
    dict_to_tags,
    sync_tags,
    tags_to_dict,
)
from ansible_collections.sage.infra.plugins.module_utils.stack_ecs import (
    OPTION_FIELDS,
    REGISTRABLE,
    definition_from_options,
    family_of,
    images_of,
    normalize_definition,
    revision_of,
)

# The normalised forms and the desired definition are the stack's (module_utils/stack_ecs): one truth.
FAMILY_RE = re.compile(r"^[A-Za-z0-9_-]{1,255}$")


# --- AWS ------------------------------------------------------------------------------------------------------


def describe(module, client, name):
    """DescribeTaskDefinition with tags: (definition, tags), or (None, {}) when there is no such revision."""
    try:
        response = client.describe_task_definition(aws_retry=True, taskDefinition=name, include=["TAGS"])
    except is_boto3_error_message("Unable to describe task definition"):
        return None, {}
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:  # pylint: disable=duplicate-except
        module.fail_json_aws(e, msg=f"Failed to describe task definition {name}")
    return response["taskDefinition"], tags_to_dict(response.get("tags"))


def list_active(module, client, family):
    """ARNs of the ACTIVE revisions of the family."""
    arns, kwargs = [], {"familyPrefix": family, "status": "ACTIVE"}
    while True:
        page = call(module, client, "list_task_definitions", f"list the task definitions of {family}", **kwargs)
        arns.extend(page.get("taskDefinitionArns", []))
        if not page.get("nextToken"):
            return [arn for arn in arns if family_of(arn) == family]
        kwargs["nextToken"] = page["nextToken"]


def latest_active(module, client, family):
    """(definition, tags) of the latest ACTIVE revision of the family, (None, {}) when it has none."""
    definition, tags = describe(module, client, family)
    if definition is not None and definition.get("status") != "ACTIVE":
        # AWS describes the latest ACTIVE revision of a family; should it ever return another one
        # (moto returns the latest revision whatever its status), look the latest ACTIVE one up.
        arns = list_active(module, client, family)
        definition, tags = describe(module, client, max(arns, key=revision_of)) if arns else (None, {})
    return definition, tags


# --- the module -----------------------------------------------------------------------------------------------


def desired_from_base(module, base):
    images = module.params["container_images"]
    names = [c["name"] for c in base["containerDefinitions"]]
    unknown = [name for name in images if name not in names]
    if unknown:
        module.fail_json(
            msg=f"container_images: container {unknown[0]!r} is not a container of base_revision "
            f"{base['taskDefinitionArn']} (its containers: {', '.join(names)})"
        )
    desired = {key: copy.deepcopy(base[key]) for key in REGISTRABLE if key in base}
    for container in desired["containerDefinitions"]:
        if container["name"] in images:
            container["image"] = images[container["name"]]
    return desired


def definition_result(definition, tags):
    """A described (or would-be) revision as returned: snake_case but for container_definitions."""
    result = camel_dict_to_snake_dict(definition, ignore_list=["containerDefinitions"])
    for key, value in result.items():
        if hasattr(value, "isoformat"):
            result[key] = value.isoformat()
    result["tags"] = tags
    return result


def outputs(definition, tags, previous_arn):
    definition = definition or {}
    return {
        "task_definition": definition_result(definition, tags) if definition else {},
        "arn": definition.get("taskDefinitionArn"),
        "revision": definition.get("revision"),
        "previous_arn": previous_arn,
        "image": images_of(definition),
    }


def view(definition, tags):
    """What diff mode shows: the normalised registrable fields and the tags."""
    return {**normalize_definition(definition), "tags": tags} if definition else {}


def ensure_present(module, client):
    params = module.params
    family = params["family"]
    current, current_tags = latest_active(module, client, family)
    previous_arn = current["taskDefinitionArn"] if current else None

    if params["base_revision"]:
        base, base_tags = describe(module, client, params["base_revision"])
        if base is None:
            module.fail_json(msg=f"base_revision {params['base_revision']} not found")
        desired = desired_from_base(module, base)
    else:
        base_tags = current_tags
        desired = definition_from_options(params, current)

    if current is not None and normalize_definition(desired) == normalize_definition(current):
        what = f"task definition {previous_arn}"
        tags = sync_tags(module, client, previous_arn, current_tags, what)
        return (
            tags != current_tags,
            outputs(current, tags, previous_arn),
            view(current, current_tags),
            view(current, tags),
        )

    tags = desired_tags(base_tags, params["tags"], params["purge_tags"])
    registrable = {key: value for key, value in desired.items() if value is not None}
    if module.check_mode:
        result = {"family": family, "taskDefinitionArn": None, "revision": None, "status": "ACTIVE", **registrable}
    else:
        kwargs = {"family": family, **registrable}
        if tags:
            kwargs["tags"] = dict_to_tags(tags)
        response = call(module, client, "register_task_definition", f"register task definition {family}", **kwargs)
        result = response["taskDefinition"]
    return True, outputs(result, tags, previous_arn), view(current, current_tags), view(result, tags)


def deregister(module, client, arn):
    if not module.check_mode:
        return call(module, client, "deregister_task_definition", f"deregister {arn}", taskDefinition=arn)
    return None


def ensure_absent(module, client):
    family, arn = module.params["family"], module.params["arn"]
    if arn is None:
        arns = sorted(list_active(module, client, family), key=revision_of)
        for revision_arn in arns:
            deregister(module, client, revision_arn)
        previous_arn = arns[-1] if arns else None
        return bool(arns), dict(outputs(None, {}, previous_arn), deregistered=arns), {"active": arns}, {"active": []}

    definition, tags = describe(module, client, arn)
    if definition is None:
        return False, dict(outputs(None, {}, None), deregistered=[]), {}, {}
    if definition["family"] != family:
        module.fail_json(msg=f"arn {arn} is a revision of family {definition['family']}, not of {family}")
    status = definition["status"]
    deregistered = []
    if status == "ACTIVE":
        deregistered = [definition["taskDefinitionArn"]]
        response = deregister(module, client, deregistered[0])
        definition = response["taskDefinition"] if response else {**definition, "status": "INACTIVE"}
    result = dict(outputs(definition, tags, None), deregistered=deregistered)
    return bool(deregistered), result, {"status": status}, {"status": definition["status"]}


def main():
    argument_spec = {
        "family": {"type": "str", "required": True},
        "state": {"type": "str", "default": "present", "choices": ["present", "absent"]},
        "arn": {"type": "str"},
        "container_definitions": {"type": "list", "elements": "dict"},
        "cpu": {"type": "str"},
        "memory": {"type": "str"},
        "network_mode": {"type": "str", "default": "awsvpc", "choices": ["awsvpc", "bridge", "host", "none"]},
        "requires_compatibilities": {"type": "list", "elements": "str", "default": ["FARGATE"]},
        "execution_role_arn": {"type": "str"},
        "task_role_arn": {"type": "str"},
        "runtime_platform": {"type": "dict"},
        "ephemeral_storage": {"type": "int"},
        "volumes": {"type": "list", "elements": "dict"},
        "keep_deployed_image": {"type": "bool", "default": False},
        "base_revision": {"type": "str"},
        "container_images": {"type": "dict"},
        "tags": {"type": "dict", "aliases": ["resource_tags"]},
        "purge_tags": {"type": "bool", "default": True},
    }
    base_exclusive = ["container_definitions", "ephemeral_storage", "keep_deployed_image", *OPTION_FIELDS]
    module = AnsibleAWSModule(
        argument_spec=argument_spec,
        supports_check_mode=True,
        # Checked on the options given, before defaults are set.
        mutually_exclusive=[["base_revision", option] for option in base_exclusive],
        required_together=[["base_revision", "container_images"]],
        required_if=[["state", "present", ["container_definitions", "base_revision"], True]],
    )
    params = module.params
    if not FAMILY_RE.match(params["family"]):
        module.fail_json(
            msg=f"family must be 1 to 255 letters, digits, hyphens or underscores; got {params['family']!r}"
        )
    if params["state"] == "present" and params["arn"]:
        module.fail_json(msg="arn is only valid with state=absent; use base_revision to copy a revision")
    for index, container in enumerate(params["container_definitions"] or []):
        if not container.get("name") or not container.get("image"):
            module.fail_json(msg=f"container_definitions[{index}] needs a name and an image")

    client = module.client("ecs", retry_decorator=AWSRetry.jittered_backoff())
    ensure = ensure_present if params["state"] == "present" else ensure_absent
    changed, result, before, after = ensure(module, client)
    if module._diff:
        result["diff"] = {"before": before, "after": after}
    module.exit_json(changed=changed, **result)


if __name__ == "__main__":
    main()
