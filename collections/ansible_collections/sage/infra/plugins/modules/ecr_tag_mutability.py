#!/usr/bin/python


# Copyright: Contributors to the sage-infra project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: ecr_tag_mutability
version_added: 0.1.0
short_description: Set the tag mutability of an ECR repository, with tags excepted
description:
  - Set whether the tags of an existing Amazon ECR repository can be moved to another image, with the tags that
    are the exception (C(imageTagMutability) C(IMMUTABLE_WITH_EXCLUSION) or C(MUTABLE_WITH_EXCLUSION)).
  - This module exists because M(community.aws.ecs_ecr) offers only V(mutable) and V(immutable), so with it a
    repository whose release tags must never move could not keep a moving C(latest). Create the repository with
    M(community.aws.ecs_ecr), then set the exceptions with this module.
  - Makes one C(DescribeRepositories) call, then one C(PutImageTagMutability) call only when the mutability or the
    exceptions differ.
author:
  - sage-infra developers (!UNKNOWN)
options:
  repository_name:
    description:
      - Name of the repository. It must exist (in check mode a missing one counts as a change).
    type: str
    required: true
  image_tag_mutability:
    description:
      - V(IMMUTABLE) or V(MUTABLE) for every tag.
      - V(IMMUTABLE_WITH_EXCLUSION) makes every tag immutable but those that O(exclusion_filters) match;
        V(MUTABLE_WITH_EXCLUSION) every tag mutable but those.
    type: str
    required: true
    choices: [IMMUTABLE, MUTABLE, IMMUTABLE_WITH_EXCLUSION, MUTABLE_WITH_EXCLUSION]
  exclusion_filters:
    description:
      - The tags that are the exception, as wildcard patterns (V(latest), V(dev-*)); at most 5.
      - Required, and only allowed, with a C(*_WITH_EXCLUSION) mutability. Compared as a set.
    type: list
    elements: str
    default: []
notes:
  - In check mode nothing is changed; C(changed) tells whether the mutability would be changed.
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Release tags never move; latest does
  sage.infra.ecr_tag_mutability:
    repository_name: sage-backend
    image_tag_mutability: IMMUTABLE_WITH_EXCLUSION
    exclusion_filters: [latest]
"""

RETURN = r"""
image_tag_mutability:
  description: The repository's tag mutability after the run (in check mode, the one it would have).
  type: str
  returned: always
  sample: IMMUTABLE_WITH_EXCLUSION
exclusion_filters:
  description: The tags excepted after the run, sorted.
  type: list
  elements: str
  returned: always
  sample: [latest]
"""

try:
    import botocore
except ImportError:
    pass  # caught by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.sage.infra.plugins.module_utils.one_setting import exit_with_setting
from ansible_collections.sage.infra.plugins.module_utils.stack_ecr import exclusion_filters, mutability_view


def check_params(module):
    mutability, filters = module.params["image_tag_mutability"], module.params["exclusion_filters"]
    with_exclusion = mutability.endswith("_WITH_EXCLUSION")
    if with_exclusion and not filters:
        module.fail_json(msg=f"exclusion_filters must name at least one tag with image_tag_mutability={mutability}")
    if not with_exclusion and filters:
        module.fail_json(msg=f"exclusion_filters is only allowed with a *_WITH_EXCLUSION mutability, not {mutability}")
    if len(filters) > 5:
        module.fail_json(msg=f"exclusion_filters may hold at most 5 patterns; got {len(filters)}")


def main():
    argument_spec = {
        "repository_name": {"type": "str", "required": True},
        "image_tag_mutability": {
            "type": "str",
            "required": True,
            "choices": ["IMMUTABLE", "MUTABLE", "IMMUTABLE_WITH_EXCLUSION", "MUTABLE_WITH_EXCLUSION"],
        },
        "exclusion_filters": {"type": "list", "elements": "str", "default": []},
    }
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    check_params(module)
    name = module.params["repository_name"]
    desired = mutability_view(
        module.params["image_tag_mutability"], exclusion_filters(module.params["exclusion_filters"])
    )

    client = module.client("ecr", retry_decorator=AWSRetry.jittered_backoff())
    try:
        repository = client.describe_repositories(aws_retry=True, repositoryNames=[name])["repositories"][0]
        before = mutability_view(
            repository.get("imageTagMutability"), repository.get("imageTagMutabilityExclusionFilters")
        )
    except is_boto3_error_code("RepositoryNotFoundException"):
        if not module.check_mode:
            module.fail_json(msg=f"ECR repository {name} does not exist: create it first (community.aws.ecs_ecr)")
        before = {}
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:  # pylint: disable=duplicate-except
        module.fail_json_aws(e, msg=f"Failed to describe ECR repository {name}")

    request = {"repositoryName": name, "imageTagMutability": desired["image_tag_mutability"]}
    if desired["exclusion_filters"]:
        request["imageTagMutabilityExclusionFilters"] = [
            {"filterType": "WILDCARD", "filter": tag} for tag in desired["exclusion_filters"]
        ]
    exit_with_setting(
        module,
        before,
        desired,
        lambda: client.put_image_tag_mutability(aws_retry=True, **request),
        f"the tag mutability of ECR repository {name}",
    )


if __name__ == "__main__":
    main()
