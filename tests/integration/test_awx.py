"""AWX / Automation Controller support: the execution environment's build context (ansible-builder, offline), the
job templates' definitions against the playbooks and roles they run, and playbooks/awx_configure.yml run for real
against an in-memory controller API (tests/harness/fake_controller.py): everything created, then nothing changed."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement

from tests.harness import fake_controller
from tests.harness.playbook import ROOT, run_playbook

BIN = Path(sys.executable).parent
AWX_DEFAULTS = yaml.safe_load((ROOT / "roles/awx_config/defaults/main.yml").read_text())
TEMPLATES = {template["name"]: template for template in AWX_DEFAULTS["awx_config_job_templates"]}
REQUIRED_VARS = {
    "awx_config_project_scm_url": "https://git.example.com/sage/sage-infra.git",
    "awx_config_execution_environment_image": "registry.example.com/sage/sage-infra-ee:2026.11.29",
}
TOKEN = "controller-token-4f8a1c"
SECRETS = {
    "SAGE_AWX_VAULT_PASSWORD_PROD": "vault-pass-93kd",
    "SAGE_AWX_AWS_ACCESS_KEY_ID_PROD": "AKIAEXAMPLEPROD0001",
    "SAGE_AWX_AWS_SECRET_ACCESS_KEY_PROD": "aws-secret-7Yq2",
}


def requirement_names(path: Path) -> dict[str, Requirement]:
    lines = [line.split("#")[0].strip() for line in path.read_text().splitlines()]
    return {Requirement(line).name: Requirement(line) for line in lines if line and not line.startswith("-")}


# --- the execution environment ---------------------------------------------------------------------------------


def test_execution_environment_build_context_is_created_offline(tmp_path):
    context = tmp_path / "context"
    offline = {"HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9", "NO_PROXY": ""}
    created = subprocess.run(
        [str(BIN / "ansible-builder"), "create", "-f", "execution-environment.yml", "--context", str(context),
         "--output-filename", "Containerfile"],
        cwd=ROOT, env={"PATH": str(BIN), "HOME": str(tmp_path), **offline}, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert created.returncode == 0, created.stdout + created.stderr
    containerfile = (context / "Containerfile").read_text()
    build = context / "_build"

    # pg_dump of the database's major version (roles/database), from PGDG, first on PATH and checked in the image.
    major = yaml.safe_load((ROOT / "roles/database/defaults/main.yml").read_text())["database_engine_version"]
    assert re.search(
        r"RUN dnf install -y https://download\.postgresql\.org/pub/repos/yum/reporpms/EL-9-.*pgdg-redhat-repo",
        containerfile,
    )
    assert containerfile.index("pgdg-redhat-repo") < containerfile.index("FROM base AS builder"), "in the base stage"
    assert f"ENV PATH=/usr/pgsql-{major}/bin:$PATH" in containerfile
    assert f"pg_dump --version | grep -q ' {major}\\.'" in containerfile
    assert re.search(rf"^postgresql{major} \[platform:rpm\]$", (build / "bindep.txt").read_text(), re.MULTILINE)
    assert "RUN /output/scripts/install-from-bindep" in containerfile

    # The collections of requirements.yml, installed by ansible-galaxy in the image.
    assert yaml.safe_load((build / "requirements.yml").read_text()) == yaml.safe_load(
        (ROOT / "requirements.yml").read_text()
    )
    assert "ansible-galaxy collection install $ANSIBLE_GALAXY_CLI_COLLECTION_OPTS -r requirements.yml" in containerfile

    # requirements.txt without the ansible package (the EE has ansible-core): same packages, same ranges.
    ee_python = requirement_names(build / "requirements.txt")
    control_node = requirement_names(ROOT / "requirements.txt")
    assert {"boto3", "botocore", "psycopg", "valkey"} <= set(ee_python)
    assert ee_python["psycopg"].extras == {"binary"}
    assert {name: str(req) for name, req in control_node.items() if name != "ansible"} == {
        name: str(req) for name, req in ee_python.items()
    }
    # The ansible-core series the tests run (what the ansible 12 package brings).
    core = re.search(r'ARG ANSIBLE_INSTALL_REFS="ansible-core(?P<spec>[^ ]+) ansible-runner', containerfile)
    assert core and Requirement("ansible-core" + core["spec"]).specifier.contains(version("ansible-core"))


# --- the job templates' definitions ----------------------------------------------------------------------------


def _roles_and_text(playbook: Path) -> tuple[set[str], str]:
    """The roles a playbook runs (roles:, include_role, import_role; through import_playbook) and its text."""
    roles, text, pending = set(), "", [playbook]
    while pending:
        path = pending.pop()
        text += path.read_text()
        stack = [yaml.safe_load(path.read_text())]
        while stack:
            node = stack.pop()
            if isinstance(node, list):
                stack.extend(node)
            elif isinstance(node, dict):
                for key, value in node.items():
                    if key == "roles":
                        roles.update(r if isinstance(r, str) else r.get("role", r.get("name")) for r in value)
                    elif key.endswith(("include_role", "import_role")) and "{{" not in value["name"]:
                        roles.add(value["name"])
                    elif key.endswith("import_playbook"):
                        pending.append(path.parent / value)
                    else:
                        stack.append(value)
    return roles, text


def _role_options(role: str) -> dict:
    specs = yaml.safe_load((ROOT / "roles" / role / "meta/argument_specs.yml").read_text())["argument_specs"]
    return {name: option for spec in specs.values() for name, option in spec.get("options", {}).items()}


@pytest.mark.parametrize("name", list(TEMPLATES))
def test_job_template_runs_a_playbook_that_reads_what_its_survey_asks(name):
    template = TEMPLATES[name]
    playbook = ROOT / template["playbook"]
    assert playbook.is_file(), f"{name}: {template['playbook']} is not in the project"
    roles, text = _roles_and_text(playbook)
    options = {key: value for role in roles for key, value in _role_options(role).items()}
    for question in template["survey"]:
        variable = question["variable"]
        assert variable in options or re.search(rf"\b{variable}\b", text), f"{name}: nothing reads {variable}"
        option = options.get(variable, {})
        assert not option.get("no_log"), f"{name}: {variable} is a secret, a survey shows its answer"
        assert question["type"] != "password"
        assert not re.search(r"(?i)password|secret|token|api_key|_url$", variable)
        if option.get("default") not in (None, "", [], {}):
            # The survey offers what the role would do without an answer.
            assert str(question["default"]).lower() == str(option["default"]).lower(), f"{name}: {variable} default"


def test_surveys_ask_what_each_operation_needs():
    def questions(name):
        return {question["variable"]: question for question in TEMPLATES[name]["survey"]}

    assert set(TEMPLATES) == {
        "provision", "deploy", "backup", "restore", "migrate", "diagnose", "drift check", "teardown",
    }  # fmt: skip
    assert TEMPLATES["drift check"]["playbook"] == "playbooks/plan.yml"
    assert TEMPLATES["drift check"]["extra_vars"] == {"plan_notify": True}
    assert TEMPLATES["provision"]["playbook"] == "site.yml" and TEMPLATES["provision"]["ask_job_type"] is True
    image_tag = questions("deploy")["image_tag"]
    assert image_tag["required"] is True and image_tag["default"] == ""
    assert image_tag["max"] == 128  # Docker's tag limit
    assert set(questions("restore")) == {"restore_backup", "restore_target_database", "restore_replace"}
    assert questions("restore")["restore_replace"]["choices"] == ["false", "true"]
    assert questions("restore")["restore_replace"]["default"] == "false"
    assert set(questions("migrate")) >= {"migrate_command"}
    assert questions("diagnose")["diagnose_window_minutes"]["type"] == "integer"
    confirm = questions("teardown")["confirm_teardown"]
    assert confirm["required"] is True and confirm["default"] == "", "the confirmation is typed, never prefilled"
    # Every real environment gets its templates (local is the emulator on a laptop).
    inventories = {path.parent.name for path in (ROOT / "inventories").glob("*/hosts.yml")}
    assert set(AWX_DEFAULTS["awx_config_environments"]) == inventories - {"local"}


# --- the configuration playbook against a controller API -------------------------------------------------------


def configure(controller, *args, secrets=None, extra_vars=None, token=TOKEN):
    env = {"CONTROLLER_HOST": controller.url, "CONTROLLER_OAUTH_TOKEN": token, **(secrets or {})}
    variables = {**REQUIRED_VARS, "awx_config_environments": ["prod"], **(extra_vars or {})}
    return run_playbook("playbooks/awx_configure.yml", "", *args, extra_vars=variables, env=env, timeout=300)


@pytest.fixture
def controller():
    with fake_controller.running(TOKEN, ROOT) as running:
        yield running


def test_configure_creates_every_template_with_its_survey_and_credentials_then_changes_nothing(controller):
    first = configure(controller, "-vvvv", secrets=SECRETS).assert_ok()
    assert first.changed > 0
    for secret in [TOKEN, *SECRETS.values()]:
        assert secret not in first.output, "a secret is in the output"

    assert set(controller.named("organizations")) == {"Sage"}
    (environment,) = controller.named("execution_environments").values()
    assert environment["image"] == REQUIRED_VARS["awx_config_execution_environment_image"]
    (project,) = controller.named("projects").values()
    assert (project["scm_type"], project["scm_url"], project["scm_branch"]) == (
        "git",
        REQUIRED_VARS["awx_config_project_scm_url"],
        "main",
    )
    assert project["default_environment"] == environment["id"] and project["scm_update_on_launch"] is True
    inventory = controller.named("inventories")["Sage prod"]
    (source,) = controller.named("inventory_sources").values()
    assert (source["inventory"], source["source"], source["source_project"]) == (inventory["id"], "scm", project["id"])
    assert source["source_path"] == "inventories/prod/hosts.yml" and source["update_on_launch"] is True
    credentials = controller.named("credentials")
    assert credentials["Sage prod vault"]["inputs"] == {"vault_password": SECRETS["SAGE_AWX_VAULT_PASSWORD_PROD"]}
    assert credentials["Sage prod AWS"]["inputs"] == {
        "username": SECRETS["SAGE_AWX_AWS_ACCESS_KEY_ID_PROD"],
        "password": SECRETS["SAGE_AWX_AWS_SECRET_ACCESS_KEY_PROD"],
    }

    templates = controller.named("job_templates")
    assert set(templates) == {f"Sage prod - {name}" for name in TEMPLATES}
    for name, definition in TEMPLATES.items():
        template = templates[f"Sage prod - {name}"]
        assert (template["playbook"], template["inventory"], template["project"]) == (
            definition["playbook"], inventory["id"], project["id"],
        )  # fmt: skip
        assert template["execution_environment"] == environment["id"]
        assert controller.credentials_of(template["name"]) == ["Sage prod AWS", "Sage prod vault"]
        assert template["survey_enabled"] is bool(definition["survey"])
        assert controller.survey(template["name"]).get("spec", []) == definition["survey"]
    assert templates["Sage prod - provision"]["ask_job_type_on_launch"] is True
    assert json.loads(templates["Sage prod - drift check"]["extra_vars"]) == {"plan_notify": True}
    (schedule,) = controller.named("schedules").values()
    assert schedule["name"] == "Sage prod - drift check hourly"
    assert schedule["unified_job_template"] == templates["Sage prod - drift check"]["id"]
    assert schedule["rrule"].endswith("RRULE:FREQ=HOURLY;INTERVAL=1") and schedule["enabled"] is True
    assert templates["Sage prod - deploy"]["ask_job_type_on_launch"] is False

    # Again, secrets exported as before: the controller shows them as $encrypted$, they are not sent again.
    writes = len(controller.mutations)
    second = configure(controller, secrets=SECRETS).assert_ok()
    assert second.changed == 0, second.output[-3000:]
    assert len(controller.mutations) == writes, [vars(r) for r in controller.mutations[writes:]]
    assert (
        controller.named("credentials")["Sage prod vault"]["inputs"]["vault_password"]
        == SECRETS["SAGE_AWX_VAULT_PASSWORD_PROD"]
    )


def test_configure_refuses_bad_input_before_any_controller_call(controller):
    run = configure(
        controller,
        token="",
        extra_vars={
            "awx_config_project_scm_url": "sage-infra",
            "awx_config_execution_environment_image": "https://x/ee",
        },
    )
    assert run.returncode != 0
    for variable in ("CONTROLLER_OAUTH_TOKEN", "awx_config_project_scm_url", "awx_config_execution_environment_image"):
        assert variable in run.output
    assert controller.requests == []
