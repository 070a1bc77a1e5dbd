"""An operator as in a real account: a session of an IAM role (with a path), for the secrets' resource policies,
which must name whoever runs the playbooks (secrets_operator_principal_arns)."""

from __future__ import annotations

import json

from tests.harness.emulator import client

ROLE_NAME = "platform-operator"
ROLE_PATH = "/ops/"


def operator_session(endpoint: str, region: str = "us-west-2") -> tuple[str, dict]:
    """(the operator role's ARN, a sage_aws_connection for a session of it): the role is created if missing."""
    iam = client(endpoint, "iam")
    try:
        arn = iam.get_role(RoleName=ROLE_NAME)["Role"]["Arn"]
    except iam.exceptions.NoSuchEntityException:
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"AWS": "arn:aws:iam::123456789012:root"}}
            ],
        }
        arn = iam.create_role(RoleName=ROLE_NAME, Path=ROLE_PATH, AssumeRolePolicyDocument=json.dumps(trust))["Role"][
            "Arn"
        ]
    credentials = client(endpoint, "sts").assume_role(RoleArn=arn, RoleSessionName="operator")["Credentials"]
    connection = {
        "region": region,
        "endpoint_url": endpoint,
        "access_key": credentials["AccessKeyId"],
        "secret_key": credentials["SecretAccessKey"],
        "session_token": credentials["SessionToken"],
    }
    return arn, connection
