"""A throw-away PostgreSQL server for the tests of the database backup, restore and migrate playbooks.

It runs the server binaries of the highest PostgreSQL major installed under ``/usr/lib/postgresql/<major>/bin``
(Debian's layout; ``$PG_BIN`` names another directory), and the client programs (psql, pg_dump, pgbench) from the
same directory when they are there, else from ``PATH``.

Each server gets its own temporary directory holding the cluster (``initdb``: UTF-8, C locale), its log and its
unix socket. It listens on 127.0.0.1 only, on a free port, and asks every client for a password (scram-sha-256,
over TCP and the socket alike); the superuser and its random password are the harness's. It runs with
``fsync=off``, ``synchronous_commit=off``, ``full_page_writes=off`` and small ``shared_buffers``: fast, and
worthless after a crash. It is ready once psql runs ``select 1`` over TCP, and is stopped (``pg_ctl stop -m fast``)
and its directory removed by ``stop()`` or at the end of ``running()``.

initdb refuses to run as root, so when the tests run as root, the directory is handed to the ``postgres`` OS user
and initdb, pg_ctl and the server run as that user (the clients still run as the current user: they connect over
TCP with the password).

Command line (prints the connection settings, serves until Ctrl-C)::

    python -m tests.harness.postgres_server [--user USER] [--password PASSWORD]
"""

from __future__ import annotations

import argparse
import functools
import os
import pwd
import re
import secrets
import shutil
import subprocess
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from tests.harness.net import HOST, free_port

DEBIAN_ROOT = Path("/usr/lib/postgresql")
SERVER_OS_USER = "postgres"  # who runs initdb and the server when the tests run as root
DEFAULT_USER = "sage_admin"
DEFAULT_DATABASE = "postgres"

# Lines of a plain dump that differ between two dumps of the same content: the server and pg_dump versions, and
# the random key of \restrict/\unrestrict (pg_dump 13.22, 14.19, 15.14, 16.10, 17.6 and later).
_DUMP_NOISE = re.compile(rb"^(-- Dumped (from database|by pg_dump) version .*|\\(un)?restrict .*)\n", re.MULTILINE)


def bin_dir() -> Path | None:
    """Where initdb, pg_ctl and postgres are: ``$PG_BIN``, else the highest major under /usr/lib/postgresql."""
    if os.environ.get("PG_BIN"):
        return Path(os.environ["PG_BIN"])
    majors = [p for p in DEBIAN_ROOT.glob("*/bin") if (p / "initdb").is_file() and p.parent.name.isdigit()]
    return max(majors, key=lambda p: int(p.parent.name), default=None)


def available() -> bool:
    directory = bin_dir()
    return bool(directory) and all((directory / name).is_file() for name in ("initdb", "pg_ctl", "postgres"))


def client_program(name: str) -> str:
    """psql, pg_dump, pgbench...: the one next to the server binaries, else the one on PATH."""
    directory = bin_dir()
    if directory and (directory / name).is_file():
        return str(directory / name)
    found = shutil.which(name)
    if not found:
        raise RuntimeError(f"{name} is not installed (apt-get install -y postgresql-client)")
    return found


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _conf_value(value) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, int | float):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


def _client_environment(extra: dict[str, str]) -> dict[str, str]:
    # Drop the caller's libpq variables (PGSERVICE, PGSSLMODE, PGPASSFILE...) and Debian's PGCLUSTER.
    return {**{k: v for k, v in os.environ.items() if not k.startswith("PG")}, **extra}


def _sort_copy_rows(dump: bytes) -> bytes:
    """Sort the rows of each COPY block (one row a line: COPY's text format escapes newlines)."""
    out, rows = [], None
    for line in dump.splitlines(keepends=True):
        if rows is None:
            out.append(line)
            if line.startswith(b"COPY ") and line.endswith(b" FROM stdin;\n"):
                rows = []
        elif line == b"\\.\n":
            out += [*sorted(rows), line]
            rows = None
        else:
            rows.append(line)
    return b"".join(out)


@dataclass
class PostgresServer:
    """A running PostgreSQL cluster and what a client needs to reach it."""

    directory: Path
    port: int
    user: str
    password: str
    bin_dir: Path
    os_user: str | None = None  # the OS user the server runs as, when not the current one
    host: str = HOST

    @property
    def data_dir(self) -> Path:
        return self.directory / "data"

    @property
    def socket_dir(self) -> Path:
        return self.directory

    @property
    def log_file(self) -> Path:
        return self.directory / "postgres.log"

    @functools.cached_property
    def version(self) -> int:
        """The server's major version (15, 16...)."""
        return int((self.data_dir / "PG_VERSION").read_text().strip())

    def url(self, dbname: str = DEFAULT_DATABASE) -> str:
        credentials = f"{quote(self.user, safe='')}:{quote(self.password, safe='')}"
        return f"postgresql://{credentials}@{self.host}:{self.port}/{quote(dbname, safe='')}"

    def env(self, dbname: str = DEFAULT_DATABASE) -> dict[str, str]:
        """libpq's variables for psql, pg_dump, pg_restore... (merge them into os.environ)."""
        return {
            "PGHOST": self.host,
            "PGPORT": str(self.port),
            "PGUSER": self.user,
            "PGPASSWORD": self.password,
            "PGDATABASE": dbname,
        }

    def run_client(
        self, command: list[str], dbname: str = DEFAULT_DATABASE, timeout: float = 60, **kwargs
    ) -> subprocess.CompletedProcess:
        """Run a libpq client program against this server; raise with its stderr if it fails."""
        completed = subprocess.run(
            command,
            env=_client_environment(self.env(dbname)),
            capture_output=True,
            timeout=timeout,
            check=False,
            **kwargs,
        )
        if completed.returncode != 0:
            stderr = (
                completed.stderr if isinstance(completed.stderr, str) else completed.stderr.decode(errors="replace")
            )
            raise RuntimeError(f"{Path(command[0]).name} failed (exit {completed.returncode}): {stderr.strip()}")
        return completed

    def psql(self, sql: str, dbname: str = DEFAULT_DATABASE, timeout: float = 60) -> str:
        """Run SQL (several statements allowed, stopping at the first error); the rows, unaligned, ``|``-separated."""
        command = [client_program("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-At", "-f", "-"]
        return self.run_client(command, dbname, timeout, input=sql, text=True).stdout

    def create_database(self, name: str) -> None:
        self.psql(f"CREATE DATABASE {_quote_ident(name)}")

    def drop_database(self, name: str) -> None:
        """Drop it if it exists, disconnecting its sessions."""
        self.psql(f"DROP DATABASE IF EXISTS {_quote_ident(name)} WITH (FORCE)")

    def pgbench_init(self, dbname: str = DEFAULT_DATABASE, scale: int = 1) -> None:
        """pgbench's tables: 100000 pgbench_accounts rows (about 15 MB) per unit of scale."""
        command = [client_program("pgbench"), "-i", "-q", "-s", str(scale), dbname]
        self.run_client(command, dbname, timeout=60 + 20 * scale)

    def dump(self, dbname: str = DEFAULT_DATABASE, sort_rows: bool = True, timeout: float = 600) -> bytes:
        """A plain pg_dump of the database, comparable with the dump of another database of the same content.

        Owners, privileges, tablespaces, version lines and the random \\restrict key are left out, and (with
        sort_rows) each table's rows are sorted, as their order on disk is not content.
        """
        command = [client_program("pg_dump"), "--format=plain", "--no-owner", "--no-privileges", "--no-tablespaces"]
        output = _DUMP_NOISE.sub(b"", self.run_client([*command, dbname], dbname, timeout).stdout)
        return _sort_copy_rows(output) if sort_rows else output

    def answers(self) -> bool:
        try:
            return self.psql("select 1", timeout=10).strip() == "1"
        except (RuntimeError, subprocess.TimeoutExpired):
            return False

    def is_running(self) -> bool:
        if not self.data_dir.is_dir():
            return False
        pg_ctl = [str(self.bin_dir / "pg_ctl"), "status", "-D", str(self.data_dir)]
        return _server_command(pg_ctl, self.os_user).returncode == 0

    def log(self) -> str:
        return self.log_file.read_text(errors="replace") if self.log_file.exists() else ""

    def stop(self) -> None:
        if (self.data_dir / "postmaster.pid").exists():
            pg_ctl = [str(self.bin_dir / "pg_ctl"), "stop", "-D", str(self.data_dir), "-w", "-t", "30", "-s"]
            if _server_command([*pg_ctl, "-m", "fast"], self.os_user).returncode != 0:
                _server_command([*pg_ctl, "-m", "immediate"], self.os_user)
        shutil.rmtree(self.directory, ignore_errors=True)


def _server_command(command: list[str], os_user: str | None, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run initdb or pg_ctl, as os_user when given (the current user being root)."""
    as_user = {}
    if os_user:
        account = pwd.getpwnam(os_user)
        as_user = {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}
    # pg_ctl's server writes to the log file, so the pipes close when pg_ctl exits.
    return subprocess.run(
        command,
        cwd="/",
        env={**_client_environment({}), "LC_ALL": "C"},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        start_new_session=True,
        **as_user,
    )


def _server_os_user() -> str | None:
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(SERVER_OS_USER)
    except KeyError:
        raise RuntimeError(f"running as root, initdb needs an OS user {SERVER_OS_USER!r} to run as") from None
    return SERVER_OS_USER


def _write(path: Path, text: str, os_user: str | None) -> None:
    path.write_text(text)
    if os_user:
        shutil.chown(path, os_user, os_user)


def _initdb(server: PostgresServer) -> None:
    password_file = server.directory / "password"
    _write(password_file, server.password + "\n", server.os_user)
    command = [str(server.bin_dir / "initdb"), "-D", str(server.data_dir), "-U", server.user]
    command += [f"--pwfile={password_file}", "--auth=scram-sha-256", "--encoding=UTF8", "--locale=C", "--no-sync"]
    try:
        completed = _server_command(command, server.os_user)
    finally:
        password_file.unlink()
    if completed.returncode != 0:
        raise RuntimeError(f"initdb failed (exit {completed.returncode}): {completed.stderr.strip()}")
    hba = "".join(
        f"{kind:<6} {database:<11} all {address:<13} scram-sha-256\n"
        for kind, address in (("local", ""), ("host", "127.0.0.1/32"))
        for database in ("all", "replication")
    )
    _write(server.data_dir / "pg_hba.conf", hba, server.os_user)
    with (server.data_dir / "postgresql.conf").open("a") as conf:
        conf.write("\ninclude 'harness.conf'\n")


def _configure(server: PostgresServer, settings: dict) -> None:
    conf = {
        "listen_addresses": HOST,
        "port": server.port,
        "unix_socket_directories": str(server.socket_dir),
        "password_encryption": "scram-sha-256",
        "fsync": False,
        "synchronous_commit": False,
        "full_page_writes": False,
        "shared_buffers": "16MB",
        **settings,
    }
    text = "".join(f"{name} = {_conf_value(value)}\n" for name, value in conf.items())
    _write(server.data_dir / "harness.conf", text, server.os_user)


def start(user: str = DEFAULT_USER, password: str | None = None, timeout: float = 60, **settings) -> PostgresServer:
    """Start a server on a free loopback port; it accepts connections when this returns.

    settings: more postgresql.conf parameters (``max_connections=20``, ``wal_level="logical"``...).
    """
    if not available():
        raise RuntimeError(
            f"PostgreSQL server binaries not found in {bin_dir() or DEBIAN_ROOT / '<major>/bin'} "
            "(apt-get install -y postgresql, or set PG_BIN)"
        )
    os_user = _server_os_user()
    directory = Path(tempfile.mkdtemp(prefix="sage-postgres-"))
    server = None
    try:
        if os_user:
            shutil.chown(directory, os_user, os_user)
        server = PostgresServer(
            directory=directory,
            port=0,
            user=user,
            password=password or secrets.token_hex(16),
            bin_dir=bin_dir(),
            os_user=os_user,
        )
        _initdb(server)
        for _attempt in range(3):  # another process may take the free port before the server binds it
            server.port = free_port()
            _configure(server, settings)
            log_start = len(server.log())
            pg_ctl = [str(server.bin_dir / "pg_ctl"), "start", "-D", str(server.data_dir), "-l", str(server.log_file)]
            started = _server_command([*pg_ctl, "-w", "-t", str(int(timeout)), "-s"], os_user, timeout=timeout + 10)
            if started.returncode == 0:
                break
            if "could not bind" not in server.log()[log_start:]:
                raise RuntimeError(f"pg_ctl start failed: {started.stderr.strip()}; the log:\n{server.log()[-3000:]}")
        else:
            raise RuntimeError(f"PostgreSQL found no free port; the log:\n{server.log()[-3000:]}")
        deadline = time.monotonic() + timeout
        while not server.answers():
            if time.monotonic() > deadline:
                raise RuntimeError(f"PostgreSQL does not answer select 1; the log:\n{server.log()[-3000:]}")
            time.sleep(0.1)
        return server
    except BaseException:
        if server:
            server.stop()
        shutil.rmtree(directory, ignore_errors=True)
        raise


@contextmanager
def running(user: str = DEFAULT_USER, password: str | None = None, **settings):
    server = start(user=user, password=password, **settings)
    try:
        yield server
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="postgres_server", description=__doc__.splitlines()[0])
    parser.add_argument("--user", default=DEFAULT_USER, help=f"superuser name (default {DEFAULT_USER})")
    parser.add_argument("--password", help="superuser password (default: a random one)")
    args = parser.parse_args(argv)
    with running(user=args.user, password=args.password) as server:
        print(f"PostgreSQL {server.version} on {server.host}:{server.port} in {server.directory}")
        print(f"url: {server.url()}", flush=True)
        try:
            while server.is_running():
                time.sleep(1)
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
