# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests for sage.infra.postgresql_backup: a real PostgreSQL server (tests/harness) and S3 in moto in-process."""

import gzip
import hashlib
import os
import re
import shutil
import socket
import stat

import botocore.client
import pytest
from ansible_collections.sage.infra.plugins.module_utils import postgres_backup as pg
from ansible_collections.sage.infra.plugins.modules import postgresql_backup
from botocore.exceptions import ClientError

REGION = "us-east-1"
BUCKET = "sage-backups-test"  # made by the s3 fixture of conftest.py
RESTRICT = re.compile(rb"^\\(un)?restrict .*\n", re.M)


@pytest.fixture
def source(sample_database):
    return sample_database  # not changed by the backups


@pytest.fixture
def run(module_runner, postgres, source, s3):
    return module_runner(
        postgresql_backup.main,
        secrets=(postgres.password,),
        database_url=postgres.url(source),
        bucket=BUCKET,
        region=REGION,
        pg_bindir=str(postgres.bin_dir),  # not Debian's pg_wrapper on PATH: faster
    )


def everything(s3):
    """Every object version, delete marker and multipart upload in the bucket."""
    versions = s3.list_object_versions(Bucket=BUCKET)
    return [item["Key"] for item in versions.get("Versions", []) + versions.get("DeleteMarkers", [])] + [
        upload["Key"] for upload in s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", [])
    ]


def fake_pg_dump(tmp_path, body):
    """A bindir with the real psql and a pg_dump of the real version whose dump is the shell code ``body``."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    os.symlink(shutil.which("psql"), bindir / "psql")
    script = bindir / "pg_dump"
    script.write_text(
        f'#!/bin/sh\nif [ "$1" = "--version" ]; then exec {shutil.which("pg_dump")} --version; fi\n{body}\n'
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return str(bindir)


def test_backup_plain(run, s3, postgres, source, new_database, calls, tmp_path):
    log_file = tmp_path / "backup.log"
    result = run(log_file=str(log_file), pg_bindir=None)  # pg_dump and psql found on PATH
    key = result["key"]
    assert result["changed"] is True
    assert re.fullmatch(r"postgres/backup_\d{8}_\d{6}\.sql\.gz", key)
    assert [item["Key"] for item in s3.list_objects_v2(Bucket=BUCKET)["Contents"]] == [key]
    assert everything(s3) == [key]  # nothing under incoming/, no multipart upload left
    assert "CopyObject" in calls and "DeleteObject" in calls

    head = s3.head_object(Bucket=BUCKET, Key=key)
    body = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    dump = gzip.decompress(body)
    metadata = head["Metadata"]
    assert metadata["sha256"] == hashlib.sha256(body).hexdigest() == result["sha256"]
    assert int(metadata["bytes"]) == len(body) == result["bytes"]
    assert int(metadata["dump-bytes"]) == len(dump) == result["dump_bytes"]
    assert metadata["dump-sha256"] == hashlib.sha256(RESTRICT.sub(b"", dump)).hexdigest()
    assert metadata["format"] == "plain"
    assert metadata["database"] == source
    assert metadata["server-version"] == result["server_version"]
    assert result["server_version"].startswith(str(postgres.version))
    assert result["pg_dump_version"] >= postgres.version
    assert dump.startswith(b"--\n-- PostgreSQL database dump")
    assert b"\\\\restrict looks like a psql command" in dump

    # the dump restores into an empty database, with the same content
    target = new_database()
    postgres.psql(dump.decode(), target)
    assert postgres.dump(target) == postgres.dump(source)

    logged = log_file.read_text().splitlines()
    assert logged == result["log"]
    assert any(f"verified s3://{BUCKET}/{key}" in line for line in logged)


def test_backup_custom_format(run, s3, postgres, source, new_database, tmp_path):
    result = run(format="custom", prefix="nightly/db/", compress_level=1)
    key = result["key"]
    assert re.fullmatch(r"nightly/db/backup_\d{8}_\d{6}\.dump", key)
    assert everything(s3) == [key]
    body = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    assert body.startswith(b"PGDMP")
    metadata = s3.head_object(Bucket=BUCKET, Key=key)["Metadata"]
    assert metadata["format"] == "custom"
    assert metadata["sha256"] == hashlib.sha256(body).hexdigest()
    archive = tmp_path / "backup.dump"
    archive.write_bytes(body)
    target = new_database()
    pg_restore = postgres.bin_dir / "pg_restore"
    postgres.run_client([str(pg_restore), "--no-owner", "-d", target, str(archive)], target)
    assert postgres.dump(target) == postgres.dump(source)


def test_backup_multipart_in_a_versioned_bucket(run, s3, postgres, new_database):
    source = new_database(sample=True)
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    # stored without compression (level 0): a dump of more than two 5 MiB parts
    postgres.psql(
        "CREATE TABLE noise AS SELECT md5(n::text) || md5(n::text) AS t FROM generate_series(1, 180000) n", source
    )
    result = run(database_url=postgres.url(source), part_size_mb=5, concurrency=2, compress_level=0)
    assert result["bytes"] > 10 * pg.MiB
    assert everything(s3) == [result["key"]]  # no staging version and no delete marker left
    body = s3.get_object(Bucket=BUCKET, Key=result["key"])["Body"].read()
    assert hashlib.sha256(body).hexdigest() == result["sha256"]
    assert len(gzip.decompress(body)) == result["dump_bytes"]


def test_check_mode_uploads_nothing(run, s3, calls):
    result = run(check_mode=True)
    assert calls == ["HeadBucket"]
    assert result["changed"] is False
    assert re.fullmatch(r"postgres/backup_\d{8}_\d{6}\.sql\.gz", result["key"])
    assert "bytes" not in result
    assert everything(s3) == []


def test_wrong_password(run, postgres, source, s3, calls):
    wrong = "Wr0ng-Passw0rd-4242"
    url = postgres.url(source).replace(postgres.password, wrong)
    msg = run.fail(database_url=url, secrets=(wrong,))
    assert f"cannot connect to PostgreSQL at {postgres.host}:{postgres.port}" in msg
    assert f"database {source}" in msg
    assert "password authentication failed" in msg
    assert wrong not in run.out
    assert calls == []
    assert everything(s3) == []


def test_unreachable_port(run, postgres, source, s3):
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind((postgres.host, 0))
        port = sock.getsockname()[1]
    url = postgres.url(source).replace(f":{postgres.port}/", f":{port}/")
    msg = run.fail(database_url=url)
    assert f"cannot connect to PostgreSQL at {postgres.host}:{port}" in msg
    assert "Connection refused" in msg
    assert everything(s3) == []


def test_missing_bucket(run):
    assert run.fail(bucket="no-such-bucket-here") == "bucket no-such-bucket-here does not exist"


def test_no_permission(run, s3, monkeypatch):
    original = botocore.client.BaseClient._make_api_call

    def denied(self, operation_name, api_params):
        if operation_name == "HeadBucket":
            raise ClientError({"Error": {"Code": "403", "Message": "Forbidden"}}, operation_name)
        return original(self, operation_name, api_params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", denied)
    msg = run.fail()
    assert msg.startswith(f"no permission to bucket {BUCKET}")
    assert everything(s3) == []


def test_upload_denied(run, s3, monkeypatch):
    original = botocore.client.BaseClient._make_api_call

    def denied(self, operation_name, api_params):
        if operation_name in ("PutObject", "CreateMultipartUpload"):
            raise ClientError({"Error": {"Code": "AccessDenied", "Message": "Access Denied"}}, operation_name)
        return original(self, operation_name, api_params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", denied)
    msg = run.fail()
    assert re.match(rf"upload to s3://{BUCKET}/postgres/incoming/backup_\d{{8}}_\d{{6}}\.sql\.gz failed: ", msg)
    assert "AccessDenied" in msg
    assert everything(s3) == []


@pytest.mark.parametrize(
    "args, message",
    [
        ({"prefix": "postgres"}, "prefix must be empty or end with '/', got 'postgres'"),
        ({"part_size_mb": 4}, "part_size_mb must be 5 to 5120 (S3's part sizes), got 4"),
        ({"compress_level": 10}, "compress_level must be 0 to 9, got 10"),
        ({"compress_level": -1}, "compress_level must be 0 to 9, got -1"),
        ({"concurrency": 0}, "concurrency must be 1 to 32, got 0"),
    ],
)
def test_bad_options_fail_before_any_call(run, s3, calls, monkeypatch, args, message):
    monkeypatch.setattr(pg, "psql", lambda *args, **kwargs: pytest.fail("psql ran"))
    assert run.fail(**args) == message
    assert calls == []


def test_bad_options_all_at_once(run, calls):
    msg = run.fail(prefix="x", part_size_mb=5121, compress_level=10, concurrency=33)
    assert msg.count(" must be ") == 4
    assert calls == []


def test_old_pg_dump_is_refused(run, postgres, s3, tmp_path):
    bindir = tmp_path / "old"
    bindir.mkdir()
    os.symlink(shutil.which("psql"), bindir / "psql")
    script = bindir / "pg_dump"
    script.write_text("#!/bin/sh\necho 'pg_dump (PostgreSQL) 12.3'\n")
    script.chmod(0o755)
    msg = run.fail(pg_bindir=str(bindir))
    assert f"pg_dump 12 cannot dump a PostgreSQL {postgres.version} server" in msg
    assert everything(s3) == []


@pytest.mark.parametrize("megabytes", [0, 11])
def test_pg_dump_failing_midway_leaves_nothing(run, s3, tmp_path, megabytes):
    body = (
        "echo '-- PostgreSQL database dump'\n"
        f"head -c {megabytes * 1024 * 1024 + 1000} /dev/urandom\n"
        "echo 'pg_dump: error: Dumping the contents of table \"items\" failed: connection lost' >&2\n"
        "exit 1"
    )
    msg = run.fail(pg_bindir=fake_pg_dump(tmp_path, body), part_size_mb=5, compress_level=0)
    assert msg == 'pg_dump exited with 1: pg_dump: error: Dumping the contents of table "items" failed: connection lost'
    assert everything(s3) == []


def test_password_never_in_the_output(run, postgres, source, tmp_path):
    # a failure whose stderr holds the password: the module must mask it
    body = 'echo "pg_dump: error: connection to $PGHOST with password $PGPASSWORD failed" >&2\nexit 1'
    msg = run.fail(pg_bindir=fake_pg_dump(tmp_path, body))
    assert "with password *** failed" in msg
    assert postgres.password not in run.out


def test_log_file_not_writable(run, s3, tmp_path):
    msg = run.fail(log_file=str(tmp_path / "missing" / "backup.log"))
    assert "is not writable" in msg
    msg = run.fail(log_file=str(tmp_path))
    assert "is not writable" in msg
    assert everything(s3) == []
