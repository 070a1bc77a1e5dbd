# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests for sage.infra.postgresql_restore: a real PostgreSQL server (tests/harness) and S3 in moto in-process.

Most tests restore one backup of the session's sample database, taken once (with the module_utils); the others
take theirs with sage.infra.postgresql_backup."""

import datetime
import gzip
import hashlib
import itertools

import boto3
import pytest
from ansible_collections.sage.infra.plugins.module_utils import postgres_backup as pg
from ansible_collections.sage.infra.plugins.modules import postgresql_backup, postgresql_restore
from moto import mock_aws

REGION = "us-east-1"
BUCKET = "sage-backups-test"  # made by the s3 fixture of conftest.py


@pytest.fixture(autouse=True)
def clock(monkeypatch):
    """Backups taken in the same second get names a second apart, in the order they are taken."""
    seconds = itertools.count()
    start = datetime.datetime(2026, 11, 29, 12, 0, 0, tzinfo=datetime.timezone.utc)  # noqa: UP017
    original = pg.backup_key

    def backup_key(prefix, fmt, now=None):
        return original(prefix, fmt, now or start + datetime.timedelta(seconds=next(seconds)))

    monkeypatch.setattr(pg, "backup_key", backup_key)


@pytest.fixture(scope="module")
def shared_backup(postgres, sample_database):
    """(key, bytes, metadata) of a plain backup of `sample_database`, taken once with the module_utils."""
    env = pg.parse_url(postgres.url(sample_database))
    key = "postgres/backup_20261129_110000.sql.gz"
    with mock_aws():
        client = boto3.client("s3", region_name=REGION)
        client.create_bucket(Bucket=BUCKET)
        written = pg.stream_backup(client, BUCKET, key, env, bindir=str(postgres.bin_dir))
        pg.finalize(client, BUCKET, written, "15")
        head = client.head_object(Bucket=BUCKET, Key=key)
        return key, client.get_object(Bucket=BUCKET, Key=key)["Body"].read(), head["Metadata"]


@pytest.fixture
def stored(s3, shared_backup):
    """The key of the shared backup of `sample_database`, put in the bucket."""
    key, body, metadata = shared_backup
    s3.put_object(Bucket=BUCKET, Key=key, Body=body, Metadata=metadata)
    return key


@pytest.fixture
def backup(module_runner, postgres, s3):
    """backup(database, **args) -> key of a new backup of `database` by the backup module."""
    run = module_runner(
        postgresql_backup.main,
        secrets=(postgres.password,),
        bucket=BUCKET,
        region=REGION,
        pg_bindir=str(postgres.bin_dir),  # not Debian's pg_wrapper on PATH: faster
    )
    return lambda database, **args: run(database_url=postgres.url(database), **args)["key"]


@pytest.fixture
def restore(module_runner, postgres, s3):
    """restore(target, **args): runner of the restore module into the database `target`."""
    runner = module_runner(
        postgresql_restore.main,
        secrets=(postgres.password,),
        bucket=BUCKET,
        region=REGION,
        pg_bindir=str(postgres.bin_dir),
    )

    def run(target, **args):
        return runner(database_url=postgres.url(target), **args)

    run.fail = lambda target, **args: runner.fail(database_url=postgres.url(target), **args)
    run.failure = lambda target, **args: runner.failure(database_url=postgres.url(target), **args)
    return run


def exists(postgres, database):
    return postgres.psql(f"SELECT count(*) FROM pg_database WHERE datname = '{database}'").strip() == "1"


def put_backup(s3, key, body, **metadata):
    """An object as the backup module writes it, with its (or the given) metadata."""
    metadata = {"format": "plain", "sha256": hashlib.sha256(body).hexdigest(), "bytes": str(len(body)), **metadata}
    s3.put_object(Bucket=BUCKET, Key=key, Body=body, Metadata=metadata)


def test_restore_the_newest_into_a_new_database(restore, backup, postgres, new_database, s3, tmp_path):
    source = new_database(sample=True)
    older = backup(source)
    before = postgres.dump(source)
    postgres.psql("INSERT INTO public.items VALUES (2000, 2, 'newer', 99); DROP VIEW public.expensive", source)
    newest = backup(source)
    assert older < newest
    target = new_database(create=False)
    log_file = tmp_path / "restore.log"
    result = restore(target, log_file=str(log_file))
    assert result["changed"] is True
    assert result["created"] is True
    assert result["key"] == newest
    assert result["sha256"] == hashlib.sha256(s3.get_object(Bucket=BUCKET, Key=newest)["Body"].read()).hexdigest()
    assert postgres.dump(target) == postgres.dump(source) != before
    assert log_file.read_text().splitlines() == result["log"]
    assert any("checksum verified" in line for line in result["log"])

    # the older one, by name or by key
    for number, name in enumerate((older.rsplit("/", 1)[1], older)):
        other = new_database(create=number == 0)  # an existing empty database is fine too
        result = restore(other, backup=name)
        assert result["key"] == older
        assert result["created"] is (number == 1)
        assert postgres.dump(other) == before


def test_restore_a_custom_format_backup(restore, backup, postgres, sample_database, new_database):
    key = backup(sample_database, format="custom")
    target = new_database(create=False)
    assert restore(target)["key"] == key
    assert postgres.dump(target) == postgres.dump(sample_database)


def test_named_backup_missing(restore, stored, postgres, new_database):
    newest = stored
    target = new_database(create=False)
    msg = restore.fail(target, backup="backup_20000101_000000.sql.gz")
    assert msg == (
        f"backup backup_20000101_000000.sql.gz not found in s3://{BUCKET}/postgres/ "
        f"(newest: {newest.rsplit('/', 1)[1]})"
    )
    assert not exists(postgres, target)


def test_no_backup_at_all(restore, postgres, new_database):
    target = new_database(create=False)
    assert restore.fail(target) == f"no backup in s3://{BUCKET}/postgres/"
    assert restore.fail(target, backup="backup_x.sql.gz").endswith("(there is none)")
    assert not exists(postgres, target)


def test_refuses_a_database_that_is_not_empty(restore, stored, postgres, new_database):
    target = new_database()
    postgres.psql("CREATE TABLE precious (id int); INSERT INTO precious VALUES (1)", target)
    before = postgres.dump(target)
    msg = restore.fail(target)
    assert f"database {target} is not empty" in msg and "replace=true" in msg
    assert postgres.dump(target) == before


@pytest.mark.parametrize(
    "sql",
    [
        "CREATE TYPE public.mood AS ENUM ('happy', 'sad')",
        "CREATE SCHEMA other; CREATE DOMAIN other.positive AS int CHECK (VALUE > 0)",
    ],
)
def test_a_database_with_only_types_is_not_empty(restore, stored, postgres, new_database, sql):
    target = new_database()
    postgres.psql(sql, target)
    before = postgres.dump(target)
    assert "is not empty" in restore.fail(target)
    assert postgres.dump(target) == before


def test_replace(restore, stored, postgres, sample_database, new_database):
    target = new_database(sample=True)
    postgres.psql(
        "CREATE SCHEMA junk; CREATE TABLE junk.t (id int); CREATE TABLE public.extra (id int);"
        "CREATE FUNCTION public.extra_fn() RETURNS int LANGUAGE sql AS 'SELECT 1';"
        "DELETE FROM public.items WHERE id < 100; UPDATE app.users SET email = 'changed@example.com' WHERE id = 1",
        target,
    )
    assert postgres.dump(target) != postgres.dump(sample_database)
    result = restore(target, replace=True)
    assert result["key"] == stored
    assert result["changed"] is True and result["created"] is False
    assert postgres.dump(target) == postgres.dump(sample_database)
    left = postgres.psql(
        "SELECT nspname FROM pg_namespace WHERE nspname IN ('junk', 'app', 'public') ORDER BY 1;"
        "SELECT count(*) FROM pg_class WHERE relname = 'extra';"
        "SELECT count(*) FROM pg_proc WHERE proname = 'extra_fn'",
        target,
    )
    assert left.split() == ["app", "public", "0", "0"]


def test_replace_drops_every_kind_of_object_in_public(restore, stored, postgres, sample_database, new_database):
    target = new_database()
    postgres.psql(
        "CREATE EXTENSION citext; CREATE TABLE public.emails (address citext);"
        "CREATE TYPE public.mood AS ENUM ('happy', 'sad'); CREATE DOMAIN public.positive AS int CHECK (VALUE > 0);"
        "CREATE TYPE public.pair AS (a int, b int); CREATE TYPE public.span AS RANGE (subtype = int4);"
        "CREATE SEQUENCE public.loose; CREATE TABLE public.parted (id int) PARTITION BY RANGE (id);"
        "CREATE TABLE public.parted_1 PARTITION OF public.parted FOR VALUES FROM (0) TO (10);"
        "CREATE MATERIALIZED VIEW public.mv AS SELECT 1 AS one;"
        "CREATE PROCEDURE public.noop() LANGUAGE sql AS 'SELECT 1';"
        "CREATE AGGREGATE public.total (int) (sfunc = int4pl, stype = int);"
        # the backup's own objects, with other definitions
        "CREATE TABLE public.items (id int, other text); CREATE FUNCTION public.double_it(x int) RETURNS int "
        "LANGUAGE sql AS 'SELECT 3 * x'; COMMENT ON SCHEMA public IS 'standard public schema'",
        target,
    )
    restore(target, replace=True)
    assert postgres.dump(target) == postgres.dump(sample_database)


def test_corrupt_object_is_refused(restore, stored, postgres, s3, new_database):
    key = stored
    other = new_database()
    postgres.psql("CREATE TABLE other (id int)", other)
    # another backup's bytes under this backup's name, with this backup's metadata (sha256 among them)
    head = s3.head_object(Bucket=BUCKET, Key=key)
    wrong = gzip.compress(postgres.dump(other))
    s3.put_object(Bucket=BUCKET, Key=key, Body=wrong, Metadata=head["Metadata"])
    target = new_database(sample=True)
    postgres.psql("INSERT INTO public.items VALUES (4242, 1, 'only here', 1)", target)
    before = postgres.dump(target)
    msg = restore.fail(target, replace=True)
    assert f"s3://{BUCKET}/{key} is corrupt" in msg
    assert hashlib.sha256(wrong).hexdigest() in msg and head["Metadata"]["sha256"] in msg
    assert "nothing was restored" in msg
    assert postgres.dump(target) == before
    missing = new_database(create=False)
    assert "is corrupt" in restore.fail(missing)
    assert not exists(postgres, missing)


def test_flipped_byte_is_refused(restore, stored, postgres, s3, new_database):
    key = stored
    head = s3.head_object(Bucket=BUCKET, Key=key)
    body = bytearray(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())
    body[len(body) // 2] ^= 0x01
    s3.put_object(Bucket=BUCKET, Key=key, Body=bytes(body), Metadata=head["Metadata"])
    target = new_database(create=False)
    assert "is corrupt" in restore.fail(target)
    assert not exists(postgres, target)


def test_not_a_backup_of_this_tool(restore, s3, new_database):
    s3.put_object(Bucket=BUCKET, Key="postgres/backup_20261129_000000.sql.gz", Body=gzip.compress(b"SELECT 1;"))
    msg = restore.fail(new_database(create=False))
    assert msg == (
        f"s3://{BUCKET}/postgres/backup_20261129_000000.sql.gz has no sha256 in its metadata: not a backup of this tool"
    )


def test_failure_midway_is_rolled_back(restore, stored, postgres, s3, new_database):
    sql = (
        "CREATE TABLE public.first (id int);\n"
        "INSERT INTO public.first SELECT generate_series(1, 1000);\n"
        "CREATE TABLE public.items (id int);\n"
        "SELECT 1 / 0;\n"
    )
    key = "postgres/backup_20301231_235959.sql.gz"  # the newest
    put_backup(s3, key, gzip.compress(sql.encode()))
    target = new_database(sample=True)
    postgres.psql("CREATE TABLE public.extra (id int)", target)
    before = postgres.dump(target)
    result = restore.failure(target, replace=True)
    assert result["key"] == key
    assert result["msg"].startswith(f"restore of {key} failed and was rolled back: ")
    assert "division by zero" in result["msg"]
    assert postgres.dump(target) == before  # the replacement's DROP SCHEMA rolled back as well


def test_failure_message_is_the_error_not_its_context(restore, postgres, s3, new_database):
    sql = "CREATE TABLE public.first (id int);\nDO $$ BEGIN RAISE EXCEPTION 'boom from the dump'; END $$;\n"
    key = "postgres/backup_20301231_235959.sql.gz"
    put_backup(s3, key, gzip.compress(sql.encode()))
    target = new_database(create=False)
    msg = restore.fail(target)
    assert msg == f"restore of {key} failed and was rolled back: ERROR:  boom from the dump"
    assert postgres.psql("SELECT count(*) FROM pg_class WHERE relname = 'first'", target).strip() == "0"


def test_failure_midway_in_a_big_restore_is_rolled_back(restore, postgres, s3, new_database):
    # psql stops at the error while the module still writes: a broken pipe, not a hang
    rows = "".join(f"{n}\tsome text for row {n}\n" for n in range(400_000))
    sql = f"CREATE TABLE public.big (id int, t text);\nSELECT 1 / 0;\nCOPY public.big FROM stdin;\n{rows}\\.\n"
    key = "postgres/backup_20301231_235959.sql.gz"
    put_backup(s3, key, gzip.compress(sql.encode(), 1))
    target = new_database()
    postgres.psql("CREATE TABLE keep_me (id int)", target)
    before = postgres.dump(target)
    msg = restore.fail(target, replace=True)
    assert msg.startswith(f"restore of {key} failed and was rolled back: ")
    assert "division by zero" in msg
    assert postgres.dump(target) == before


def test_create_database_false(restore, stored, postgres, new_database):
    target = new_database(create=False)
    msg = restore.fail(target, create_database=False)
    assert msg == f"database {target} does not exist (create_database is false)"
    assert not exists(postgres, target)


def test_check_mode_restores_nothing(restore, stored, postgres, new_database, requests):
    key = stored
    requests.clear()
    target = new_database(create=False)
    result = restore(target, check_mode=True)
    assert result["changed"] is False and result["created"] is False
    assert result["key"] == key
    assert not exists(postgres, target)
    empty = new_database()
    result = restore(empty, check_mode=True)
    assert result["changed"] is False
    assert postgres.psql("SELECT count(*) FROM pg_class WHERE relname = 'items'", empty).strip() == "0"
    assert {name for name, _params in requests} <= {"HeadBucket", "ListObjectsV2", "HeadObject", "GetObject"}
    occupied = new_database(sample=True)
    assert "is not empty" in restore.fail(occupied, check_mode=True)
