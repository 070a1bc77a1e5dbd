"""A small in-memory AWX / Automation Controller API for the tests of playbooks/awx_configure.yml.

It answers what the awx.awx modules call (``plugins/module_utils/controller_api.py`` of the collection) the way
AWX's ``/api/v2/`` does, for organizations, execution environments, projects, credential types (the built-in
"Amazon Web Services", "Vault", "Source Control" and "Container Registry"), credentials, inventories, inventory
sources and job templates:

- ``GET /api/v2/<kind>/?field=value`` lists with AWX's shape (``count``, ``next``, ``results``), filtered on the
  fields given (``or__`` prefixed ones as alternatives); ``GET .../<kind>/<id>/`` one object;
- ``POST /api/v2/<kind>/`` creates (201) and ``PATCH .../<kind>/<id>/`` updates (200), with AWX's checks: required
  fields, referenced objects that exist, a name unique in its organization, a credential's required inputs, a job
  template's playbook and an inventory source's file that exist in the project (a directory, ``project_dir``);
- a credential's secret inputs read back as ``$encrypted$``, as AWX shows them;
- ``GET|POST|DELETE .../job_templates/<id>/survey_spec/`` with AWX's survey checks (question types, unique
  variables, defaults of the question's type and among the choices, within min and max);
- ``GET|POST .../job_templates/<id>/credentials/`` associates and disassociates (204), one credential per cloud
  type and one vault credential per vault id;
- ``GET /api/v2/unified_job_templates/?name=`` finds job templates (what schedules point to); schedules need an
  ``rrule`` with DTSTART and RRULE:FREQ, and a name unique for their template;
- every request needs ``Authorization: Bearer <token>`` (401 otherwise) and is recorded (``requests``).
"""

from __future__ import annotations

import copy
import json
import re
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

from tests.harness.net import HOST, free_port

ENCRYPTED = "$encrypted$"
PATH = re.compile(r"^/api/v2/(?P<kind>[a-z_]+)/(?:(?P<id>\d+)/(?:(?P<sub>[a-z_]+)/)?)?$")
SURVEY_TYPES = {"text", "textarea", "password", "integer", "float", "multiplechoice", "multiselect"}

# kind -> (singular type, required fields, {field: kind it references})
KINDS = {
    "organizations": ("organization", ("name",), {}),
    "credential_types": ("credential_type", ("name",), {}),
    "execution_environments": (
        "execution_environment",
        ("name", "image"),
        {"organization": "organizations", "credential": "credentials"},
    ),
    "projects": (
        "project",
        ("name", "organization", "scm_type", "scm_url"),
        {"organization": "organizations", "credential": "credentials", "default_environment": "execution_environments"},
    ),
    "credentials": (
        "credential",
        ("name", "credential_type"),
        {"organization": "organizations", "credential_type": "credential_types"},
    ),
    "inventories": ("inventory", ("name", "organization"), {"organization": "organizations"}),
    "inventory_sources": (
        "inventory_source",
        ("name", "inventory", "source"),
        {
            "inventory": "inventories",
            "source_project": "projects",
            "credential": "credentials",
            "execution_environment": "execution_environments",
        },
    ),
    "job_templates": (
        "job_template",
        ("name", "inventory", "project", "playbook"),
        {
            "organization": "organizations",
            "inventory": "inventories",
            "project": "projects",
            "execution_environment": "execution_environments",
        },
    ),
    "schedules": ("schedule", ("name", "rrule", "unified_job_template"), {"unified_job_template": "job_templates"}),
}
RRULE = re.compile(r"^DTSTART[;:]\S+ RRULE:FREQ=(MINUTELY|HOURLY|DAILY|WEEKLY|MONTHLY|YEARLY)(;[A-Z]+=[A-Z0-9,+-]+)*$")
# AWX's built-in credential types: name, kind, input fields (secret?, required?).
CREDENTIAL_TYPES = [
    (
        "Amazon Web Services",
        "cloud",
        {"username": (False, True), "password": (True, True), "security_token": (True, False)},
    ),
    ("Vault", "vault", {"vault_password": (True, True), "vault_id": (False, False)}),
    ("Source Control", "scm", {"username": (False, False), "password": (True, False), "ssh_key_data": (True, False)}),
    ("Container Registry", "registry", {"host": (False, True), "username": (False, False), "password": (True, False)}),
]


@dataclass
class Request:
    method: str
    path: str


class BadRequest(Exception):
    def __init__(self, payload: dict):
        super().__init__(payload)
        self.payload = payload


class FakeController:
    """The API's state; ``start()`` serves it on a free loopback port."""

    def __init__(self, token: str, project_dir: Path, host: str = HOST):
        self.token = token
        self.project_dir = Path(project_dir)
        self.host = host
        self.port = None
        self.requests: list[Request] = []
        self.objects: dict[str, dict[int, dict]] = {kind: {} for kind in KINDS}
        self.surveys: dict[int, dict] = {}
        self.associations: dict[int, list[int]] = {}
        self._next_id = 1
        self._lock = threading.Lock()
        self._httpd = None
        for name, kind, fields in CREDENTIAL_TYPES:
            inputs = {
                "fields": [
                    {"id": key, "label": key, "type": "string", "secret": secret} for key, (secret, _) in fields.items()
                ],
                "required": [key for key, (_, required) in fields.items() if required],
            }
            self._store("credential_types", {"name": name, "kind": kind, "managed": True, "inputs": inputs})

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def mutations(self) -> list[Request]:
        return [request for request in self.requests if request.method != "GET"]

    def named(self, kind: str) -> dict[str, dict]:
        """The objects of a kind by name, as stored (secrets in clear)."""
        return {item["name"]: item for item in self.objects[kind].values()}

    def survey(self, template_name: str) -> dict:
        return self.surveys.get(self.named("job_templates")[template_name]["id"], {})

    def credentials_of(self, template_name: str) -> list[str]:
        ids = self.associations.get(self.named("job_templates")[template_name]["id"], [])
        return sorted(self.objects["credentials"][i]["name"] for i in ids)

    # --- the API ----------------------------------------------------------------------------------------------

    def handle(self, method: str, raw_path: str, headers, body: bytes) -> tuple[int, object]:
        split = urlsplit(raw_path)
        self.requests.append(Request(method, split.path))
        if headers.get("Authorization") != f"Bearer {self.token}":
            return 401, {"detail": "Authentication credentials were not provided."}
        match = PATH.match(split.path)
        if match and match["kind"] == "unified_job_templates" and method == "GET" and not match["id"]:
            with self._lock:
                return 200, self._list("job_templates", parse_qsl(split.query))
        if not match or match["kind"] not in KINDS:
            return 404, {"detail": "Not found."}
        data = json.loads(body or b"{}")
        kind, sub = match["kind"], match["sub"]
        item_id = int(match["id"]) if match["id"] else None
        with self._lock:
            if item_id is not None and item_id not in self.objects[kind]:
                return 404, {"detail": "Not found."}
            try:
                if sub:
                    return self._sub(kind, item_id, sub, method, data)
                if method == "GET":
                    if item_id is None:
                        return 200, self._list(kind, parse_qsl(split.query))
                    return 200, self._show(kind, self.objects[kind][item_id])
                if method == "POST" and item_id is None:
                    return 201, self._show(kind, self._store(kind, self._checked(kind, data, None)))
                if method == "PATCH" and item_id is not None:
                    item = self.objects[kind][item_id]
                    item.update(self._checked(kind, data, item))
                    return 200, self._show(kind, item)
            except BadRequest as error:
                return 400, error.payload
        return 405, {"detail": f'Method "{method}" not allowed.'}

    def _list(self, kind: str, query: list[tuple[str, str]]) -> dict:
        exact = {key: value for key, value in query if not key.startswith("or__") and key != "page_size"}
        alternatives = [(key[4:], value) for key, value in query if key.startswith("or__")]
        results = [
            self._show(kind, item)
            for item in self.objects[kind].values()
            if all(str(item.get(key)) == value for key, value in exact.items())
            and (not alternatives or any(str(item.get(key)) == value for key, value in alternatives))
        ]
        return {"count": len(results), "next": None, "previous": None, "results": results}

    def _store(self, kind: str, fields: dict) -> dict:
        item_id, self._next_id = self._next_id, self._next_id + 1
        url = f"/api/v2/{kind}/{item_id}/"
        related = (
            {"survey_spec": url + "survey_spec/", "credentials": url + "credentials/"}
            if kind == "job_templates"
            else {}
        )
        if kind == "projects":
            related["update"] = url + "update/"
            fields.setdefault("scm_revision", "")
        item = {**fields, "id": item_id, "type": KINDS[kind][0], "url": url, "related": related, "summary_fields": {}}
        self.objects[kind][item_id] = item
        return item

    def _show(self, kind: str, item: dict) -> dict:
        shown = copy.deepcopy(item)
        if kind == "credentials":
            secrets = {
                f["id"]
                for f in self.objects["credential_types"][item["credential_type"]]["inputs"]["fields"]
                if f["secret"]
            }
            shown["inputs"] = {
                key: ENCRYPTED if key in secrets and value else value for key, value in item["inputs"].items()
            }
        return shown

    def _checked(self, kind: str, data: dict, existing: dict | None) -> dict:
        """The fields of a create or update, checked the way AWX does; BadRequest otherwise."""
        merged = {**(existing or {}), **data}
        _, required, references = KINDS[kind]
        missing = [field for field in required if merged.get(field) in (None, "")]
        if missing:
            raise BadRequest({field: ["This field is required."] for field in missing})
        for field, target in references.items():
            if merged.get(field) is not None and merged[field] not in self.objects[target]:
                raise BadRequest({field: [f'Invalid pk "{merged[field]}" - object does not exist.']})
        scope = {"inventory_sources": ("organization", "inventory"), "schedules": ("unified_job_template",)}.get(
            kind, ("organization",)
        )
        if kind == "schedules" and not RRULE.match(merged["rrule"]):
            raise BadRequest({"rrule": ["A valid DTSTART and RRULE are required."]})
        for other in self.objects[kind].values():
            if other is not existing and all(other.get(key) == merged.get(key) for key in ("name", *scope)):
                raise BadRequest({"__all__": [f"{KINDS[kind][0]} with this Name and Organization already exists."]})
        if kind == "credentials":
            data = {**data, "inputs": self._credential_inputs(merged, existing)}
        if kind == "job_templates" and not (self.project_dir / merged["playbook"]).is_file():
            raise BadRequest({"playbook": [f"Playbook not found for project: {merged['playbook']}."]})
        source_path = self.project_dir / merged.get("source_path", "")
        if (
            kind == "inventory_sources"
            and merged["source"] == "scm"
            and not (merged.get("source_project") and source_path.is_file())
        ):
            raise BadRequest({"source_path": [f'No inventory file "{merged.get("source_path")}" in the project.']})
        return data

    def _credential_inputs(self, merged: dict, existing: dict | None) -> dict:
        inputs = dict(merged.get("inputs") or {})
        for key, value in inputs.items():
            if value == ENCRYPTED and existing:  # AWX keeps the stored secret
                inputs[key] = existing["inputs"].get(key, "")
        schema = self.objects["credential_types"][merged["credential_type"]]["inputs"]
        unknown = set(inputs) - {field["id"] for field in schema["fields"]}
        missing = [key for key in schema["required"] if not inputs.get(key)]
        if unknown or missing:
            raise BadRequest(
                {"inputs": {key: ["required"] for key in missing} | {key: ["unknown field"] for key in unknown}}
            )
        return inputs

    def _sub(self, kind: str, item_id: int, sub: str, method: str, data: dict) -> tuple[int, object]:
        if kind != "job_templates" or sub not in ("survey_spec", "credentials"):
            return 404, {"detail": "Not found."}
        if sub == "survey_spec":
            if method == "GET":
                return 200, copy.deepcopy(self.surveys.get(item_id, {}))
            if method == "DELETE":
                self.surveys.pop(item_id, None)
                return 200, {}
            error = survey_error(data)
            if error:
                return 400, {"error": error}
            self.surveys[item_id] = copy.deepcopy(data)
            return 200, {}
        associated = self.associations.setdefault(item_id, [])
        if method == "GET":
            results = [self._show("credentials", self.objects["credentials"][i]) for i in associated]
            return 200, {"count": len(results), "next": None, "previous": None, "results": results}
        credential = self.objects["credentials"].get(data.get("id"))
        if credential is None:
            return 400, {"msg": "Related object not found."}
        if data.get("disassociate"):
            associated.remove(credential["id"])
            return 204, None
        credential_type = self.objects["credential_types"][credential["credential_type"]]
        for other in (self.objects["credentials"][i] for i in associated):
            same_vault_id = other["inputs"].get("vault_id", "") == credential["inputs"].get("vault_id", "")
            same_type = other["credential_type"] == credential["credential_type"]
            if same_type and (credential_type["kind"] != "vault" or same_vault_id):
                return 400, {"error": f"Cannot assign multiple {credential_type['name']} credentials."}
        associated.append(credential["id"])
        return 204, None

    # --- serving ----------------------------------------------------------------------------------------------

    def start(self) -> FakeController:
        state = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                status, payload = state.handle(self.command, self.path, self.headers, body)
                data = b"" if payload is None else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("X-API-Product-Name", "AWX")
                self.send_header("X-API-Product-Version", "24.6.1")
                if data:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PATCH = do_DELETE = _serve

            def log_message(self, format, *args):
                pass

        self._httpd = ThreadingHTTPServer((self.host, free_port()), Handler)
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._httpd:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None


def survey_error(spec: dict) -> str | None:
    """AWX's checks of a survey_spec (awx/api/views: JobTemplateSurveySpec), None when it is valid."""
    if not isinstance(spec.get("name"), str) or not isinstance(spec.get("description"), str):
        return "'name' and 'description' are required strings."
    if not isinstance(spec.get("spec"), list):
        return "'spec' must be a list of items."
    variables = set()
    for index, question in enumerate(spec["spec"]):
        if not isinstance(question, dict):
            return f"Survey question {index} is not a json object."
        if question.get("type") not in SURVEY_TYPES:
            return f"'type' missing or invalid in survey question {index}."
        for key in ("question_name", "variable"):
            if not isinstance(question.get(key), str) or not question[key]:
                return f"'{key}' missing from survey question {index}."
        if not isinstance(question.get("required"), bool):
            return f"'required' missing or not a boolean in survey question {index}."
        if question["variable"] in variables:
            return f"'variable' '{question['variable']}' duplicated in survey question {index}."
        variables.add(question["variable"])
        default, low, high = question.get("default"), question.get("min"), question.get("max")
        if question["type"] == "integer" and default not in (None, ""):
            if not isinstance(default, int) or isinstance(default, bool):
                return f"Default value {default} in survey question {index} expected to be integer."
            if (low is not None and default < low) or (high is not None and default > high):
                return f"Default value {default} in survey question {index} is not within min and max."
        if question["type"] in ("text", "textarea") and default not in (None, ""):
            if not isinstance(default, str):
                return f"Default value {default} in survey question {index} expected to be string."
            if (low is not None and len(default) < low) or (high is not None and len(default) > high):
                return f"Default value of survey question {index} is not within min and max length."
        if question["type"] == "multiplechoice":
            choices = question.get("choices")
            choices = choices.split("\n") if isinstance(choices, str) else choices
            if not isinstance(choices, list) or not choices:
                return f"Survey question {index} of type multiplechoice needs choices."
            if default not in (None, "") and default not in choices:
                return f"Default choice {default} in survey question {index} is not among its choices."
    return None


@contextmanager
def running(token: str, project_dir: Path):
    """A started FakeController on a free loopback port, stopped at the end."""
    controller = FakeController(token, project_dir).start()
    try:
        yield controller
    finally:
        controller.stop()
