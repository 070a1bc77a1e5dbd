# Copyright: Contributors to the sage-infra project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Helpers shared by the sage.infra ECS modules: error-handled client calls and ECS tags.

ECS spells its tags ``[{"key": ..., "value": ...}]`` (lower case), unlike most AWS services.
"""

from __future__ import annotations

try:  # noqa: SIM105 - the same guarded import as the modules'
    import botocore
except ImportError:
    pass  # caught by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.tagging import (
    ansible_dict_to_boto3_tag_list,
    boto3_tag_list_to_ansible_dict,
    compare_aws_tags,
)


def call(module, client, action, failure, **kwargs):
    """Return ``client.<action>(**kwargs)`` (retried); fail with ``Failed to <failure>`` on a botocore error."""
    try:
        return getattr(client, action)(aws_retry=True, **kwargs)
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        module.fail_json_aws(e, msg=f"Failed to {failure}")


def tags_to_dict(tags):
    """ECS tag list -> ``{key: value}``."""
    return boto3_tag_list_to_ansible_dict(tags or [], "key", "value")


def dict_to_tags(tags):
    """``{key: value}`` -> ECS tag list."""
    return ansible_dict_to_boto3_tag_list(tags or {}, "key", "value")


def desired_tags(current, tags, purge_tags):
    """The tags a resource should end with, from its current tags and the ``tags``/``purge_tags`` options."""
    if tags is None:
        return dict(current)
    return dict(tags) if purge_tags else {**current, **tags}


def sync_tags(module, client, arn, current, what):
    """Bring the tags of ``arn`` to the ``tags``/``purge_tags`` options (not in check mode); return the new tags.

    ``what`` names the resource in error messages, for example ``cluster sage``.
    """
    tags, purge = module.params["tags"], module.params["purge_tags"]
    if tags is None:
        return dict(current)
    to_set, to_unset = compare_aws_tags(current, tags, purge)
    if not module.check_mode:
        if to_unset:
            call(module, client, "untag_resource", f"untag {what}", resourceArn=arn, tagKeys=to_unset)
        if to_set:
            call(module, client, "tag_resource", f"tag {what}", resourceArn=arn, tags=dict_to_tags(to_set))
    return desired_tags(current, tags, purge)
