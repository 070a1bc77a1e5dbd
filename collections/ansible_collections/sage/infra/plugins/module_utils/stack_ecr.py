# Copyright: Contributors to the sage-infra project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ECR repositories, as community.aws.ecs_ecr manages them: tag mutability (with the tags excepted, which
sage.infra.ecr_tag_mutability sets), scan on push, encryption (set at creation only: a difference is shown, the
module cannot change it) and the lifecycle policy (a document compared by meaning). The view also lists the
repository's image tags, so that a role can tell whether an image is there without a module run of its own."""

from __future__ import annotations

import json

from ansible_collections.sage.infra.plugins.module_utils.stack import Kind, canonical, fan_out, register


def _lifecycle_form(policy):
    """A lifecycle policy (JSON text or dict) in a form where equivalent ones are equal; text that is not
    JSON stays as it is (it then differs from any policy)."""
    if isinstance(policy, str):
        try:
            policy = json.loads(policy)
        except ValueError:
            return policy
    return canonical(policy)


register(
    Kind(
        "ecr_repository",
        compare={"lifecycle_policy": lambda desired, current: _lifecycle_form(desired) == _lifecycle_form(current)},
    )
)


def exclusion_filters(filters):
    """The excepted tags, sorted: from imageTagMutabilityExclusionFilters ({filterType, filter}) or plain patterns."""
    return sorted(item["filter"] if isinstance(item, dict) else item for item in filters or [])


def mutability_view(mutability, filters):
    return {"image_tag_mutability": mutability, "exclusion_filters": exclusion_filters(filters)}


def encryption_view(configuration):
    """{type, kms_key} of an encryptionConfiguration; kms_key only for KMS."""
    configuration = configuration or {}
    view = {"type": configuration.get("encryptionType", "AES256")}
    if view["type"] != "AES256":
        view["kms_key"] = configuration.get("kmsKey")
    return view


def read_repositories(client, names):
    """{name: view or None}: DescribeRepositories, GetLifecyclePolicy and ListImages (tagged) per repository."""

    def read(name):
        try:
            repository = client.describe_repositories(repositoryNames=[name])["repositories"][0]
        except client.exceptions.RepositoryNotFoundException:
            return None
        try:
            lifecycle = json.loads(client.get_lifecycle_policy(repositoryName=name)["lifecyclePolicyText"])
        except client.exceptions.LifecyclePolicyNotFoundException:
            lifecycle = None
        tags = [
            image["imageTag"]
            for page in client.get_paginator("list_images").paginate(
                repositoryName=name, filter={"tagStatus": "TAGGED"}
            )
            for image in page["imageIds"]
            if image.get("imageTag")
        ]
        return {
            "arn": repository["repositoryArn"],
            "uri": repository["repositoryUri"],
            "image_tag_mutability": repository.get("imageTagMutability"),
            "image_tag_mutability_exclusion_filters": exclusion_filters(
                repository.get("imageTagMutabilityExclusionFilters")
            ),
            "scan_on_push": bool((repository.get("imageScanningConfiguration") or {}).get("scanOnPush")),
            "encryption": encryption_view(repository.get("encryptionConfiguration")),
            "lifecycle_policy": lifecycle,
            "image_tags": sorted(set(tags)),
        }

    return fan_out(read, names)


READERS = {"ecr_repository": ("ecr", read_repositories)}
