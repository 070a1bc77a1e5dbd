"""Access logs (prod): the log bucket, the load balancer's access logs and the backup bucket's server access logs,
turned on and off on the shared stack, each time re-run with changed=0 and previewed without a write."""

from __future__ import annotations

import json

from tests.harness.playbook import run_playbook

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


def converge_changes_nothing_twice(emulator, extra_vars):
    emulator.reset_calls()
    again = run_playbook("site.yml", emulator.endpoint, extra_vars=extra_vars).assert_ok()
    assert again.changed == 0, again.output
    preview = run_playbook("site.yml", emulator.endpoint, "--check", "--diff", extra_vars=extra_vars).assert_ok()
    assert preview.changed == 0, preview.output
    assert emulator.mutating_calls() == []


def test_access_logs_go_to_a_bucket_only_this_accounts_log_deliveries_may_write(converged, aws, emulator):
    assert alb_attributes(aws)["access_logs.s3.enabled"] == "false" and backup_bucket_logging(aws) is None

    emulator.reset_calls()
    preview = run_playbook("site.yml", emulator.endpoint, "--check", extra_vars=WITH_LOGS).assert_ok()
    # The bucket and its two rules to add, the load balancer and the backup bucket's logging to change.
    assert "Plan: 3 to add, 2 to change, 0 to destroy" in preview.output, preview.output[-3000:]
    assert emulator.mutating_calls() == []

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
