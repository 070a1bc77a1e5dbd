#!/usr/bin/python


# Copyright: Contributors to the sage-infra project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: ecr_image_info
version_added: 0.1.0
short_description: Look up images of an ECR repository by tag or digest, failing clearly when one is missing
description:
  - Describe the images of an Amazon ECR repository given by tag and/or digest, for example to verify that
    the image a deploy is about to use has been pushed.
  - By default the module fails, naming the repository and the missing tags or digests, when an image is not
    found or when the repository does not exist.
  - Makes one C(DescribeRepositories) call, then one C(DescribeImages) call per tag and per digest.
author:
  - sage-infra developers (!UNKNOWN)
options:
  repository_name:
    description:
      - Name of the repository, for example V(sage-backend).
    type: str
    required: true
  image_tags:
    description:
      - Tags of the images to look up.
      - At least one of O(image_tags) and O(image_digests) is required.
    type: list
    elements: str
  image_digests:
    description:
      - Digests of the images to look up, for example V(sha256:0123...).
    type: list
    elements: str
  registry_id:
    description:
      - AWS account ID of the registry. The account of the credentials when not set.
    type: str
  fail_on_missing:
    description:
      - Whether to fail when an image or the repository is not found.
      - When V(false), RV(missing) lists what was not found, and a missing repository gives an empty RV(images)
        and a V(null) RV(repository_uri).
    type: bool
    default: true
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Verify the image to deploy has been pushed
  sage.infra.ecr_image_info:
    repository_name: sage-backend
    image_tags:
      - "{{ git_sha }}"
  register: ecr_image

- name: Deploy it
  sage.infra.ecs_task_definition:
    family: sage-backend
    base_revision: sage-backend
    container_images:
      app: "{{ ecr_image.repository_uri }}:{{ git_sha }}"

- name: Check for images without failing
  sage.infra.ecr_image_info:
    repository_name: sage-backend
    image_tags: [latest, stable]
    fail_on_missing: false
  register: found

- name: Report a missing tag
  ansible.builtin.debug:
    msg: "Not pushed yet: {{ found.missing | join(', ') }}"
  when: found.missing | length > 0
"""

RETURN = r"""
images:
  description: The images found, once each even when several of the given tags or digests name it.
  type: list
  elements: dict
  returned: always
  contains:
    image_digest:
      description: Digest of the image manifest.
      type: str
      sample: "sha256:794d2c98690bbe5aa18b73e7279c1553d7f80d4d2505bfbe8a5b111eb51f27bf"
    image_tags:
      description: All the tags of the image.
      type: list
      elements: str
      sample: ["abc123", "latest"]
    image_pushed_at:
      description: When the image was pushed, in ISO 8601 format.
      type: str
      sample: "2025-01-31T12:00:00+00:00"
    image_size_in_bytes:
      description: Size of the image.
      type: int
      sample: 52428800
missing:
  description: The given tags and digests that were not found, in the order given.
  type: list
  elements: str
  returned: always
  sample: ["abc123"]
repository_uri:
  description: URI of the repository, V(null) when it does not exist.
  type: str
  returned: always
  sample: "123456789012.dkr.ecr.us-west-2.amazonaws.com/sage-backend"
"""

try:
    import botocore
except ImportError:
    pass  # caught by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry


def describe_repository(module, client, registry):
    name = module.params["repository_name"]
    try:
        response = client.describe_repositories(aws_retry=True, repositoryNames=[name], **registry)
    except is_boto3_error_code("RepositoryNotFoundException"):
        return None
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:  # pylint: disable=duplicate-except
        module.fail_json_aws(e, msg=f"Failed to describe ECR repository '{name}'")
    repositories = response.get("repositories") or []
    return repositories[0] if repositories else None


def describe_image(module, client, registry, image_id):
    """The details of the image, None when the repository has no such image."""
    name = module.params["repository_name"]
    try:
        response = client.describe_images(aws_retry=True, repositoryName=name, imageIds=[image_id], **registry)
    except is_boto3_error_code("ImageNotFoundException"):
        return None
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:  # pylint: disable=duplicate-except
        module.fail_json_aws(e, msg=f"Failed to describe image {image_id} in ECR repository '{name}'")
    details = response.get("imageDetails") or []
    return details[0] if details else None


def image_view(details):
    pushed_at = details.get("imagePushedAt")
    return {
        "image_digest": details.get("imageDigest"),
        "image_tags": details.get("imageTags", []),
        "image_pushed_at": pushed_at.isoformat() if pushed_at else None,
        "image_size_in_bytes": details.get("imageSizeInBytes"),
    }


def quoted(kind, values):
    """``image tag 'a'`` or ``image tags 'a', 'b'``."""
    names = ", ".join(f"'{value}'" for value in values)
    return f"image {kind}{'s' if len(values) > 1 else ''} {names}"


def missing_message(name, tags, digests):
    parts = [quoted(kind, values) for kind, values in (("tag", tags), ("digest", digests)) if values]
    return f"{' and '.join(parts)} not found in ECR repository '{name}'"


def main():
    argument_spec = {
        "repository_name": {"type": "str", "required": True},
        "image_tags": {"type": "list", "elements": "str"},
        "image_digests": {"type": "list", "elements": "str"},
        "registry_id": {"type": "str"},
        "fail_on_missing": {"type": "bool", "default": True},
    }
    module = AnsibleAWSModule(
        argument_spec=argument_spec,
        supports_check_mode=True,
        required_one_of=[["image_tags", "image_digests"]],
    )
    params = module.params
    name, tags, digests = params["repository_name"], params["image_tags"] or [], params["image_digests"] or []
    registry = {"registryId": params["registry_id"]} if params["registry_id"] else {}
    client = module.client("ecr", retry_decorator=AWSRetry.jittered_backoff())

    repository = describe_repository(module, client, registry)
    if repository is None:
        if params["fail_on_missing"]:
            where = f" in registry {params['registry_id']}" if params["registry_id"] else ""
            module.fail_json(msg=f"ECR repository '{name}' not found{where}")
        module.exit_json(changed=False, images=[], missing=[*tags, *digests], repository_uri=None)

    images, missing_tags, missing_digests = {}, [], []
    for key, values, missing in (("imageTag", tags, missing_tags), ("imageDigest", digests, missing_digests)):
        for value in values:
            details = describe_image(module, client, registry, {key: value})
            if details is None:
                missing.append(value)
            else:
                images.setdefault(details["imageDigest"], image_view(details))

    result = {
        "changed": False,
        "images": list(images.values()),
        "missing": missing_tags + missing_digests,
        "repository_uri": repository.get("repositoryUri"),
    }
    if result["missing"] and params["fail_on_missing"]:
        module.fail_json(msg=missing_message(name, missing_tags, missing_digests), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
