# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""S3 buckets and their lifecycle rules as read and compared: each setting amazon.aws.s3_bucket is given, one call
per setting; a rule by its ID, whole, as community.aws.s3_lifecycle compares it."""

import json

import boto3
import pytest
from ansible_collections.sage.infra.plugins.module_utils.stack import plan_entry
from ansible_collections.sage.infra.plugins.module_utils.stack_s3 import read_buckets, read_lifecycle_rules, rule_view
from moto import mock_aws

REGION = "us-west-2"
BUCKET = "sage-backups"
POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [f"arn:aws:s3:::{BUCKET}", f"arn:aws:s3:::{BUCKET}/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }
    ],
}
BLOCKED = {
    "block_public_acls": True,
    "ignore_public_acls": True,
    "block_public_policy": True,
    "restrict_public_buckets": True,
}
DESIRED = {
    "public_access": BLOCKED,
    "object_ownership": "BucketOwnerEnforced",
    "encryption": "AES256",
    "versioning": True,
    "policy": POLICY,
    "tags": {"Project": "sage"},
}
RULES = {
    "abort-incomplete-uploads": {"prefix": "", "status": "Enabled", "abort_incomplete_multipart_upload_days": 1},
    "expire-noncurrent-backups": {
        "prefix": "postgres/",
        "status": "Enabled",
        "noncurrent_version_expiration_days": 30,
        "expire_object_delete_marker": True,
    },
}
STORED_RULES = [
    {
        "ID": "abort-incomplete-uploads",
        "Filter": {"Prefix": ""},
        "Status": "Enabled",
        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
    },
    {
        "ID": "expire-noncurrent-backups",
        "Filter": {"Prefix": "postgres/"},
        "Status": "Enabled",
        "Expiration": {"ExpiredObjectDeleteMarker": True},
        "NoncurrentVersionExpiration": {"NoncurrentDays": 30},
    },
]


@pytest.fixture
def s3(monkeypatch, fake_aws_credentials):
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        yield boto3.client("s3", region_name=REGION)


def make_bucket(s3):
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_public_access_block(
        Bucket=BUCKET,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    s3.put_bucket_ownership_controls(
        Bucket=BUCKET, OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    )
    s3.put_bucket_encryption(
        Bucket=BUCKET,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
        },
    )
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    # The same policy as another tool writes it: single values, other key order.
    s3.put_bucket_policy(Bucket=BUCKET, Policy=json.dumps({**POLICY, "Statement": POLICY["Statement"][0]}))
    s3.put_bucket_tagging(Bucket=BUCKET, Tagging={"TagSet": [{"Key": "Project", "Value": "sage"}]})
    s3.put_bucket_lifecycle_configuration(Bucket=BUCKET, LifecycleConfiguration={"Rules": STORED_RULES})


def bucket_entry(s3, *desired):
    return plan_entry(
        "s3_bucket", BUCKET, desired[0] if desired else DESIRED, {"s3_bucket": read_buckets(s3, [BUCKET])}
    )


def test_a_bucket_as_the_role_makes_it_is_in_sync(s3):
    make_bucket(s3)
    assert bucket_entry(s3)["action"] == "unchanged"


def test_a_missing_bucket_is_created_and_its_rules_too(s3):
    assert bucket_entry(s3)["action"] == "create"
    names = [f"{BUCKET}/{rule_id}" for rule_id in RULES]
    read = {"s3_lifecycle_rule": read_lifecycle_rules(s3, names)}
    assert [plan_entry("s3_lifecycle_rule", n, RULES[n.split("/")[1]], read)["action"] for n in names] == [
        "create",
        "create",
    ]


@pytest.mark.parametrize(
    ("drift", "attribute"),
    [
        (
            lambda s3: s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Suspended"}),
            "versioning",
        ),
        (lambda s3: s3.delete_public_access_block(Bucket=BUCKET), "public_access"),
        (
            lambda s3: s3.put_public_access_block(
                Bucket=BUCKET,
                PublicAccessBlockConfiguration={
                    "BlockPublicAcls": True,
                    "IgnorePublicAcls": True,
                    "BlockPublicPolicy": False,
                    "RestrictPublicBuckets": True,
                },
            ),
            "public_access",
        ),
        (lambda s3: s3.delete_bucket_policy(Bucket=BUCKET), "policy"),
        (lambda s3: s3.delete_bucket_encryption(Bucket=BUCKET), "encryption"),
        (lambda s3: s3.delete_bucket_ownership_controls(Bucket=BUCKET), "object_ownership"),
        (lambda s3: s3.delete_bucket_tagging(Bucket=BUCKET), "tags"),
    ],
)
def test_each_setting_that_drifts_is_named(s3, drift, attribute):
    make_bucket(s3)
    drift(s3)
    result = bucket_entry(s3)
    assert result["action"] == "update"
    assert [change["attribute"] for change in result["changes"]] == [attribute]


def test_a_kms_key_and_bucket_key_are_compared_when_asked(s3):
    make_bucket(s3)
    kms = dict(DESIRED, encryption="aws:kms", encryption_key_id="alias/backups", bucket_key_enabled=True)
    changes = bucket_entry(s3, kms)["changes"]
    assert [change["attribute"] for change in changes] == ["encryption", "encryption_key_id", "bucket_key_enabled"]


def test_a_bucket_is_read_with_one_call_per_setting(s3, calls):
    make_bucket(s3)
    calls.clear()
    read = read_buckets(s3, [BUCKET, "sage-missing"])
    assert read["sage-missing"] is None
    assert read[BUCKET]["versioning"] is True
    assert read[BUCKET]["public_access"] == BLOCKED
    for_bucket = [
        "GetBucketEncryption",
        "GetBucketOwnershipControls",
        "GetBucketPolicy",
        "GetBucketTagging",
        "GetBucketVersioning",
        "GetPublicAccessBlock",
    ]
    assert sorted(set(calls)) == for_bucket
    assert len(calls) <= 2 * len(for_bucket)


def test_a_bucket_without_settings_reads_as_none_of_them(s3):
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.delete_bucket_encryption(Bucket=BUCKET)  # moto, as AWS, encrypts new buckets with SSE-S3
    view = read_buckets(s3, [BUCKET])[BUCKET]
    assert view == {
        "versioning": False,
        "public_access": None,
        "object_ownership": view["object_ownership"],  # AWS sets BucketOwnerEnforced on new buckets; moto may not
        "policy": None,
        "tags": {},
        "encryption": None,
        "encryption_key_id": None,
        "bucket_key_enabled": None,
    }


def test_rules_are_read_by_id_with_one_call_per_bucket(s3, calls):
    make_bucket(s3)
    names = [f"{BUCKET}/{rule_id}" for rule_id in [*RULES, "expire-current-backups"]] + ["sage-missing/x"]
    calls.clear()
    read = read_lifecycle_rules(s3, names)
    assert sorted(calls) == ["GetBucketLifecycleConfiguration", "GetBucketLifecycleConfiguration"]
    assert read[f"{BUCKET}/expire-current-backups"] is None and read["sage-missing/x"] is None
    for rule_id, desired in RULES.items():
        entry = plan_entry("s3_lifecycle_rule", f"{BUCKET}/{rule_id}", desired, {"s3_lifecycle_rule": read})
        assert entry["action"] == "unchanged", entry
    gone = plan_entry("s3_lifecycle_rule", f"{BUCKET}/abort-incomplete-uploads", None, {"s3_lifecycle_rule": read})
    assert gone["action"] == "delete"


def test_a_rule_whose_prefix_changed_names_the_prefix():
    read = {"s3_lifecycle_rule": {"b/r": rule_view(STORED_RULES[1])}}
    moved = dict(RULES["expire-noncurrent-backups"], prefix="pg/")
    entry = plan_entry("s3_lifecycle_rule", "b/r", moved, read)
    assert entry["changes"] == [{"attribute": "prefix", "current": "postgres/", "desired": "pg/"}]


@pytest.mark.parametrize(
    "stored",
    [
        dict(STORED_RULES[0], Filter={}),  # s3_lifecycle would write Filter {"Prefix": ""}
        dict(STORED_RULES[0], Filter={"Tag": {"Key": "k", "Value": "v"}}),
        dict(STORED_RULES[0], Transitions=[{"Days": 30, "StorageClass": "GLACIER"}]),
        dict(STORED_RULES[0], Expiration={"Days": 400}),
        dict(STORED_RULES[0], Status="Disabled"),
    ],
)
def test_what_the_stack_does_not_set_on_a_rule_differs(stored):
    entry = plan_entry(
        "s3_lifecycle_rule", "b/r", RULES["abort-incomplete-uploads"], {"s3_lifecycle_rule": {"b/r": rule_view(stored)}}
    )
    assert entry["action"] == "update"
