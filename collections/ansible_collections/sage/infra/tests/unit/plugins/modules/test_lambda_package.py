# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests for sage.infra.lambda_package, run on files in pytest's tmp_path."""

import base64
import hashlib
import os
import stat
import struct
import sys
import zipfile
import zlib

import pytest
from ansible_collections.sage.infra.plugins.modules import lambda_package as mod

HANDLER = b"def lambda_handler(event, context):\n    return {'ok': True}\n"
HELPER = b"WEBHOOK_TIMEOUT = 10\n" * 50


@pytest.fixture
def run(module_runner):
    return module_runner(mod.main)


@pytest.fixture
def sources(tmp_path):
    """Two source files in src/: handler.py and helper.py."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "handler.py").write_bytes(HANDLER)
    (src / "helper.py").write_bytes(HELPER)
    return src


def files_of(src):
    return [{"src": str(src / "handler.py"), "dest": "lambda_function.py"}, {"src": str(src / "helper.py")}]


def test_same_inputs_give_the_same_bytes_and_no_change_the_second_time(run, sources, tmp_path):
    dest = tmp_path / "build" / "package.zip"
    first = run(dest=str(dest), files=files_of(sources))
    first_bytes = dest.read_bytes()
    second = run(dest=str(dest), files=files_of(sources))

    assert first["changed"] is True
    assert second["changed"] is False
    assert dest.read_bytes() == first_bytes
    assert second["sha256"] == first["sha256"]
    assert second["size"] == first["size"] == len(first_bytes)


def test_unchanged_package_is_not_rewritten(run, sources, tmp_path):
    dest = tmp_path / "package.zip"
    run(dest=str(dest), files=files_of(sources))
    os.utime(dest, (1_000_000, 1_000_000))
    before = dest.stat()

    run(dest=str(dest), files=files_of(sources))

    after = dest.stat()
    assert (after.st_ino, after.st_mtime) == (before.st_ino, before.st_mtime)


def test_source_metadata_and_location_do_not_change_the_bytes(run, sources, tmp_path):
    first = tmp_path / "first.zip"
    run(dest=str(first), files=files_of(sources))

    # The same contents elsewhere, created under another umask, with other permissions and modification times,
    # and listed in the other order.
    other = tmp_path / "elsewhere" / "deeper"
    other.mkdir(parents=True)
    old_umask = os.umask(0o077)
    try:
        (other / "handler.py").write_bytes(HANDLER)
        (other / "helper.py").write_bytes(HELPER)
    finally:
        os.umask(old_umask)
    os.chmod(other / "handler.py", 0o700)
    os.chmod(other / "helper.py", 0o400)
    os.utime(other / "handler.py", (2_000_000_000, 2_000_000_000))
    os.utime(other / "helper.py", (315_000_000, 315_000_000))
    second = tmp_path / "second.zip"
    run(dest=str(second), files=list(reversed(files_of(other))))

    assert second.read_bytes() == first.read_bytes()


def test_content_change_rewrites_the_package_with_a_new_sha(run, sources, tmp_path):
    dest = tmp_path / "package.zip"
    first = run(dest=str(dest), files=files_of(sources))
    (sources / "helper.py").write_bytes(HELPER + b"RETRIES = 3\n")

    second = run(dest=str(dest), files=files_of(sources))

    assert second["changed"] is True
    assert second["sha256"] != first["sha256"]
    assert second["sha256_hex"] != first["sha256_hex"]
    with zipfile.ZipFile(dest) as archive:
        assert archive.read("helper.py") == HELPER + b"RETRIES = 3\n"


def test_a_different_mode_changes_the_package(run, sources, tmp_path):
    dest = tmp_path / "package.zip"
    first = run(dest=str(dest), files=files_of(sources))
    second = run(dest=str(dest), files=files_of(sources), mode="0755")

    assert second["changed"] is True
    assert second["sha256"] != first["sha256"]
    with zipfile.ZipFile(dest) as archive:
        assert {info.external_attr >> 16 for info in archive.infolist()} == {stat.S_IFREG | 0o755}


def test_sha256_is_what_lambda_reports_as_code_sha256(run, sources, tmp_path):
    dest = tmp_path / "package.zip"
    result = run(dest=str(dest), files=files_of(sources))

    data = dest.read_bytes()
    assert result["sha256"] == base64.b64encode(hashlib.sha256(data).digest()).decode()
    assert result["sha256_hex"] == hashlib.sha256(data).hexdigest()
    assert result["size"] == len(data)
    assert result["dest"] == str(dest)


def test_zip_holds_exactly_the_files_as_fixed_regular_entries(run, sources, tmp_path):
    dest = tmp_path / "package.zip"
    result = run(dest=str(dest), files=files_of(sources))

    assert result["files"] == ["helper.py", "lambda_function.py"]
    with zipfile.ZipFile(dest) as archive:
        assert archive.testzip() is None
        assert archive.comment == b""
        infos = archive.infolist()
        assert [info.filename for info in infos] == ["helper.py", "lambda_function.py"]
        assert archive.read("lambda_function.py") == HANDLER
        assert archive.read("helper.py") == HELPER
        for info in infos:
            assert info.external_attr >> 16 == stat.S_IFREG | 0o644
            assert info.date_time == (1980, 1, 1, 0, 0, 0)
            assert info.compress_type == zipfile.ZIP_DEFLATED
            assert info.create_system == 3
            assert info.extra == b""
            assert info.comment == b""


def raw_deflate(data, level):
    compressor = zlib.compressobj(level, zlib.DEFLATED, -15)
    return compressor.compress(data) + compressor.flush()


def test_entries_are_deflated_at_level_9(run, tmp_path):
    # Code varied enough that level 9 compresses it differently from the default level 6.
    names = [f"name_{i}" for i in range(40)]
    code = "\n".join(f"{names[i * 7 % 40]} = {names[i * i % 40]}({i % 13}, {names[i * 3 % 40]})" for i in range(2000))
    source = tmp_path / "generated.py"
    source.write_text(code)
    assert raw_deflate(code.encode(), 6) != raw_deflate(code.encode(), 9)
    dest = tmp_path / "package.zip"

    run(dest=str(dest), files=[{"src": str(source)}])

    data = dest.read_bytes()
    with zipfile.ZipFile(dest) as archive:
        (info,) = archive.infolist()
    # The local file header: 30 bytes, then the name and the extra field, whose lengths end it.
    name_length, extra_length = struct.unpack("<HH", data[info.header_offset + 26 : info.header_offset + 30])
    start = info.header_offset + 30 + name_length + extra_length
    assert data[start : start + info.compress_size] == raw_deflate(code.encode(), 9)


def test_bytes_do_not_depend_on_the_host_os(monkeypatch):
    contents = {"handler.py": HANDLER, "helper.py": HELPER}
    on_unix = mod.build_zip(contents, 0o644)
    # zipfile marks entries made on Windows (create_system 0) when it runs there.
    monkeypatch.setattr(sys, "platform", "win32")

    assert mod.build_zip(contents, 0o644) == on_unix


def test_entries_are_sorted_by_name_in_the_zip(run, sources, tmp_path):
    dest = tmp_path / "package.zip"
    files = [
        {"src": str(sources / "helper.py"), "dest": "z.py"},
        {"src": str(sources / "handler.py"), "dest": "sage/b.py"},
        {"src": str(sources / "helper.py"), "dest": "a.py"},
    ]
    result = run(dest=str(dest), files=files)

    assert result["files"] == ["a.py", "sage/b.py", "z.py"]
    with zipfile.ZipFile(dest) as archive:
        assert archive.namelist() == ["a.py", "sage/b.py", "z.py"]
        assert archive.read("sage/b.py") == HANDLER


def test_dest_names_the_entry_and_defaults_to_the_base_name(run, sources, tmp_path):
    dest = tmp_path / "package.zip"
    files = [
        {"src": str(sources / "handler.py"), "dest": "sage/alerts/handler.py"},
        {"src": str(sources / "helper.py")},
    ]
    result = run(dest=str(dest), files=files)

    assert result["files"] == ["helper.py", "sage/alerts/handler.py"]
    with zipfile.ZipFile(dest) as archive:
        assert archive.read("sage/alerts/handler.py") == HANDLER


def test_replaces_the_package_atomically(run, sources, tmp_path):
    dest = tmp_path / "package.zip"
    dest.write_bytes(b"old package")
    # A hard link still sees the old bytes only if dest was replaced by a rename, not written in place.
    os.link(dest, tmp_path / "link.zip")

    result = run(dest=str(dest), files=files_of(sources))

    assert result["changed"] is True
    assert (tmp_path / "link.zip").read_bytes() == b"old package"
    assert zipfile.is_zipfile(dest)
    assert sorted(os.listdir(tmp_path)) == ["link.zip", "package.zip", "src"]


def test_creates_the_parent_directory(run, sources, tmp_path):
    dest = tmp_path / "build" / "lambda" / "package.zip"
    result = run(dest=str(dest), files=files_of(sources))

    assert result["changed"] is True
    assert zipfile.is_zipfile(dest)


def test_new_package_gets_the_permissions_of_the_umask(run, sources, tmp_path):
    dest = tmp_path / "package.zip"
    old_umask = os.umask(0o022)
    try:
        run(dest=str(dest), files=files_of(sources))
    finally:
        os.umask(old_umask)

    # Not the 0600 of the temporary file it was written to.
    assert stat.S_IMODE(dest.stat().st_mode) == 0o644


def test_check_mode_writes_no_new_package(run, sources, tmp_path):
    dest = tmp_path / "build" / "package.zip"
    checked = run(dest=str(dest), files=files_of(sources), check_mode=True)

    assert checked["changed"] is True
    assert not (tmp_path / "build").exists()

    written = run(dest=str(dest), files=files_of(sources))
    assert checked["sha256"] == written["sha256"]
    assert checked["size"] == written["size"]
    assert checked["files"] == written["files"]


def test_check_mode_leaves_an_outdated_package_alone(run, sources, tmp_path):
    dest = tmp_path / "package.zip"
    run(dest=str(dest), files=files_of(sources))
    before = dest.read_bytes()
    (sources / "handler.py").write_bytes(HANDLER + b"# changed\n")

    result = run(dest=str(dest), files=files_of(sources), check_mode=True)

    assert result["changed"] is True
    assert dest.read_bytes() == before
    assert result["sha256"] != base64.b64encode(hashlib.sha256(before).digest()).decode()


def test_check_mode_reports_no_change_for_an_up_to_date_package(run, sources, tmp_path):
    dest = tmp_path / "package.zip"
    run(dest=str(dest), files=files_of(sources))

    assert run(dest=str(dest), files=files_of(sources), check_mode=True)["changed"] is False


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        pytest.param(
            [{"src": "handler.py"}, {"src": "missing.py"}],
            "files[1].src: {src}/missing.py does not exist",
            id="missing",
        ),
        pytest.param([{"src": "."}], "files[0].src: {src} is not a regular file", id="directory"),
        pytest.param(
            [{"src": "handler.py"}, {"src": "helper.py", "dest": "handler.py"}],
            "files[1].dest: 'handler.py' is already the name of files[0]",
            id="duplicate",
        ),
        pytest.param(
            [{"src": "handler.py", "dest": "../handler.py"}],
            "files[0].dest: '../handler.py' must not have '..' components",
            id="dotdot",
        ),
        pytest.param(
            [{"src": "handler.py", "dest": "sage/../../handler.py"}],
            "files[0].dest: 'sage/../../handler.py' must not have '..' components",
            id="inner-dotdot",
        ),
        pytest.param(
            [{"src": "handler.py", "dest": "/var/task/handler.py"}],
            "files[0].dest: '/var/task/handler.py' must be a relative path",
            id="absolute",
        ),
        pytest.param(
            [{"src": "handler.py", "dest": "sage//handler.py"}],
            "files[0].dest: 'sage//handler.py' must not have '.' or empty components",
            id="empty-component",
        ),
        pytest.param(
            [{"src": "handler.py", "dest": "sage\\handler.py"}],
            "files[0].dest: 'sage\\\\handler.py' must separate directories with '/'",
            id="backslash",
        ),
        pytest.param([{"src": "handler.py", "dest": ""}], "files[0].dest: '' is empty", id="empty"),
        pytest.param([], "files: at least one file is required", id="no-files"),
    ],
)
def test_invalid_files_are_refused_before_anything_is_written(run, sources, tmp_path, files, expected):
    files = [dict(entry, src=str(sources / entry["src"])) for entry in files]
    dest = tmp_path / "build" / "package.zip"

    msg = run.fail(dest=str(dest), files=files)

    assert expected.format(src=sources) in msg
    assert not (tmp_path / "build").exists()


def test_every_error_is_reported(run, sources, tmp_path):
    files = [{"src": str(sources / "missing.py")}, {"src": str(sources / "helper.py"), "dest": "../x.py"}]

    msg = run.fail(dest=str(tmp_path / "package.zip"), files=files, mode="rw")

    assert "mode: 'rw'" in msg
    assert "files[0].src:" in msg
    assert "files[1].dest:" in msg


def test_src_is_required(run, tmp_path):
    msg = run.fail(dest=str(tmp_path / "package.zip"), files=[{"dest": "handler.py"}])

    assert "src" in msg
    assert "files" in msg


@pytest.mark.parametrize("mode", ["644", "420", "0o644", "0999", "rw-r--r--", "00644", ""])
def test_mode_must_be_octal_with_a_leading_zero(run, sources, tmp_path, mode):
    dest = tmp_path / "package.zip"

    msg = run.fail(dest=str(dest), files=files_of(sources), mode=mode)

    assert f"mode: {mode!r} is not an octal mode" in msg
    assert not dest.exists()


def test_unquoted_yaml_mode_is_refused(run, sources, tmp_path):
    # YAML 1.1 reads an unquoted 0644 as 420; as a str option it arrives as "420" (mode 0420 would lock Lambda out).
    msg = run.fail(dest=str(tmp_path / "package.zip"), files=files_of(sources), mode=0o644)

    assert "mode: '420'" in msg


def test_dest_must_not_be_a_directory(run, sources, tmp_path):
    msg = run.fail(dest=str(sources), files=files_of(sources))

    assert f"dest: {sources} is a directory" in msg


def test_outdated_package_is_replaced_keeping_its_permissions(run, sources, tmp_path):
    dest = tmp_path / "package.zip"
    dest.write_bytes(b"old package")
    dest.chmod(0o640)

    run(dest=str(dest), files=files_of(sources))

    assert stat.S_IMODE(dest.stat().st_mode) == 0o640
    assert zipfile.is_zipfile(dest)
