# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests for module_utils/postgres_backup.py (S3 through moto in-process, no database)."""

import base64
import datetime
import gzip
import hashlib
import io
import random
import re
import stat

import pytest
from ansible_collections.sage.infra.plugins.module_utils import postgres_backup as pg

REGION = "us-east-1"
BUCKET = "sage-backups-test"  # made by the s3 fixture of conftest.py
PREFIX = "postgres/"
UTC = datetime.timezone.utc  # noqa: UP017 - the same spelling as the module_utils


class ShortReads(io.RawIOBase):
    """A raw stream handing out at most a few random bytes per read, as a pipe does."""

    def __init__(self, data, seed=0, largest=7000):
        super().__init__()
        self.data, self.position = data, 0
        self.random, self.largest = random.Random(seed), largest
        self.sizes = []

    def readable(self):
        return True

    def read(self, size=-1):
        size = len(self.data) if size is None or size < 0 else size
        take = min(size, self.random.randint(1, self.largest))
        chunk = self.data[self.position : self.position + take]
        self.position += len(chunk)
        self.sizes.append(len(chunk))
        return chunk


def sample_bytes(size, seed=1):
    return random.Random(seed).randbytes(size)


# --- DumpReader -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [1, 4096, 65536 + 17])
def test_dump_reader_returns_exactly_n_bytes_until_the_end(size):
    data = sample_bytes(300_000)
    raw = ShortReads(data)
    reader = pg.DumpReader(raw, part_size=50_000)
    pieces = []
    while True:
        piece = reader.read(size)
        if not piece:
            break
        pieces.append(piece)
    assert max(raw.sizes) < pg.READ_SIZE  # the raw reads were short ...
    assert all(len(piece) == size for piece in pieces[:-1])  # ... the reader's are not, but for the last
    assert 0 < len(pieces[-1]) <= size
    assert b"".join(pieces) == data
    assert reader.read(size) == b""
    assert reader.bytes == reader.raw_bytes == len(data)
    assert reader.sha256.hexdigest() == hashlib.sha256(data).hexdigest()


def test_dump_reader_short_raw_reads_are_filled_up():
    raw = ShortReads(sample_bytes(100_000), largest=100)
    reader = pg.DumpReader(raw, part_size=10_000)
    assert len(reader.read(10_000)) == 10_000
    assert max(raw.sizes) <= 100 and len(raw.sizes) >= 100


def test_dump_reader_read_all():
    data = sample_bytes(10_000)
    reader = pg.DumpReader(ShortReads(data), part_size=5000)
    assert reader.read() == data
    assert reader.read() == b""


@pytest.mark.parametrize("level", [0, 1, 6, 9])
def test_dump_reader_gzip_decompresses_to_the_input(level):
    text = b"".join(b"INSERT INTO t VALUES (%d, 'row %d');\n" % (n, n) for n in range(20_000))
    reader = pg.DumpReader(ShortReads(text, largest=50_000), part_size=64 * 1024, compress_level=level)
    out = b"".join(iter(lambda: reader.read(8192), b""))
    assert gzip.decompress(out) == text
    assert reader.raw_bytes == len(text)
    assert reader.bytes == len(out)
    assert reader.sha256.hexdigest() == hashlib.sha256(out).hexdigest()
    if level:
        assert len(out) < len(text) / 3
    assert reader.fingerprint.hexdigest() == hashlib.sha256(text).hexdigest()


def test_composite_checksum_equals_s3s_after_a_multipart_upload(s3):
    part = 5 * pg.MiB
    data = sample_bytes(11 * pg.MiB + 12345)  # random: gzip makes it a little bigger, 3 parts
    reader = pg.DumpReader(ShortReads(data, largest=300_000), part, compress_level=1)
    s3.upload_fileobj(
        reader, BUCKET, "multi", ExtraArgs={"ChecksumAlgorithm": "SHA256"}, Config=pg.transfer_config(part, 2)
    )
    head = s3.head_object(Bucket=BUCKET, Key="multi", ChecksumMode="ENABLED")
    assert len(reader.part_digests) + (1 if reader.part_filled else 0) == 3
    assert head["ContentLength"] == reader.bytes
    assert head["ChecksumSHA256"].split("-")[0] == reader.composite_sha256()
    assert reader.composite_sha256() != reader.full_sha256()
    body = s3.get_object(Bucket=BUCKET, Key="multi")["Body"].read()
    assert gzip.decompress(body) == data
    # computed here independently: SHA-256 of the parts' SHA-256 digests
    digests = b"".join(hashlib.sha256(body[i : i + part]).digest() for i in range(0, len(body), part))
    assert reader.composite_sha256() == base64.b64encode(hashlib.sha256(digests).digest()).decode()
    assert pg._checksum_matches(head, {"composite_sha256": reader.composite_sha256(), "parts": 3, "sha256_base64": ""})


def test_full_checksum_equals_s3s_for_a_single_part(s3):
    data = b"-- a small dump\nSELECT 1;\n" * 100
    reader = pg.DumpReader(io.BytesIO(data), 5 * pg.MiB, compress_level=6)
    s3.upload_fileobj(
        reader, BUCKET, "single", ExtraArgs={"ChecksumAlgorithm": "SHA256"}, Config=pg.transfer_config(5 * pg.MiB, 2)
    )
    head = s3.head_object(Bucket=BUCKET, Key="single", ChecksumMode="ENABLED")
    body = s3.get_object(Bucket=BUCKET, Key="single")["Body"].read()
    assert head["ChecksumSHA256"] == reader.full_sha256() == base64.b64encode(hashlib.sha256(body).digest()).decode()
    assert gzip.decompress(body) == data
    assert pg._checksum_matches(
        head, {"composite_sha256": reader.composite_sha256(), "parts": 1, "sha256_base64": reader.full_sha256()}
    )
    assert not pg._checksum_matches(head, {"composite_sha256": "x", "parts": 1, "sha256_base64": "y"})


# --- DumpFingerprint ------------------------------------------------------------------------------------------

DUMP = (
    b"--\n-- PostgreSQL database dump\n--\n\n"
    b"\\restrict Zq8lFhPRJ7sB3nGkYx0cVt1mWdE5aUoI\n\n"
    b"SET statement_timeout = 0;\n"
    b"COPY public.t (id, note) FROM stdin;\n"
    b"1\t\\\\restrict in the data\n"
    b"2\tnot \\restrict at the start\n"
    b"\\.\n\n"
    b"-- \\restrict in a comment\n"
    b"SELECT '\\unrestrict x';\n"
    b"\\unrestrict Zq8lFhPRJ7sB3nGkYx0cVt1mWdE5aUoI\n"
)
DUMP_OTHER_KEY = DUMP.replace(b"Zq8lFhPRJ7sB3nGkYx0cVt1mWdE5aUoI", b"9nT0aP4fQ2rS6uVwX8yZ1bC3dE5gH7jK")
WITHOUT_RANDOM_LINES = DUMP.replace(b"\\restrict Zq8lFhPRJ7sB3nGkYx0cVt1mWdE5aUoI\n", b"").replace(
    b"\\unrestrict Zq8lFhPRJ7sB3nGkYx0cVt1mWdE5aUoI\n", b""
)


def fingerprint(data, cuts):
    digest = pg.DumpFingerprint()
    start = 0
    for cut in [*cuts, len(data)]:
        digest.update(data[start:cut])
        start = cut
    return digest.hexdigest()


def test_fingerprint_ignores_the_restrict_lines_at_every_chunk_boundary():
    expected = hashlib.sha256(WITHOUT_RANDOM_LINES).hexdigest()
    assert WITHOUT_RANDOM_LINES.count(b"restrict") == 4  # the four that are not pg_dump's are kept
    for cut in range(len(DUMP) + 1):
        assert fingerprint(DUMP, [cut]) == expected, cut
        assert fingerprint(DUMP_OTHER_KEY, [cut]) == expected, cut
    assert fingerprint(DUMP, range(len(DUMP))) == expected  # one byte at a time


def test_fingerprint_ignores_nothing_else():
    reference = fingerprint(DUMP, [])
    changed = [
        DUMP.replace(b"SET statement_timeout = 0;", b"SET statement_timeout = 1;"),
        DUMP.replace(b"\\\\restrict in the data", b"\\\\restrict in the DATA"),
        DUMP.replace(b"-- \\restrict in a comment", b"-- \\restrict in a Comment"),
        DUMP.replace(b"'\\unrestrict x'", b"'\\unrestrict y'"),
        DUMP.replace(b"\\restrict Zq8", b"\\restricted Zq8"),  # not pg_dump's command
        DUMP + b"\n",
        DUMP.replace(b"= 0;\n", b"= 0;"),  # a newline
        DUMP.replace(b"\\.\n\n", b"\\.\n"),  # an empty line
    ]
    for data in changed:
        assert fingerprint(data, []) != reference, data
        assert fingerprint(data, [len(data) // 2]) == fingerprint(data, [])


def test_fingerprint_of_a_last_line_without_newline():
    assert fingerprint(b"a\n\\restrict abc", [3]) == hashlib.sha256(b"a\n").hexdigest()
    assert fingerprint(b"a\nb", [2]) == hashlib.sha256(b"a\nb").hexdigest()


# --- connection settings --------------------------------------------------------------------------------------


def test_parse_url_basics():
    env = pg.parse_url("postgresql://sage:s3cret@db.internal:6543/sage")
    assert env == {
        "PGHOST": "db.internal",
        "PGPORT": "6543",
        "PGUSER": "sage",
        "PGPASSWORD": "s3cret",
        "PGDATABASE": "sage",
        "PGCONNECT_TIMEOUT": "10",
    }
    assert pg.parse_url("postgres://u:p@h/d")["PGPORT"] == "5432"


def test_parse_url_libpq_parameters_and_prisma_ones_ignored():
    env = pg.parse_url(
        "postgresql://u:p@h:5432/d?schema=public&connection_limit=5&sslmode=require&pool_timeout=10"
        "&connect_timeout=3&sslrootcert=/etc/ssl/rds.pem"
    )
    assert env["PGSSLMODE"] == "require"
    assert env["PGCONNECT_TIMEOUT"] == "3"
    assert env["PGSSLROOTCERT"] == "/etc/ssl/rds.pem"
    assert env["PGDATABASE"] == "d"
    assert set(env) == {
        "PGHOST",
        "PGPORT",
        "PGUSER",
        "PGPASSWORD",
        "PGDATABASE",
        "PGSSLMODE",
        "PGCONNECT_TIMEOUT",
        "PGSSLROOTCERT",
    }


def test_parse_url_percent_encoded():
    env = pg.parse_url("postgresql://sage%2Badmin:p%40ss%2Fw%3Ard%23%3F@h:5432/my%20db")
    assert env["PGUSER"] == "sage+admin"
    assert env["PGPASSWORD"] == "p@ss/w:rd#?"
    assert env["PGDATABASE"] == "my db"


@pytest.mark.parametrize(
    "url",
    [
        "mysql://u:Hunter2Secret@h:3306/d",
        "postgresql://u:Hunter2Secret@h:5432/",
        "postgresql://u:Hunter2Secret@h:5432",
        "postgresql://u:Hunter2Secret@:5432/d",
        "postgresql://u:Hunter2Secret@h:99999/d",
        "postgresql://u:Hunter2Secret@h:port/d",
        "postgresql://u:Hunter2Secret#x@h:5432/d",
        "u:Hunter2Secret@h:5432/d",
        "",
        None,
    ],
)
def test_parse_url_bad_urls_without_the_password(url):
    with pytest.raises(pg.BackupError) as error:
        pg.parse_url(url)
    assert "database_url" in str(error.value)
    assert "Hunter2Secret" not in str(error.value)


def test_redact():
    env = {"PGPASSWORD": "s3cr3t-pw"}
    assert pg.redact("FATAL: s3cr3t-pw is wrong, s3cr3t-pw", env) == "FATAL: *** is wrong, ***"
    assert pg.redact(ValueError("x s3cr3t-pw"), env) == "x ***"
    assert pg.redact("nothing to hide", {"PGPASSWORD": ""}) == "nothing to hide"
    assert pg.redact("nothing to hide", {}) == "nothing to hide"


# --- names, listing and retention -----------------------------------------------------------------------------


def test_backup_key_format():
    when = datetime.datetime(2026, 11, 29, 7, 5, 9, tzinfo=UTC)
    assert pg.backup_key("postgres/", "plain", when) == "postgres/backup_20261129_070509.sql.gz"
    assert pg.backup_key("", "custom", when) == "backup_20261129_070509.dump"
    before = datetime.datetime.now(UTC).replace(microsecond=0)
    key = pg.backup_key("p/", "plain")
    after = datetime.datetime.now(UTC)
    match = re.fullmatch(r"p/backup_(\d{8}_\d{6})\.sql\.gz", key)
    assert match and pg.NAME.match(key[2:])
    stamp = datetime.datetime.strptime(match.group(1), "%Y%m%d_%H%M%S").replace(tzinfo=UTC)
    assert before <= stamp <= after  # UTC, not local time


def test_list_backups_only_final_names_directly_under_the_prefix(s3):
    keys = [
        "postgres/backup_20260103_000000.sql.gz",  # written first, newest by name
        "postgres/backup_20260101_120000.dump",
        "postgres/backup_20260102_000000.sql.gz",
        "postgres/backup_20260101_000000.sql.gz",
        "postgres/incoming/backup_20260104_000000.sql.gz",
        "postgres/deeper/backup_20260105_000000.sql.gz",
        "postgres/backup_20260106_000000.sql.gz.tmp",
        "postgres/backup_2026010_000000.sql.gz",
        "postgres/backup_20260106_000000.sql",
        "postgres/notes.txt",
        "postgres-old/backup_20260107_000000.sql.gz",
        "backup_20260108_000000.sql.gz",
        "other/postgres/backup_20260109_000000.sql.gz",
    ]
    for key in keys:
        s3.put_object(Bucket=BUCKET, Key=key, Body=b"x" * len(key))
    found = pg.list_backups(s3, BUCKET, "postgres/")
    assert [item["key"] for item in found] == [
        "postgres/backup_20260101_000000.sql.gz",
        "postgres/backup_20260101_120000.dump",
        "postgres/backup_20260102_000000.sql.gz",
        "postgres/backup_20260103_000000.sql.gz",
    ]
    assert found[0]["size"] == len(found[0]["key"])
    assert datetime.datetime.fromisoformat(found[0]["last_modified"]).tzinfo is not None
    assert [item["key"] for item in pg.list_backups(s3, BUCKET, "")] == ["backup_20260108_000000.sql.gz"]
    assert pg.list_backups(s3, BUCKET, "nothing/") == []


def test_list_backups_pages(s3):
    keys = [f"postgres/backup_2026{month:02d}{day:02d}_000000.sql.gz" for month in (1, 2, 3) for day in range(1, 29)]
    for key in reversed(keys):
        s3.put_object(Bucket=BUCKET, Key=key, Body=b"")
    paginator = s3.get_paginator("list_objects_v2")
    original = paginator.paginate
    s3.get_paginator = lambda name: paginator
    paginator.paginate = lambda **kwargs: original(**kwargs, PaginationConfig={"PageSize": 10})
    assert [item["key"] for item in pg.list_backups(s3, BUCKET, "postgres/")] == keys


def test_expired_keeps_the_newest():
    backups = [f"b{n}" for n in range(5)]
    assert pg.expired(backups, 2) == ["b0", "b1", "b2"]
    assert pg.expired(backups, 1) == ["b0", "b1", "b2", "b3"]
    assert pg.expired(backups, 5) == []
    assert pg.expired(backups, 9) == []
    assert pg.expired([], 3) == []


# --- client versions ------------------------------------------------------------------------------------------


def fake_bindir(tmp_path, version_line):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    script = bindir / "pg_dump"
    script.write_text(f"#!/bin/sh\necho '{version_line}'\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return str(bindir)


def test_check_pg_dump_older_than_the_server(tmp_path):
    bindir = fake_bindir(tmp_path, "pg_dump (PostgreSQL) 14.11 (Debian 14.11-1.pgdg120+1)")
    with pytest.raises(pg.BackupError) as error:
        pg.check_pg_dump(16, bindir)
    message = str(error.value)
    assert "pg_dump 14 cannot dump a PostgreSQL 16 server" in message
    assert "postgresql-client-16" in message and "pg_bindir" in message
    assert pg.check_pg_dump(14, bindir) == 14
    assert pg.check_pg_dump(13, bindir) == 14


def test_check_pg_dump_missing_or_unreadable(tmp_path):
    with pytest.raises(pg.BackupError, match=f"pg_dump not found in {tmp_path}"):
        pg.check_pg_dump(15, str(tmp_path))
    bindir = fake_bindir(tmp_path, "no version here")
    with pytest.raises(pg.BackupError, match="cannot tell the version of pg_dump"):
        pg.check_pg_dump(15, bindir)


# --- step log -------------------------------------------------------------------------------------------------

STAMPED = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ (\w+): (.*)$")


def test_step_log_lines_and_file(tmp_path):
    path = tmp_path / "backup.log"
    path.write_text("earlier line\n")
    log = pg.StepLog(str(path), "backup")
    log("first step")
    log("second step")
    assert [STAMPED.match(line).groups() for line in log.lines] == [
        ("backup", "first step"),
        ("backup", "second step"),
    ]
    assert path.read_text().splitlines() == ["earlier line", *log.lines]
    stamp = datetime.datetime.strptime(log.lines[0].split()[0], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert abs((datetime.datetime.now(UTC) - stamp).total_seconds()) < 60


def test_step_log_without_a_file():
    log = pg.StepLog(None, "restore")
    log("step")
    assert STAMPED.match(log.lines[0]).groups() == ("restore", "step")


# (A read-only file is not tested: CI runs as root, who may write it.)
@pytest.mark.parametrize("where", ["missing directory", "directory"])
def test_step_log_refuses_an_unwritable_path(tmp_path, where):
    path = tmp_path / "no" / "such" / "backup.log" if where == "missing directory" else tmp_path
    with pytest.raises(pg.BackupError, match="is not writable"):
        pg.StepLog(str(path), "backup")
