# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests for sage.infra.ecr_image_info, run against moto in-process."""

import json

import boto3
import botocore.client
import pytest
from ansible_collections.sage.infra.plugins.modules import ecr_image_info as mod
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID

REGION = "us-west-2"
REPO = "sage-backend"
URI = f"{DEFAULT_ACCOUNT_ID}.dkr.ecr.{REGION}.amazonaws.com/{REPO}"


def manifest(seed):
    """A docker v2 image manifest, distinct for each seed."""
    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "size": 7023,
                "digest": "sha256:" + seed * 64,
            },
            "layers": [
                {
                    "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                    "size": 32654,
                    "digest": "sha256:" + "f" * 64,
                }
            ],
        }
    )


@pytest.fixture(autouse=True)
def aws(monkeypatch, fake_aws_credentials):
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        client = boto3.client("ecr", region_name=REGION)
        client.create_repository(repositoryName=REPO)
        yield client


def push(client, tag, seed="a"):
    return client.put_image(repositoryName=REPO, imageManifest=manifest(seed), imageTag=tag)["image"]["imageId"]


@pytest.fixture
def run(module_runner):
    return module_runner(mod.main, expect={"changed": False}, repository_name=REPO, region=REGION)


def test_missing_message():
    assert mod.missing_message("r", ["abc123"], []) == "image tag 'abc123' not found in ECR repository 'r'"
    assert mod.missing_message("r", ["a", "b"], []) == "image tags 'a', 'b' not found in ECR repository 'r'"
    assert (
        mod.missing_message("r", ["a"], ["sha256:1", "sha256:2"])
        == "image tag 'a' and image digests 'sha256:1', 'sha256:2' not found in ECR repository 'r'"
    )


def test_image_view_without_tags():
    assert mod.image_view({"imageDigest": "sha256:1", "imageSizeInBytes": 5}) == {
        "image_digest": "sha256:1",
        "image_tags": [],
        "image_pushed_at": None,
        "image_size_in_bytes": 5,
    }


def test_found_by_tag_with_two_calls(run, aws, calls):
    image_id = push(aws, "abc123")
    push(aws, "other", seed="b")
    calls.clear()
    result = run(image_tags=["abc123"])
    assert calls == ["DescribeRepositories", "DescribeImages"]
    assert result["missing"] == []
    assert result["repository_uri"] == URI
    assert len(result["images"]) == 1
    image = result["images"][0]
    assert image["image_digest"] == image_id["imageDigest"]
    assert image["image_tags"] == ["abc123"]
    assert image["image_size_in_bytes"] > 0
    assert image["image_pushed_at"].startswith("20")


def test_same_image_by_tags_and_digest_is_listed_once(run, aws):
    image_id = push(aws, "abc123")
    push(aws, "latest")  # same manifest: a second tag of the same image
    result = run(image_tags=["abc123", "latest"], image_digests=[image_id["imageDigest"]])
    assert result["missing"] == []
    assert len(result["images"]) == 1
    assert sorted(result["images"][0]["image_tags"]) == ["abc123", "latest"]


def test_missing_tag_fails_clearly(run, aws, calls):
    push(aws, "abc123")
    result = run.failure(image_tags=["abc123", "def456"])
    assert result["msg"] == f"image tag 'def456' not found in ECR repository '{REPO}'"
    assert result["missing"] == ["def456"]
    assert len(result["images"]) == 1
    assert result["repository_uri"] == URI


def test_missing_tags_and_digest_fail_clearly(run, aws):
    digest = "sha256:" + "0" * 64
    result = run.failure(image_tags=["a", "b"], image_digests=[digest])
    assert result["msg"] == f"image tags 'a', 'b' and image digest '{digest}' not found in ECR repository '{REPO}'"
    assert result["missing"] == ["a", "b", digest]


def test_missing_without_failing(run, aws):
    push(aws, "abc123")
    result = run(image_tags=["def456", "abc123"], fail_on_missing=False)
    assert result["missing"] == ["def456"]
    assert [i["image_tags"] for i in result["images"]] == [["abc123"]]


def test_missing_repository(run, calls):
    msg = run.fail(repository_name="nope", image_tags=["abc123"])
    assert msg == "ECR repository 'nope' not found"
    assert calls == ["DescribeRepositories"]

    msg = run.fail(repository_name=REPO, registry_id="999999999999", image_tags=["abc123"])
    assert msg == f"ECR repository '{REPO}' not found in registry 999999999999"

    result = run(repository_name="nope", image_tags=["abc123"], image_digests=["sha256:1"], fail_on_missing=False)
    assert result == {"changed": False, "images": [], "missing": ["abc123", "sha256:1"], "repository_uri": None}


def test_registry_id_and_check_mode(run, aws, calls):
    push(aws, "abc123")
    result = run(image_tags=["abc123"], registry_id=DEFAULT_ACCOUNT_ID, check_mode=True)
    assert result["missing"] == []
    assert result["repository_uri"] == URI


def test_tags_or_digests_required(run, calls):
    msg = run.fail()
    assert "image_tags" in msg
    assert "image_digests" in msg
    assert calls == []


def test_access_denied_fails_clearly(run, monkeypatch):
    def denied(self, operation_name, api_params):
        error = {"Error": {"Code": "AccessDeniedException", "Message": "not authorized"}}
        raise ClientError(error, operation_name)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", denied)
    msg = run.fail(image_tags=["abc123"])
    assert msg.startswith(f"Failed to describe ECR repository '{REPO}': ")
    assert "AccessDeniedException" in msg


def test_describe_images_error_fails_clearly(run, monkeypatch):
    original = botocore.client.BaseClient._make_api_call

    def denied_images(self, operation_name, api_params):
        if operation_name == "DescribeImages":
            raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, operation_name)
        return original(self, operation_name, api_params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", denied_images)
    msg = run.fail(image_tags=["abc123"])
    assert msg.startswith(f"Failed to describe image {{'imageTag': 'abc123'}} in ECR repository '{REPO}': ")
