# Copyright: Contributors to the sage-infra project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The stack as read and as wanted: one definition of "in sync" per resource kind.

A kind is described once (``Kind``): which service reads it and how its current state is viewed (the
``stack_<service>`` module_utils), and how each attribute is compared. The roles (through the ``stack``
filters), ``playbooks/plan.yml`` and our own modules use the same comparison, so that a resource skipped because
it is in sync is one its module would not have changed.

The comparison is conservative: an attribute compares equal only when both sides have the same canonical form
(dicts by key, lists as multisets unless the kind says they are ordered, policy documents with their single
values as lists); a resource that was not read, or whose read failed, is never "unchanged".
"""

from __future__ import annotations

import importlib
import json

# What a plan shows for a value only AWS will know once the resource exists (an id, an ARN).
UNKNOWN = "(known after apply)"
# What a plan shows for a secret value: never the value.
MASKED = "(secret)"
# Attribute names whose values are never shown, at any depth ("value" only as a resource's own attribute: nested,
# it is too common a key - a dashboard annotation's threshold - to mean a secret).
SECRET_ATTRIBUTES = frozenset({"password", "auth_token", "secret_string", "secret_value"})
TOP_LEVEL_SECRET_ATTRIBUTES = SECRET_ATTRIBUTES | {"value"}

ACTIONS = ("create", "update", "delete", "unchanged", "unread")


def own_tags(tags):
    """The tags a module with purge_tags compares: AWS's reserved aws:* tags are neither set nor purged."""
    return {key: value for key, value in (tags or {}).items() if not key.startswith("aws:")}


def tag_dict(tags, key="Key", value="Value"):
    """AWS's [{Key, Value}] tag lists (any casing) as a dict of own tags."""
    if isinstance(tags, dict):
        return own_tags(tags)
    return own_tags({tag[key]: tag[value] for tag in tags or []})


def _sort_key(value):
    return json.dumps(value, sort_keys=True, default=str)


def canonical(value, ordered=False):
    """A form in which two equivalent values are equal: dicts by key, lists as multisets unless ordered."""
    if isinstance(value, dict):
        return {str(key): canonical(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        items = [canonical(item) for item in value]
        return items if ordered else sorted(items, key=_sort_key)
    return value


_POLICY_LIST_KEYS = ("Action", "NotAction", "Resource", "NotResource")


def canonical_policy(document):
    """An IAM-style policy document (JSON text or dict) in a form where equivalent documents are equal:
    a single statement or value becomes a list, the lists sorted. None stays None; text that is not JSON is
    returned as it is (it then differs from any document)."""
    if document is None or document == "":
        return None
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except ValueError:
            return document
    if not isinstance(document, dict):
        return document
    statements = document.get("Statement", [])
    statements = statements if isinstance(statements, list) else [statements]
    out = dict(document, Statement=[_canonical_statement(statement) for statement in statements])
    return canonical(out)


def _as_list(value):
    return value if isinstance(value, list) else [value]


def _canonical_statement(statement):
    if not isinstance(statement, dict):
        return statement
    out = dict(statement)
    for key in _POLICY_LIST_KEYS:
        if key in out:
            out[key] = sorted(_as_list(out[key]), key=_sort_key)
    for key in ("Principal", "NotPrincipal"):
        if isinstance(out.get(key), dict):
            out[key] = {kind: sorted(_as_list(ids), key=_sort_key) for kind, ids in out[key].items()}
    if isinstance(out.get("Condition"), dict):
        out["Condition"] = {
            operator: {name: sorted(_as_list(values), key=_sort_key) for name, values in (tests or {}).items()}
            for operator, tests in out["Condition"].items()
        }
    return out


class Kind:
    """How one resource kind is compared.

    ordered: attributes whose lists keep their order; policies: attributes holding one policy document;
    policy_maps: attributes holding {name: policy document}; compare: {attribute: function(desired, current)
    -> bool} for what needs more than equality of canonical forms; complete: attributes compared even when the
    desired state leaves them out, as None (the module compares the whole resource).
    """

    def __init__(self, name, ordered=(), policies=(), policy_maps=(), compare=None, complete=()):
        self.name = name
        self.complete = tuple(complete)
        self.ordered = frozenset(ordered)
        self.policies = frozenset(policies)
        self.policy_maps = frozenset(policy_maps)
        self.compare = dict(compare or {})

    def form(self, attribute, value):
        if attribute in self.policies:
            return canonical_policy(value)
        if attribute in self.policy_maps:
            return {name: canonical_policy(document) for name, document in (value or {}).items()}
        if attribute == "tags":
            return canonical(own_tags(value))
        return canonical(value, ordered=attribute in self.ordered)

    def equal(self, attribute, desired, current):
        if attribute in self.compare:
            return bool(self.compare[attribute](desired, current))
        return self.form(attribute, desired) == self.form(attribute, current)

    def changes(self, desired, current):
        """[{attribute, current, desired}] for every desired attribute that differs (missing counts as None)."""
        desired = {**dict.fromkeys(self.complete), **desired}
        return [
            {"attribute": attribute, "current": current.get(attribute), "desired": want}
            for attribute, want in desired.items()
            if not self.equal(attribute, want, current.get(attribute))
        ]


def masked(value, secret_names=TOP_LEVEL_SECRET_ATTRIBUTES):
    """The value with every secret attribute's value replaced by MASKED: a dict's keys are checked against
    secret_names (by default a resource's attributes, "value" included), deeper ones against SECRET_ATTRIBUTES."""
    if isinstance(value, dict):
        return {
            key: MASKED if key in secret_names and item not in (None, "") else masked(item, SECRET_ATTRIBUTES)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [masked(item, SECRET_ATTRIBUTES) for item in value]
    return value


def plan_entry(kind, name, desired, stack, role=None):
    """What applying `desired` ({attribute: value}, or None for "should not exist") to the resource would do.

    stack: the stack as read ({kind: {name: current view or None}}); a kind or name missing from it was not
    read, and the entry's action is "unread" (the module decides). Returns {kind, name, role, action,
    changes, current, desired}: action create / update / delete / unchanged / unread; changes as
    Kind.changes, or every desired attribute for a creation. Secret attributes are masked in changes and desired.
    """
    read = (stack or {}).get(kind)
    found = isinstance(read, dict) and name in read
    current = read.get(name) if found else None
    if not found:
        action, changes = "unread", []
    elif desired is None:
        action, changes = ("delete" if current is not None else "unchanged"), []
    elif current is None:
        action = "create"
        changes = [{"attribute": key, "current": None, "desired": value} for key, value in desired.items()]
    else:
        changes = kind_of(kind).changes(desired, current)
        action = "update" if changes else "unchanged"
    return {
        "kind": kind,
        "name": name,
        "role": role,
        "action": action,
        "changes": [_masked_change(change) for change in changes],
        "current": masked(current),
        "desired": masked(desired),
    }


def _masked_change(change):
    if change["attribute"] in TOP_LEVEL_SECRET_ATTRIBUTES:
        return dict(change, current=MASKED if change["current"] else None, desired=MASKED)
    return masked(change)


def summary(entries):
    """Counts by action and the one line a plan ends with."""
    counts = {action: sum(1 for entry in entries if entry["action"] == action) for action in ACTIONS}
    line = f"Plan: {counts['create']} to add, {counts['update']} to change, {counts['delete']} to destroy"
    if counts["unread"]:
        line += f" ({counts['unread']} not read: the module decides)"
    return dict(counts, line=line, differs=bool(counts["create"] or counts["update"] or counts["delete"]))


KINDS = {}

# The service file that registers each kind. A template that compares one kind imports only that file: Ansible
# compiles a collection's Python from source in every task's worker, and all of them cost each task ~20 ms.
KIND_MODULES = {
    "alarm": "stack_cloudwatch",
    "dashboard": "stack_cloudwatch",
    "ecr_repository": "stack_ecr",
    "ecs_cluster": "stack_ecs",
    "task_definition": "stack_ecs",
    "ecs_service": "stack_ecs",
    "scaling_policy": "stack_ecs",
    "cache_subnet_group": "stack_elasticache",
    "cache_parameter_group": "stack_elasticache",
    "replication_group": "stack_elasticache",
    "target_group": "stack_elbv2",
    "load_balancer": "stack_elbv2",
    "iam_role": "stack_iam",
    "kms_key": "stack_kms",
    "lambda_function": "stack_lambda",
    "lambda_policy": "stack_lambda",
    "log_group": "stack_logs",
    "db_subnet_group": "stack_rds",
    "db_parameter_group": "stack_rds",
    "db_instance": "stack_rds",
    "s3_bucket": "stack_s3",
    "s3_lifecycle_rule": "stack_s3",
    "s3_bucket_logging": "stack_s3",
    "secret": "stack_secretsmanager",
    "secret_policy": "stack_secretsmanager",
    "sns_topic": "stack_sns",
    "sqs_queue": "stack_sqs",
    "account": "stack_sts",
}


def register(*kinds):
    for kind in kinds:
        KINDS[kind.name] = kind


def kind_of(name):
    """The Kind registered under name, importing its service file if nothing has yet."""
    if name not in KINDS and name in KIND_MODULES:
        importlib.import_module(f"ansible_collections.sage.infra.plugins.module_utils.{KIND_MODULES[name]}")
    return KINDS[name]


def fan_out(read, names, workers=8):
    """{name: read(name)} for each distinct name, read concurrently (a read makes one to three API calls)."""
    from concurrent.futures import ThreadPoolExecutor

    names = list(dict.fromkeys(names or []))
    if not names:
        return {}
    with ThreadPoolExecutor(max_workers=min(workers, len(names))) as pool:
        return dict(zip(names, pool.map(read, names), strict=True))


_SYMBOLS = {"create": "+", "update": "~", "delete": "-", "unread": "?"}


def _shown(value):
    text = json.dumps(value, sort_keys=True, default=str) if not isinstance(value, str) else value
    return text if len(text) <= 300 else text[:297] + "..."


def plan_lines(entries):
    """One line per resource that would change (create with its settings, update with each attribute's current
    and desired value, delete, unread), in the order the roles recorded them; nothing for unchanged ones."""
    lines = []
    for entry in entries:
        action = entry["action"]
        if action == "unchanged":
            continue
        head = f"{_SYMBOLS[action]} {action} {entry['kind']} {entry['name']}"
        if action == "create":
            settings = ", ".join(f"{key}={_shown(value)}" for key, value in (entry.get("desired") or {}).items())
            lines.append(f"{head}: {settings}" if settings else head)
        elif action == "update":
            changes = "; ".join(
                f"{change['attribute']}: {_shown(change['current'])} -> {_shown(change['desired'])}"
                for change in entry["changes"]
            )
            lines.append(f"{head}: {changes}")
        else:
            lines.append(head)
    return lines
