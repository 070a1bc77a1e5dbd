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
    """The tags a resource should end with, from its current tags and the ``tags``/``purge_tags`` options.

    Values as text and reserved ``aws:`` tags kept, as AWS will report them (see tag_changes).
    """
    return tag_changes(current, tags, purge_tags)[2]


def tag_changes(current, tags, purge_tags):
    """(tags to set, tag keys to unset, resulting tags) to bring ``current`` to the ``tags``/``purge_tags`` options.

    As ``compare_aws_tags``: values are compared as text, and reserved ``aws:`` tags are never unset.
    """
    if tags is None:
        return {}, [], dict(current)
    to_set, to_unset = compare_aws_tags(current, tags, purge_tags)
    result = {key: value for key, value in current.items() if key not in to_unset}
    result.update(to_set)
    return to_set, to_unset, result


def apply_tags(module, client, arn, to_set, to_unset, what):
    """``UntagResource`` then ``TagResource`` on ``arn``, each only when needed, and not in check mode.

    ``what`` names the resource in error messages, for example ``cluster sage``.
    """
    if module.check_mode:
        return
    if to_unset:
        call(module, client, "untag_resource", f"untag {what}", resourceArn=arn, tagKeys=to_unset)
    if to_set:
        call(module, client, "tag_resource", f"tag {what}", resourceArn=arn, tags=dict_to_tags(to_set))


def sync_tags(module, client, arn, current, what):
    """Bring the tags of ``arn`` to the ``tags``/``purge_tags`` options (not in check mode); return the new tags.

    ``what`` names the resource in error messages, for example ``cluster sage``.
    """
    tags, purge = module.params["tags"], module.params["purge_tags"]
    if tags is None:
        return dict(current)
    to_set, to_unset, result = tag_changes(current, tags, purge)
    apply_tags(module, client, arn, to_set, to_unset, what)
    return result
