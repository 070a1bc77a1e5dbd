# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests for sage.infra.postgresql_migrate: a real PostgreSQL server (tests/harness) and S3 in moto in-process.

The migrations are psql runs of SQL files, given the database by $DATABASE_URL as Prisma is."""

import gzip
import os
import re
import time

import psycopg
import pytest
from ansible_collections.sage.infra.plugins.modules import postgresql_migrate

REGION = "us-east-1"
BUCKET = "sage-backups-test"  # made by the s3 fixture of conftest.py
LOCK_KEY = 7242024  # the module's default


@pytest.fixture
def database(new_database):
    return new_database(sample=True)


@pytest.fixture
def psql(postgres):
    return str(postgres.bin_dir / "psql")


@pytest.fixture
def run(module_runner, postgres, database, s3, tmp_path):
    return module_runner(
        postgresql_migrate.main,
        secrets=(postgres.password,),
        database_url=postgres.url(database),
        bucket=BUCKET,
        region=REGION,
        chdir=str(tmp_path),
        pg_bindir=str(postgres.bin_dir),  # not Debian's pg_wrapper on PATH: faster
    )


def migration(tmp_path, psql, sql, name="migration.sql"):
    """The command applying ``sql`` with psql (no transaction: each statement on its own, as Prisma's SQL is)."""
    (tmp_path / name).write_text(sql)
    return f'"{psql}" "$DATABASE_URL" -X -q -v ON_ERROR_STOP=1 -f {name}'


def objects(s3):
    versions = s3.list_object_versions(Bucket=BUCKET)
    return [item["Key"] for item in versions.get("Versions", []) + versions.get("DeleteMarkers", [])]


def lock_is_free(postgres, database, key=LOCK_KEY):
    with psycopg.connect(postgres.url(database), autocommit=True) as connection:
        free = connection.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()[0]
        if free:
            connection.execute("SELECT pg_advisory_unlock(%s)", (key,))
        return free


def test_migration_applied(run, s3, postgres, database, psql, tmp_path):
    before = postgres.dump(database)
    command = migration(
        tmp_path, psql, "ALTER TABLE public.items ADD COLUMN sku text;\nCREATE TABLE public.audit (id int, at date);\n"
    )
    log_file = tmp_path / "migrate.log"
    result = run(command=command, log_file=str(log_file))
    assert result["changed"] is True
    assert result["rolled_back"] is False
    key = result["backup"]
    assert re.fullmatch(r"postgres/backup_\d{8}_\d{6}\.sql\.gz", key)
    assert objects(s3) == [key]
    metadata = s3.head_object(Bucket=BUCKET, Key=key)["Metadata"]
    assert metadata["database"] == database and metadata["format"] == "plain"
    # the backup is the database before the migration
    target = f"{database}_check"
    postgres.create_database(target)
    try:
        postgres.psql(gzip.decompress(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()).decode(), target)
        assert postgres.dump(target) == before
    finally:
        postgres.drop_database(target)
    columns = postgres.psql(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'items' ORDER BY ordinal_position;"
        "SELECT count(*) FROM pg_class WHERE relname = 'audit'",
        database,
    )
    assert columns.split() == ["id", "owner", "name", "price", "sku", "1"]
    assert log_file.read_text().splitlines() == result["log"]
    assert result["log"][-1].endswith("migrate: migration applied")
    assert lock_is_free(postgres, database)


def test_failing_halfway_is_rolled_back(run, s3, postgres, database, psql, tmp_path):
    before = postgres.dump(database)
    command = migration(
        tmp_path,
        psql,
        "CREATE TABLE public.half (id int);\n"
        "INSERT INTO public.items VALUES (9999, 1, 'added by the migration', 5);\n"
        "DROP VIEW public.expensive;\n"
        "SELECT 1 / 0;\n"
        "CREATE TABLE public.never (id int);\n",
    )
    result = run.failure(command=command)
    key = result["backup"]
    assert result["rolled_back"] is True
    assert result["changed"] is True
    msg = result["msg"]
    assert msg.startswith("migration failed (exit 3: ")
    assert "division by zero" in msg
    assert "is back to its state before the migration (verified: same dump)" in msg
    assert msg.endswith(f"backup s3://{BUCKET}/{key}")
    assert "division by zero" in result["output"]
    assert postgres.dump(database) == before
    assert objects(s3) == [key]
    assert lock_is_free(postgres, database)


@pytest.mark.parametrize("lock_key", [LOCK_KEY, -(2**40) - 7])
def test_another_migration_holds_the_lock(run, s3, postgres, database, tmp_path, lock_key):
    marker = tmp_path / "ran"
    with psycopg.connect(postgres.url(database), autocommit=True, application_name="other-migration") as other:
        other.execute("SELECT pg_advisory_lock(%s)", (lock_key,))
        pid = other.info.backend_pid
        started = time.monotonic()
        msg = run.fail(command=f"touch {marker}", lock_key=lock_key)
        assert time.monotonic() - started < 20
    assert msg.startswith(f"another migration holds the lock of {database} (pid {pid} other-migration from ")
    assert msg.endswith(": nothing was done")
    assert not marker.exists()
    assert objects(s3) == []


def test_a_lock_on_another_key_does_not_block(run, postgres, database, tmp_path):
    with psycopg.connect(postgres.url(database), autocommit=True) as other:
        other.execute("SELECT pg_advisory_lock(%s)", (LOCK_KEY + 1,))
        assert run(command="true")["changed"] is True


def test_check_mode_runs_nothing(run, s3, postgres, database, tmp_path, calls):
    marker = tmp_path / "ran"
    before = postgres.dump(database)
    result = run(command=f"touch {marker}", check_mode=True)
    assert result["changed"] is False
    assert "backup" not in result and "output" not in result
    assert not marker.exists()
    assert calls == ["HeadBucket"]
    assert objects(s3) == []
    assert postgres.dump(database) == before
    assert any("check mode: would back up" in line for line in result["log"])
    assert lock_is_free(postgres, database)


def test_timeout_stops_the_command_and_rolls_back(run, s3, postgres, database, psql, tmp_path):
    before = postgres.dump(database)
    pid_file = tmp_path / "pid"
    (tmp_path / "slow.sql").write_text("CREATE TABLE public.slow (id int);\n")
    command = f'"{psql}" "$DATABASE_URL" -X -q -f slow.sql; sleep 60 & echo $! > {pid_file}; wait'
    started = time.monotonic()
    result = run.failure(command=command, timeout=2)
    assert time.monotonic() - started < 40
    assert result["rolled_back"] is True
    assert "(stopped after 2 s)" in result["msg"]
    assert "(verified: same dump)" in result["msg"]
    assert postgres.dump(database) == before
    # the whole command was stopped, not only the shell: nothing of it may go on changing the database
    state = ""
    status = f"/proc/{pid_file.read_text().strip()}/status"
    if os.path.exists(status):
        with open(status, encoding="utf-8") as lines:
            state = next((line for line in lines if line.startswith("State:")), "")
    assert state in ("", "State:\tZ (zombie)\n"), state


def test_database_url_given_as_is_to_the_command(run, s3, postgres, database, tmp_path):
    url = postgres.url(database) + "?connection_limit=5&pool_timeout=10&schema=public"
    command = 'printf "%s" "$DATABASE_URL" > url.txt; printf "%s" "$EXTRA" > extra.txt'
    result = run(database_url=url, command=command, environment={"EXTRA": 42})
    assert (tmp_path / "url.txt").read_text() == url
    assert (tmp_path / "extra.txt").read_text() == "42"
    assert objects(s3) == [result["backup"]]  # pg_dump ignored Prisma's parameters
    assert s3.head_object(Bucket=BUCKET, Key=result["backup"])["Metadata"]["database"] == database


def test_password_masked_in_the_output(run, postgres, tmp_path):
    # the password alone (not the whole no_log URL, which Ansible would mask itself)
    command = "echo \"$DATABASE_URL\" | sed -E 's#^[^:]+://[^:]+:([^@]+)@.*#password=\\1#'; exit 4"
    result = run.failure(command=command)
    assert "password=***" in result["output"]
    assert "exit 4: password=***" in result["msg"]
    assert postgres.password not in run.out


def test_chdir_must_exist(run, s3, tmp_path, calls):
    assert run.fail(chdir=str(tmp_path / "missing")) == f"chdir {tmp_path / 'missing'} is not a directory"
    assert calls == []
