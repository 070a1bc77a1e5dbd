# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests for sage.infra.ecr_tag_mutability, run against moto in-process (which stores the exclusion filters
and enforces them on PutImage, as AWS does)."""

import json

import boto3
import pytest
from ansible_collections.sage.infra.plugins.modules import ecr_tag_mutability as mod
from botocore.exceptions import ClientError
from moto import mock_aws

REGION = "us-east-1"
NAME = "sage-backend"
MANIFEST = {"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json"}


@pytest.fixture(autouse=True)
def aws(monkeypatch, fake_aws_credentials):
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        client = boto3.client("ecr", region_name=REGION)
        client.create_repository(repositoryName=NAME, imageTagMutability="MUTABLE")
        yield client


@pytest.fixture
def run(module_runner):
    return module_runner(mod.main, repository_name=NAME, region=REGION)


def push(client, tag, layer):
    manifest = dict(MANIFEST, layers=[{"digest": f"sha256:{layer * 64}"}])
    client.put_image(repositoryName=NAME, imageManifest=json.dumps(manifest), imageTag=tag)


def test_immutable_with_latest_excepted_then_noop(run, aws, calls):
    result = run(image_tag_mutability="IMMUTABLE_WITH_EXCLUSION", exclusion_filters=["latest"], diff=True)
    assert result["changed"] is True
    assert (result["image_tag_mutability"], result["exclusion_filters"]) == ("IMMUTABLE_WITH_EXCLUSION", ["latest"])
    assert result["diff"]["before"] == {"image_tag_mutability": "MUTABLE", "exclusion_filters": []}
    assert calls == ["DescribeRepositories", "PutImageTagMutability"]
    (repository,) = aws.describe_repositories(repositoryNames=[NAME])["repositories"]
    assert repository["imageTagMutability"] == "IMMUTABLE_WITH_EXCLUSION"
    assert repository["imageTagMutabilityExclusionFilters"] == [{"filterType": "WILDCARD", "filter": "latest"}]

    calls.clear()
    assert run(image_tag_mutability="IMMUTABLE_WITH_EXCLUSION", exclusion_filters=["latest"])["changed"] is False
    assert calls == ["DescribeRepositories"]


def test_a_sha_tag_cannot_move_and_latest_can(run, aws):
    run(image_tag_mutability="IMMUTABLE_WITH_EXCLUSION", exclusion_filters=["latest"])
    push(aws, "abc123", "a")
    push(aws, "latest", "a")
    push(aws, "latest", "b")
    with pytest.raises(ClientError, match="already exists"):  # moto words it ImageAlreadyExistsException
        push(aws, "abc123", "b")


def test_check_mode_changes_nothing(run, aws):
    result = run(image_tag_mutability="IMMUTABLE", check_mode=True)
    assert result["changed"] is True
    assert aws.describe_repositories(repositoryNames=[NAME])["repositories"][0]["imageTagMutability"] == "MUTABLE"


def test_a_missing_repository_fails_clearly_and_counts_as_a_change_in_check_mode(run):
    assert "sage-other does not exist" in run.fail(repository_name="sage-other", image_tag_mutability="IMMUTABLE")
    assert run(repository_name="sage-other", image_tag_mutability="IMMUTABLE", check_mode=True)["changed"] is True


@pytest.mark.parametrize(
    ("mutability", "filters", "message"),
    [
        ("IMMUTABLE_WITH_EXCLUSION", [], "exclusion_filters must name at least one tag"),
        ("IMMUTABLE", ["latest"], "exclusion_filters is only allowed with a *_WITH_EXCLUSION mutability"),
        ("IMMUTABLE_WITH_EXCLUSION", [f"t{i}" for i in range(6)], "at most 5 patterns"),
    ],
)
def test_bad_filters_are_refused_before_any_call(run, calls, mutability, filters, message):
    assert message in run.fail(image_tag_mutability=mutability, exclusion_filters=filters)
    assert calls == []
