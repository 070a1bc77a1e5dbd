#!/usr/bin/python


# Copyright: Contributors to the sage-infra project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: backup_retention
version_added: 0.1.0
short_description: Keep the newest N backups in S3 and delete the older ones
description:
  - Lists the objects directly under O(prefix) whose names are those of M(sage.infra.postgresql_backup)
    (C(backup_YYYYMMDD_HHMMSS.sql.gz) or C(.dump)), orders them by the time in their names, and deletes all but
    the newest O(keep). Any other object (under the prefix or elsewhere) is never touched.
  - Run it only after a backup succeeded, so that a failing backup never thins out the good ones.
  - In a versioned bucket a deletion leaves the object as a noncurrent version, which the bucket's lifecycle
    expires later, so a pruned backup can still be recovered until then.
author:
  - sage-infra developers (!UNKNOWN)
options:
  keep:
    description:
      - How many of the newest backups to keep, at least 1.
    type: int
    default: 7
notes:
  - In check mode nothing is deleted; RV(deleted) lists what would be.
extends_documentation_fragment:
  - sage.infra.postgres_backup
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Keep the newest 7 backups
  sage.infra.backup_retention:
    bucket: sage-backups
    prefix: postgres/
    keep: 7
"""

RETURN = r"""
kept:
  description: Keys kept, oldest first.
  returned: always
  type: list
  elements: str
deleted:
  description: Keys deleted (or, in check mode, to be deleted), oldest first.
  returned: always
  type: list
  elements: str
log:
  description: The steps, each with its timestamp.
  returned: always
  type: list
  elements: str
"""

try:
    from botocore.exceptions import BotoCoreError, ClientError
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.sage.infra.plugins.module_utils import postgres_backup as pg

DELETE_BATCH = 1000  # DeleteObjects takes at most 1000 keys


def main():
    argument_spec = {
        **pg.BACKUP_ARGUMENTS,
        "keep": {"type": "int", "default": 7},
    }
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    bucket, prefix, keep = module.params["bucket"], module.params["prefix"], module.params["keep"]
    if keep < 1:
        module.fail_json(msg=f"keep must be at least 1 (the backup just taken), got {keep}")
    if prefix and not prefix.endswith("/"):
        module.fail_json(msg=f"prefix must be empty or end with '/', got '{prefix}'")
    client = module.client("s3", retry_decorator=AWSRetry.jittered_backoff())
    result = {"changed": False, "kept": [], "deleted": [], "log": []}
    log = None
    try:
        log = pg.StepLog(module.params["log_file"], "retention")
        result["log"] = log.lines
        pg.check_bucket(client, bucket)
        backups = [item["key"] for item in pg.list_backups(client, bucket, prefix)]
        deleted = pg.expired(backups, keep)
        verb = "would delete" if module.check_mode else "deleting"
        log(f"{len(backups)} backups in s3://{bucket}/{prefix}, keeping the newest {keep}; {verb} {len(deleted)}")
        if deleted and not module.check_mode:
            delete(client, bucket, deleted, log)
    except (pg.BackupError, BotoCoreError, ClientError) as error:
        pg.fail(module, error, log, result)
    result.update(changed=bool(deleted), kept=backups[len(deleted) :], deleted=deleted)
    module.exit_json(**result)


def delete(client, bucket, keys, log):
    for start in range(0, len(keys), DELETE_BATCH):
        batch = keys[start : start + DELETE_BATCH]
        response = client.delete_objects(
            Bucket=bucket, Delete={"Objects": [{"Key": key} for key in batch], "Quiet": True}
        )
        if response.get("Errors"):
            failed = ", ".join(f"{e['Key']} ({e.get('Code')})" for e in response["Errors"])
            raise pg.BackupError(f"could not delete {failed}")
        for key in batch:
            log(f"deleted {key}")


if __name__ == "__main__":
    main()
