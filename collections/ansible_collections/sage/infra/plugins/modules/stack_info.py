#!/usr/bin/python


# Copyright: Contributors to the sage-infra project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: stack_info
version_added: 0.1.0
short_description: Read every resource of the stack in one run, concurrently, without changing anything
description:
  - Reads the current state of the resources named in O(resources), all services at once (one boto3 client per
    service, one thread per kind, and per resource where a kind needs a call per resource), and returns each one
    normalised the way the stack's comparisons (C(sage.infra.stack_plan)) expect it.
  - About one API call per resource on a converged stack; it never writes.
  - A resource that does not exist is returned as V(null). A kind whose read failed (access denied, an API
    the endpoint does not offer) is left out of RV(stack) and named in RV(errors); the roles then leave those
    resources to their modules, which decide for themselves.
author:
  - sage-infra developers (!UNKNOWN)
options:
  resources:
    description:
      - What to read, by kind. Each kind takes a list of names, except V(network), which takes a dict
        (C(vpc_name), C(vpc_cidr), C(igw_name), C(eip_name_prefix)) and reads the VPC found by that name and CIDR
        with its subnets, internet gateway, NAT gateways and their Elastic IPs, route tables, security groups,
        endpoints and flow logs.
      - "Kinds (one file each in C(module_utils/stack_<service>.py)): V(network); V(log_group); V(iam_role) (with
        its inline policies); V(secret) (never its value); V(s3_bucket), V(s3_lifecycle_rule)
        (C(<bucket>/<rule id>)), V(s3_bucket_logging); V(db_subnet_group), V(db_parameter_group) (the parameters
        set by a user), V(db_instance); V(cache_subnet_group), V(cache_parameter_group), V(replication_group);
        V(ecr_repository); V(target_group), V(load_balancer) (with its listeners and attributes); V(ecs_cluster),
        V(task_definition) (the family's latest active revision), V(ecs_service) (C(<cluster>/<service>)),
        V(scaling_policy) (C(service/<cluster>/<service>/<policy>)); V(sqs_queue); V(lambda_function),
        V(lambda_policy) (C(<function>/<statement id>)); V(sns_topic) (with its subscriptions); V(alarm);
        V(dashboard); V(kms_key) (by its alias, with its policy and rotation); V(secret_policy) (a secret's
        resource policy); V(account) (any name; the account and partition of the caller, one
        C(GetCallerIdentity))."
      - A kind given an empty list is read as empty (nothing to compare), not left out.
    type: dict
    required: true
notes:
  - Check mode changes nothing, as no run does.
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Read the stack once
  sage.infra.stack_info:
    resources:
      log_group: [/ecs/sage-backend, /aws/vpc/sage-flow-logs]
      iam_role: [sage-backend-execution]
  register: stack_read

- name: Compare the log group with what it should be
  ansible.builtin.debug:
    msg: >-
      {{ {'retention': 14, 'tags': {}}
         | sage.infra.stack_plan('log_group', '/ecs/sage-backend', stack_read.stack) }}
"""

RETURN = r"""
stack:
  description:
    - The resources as read, by kind then name; V(null) for a resource that does not exist.
    - V(network) holds the lists that the amazon.aws C(*_info) modules return (C(vpcs), C(subnets),
      C(internet_gateways), C(nat_gateways), C(addresses), C(route_tables), C(security_groups), C(vpc_endpoints),
      C(flow_logs)), in their shapes.
  type: dict
  returned: always
  sample: {"log_group": {"/ecs/sage-backend": {"retention": 14, "tags": {"Project": "sage"}}}}
errors:
  description: The kinds that could not be read, with the reason; they are not in RV(stack).
  type: dict
  returned: always
  sample: {"iam_role": "AccessDenied: not authorized to perform iam:GetRole"}
"""

from concurrent.futures import ThreadPoolExecutor

try:
    import boto3
    import botocore
    import botocore.config
    import botocore.parsers
except ImportError:
    pass  # caught by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.botocore import get_aws_connection_info
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.sage.infra.plugins.module_utils.stack_services import READERS


def read_stack(client_for, resources):
    """({kind: read}, {kind: error}): every kind asked for, concurrently. client_for(service) gives a client."""
    unknown = sorted(set(resources) - set(READERS))
    if unknown:
        raise ValueError(f"resources: unknown kinds {', '.join(unknown)}; known: {', '.join(sorted(READERS))}")
    clients = {service: client_for(service) for service in sorted({READERS[kind][0] for kind in resources})}

    def read(kind):
        service, reader = READERS[kind]
        try:
            return kind, reader(clients[service], resources[kind]), None
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as error:
            return kind, None, f"{type(error).__name__}: {error}"
        except botocore.parsers.ResponseParserError as error:  # not a BotoCoreError: an answer that is not AWS's
            return kind, None, f"{type(error).__name__}: {error}"

    stack, errors = {}, {}
    with ThreadPoolExecutor(max_workers=max(1, len(resources))) as pool:
        for kind, read_kind, error in pool.map(read, sorted(resources)):
            if error:
                errors[kind] = error
            else:
                stack[kind] = read_kind
    return stack, errors


def one_session_clients(module):
    """client_for(service) with the module's connection settings, every client from one boto3 session.

    module.client starts a session per client, and each session loads botocore's endpoint rules and service list
    again (about 0.1 s per client, a dozen clients here); one session loads them once."""
    region, endpoint_url, params = get_aws_connection_info(module)
    session = boto3.session.Session(profile_name=params.pop("profile_name", None))
    config = botocore.config.Config(user_agent_extra="sage.infra.stack_info")
    if params.get("aws_config"):
        config = config.merge(params["aws_config"])
    params.pop("aws_config", None)

    def client_for(service):
        return session.client(service, config=config, region_name=region, endpoint_url=endpoint_url, **params)

    return client_for


def main():
    module = AnsibleAWSModule(argument_spec={"resources": {"type": "dict", "required": True}}, supports_check_mode=True)
    try:
        stack, errors = read_stack(one_session_clients(module), module.params["resources"])
    except ValueError as error:
        module.fail_json(msg=str(error))
    module.exit_json(changed=False, stack=stack, errors=errors)


if __name__ == "__main__":
    main()
