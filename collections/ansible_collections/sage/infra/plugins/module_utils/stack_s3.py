# Copyright: Contributors to the sage-infra project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""S3 buckets, as amazon.aws.s3_bucket manages them (public access block, object ownership, default encryption with
its key and bucket key, versioning, bucket policy, tags with purge_tags), and their lifecycle rules, one by one by
their ID, as community.aws.s3_lifecycle manages them.

amazon.aws.s3_bucket reads a bucket with 12 calls, one after the other; here each setting is one call, all of a
bucket's at once. A lifecycle rule is named ``<bucket>/<rule id>``; its view holds the s3_lifecycle options that
give exactly the rule S3 stores, and whatever else the stored rule has (a tag filter, transitions) under
``unmanaged``, which the stack never sets: such a rule differs, as it does for s3_lifecycle, which compares whole rules.
A bucket's server access logging (``s3_bucket_logging``) is what sage.infra.s3_bucket_logging manages.
"""

from __future__ import annotations

import json

from ansible_collections.sage.infra.plugins.module_utils.stack import Kind, fan_out, register, tag_dict

PUBLIC_ACCESS = {
    "BlockPublicAcls": "block_public_acls",
    "IgnorePublicAcls": "ignore_public_acls",
    "BlockPublicPolicy": "block_public_policy",
    "RestrictPublicBuckets": "restrict_public_buckets",
}


RULE_ATTRIBUTES = (
    "prefix",
    "status",
    "expiration_days",
    "expire_object_delete_marker",
    "noncurrent_version_expiration_days",
    "abort_incomplete_multipart_upload_days",
    "unmanaged",
)

LOGGING_ATTRIBUTES = ("target_bucket", "target_prefix")

register(
    Kind("s3_bucket", policies=("policy",)),
    Kind("s3_lifecycle_rule", complete=RULE_ATTRIBUTES),
    Kind("s3_bucket_logging", complete=LOGGING_ATTRIBUTES),
)


def _code(error):
    return error.response.get("Error", {}).get("Code")


def _public_access(client, name):
    block = client.get_public_access_block(Bucket=name)["PublicAccessBlockConfiguration"]
    return {PUBLIC_ACCESS.get(key, key): value for key, value in block.items()}


def _object_ownership(client, name):
    rules = client.get_bucket_ownership_controls(Bucket=name)["OwnershipControls"]["Rules"]
    return rules[0]["ObjectOwnership"] if len(rules) == 1 else rules


def _encryption(client, name):
    rules = client.get_bucket_encryption(Bucket=name)["ServerSideEncryptionConfiguration"]["Rules"]
    rule = rules[0] if rules else {}
    default = rule.get("ApplyServerSideEncryptionByDefault") or {}
    return {
        "encryption": default.get("SSEAlgorithm"),
        "encryption_key_id": default.get("KMSMasterKeyID"),
        "bucket_key_enabled": rule.get("BucketKeyEnabled"),
    }


def _policy(client, name):
    return json.loads(client.get_bucket_policy(Bucket=name)["Policy"])


# Each setting: how it is read, and the error S3 answers when the bucket has none.
BUCKET_READS = {
    "versioning": (lambda client, name: client.get_bucket_versioning(Bucket=name).get("Status") == "Enabled", None),
    "public_access": (_public_access, "NoSuchPublicAccessBlockConfiguration"),
    "object_ownership": (_object_ownership, "OwnershipControlsNotFoundError"),
    "encryption": (_encryption, "ServerSideEncryptionConfigurationNotFoundError"),
    "policy": (_policy, "NoSuchBucketPolicy"),
    "tags": (lambda client, name: tag_dict(client.get_bucket_tagging(Bucket=name)["TagSet"]), "NoSuchTagSet"),
}


class _NoBucket(Exception):
    pass


def _setting(client, name, setting):
    read, none = BUCKET_READS[setting]
    try:
        return read(client, name)
    except client.exceptions.ClientError as error:
        if _code(error) == "NoSuchBucket":
            raise _NoBucket() from error
        if _code(error) != none:
            raise
        return {} if setting in ("tags", "encryption") else None


def read_buckets(client, names):
    """{name: {versioning, public_access, object_ownership, encryption, encryption_key_id, bucket_key_enabled,
    policy, tags} or None}: one call per setting, all at once (and the buckets at once)."""

    def read(name):
        try:
            settings = fan_out(lambda setting: _setting(client, name, setting), BUCKET_READS)
        except _NoBucket:
            return None
        view = dict(settings)
        view.update(view.pop("encryption") or dict.fromkeys(("encryption", "encryption_key_id", "bucket_key_enabled")))
        return view

    return fan_out(read, names)


def _only(value, key):
    """value[key] when value is a dict holding exactly that key; otherwise None (not a form the stack sets)."""
    return value[key] if isinstance(value, dict) and list(value) == [key] else None


def rule_view(rule):
    """A stored lifecycle rule as the s3_lifecycle options that give it, the rest under unmanaged."""
    view = dict.fromkeys(RULE_ATTRIBUTES)
    unmanaged = {key: value for key, value in rule.items() if key not in ("ID", "Status")}
    view["status"] = rule.get("Status")
    for key, attribute, inner in (
        ("Filter", "prefix", "Prefix"),
        ("NoncurrentVersionExpiration", "noncurrent_version_expiration_days", "NoncurrentDays"),
        ("AbortIncompleteMultipartUpload", "abort_incomplete_multipart_upload_days", "DaysAfterInitiation"),
        ("Expiration", "expiration_days", "Days"),
        ("Expiration", "expire_object_delete_marker", "ExpiredObjectDeleteMarker"),
    ):
        value = _only(rule.get(key), inner)
        if value is not None:
            view[attribute] = value
            unmanaged.pop(key, None)
    view["unmanaged"] = unmanaged or None
    return view


def read_lifecycle_rules(client, names):
    """{"<bucket>/<rule id>": rule_view or None}: one GetBucketLifecycleConfiguration call per bucket."""
    wanted = {name: name.partition("/")[::2] for name in names or []}

    def read(bucket):
        try:
            rules = client.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
        except client.exceptions.ClientError as error:
            if _code(error) not in ("NoSuchLifecycleConfiguration", "NoSuchBucket"):
                raise
            return {}
        return {rule["ID"]: rule_view(rule) for rule in rules if rule.get("ID")}

    rules = fan_out(read, [parts[0] for parts in wanted.values()])
    return {name: rules[bucket].get(rule_id) for name, (bucket, rule_id) in wanted.items()}


def logging_view(status):
    """A GetBucketLogging response as {target_bucket, target_prefix}, both None when server access logging is off."""
    enabled = (status or {}).get("LoggingEnabled") or {}
    return {"target_bucket": enabled.get("TargetBucket"), "target_prefix": enabled.get("TargetPrefix")}


def read_bucket_logging(client, names):
    """{bucket: logging_view or None (no such bucket)}: one GetBucketLogging call per bucket."""

    def read(name):
        try:
            return logging_view(client.get_bucket_logging(Bucket=name))
        except client.exceptions.ClientError as error:
            if _code(error) != "NoSuchBucket":
                raise
            return None

    return fan_out(read, names)


READERS = {
    "s3_bucket": ("s3", read_buckets),
    "s3_lifecycle_rule": ("s3", read_lifecycle_rules),
    "s3_bucket_logging": ("s3", read_bucket_logging),
}
