# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ECR repositories as read and compared: tag mutability, scan on push, encryption, the lifecycle policy (by
meaning), and the image tags a role checks its image against."""

import json

import boto3
import pytest
from ansible_collections.sage.infra.plugins.module_utils.stack import plan_entry
from ansible_collections.sage.infra.plugins.module_utils.stack_ecr import read_repositories
from moto import mock_aws

REGION = "us-west-2"
LIFECYCLE = {
    "rules": [
        {
            "rulePriority": 1,
            "description": "Keep the newest 20 images",
            "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 20},
            "action": {"type": "expire"},
        }
    ]
}
DESIRED = {
    "image_tag_mutability": "IMMUTABLE_WITH_EXCLUSION",
    "image_tag_mutability_exclusion_filters": ["latest"],
    "scan_on_push": True,
    "encryption": {"type": "AES256"},
    "lifecycle_policy": LIFECYCLE,
}


def view(**changes):
    return {
        "arn": "arn:aws:ecr:us-west-2:123456789012:repository/sage-backend",
        "uri": "123456789012.dkr.ecr.us-west-2.amazonaws.com/sage-backend",
        "image_tags": ["latest"],
        **DESIRED,
        **changes,
    }


def entry(desired, current):
    return plan_entry("ecr_repository", "sage-backend", desired, {"ecr_repository": {"sage-backend": current}})


def test_in_sync_whatever_the_form_of_the_lifecycle_policy():
    assert entry(DESIRED, view())["action"] == "unchanged"
    assert entry(dict(DESIRED, lifecycle_policy=json.dumps(LIFECYCLE)), view())["action"] == "unchanged"


@pytest.mark.parametrize(
    ("attribute", "current"),
    [
        ("scan_on_push", False),
        ("image_tag_mutability", "IMMUTABLE"),
        ("image_tag_mutability_exclusion_filters", []),
        ("encryption", {"type": "KMS", "kms_key": "arn:aws:kms:us-west-2:123456789012:key/1"}),
        ("lifecycle_policy", None),
        ("lifecycle_policy", {"rules": [dict(LIFECYCLE["rules"][0], selection={"countNumber": 5})]}),
        ("lifecycle_policy", "not json"),
    ],
)
def test_each_attribute_that_drifts_is_named(attribute, current):
    result = entry(DESIRED, view(**{attribute: current}))
    assert result["action"] == "update"
    assert [change["attribute"] for change in result["changes"]] == [attribute]


def test_a_missing_repository_is_created_with_every_setting():
    result = entry(DESIRED, None)
    assert result["action"] == "create"
    assert [change["attribute"] for change in result["changes"]] == list(DESIRED)


@pytest.fixture
def ecr(monkeypatch, fake_aws_credentials):
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        yield boto3.client("ecr", region_name=REGION)


def push(ecr, tag):
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"digest": f"sha256:{tag:0>64}"},
        "layers": [],
    }
    ecr.put_image(repositoryName="sage-backend", imageManifest=json.dumps(manifest), imageTag=tag)


def test_the_reader_against_moto(ecr, calls):
    ecr.create_repository(
        repositoryName="sage-backend",
        imageScanningConfiguration={"scanOnPush": True},
        imageTagMutability="IMMUTABLE_WITH_EXCLUSION",
        imageTagMutabilityExclusionFilters=[{"filterType": "WILDCARD", "filter": "latest"}],
    )
    ecr.put_lifecycle_policy(repositoryName="sage-backend", lifecyclePolicyText=json.dumps(LIFECYCLE))
    push(ecr, "abc")
    ecr.create_repository(repositoryName="bare")
    calls.clear()
    read = read_repositories(ecr, ["sage-backend", "bare", "missing"])
    assert read["missing"] is None
    assert entry(DESIRED, read["sage-backend"])["action"] == "unchanged"
    assert read["sage-backend"]["image_tags"] == ["abc"]
    assert read["sage-backend"]["uri"].endswith("/sage-backend")
    assert read["bare"]["lifecycle_policy"] is None and read["bare"]["scan_on_push"] is False
    assert [change["attribute"] for change in entry(DESIRED, read["bare"])["changes"]] == [
        "image_tag_mutability",
        "image_tag_mutability_exclusion_filters",
        "scan_on_push",
        "lifecycle_policy",
    ]
    # Three calls a repository, one for a missing one; nothing written.
    assert sorted(calls) == sorted(
        ["DescribeRepositories", "GetLifecyclePolicy", "ListImages"] * 2 + ["DescribeRepositories"]
    )
