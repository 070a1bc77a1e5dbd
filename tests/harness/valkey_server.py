"""A throw-away Valkey-compatible server for the tests of sage.infra.valkey_info and sage.infra.valkey_keys.

No Valkey binary is available from the package registries this project can use, so this starts Debian's
``redis-server`` (7.0) instead: it speaks the same protocol (RESP) as Valkey 8 for everything these modules use
(AUTH/HELLO with ACL users, PING, INFO, SCAN, UNLINK, DEL, DBSIZE, FLUSHDB ASYNC, SELECT, TLS). What differs
(Valkey's ``server_name``/``valkey_version`` INFO fields) is covered by unit-level tests on an INFO reply.

Each server runs on a free loopback port in its own temporary directory, without persistence
(``--save "" --appendonly no``), optionally with a password (``--requirepass``) and optionally with TLS only
(``--port 0 --tls-port N``) using a CA and server certificate made by ``openssl`` in that directory (the server
certificate names ``127.0.0.1`` and ``localhost``; clients are not asked for certificates). It is ready once it
answers PING, and is stopped (and its directory removed) by ``stop()`` or at the end of ``running()``.

Command line (prints the connection settings, serves until Ctrl-C)::

    python -m tests.harness.valkey_server [--password PASSWORD] [--tls]
"""

from __future__ import annotations

import argparse
import functools
import shutil
import subprocess
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import valkey

from tests.harness.net import HOST, free_port


def binary() -> str | None:
    return shutil.which("redis-server")


@functools.cache
def tls_supported() -> bool:
    """Whether redis-server was built with TLS (a build without it rejects the tls-* directives)."""
    if not binary() or not shutil.which("openssl"):
        return False
    probe = subprocess.run(
        [binary(), "--port", "0", "--tls-port", "1", "--tls-cert-file", "/nonexistent", "--save", ""],
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    )
    return "Bad directive" not in probe.stdout + probe.stderr


def make_certificates(directory: Path) -> dict[str, Path]:
    """A self-signed CA and a server certificate it signs, for 127.0.0.1 and localhost (EC P-256 keys)."""
    paths = {name: directory / name for name in ("ca.crt", "ca.key", "server.crt", "server.key", "server.csr")}
    ext = directory / "server.ext"
    ext.write_text(
        "basicConstraints = critical, CA:FALSE\n"
        "keyUsage = critical, digitalSignature, keyEncipherment\n"
        "extendedKeyUsage = serverAuth\n"
        "subjectAltName = IP:127.0.0.1, DNS:localhost\n"
        "subjectKeyIdentifier = hash\n"
        "authorityKeyIdentifier = keyid\n"
    )
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    ca = ["-keyout", paths["ca.key"], "-out", paths["ca.crt"], "-days", "2", "-subj", "/CN=sage-infra test CA"]
    ca_extensions = ["-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"]
    request = ["-keyout", paths["server.key"], "-out", paths["server.csr"], "-subj", "/CN=localhost"]
    signing = ["-in", paths["server.csr"], "-CA", paths["ca.crt"], "-CAkey", paths["ca.key"], "-CAcreateserial"]
    commands = [
        ["openssl", "req", "-x509", *ec, *ca, *ca_extensions],
        ["openssl", "req", "-new", *ec, *request],
        ["openssl", "x509", "-req", *signing, "-out", paths["server.crt"], "-days", "2", "-extfile", ext],
    ]
    for command in commands:
        subprocess.run([str(part) for part in command], check=True, capture_output=True, timeout=60)
    return paths


@dataclass
class ValkeyServer:
    """A running redis-server and what a client needs to reach it."""

    port: int
    directory: Path
    process: subprocess.Popen | None = None
    password: str | None = None
    tls: bool = False
    ca_cert: Path | None = None
    host: str = HOST
    _owns_directory: bool = field(default=True, repr=False)

    def module_args(self, **extra) -> dict:
        """The sage.infra.valkey_* connection options for this server (without the password)."""
        args = {"host": self.host, "port": self.port}
        if self.tls:
            args.update(tls=True, tls_ca_cert=str(self.ca_cert))
        return {**args, **extra}

    def client(self, db: int = 0, **kwargs) -> valkey.Valkey:
        options = {"host": self.host, "port": self.port, "db": db, "password": self.password}
        options["socket_connect_timeout"] = options["socket_timeout"] = 5
        if self.tls:
            options.update(ssl=True, ssl_ca_certs=str(self.ca_cert), ssl_check_hostname=True)
        return valkey.Valkey(**{**options, **kwargs})

    def answers(self) -> bool:
        try:
            with self.client(socket_connect_timeout=1, socket_timeout=1) as client:
                return bool(client.ping())
        except (valkey.exceptions.ValkeyError, OSError):
            return False

    def log(self) -> str:
        path = self.directory / "redis.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        if self._owns_directory:
            shutil.rmtree(self.directory, ignore_errors=True)


def _launch(directory: Path, port: int, password: str | None, certificates: dict[str, Path] | None) -> ValkeyServer:
    command = [binary(), "--bind", HOST, "--dir", str(directory), "--logfile", str(directory / "redis.log")]
    command += ["--save", "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "notice"]
    if certificates:
        command += ["--port", "0", "--tls-port", str(port), "--tls-auth-clients", "no"]
        command += [
            "--tls-cert-file",
            str(certificates["server.crt"]),
            "--tls-key-file",
            str(certificates["server.key"]),
        ]
        command += ["--tls-ca-cert-file", str(certificates["ca.crt"])]
    else:
        command += ["--port", str(port)]
    if password:
        command += ["--requirepass", password]
    process = subprocess.Popen(
        command, cwd=directory, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    return ValkeyServer(
        port=port,
        directory=directory,
        process=process,
        password=password,
        tls=bool(certificates),
        ca_cert=certificates["ca.crt"] if certificates else None,
        _owns_directory=False,
    )


def start(password: str | None = None, tls: bool = False, timeout: float = 20) -> ValkeyServer:
    """Start a server on a free loopback port; it answers PING when this returns."""
    if not binary():
        raise RuntimeError("redis-server is not installed (apt-get install -y redis-server)")
    if tls and not tls_supported():
        raise RuntimeError("this redis-server was built without TLS support")
    directory = Path(tempfile.mkdtemp(prefix="sage-valkey-"))
    try:
        certificates = make_certificates(directory) if tls else None
        for _attempt in range(3):  # another process may take the free port before redis-server binds it
            server = _launch(directory, free_port(), password, certificates)
            deadline = time.monotonic() + timeout
            while server.process.poll() is None and time.monotonic() < deadline:
                if server.answers():
                    server._owns_directory = True
                    return server
                time.sleep(0.05)
            server.stop()
        raise RuntimeError(f"redis-server did not answer PING; its log:\n{server.log()[-3000:]}")
    except BaseException:
        shutil.rmtree(directory, ignore_errors=True)
        raise


@contextmanager
def running(password: str | None = None, tls: bool = False):
    server = start(password=password, tls=tls)
    try:
        yield server
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="valkey_server", description=__doc__.splitlines()[0])
    parser.add_argument("--password", help="require this password (requirepass)")
    parser.add_argument("--tls", action="store_true", help="serve TLS only, with a CA made for the occasion")
    args = parser.parse_args(argv)
    with running(password=args.password, tls=args.tls) as server:
        print(f"redis-server {server.host}:{server.port} pid {server.process.pid} in {server.directory}")
        print(f"module args: {server.module_args()}", flush=True)
        try:
            while server.process.poll() is None:
                time.sleep(1)
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
