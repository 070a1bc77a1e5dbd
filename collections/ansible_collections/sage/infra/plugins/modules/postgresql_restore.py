#!/usr/bin/python


# Copyright: Contributors to the sage-infra project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: postgresql_restore
version_added: 0.1.0
short_description: Restore a PostgreSQL backup from S3, checksum first, in one transaction
description:
  - Restores the newest backup under O(prefix), or the one named by O(backup), made by
    M(sage.infra.postgresql_backup), into the database of O(database_url).
  - The object is read a first time and its SHA-256 compared with the one recorded in its metadata, so a corrupt
    backup is refused before anything is restored. It is then streamed (same object version) into
    C(psql --single-transaction), where a failure rolls everything back and the target is left as it was.
  - A target that does not exist is created (unless O(create_database=false)). A target that holds tables,
    views, sequences or functions is refused unless O(replace=true); replacing drops its schemas inside the
    same transaction as the restore.
author:
  - sage-infra developers (!UNKNOWN)
options:
  database_url:
    description:
      - The target database, as C(postgresql://user:password@host:port/database).
    type: str
    required: true
  backup:
    description:
      - The backup to restore, by name (V(backup_20261129_120000.sql.gz)) or key. The newest when not set.
    type: str
  replace:
    description:
      - Whether a target that is not empty may be replaced.
    type: bool
    default: false
  create_database:
    description:
      - Whether to create the target database when it does not exist.
    type: bool
    default: true
notes:
  - In check mode the backup is found and its checksum verified, the target is checked, and nothing is restored.
extends_documentation_fragment:
  - sage.infra.postgres_backup
  - sage.infra.postgres_backup.client
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Restore the newest backup into a fresh database
  sage.infra.postgresql_restore:
    database_url: postgresql://sage:{{ password }}@db.internal:5432/sage_restored
    bucket: sage-backups
"""

RETURN = r"""
key:
  description: Key of the backup restored (or, in check mode, to be restored).
  returned: when a backup was found
  type: str
sha256:
  description: SHA-256 of the backup, verified before restoring.
  returned: when a backup was found
  type: str
created:
  description: Whether the target database was created.
  returned: always
  type: bool
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


def choose(client, bucket, prefix, wanted):
    backups = [item["key"] for item in pg.list_backups(client, bucket, prefix)]
    if not wanted:
        if not backups:
            raise pg.BackupError(f"no backup in s3://{bucket}/{prefix}")
        return backups[-1]
    key = wanted if wanted.startswith(prefix) and "/" in wanted else prefix + wanted
    if key not in backups:
        newest = f" (newest: {backups[-1].rsplit('/', 1)[-1]})" if backups else " (there is none)"
        raise pg.BackupError(f"backup {wanted} not found in s3://{bucket}/{prefix}{newest}")
    return key


def main():
    argument_spec = {
        **pg.BACKUP_ARGUMENTS,
        **pg.CLIENT_ARGUMENTS,
        "database_url": {"type": "str", "required": True, "no_log": True},
        "backup": {"type": "str"},
        "replace": {"type": "bool", "default": False},
        "create_database": {"type": "bool", "default": True},
    }
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    params = module.params
    result = {"changed": False, "created": False, "log": []}
    log = None
    try:
        log = pg.StepLog(params["log_file"], "restore")
        result["log"] = log.lines
        env = pg.parse_url(params["database_url"])
        client = module.client("s3", retry_decorator=AWSRetry.jittered_backoff())
        pg.check_bucket(client, params["bucket"])
        key = choose(client, params["bucket"], params["prefix"], params["backup"])
        backup = pg.describe(client, params["bucket"], key)
        result.update(key=key, sha256=backup["sha256"])
        log(f"backup s3://{params['bucket']}/{key} ({backup['bytes']} bytes, sha256 {backup['sha256']})")
        pg.verify_object(client, params["bucket"], backup)
        log("checksum verified")
        _major, version = pg.server_version(pg.with_database(env, "postgres"), params["pg_bindir"])
        exists = pg.database_exists(env, params["pg_bindir"])
        if not exists and not params["create_database"]:
            raise pg.BackupError(f"database {env['PGDATABASE']} does not exist (create_database is false)")
        occupied = exists and not pg.is_empty(env, params["pg_bindir"])
        if occupied and not params["replace"]:
            raise pg.BackupError(
                f"database {env['PGDATABASE']} is not empty: restore into a new database, or pass replace=true "
                "to drop its schemas (in the same transaction as the restore)"
            )
        if module.check_mode:
            log(f"check mode: would restore {key} into {env['PGDATABASE']} on PostgreSQL {version}")
            module.exit_json(**result)
        if not exists:
            pg.create_database(env, params["pg_bindir"])
            result.update(created=True, changed=True)
            log(f"created database {env['PGDATABASE']}")
        pg.stream_restore(
            module.client("s3"),
            params["bucket"],
            backup,
            env,
            replace=occupied,
            bindir=params["pg_bindir"],
            log=log,
        )
    except (pg.BackupError, BotoCoreError, ClientError) as error:
        pg.fail(module, error, log, result)
    result["changed"] = True
    module.exit_json(**result)


if __name__ == "__main__":
    main()
