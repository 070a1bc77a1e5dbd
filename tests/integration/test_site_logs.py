"""Logs in prod, turned on and off on the shared stack, each time re-run with changed=0 and previewed without a write:
the access logs (the log bucket, the load balancer's and the backup bucket's access logs) and the log groups' KMS
key."""

from __future__ import annotations

import json

from tests.harness.playbook import run_playbook
from tests.integration.test_plan import differing, plan

LOGS = "sage-access-logs"
ACCOUNT = "123456789012"
WITH_LOGS = {
    "log_bucket_name": LOGS,
    "ecs_alb_access_logs_bucket": LOGS,
    "backup_bucket_access_logs_bucket": LOGS,
}


def alb_attributes(aws):
    elbv2 = aws("elbv2")
    arn = elbv2.describe_load_balancers(Names=["sage-alb"])["LoadBalancers"][0]["LoadBalancerArn"]
    attributes = elbv2.describe_load_balancer_attributes(LoadBalancerArn=arn)["Attributes"]
    return {item["Key"]: item["Value"] for item in attributes if item["Key"].startswith("access_logs.s3.")}


def backup_bucket_logging(aws):
    return aws("s3").get_bucket_logging(Bucket="sage-backups").get("LoggingEnabled")


def planned_by(emulator, tmp_path, extra_vars) -> dict[tuple[str, str], str]:
    """{(kind, name): action} of what plan.yml shows with extra_vars and not without them (other tests of the shared
    stack may leave differences of their own), after checking that neither plan wrote anything."""
    emulator.reset_calls()
    _, without = plan(emulator, tmp_path)
    _, with_them = plan(emulator, tmp_path, **extra_vars)
    assert emulator.mutating_calls() == []
    before = differing(without)
    return {key: entry["action"] for key, entry in differing(with_them).items() if before.get(key) != entry}


def converge_changes_nothing_twice(emulator, extra_vars):
    emulator.reset_calls()
    again = run_playbook("site.yml", emulator.endpoint, extra_vars=extra_vars).assert_ok()
    assert again.changed == 0, again.output
    preview = run_playbook("site.yml", emulator.endpoint, "--check", "--diff", extra_vars=extra_vars).assert_ok()
    assert preview.changed == 0, preview.output
    assert emulator.mutating_calls() == []


def test_access_logs_go_to_a_bucket_only_this_accounts_log_deliveries_may_write(converged, aws, emulator, tmp_path):
    assert alb_attributes(aws)["access_logs.s3.enabled"] == "false" and backup_bucket_logging(aws) is None

    # The bucket and its two rules to add, the load balancer and the backup bucket's logging to change.
    assert planned_by(emulator, tmp_path, WITH_LOGS) == {
        ("s3_bucket", LOGS): "create",
        ("s3_lifecycle_rule", f"{LOGS}/expire-logs"): "create",
        ("s3_lifecycle_rule", f"{LOGS}/delete-expired-logs"): "create",
        ("load_balancer", "sage-alb"): "update",
        ("s3_bucket_logging", "sage-backups"): "update",
    }

    run_playbook("site.yml", emulator.endpoint, extra_vars=WITH_LOGS).assert_ok()
    assert alb_attributes(aws) == {
        "access_logs.s3.enabled": "true",
        "access_logs.s3.bucket": LOGS,
        "access_logs.s3.prefix": "alb",
    }
    assert backup_bucket_logging(aws) == {"TargetBucket": LOGS, "TargetPrefix": "s3/sage-backups/"}

    s3 = aws("s3")
    statements = {s["Sid"]: s for s in json.loads(s3.get_bucket_policy(Bucket=LOGS)["Policy"])["Statement"]}
    assert statements["DenyInsecureTransport"]["Effect"] == "Deny"
    # us-west-2 opened before August 2022: its load balancers' logs come from Elastic Load Balancing's account there.
    assert statements["LoadBalancerLogDelivery"] == {
        "Sid": "LoadBalancerLogDelivery",
        "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::797873946194:root"},
        "Action": "s3:PutObject",
        "Resource": f"arn:aws:s3:::{LOGS}/*AWSLogs/{ACCOUNT}/*",
    }
    assert statements["S3ServerAccessLogDelivery"] == {
        "Sid": "S3ServerAccessLogDelivery",
        "Effect": "Allow",
        "Principal": {"Service": "logging.s3.amazonaws.com"},
        "Action": "s3:PutObject",
        "Resource": f"arn:aws:s3:::{LOGS}/*",
        "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}},
    }
    (encryption,) = s3.get_bucket_encryption(Bucket=LOGS)["ServerSideEncryptionConfiguration"]["Rules"]
    assert encryption["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}, "ELB writes SSE-S3 only"
    assert s3.get_bucket_versioning(Bucket=LOGS)["Status"] == "Enabled"
    assert s3.get_public_access_block(Bucket=LOGS)["PublicAccessBlockConfiguration"]["BlockPublicPolicy"] is True
    rules = {rule["ID"]: rule for rule in s3.get_bucket_lifecycle_configuration(Bucket=LOGS)["Rules"]}
    assert rules["expire-logs"]["Expiration"] == {"Days": 90}
    assert rules["delete-expired-logs"]["NoncurrentVersionExpiration"] == {"NoncurrentDays": 7}
    # The emulator delivers S3's access logs as S3 does: a request to the backup bucket is logged.
    s3.list_objects_v2(Bucket="sage-backups")
    delivered = s3.list_objects_v2(Bucket=LOGS, Prefix="s3/sage-backups/").get("Contents", [])
    assert delivered and any(
        b"sage-backups" in s3.get_object(Bucket=LOGS, Key=o["Key"])["Body"].read() for o in delivered
    )
    converge_changes_nothing_twice(emulator, WITH_LOGS)

    # Turned off: the load balancer and the backup bucket stop logging; the log bucket, no longer managed, keeps
    # what it holds.
    off = run_playbook("site.yml", emulator.endpoint).assert_ok()
    assert off.changed == 2, off.output
    assert alb_attributes(aws)["access_logs.s3.enabled"] == "false" and backup_bucket_logging(aws) is None
    converge_changes_nothing_twice(emulator, {})
    remove_bucket(s3, LOGS)


def remove_bucket(s3, bucket):
    """The bucket and what the emulator delivered to it (it writes S3's server access logs)."""
    listed = s3.list_object_versions(Bucket=bucket)
    for version in listed.get("Versions", []) + listed.get("DeleteMarkers", []):
        s3.delete_object(Bucket=bucket, Key=version["Key"], VersionId=version["VersionId"])
    s3.delete_bucket(Bucket=bucket)


LOG_GROUPS = ("/aws/vpc/sage-flow-logs", "/ecs/sage-backend", "/aws/lambda/sage-discord-alert")


def log_group_keys(aws):
    groups = aws("logs").describe_log_groups()["logGroups"]
    return {group["logGroupName"]: group.get("kmsKeyId") for group in groups if group["logGroupName"] in LOG_GROUPS}


def test_the_log_groups_are_encrypted_with_a_key_only_cloudwatch_logs_of_this_account_may_use(
    converged, aws, emulator, tmp_path
):
    with_key = {"log_key_alias": "alias/sage-logs"}
    assert log_group_keys(aws) == dict.fromkeys(LOG_GROUPS)

    # The key to add; the three existing log groups to change (their key is set in place, they are not recreated).
    assert planned_by(emulator, tmp_path, with_key) == {
        ("kms_key", "alias/sage-logs"): "create",
        **{("log_group", name): "update" for name in LOG_GROUPS},
    }

    run_playbook("site.yml", emulator.endpoint, extra_vars=with_key).assert_ok()
    kms = aws("kms")
    key = kms.describe_key(KeyId="alias/sage-logs")["KeyMetadata"]
    assert log_group_keys(aws) == dict.fromkeys(LOG_GROUPS, key["Arn"])
    assert kms.get_key_rotation_status(KeyId=key["KeyId"])["KeyRotationEnabled"] is True
    statements = json.loads(kms.get_key_policy(KeyId=key["KeyId"], PolicyName="default")["Policy"])["Statement"]
    assert [s["Principal"] for s in statements] == [
        {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
        {"Service": "logs.us-west-2.amazonaws.com"},
    ]
    assert statements[1]["Condition"] == {
        "ArnLike": {"kms:EncryptionContext:aws:logs:arn": f"arn:aws:logs:us-west-2:{ACCOUNT}:log-group:*"}
    }
    assert "kms:Decrypt*" in statements[1]["Action"] and "kms:*" not in statements[1]["Action"]
    converge_changes_nothing_twice(emulator, with_key)

    # Without log_key_alias the key is not managed: the log groups keep it, and nothing changes.
    converge_changes_nothing_twice(emulator, {})
    assert log_group_keys(aws) == dict.fromkeys(LOG_GROUPS, key["Arn"])
    for name in LOG_GROUPS:  # back to the shared stack as converged
        aws("logs").disassociate_kms_key(logGroupName=name)
    kms.delete_alias(AliasName="alias/sage-logs")
    kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)
