# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Make ``ansible_collections.sage.infra`` importable in unit tests.

The collection lives in ``<repo>/collections``; it is appended to ``sys.path`` (after the venv's
site-packages) so that ``ansible_collections.amazon.aws`` still resolves from the venv while
``ansible_collections.sage.infra`` resolves from this tree (``ansible_collections`` is a namespace
package in both places).
"""

import functools
import importlib
import json
import sys
from pathlib import Path

import botocore.client
import botocore.loaders
import botocore.session
import pytest
from ansible.module_utils.testing import patch_module_args

_COLLECTIONS_ROOT = str(Path(__file__).resolve().parents[5])
if _COLLECTIONS_ROOT not in sys.path:
    sys.path.append(_COLLECTIONS_ROOT)


@functools.cache
def _shared_loader(search_path_string=None):
    return botocore.loaders.create_loader(search_path_string)


# Each module run makes a new boto3 session, whose loader parses botocore's JSON models again: half of these
# tests' time. One loader per data path for the whole test process reads each model once (the models are only read).
botocore.session.create_loader = _shared_loader


@pytest.fixture
def calls(monkeypatch):
    """Record the operation name of every botocore API call."""
    recorded = []
    original = botocore.client.BaseClient._make_api_call

    def recording(self, operation_name, api_params):
        recorded.append(operation_name)
        return original(self, operation_name, api_params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", recording)
    return recorded


@pytest.fixture
def requests(monkeypatch):
    """Record (operation name, parameters) of every botocore API call."""
    recorded = []
    original = botocore.client.BaseClient._make_api_call

    def recording(self, operation_name, api_params):
        recorded.append((operation_name, api_params))
        return original(self, operation_name, api_params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", recording)
    return recorded


class FakeTime:
    """A clock on which sleeping costs nothing: sleep() records how long and moves monotonic() on."""

    def __init__(self):
        self.now = 1000.0
        self.sleeps = []

    def monotonic(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def fake_time():
    """A FakeTime, to be patched in for a module's `time` (see the tests' `clock` fixtures)."""
    return FakeTime()


@pytest.fixture
def fake_aws_credentials(monkeypatch):
    """Dummy credentials, and no endpoint or profile from the caller's environment (moto in-process)."""
    for var in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")


@pytest.fixture
def invoke(capsys):
    """Run a module's main() with the given arguments: (exit code, result without "invocation", raw stdout).

    None of `secrets` may be in the output. Ansible masks no_log values it finds in the output; apart
    from the echoed module arguments ("invocation") the mask showing up would mean a leaked value.
    """

    def _invoke(main, module_args, secrets=()):
        with patch_module_args(module_args), pytest.raises(SystemExit) as exc:
            main()
        out = capsys.readouterr().out
        for secret in secrets:
            assert secret not in out
        result = json.loads(out)
        result.pop("invocation", None)
        assert "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER" not in json.dumps(result)
        return exc.value.code or 0, result, out

    return _invoke


@pytest.fixture
def module_runner(invoke):
    """runner(main, **base_args) -> run(**args): the module's result, asserting success; run.fail(**args): its msg,
    asserting failure. check_mode= and diff= set the Ansible flags.

    Also, for the tests that need more:

    - runner(main, check_mode=..., diff=..., **base_args): the flags' defaults for every run of this runner;
    - secrets=(...) (to runner() for every run, and/or to a run for that run): strings the output must not hold;
    - expect={key: value}: what every successful result of this runner must hold (e.g. {"changed": False});
    - run.failure(**args): the whole failed result (not just its msg), asserting failure;
    - run.raw(**args): (exit code, result, raw stdout), asserting nothing;
    - run.out: the raw stdout of the last run.
    """

    def runner(main, check_mode=False, diff=False, secrets=(), expect=None, **base_args):
        base_check_mode, base_diff, base_secrets = check_mode, diff, tuple(secrets)

        def raw(check_mode=None, diff=None, secrets=(), **args):
            flags = {
                "_ansible_check_mode": base_check_mode if check_mode is None else check_mode,
                "_ansible_diff": base_diff if diff is None else diff,
            }
            rc, result, out = invoke(main, {**base_args, **flags, **args}, secrets=(*base_secrets, *secrets))
            ok.out = out
            return rc, result, out

        def ok(**args):
            rc, result, _out = raw(**args)
            assert rc == 0, result
            assert not result.get("failed"), result
            for key, value in (expect or {}).items():
                assert type(result[key]) is type(value) and result[key] == value, (key, result)
            return result

        def failure(**args):
            rc, result, _out = raw(**args)
            assert rc == 1, result
            assert result["failed"] is True
            return result

        def fail(**args):
            return failure(**args)["msg"]

        ok.raw, ok.fail, ok.failure, ok.out = raw, fail, failure, None
        return ok

    return runner


# --- the fake Discord server (tests/harness/discord_server.py of the project, above collections/) ---------------


@pytest.fixture(scope="session")
def fake_discord():
    """The tests.harness.discord_server module of the project."""
    root = next(
        parent
        for parent in Path(__file__).resolve().parents
        if (parent / "tests" / "harness" / "discord_server.py").is_file()
    )
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    return importlib.import_module("tests.harness.discord_server")


@pytest.fixture
def fast_backoff(monkeypatch):
    """Retry backoffs of module_utils/discord.py made small (hundredths of seconds), never skipped."""
    from ansible_collections.sage.infra.plugins.module_utils import discord

    monkeypatch.setattr(discord, "BACKOFF_INITIAL", 0.01)
    monkeypatch.setattr(discord, "BACKOFF_MAX", 0.05)


@pytest.fixture
def server(fake_discord):
    """A fake Discord server on a free loopback port (5 requests per 0.2 s and webhook)."""
    with fake_discord.running(burst=5, window=0.2) as running:
        yield running


@pytest.fixture
def hook(server):
    """(url, webhook id, token) of a new webhook on the fake server."""
    url = server.create_webhook()
    webhook_id = url.rsplit("/", 2)[1]
    return url, webhook_id, server.token(webhook_id)


# --- a real PostgreSQL server (tests/harness/postgres_server.py of the project, above collections/) -------------

SAMPLE_SQL = r"""
CREATE SCHEMA app;
CREATE TABLE app.users (id serial PRIMARY KEY, email text NOT NULL UNIQUE, created timestamptz DEFAULT now());
CREATE TABLE public.items (
    id int PRIMARY KEY, owner int REFERENCES app.users (id), name text, price numeric(10, 2)
);
CREATE INDEX items_name ON public.items (name);
CREATE VIEW public.expensive AS SELECT id, name FROM public.items WHERE price > 10;
CREATE FUNCTION public.double_it(x int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT 2 * x';
INSERT INTO app.users (email) VALUES ('a@example.com'), ('b@example.com');
INSERT INTO public.items SELECT n, 1 + n % 2, 'item ' || n, n * 1.5 FROM generate_series(1, 500) AS n;
INSERT INTO public.items VALUES (1000, 1, E'\\restrict looks like a psql command\nand a second line', 1);
"""


@pytest.fixture(scope="session")
def postgres_harness():
    """The tests.harness.postgres_server module of the project; skips when the PostgreSQL server is not installed."""
    root = next(
        parent
        for parent in Path(__file__).resolve().parents
        if (parent / "tests" / "harness" / "postgres_server.py").is_file()
    )
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    harness = importlib.import_module("tests.harness.postgres_server")
    if not harness.available():
        pytest.skip("the PostgreSQL server is not installed (apt-get install -y postgresql, or set PG_BIN)")
    return harness


@pytest.fixture(scope="session")
def postgres(postgres_harness):
    """A real PostgreSQL server on a free loopback port, started once for the whole session."""
    with postgres_harness.running() as running:
        yield running


@pytest.fixture
def new_database(postgres):
    """new_database(sample=False, create=True) -> the name of a new database on `postgres` (with sample=True: a
    schema, tables with rows, an index, a view and a function), dropped after the test, like any database of that
    name the test created (create=False only reserves the name)."""
    import uuid

    names = []

    def _new(sample=False, create=True):
        name = f"test_{uuid.uuid4().hex[:12]}"
        names.append(name)
        if create:
            postgres.create_database(name)
        if sample:
            postgres.psql(SAMPLE_SQL, name)
        return name

    yield _new
    for name in names:
        postgres.drop_database(name)


@pytest.fixture(scope="session")
def sample_database(postgres):
    """The name of a database with the sample content of new_database(sample=True), shared by the whole session:
    tests must not change it."""
    name = "sample_read_only"
    postgres.drop_database(name)
    postgres.create_database(name)
    postgres.psql(SAMPLE_SQL, name)
    return name


@pytest.fixture
def s3(monkeypatch, fake_aws_credentials):
    """moto's S3 in us-east-1 with the backup tests' bucket, sage-backups-test."""
    import boto3
    from moto import mock_aws

    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="sage-backups-test")
        yield client
