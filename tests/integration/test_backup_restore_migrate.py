"""playbooks/backup.yml, restore.yml and migrate.yml against a real PostgreSQL server and S3 on the emulator.

PostgreSQL is Debian's (tests/harness/postgres_server.py, started here on a free loopback port). The
playbooks are run the way users run them, with the database URL given as backup_database_url.
"""

from __future__ import annotations

import gzip
import re
import threading
import time

import pytest

from tests.harness import discord_server, postgres_server
from tests.harness.playbook import run_playbook

BUCKET = "sage-backups-drill"
PREFIX = "postgres/"
NAME = re.compile(r"^postgres/backup_\d{8}_\d{6}\.sql\.gz$")


@pytest.fixture(scope="module")
def postgres():
    with postgres_server.running() as server:
        server.create_database("app")
        server.pgbench_init("app", scale=1)
        server.psql(
            "CREATE TABLE notes (id serial PRIMARY KEY, body text NOT NULL, created timestamptz DEFAULT now());"
            "INSERT INTO notes (body) SELECT 'note ' || g || ' - ünïcode' FROM generate_series(1, 500) g;",
            "app",
        )
        yield server


@pytest.fixture(scope="module")
def bucket(emulator, aws):
    s3 = aws("s3")
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    return s3


def settings(postgres, tmp_path, database="app", **extra):
    return {
        "backup_database_url": postgres.url(database),
        "backup_bucket": BUCKET,
        "backup_log_file": str(tmp_path / "backup.log"),
        "backup_part_size_mb": 5,
        **extra,
    }


def backups(s3, prefix=PREFIX):
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])
    return sorted(item["Key"] for item in listed)


def test_restore_drill_gives_back_the_same_database(emulator, postgres, bucket, tmp_path):
    run = run_playbook("playbooks/backup.yml", emulator.endpoint, "-vvv", extra_vars=settings(postgres, tmp_path))
    run.assert_ok()
    assert postgres.password not in run.output, "the database password is never printed, even at -vvv"
    (key,) = [k for k in backups(bucket) if NAME.match(k)][-1:]
    head = bucket.head_object(Bucket=BUCKET, Key=key)
    assert int(head["Metadata"]["dump-bytes"]) > head["ContentLength"] > 0
    body = bucket.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    assert len(body) == head["ContentLength"]
    assert b"CREATE TABLE public.notes" in gzip.decompress(body)
    assert not backups(bucket, PREFIX + "incoming/"), "no staging object is left"
    log = (tmp_path / "backup.log").read_text().splitlines()
    assert log and all(re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ (backup|retention): ", line) for line in log)
    assert any("verified" in line for line in log)

    restore = run_playbook(
        "playbooks/restore.yml",
        emulator.endpoint,
        "-vvv",
        extra_vars={**settings(postgres, tmp_path), "restore_target_database": "app_drill"},
    )
    restore.assert_ok()
    assert "checksum verified" in restore.output
    assert postgres.password not in restore.output
    assert postgres.dump("app_drill") == postgres.dump("app")


def test_retention_keeps_the_newest_seven_and_only_touches_backups(emulator, postgres, bucket, tmp_path):
    old = [f"{PREFIX}backup_2026010{day}_010000.sql.gz" for day in range(1, 10)]
    unrelated = [
        f"{PREFIX}notes.txt",
        f"{PREFIX}manual/backup_20250101_000000.sql.gz",
        "other/backup_20250101_000000.sql.gz",
    ]
    for key in old + unrelated:
        bucket.put_object(Bucket=BUCKET, Key=key, Body=b"x", Metadata={"sha256": "0" * 64})
    run_playbook("playbooks/backup.yml", emulator.endpoint, extra_vars=settings(postgres, tmp_path)).assert_ok()
    kept = [k for k in backups(bucket) if NAME.match(k)]
    assert len(kept) == 7
    assert kept[:-2] == sorted(old)[-5:] and all(k > old[-1] for k in kept[-2:]), "the newest seven by name"
    for key in unrelated:
        bucket.head_object(Bucket=BUCKET, Key=key)
    versions = bucket.list_object_versions(Bucket=BUCKET, Prefix=old[0])["Versions"]
    assert versions, "a pruned backup stays recoverable as a noncurrent version"


def test_a_failed_backup_prunes_nothing_and_fails_clearly(emulator, postgres, bucket, tmp_path):
    before = backups(bucket)
    wrong = settings(postgres, tmp_path, backup_keep=1)
    wrong["backup_database_url"] = postgres.url("app").replace(postgres.password, "not-the-password")
    run = run_playbook("playbooks/backup.yml", emulator.endpoint, extra_vars=wrong)
    assert run.returncode != 0
    assert "Backup failed, nothing was pruned: cannot connect to PostgreSQL at 127.0.0.1" in run.output
    assert "password authentication failed" in run.output
    assert "not-the-password" not in run.output
    assert backups(bucket) == before
    assert "FAILED: cannot connect" in (tmp_path / "backup.log").read_text()


def test_the_database_url_comes_from_secrets_manager_prisma_parameters_and_all(
    emulator, aws, postgres, bucket, tmp_path
):
    url = postgres.url("app") + "?sslmode=disable&connection_limit=5&pool_timeout=10"
    aws("secretsmanager").create_secret(Name="sage-drill/database-url", SecretString=url)
    extra = settings(postgres, tmp_path, backup_database_url_secret="sage-drill/database-url")
    del extra["backup_database_url"]
    run = run_playbook("playbooks/backup.yml", emulator.endpoint, "-vvv", extra_vars=extra).assert_ok()
    assert postgres.password not in run.output
    assert "streaming pg_dump --format=plain of app" in run.output


def test_a_failed_backup_is_posted_to_the_errors_channel(emulator, aws, postgres, bucket, tmp_path):
    with discord_server.running() as server:
        url = server.create_webhook()
        webhook = url.rsplit("/", 2)[1]
        aws("secretsmanager").create_secret(Name="sage-drill/discord-webhook-errors", SecretString=url)
        extra = settings(
            postgres,
            tmp_path,
            backup_bucket="no-such-bucket-y",
            backup_notify_on_failure=True,
            backup_notify_webhook_secret="sage-drill/discord-webhook-errors",
            backup_notify_allow_insecure_url=True,
        )
        run = run_playbook("playbooks/backup.yml", emulator.endpoint, extra_vars=extra)
        (message,) = server.messages(webhook)
    assert run.returncode != 0
    assert message["embeds"][0]["description"] == "bucket no-such-bucket-y does not exist"
    assert server.token(webhook) not in run.output


@pytest.mark.parametrize(
    "extra, expected",
    [
        ({"backup_keep": 0}, "backup_keep must be at least 1"),
        ({"backup_part_size_mb": 1}, "backup_part_size_mb must be 5 to 5120"),
        ({"backup_bucket": "Not_A_Bucket"}, "backup_bucket must be an S3 bucket name"),
        ({"backup_format": "tar"}, "value of backup_format must be one of: plain, custom"),
    ],
)
def test_bad_backup_settings_fail_before_any_aws_call(emulator, postgres, tmp_path, extra, expected):
    emulator.reset_calls()
    run = run_playbook("playbooks/backup.yml", emulator.endpoint, extra_vars=settings(postgres, tmp_path, **extra))
    assert run.returncode != 0
    assert expected in run.output, run.output[-3000:]
    assert emulator.calls() == []


def test_missing_bucket_and_old_pg_dump_fail_clearly(emulator, postgres, tmp_path):
    run = run_playbook(
        "playbooks/backup.yml",
        emulator.endpoint,
        extra_vars=settings(postgres, tmp_path, backup_bucket="no-such-bucket-x"),
    )
    assert run.returncode != 0 and "bucket no-such-bucket-x does not exist" in run.output
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for tool in ("psql", "pg_restore"):
        (bindir / tool).symlink_to(postgres_server.client_program(tool))
    (bindir / "pg_dump").write_text("#!/bin/sh\necho 'pg_dump (PostgreSQL) 9.6.24'\n")
    (bindir / "pg_dump").chmod(0o755)
    run = run_playbook(
        "playbooks/backup.yml", emulator.endpoint, extra_vars=settings(postgres, tmp_path, backup_pg_bindir=str(bindir))
    )
    assert run.returncode != 0
    assert f"pg_dump 9 cannot dump a PostgreSQL {postgres.version} server" in run.output


def test_restore_refuses_a_non_empty_target_a_missing_backup_and_a_corrupt_one(emulator, postgres, bucket, tmp_path):
    base = settings(postgres, tmp_path)
    run = run_playbook(
        "playbooks/restore.yml", emulator.endpoint, extra_vars={**base, "restore_target_database": "app"}
    )
    assert run.returncode != 0 and "database app is not empty" in run.output
    missing = {**base, "restore_target_database": "x", "restore_backup": "backup_19990101_000000.sql.gz"}
    run = run_playbook("playbooks/restore.yml", emulator.endpoint, extra_vars=missing)
    assert run.returncode != 0 and "backup backup_19990101_000000.sql.gz not found in s3://" in run.output
    newest = [k for k in backups(bucket) if NAME.match(k)][-1]
    head = bucket.head_object(Bucket=BUCKET, Key=newest)
    body = bytearray(bucket.get_object(Bucket=BUCKET, Key=newest)["Body"].read())
    body[len(body) // 2] ^= 0xFF
    corrupt = PREFIX + "backup_29991231_235959.sql.gz"
    bucket.put_object(Bucket=BUCKET, Key=corrupt, Body=bytes(body), Metadata=head["Metadata"])
    try:
        run = run_playbook(
            "playbooks/restore.yml", emulator.endpoint, extra_vars={**base, "restore_target_database": "app_corrupt"}
        )
        assert run.returncode != 0
        assert f"s3://{BUCKET}/{corrupt} is corrupt" in run.output and "nothing was restored" in run.output
        assert "app_corrupt" not in postgres.psql("SELECT datname FROM pg_database")
    finally:
        bucket.delete_object(Bucket=BUCKET, Key=corrupt)


MIGRATIONS = {
    "good.sql": "CREATE TABLE plans (id serial PRIMARY KEY, name text); ALTER TABLE notes ADD COLUMN plan_id int;",
    # No transaction: the first statements are applied, then the third fails.
    "half.sql": "CREATE TABLE half (id int); INSERT INTO notes (body) VALUES ('written by half');\nSELECT 1/0;",
    "slow.sql": "SELECT pg_sleep(8); CREATE TABLE slow (id int);",
}


@pytest.fixture
def migrations(tmp_path):
    for name, sql in MIGRATIONS.items():
        (tmp_path / name).write_text(sql)
    return tmp_path


def migrate(emulator, postgres, tmp_path, migration, *args, database="app"):
    extra = settings(postgres, tmp_path, database, migrate_chdir=str(tmp_path))
    extra["migrate_command"] = f'psql "$DATABASE_URL" -X -v ON_ERROR_STOP=1 -f {migration}'
    return run_playbook("playbooks/migrate.yml", emulator.endpoint, *args, extra_vars=extra)


def test_a_failing_migration_is_rolled_back_and_verified(emulator, postgres, bucket, migrations):
    postgres.create_database("mig_fail")
    postgres.psql(
        "CREATE TABLE notes (id serial PRIMARY KEY, body text); INSERT INTO notes (body) VALUES ('kept')", "mig_fail"
    )
    before = postgres.dump("mig_fail")
    run = migrate(emulator, postgres, migrations, "half.sql", "-vvv", database="mig_fail")
    assert run.returncode != 0
    assert "migration failed (exit 3" in run.output and "division by zero" in run.output
    assert "is back to its state before the migration (verified: same dump)" in run.output, run.output[-4000:]
    assert re.search(r"backup s3://sage-backups-drill/postgres/backup_\d{8}_\d{6}\.sql\.gz", run.output)
    assert postgres.dump("mig_fail") == before
    assert postgres.password not in run.output


def test_a_good_migration_runs_after_a_backup(emulator, postgres, bucket, migrations):
    postgres.create_database("mig_ok")
    postgres.psql("CREATE TABLE notes (id serial PRIMARY KEY, body text)", "mig_ok")
    count = len(backups(bucket))
    check = migrate(emulator, postgres, migrations, "good.sql", "--check", database="mig_ok")
    check.assert_ok()
    assert "would back up to s3://" in check.output and "plans" not in postgres.psql("\\dt", "mig_ok")
    assert len(backups(bucket)) == count, "check mode backs nothing up"
    migrate(emulator, postgres, migrations, "good.sql", database="mig_ok").assert_ok()
    assert "plans" in postgres.psql("SELECT tablename FROM pg_tables", "mig_ok")
    assert len(backups(bucket)) == count + 1


def test_two_migrations_at_once_do_not_both_run(emulator, postgres, bucket, migrations):
    postgres.create_database("mig_race")
    results = {}

    def first():
        results["first"] = migrate(emulator, postgres, migrations, "slow.sql", database="mig_race")

    thread = threading.Thread(target=first)
    thread.start()
    deadline = time.monotonic() + 60
    while "pg_sleep" not in postgres.psql("SELECT query FROM pg_stat_activity WHERE datname = 'mig_race'"):
        assert time.monotonic() < deadline, "the first migration never started"
        time.sleep(0.2)
    second = migrate(emulator, postgres, migrations, "good.sql", database="mig_race")
    thread.join()
    results["first"].assert_ok()
    assert second.returncode != 0
    assert "another migration holds the lock of mig_race" in second.output
    tables = postgres.psql("SELECT tablename FROM pg_tables WHERE schemaname = 'public'", "mig_race")
    assert "slow" in tables and "plans" not in tables
