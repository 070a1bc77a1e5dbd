"""tests/harness/postgres_server.py: the throw-away PostgreSQL server the backup/restore/migrate tests start."""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

import psycopg
import pytest

from tests.harness import postgres_server
from tests.harness.postgres_server import client_program

pytestmark = pytest.mark.skipif(not postgres_server.available(), reason="PostgreSQL is not installed")


@pytest.fixture(scope="module")
def server():
    with postgres_server.running() as running:
        yield running


def psql_as(server, password: str | None, *options: str) -> subprocess.CompletedProcess:
    """psql ``select 1`` with another password (None: no password at all), outside the harness's helper."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env.update(server.env(), PGPASSFILE=os.devnull)
    if password is None:
        del env["PGPASSWORD"]
    else:
        env["PGPASSWORD"] = password
    command = [client_program("psql"), "-X", "-w", "-At", "-c", "select 1", *options]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=30, check=False)


def test_server_answers_on_loopback_with_the_settings_asked(server):
    assert server.psql("select 1") == "1\n"
    assert server.host == "127.0.0.1"
    assert server.psql("select current_user, current_setting('is_superuser')") == f"{server.user}|on\n"
    assert server.version == int(server.psql("show server_version_num")) // 10000
    assert server.version == int(postgres_server.bin_dir().parent.name)
    shown = server.psql("show listen_addresses; show port; show unix_socket_directories; show fsync").split()
    assert shown == ["127.0.0.1", str(server.port), str(server.directory), "off"]
    with psycopg.connect(server.url(), connect_timeout=10) as connection:
        assert connection.execute("select current_database(), current_user").fetchone() == ("postgres", server.user)


def test_server_runs_as_postgres_when_root_else_as_the_current_user(server):
    owner = os.stat(server.data_dir).st_uid
    # The postmaster, not a backend: a backend exits with its connection, and its pid may be gone or reused.
    postmaster_pid = int((Path(server.data_dir) / "postmaster.pid").read_text().split()[0])
    if os.geteuid() == 0:
        assert server.os_user == "postgres"
        assert owner == postgres_server.pwd.getpwnam("postgres").pw_uid
    else:
        assert server.os_user is None
        assert owner == os.geteuid()
    assert os.stat(f"/proc/{postmaster_pid}").st_uid == owner


def test_every_connection_needs_the_password(server):
    assert psql_as(server, server.password).stdout == "1\n"
    wrong = psql_as(server, server.password + "x")
    assert wrong.returncode != 0
    assert "password authentication failed" in wrong.stderr
    assert psql_as(server, None).returncode != 0
    # The unix socket asks for it too.
    assert psql_as(server, server.password, "-h", str(server.socket_dir)).stdout == "1\n"
    assert "password authentication failed" in psql_as(server, "wrong", "-h", str(server.socket_dir)).stderr
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(server.url().replace(server.password, "wrong"), connect_timeout=10)


def test_create_and_drop_database(server):
    name = 'sage-app "restore"'
    databases = "select datname from pg_database order by 1"
    server.create_database(name)
    assert name in server.psql(databases).splitlines()
    assert server.psql("select current_database()", dbname=name) == f"{name}\n"
    with psycopg.connect(server.url(name), connect_timeout=10):  # an open session does not stop the drop
        server.drop_database(name)
    assert name not in server.psql(databases).splitlines()
    server.drop_database(name)  # absent: nothing to do


def test_psql_returns_rows_and_stops_at_the_first_error(server):
    server.create_database("rows")
    rows = server.psql(
        "create table t (id int primary key, name text);"
        "insert into t values (1, 'one'), (2, 'two');"
        "select id, name from t order by id;",
        dbname="rows",
    )
    assert rows.splitlines() == ["1|one", "2|two"]
    with pytest.raises(RuntimeError, match='relation "nosuch" does not exist'):
        server.psql(
            "insert into t values (3, 'three'); select * from nosuch; insert into t values (4, 'four');", "rows"
        )
    assert server.psql("select array_agg(id order by id) from t", "rows") == "{1,2,3}\n"


def test_pgbench_init_and_dump_compare_content(server):
    server.create_database("bench")
    server.pgbench_init("bench", scale=1)
    assert server.psql("select count(*) from pgbench_accounts", "bench") == "100000\n"
    server.psql("create database bench_copy template bench")
    original = server.dump("bench")
    assert server.dump("bench_copy") == original
    assert b"pgbench_accounts" in original
    assert b"Dumped from" not in original and b"\\restrict" not in original
    # The same rows in another order on disk: still the same content.
    server.psql("update pgbench_tellers set tbalance = tbalance where tid <= 5", "bench_copy")
    assert server.dump("bench_copy", sort_rows=False) != server.dump("bench", sort_rows=False)
    assert server.dump("bench_copy") == original
    server.psql("update pgbench_accounts set abalance = 1 where aid = 42", "bench_copy")
    assert server.dump("bench_copy") != original
    # A restore of the plain dump into a fresh database has the same content.
    server.create_database("bench_restored")
    server.psql(original.decode(), "bench_restored", timeout=120)
    assert server.dump("bench_restored") == original


def test_stop_stops_the_server_and_removes_its_directory():
    with postgres_server.running(max_connections=7) as other:
        assert other.psql("show max_connections") == "7\n"
        assert other.is_running()
        directory, port = other.directory, other.port
    assert not directory.exists()
    with pytest.raises(OSError), socket.create_connection((postgres_server.HOST, port), timeout=2):
        pass
