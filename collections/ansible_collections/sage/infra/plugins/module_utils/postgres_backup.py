# Copyright: Contributors to the sage-infra project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PostgreSQL backups streamed to S3 and restored from it, shared by the backup, restore and migrate modules.

A backup is ``pg_dump`` read from its stdout, gzip-compressed here (plain format) and handed to boto3's
transfer manager as a stream: the dump never touches the local disk and memory stays bounded by the part
size times the parts in flight, whatever the size of the database. It is uploaded under
``<prefix>incoming/``, checked against the checksum S3 computed, then copied to its final name
``<prefix>backup_YYYYMMDD_HHMMSS.sql.gz`` with its SHA-256 and sizes in its metadata (S3 computes the
SHA-256 of the copy again: it must match) and the staging object is deleted. So an object with a final
name is always complete and verified, and retention (which only looks at final names) never counts a
broken one.

A restore reads the object twice from the same version: once to check its SHA-256 (nothing is
restored from a corrupt backup), once into ``psql --single-transaction`` (a failure leaves the target
as it was). Replacing a database drops its schemas inside that same transaction.
"""

import base64
import datetime
import hashlib
import os
import re
import shutil
import signal
import subprocess
import threading
import time
import urllib.parse
import zlib

UTC = datetime.timezone.utc  # noqa: UP017 - modules may run on Pythons older than 3.11
FORMATS = {"plain": ".sql.gz", "custom": ".dump"}
NAME = re.compile(r"^backup_(\d{8})_(\d{6})\.(sql\.gz|dump)$")
STAGING = "incoming/"
COPY_LIMIT = 5 * 1024**3  # CopyObject's largest source; above it, a multipart copy
MiB = 1024**2
READ_SIZE = MiB
SYSTEM_SCHEMAS = "nspname NOT IN ('pg_catalog', 'information_schema') AND nspname !~ '^pg_(toast|temp_)'"


class BackupError(Exception):
    """A step failed; the message says which and why, never a password."""


# The options of the doc fragments sage.infra.postgres_backup and sage.infra.postgres_backup.client.
BACKUP_ARGUMENTS = {
    "bucket": {"type": "str", "required": True},
    "prefix": {"type": "str", "default": "postgres/"},
    "log_file": {"type": "path"},
}
CLIENT_ARGUMENTS = {"pg_bindir": {"type": "path"}}


def fail(module, error, log, result):
    """End the module on a BackupError or a botocore error, after logging it."""
    if log:
        log(f"FAILED: {error}")
    if isinstance(error, BackupError):
        module.fail_json(msg=str(error), **result)
    module.fail_json_aws(error, msg=f"S3 request on bucket {module.params['bucket']} failed", **result)


def check_bucket(s3, bucket):
    """The bucket exists and these credentials reach it, or a BackupError saying which is not the case."""
    try:
        s3.head_bucket(Bucket=bucket)
    except Exception as error:  # botocore's ClientError; imported by the modules through AnsibleAWSModule
        code = str(getattr(error, "response", {}).get("Error", {}).get("Code", ""))
        if code in ("404", "NoSuchBucket", "NotFound"):
            raise BackupError(f"bucket {bucket} does not exist") from None
        if code in ("403", "AccessDenied", "Forbidden"):
            raise BackupError(f"no permission to bucket {bucket} (s3:ListBucket, s3:GetObject, s3:PutObject)") from None
        raise BackupError(f"bucket {bucket}: {error}") from None


# --- connection ---------------------------------------------------------------------------------------------------


def parse_url(url):
    """The libpq settings of a postgresql:// URL, as PG* environment variables (so no password is on a command line)."""
    parts = urllib.parse.urlsplit(url or "")
    if parts.scheme not in ("postgres", "postgresql") or not parts.hostname or not parts.path.strip("/"):
        raise BackupError("database_url must be postgresql://user:password@host:port/database")
    try:
        port = parts.port or 5432
    except ValueError:
        raise BackupError("database_url has an invalid port") from None
    env = {
        "PGHOST": parts.hostname,
        "PGPORT": str(port),
        "PGUSER": urllib.parse.unquote(parts.username or ""),
        "PGPASSWORD": urllib.parse.unquote(parts.password or ""),
        "PGDATABASE": urllib.parse.unquote(parts.path.lstrip("/")),
    }
    query = urllib.parse.parse_qs(parts.query)
    for name, variable in (
        ("sslmode", "PGSSLMODE"),
        ("sslrootcert", "PGSSLROOTCERT"),
        ("connect_timeout", "PGCONNECT_TIMEOUT"),
    ):
        if name in query:
            env[variable] = query[name][-1]
    env.setdefault("PGCONNECT_TIMEOUT", "10")
    return env


def with_database(env, database):
    return {**env, "PGDATABASE": database}


def redact(text, env):
    """``text`` without the password of ``env``."""
    text = str(text)
    password = env.get("PGPASSWORD")
    return text.replace(password, "***") if password else text


def _tool(name, bindir=None):
    path = os.path.join(bindir, name) if bindir else shutil.which(name)
    if not path or not os.access(path, os.X_OK):
        where = f"in {bindir}" if bindir else "on PATH"
        raise BackupError(f"{name} not found {where}: install the PostgreSQL client of the server's major version")
    return path


def psql(env, sql, bindir=None, timeout=60):
    """Rows of ``sql`` (tab-separated lines) run with psql against ``env``'s database."""
    command = [_tool("psql", bindir), "-X", "-q", "-At", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-c", sql]
    done = subprocess.run(
        command, env={**os.environ, **env}, capture_output=True, text=True, timeout=timeout, check=False
    )
    if done.returncode != 0:
        raise BackupError(redact(_last_line(done.stderr) or f"psql exited with {done.returncode}", env))
    return [line.split("\t") for line in done.stdout.splitlines() if line]


def _last_line(text):
    """The last line saying what failed (psql's ERROR, not the CONTEXT or HINT after it), else the last line."""
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    errors = [line for line in lines if re.search(r"\b(ERROR|FATAL|PANIC|error):", line)]
    return (errors or lines or [""])[-1]


def server_version(env, bindir=None):
    """(major, full version string) of the server; BackupError naming the server when it cannot be reached."""
    try:
        ((number, text),) = psql(
            env, "SELECT current_setting('server_version_num'), current_setting('server_version')", bindir
        )
    except BackupError as error:
        raise BackupError(
            f"cannot connect to PostgreSQL at {env['PGHOST']}:{env['PGPORT']} as {env['PGUSER']} "
            f"(database {env['PGDATABASE']}): {error}"
        ) from None
    return int(number) // 10000, text


def tool_major(name, bindir=None):
    """Major version of a client program (pg_dump, psql ...)."""
    done = subprocess.run([_tool(name, bindir), "--version"], capture_output=True, text=True, check=False)
    match = re.search(r"(\d+)(?:\.\d+)?", done.stdout)
    if done.returncode != 0 or not match:
        raise BackupError(f"cannot tell the version of {name}: {done.stdout or done.stderr}")
    return int(match.group(1))


def check_pg_dump(server_major, bindir=None):
    """pg_dump refuses a server newer than itself: say so before starting."""
    major = tool_major("pg_dump", bindir)
    if major < server_major:
        raise BackupError(
            f"pg_dump {major} cannot dump a PostgreSQL {server_major} server: install the PostgreSQL {server_major} "
            f"client (postgresql-client-{server_major}) or set pg_bindir to its bin directory"
        )
    return major


def is_empty(env, bindir=None):
    """Whether the database holds no relation, function or type outside the system schemas."""
    sql = (
        "SELECT (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE "
        + SYSTEM_SCHEMAS
        + ") + (SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE "
        + SYSTEM_SCHEMAS
        + ") + (SELECT count(*) FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE "
        + SYSTEM_SCHEMAS
        + ")"
    )
    return int(psql(env, sql, bindir)[0][0]) == 0


def database_exists(env, bindir=None):
    name = env["PGDATABASE"].replace("'", "''")
    rows = psql(with_database(env, "postgres"), f"SELECT 1 FROM pg_database WHERE datname = '{name}'", bindir)
    return bool(rows)


def create_database(env, bindir=None):
    name = env["PGDATABASE"].replace('"', '""')
    psql(with_database(env, "postgres"), f'CREATE DATABASE "{name}"', bindir)


# --- step log -----------------------------------------------------------------------------------------------------


class StepLog:
    """Timestamped lines for the playbook's output and, when a path is given, appended to a log file."""

    def __init__(self, path=None, name="backup"):
        self.path, self.name, self.lines = path, name, []
        if path:
            directory = os.path.dirname(os.path.abspath(path))
            if (
                not os.path.isdir(directory)
                or not os.access(directory, os.W_OK)
                or os.path.isdir(path)
                or (os.path.exists(path) and not os.access(path, os.W_OK))
            ):
                raise BackupError(f"log_file {path} is not writable (choose another path)")

    def __call__(self, message):
        stamp = datetime.datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        line = f"{stamp} {self.name}: {message}"
        self.lines.append(line)
        if self.path:
            with open(self.path, "a", encoding="utf-8") as log:
                log.write(line + "\n")


# --- streaming ----------------------------------------------------------------------------------------------------


class DumpFingerprint:
    """SHA-256 of a plain dump without psql's ``\\restrict``/``\\unrestrict`` lines, whose key pg_dump draws at
    random for every dump: two dumps of the same database have the same fingerprint."""

    RANDOM_LINES = re.compile(rb"^\\(?:un)?restrict [^\n]*(?:\n|$)", re.M)

    def __init__(self):
        self.digest, self.pending = hashlib.sha256(), b""

    def update(self, chunk):
        data = self.pending + chunk
        cut = data.rfind(b"\n") + 1  # whole lines only, so that the pattern sees each line at once
        block = data[:cut]
        # the pattern only where it can match: two lines of a dump of any size
        self.digest.update(self.RANDOM_LINES.sub(b"", block) if b"restrict " in block else block)
        self.pending = data[cut:]

    def hexdigest(self):
        self.digest.update(self.RANDOM_LINES.sub(b"", self.pending))
        self.pending = b""
        return self.digest.hexdigest()


class DumpReader:
    """A file-like view of a dump process's stdout for the transfer manager: gzip-compressed (plain format) or
    as is (custom format, compressed by pg_dump), with the SHA-256 of what it hands out, of every part (for
    S3's composite checksum of a multipart upload) and of the raw dump.

    read(n) returns exactly n bytes until the end: the transfer manager takes a short read for the last part.
    """

    def __init__(self, raw, part_size, compress_level=None):
        self.raw, self.part_size = raw, part_size
        self.compressor = zlib.compressobj(compress_level, zlib.DEFLATED, 31) if compress_level is not None else None
        self.buffer, self.eof = bytearray(), False
        self.sha256, self.fingerprint = hashlib.sha256(), DumpFingerprint()
        self.raw_bytes = self.bytes = 0
        self.part_digests, self.part = [], hashlib.sha256()
        self.part_filled = 0

    def _fill(self, wanted):
        while len(self.buffer) < wanted and not self.eof:
            chunk = self.raw.read(READ_SIZE)
            if chunk:
                self.raw_bytes += len(chunk)
                self.fingerprint.update(chunk)
                self.buffer += self.compressor.compress(chunk) if self.compressor else chunk
            else:
                self.eof = True
                if self.compressor:
                    self.buffer += self.compressor.flush()

    def read(self, size=-1):
        self._fill(float("inf") if size is None or size < 0 else size)
        size = len(self.buffer) if size is None or size < 0 else min(size, len(self.buffer))
        data = bytes(self.buffer[:size])
        del self.buffer[:size]
        self._account(data)
        return data

    def _account(self, data):
        self.bytes += len(data)
        self.sha256.update(data)
        while data:
            take = min(len(data), self.part_size - self.part_filled)
            self.part.update(data[:take])
            self.part_filled += take
            data = data[take:]
            if self.part_filled == self.part_size:
                self._close_part()

    def _close_part(self):
        self.part_digests.append(self.part.digest())
        self.part, self.part_filled = hashlib.sha256(), 0

    def composite_sha256(self):
        """S3's checksum of a multipart upload: SHA-256 of the parts' SHA-256 digests (base64)."""
        digests = self.part_digests + ([self.part.digest()] if self.part_filled else [])
        return base64.b64encode(hashlib.sha256(b"".join(digests)).digest()).decode()

    def full_sha256(self):
        return base64.b64encode(self.sha256.digest()).decode()


def _pump_stderr(process, sink):
    for line in iter(process.stderr.readline, b""):
        sink.append(line.decode("utf-8", "replace"))


def backup_key(prefix, fmt, now=None):
    now = now or datetime.datetime.now(UTC)
    return f"{prefix}backup_{now:%Y%m%d_%H%M%S}{FORMATS[fmt]}"


def transfer_config(part_size, concurrency):
    from boto3.s3.transfer import TransferConfig

    config = TransferConfig(multipart_threshold=part_size, multipart_chunksize=part_size, max_concurrency=concurrency)
    # parts read from the stream and not yet sent (s3transfer's setting, not in boto3's constructor):
    # with the part size, what bounds the memory used
    config.max_in_memory_upload_chunks = concurrency
    return config


def stream_backup(
    s3, bucket, key, env, fmt="plain", compress_level=6, part_size=16 * MiB, concurrency=4, bindir=None, log=None
):
    """Dump ``env``'s database into ``bucket``/``key``; return what it wrote. Raises BackupError."""
    log = log or (lambda message: None)
    staging = key.rsplit("/", 1)[0] + "/" + STAGING + key.rsplit("/", 1)[-1] if "/" in key else STAGING + key
    command = [_tool("pg_dump", bindir), "--no-password", f"--format={fmt}"]
    if fmt == "custom":
        command.append(f"--compress={compress_level}")
    started = time.monotonic()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, **env})
    errors = []
    pump = threading.Thread(target=_pump_stderr, args=(process, errors), daemon=True)
    pump.start()
    reader = DumpReader(process.stdout, part_size, compress_level if fmt == "plain" else None)
    metadata = {"database": env["PGDATABASE"], "format": fmt}
    log(f"streaming pg_dump --format={fmt} of {env['PGDATABASE']} to s3://{bucket}/{staging}")
    try:
        s3.upload_fileobj(
            reader,
            bucket,
            staging,
            ExtraArgs={"ChecksumAlgorithm": "SHA256", "Metadata": metadata, "ContentType": "application/octet-stream"},
            Config=transfer_config(part_size, concurrency),
        )
    except Exception as error:  # the upload failed: stop pg_dump and say why
        process.kill()
        process.wait()
        _delete_all_versions(s3, bucket, staging)
        raise BackupError(f"upload to s3://{bucket}/{staging} failed: {error}") from None
    finally:
        process.stdout.close()
    returncode = process.wait()
    pump.join(timeout=10)
    if returncode != 0:
        _delete_all_versions(s3, bucket, staging)
        raise BackupError(redact(f"pg_dump exited with {returncode}: {_last_line(''.join(errors))}", env))
    seconds = time.monotonic() - started
    log(f"uploaded {reader.bytes} bytes ({reader.raw_bytes} bytes of dump) in {seconds:.1f} s")
    return {
        "staging_key": staging,
        "key": key,
        "bytes": reader.bytes,
        "dump_bytes": reader.raw_bytes,
        "sha256": reader.sha256.hexdigest(),
        "dump_sha256": reader.fingerprint.hexdigest() if fmt == "plain" else "",
        "sha256_base64": reader.full_sha256(),
        "composite_sha256": reader.composite_sha256(),
        "parts": len(reader.part_digests) + (1 if reader.part_filled else 0),
        "seconds": round(seconds, 3),
        "metadata": metadata,
    }


def _delete_all_versions(s3, bucket, key):
    try:
        pages = s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=key)
        for page in pages:
            for version in page.get("Versions", []) + page.get("DeleteMarkers", []):
                if version["Key"] == key:
                    s3.delete_object(Bucket=bucket, Key=key, VersionId=version["VersionId"])
    except Exception:  # best effort: the bucket's lifecycle expires staging objects after a day
        pass


def _checksum_matches(head, written):
    stored = (head.get("ChecksumSHA256") or "").split("-")[0]
    expected = (
        written["composite_sha256"]
        if head.get("ChecksumType") == "COMPOSITE" or (written["parts"] > 1 and stored != written["sha256_base64"])
        else written["sha256_base64"]
    )
    return stored == expected


def _exists(s3, bucket, key):
    try:
        s3.head_object(Bucket=bucket, Key=key)
    except Exception as error:  # botocore's ClientError
        if str(getattr(error, "response", {}).get("Error", {}).get("Code", "")) in ("404", "NoSuchKey", "NotFound"):
            return False
        raise
    return True


def finalize(s3, bucket, written, server_version_text, log=None):
    """Verify the staged object, copy it to its final name with checksum and sizes, verify that, drop the stage."""
    log = log or (lambda message: None)
    staging, key = written["staging_key"], written["key"]
    head = s3.head_object(Bucket=bucket, Key=staging, ChecksumMode="ENABLED")
    if head["ContentLength"] != written["bytes"]:
        raise BackupError(f"s3://{bucket}/{staging} holds {head['ContentLength']} bytes, {written['bytes']} were sent")
    if not _checksum_matches(head, written):
        raise BackupError(f"s3://{bucket}/{staging}: the SHA-256 S3 computed does not match the bytes sent")
    metadata = {
        **written["metadata"],
        "sha256": written["sha256"],
        "bytes": str(written["bytes"]),
        "dump-bytes": str(written["dump_bytes"]),
        "dump-sha256": written["dump_sha256"],
        "server-version": server_version_text,
    }
    if _exists(s3, bucket, key):
        raise BackupError(f"s3://{bucket}/{key} already exists (two backups in the same second?): not overwritten")
    source = {"Bucket": bucket, "Key": staging}
    if head.get("VersionId"):
        source["VersionId"] = head["VersionId"]
    extra = {"Metadata": metadata, "MetadataDirective": "REPLACE", "ContentType": "application/octet-stream"}
    if written["bytes"] <= COPY_LIMIT:
        s3.copy_object(Bucket=bucket, Key=key, CopySource=source, ChecksumAlgorithm="SHA256", **extra)
    else:
        s3.copy(source, bucket, key, ExtraArgs=extra)
    final = s3.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    if final["ContentLength"] != written["bytes"] or final.get("Metadata", {}).get("sha256") != written["sha256"]:
        raise BackupError(f"s3://{bucket}/{key} does not hold what was uploaded (size or checksum differ)")
    if written["bytes"] <= COPY_LIMIT and (final.get("ChecksumSHA256") or "").split("-")[0] != written["sha256_base64"]:
        raise BackupError(f"s3://{bucket}/{key}: the SHA-256 S3 computed does not match the backup's")
    _delete_all_versions(s3, bucket, staging)
    log(f"verified s3://{bucket}/{key}: {written['bytes']} bytes, sha256 {written['sha256']}")
    return {"key": key, "version_id": final.get("VersionId"), "metadata": metadata}


def take_backup(s3, bucket, key, env, server_version_text, log=None, **options):
    """A verified backup under its final name: stream_backup, then finalize. Used by backups and migrations alike."""
    written = stream_backup(s3, bucket, key, env, log=log, **options)
    return {**written, **finalize(s3, bucket, written, server_version_text, log=log)}


# --- listing and retention ----------------------------------------------------------------------------------------


def list_backups(s3, bucket, prefix):
    """The backups under ``prefix`` (final names only), oldest first: [{key, size, last_modified}]."""
    found = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix, Delimiter="/"):
        for item in page.get("Contents", []):
            if NAME.match(item["Key"][len(prefix) :]):
                found.append(
                    {"key": item["Key"], "size": item["Size"], "last_modified": item["LastModified"].isoformat()}
                )
    return sorted(found, key=lambda item: item["key"][len(prefix) :])


def expired(backups, keep):
    """The backups beyond the newest ``keep`` (by the timestamp in their names)."""
    return backups[:-keep] if len(backups) > keep else []


# --- restore ------------------------------------------------------------------------------------------------------


def describe(s3, bucket, key):
    head = s3.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    metadata = head.get("Metadata", {})
    if "sha256" not in metadata:
        raise BackupError(f"s3://{bucket}/{key} has no sha256 in its metadata: not a backup of this tool")
    return {
        "key": key,
        "version_id": head.get("VersionId"),
        "bytes": head["ContentLength"],
        "sha256": metadata["sha256"],
        "format": metadata.get("format", "plain" if key.endswith(".sql.gz") else "custom"),
        "metadata": metadata,
    }


def _body(s3, bucket, backup):
    args = {"Bucket": bucket, "Key": backup["key"]}
    if backup.get("version_id"):
        args["VersionId"] = backup["version_id"]
    return s3.get_object(**args)["Body"]


def verify_object(s3, bucket, backup):
    """Read the object once and compare its SHA-256 with the one recorded at backup time."""
    digest, size = hashlib.sha256(), 0
    body = _body(s3, bucket, backup)
    for chunk in iter(lambda: body.read(READ_SIZE), b""):
        digest.update(chunk)
        size += len(chunk)
    if size != backup["bytes"] or digest.hexdigest() != backup["sha256"]:
        raise BackupError(
            f"s3://{bucket}/{backup['key']} is corrupt: its SHA-256 is {digest.hexdigest()} ({size} bytes), "
            f"the backup recorded {backup['sha256']} ({backup['bytes']} bytes); nothing was restored"
        )


# Empties a database the way a restore needs it, inside the restore's transaction: the user schemas other
# than public are dropped; in public (kept, with its owner, privileges and comment, which a new schema
# would not have) the extensions, tables, views, sequences, routines and types. Objects that belong to an
# extension or to a table (a serial's sequence) go with their owner.
REPLACE_SQL = r"""
DO $sage_replace$
DECLARE r record;
BEGIN
  FOR r IN SELECT nspname FROM pg_namespace WHERE {system} AND nspname <> 'public' LOOP
    EXECUTE format('DROP SCHEMA %I CASCADE', r.nspname);
  END LOOP;
  FOR r IN SELECT e.extname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
           WHERE n.nspname = 'public' LOOP
    EXECUTE format('DROP EXTENSION IF EXISTS %I CASCADE', r.extname);
  END LOOP;
  FOR r IN SELECT format('%I.%I', n.nspname, c.relname) AS name,
                  CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' WHEN 'f' THEN 'FOREIGN TABLE'
                                 WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END AS kind
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
             AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                             AND d.refobjid <> c.oid AND d.deptype IN ('a', 'i', 'e')) LOOP
    EXECUTE format('DROP %s IF EXISTS %s CASCADE', r.kind, r.name);
  END LOOP;
  FOR r IN SELECT p.oid::regprocedure::text AS name,
                  CASE p.prokind WHEN 'a' THEN 'AGGREGATE' WHEN 'p' THEN 'PROCEDURE' ELSE 'FUNCTION' END AS kind
           FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public'
             AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid
                             AND d.deptype IN ('i', 'e')) LOOP
    EXECUTE format('DROP %s IF EXISTS %s CASCADE', r.kind, r.name);
  END LOOP;
  FOR r IN SELECT format('%I.%I', n.nspname, t.typname) AS name,
                  CASE t.typtype WHEN 'd' THEN 'DOMAIN' ELSE 'TYPE' END AS kind
           FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
           WHERE n.nspname = 'public' AND t.typtype IN ('c', 'd', 'e', 'r')
             AND (t.typtype <> 'c' OR (SELECT c.relkind FROM pg_class c WHERE c.oid = t.typrelid) = 'c') LOOP
    EXECUTE format('DROP %s IF EXISTS %s CASCADE', r.kind, r.name);
  END LOOP;
END
$sage_replace$;
""".replace("{system}", SYSTEM_SCHEMAS)


def stream_restore(s3, bucket, backup, env, replace=False, bindir=None, log=None):
    """Restore ``backup`` into ``env``'s database in one transaction (with the replacement, when asked)."""
    log = log or (lambda message: None)
    command = [_tool("psql", bindir), "-X", "-q", "--single-transaction", "-v", "ON_ERROR_STOP=1", "-o", os.devnull]
    psql_process = subprocess.Popen(command, stdin=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, **env})
    errors = []
    pump = threading.Thread(target=_pump_stderr, args=(psql_process, errors), daemon=True)
    pump.start()
    converter = None
    digest = hashlib.sha256()
    try:
        if replace:
            psql_process.stdin.write(REPLACE_SQL.encode())
        body = _body(s3, bucket, backup)
        if backup["format"] == "custom":
            # pg_restore turns the archive into SQL for the same single psql transaction
            converter = subprocess.Popen(
                [_tool("pg_restore", bindir), "-f", "-"],
                stdin=subprocess.PIPE,
                stdout=psql_process.stdin,
                stderr=subprocess.PIPE,
            )
            sink = converter.stdin
            decompress = None
        else:
            sink = psql_process.stdin
            decompress = zlib.decompressobj(31)
        for chunk in iter(lambda: body.read(READ_SIZE), b""):
            digest.update(chunk)
            sink.write(decompress.decompress(chunk) if decompress else chunk)
        if decompress:
            sink.write(decompress.flush())
        if converter:
            converter.stdin.close()
            if converter.wait() != 0:
                raise BackupError(
                    f"pg_restore could not read {backup['key']}: {_last_line(converter.stderr.read().decode())}"
                )
        if digest.hexdigest() != backup["sha256"]:
            raise BackupError(f"{backup['key']} changed while it was restored (SHA-256 differs): rolled back")
    except (BackupError, OSError, zlib.error) as error:
        # killing psql before the end of its input aborts the transaction: the target is as it was
        psql_process.send_signal(signal.SIGKILL)
        psql_process.wait()
        if converter and converter.poll() is None:
            converter.kill()
        pump.join(timeout=10)
        cause = _last_line("".join(errors)) if isinstance(error, OSError) and errors else str(error)
        raise BackupError(redact(f"restore of {backup['key']} failed and was rolled back: {cause}", env)) from None
    psql_process.stdin.close()
    returncode = psql_process.wait()
    pump.join(timeout=10)
    if returncode != 0:
        raise BackupError(
            redact(f"restore of {backup['key']} failed and was rolled back: {_last_line(''.join(errors))}", env)
        )
    log(f"restored s3://{bucket}/{backup['key']} into {env['PGDATABASE']}")


def dump_sha256(env, bindir=None):
    """Fingerprint of a plain dump of the database as it is now: a backup's dump-sha256 when nothing changed."""
    process = subprocess.Popen(
        [_tool("pg_dump", bindir), "--no-password", "--format=plain"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, **env},
    )
    errors = []
    pump = threading.Thread(target=_pump_stderr, args=(process, errors), daemon=True)
    pump.start()
    digest = DumpFingerprint()
    for chunk in iter(lambda: process.stdout.read(READ_SIZE), b""):
        digest.update(chunk)
    if process.wait() != 0:
        pump.join(timeout=10)
        raise BackupError(redact(f"pg_dump failed: {_last_line(''.join(errors))}", env))
    return digest.hexdigest()


def run_command(command, chdir, environment, timeout, env, keep_lines=30):
    """(exit code, last lines of output) of the command; the password is masked in the output."""
    # in a session of its own: on timeout, everything the command started is stopped (not only the shell),
    # so that nothing goes on changing the database while it is restored
    process = subprocess.Popen(
        ["/bin/sh", "-c", command],
        cwd=chdir,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
        start_new_session=True,
    )
    try:
        output = process.communicate(timeout=timeout)[0]
        code = process.returncode
    except subprocess.TimeoutExpired as expired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        process.stdout.close()
        output = (
            (expired.output or b"").decode("utf-8", "replace")
            if isinstance(expired.output, bytes)
            else expired.output or ""
        )
        output, code = output + f"\n(stopped after {timeout} s)", -1
    return code, redact("\n".join(output.splitlines()[-keep_lines:]), env)
