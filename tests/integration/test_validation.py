"""Bad input fails with a message naming the variable, before any AWS call (counted at the emulator)."""

from __future__ import annotations

import pytest

from tests.harness.playbook import run_playbook

ONE_ZONE = {
    "network_az_count": 1,
    "network_public_subnet_cidrs": ["10.0.1.0/24"],
    "network_private_subnet_cidrs": ["10.0.11.0/24"],
    "network_database_subnet_cidrs": ["10.0.21.0/24"],
}

CASES = {
    "vpc prefix out of range": ({"network_vpc_cidr": "10.0.0.0/33"}, "network_vpc_cidr"),
    "vpc not a cidr": ({"network_vpc_cidr": "banana"}, "network_vpc_cidr: 'banana' is not a valid"),
    "vpc too large": ({"network_vpc_cidr": "10.0.0.0/8"}, "network_vpc_cidr: '10.0.0.0/8' must have a prefix"),
    "subnet outside the vpc": (
        {"network_public_subnet_cidrs": ["10.9.1.0/24", "10.0.2.0/24"]},
        "network_public_subnet_cidrs: '10.9.1.0/24' lies outside network_vpc_cidr",
    ),
    "overlapping subnets": (
        {"network_private_subnet_cidrs": ["10.0.1.128/25", "10.0.12.0/24"]},
        "network_private_subnet_cidrs: '10.0.1.128/25' overlaps",
    ),
    "zone count mismatch": ({"network_az_count": 3}, "has 2 subnet(s) but network_az_count is 3"),
    "prod needs two zones": (
        {**ONE_ZONE, "sage_environment": "prod"},
        "network_az_count: 1 availability zone(s) given, this environment needs at least 2",
    ),
    "unknown nat mode": ({"network_nat_gateway_mode": "triple"}, "network_nat_gateway_mode"),
    "unknown environment": ({"sage_environment": "qa"}, "sage_environment"),
    "retention not accepted by CloudWatch": (
        {"network_flow_logs_retention_days": 2},
        "network_flow_logs_retention_days",
    ),
    "zone count not a number": ({"network_az_count": "two"}, "network_az_count"),
    "explicit zones of the wrong count": (
        {"network_availability_zones": ["us-west-2a"]},
        "network_availability_zones lists 1 zone(s) but network_az_count is 2",
    ),
    "app port not a number": ({"network_app_port": "http"}, "network_app_port"),
    "recovery window too short": ({"secrets_recovery_window_days": 3}, "secrets_recovery_window_days"),
    "secret without value_var": (
        {"secrets_definitions": [{"key": "k", "name": "sage/k", "description": "d"}]},
        "value_var",
    ),
    "secret name with spaces": (
        {"secrets_definitions": [{"key": "k", "name": "sage/my key", "description": "d", "value_var": "v"}]},
        "secrets_definitions needs unique keys and unique names",
    ),
    "backup window overlaps maintenance": (
        {"database_maintenance_window": "sun:03:30-sun:04:30"},
        "database_backup_window '03:00-04:00' overlaps database_maintenance_window 'sun:03:30-sun:04:30'",
    ),
    "backup window malformed": ({"database_backup_window": "3am-4am"}, "database_backup_window: '3am-4am' is not"),
    "storage max below allocated": (
        {"database_max_allocated_storage_gb": 10},
        "database_max_allocated_storage_gb (10) must be at least database_allocated_storage_gb (20)",
    ),
    "invalid instance class": ({"database_instance_class": "t3.micro"}, "database_instance_class must look like"),
    "engine version format": ({"database_engine_version": "eighteen"}, "database_engine_version must look like"),
    "connection budget exhausted": (
        {"database_max_connections": 10, "database_app_max_tasks": 20},
        "cannot give each of database_app_max_tasks (20) tasks a connection",
    ),
    "storage type unknown": ({"database_storage_type": "ssd"}, "database_storage_type"),
    "cache engine version format": ({"cache_engine_version": "8"}, "cache_engine_version must look like 8.0"),
    "invalid cache node type": ({"cache_node_type": "m5.large"}, "cache_node_type must look like cache.t3.micro"),
    "too many cache nodes": ({"cache_num_nodes": 7}, "cache_num_nodes must be 1 to 6, got 7"),
    "snapshot window overlaps maintenance": (
        {"cache_maintenance_window": "sun:05:30-sun:06:30"},
        "cache_snapshot_window '05:00-06:00' overlaps cache_maintenance_window",
    ),
    "unknown eviction policy": ({"cache_maxmemory_policy": "lru"}, "cache_maxmemory_policy"),
    "cache without tls": ({"cache_transit_encryption": False}, "cache_transit_encryption must stay true"),
    "fargate cpu and memory do not pair": (
        {"ecs_task_cpu": 256, "ecs_task_memory": 4096},
        "ecs_task_memory 4096 does not go with ecs_task_cpu 256 on Fargate: use 512, 1024, 2048 (MiB)",
    ),
    "fargate cpu unknown": ({"ecs_task_cpu": 300}, "ecs_task_cpu must be one of 256, 512"),
    "desired count above the autoscaling maximum": (
        {"ecs_desired_count": 5, "ecs_max_count": 4},
        "ecs_desired_count (5) must lie within the autoscaling bounds ecs_min_count (1) and ecs_max_count (4)",
    ),
    "autoscaling minimum above maximum": (
        {"ecs_min_count": 5, "ecs_max_count": 2},
        "ecs_min_count (5) must be between 0",
    ),
    "container port not the one the security groups open": (
        {"ecs_container_port": 8080},
        "ecs_container_port (8080) must equal network_app_port (3000)",
    ),
    "privileged container port": (
        {"ecs_container_port": 80, "network_app_port": 80},
        "ecs_container_port must be 1024 to 65535",
    ),
    "container port not a number": ({"ecs_container_port": "http"}, "ecs_container_port"),
    "malformed certificate arn": (
        {"ecs_certificate_arn": "arn:aws:iam::123456789012:server-certificate/sage"},
        "ecs_certificate_arn must be an ACM certificate ARN in us-west-2",
    ),
    "certificate from another region": (
        {"ecs_certificate_arn": "arn:aws:acm:us-east-1:123456789012:certificate/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"},
        "ecs_certificate_arn must be an ACM certificate ARN in us-west-2",
    ),
    "log retention not accepted by CloudWatch": ({"ecs_log_retention_days": 10}, "ecs_log_retention_days must be one"),
    "secret as plain environment": (
        {"ecs_extra_environment": {"DATABASE_URL": "postgresql://u:p@h/db"}},
        "ecs_extra_environment must not set a secret",
    ),
    "health check path without slash": ({"ecs_health_check_path": "health"}, "ecs_health_check_path must be a path"),
    "unknown capacity provider": (
        {"ecs_capacity_provider_strategy": [{"capacity_provider": "EC2", "weight": 1}]},
        "ecs_capacity_provider_strategy may name only FARGATE and FARGATE_SPOT",
    ),
    "alarm threshold out of range": (
        {"monitoring_alarm_overrides": {"ecs_cpu": {"threshold": 150}}},
        "monitoring_alarm_overrides.ecs_cpu.threshold must be at most 100, got 150",
    ),
    "unknown alarm": (
        {"monitoring_alarm_overrides": {"ecs_memory": {"threshold": 80}}},
        "monitoring_alarm_overrides.ecs_memory is not an alarm of this role",
    ),
    "alarm to an unknown channel": (
        {"monitoring_alarm_overrides": {"rds_cpu": {"channel": "pager"}}},
        "monitoring_alarm_overrides.rds_cpu.channel must be one of errors, performance, business, got 'pager'",
    ),
    "unknown channel in the extra mapping": (
        {"monitoring_extra_channel_by_alarm": {"billing-alarm": "finance"}},
        "monitoring_extra_channel_by_alarm maps billing-alarm to an unknown channel",
    ),
    "alarm period CloudWatch refuses": (
        {"monitoring_alarm_overrides": {"api_latency_p95": {"period": 45}}},
        "monitoring_alarm_overrides.api_latency_p95.period must be 10, 20, 30 or a multiple of 60 seconds, got 45",
    ),
    "lambda timeout too short for rate limits": (
        {"monitoring_lambda_timeout_seconds": 3},
        "monitoring_lambda_timeout_seconds must be 10 to 900",
    ),
    "lambda log retention not accepted by CloudWatch": (
        {"monitoring_lambda_log_retention_days": 10},
        "monitoring_lambda_log_retention_days",
    ),
    "backup bucket name with capitals and underscores": (
        {"backup_bucket_name": "Sage_Backups"},
        "backup_bucket_name must follow S3's bucket naming rules (only lowercase letters, digits, dots and hyphens;",
    ),
    "backup bucket name too long": ({"backup_bucket_name": "s" * 64}, "backup_bucket_name must follow S3's bucket"),
    "backup bucket name like an IP address": ({"backup_bucket_name": "192.168.5.4"}, "not an IP address"),
    "backup bucket name with a reserved prefix": ({"backup_bucket_name": "xn--sage-backups"}, "not starting with xn--"),
    "backup prefix without a trailing slash": (
        {"backup_bucket_prefix": "postgres"},
        "backup_bucket_prefix must be empty or a key prefix ending with /",
    ),
    "current backups expiring within a week": (
        {"backup_bucket_expire_days": 7},
        "backup_bucket_expire_days must be 0 (current backups never expire by age) or more than 7 days, got 7",
    ),
    "backup expiry not a number": ({"backup_bucket_expire_days": "monthly"}, "backup_bucket_expire_days"),
    "noncurrent backups kept less than a day": (
        {"backup_bucket_noncurrent_expire_days": 0},
        "backup_bucket_noncurrent_expire_days must be at least 1, got 0",
    ),
    "log bucket name with capitals and underscores": (
        {"log_bucket_name": "Sage_Logs"},
        "log_bucket_name must follow S3's bucket naming rules (only lowercase letters, digits, dots and hyphens;",
    ),
    "logs kept less than a day": ({"log_bucket_expire_days": 0}, "log_bucket_expire_days must be at least 1, got 0"),
    "load balancer logs to a bucket S3 cannot name": (
        {"ecs_alb_access_logs_bucket": "logs_bucket"},
        "ecs_alb_access_logs_bucket must follow S3's bucket naming rules",
    ),
    "load balancer log prefix with a trailing slash": (
        {"ecs_alb_access_logs_prefix": "alb/"},
        "ecs_alb_access_logs_prefix must be a key prefix without a leading or trailing slash",
    ),
    "backup access logs to a bucket S3 cannot name": (
        {"backup_bucket_access_logs_bucket": "-logs"},
        "backup_bucket_access_logs_bucket must follow S3's bucket naming rules",
    ),
    "log key alias without alias/": (
        {"log_key_alias": "sage-logs"},
        "log_key_alias must be empty (no key) or alias/<name>",
    ),
    "secrets operator given as a session": (
        {"secrets_operator_principal_arns": ["arn:aws:sts::123456789012:assumed-role/awx/job"]},
        "secrets_operator_principal_arns: 'arn:aws:sts::123456789012:assumed-role/awx/job' is not an IAM role",
    ),
    "backup kms key from another region": (
        {"backup_bucket_kms_key_id": "arn:aws:kms:us-east-1:123456789012:key/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"},
        "backup_bucket_kms_key_id must be empty (SSE-S3) or a KMS key id",
    ),
}


@pytest.mark.parametrize("extra_vars, expected", CASES.values(), ids=CASES.keys())
def test_bad_input_fails_before_any_aws_call(emulator, extra_vars, expected):
    assert_refused_before_any_aws_call(emulator, "site.yml", extra_vars, expected)


def assert_refused_before_any_aws_call(emulator, playbook, extra_vars, expected):
    emulator.reset_calls()
    run = run_playbook(playbook, emulator.endpoint, extra_vars=extra_vars)
    assert run.returncode != 0, run.output
    assert expected in run.output, run.output[-4000:]
    assert emulator.calls() == [], "no AWS API call may happen before the input is valid"


def test_malformed_webhook_url_fails_naming_the_variable_not_the_url(emulator):
    token = "tok3n-MUST-NOT-LEAK"
    emulator.reset_calls()
    run = run_playbook(
        "site.yml",
        emulator.endpoint,
        "-vvv",
        extra_vars={"vault_discord_webhook_errors": f"https://discord.example/api/webhooks/123/{token}"},
    )
    assert run.returncode != 0, run.output
    assert "vault_discord_webhook_errors: the value (webhook 123) points to https://discord.example" in run.output
    assert token not in run.output
    assert emulator.calls() == []


@pytest.mark.parametrize(
    ("extra_vars", "expected"),
    [
        ({"plan_notify": "maybe"}, "plan_notify"),
        ({"plan_fail_on_changes": "sometimes"}, "plan_fail_on_changes"),
        ({"plan_file": "/no/such/directory/plan.json"}, "plan_file: the directory of '/no/such/directory/plan.json'"),
    ],
    ids=["notify not a boolean", "fail_on_changes not a boolean", "plan_file in a missing directory"],
)
def test_the_plans_own_input_fails_before_any_aws_call(emulator, extra_vars, expected):
    assert_refused_before_any_aws_call(emulator, "playbooks/plan.yml", extra_vars, expected)
