# Copyright: Contributors to the sage-infra project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every service the stack reads: importing them registers each kind's comparison (module_utils/stack.KINDS),
and READERS says which service reads each kind and how (what sage.infra.stack_info runs)."""

from __future__ import annotations

from ansible_collections.sage.infra.plugins.module_utils import (
    stack_cloudwatch,
    stack_ec2,
    stack_ecr,
    stack_ecs,
    stack_elasticache,
    stack_elbv2,
    stack_iam,
    stack_kms,
    stack_lambda,
    stack_logs,
    stack_rds,
    stack_s3,
    stack_secretsmanager,
    stack_sns,
    stack_sqs,
    stack_sts,
)

SERVICES = (
    stack_cloudwatch,
    stack_ec2,
    stack_ecr,
    stack_ecs,
    stack_elasticache,
    stack_elbv2,
    stack_iam,
    stack_kms,
    stack_lambda,
    stack_logs,
    stack_rds,
    stack_s3,
    stack_secretsmanager,
    stack_sns,
    stack_sqs,
    stack_sts,
)

# {kind: (boto3 service name, reader(client, names or spec) -> the kind as read)}
READERS = {kind: reader for service in SERVICES for kind, reader in service.READERS.items()}
