#!/usr/bin/python


# Copyright: Contributors to the sage-infra project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: postgresql_migrate
version_added: 0.1.0
short_description: Run a database migration with a verified backup first and a real rollback
description:
  - Takes a PostgreSQL advisory lock (one migration at a time; a second one fails at once, naming the
    session that holds it), backs the database up to S3 exactly as M(sage.infra.postgresql_backup) does, then
    runs O(command) with C(DATABASE_URL) in its environment.
  - When the command fails, the database is restored from that backup (its schemas dropped and the backup
    replayed in one transaction), then dumped again and compared with the backup. The module fails saying
    the backup, the command's error, and whether the database is verifiably back to its state before.
  - Each step is logged with a timestamp to RV(log) and, with O(log_file), appended to that file.
author:
  - sage-infra developers (!UNKNOWN)
requirements:
  - psycopg >= 3.1 (the advisory lock is held on its own session)
options:
  database_url:
    description:
      - The database, as C(postgresql://user:password@host:port/database). Given as is to O(command) as
        C(DATABASE_URL) (Prisma's own parameters included).
    type: str
    required: true
  command:
    description:
      - The migration command, run with C(/bin/sh -c) in O(chdir).
    type: str
    default: npx prisma migrate deploy
  chdir:
    description:
      - Directory to run O(command) in.
    type: path
  environment:
    description:
      - Other environment variables for O(command).
    type: dict
    default: {}
  timeout:
    description:
      - Seconds the command may run before it is stopped (and the database restored).
    type: int
    default: 1800
  compress_level:
    description:
      - gzip level of the backup, 0 to 9.
    type: int
    default: 6
  lock_key:
    description:
      - The advisory lock's key (a 64-bit integer) that two migrations of the same database share.
    type: int
    default: 7242024
notes:
  - In check mode the connection, the versions, the bucket and the lock are checked, and the module reports
    the backup it would take and the command it would run, changing nothing.
  - The backup is in the plain format, so that the database after a rollback can be compared with it.
extends_documentation_fragment:
  - sage.infra.postgres_backup
  - sage.infra.postgres_backup.client
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Migrate with a backup first
  sage.infra.postgresql_migrate:
    database_url: "{{ database_url }}"
    bucket: sage-backups
    command: npx prisma migrate deploy
    chdir: /srv/sage-backend
"""

RETURN = r"""
backup:
  description: Key of the backup taken before the migration.
  returned: when it was taken
  type: str
output:
  description: The last lines of the command's output (stdout and stderr), the password masked.
  returned: when the command ran
  type: str
rolled_back:
  description: Whether the database was restored after a failure.
  returned: always
  type: bool
log:
  description: The steps, each with its timestamp.
  returned: always
  type: list
  elements: str
"""

import os

try:
    import psycopg
except ImportError:
    psycopg = None

try:
    from botocore.exceptions import BotoCoreError, ClientError
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.sage.infra.plugins.module_utils import postgres_backup as pg


def lock(env, key):
    """A session holding the advisory lock, or a BackupError naming who holds it."""
    try:
        connection = _connect(env)
    except psycopg.Error as error:
        raise pg.BackupError(pg.redact(f"cannot take the migration lock: {error}", env)) from None
    if connection.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()[0]:
        return connection
    holder = connection.execute(
        "SELECT a.pid, a.application_name, a.client_addr::text, a.backend_start::text FROM pg_locks l "
        "JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 "
        "AND (l.classid::bigint << 32 | l.objid::bigint) = %s",
        (key,),
    ).fetchone()
    connection.close()
    who = f" (pid {holder[0]} {holder[1] or ''} from {holder[2] or 'local'}, since {holder[3]})" if holder else ""
    raise pg.BackupError(f"another migration holds the lock of {env['PGDATABASE']}{who}: nothing was done")


def _connect(env):
    return psycopg.connect(
        host=env["PGHOST"],
        port=env["PGPORT"],
        user=env["PGUSER"],
        password=env["PGPASSWORD"],
        dbname=env["PGDATABASE"],
        sslmode=env.get("PGSSLMODE", "prefer"),
        sslrootcert=env.get("PGSSLROOTCERT"),
        connect_timeout=int(env.get("PGCONNECT_TIMEOUT", "10")),
        autocommit=True,
        application_name="sage-migrate",
    )


def main():
    argument_spec = {
        **pg.BACKUP_ARGUMENTS,
        **pg.CLIENT_ARGUMENTS,
        "database_url": {"type": "str", "required": True, "no_log": True},
        "command": {"type": "str", "default": "npx prisma migrate deploy"},
        "chdir": {"type": "path"},
        "environment": {"type": "dict", "default": {}},
        "timeout": {"type": "int", "default": 1800},
        "compress_level": {"type": "int", "default": 6},
        "lock_key": {"type": "int", "default": 7242024, "no_log": False},
    }
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    params = module.params
    if psycopg is None:
        module.fail_json(msg="postgresql_migrate needs psycopg on the control node: pip install 'psycopg[binary]'")
    if params["chdir"] and not os.path.isdir(params["chdir"]):
        module.fail_json(msg=f"chdir {params['chdir']} is not a directory")
    result = {"changed": False, "rolled_back": False, "log": []}
    log = session = None
    try:
        log = pg.StepLog(params["log_file"], "migrate")
        result["log"] = log.lines
        env = pg.parse_url(params["database_url"])
        log(f"checking the connection to {env['PGHOST']}:{env['PGPORT']}/{env['PGDATABASE']}")
        major, version = pg.server_version(env, params["pg_bindir"])
        pg.check_pg_dump(major, params["pg_bindir"])
        client = module.client("s3", retry_decorator=AWSRetry.jittered_backoff())
        pg.check_bucket(client, params["bucket"])
        session = lock(env, params["lock_key"])
        log(f"took the migration lock ({params['lock_key']})")
        key = pg.backup_key(params["prefix"], "plain")
        if module.check_mode:
            log(f"check mode: would back up to s3://{params['bucket']}/{key}, then run: {params['command']}")
            module.exit_json(**result)
        transfer = module.client("s3")
        written = pg.take_backup(
            transfer,
            params["bucket"],
            key,
            env,
            version,
            compress_level=params["compress_level"],
            bindir=params["pg_bindir"],
            log=log,
        )
        result.update(backup=key, changed=True)
        log(f"running: {params['command']}")
        environment = {
            **os.environ,
            **{k: str(v) for k, v in params["environment"].items()},
            "DATABASE_URL": params["database_url"],
        }
        code, result["output"] = pg.run_command(params["command"], params["chdir"], environment, params["timeout"], env)
        if code == 0:
            log("migration applied")
            module.exit_json(**result)
        log(f"migration failed (exit {code}); restoring {key}")
        backup = pg.describe(client, params["bucket"], key)
        pg.stream_restore(
            transfer,
            params["bucket"],
            backup,
            env,
            replace=True,
            bindir=params["pg_bindir"],
            log=log,
        )
        result["rolled_back"] = True
        same = pg.dump_sha256(env, params["pg_bindir"]) == written["dump_sha256"]
        state = (
            "is back to its state before the migration (verified: same dump)"
            if same
            else ("was restored but its dump differs from the backup's: check it")
        )
        log(f"the database {state}")
        last = [line for line in result["output"].splitlines() if line.strip()]
        module.fail_json(
            msg=f"migration failed (exit {code}: {last[-1] if last else 'no output'}); the database {state}; "
            f"backup s3://{params['bucket']}/{key}",
            **result,
        )
    except (pg.BackupError, BotoCoreError, ClientError) as error:
        pg.fail(module, error, log, result)
    finally:
        if session is not None:
            session.close()


if __name__ == "__main__":
    main()
