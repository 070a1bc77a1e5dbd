# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests for sage.infra.backup_retention, run against moto in-process."""

import pytest
from ansible_collections.sage.infra.plugins.modules import backup_retention

REGION = "us-east-1"
BUCKET = "sage-backups-test"  # made by the s3 fixture of conftest.py
# written in this order: the newest by name is not the newest by LastModified
BACKUPS = [
    "postgres/backup_20261105_020000.sql.gz",
    "postgres/backup_20261101_020000.sql.gz",
    "postgres/backup_20261103_020000.dump",
    "postgres/backup_20261104_020000.sql.gz",
    "postgres/backup_20261102_020000.sql.gz",
]
OTHERS = [
    "postgres/incoming/backup_20200101_000000.sql.gz",
    "postgres/deeper/backup_20200101_000000.sql.gz",
    "postgres/backup_20200101_000000.sql.gz.part",
    "postgres/README.txt",
    "postgres-old/backup_20200101_000000.sql.gz",
    "backup_20200101_000000.sql.gz",
]
MUTATING = ("DeleteObject", "DeleteObjects", "PutObject", "CopyObject")


@pytest.fixture
def s3(s3):
    for key in BACKUPS + OTHERS:
        s3.put_object(Bucket=BUCKET, Key=key, Body=key.encode())
    return s3


@pytest.fixture
def run(module_runner, s3):
    return module_runner(backup_retention.main, bucket=BUCKET, region=REGION)


def keys(s3):
    return sorted(item["Key"] for item in s3.list_objects_v2(Bucket=BUCKET).get("Contents", []))


def test_keeps_the_newest_by_name(run, s3, calls):
    result = run(keep=2)
    assert result["changed"] is True
    assert result["deleted"] == [
        "postgres/backup_20261101_020000.sql.gz",
        "postgres/backup_20261102_020000.sql.gz",
        "postgres/backup_20261103_020000.dump",
    ]
    assert result["kept"] == ["postgres/backup_20261104_020000.sql.gz", "postgres/backup_20261105_020000.sql.gz"]
    assert keys(s3) == sorted(OTHERS + result["kept"])
    assert calls.count("DeleteObjects") == 1
    assert [line.split(" ", 1)[1] for line in result["log"]] == [
        f"retention: 5 backups in s3://{BUCKET}/postgres/, keeping the newest 2; deleting 3",
        *(f"retention: deleted {key}" for key in result["deleted"]),
    ]


def test_second_run_is_unchanged(run, s3, calls):
    assert run(keep=3)["changed"] is True
    calls.clear()
    result = run(keep=3)
    assert result["changed"] is False
    assert result["deleted"] == []
    assert len(result["kept"]) == 3
    assert not any(call in MUTATING for call in calls)
    assert keys(s3) == sorted(OTHERS + result["kept"])


def test_keep_more_than_there_are(run, s3):
    result = run(keep=7)
    assert result["changed"] is False
    assert result["kept"] == sorted(BACKUPS)
    assert keys(s3) == sorted(BACKUPS + OTHERS)


def test_another_prefix_only(run, s3):
    s3.put_object(Bucket=BUCKET, Key="staging/backup_20261101_000000.sql.gz", Body=b"")
    s3.put_object(Bucket=BUCKET, Key="staging/backup_20261102_000000.sql.gz", Body=b"")
    result = run(prefix="staging/", keep=1)
    assert result["deleted"] == ["staging/backup_20261101_000000.sql.gz"]
    assert keys(s3) == sorted([*BACKUPS, *OTHERS, "staging/backup_20261102_000000.sql.gz"])


@pytest.mark.parametrize("keep", [0, -1])
def test_keep_below_one_fails_before_any_call(run, s3, calls, keep):
    msg = run.fail(keep=keep)
    assert msg == f"keep must be at least 1 (the backup just taken), got {keep}"
    assert calls == []
    assert keys(s3) == sorted(BACKUPS + OTHERS)


def test_prefix_without_slash_fails_before_any_call(run, calls):
    assert run.fail(prefix="postgres") == "prefix must be empty or end with '/', got 'postgres'"
    assert calls == []


def test_check_mode_lists_and_deletes_nothing(run, s3, calls):
    result = run(keep=4, check_mode=True)
    assert result["changed"] is True
    assert result["deleted"] == ["postgres/backup_20261101_020000.sql.gz"]
    assert "would delete 1" in result["log"][0]
    assert "ListObjectsV2" in calls
    assert not any(call in MUTATING for call in calls)
    assert keys(s3) == sorted(BACKUPS + OTHERS)


def test_missing_bucket(run, calls):
    assert run.fail(bucket="no-such-bucket-here") == "bucket no-such-bucket-here does not exist"
    assert not any(call in MUTATING for call in calls)


def test_log_file(run, tmp_path):
    log_file = tmp_path / "retention.log"
    result = run(keep=4, log_file=str(log_file))
    assert log_file.read_text().splitlines() == result["log"]
    assert len(result["log"]) == 2


def test_versioned_bucket_keeps_a_pruned_backup_recoverable(run, s3):
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    key = "postgres/backup_20261106_020000.sql.gz"
    s3.put_object(Bucket=BUCKET, Key=key, Body=b"the newest backup")
    s3.put_object(Bucket=BUCKET, Key="postgres/backup_20261107_020000.sql.gz", Body=b"newer")
    result = run(keep=1)
    assert key in result["deleted"]
    assert key not in keys(s3)
    versions = s3.list_object_versions(Bucket=BUCKET, Prefix=key)
    assert [marker["IsLatest"] for marker in versions["DeleteMarkers"]] == [True]
    (noncurrent,) = versions["Versions"]
    assert noncurrent["IsLatest"] is False
    body = s3.get_object(Bucket=BUCKET, Key=key, VersionId=noncurrent["VersionId"])["Body"].read()
    assert body == b"the newest backup"
    # recovered by copying the noncurrent version back, it is a backup again for the next run
    s3.copy_object(
        Bucket=BUCKET, Key=key, CopySource={"Bucket": BUCKET, "Key": key, "VersionId": noncurrent["VersionId"]}
    )
    assert run(keep=2)["kept"] == [key, "postgres/backup_20261107_020000.sql.gz"]
