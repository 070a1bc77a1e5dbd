"""The backup bucket site.yml leaves on the emulator, its settings changed in place, and its removal.

The emulator leaves the TLS-only statement out when it evaluates the bucket policy (requests to it stand
for HTTPS requests to S3; see patch_moto_gaps), so objects are stored as they are on AWS.
"""

from __future__ import annotations

import json

import botocore.exceptions
import pytest

from tests.harness.playbook import run_playbook

BUCKET = "sage-backups"
ARN = f"arn:aws:s3:::{BUCKET}"
RULE_IDS = {"abort-incomplete-uploads", "expire-staging-uploads", "expire-noncurrent-backups"}
# A second bucket of the same role, run on its own (site.yml --tags backup), so the shared stack stays as it is.
OTHER = "sage-backups-role-test"


def lifecycle_rules(aws, bucket=BUCKET):
    rules = aws("s3").get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert all("ID" in rule for rule in rules), rules
    return {rule["ID"]: rule for rule in rules}


def bucket_exists(aws, bucket):
    try:
        aws("s3").head_bucket(Bucket=bucket)
    except botocore.exceptions.ClientError as error:
        assert error.response["Error"]["Code"] in ("404", "NoSuchBucket"), error
        return False
    return True


def run_role(emulator, **extra_vars):
    return run_playbook(
        "site.yml", emulator.endpoint, "--tags", "backup", extra_vars={"backup_bucket_name": OTHER, **extra_vars}
    )


def test_public_access_is_blocked_and_acls_are_off(converged, aws):
    s3 = aws("s3")
    assert s3.get_public_access_block(Bucket=BUCKET)["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "IgnorePublicAcls": True,
        "BlockPublicPolicy": True,
        "RestrictPublicBuckets": True,
    }
    assert s3.get_bucket_ownership_controls(Bucket=BUCKET)["OwnershipControls"]["Rules"] == [
        {"ObjectOwnership": "BucketOwnerEnforced"}
    ]
    assert s3.get_bucket_location(Bucket=BUCKET)["LocationConstraint"] == "us-west-2"


def test_default_encryption_and_versioning(converged, aws):
    s3 = aws("s3")
    (rule,) = s3.get_bucket_encryption(Bucket=BUCKET)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rule["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
    assert s3.get_bucket_versioning(Bucket=BUCKET)["Status"] == "Enabled"


def test_policy_denies_every_request_without_tls(converged, aws):
    policy = json.loads(aws("s3").get_bucket_policy(Bucket=BUCKET)["Policy"])
    (statement,) = policy["Statement"]
    assert statement["Effect"] == "Deny"
    assert statement["Principal"] in ("*", {"AWS": "*"})
    assert statement["Action"] in ("s3:*", ["s3:*"])
    assert sorted(statement["Resource"]) == [ARN, f"{ARN}/*"], "the bucket and every object in it"
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_lifecycle_is_a_safety_net_that_never_expires_current_backups(converged, aws):
    rules = lifecycle_rules(aws)
    assert set(rules) == RULE_IDS
    assert {rule["Status"] for rule in rules.values()} == {"Enabled"}
    abort = rules["abort-incomplete-uploads"]
    assert abort["Filter"] == {"Prefix": ""}, "the whole bucket"
    assert abort["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 1}
    staging = rules["expire-staging-uploads"]
    assert staging["Filter"] == {"Prefix": "postgres/incoming/"}
    assert (staging["Expiration"], staging["NoncurrentVersionExpiration"]) == ({"Days": 1}, {"NoncurrentDays": 1})
    noncurrent = rules["expire-noncurrent-backups"]
    assert noncurrent["Filter"] == {"Prefix": "postgres/"}
    assert noncurrent["NoncurrentVersionExpiration"] == {"NoncurrentDays": 30}
    assert noncurrent["Expiration"] == {"ExpiredObjectDeleteMarker": True}
    expiring_by_age = [rule["ID"] for rule in rules.values() if "Days" in rule.get("Expiration", {})]
    assert expiring_by_age == ["expire-staging-uploads"], "no current backup expires by age"


def test_tags(converged, aws):
    tags = {t["Key"]: t["Value"] for t in aws("s3").get_bucket_tagging(Bucket=BUCKET)["TagSet"]}
    assert tags == {"Project": "sage", "Environment": "local", "ManagedBy": "ansible"}


def test_outputs_name_the_bucket(converged):
    assert f"backup_bucket: {BUCKET}" in converged.output


@pytest.fixture(scope="module")
def kms_key_arn(aws):
    return aws("kms").create_key(Description="backup bucket test")["KeyMetadata"]["Arn"]


def test_settings_change_in_place(emulator, aws, kms_key_arn):
    changed = {"backup_bucket_prefix": "pg/", "backup_bucket_expire_days": 30, "backup_bucket_kms_key_id": kms_key_arn}
    run_role(emulator, **changed).assert_ok()
    (rule,) = aws("s3").get_bucket_encryption(Bucket=OTHER)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rule["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": kms_key_arn}
    assert rule["BucketKeyEnabled"] is True
    rules = lifecycle_rules(aws, OTHER)
    assert set(rules) == RULE_IDS | {"expire-current-backups"}
    assert rules["expire-current-backups"]["Expiration"] == {"Days": 30}
    assert rules["expire-current-backups"]["Filter"] == {"Prefix": "pg/"}
    assert rules["expire-staging-uploads"]["Filter"] == {"Prefix": "pg/incoming/"}
    assert run_role(emulator, **changed).assert_ok().changed == 0

    # Back to the defaults: community.aws.s3_lifecycle alone would keep the pg/ rules, stripped of their IDs.
    assert run_role(emulator).assert_ok().changed > 0
    rules = lifecycle_rules(aws, OTHER)
    assert set(rules) == RULE_IDS
    assert rules["expire-noncurrent-backups"]["Filter"] == {"Prefix": "postgres/"}
    assert rules["expire-staging-uploads"]["Filter"] == {"Prefix": "postgres/incoming/"}
    (rule,) = aws("s3").get_bucket_encryption(Bucket=OTHER)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rule["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}


def test_a_bucket_holding_only_old_versions_is_kept_with_them(emulator, aws):
    run_role(emulator).assert_ok()
    s3 = aws("s3")
    s3.put_object(Bucket=OTHER, Key="postgres/backup_20260101_000000.sql.gz", Body=b"dump")
    s3.delete_object(Bucket=OTHER, Key="postgres/backup_20260101_000000.sql.gz")  # pruned: a delete marker
    assert aws("s3").list_objects_v2(Bucket=OTHER)["KeyCount"] == 0, "no current object, only versions"
    for _ in range(2):
        run = run_role(emulator, backup_bucket_state="absent").assert_ok()
        assert run.changed == 0, run.output
        assert "was kept with everything in it; remove it with -e backup_bucket_force_absent=true" in " ".join(
            run.output.split()
        ), run.output
    assert bucket_exists(aws, OTHER)
    versions = aws("s3").list_object_versions(Bucket=OTHER)
    assert (len(versions["Versions"]), len(versions["DeleteMarkers"])) == (1, 1)


def test_forced_removal_deletes_everything_and_a_second_removal_changes_nothing(emulator, aws):
    run_role(emulator).assert_ok()
    aws("s3").put_object(Bucket=OTHER, Key="postgres/backup_20260102_000000.sql.gz", Body=b"dump")
    run = run_role(emulator, backup_bucket_state="absent", backup_bucket_force_absent=True).assert_ok()
    assert run.changed > 0
    assert not bucket_exists(aws, OTHER)
    again = run_role(emulator, backup_bucket_state="absent").assert_ok()
    assert again.changed == 0, again.output
