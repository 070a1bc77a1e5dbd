#!/usr/bin/python


# Copyright: Contributors to the sage-infra project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: secretsmanager_secret
version_added: 0.1.0
short_description: Manage an AWS Secrets Manager secret without clobbering its value
description:
  - Create, update, restore or delete an AWS Secrets Manager secret.
  - Unlike M(community.aws.secretsmanager_secret), a secret can be created without a value, and by
    default an existing value is never read nor replaced. This lets a play create the secret (and
    its description, KMS key and tags) while the value is set out of band, or seed a value once.
  - A run that changes nothing makes a single C(DescribeSecret) call per secret when O(overwrite_value=false).
  - The secret value is never returned, logged nor shown in diffs.
author:
  - sage-infra developers (!UNKNOWN)
options:
  name:
    description:
      - Name of the secret, for example V(sage/anthropic-api-key).
      - Exactly one of O(name) and O(secrets) is required.
    type: str
  secrets:
    description:
      - Several secrets in one run (one module run instead of one per secret, still one C(DescribeSecret) each).
      - Each item is one secret; an option an item does not set is taken from the module's own option of
        the same name (its default when not given either).
      - The results are returned in RV(secrets), in the same order.
    type: list
    elements: dict
    suboptions:
      name:
        description: Name of the secret, unique in the list.
        type: str
        required: true
      state:
        description: As O(state).
        type: str
        choices: ['present', 'absent']
      description:
        description: As O(description).
        type: str
      kms_key_id:
        description: As O(kms_key_id).
        type: str
      value:
        description: As O(value).
        type: str
      overwrite_value:
        description: As O(overwrite_value).
        type: bool
      value_label:
        description: As O(value_label).
        type: str
      resource_policy:
        description: As O(resource_policy).
        type: json
      tags:
        description: As O(tags).
        type: dict
        aliases: ['resource_tags']
      purge_tags:
        description: As O(purge_tags).
        type: bool
      recovery_window_days:
        description: As O(recovery_window_days).
        type: int
  state:
    description:
      - Whether the secret should exist.
      - V(absent) schedules the secret for deletion, see O(recovery_window_days).
    type: str
    choices: ['present', 'absent']
    default: present
  description:
    description:
      - Description of the secret. Updated in place when it differs.
      - When not set the description is not managed.
    type: str
  kms_key_id:
    description:
      - ARN, key ID or alias of the KMS key used to encrypt the secret.
      - When not set the key is not managed; on creation the AWS managed key C(aws/secretsmanager) is used.
      - Compared verbatim with the C(KmsKeyId) that C(DescribeSecret) returns, so use the same form
        (for example the key ARN) to stay idempotent.
    type: str
  value:
    description:
      - The secret string.
      - When not set a new secret is created without any value, and an existing value is left alone.
      - See O(overwrite_value) for when an existing secret's value is written.
    type: str
  overwrite_value:
    description:
      - When V(false), O(value) is only written if the secret has no current value yet
        (no version carries the C(AWSCURRENT) stage). An existing value is never read nor replaced.
      - When V(true), the current value is read with C(GetSecretValue) and replaced only if it differs from O(value).
    type: bool
    default: false
  value_label:
    description:
      - A staging label that names O(value) without revealing it, for example a digest of the parts of the value
        that are no secret. 1 to 256 characters, not C(AWSCURRENT), C(AWSPREVIOUS) nor C(AWSPENDING).
      - When set, O(value) is written (its version carrying this label and C(AWSCURRENT)) unless the current
        version already carries the label; the current value is never read, and O(overwrite_value) is ignored.
        A value put by hand has a version without the label, so it is replaced.
    type: str
  resource_policy:
    description:
      - The secret's resource policy, a JSON document (text or dict), put with C(BlockPublicPolicy).
      - Compared by meaning with the current policy (C(GetResourcePolicy), made only when this is set) and put
        only when it differs; an empty document (V({}) or V("")) removes the policy.
      - When not set the policy is not managed.
    type: json
  recovery_window_days:
    description:
      - Number of days AWS keeps a secret deleted with O(state=absent) before it is removed for good.
      - Must be between V(7) and V(30), or V(0) to delete immediately without any recovery window.
      - A secret that is already scheduled for deletion is left alone by O(state=absent)
        and restored by O(state=present).
    type: int
    default: 30
notes:
  - In check mode nothing is changed; RV(secret.value_written) then tells whether a value would be written.
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.tags
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Create the secret without a value, the value is set out of band
  sage.infra.secretsmanager_secret:
    name: sage/anthropic-api-key
    description: Anthropic API key used by the Sage.ai backend
    tags:
      app: sage

- name: Seed a value only if the secret has none yet
  sage.infra.secretsmanager_secret:
    name: sage/session-signing-key
    value: "{{ lookup('ansible.builtin.password', '/dev/null', length=64) }}"

- name: Enforce a value, replacing it when it differs
  sage.infra.secretsmanager_secret:
    name: sage/db-password
    value: "{{ db_password }}"
    overwrite_value: true

- name: A value built from an endpoint, rewritten when the endpoint changes or the value was replaced by hand
  sage.infra.secretsmanager_secret:
    name: sage/database-url
    value: "postgresql://{{ user }}:{{ password }}@{{ endpoint }}/sage"
    value_label: "sage-{{ (('postgresql://' ~ user ~ '@' ~ endpoint ~ '/sage') | hash('sha256'))[:16] }}"
  no_log: true

- name: Several secrets in one run, sharing their tags
  sage.infra.secretsmanager_secret:
    secrets:
      - {name: sage/anthropic-api-key, description: Anthropic API key, value: "{{ vault_anthropic_api_key }}"}
      - {name: sage/discord-webhook-errors, description: Discord webhook of the errors channel}
    tags:
      app: sage
  no_log: true

- name: Only the application's execution role may read the value (and the operators, listed in the condition)
  sage.infra.secretsmanager_secret:
    name: sage/anthropic-api-key
    resource_policy:
      Version: "2012-10-17"
      Statement:
        - Sid: OnlyTheListedPrincipals
          Effect: Deny
          Principal: "*"
          Action: secretsmanager:*
          Resource: "*"
          Condition:
            StringNotEquals:
              aws:PrincipalArn:
                - arn:aws:iam::123456789012:role/sage-ecs-task-execution
                - arn:aws:iam::123456789012:role/ops

- name: Delete a secret at once, without a recovery window
  sage.infra.secretsmanager_secret:
    name: sage/old-secret
    state: absent
    recovery_window_days: 0
"""

RETURN = r"""
secrets:
  description: With O(secrets), the result of each secret as in RV(secret), in the order given.
  type: list
  elements: dict
  returned: when O(secrets) is set
  sample: [{"arn": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:sage/anthropic-api-key-AbCdEf",
            "name": "sage/anthropic-api-key", "has_value": true, "value_written": false}]
secret:
  description: The secret after the run. Empty when O(state=absent) and the secret does not exist.
  type: dict
  returned: when O(name) is set
  contains:
    arn:
      description: ARN of the secret. V(null) for a secret that would be created in check mode.
      type: str
      sample: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:sage/anthropic-api-key-AbCdEf"
    name:
      description: Name of the secret.
      type: str
      sample: "sage/anthropic-api-key"
    description:
      description: Description of the secret.
      type: str
      sample: "Anthropic API key used by the Sage.ai backend"
    kms_key_id:
      description: KMS key of the secret, V(null) for the AWS managed key.
      type: str
      sample: "arn:aws:kms:eu-west-1:123456789012:key/abcd1234-abcd-1234-5678-ef1234567890"
    tags:
      description: Tags of the secret.
      type: dict
      sample: {"app": "sage"}
    has_value:
      description: Whether the secret has a current (V(AWSCURRENT)) value.
      type: bool
      sample: true
    value_labels:
      description: The staging labels of the current value other than V(AWSCURRENT) (see O(value_label)).
      type: list
      elements: str
      sample: ["sage-0123456789abcdef"]
    scheduled_for_deletion:
      description: Whether the secret is scheduled for deletion.
      type: bool
      sample: false
    resource_policy:
      description: The resource policy, V(null) for none.
      type: dict
      returned: when O(resource_policy) is set
    value_written:
      description: Whether this run wrote (or in check mode would write) a value.
      type: bool
      sample: false
    deleted_date:
      description: When the secret is (to be) deleted.
      type: str
      returned: when the secret is scheduled for deletion
      sample: "2025-01-31T12:00:00+00:00"
"""

import json

try:
    import botocore
except ImportError:
    pass  # caught by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.amazon.aws.plugins.module_utils.tagging import (
    ansible_dict_to_boto3_tag_list,
    compare_aws_tags,
)
from ansible_collections.sage.infra.plugins.module_utils.stack import canonical_policy
from ansible_collections.sage.infra.plugins.module_utils.stack_secretsmanager import (
    CURRENT,
    changed_attributes,
    policy_of,
    secret_view,
)
from ansible_collections.sage.infra.plugins.module_utils.state import exit_for_states, repeated_names

RESERVED_LABELS = (CURRENT, "AWSPREVIOUS", "AWSPENDING")


def call(module, client, action, what, name, **kwargs):
    try:
        return getattr(client, action)(aws_retry=True, **kwargs)
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        module.fail_json_aws(e, msg=f"Failed to {what} secret {name}")


def describe_secret(module, client, name):
    try:
        return client.describe_secret(aws_retry=True, SecretId=name)
    except is_boto3_error_code("ResourceNotFoundException"):
        return None
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:  # pylint: disable=duplicate-except
        module.fail_json_aws(e, msg=f"Failed to describe secret {name}")


def desired_of(params):
    """What the options ask of an existing secret, in the vocabulary of secret_view (tags apart: purge_tags)."""
    desired = {"scheduled_for_deletion": False}
    for key in ("description", "kms_key_id"):
        if params[key] is not None:
            desired[key] = params[key]
    if params["value"] is not None:
        desired["has_value"] = True
        if params["value_label"]:
            desired["value_labels"] = [params["value_label"]]
    return desired


def write_value(module, client, name, value, label):
    """PutSecretValue; with a label, the new version carries it next to AWSCURRENT."""
    stages = {"VersionStages": [CURRENT, label]} if label else {}
    call(module, client, "put_secret_value", "write the value of", name, SecretId=name, SecretString=value, **stages)


def wanted_policy(params):
    """The resource policy asked for as a dict, None for none (an empty document)."""
    document = params["resource_policy"]
    return (json.loads(document) or None) if document else None


def policy_differs(module, client, params, before):
    """Whether the secret's resource policy differs from O(resource_policy); reads it (into before) only when set."""
    if params["resource_policy"] is None:
        return False
    if before["scheduled_for_deletion"]:
        return True  # unreadable until restored: put again after the restore
    before["resource_policy"] = policy_of(
        call(module, client, "get_resource_policy", "read the policy of", params["name"], SecretId=params["name"])
    )
    return canonical_policy(before["resource_policy"]) != canonical_policy(wanted_policy(params))


def write_policy(module, client, name, document):
    """PutResourcePolicy (public policies refused), or DeleteResourcePolicy for none."""
    if document is None:
        call(module, client, "delete_resource_policy", "remove the policy of", name, SecretId=name)
    else:
        policy = json.dumps(document)
        call(
            module,
            client,
            "put_resource_policy",
            "set the policy of",
            name,
            SecretId=name,
            ResourcePolicy=policy,
            BlockPublicPolicy=True,
        )


def ensure_present(module, client, params, secret):
    name, value = params["name"], params["value"]
    check = module.check_mode

    if secret is None:
        after = {
            "description": params["description"],
            "kms_key_id": params["kms_key_id"],
            "tags": params["tags"] or {},
            "has_value": value is not None,
        }
        arn = None
        if not check:
            kwargs = {"Name": name}
            if params["description"] is not None:
                kwargs["Description"] = params["description"]
            if params["kms_key_id"] is not None:
                kwargs["KmsKeyId"] = params["kms_key_id"]
            if params["tags"]:
                kwargs["Tags"] = ansible_dict_to_boto3_tag_list(params["tags"])
            if value is not None and not params["value_label"]:
                kwargs["SecretString"] = value
            arn = call(module, client, "create_secret", "create", name, **kwargs)["ARN"]
            if value is not None and params["value_label"]:
                write_value(module, client, name, value, params["value_label"])
        if value is not None and params["value_label"]:
            after["value_labels"] = [params["value_label"]]
        if params["resource_policy"] is not None:
            after["resource_policy"] = wanted_policy(params)
            if not check and after["resource_policy"] is not None:
                write_policy(module, client, name, after["resource_policy"])
        return True, dict(arn=arn, name=name, value_written=value is not None, **after), {}, after

    before = secret_view(secret)
    new_policy = policy_differs(module, client, params, before)
    after = dict(before, tags=dict(before["tags"]))
    if new_policy:
        after["resource_policy"] = wanted_policy(params)
    differs = changed_attributes(desired_of(params), before)
    restore = "scheduled_for_deletion" in differs
    if restore:
        del after["deleted_date"]
        after["scheduled_for_deletion"] = False
        if not check:
            call(module, client, "restore_secret", "restore", name, SecretId=name)

    update = {}
    if "description" in differs:
        update["Description"] = after["description"] = params["description"]
    if "kms_key_id" in differs:
        update["KmsKeyId"] = after["kms_key_id"] = params["kms_key_id"]

    tags_to_set, tags_to_unset = {}, []
    if params["tags"] is not None:
        tags_to_set, tags_to_unset = compare_aws_tags(before["tags"], params["tags"], params["purge_tags"])
        for key in tags_to_unset:
            after["tags"].pop(key, None)
        after["tags"].update(tags_to_set)

    label = params["value_label"] if value is not None else None
    if value is None:
        written = False
    elif label or "has_value" in differs:
        written = "has_value" in differs or "value_labels" in differs
    elif params["overwrite_value"] and restore and check:
        written = True  # a secret scheduled for deletion cannot be read before it is restored
    elif params["overwrite_value"]:
        current = call(module, client, "get_secret_value", "read the value of", name, SecretId=name)
        written = current.get("SecretString") != value
    else:
        written = False
    after["has_value"] = before["has_value"] or written
    if written:
        after["value_labels"] = [label] if label else []

    changed = restore or new_policy or bool(update or tags_to_set or tags_to_unset or written)
    if changed and not check:
        if update:
            call(module, client, "update_secret", "update", name, SecretId=name, **update)
        if tags_to_unset:
            call(module, client, "untag_resource", "untag", name, SecretId=name, TagKeys=tags_to_unset)
        if tags_to_set:
            tags = ansible_dict_to_boto3_tag_list(tags_to_set)
            call(module, client, "tag_resource", "tag", name, SecretId=name, Tags=tags)
        if written:
            write_value(module, client, name, value, label)
        if new_policy:
            write_policy(module, client, name, after["resource_policy"])

    result = dict(arn=secret["ARN"], name=secret["Name"], value_written=written, **after)
    return changed, result, before, after


def ensure_absent(module, client, params, secret):
    if secret is None:
        return False, {}, {}, {}
    before = secret_view(secret)
    result = dict(arn=secret["ARN"], name=secret["Name"], value_written=False, **before)
    if "deleted_date" in before:
        return False, result, before, before
    if not module.check_mode:
        name, days = params["name"], params["recovery_window_days"]
        kwargs = {"ForceDeleteWithoutRecovery": True} if days == 0 else {"RecoveryWindowInDays": days}
        response = call(module, client, "delete_secret", "delete", name, SecretId=name, **kwargs)
        if response.get("DeletionDate"):
            result["deleted_date"] = response["DeletionDate"].isoformat()
    return True, result, before, {}


SECRET_OPTIONS = {
    "name": {"type": "str"},
    "state": {"type": "str", "default": "present", "choices": ["present", "absent"]},
    "description": {"type": "str"},
    "kms_key_id": {"type": "str", "no_log": False},
    "value": {"type": "str", "no_log": True},
    "overwrite_value": {"type": "bool", "default": False},
    "value_label": {"type": "str", "no_log": False},
    "resource_policy": {"type": "json"},
    "tags": {"type": "dict", "aliases": ["resource_tags"]},
    "purge_tags": {"type": "bool", "default": True},
    "recovery_window_days": {"type": "int", "default": 30},
}
# An item of O(secrets): the same options without defaults, so that one it does not set is the module's.
ITEM_OPTIONS = {
    key: {**{k: v for k, v in spec.items() if k != "default"}, **({"required": True} if key == "name" else {})}
    for key, spec in SECRET_OPTIONS.items()
}


def secrets_of_run(params):
    """The options of each secret of the run: O(name)'s alone, or each item of O(secrets) over the defaults."""
    shared = {key: params[key] for key in SECRET_OPTIONS}
    items = (
        [shared]
        if params["secrets"] is None
        else [
            {**shared, **{key: value for key, value in item.items() if value is not None}} for item in params["secrets"]
        ]
    )
    error = repeated_names("secrets", [item["name"] for item in items])
    if error:
        return None, error
    for item in items:
        label = item["value_label"]
        if label is not None and (label in RESERVED_LABELS or not 1 <= len(label) <= 256):
            return None, f"value_label must be 1 to 256 characters, not an AWS stage; got {label!r} for {item['name']}"
        days = item["recovery_window_days"]
        if days != 0 and not 7 <= days <= 30:
            return None, (
                f"recovery_window_days must be between 7 and 30, or 0 to delete without recovery; "
                f"got {days} for {item['name']}"
            )
    return items, None


def main():
    argument_spec = {
        **SECRET_OPTIONS,
        # Not no_log as a whole (names, descriptions and tags are shown); each item's value is, by its own spec.
        "secrets": {"type": "list", "elements": "dict", "options": ITEM_OPTIONS, "no_log": False},
    }
    module = AnsibleAWSModule(
        argument_spec=argument_spec,
        supports_check_mode=True,
        mutually_exclusive=[["name", "secrets"]],
        required_one_of=[["name", "secrets"]],
    )
    items, error = secrets_of_run(module.params)
    if error:
        module.fail_json(msg=error)

    client = module.client("secretsmanager", retry_decorator=AWSRetry.jittered_backoff())
    outcomes = {}  # name: (changed, result, before, after)
    for params in items:
        ensure = ensure_present if params["state"] == "present" else ensure_absent
        outcomes[params["name"]] = ensure(module, client, params, describe_secret(module, client, params["name"]))
    exit_for_states(module, "secret", "secrets", outcomes)


if __name__ == "__main__":
    main()
