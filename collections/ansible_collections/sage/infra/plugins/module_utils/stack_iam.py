# Copyright: Contributors to the sage-infra project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""IAM roles with their inline policies, as amazon.aws.iam_role (description, trust policy, tags with
purge_tags, maximum session duration) and amazon.aws.iam_policy (one inline policy each) manage them.

A role owns its inline policies: the desired ``inline_policies`` is the whole set, so one someone added by
hand is a difference (the role removes it)."""

from __future__ import annotations

from ansible_collections.sage.infra.plugins.module_utils.stack import Kind, fan_out, register, tag_dict

register(Kind("iam_role", policies=("trust_policy",), policy_maps=("inline_policies",)))


def read_roles(client, names):
    """{name: view or None}: GetRole, ListRolePolicies and one GetRolePolicy per inline policy."""

    def read(name):
        try:
            role = client.get_role(RoleName=name)["Role"]
        except client.exceptions.NoSuchEntityException:
            return None
        policy_names = [
            policy
            for page in client.get_paginator("list_role_policies").paginate(RoleName=name)
            for policy in page["PolicyNames"]
        ]
        return {
            "arn": role["Arn"],
            "description": role.get("Description", ""),
            "trust_policy": role.get("AssumeRolePolicyDocument"),
            "max_session_duration": role.get("MaxSessionDuration"),
            "tags": tag_dict(role.get("Tags")),
            "inline_policies": {
                policy: client.get_role_policy(RoleName=name, PolicyName=policy)["PolicyDocument"]
                for policy in policy_names
            },
        }

    return fan_out(read, names)


def extra_inline_policies(entry):
    """The inline policies a plan entry of a role found that the stack did not put there (to be removed)."""
    if entry.get("action") != "update":
        return []
    current = (entry.get("current") or {}).get("inline_policies") or {}
    desired = (entry.get("desired") or {}).get("inline_policies")
    return sorted(set(current) - set(desired)) if desired is not None else []


READERS = {"iam_role": ("iam", read_roles)}
