# Copyright: Contributors to the sage-infra project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Secrets Manager secrets, as sage.infra.secretsmanager_secret manages them (the module shares this view and
comparison): description, KMS key, tags (purge_tags), whether the secret is scheduled for deletion, whether it
stores a value and which staging labels the stored value carries.

Read with DescribeSecret only: the value is never read. A secret's resource policy is a kind of its own
(``secret_policy``, read with GetResourcePolicy), read only where the stack manages the policies.

A value written with a label (the module's
``value_label``, for example a digest of the value's parts that are no secret) is in sync while the current version
still carries that label: a value put by hand, or a secret deleted and created again, has a new version without it.
"""

from __future__ import annotations

import json

from ansible_collections.sage.infra.plugins.module_utils.stack import Kind, fan_out, register, tag_dict

CURRENT = "AWSCURRENT"


def same_description(want, have):
    """A secret without a description reports none: that is the empty description."""
    return (want or "") == (have or "")


def labels_carried(want, have):
    """The labels asked for are all on the current value (it may carry others, such as AWSPREVIOUS elsewhere)."""
    return set(want or []) <= set(have or [])


SECRET = Kind("secret", compare={"description": same_description, "value_labels": labels_carried})
SECRET_POLICY = Kind("secret_policy", policies=("policy",))
register(SECRET, SECRET_POLICY)


def secret_view(secret):
    """The managed, non-sensitive attributes of a DescribeSecret response: description, kms_key_id, tags,
    scheduled_for_deletion, has_value (a version carries AWSCURRENT), value_labels (the other labels of that
    version), and deleted_date when the secret is scheduled for deletion."""
    current = [labels for labels in (secret.get("VersionIdsToStages") or {}).values() if CURRENT in labels]
    view = {
        "description": secret.get("Description"),
        "kms_key_id": secret.get("KmsKeyId"),
        "tags": tag_dict(secret.get("Tags")),
        "scheduled_for_deletion": bool(secret.get("DeletedDate")),
        "has_value": bool(current),
        "value_labels": sorted(label for label in (current[0] if current else []) if label != CURRENT),
    }
    if secret.get("DeletedDate"):
        view["deleted_date"] = secret["DeletedDate"].isoformat()
    return view


def changed_attributes(desired, view):
    """The attributes of desired ({attribute: value}, vocabulary of secret_view) the secret does not have."""
    return [change["attribute"] for change in SECRET.changes(desired, view)]


def read_secrets(client, names):
    """{name: view with arn and name, or None}: one DescribeSecret per name (never GetSecretValue)."""

    def read(name):
        try:
            secret = client.describe_secret(SecretId=name)
        except client.exceptions.ResourceNotFoundException:
            return None
        return dict(secret_view(secret), arn=secret["ARN"], name=secret["Name"])

    return fan_out(read, names)


def policy_of(response):
    """The document of a GetResourcePolicy response, None for a secret without a policy."""
    document = response.get("ResourcePolicy")
    return json.loads(document) if document else None


def read_secret_policies(client, names):
    """{name: {arn, name, policy} or None}: one GetResourcePolicy per name."""

    def read(name):
        try:
            response = client.get_resource_policy(SecretId=name)
        except client.exceptions.ResourceNotFoundException:
            return None
        return {"arn": response["ARN"], "name": response["Name"], "policy": policy_of(response)}

    return fan_out(read, names)


READERS = {
    "secret": ("secretsmanager", read_secrets),
    "secret_policy": ("secretsmanager", read_secret_policies),
}
