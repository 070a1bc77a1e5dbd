"""Secret hygiene across every playbook: each one is run at -vvv with known secret values, and none of them (the
Anthropic key, the Discord webhook URLs and tokens, the database password, the Valkey AUTH token, the
DATABASE_URL / VALKEY_URL secrets, nor their URL-encoded forms) may appear in its output or in any file the run
leaves behind.

"Any file the run leaves behind" is made well defined: each run gets one directory of its own holding HOME,
TMPDIR, ANSIBLE_LOCAL_TEMP, ANSIBLE_REMOTE_TEMP, ANSIBLE_LOG_PATH and every file the playbook is asked to write
(backup log, diagnosis report, local development files...); every file under it is read. So is every file of the
project tree (without .venv, .git, .pytest_cache, __pycache__) created or modified during the run; the other test
worker writes its own files there meanwhile, so such a file is only reported when it holds one of the values.

The values are given as users give them: an ansible-vault encrypted vars file (obviously fake shapes, webhooks on
the loopback fake Discord server so that the playbooks that post can post). The generated ones (database master
password, Valkey AUTH token, the URL secrets built from them) are read from the emulator's Secrets Manager after
the converge. One fresh converge on an emulator of this file's own (the shared one is never reset from here),
then the day-2 playbooks against real servers (PostgreSQL, a Valkey-compatible redis-server, the fake Discord),
local_dev, and teardown last. playbooks/awx_configure.yml is left to tests/integration/test_awx.py: none of
these values reaches it.
"""

from __future__ import annotations

import functools
import gzip
import io
import json
import os
import shlex
import subprocess
import sys
import zipfile
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

import pytest
import yaml

from tests.harness import discord_server, postgres_server, valkey_server
from tests.harness import emulator as emulator_harness
from tests.harness.ecr import push_image
from tests.harness.playbook import ROOT, PlaybookRun, run_playbook

REPOSITORY = "sage-backend"
CLUSTER, SERVICE = "sage-cluster", "sage-backend"
BUCKET = "sage-backups"
LOG_GROUP = "/ecs/sage-backend"
PROJECT_SKIPPED = {".venv", ".git", ".pytest_cache", "__pycache__"}
ANTHROPIC_KEY = "sk-ant-not-a-real-key-hygiene-0000-7d1c"
# vault variable -> (webhook id, token) on the fake Discord server: ids are no secret, tokens and URLs are.
WEBHOOKS = {
    "vault_discord_webhook_errors": ("100000000000000001", "not-a-real-token-errors-0000-a1"),
    "vault_discord_webhook_performance": ("100000000000000002", "not-a-real-token-performance-0000-b2"),
    "vault_discord_webhook_business": ("100000000000000003", "not-a-real-token-business-0000-c3"),
}
# The generated values, read from Secrets Manager after the converge.
GENERATED_NAMES = (
    "database master password (sage/database-master)",
    "Valkey AUTH token (sage/valkey-auth-token)",
    "DATABASE_URL (sage/database-url)",
    "the password in DATABASE_URL",
    "VALKEY_URL (sage/valkey-url)",
    "the password in VALKEY_URL",
)
GENERATED = set(GENERATED_NAMES)
# Settings that are no secret: the webhooks are plain-HTTP loopback URLs (the fake Discord server).
SETTINGS = {
    "secrets_allow_insecure_webhook_urls": True,
    "ecs_deploy_notify_allow_insecure_url": True,
    "backup_notify_allow_insecure_url": True,
}


# --- the scanner ------------------------------------------------------------------------------------------------


def with_encoded_forms(values: dict[str, str]) -> dict[str, str]:
    """The values, plus their URL-encoded form (as in a query string or a URL's userinfo) where it differs."""
    forms = dict(values)
    for name, value in values.items():
        for label, encoded in (("URL-encoded", quote(value, safe="")), ("URL-encoded, / kept", quote(value))):
            if encoded not in (value, *forms.values()):
                forms[f"{name} ({label})"] = encoded
    return forms


def project_files(root: Path = ROOT) -> dict[Path, tuple[int, int]]:
    """(mtime_ns, size) of every file of the project tree but .venv, .git, .pytest_cache and __pycache__."""
    listing = {}
    for parent, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if d not in PROJECT_SKIPPED]
        for name in names:
            path = Path(parent) / name
            try:
                stat = path.stat()
            except (FileNotFoundError, NotADirectoryError):  # removed meanwhile by the other test worker
                continue
            listing[path] = (stat.st_mtime_ns, stat.st_size)
    return listing


def files_under(directory: Path) -> Iterable[Path]:
    for parent, _dirs, names in os.walk(directory):
        for name in names:
            yield Path(parent) / name


def contents(path: Path, where: str) -> list[tuple[str, str]]:
    """(where, text) of a file read as text (errors=replace), and of each member of a gzip or zip file (the Lambda's
    package, a dump...), whose compressed bytes would hide a value. Nothing for a file removed meanwhile."""
    try:
        data = path.read_bytes() if path.is_file() else None
    except (FileNotFoundError, IsADirectoryError, PermissionError):
        data = None
    if data is None:
        return []
    found = [(where, data.decode(errors="replace"))]
    try:
        if data[:2] == b"\x1f\x8b":
            found.append((f"{where} (gunzipped)", gzip.decompress(data).decode(errors="replace")))
        elif data[:4] == b"PK\x03\x04":
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                found += [
                    (f"{where} ({name} in it)", archive.read(name).decode(errors="replace"))
                    for name in archive.namelist()
                ]
    except (OSError, EOFError, zlib.error, zipfile.BadZipFile):
        found.append((f"{where} (a damaged archive)", ""))
    return found


def leaks(
    forbidden: dict[str, str],
    output: str,
    directory: Path,
    project_before: dict[Path, tuple[int, int]],
    project_root: Path = ROOT,
    allowed: dict[Path, set[str]] | None = None,
) -> list[str]:
    """ "<value name> in <where>" for each forbidden value in the output, in a file under directory, or in a file
    of the project tree created or modified since project_before was listed. Never the value itself.
    allowed: file -> names of the values that file holds on purpose."""
    allowed = allowed or {}
    places = [("the output", output)]
    for path in sorted(files_under(directory)):
        places += contents(path, str(path))
    changed = [path for path, seen in project_files(project_root).items() if project_before.get(path) != seen]
    for path in sorted(changed):
        places += contents(path, f"{path} (project tree)")
    found = []
    for where, text in places:
        path_allowed = allowed.get(Path(where), set())
        found += [
            f"{name} in {where}" for name, value in forbidden.items() if value in text and name not in path_allowed
        ]
    return found


def test_the_scanner_finds_a_planted_value(tmp_path):
    """The scan can fail: a value in the output, in a nested file, inside a zip or gzip file, or URL-encoded in a
    project file is reported by name and place (never by value); an older file of the project, or one under .venv,
    is not read; a value a file holds on purpose is not reported for that file only."""
    secret = "not-a-real/secret value"
    forbidden = with_encoded_forms({"planted value": secret})
    run_dir, project = tmp_path / "run", tmp_path / "project"
    (run_dir / "home" / ".ansible" / "tmp").mkdir(parents=True)
    (project / ".venv").mkdir(parents=True)
    old = project / "old.txt"
    old.write_text(secret)
    before = project_files(project)
    assert leaks(forbidden, "clean output", run_dir, before, project) == []

    planted = run_dir / "home" / ".ansible" / "tmp" / "leftover.json"
    planted.write_bytes(b'{"x": "' + secret.encode() + b'"}\xff\xfe')  # not valid UTF-8: read with errors=replace
    (project / "new.env").write_text("URL=" + quote(secret, safe=""))
    (project / ".venv" / "skipped.txt").write_text(secret)
    package = run_dir / "tmp" / "build.zip"
    package.parent.mkdir()
    with zipfile.ZipFile(package, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("handler.py", f"URL = {secret!r}\n" * 20)
    (run_dir / "dump.sql.gz").write_bytes(gzip.compress(secret.encode() * 20))
    found = leaks(forbidden, f"output {secret}", run_dir, before, project)
    assert found == [
        "planted value in the output",
        f"planted value in {run_dir / 'dump.sql.gz'} (gunzipped)",
        f"planted value in {planted}",
        f"planted value in {package} (handler.py in it)",
        f"planted value (URL-encoded) in {project / 'new.env'} (project tree)",
    ]
    assert not [line for line in found if secret in line or quote(secret, safe="") in line]
    allowed = {planted: {"planted value"}, package: {"planted value"}}
    assert f"{package} (handler.py in it)" in " ".join(leaks(forbidden, "", run_dir, before, project, allowed=allowed))
    package.unlink()
    (run_dir / "dump.sql.gz").unlink()
    assert leaks(forbidden, "", run_dir, before, project, allowed=allowed) == [
        f"planted value (URL-encoded) in {project / 'new.env'} (project tree)"
    ]


# --- the stack and its servers ----------------------------------------------------------------------------------


class Hygiene:
    """Runs playbooks at -vvv in a directory of their own and checks what they printed and left behind."""

    def __init__(self, endpoint: str, vault: dict[str, str], forbidden: dict[str, str], directory: Path):
        self.endpoint = endpoint
        self.vault = vault  # the vault file's variables
        self.forbidden = forbidden  # value name -> value; completed once the generated values are known
        self.vault_args = self.encrypted(directory, vault)

    @staticmethod
    def encrypted(directory: Path, values: dict) -> list[str]:
        """Pass the values as users do: an ansible-vault encrypted vars file, not -e on the command line (encrypted
        once for all the runs)."""
        password = directory / "vault-password"
        password.write_text("not-a-real-vault-password\n")
        vault = directory / "vault.yml"
        vault.write_text(yaml.safe_dump(values))
        ansible_vault = str(Path(sys.executable).parent / "ansible-vault")
        command = [ansible_vault, "encrypt", str(vault), "--vault-password-file", str(password)]
        subprocess.run(command, check=True, capture_output=True)
        assert ANTHROPIC_KEY not in vault.read_text()
        return ["-e", f"@{vault}", "--vault-password-file", str(password)]

    def run(self, playbook: str, directory: Path, *args: str, extra_vars: dict | None = None) -> Run:
        directory.mkdir(parents=True, exist_ok=True)
        home, tmp = directory / "home", directory / "tmp"
        home.mkdir(exist_ok=True)
        tmp.mkdir(exist_ok=True)
        env = {
            "HOME": str(home),
            "TMPDIR": str(tmp),
            "ANSIBLE_LOCAL_TEMP": str(directory / "ansible-local-tmp"),
            "ANSIBLE_REMOTE_TEMP": str(directory / "ansible-remote-tmp"),
            "ANSIBLE_LOG_PATH": str(directory / "ansible.log"),
        }
        before = project_files()
        run = run_playbook(
            playbook,
            self.endpoint,
            "-vvv",
            *self.vault_args,
            *args,
            extra_vars={**SETTINGS, **(extra_vars or {})},
            env=env,
            timeout=600,
        )
        return Run(playbook, directory, run, before, self)


@dataclass
class Run:
    """One playbook run: its directory, its result, the project tree before it."""

    playbook: str
    directory: Path
    result: PlaybookRun
    before: dict[Path, tuple[int, int]]
    hygiene: Hygiene

    @property
    def output(self) -> str:
        return self.result.output

    def assert_ok(self) -> Run:
        self.result.assert_ok()
        return self

    def assert_clean(self, extra: dict[str, str] | None = None, allowed: dict[Path, set[str]] | None = None) -> None:
        log = self.directory / "ansible.log"
        assert log.is_file() and log.stat().st_size > 0, "ANSIBLE_LOG_PATH was not used: the log was not scanned"
        for temporary in ("ansible-local-tmp", "ansible-remote-tmp"):
            assert (self.directory / temporary).is_dir(), f"{temporary} was not used: the scan missed Ansible's files"
        forbidden = {**self.hygiene.forbidden, **with_encoded_forms(extra or {})}
        assert set(forbidden) >= GENERATED, "the generated values are known before any scan"
        found = leaks(forbidden, self.output, self.directory, self.before, allowed=allowed)
        assert not found, f"{self.playbook} leaked: " + "; ".join(found)


@pytest.fixture(scope="module")
def discord():
    with discord_server.running(burst=50) as server:
        for webhook_id, token in WEBHOOKS.values():
            server.create_webhook(webhook_id=webhook_id, token=token)
        yield server


@pytest.fixture(scope="module")
def own_emulator():
    """An emulator of this file's own: the converge and the teardown never touch the shared one."""
    with emulator_harness.running() as emulator:
        emulator.configure_rollout(seconds=1.0, failing_images=[])
        yield emulator


@pytest.fixture(scope="module")
def client(own_emulator):
    return functools.partial(emulator_harness.client, own_emulator.endpoint)


def secret_value(client, name: str) -> str:
    return client("secretsmanager").get_secret_value(SecretId=f"sage/{name}")["SecretString"]


@pytest.fixture(scope="module")
def hygiene(own_emulator, discord, tmp_path_factory):
    vault = {"vault_anthropic_api_key": ANTHROPIC_KEY}
    known = {"Anthropic API key (vault_anthropic_api_key)": ANTHROPIC_KEY}
    for variable, (webhook_id, token) in WEBHOOKS.items():
        vault[variable] = discord.url(webhook_id)
        known[f"Discord webhook URL ({variable})"] = vault[variable]
        known[f"Discord webhook token ({variable})"] = token
    return Hygiene(own_emulator.endpoint, vault, with_encoded_forms(known), tmp_path_factory.mktemp("vault"))


@pytest.fixture(scope="module")
def converged(hygiene, own_emulator, client, tmp_path_factory):
    """The one fresh converge (site.yml -vvv) on an account where CI already pushed the backend's `latest` image;
    the generated values then join the forbidden ones. (run, generated values by name)"""
    client("ecr").create_repository(repositoryName=REPOSITORY)
    push_image(client("ecr"), REPOSITORY, "initial-sha", "latest")
    run = hygiene.run("site.yml", tmp_path_factory.mktemp("site")).assert_ok()
    given = {name: secret_value(client, name.removeprefix("vault_").replace("_", "-")) for name in hygiene.vault}
    assert given == hygiene.vault, "the vault's values reached Secrets Manager: they went through the play"
    master = json.loads(secret_value(client, "database-master"))
    auth = json.loads(secret_value(client, "valkey-auth-token"))
    database_url, valkey_url = secret_value(client, "database-url"), secret_value(client, "valkey-url")
    generated = dict(
        zip(
            GENERATED_NAMES,
            [
                master["password"],
                auth["auth_token"],
                database_url,
                unquote(urlsplit(database_url).password or ""),
                valkey_url,
                unquote(urlsplit(valkey_url).password or ""),
            ],
            strict=True,
        )
    )
    assert all(len(value) >= 16 for value in generated.values()), "every generated value was read back"
    hygiene.forbidden.update(with_encoded_forms(generated))
    return run, {
        "master": master,
        "auth_token": auth["auth_token"],
        "database_url": database_url,
        "valkey_url": valkey_url,
    }


@pytest.fixture(scope="module")
def database(converged, hygiene, client):
    """Debian's PostgreSQL with the stack's own credentials (sage_admin and the generated master password): the
    DATABASE_URL secret is pointed at it (the emulator's RDS endpoint answers nothing), Prisma's parameters kept."""
    master = converged[1]["master"]
    with postgres_server.running(user=master["username"], password=master["password"]) as server:
        server.create_database("sage")
        server.psql(
            "CREATE TABLE notes (id serial PRIMARY KEY, body text); INSERT INTO notes (body) VALUES ('a')", "sage"
        )
        url = server.url("sage") + "?sslmode=disable&connection_limit=20"
        client("secretsmanager").put_secret_value(SecretId="sage/database-url", SecretString=url)
        hygiene.forbidden.update(with_encoded_forms({"DATABASE_URL pointed at the test's PostgreSQL": url}))
        yield server


def backups(client) -> list[str]:
    listed = client("s3").list_objects_v2(Bucket=BUCKET, Prefix="postgres/backup_").get("Contents", [])
    return sorted(item["Key"] for item in listed)


# --- the playbooks, in the order of a stack's life --------------------------------------------------------------


def test_site_converge(converged):
    run, _ = converged
    run.assert_ok()
    assert run.result.changed > 0
    run.assert_clean()


def test_deploy_with_cache_invalidation_and_notice(converged, hygiene, client, discord, tmp_path):
    """VALKEY_URL is pointed at redis-server (Valkey's protocol; no Valkey binary is packaged here) asking for the
    stack's own generated AUTH token; the business channel gets the deploy notice."""
    if not valkey_server.binary():
        pytest.fail("redis-server is not installed (make system-deps)")
    token = converged[1]["auth_token"]
    push_image(client("ecr"), REPOSITORY, "hygiene-1")
    with valkey_server.running(password=token) as cache:
        url = f"redis://:{quote(token, safe='')}@{cache.host}:{cache.port}"
        client("secretsmanager").put_secret_value(SecretId="sage/valkey-url", SecretString=url)
        hygiene.forbidden.update(with_encoded_forms({"VALKEY_URL pointed at the test's redis-server": url}))
        cache.client().mset({"ai:response:1": "a", "market:price": "b"})
        run = hygiene.run(
            "playbooks/deploy.yml",
            tmp_path,
            extra_vars={
                "image_tag": "hygiene-1",
                "ecs_deploy_notify": True,
                "ecs_deploy_invalidate_cache_patterns": ["ai:response:*"],
            },
        ).assert_ok()
        assert cache.client().keys("*") == [b"market:price"], "the cache was invalidated with the AUTH token"
    business = WEBHOOKS["vault_discord_webhook_business"][0]
    assert discord.messages(business)[-1]["embeds"][0]["title"] == "sage-backend: deployed"
    (service,) = client("ecs").describe_services(cluster=CLUSTER, services=[SERVICE])["services"]
    image = client("ecs").describe_task_definition(taskDefinition=service["taskDefinition"])["taskDefinition"]
    assert image["containerDefinitions"][0]["image"].endswith(":hygiene-1")
    run.assert_clean()


def test_backup_and_its_failure_notice(database, hygiene, client, discord, tmp_path):
    """A backup read from the stack's DATABASE_URL secret, then one that fails and posts to the errors channel."""
    run = hygiene.run(
        "playbooks/backup.yml", tmp_path / "ok", extra_vars={"backup_log_file": str(tmp_path / "ok" / "backup.log")}
    )
    run.assert_ok()
    assert backups(client), "a backup is in the bucket"
    run.assert_clean()

    failed = hygiene.run(
        "playbooks/backup.yml",
        tmp_path / "failed",
        extra_vars={
            "backup_log_file": str(tmp_path / "failed" / "backup.log"),
            "backup_bucket": "no-such-bucket-hygiene",
            "backup_notify_on_failure": True,
        },
    )
    assert failed.result.returncode != 0
    assert "bucket no-such-bucket-hygiene does not exist" in failed.output, failed.output[-3000:]
    (message,) = discord.messages(WEBHOOKS["vault_discord_webhook_errors"][0])
    assert message["embeds"][0]["description"] == "bucket no-such-bucket-hygiene does not exist"
    failed.assert_clean()


def test_restore(database, hygiene, tmp_path):
    run = hygiene.run(
        "playbooks/restore.yml",
        tmp_path,
        extra_vars={"backup_log_file": str(tmp_path / "restore.log"), "restore_target_database": "sage_restored"},
    ).assert_ok()
    assert "checksum verified" in run.output
    assert database.psql("SELECT body FROM notes", "sage_restored").split() == ["a"]
    run.assert_clean()


def test_migrate(database, hygiene, tmp_path):
    tmp_path.joinpath("migration.sql").write_text("CREATE TABLE hygiene_migrated (id int);")
    psql = shlex.quote(postgres_server.client_program("psql"))
    # psql takes the URL without Prisma's parameters (connection_limit is no libpq parameter).
    command = psql + ' "${DATABASE_URL%%[?]*}" -X -v ON_ERROR_STOP=1 -f migration.sql'
    settings = {"backup_log_file": str(tmp_path / "migrate.log"), "migrate_chdir": str(tmp_path)}
    run = hygiene.run("playbooks/migrate.yml", tmp_path, extra_vars={**settings, "migrate_command": command})
    run.assert_ok()
    assert "hygiene_migrated" in database.psql("SELECT tablename FROM pg_tables", "sage")
    run.assert_clean()


def test_diagnose_of_logs_that_hold_the_secrets(converged, hygiene, client, tmp_path):
    """The application logged its secrets (as a crashing app does): the diagnosis reads those lines and its samples
    must mask them. The webhook is logged in the https://discord.com shape it has in production."""
    _, token = WEBHOOKS["vault_discord_webhook_errors"]
    lines = [
        "[error] PrismaClientInitializationError: too many connections (53300) "
        f"url={converged[1]['database_url']} ANTHROPIC_API_KEY={ANTHROPIC_KEY}",
        f"[error] ReplyError: OOM command not allowed, VALKEY_URL={converged[1]['valkey_url']} "
        f"alert webhook https://discord.com/api/webhooks/{WEBHOOKS['vault_discord_webhook_errors'][0]}/{token}",
    ]
    logs = client("logs")
    logs.create_log_stream(logGroupName=LOG_GROUP, logStreamName="ecs/sage-backend/hygiene")
    now = int(datetime.now(UTC).timestamp() * 1000) - 60_000
    events = [{"timestamp": now + i * 1000, "message": line} for i, line in enumerate(lines)]
    logs.put_log_events(logGroupName=LOG_GROUP, logStreamName="ecs/sage-backend/hygiene", logEvents=events)
    report = tmp_path / "diagnosis.json"
    run = hygiene.run(
        "playbooks/diagnose.yml",
        tmp_path,
        extra_vars={"diagnose_window_minutes": 30, "diagnose_report_file": str(report)},
    ).assert_ok()
    findings = {finding["id"]: finding for finding in json.loads(report.read_text())["findings"]}
    assert {"db_connections_exhausted", "valkey_oom"} <= set(findings), "the lines with the secrets were read"
    assert "***" in findings["db_connections_exhausted"]["evidence"]["samples"][0]
    run.assert_clean()


def test_local_dev(converged, hygiene, tmp_path):
    """local_dev makes no AWS call. Its .env (mode 0600) is written on purpose with a generated local
    POSTGRES_PASSWORD: that password is also forbidden everywhere else; .env is the one file allowed to hold it."""
    target = tmp_path / "stack"
    run = hygiene.run(
        "playbooks/local_dev.yml", tmp_path, extra_vars={"local_dev_dir": str(target), "local_dev_write_env": True}
    ).assert_ok()
    assert (target / "docker-compose.yml").is_file()
    env = dict(line.split("=", 1) for line in (target / ".env").read_text().splitlines() if "=" in line)
    assert len(env["POSTGRES_PASSWORD"]) >= 16 and (target / ".env").stat().st_mode & 0o777 == 0o600
    name = "local_dev's generated POSTGRES_PASSWORD"
    # The one output written on purpose with a secret: .env (0600, git-ignored, never overwritten) is where Compose
    # reads the local database's password from, and that password exists only there and in local containers.
    run.assert_clean(extra={name: env["POSTGRES_PASSWORD"]}, allowed={target / ".env": {name}})


def test_teardown(converged, hygiene, client, tmp_path):
    run = hygiene.run("playbooks/teardown.yml", tmp_path).assert_ok()
    assert run.result.changed > 0
    assert client("rds").describe_db_instances()["DBInstances"] == []
    assert client("elasticache").describe_replication_groups()["ReplicationGroups"] == []
    run.assert_clean()
