"""playbooks/local_dev.yml: the Compose files it renders, checked against the Compose Specification's JSON schema
(tests/fixtures/compose-spec.json, see its README) and for what a schema cannot say; a re-run, check mode, an existing
.env and bad input. No AWS emulator and no Docker engine: nothing here starts a container."""

from __future__ import annotations

import copy
import json
import os
import re
import stat
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import jsonschema
import pytest
import yaml

from tests.harness.playbook import ROOT, PlaybookRun, run_playbook

PLAYBOOK = "playbooks/local_dev.yml"
SCHEMA = ROOT / "tests" / "fixtures" / "compose-spec.json"
FILES = {".gitignore", "docker-compose.yml", ".env.example", ".env"}
# ${NAME}, ${NAME:?message}, ${NAME:-default} ... as Compose interpolates them; $$ is a literal $.
INTERPOLATION = re.compile(r"(?<!\$)\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?P<modifier>:?[-?+][^}]*)?\}")


def render(target: Path | str, *args: str, **extra_vars) -> PlaybookRun:
    # The endpoint is unused: the playbook makes no AWS call.
    return run_playbook(PLAYBOOK, "", *args, extra_vars={"local_dev_dir": str(target), **extra_vars}, timeout=120)


def dotenv(path: Path) -> dict[str, str]:
    lines = path.read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


def interpolate(text: str, values: dict[str, str]) -> str:
    """Compose's interpolation for the forms the file uses; a required variable that is missing fails like Compose."""

    def value(match):
        name, modifier = match["name"], match["modifier"] or ""
        if modifier.startswith(":?") and not values.get(name):
            raise AssertionError(f"Compose would refuse to start: {modifier[2:]}")
        return values.get(name, "")

    return INTERPOLATION.sub(value, text)


def published(service: dict) -> list[tuple[str, int, int]]:
    """(host address, host port, container port) of each short-syntax port."""
    result = []
    for port in service["ports"]:
        address, host, container = port.split(":")
        result.append((address, int(host), int(container)))
    return result


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """One run (-vvv) with a relative local_dev_dir (taken from where ansible-playbook runs) and a new .env."""
    target = tmp_path_factory.mktemp("local-dev") / "stack"
    run = render(os.path.relpath(target, ROOT), "-vvv", local_dev_write_env=True).assert_ok()
    return target, run


@pytest.fixture(scope="module")
def compose(rendered):
    return yaml.safe_load((rendered[0] / "docker-compose.yml").read_text())


def test_first_run_writes_the_files_with_their_modes(rendered):
    target, run = rendered
    assert run.changed == 5
    assert {path.name for path in target.iterdir()} == FILES
    assert mode(target / "docker-compose.yml") == 0o644
    assert mode(target / ".env.example") == 0o644
    assert mode(target / ".env") == 0o600
    ignored = (target / ".gitignore").read_text().splitlines()
    assert {"/.env", "/docker-compose.yml", "/.env.example"} <= set(ignored)


def test_generated_env_has_a_random_password_never_printed(rendered):
    target, run = rendered
    values = dotenv(target / ".env")
    assert re.fullmatch(r"[A-Za-z0-9]{32}", values["POSTGRES_PASSWORD"])
    assert values["ANTHROPIC_API_KEY"] == ""
    assert values["POSTGRES_PASSWORD"] not in run.output


def test_compose_file_is_valid_against_the_compose_specification_schema(compose):
    schema = json.loads(SCHEMA.read_text())
    # Draft-07, as the schema says ("$schema" without the "#" jsonschema looks the draft up by).
    assert schema["$schema"].rstrip("#") == "https://json-schema.org/draft-07/schema"
    jsonschema.Draft7Validator.check_schema(schema)
    validator = jsonschema.Draft7Validator(schema)
    assert [error.message for error in validator.iter_errors(compose)] == []
    # The schema does catch mistakes: an unknown depends_on condition and a misspelt service key.
    broken = copy.deepcopy(compose)
    broken["services"]["backend"]["depends_on"]["postgres"]["condition"] = "service_ready"
    broken["services"]["valkey"]["healthckeck"] = broken["services"]["valkey"].pop("healthcheck")
    assert len(list(validator.iter_errors(broken))) >= 2


def test_services_images_builds_and_network(compose, rendered):
    assert "version" not in compose  # obsolete in the Compose Specification
    services = compose["services"]
    assert {name: service["container_name"] for name, service in services.items()} == {
        "postgres": "sage-postgres",
        "valkey": "sage-valkey",
        "backend": "sage-backend",
        "frontend": "sage-frontend",
    }
    assert services["postgres"]["image"] == "postgres:18-alpine"
    assert services["valkey"]["image"] == "valkey/valkey:8-alpine"
    for name, command in (("backend", "pnpm run start:dev"), ("frontend", "pnpm run dev")):
        source = str(ROOT / "apps" / name)
        assert services[name]["build"] == {"context": source, "dockerfile": "Dockerfile.dev"}
        assert services[name]["command"].startswith(command)
        # Hot reload: the sources bind-mounted, node_modules the image's own (an anonymous volume).
        assert services[name]["volumes"] == [
            {"type": "bind", "source": source, "target": "/app"},
            {"type": "volume", "target": "/app/node_modules"},
        ]
    assert "--host 0.0.0.0" in services["frontend"]["command"]
    assert services["frontend"]["environment"]["VITE_API_URL"] == "http://localhost:3000"
    assert all(service["networks"] == ["sage-network"] for service in services.values())
    assert compose["networks"] == {"sage-network": {"driver": "bridge"}}


def test_postgres_18_volume_is_mounted_where_the_image_keeps_its_data(compose):
    assert compose["services"]["postgres"]["volumes"] == [
        {"type": "volume", "source": "postgres_data", "target": "/var/lib/postgresql"}
    ]
    assert "postgres_data" in compose["volumes"]


def test_health_checks_and_start_order(compose):
    services = compose["services"]
    assert "pg_isready" in services["postgres"]["healthcheck"]["test"]
    assert "valkey-cli ping" in " ".join(services["valkey"]["healthcheck"]["test"])
    assert "http://127.0.0.1:3000/health" in " ".join(services["backend"]["healthcheck"]["test"])
    assert services["backend"]["depends_on"] == {
        "postgres": {"condition": "service_healthy"},
        "valkey": {"condition": "service_healthy"},
    }
    assert services["frontend"]["depends_on"] == {"backend": {"condition": "service_started"}}
    for service in services.values():
        for dependency, condition in service.get("depends_on", {}).items():
            if condition["condition"] == "service_healthy":
                assert "healthcheck" in services[dependency], dependency


def test_ports_are_published_on_loopback_only(compose):
    assert {name: published(service) for name, service in compose["services"].items()} == {
        "postgres": [("127.0.0.1", 5432, 5432)],
        "valkey": [("127.0.0.1", 6379, 6379)],
        "backend": [("127.0.0.1", 3000, 3000)],
        "frontend": [("127.0.0.1", 5173, 5173)],
    }


def test_no_secret_in_the_compose_file_and_env_example_covers_every_variable(rendered, compose):
    target, _ = rendered
    text = (target / "docker-compose.yml").read_text()
    example = dotenv(target / ".env.example")
    used = {match["name"] for match in INTERPOLATION.finditer(text)}
    assert used == set(example) == {"POSTGRES_PASSWORD", "ANTHROPIC_API_KEY"}
    # Every reference is required (${NAME:?message}): a missing .env value stops Compose instead of an empty password.
    assert all((match["modifier"] or "").startswith(":?") for match in INTERPOLATION.finditer(text))
    assert not re.search(r"(?<!\$)\$[A-Za-z_]", text), "unbraced $VARIABLE"
    for service in compose["services"].values():
        for key, value in service.get("environment", {}).items():
            if re.search("(PASSWORD|SECRET|TOKEN|API_KEY)$", key):
                assert INTERPOLATION.fullmatch(value), f"{key} is not taken from .env"
    assert "sage_dev_password" not in text
    assert dotenv(target / ".env").keys() == example.keys()


def test_database_and_valkey_urls_as_the_backend_receives_them(rendered, compose):
    target, _ = rendered
    values = dotenv(target / ".env") | {"ANTHROPIC_API_KEY": "sk-ant-test"}
    backend = compose["services"]["backend"]["environment"]
    environment = {key: interpolate(value, values) for key, value in backend.items()}
    url = urlsplit(environment["DATABASE_URL"])
    assert (url.scheme, url.username, url.password, url.hostname, url.port, url.path) == (
        "postgresql",
        "sage",
        values["POSTGRES_PASSWORD"],
        "postgres",
        5432,
        "/sage",
    )
    assert parse_qs(url.query) == {"connection_limit": ["10"]}
    assert environment["VALKEY_URL"] == "redis://valkey:6379"
    assert environment["ANTHROPIC_API_KEY"] == "sk-ant-test"
    # The generated .env leaves the key to be filled in: Compose stops saying so.
    with pytest.raises(AssertionError, match=r"set ANTHROPIC_API_KEY in \.env"):
        interpolate(backend["ANTHROPIC_API_KEY"], dotenv(target / ".env"))


def test_second_run_changes_nothing(rendered):
    target, _ = rendered
    before = {name: (target / name).read_bytes() for name in FILES}
    run = render(target, local_dev_write_env=True).assert_ok()
    assert run.changed == 0
    assert {name: (target / name).read_bytes() for name in FILES} == before


def test_check_mode_on_an_empty_directory_creates_nothing(tmp_path):
    target = tmp_path / "stack"
    run = render(target, "--check", local_dev_write_env=True).assert_ok()
    assert run.changed > 0
    assert not target.exists()


def test_existing_env_is_never_touched_and_settings_reach_the_file(tmp_path):
    env = tmp_path / ".env"
    env.write_text("POSTGRES_PASSWORD=mine\nANTHROPIC_API_KEY=mine-too\n")
    env.chmod(0o640)
    before = env.stat()
    render(
        tmp_path,
        local_dev_write_env=True,
        local_dev_bind_address="0.0.0.0",
        local_dev_backend_port=3100,
        local_dev_postgres_port=15432,
        local_dev_connection_limit=4,
    ).assert_ok()
    after = env.stat()
    assert env.read_text() == "POSTGRES_PASSWORD=mine\nANTHROPIC_API_KEY=mine-too\n"
    assert (mode(env), after.st_mtime_ns, after.st_ino) == (0o640, before.st_mtime_ns, before.st_ino)
    services = yaml.safe_load((tmp_path / "docker-compose.yml").read_text())["services"]
    assert published(services["backend"]) == [("0.0.0.0", 3100, 3000)]
    assert published(services["postgres"]) == [("0.0.0.0", 15432, 5432)]
    assert services["frontend"]["environment"]["VITE_API_URL"] == "http://localhost:3100"
    assert "connection_limit=4" in services["backend"]["environment"]["DATABASE_URL"]


def test_bad_port_fails_naming_the_variable_before_writing(tmp_path):
    run = render(tmp_path / "stack", local_dev_backend_port=70000)
    assert run.returncode != 0
    assert "ports must be 1 to 65535: local_dev_backend_port=70000" in run.output
    assert not (tmp_path / "stack").exists()


def test_every_bad_setting_is_named(tmp_path):
    run = render(
        tmp_path / "stack",
        local_dev_frontend_port=5432,
        local_dev_bind_address="localhost",
        local_dev_postgres_image="postgres:17-alpine",
        local_dev_connection_limit=0,
        local_dev_api_url="localhost:3000",
        local_dev_project_name="Sage AI",
    )
    assert run.returncode != 0
    output = " ".join(run.output.split())  # the failure message is wrapped
    for expected in (
        "local_dev_postgres_port, local_dev_valkey_port, local_dev_backend_port and local_dev_frontend_port must be "
        "distinct, got 5432, 6379, 3000, 5432",
        "local_dev_bind_address must be an IPv4 address",
        "local_dev_postgres_image must be PostgreSQL 18 or later",
        "local_dev_connection_limit must be 1 to 80",
        "local_dev_api_url must be an http(s) URL",
        "local_dev_project_name must be lowercase",
    ):
        assert expected in output
    assert not (tmp_path / "stack").exists()
