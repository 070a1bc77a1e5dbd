# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter that writes a secret's resource policy: nobody but the roles that read the secret and the operators."""

import re

# Exact IAM role or user ARNs (a role's path included): what aws:PrincipalArn holds for a session of that identity.
PRINCIPAL_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:(role|user)/[^*?]+$")


def secret_resource_policy(secret_arn, readers, operators):
    """The resource policy of the secret ``secret_arn``.

    readers: [{principal: role ARN, secrets: [secret ARNs it reads]}]; operators: the ARNs of who runs the
    playbooks. Every Secrets Manager action is denied to any other principal (one Deny with StringNotEquals on
    aws:PrincipalArn, the form AWS documents and Prowler accepts), and each reader of this secret may only read its
    value. A deny, not an allow: the identity policies still grant; the policy only takes away.
    """
    own_readers = sorted({reader["principal"] for reader in readers or [] if secret_arn in (reader["secrets"] or [])})
    principals = sorted(set(own_readers) | set(operators or []))
    statements = [
        {
            "Sid": "OnlyItsReadersAndTheOperators",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "secretsmanager:*",
            "Resource": "*",
            "Condition": {"StringNotEquals": {"aws:PrincipalArn": principals}},
        }
    ]
    statements += [
        {
            "Sid": f"Reader{index}OnlyReadsTheValue",
            "Effect": "Deny",
            "Principal": {"AWS": reader},
            "NotAction": "secretsmanager:GetSecretValue",
            "Resource": "*",
        }
        for index, reader in enumerate(own_readers, start=1)
        if reader not in (operators or [])
    ]
    return {"Version": "2012-10-17", "Statement": statements}


def principal_arn_error(arn, name):
    """'' when ``arn`` is an exact IAM role or user ARN, else why not, naming the variable ``name``."""
    if isinstance(arn, str) and PRINCIPAL_ARN.match(arn):
        return ""
    return (
        f"{name}: {arn!r} is not an IAM role or user ARN (arn:aws:iam::<account>:role/<path/name> or "
        f":user/<name>, no wildcard; a role's path as IAM shows it)"
    )


def caller_principal_arn(caller_arn, operators=()):
    """The aws:PrincipalArn of the identity whose sts:GetCallerIdentity ARN is ``caller_arn``: an assumed role's
    session is its role, whose ARN has a path GetCallerIdentity does not show. A role's name is unique in its account
    whatever its path, so the operator ARN of that account and name is the one (else the ARN without a path)."""
    match = re.match(r"^arn:(aws[a-z-]*):sts::(\d{12}):assumed-role/([^/]+)/", caller_arn or "")
    if not match:
        return caller_arn
    partition, account, name = match.groups()
    listed = [
        arn
        for arn in operators or []
        if arn.startswith(f"arn:{partition}:iam::{account}:role/") and arn.rsplit("/", 1)[-1] == name
    ]
    return listed[0] if listed else f"arn:{partition}:iam::{account}:role/{name}"


class FilterModule:
    def filters(self):
        return {
            "secret_resource_policy": secret_resource_policy,
            "principal_arn_error": principal_arn_error,
            "caller_principal_arn": caller_principal_arn,
        }
