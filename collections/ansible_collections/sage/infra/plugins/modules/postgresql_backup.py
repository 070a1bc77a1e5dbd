#!/usr/bin/python


# Copyright: Contributors to the sage-infra project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: postgresql_backup
version_added: 0.1.0
short_description: Stream a PostgreSQL dump into S3, verified, without writing it to local disk
description:
  - Checks that the database answers and that the local C(pg_dump) is at least the server's major version
    (an older C(pg_dump) refuses a newer server), and that the bucket exists and can be reached.
  - Streams C(pg_dump) into S3 with boto3's transfer manager (multipart upload; memory bounded by
    O(part_size_mb) times O(concurrency), whatever the size of the database; nothing written to local disk).
    The plain format (the default) is gzip-compressed on the way, as C(backup_YYYYMMDD_HHMMSS.sql.gz),
    restorable anywhere with C(gunzip | psql); the custom format (C(.dump), compressed by C(pg_dump))
    allows selective and parallel restores with C(pg_restore) from a downloaded file.
  - The dump is uploaded under C(<prefix>incoming/), compared with the SHA-256 S3 computed of what it
    received, then copied to its final name with its SHA-256 and sizes in its metadata (S3 computes the
    SHA-256 of the copy, which must match), and the staging object is removed. An object with a final name
    is therefore always a complete, verified backup.
  - Each step is logged with a timestamp to RV(log) and, with O(log_file), appended to that file.
  - Old backups are pruned by M(sage.infra.backup_retention), after this module succeeded.
author:
  - sage-infra developers (!UNKNOWN)
options:
  database_url:
    description:
      - The database, as C(postgresql://user:password@host:port/database), for example the stack's DATABASE_URL.
        Parameters libpq does not know (such as Prisma's C(connection_limit)) are ignored; C(sslmode) is used.
      - The password is given to C(pg_dump) through its environment, never on a command line.
    type: str
    required: true
  format:
    description:
      - V(plain) (SQL, gzip-compressed here) or V(custom) (C(pg_dump -Fc)).
    type: str
    choices: [plain, custom]
    default: plain
  compress_level:
    description:
      - Compression level, 0 (none) to 9. 6 is gzip's default; 1 is several times faster for about 20% more bytes.
    type: int
    default: 6
  part_size_mb:
    description:
      - Size of each part of the multipart upload in MiB, 5 to 5120. With at most 10000 parts, 16 MiB allows
        backups up to about 156 GiB; memory use is about O(part_size_mb) times (O(concurrency) + 1).
    type: int
    default: 16
  concurrency:
    description:
      - Parts uploaded at the same time, 1 to 32.
    type: int
    default: 4
notes:
  - In check mode the connection, the versions and the bucket are checked and nothing is dumped or uploaded.
extends_documentation_fragment:
  - sage.infra.postgres_backup
  - sage.infra.postgres_backup.client
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Back up the database
  sage.infra.postgresql_backup:
    database_url: "{{ lookup('amazon.aws.secretsmanager_secret', 'sage/database-url') }}"
    bucket: sage-backups
    log_file: /var/log/backup.log
  register: backup
"""

RETURN = r"""
key:
  description: Key of the backup (in check mode, the key it would have).
  returned: always
  type: str
  sample: postgres/backup_20261129_120000.sql.gz
bucket:
  description: The bucket.
  returned: always
  type: str
bytes:
  description: Size of the object in S3.
  returned: success, not in check mode
  type: int
dump_bytes:
  description: Size of the dump before compression.
  returned: success, not in check mode
  type: int
sha256:
  description: SHA-256 (hex) of the object, also in its metadata.
  returned: success, not in check mode
  type: str
seconds:
  description: Wall time of the dump and upload.
  returned: success, not in check mode
  type: float
dump_mb_per_second:
  description: MiB of dump per second.
  returned: success, not in check mode
  type: float
server_version:
  description: Version of the PostgreSQL server.
  returned: always
  type: str
pg_dump_version:
  description: Major version of the pg_dump used.
  returned: always
  type: int
log:
  description: The steps, each with its timestamp (also on failure).
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


def validate(params):
    errors = []
    if params["prefix"] and not params["prefix"].endswith("/"):
        errors.append(f"prefix must be empty or end with '/', got '{params['prefix']}'")
    if not 0 <= params["compress_level"] <= 9:
        errors.append(f"compress_level must be 0 to 9, got {params['compress_level']}")
    if not 5 <= params["part_size_mb"] <= 5120:
        errors.append(f"part_size_mb must be 5 to 5120 (S3's part sizes), got {params['part_size_mb']}")
    if not 1 <= params["concurrency"] <= 32:
        errors.append(f"concurrency must be 1 to 32, got {params['concurrency']}")
    return errors


def main():
    argument_spec = {
        **pg.BACKUP_ARGUMENTS,
        **pg.CLIENT_ARGUMENTS,
        "database_url": {"type": "str", "required": True, "no_log": True},
        "format": {"type": "str", "choices": ["plain", "custom"], "default": "plain"},
        "compress_level": {"type": "int", "default": 6},
        "part_size_mb": {"type": "int", "default": 16},
        "concurrency": {"type": "int", "default": 4},
    }
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    params = module.params
    errors = validate(params)
    if errors:
        module.fail_json(msg="; ".join(errors))
    result = {"changed": False, "bucket": params["bucket"], "log": []}
    log = None
    try:
        log = pg.StepLog(params["log_file"], "backup")
        result["log"] = log.lines
        env = pg.parse_url(params["database_url"])
        key = pg.backup_key(params["prefix"], params["format"])
        result["key"] = key
        log(f"checking the connection to {env['PGHOST']}:{env['PGPORT']}/{env['PGDATABASE']}")
        major, version = pg.server_version(env, params["pg_bindir"])
        result["server_version"] = version
        result["pg_dump_version"] = pg.check_pg_dump(major, params["pg_bindir"])
        log(f"PostgreSQL {version}, pg_dump {result['pg_dump_version']}")
        client = module.client("s3", retry_decorator=AWSRetry.jittered_backoff())
        pg.check_bucket(client, params["bucket"])
        if module.check_mode:
            log(f"check mode: would stream the dump to s3://{params['bucket']}/{key}")
            module.exit_json(**result)
        # the transfer manager retries each part itself; a retry wrapper must not replay a consumed stream
        transfer = module.client("s3")
        written = pg.take_backup(
            transfer,
            params["bucket"],
            key,
            env,
            version,
            fmt=params["format"],
            compress_level=params["compress_level"],
            part_size=params["part_size_mb"] * pg.MiB,
            concurrency=params["concurrency"],
            bindir=params["pg_bindir"],
            log=log,
        )
    except (pg.BackupError, BotoCoreError, ClientError) as error:
        pg.fail(module, error, log, result)
    seconds = written["seconds"] or 0.001
    result.update(
        changed=True,
        key=written["key"],
        version_id=written["version_id"],
        bytes=written["bytes"],
        dump_bytes=written["dump_bytes"],
        sha256=written["sha256"],
        seconds=written["seconds"],
        dump_mb_per_second=round(written["dump_bytes"] / pg.MiB / seconds, 1),
    )
    module.exit_json(**result)


if __name__ == "__main__":
    main()
