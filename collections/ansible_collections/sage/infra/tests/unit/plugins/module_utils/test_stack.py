# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""module_utils/stack: canonical forms, plan entries (create, update, delete, unchanged, unread), masking, lines."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from ansible_collections.sage.infra.plugins.module_utils import stack
from ansible_collections.sage.infra.plugins.module_utils.stack import Kind

KIND = Kind("thing", ordered=("steps",), policies=("policy",), policy_maps=("inline_policies",))
stack.register(KIND)

POLICY = {
    "Version": "2012-10-17",
    "Statement": {"Effect": "Allow", "Action": "s3:GetObject", "Resource": ["arn:b", "arn:a"]},
}


def test_policies_compare_by_meaning_not_by_form():
    same = (
        '{"Version": "2012-10-17", "Statement": [{"Resource": ["arn:a", "arn:b"], "Action": ["s3:GetObject"], '
        '"Effect": "Allow"}]}'
    )
    assert stack.canonical_policy(POLICY) == stack.canonical_policy(same)
    wider = dict(POLICY, Statement={**POLICY["Statement"], "Action": "s3:*"})
    assert stack.canonical_policy(POLICY) != stack.canonical_policy(wider)
    assert stack.canonical_policy("not json") == "not json"
    assert stack.canonical_policy("") is None


def test_lists_are_multisets_unless_the_kind_says_they_are_ordered():
    assert KIND.changes({"subnets": ["a", "b"]}, {"subnets": ["b", "a"]}) == []
    assert KIND.changes({"subnets": ["a", "a"]}, {"subnets": ["a"]}) != []
    assert KIND.changes({"steps": ["a", "b"]}, {"steps": ["b", "a"]}) == [
        {"attribute": "steps", "current": ["b", "a"], "desired": ["a", "b"]}
    ]


def test_tags_ignore_aws_reserved_tags_but_nothing_else():
    assert KIND.changes({"tags": {"Project": "sage"}}, {"tags": {"Project": "sage", "aws:x": "1"}}) == []
    assert KIND.changes({"tags": {"Project": "sage"}}, {"tags": {"Project": "sage", "Owner": "me"}}) != []


def test_an_attribute_missing_from_the_read_differs():
    assert KIND.changes({"retention": 7}, {}) == [{"attribute": "retention", "current": None, "desired": 7}]
    # Types are not coerced: "7" is not 7 (the module decides).
    assert KIND.changes({"retention": "7"}, {"retention": 7}) != []


def test_a_policy_map_is_the_whole_set():
    current = {"inline_policies": {"app": POLICY, "added-by-hand": {"Statement": []}}}
    changes = KIND.changes({"inline_policies": {"app": POLICY}}, current)
    assert [change["attribute"] for change in changes] == ["inline_policies"]


@pytest.mark.parametrize(
    ("desired", "read", "action"),
    [
        ({"retention": 7}, {"thing": {"x": {"retention": 7}}}, "unchanged"),
        ({"retention": 7}, {"thing": {"x": {"retention": 1}}}, "update"),
        ({"retention": 7}, {"thing": {"x": None}}, "create"),
        (None, {"thing": {"x": {"retention": 1}}}, "delete"),
        (None, {"thing": {"x": None}}, "unchanged"),
        ({"retention": 7}, {"thing": {}}, "unread"),
        ({"retention": 7}, {}, "unread"),
        ({"retention": 7}, None, "unread"),
    ],
)
def test_plan_entry_actions(desired, read, action):
    assert stack.plan_entry("thing", "x", desired, read)["action"] == action


def test_a_creation_lists_every_setting_and_secrets_are_masked():
    entry = stack.plan_entry("thing", "x", {"retention": 7, "password": "hunter2"}, {"thing": {"x": None}}, "role")
    assert entry["role"] == "role"
    assert entry["changes"] == [
        {"attribute": "retention", "current": None, "desired": 7},
        {"attribute": "password", "current": None, "desired": stack.MASKED},
    ]
    assert entry["desired"] == {"retention": 7, "password": stack.MASKED}
    assert "hunter2" not in repr(entry) + repr(stack.plan_lines([entry]))


def test_an_update_masks_a_secret_at_any_depth():
    entry = stack.plan_entry(
        "thing", "x", {"env": {"auth_token": "new-token"}}, {"thing": {"x": {"env": {"auth_token": "old-token"}}}}
    )
    assert entry["action"] == "update"
    assert "new-token" not in repr(entry) and "old-token" not in repr(entry)


def test_summary_and_lines():
    read = {"thing": {"a": None, "b": {"retention": 1}, "c": {"retention": 7}, "d": {"retention": 1}}}
    entries = [
        stack.plan_entry("thing", "a", {"retention": 7}, read),
        stack.plan_entry("thing", "b", {"retention": 7}, read),
        stack.plan_entry("thing", "c", {"retention": 7}, read),
        stack.plan_entry("thing", "d", None, read),
    ]
    summary = stack.summary(entries)
    assert summary["line"] == "Plan: 1 to add, 1 to change, 1 to destroy"
    assert summary["differs"] is True
    assert stack.plan_lines(entries) == [
        "+ create thing a: retention=7",
        "~ update thing b: retention: 1 -> 7",
        "- delete thing d",
    ]
    assert stack.summary(entries[2:3]) == dict(
        create=0,
        update=0,
        delete=0,
        unchanged=1,
        unread=0,
        line="Plan: 0 to add, 0 to change, 0 to destroy",
        differs=False,
    )


def test_unread_resources_are_counted_apart():
    entries = [stack.plan_entry("thing", "a", {"retention": 7}, {})]
    assert stack.summary(entries)["line"].endswith("(1 not read: the module decides)")
    assert stack.plan_lines(entries) == ["? unread thing a"]


def test_fan_out_reads_each_distinct_name_once():
    seen = []

    def read(name):
        seen.append(name)
        return name.upper()

    assert stack.fan_out(read, ["a", "b", "a"]) == {"a": "A", "b": "B"}
    assert sorted(seen) == ["a", "b"]
    assert stack.fan_out(read, []) == {}


def test_value_is_a_secret_as_an_attribute_but_not_deeper():
    assert stack.masked({"value": "s3cr3t", "body": {"annotations": [{"label": "alarm", "value": 80}]}}) == {
        "value": stack.MASKED,
        "body": {"annotations": [{"label": "alarm", "value": 80}]},
    }
    assert stack.masked({"env": {"password": "x", "value": "y"}}) == {"env": {"password": stack.MASKED, "value": "y"}}
    assert stack.masked({"value": None}) == {"value": None}


def test_each_kind_is_found_in_the_service_file_that_registers_it():
    from ansible_collections.sage.infra.plugins.module_utils import stack_services

    registered_by = {}
    for service in stack_services.SERVICES:
        source = Path(service.__file__).read_text()
        registered_by.update(
            {name: service.__name__.rsplit(".", 1)[-1] for name in stack.KINDS if f'"{name}"' in source}
        )
    service_kinds = {name for name in stack.KINDS if name != KIND.name}
    assert {name: stack.KIND_MODULES.get(name) for name in service_kinds} == {
        name: registered_by[name] for name in service_kinds
    }


def in_a_fresh_interpreter(script):
    """The words a script prints, run as a template worker runs the collection's filters: a new interpreter."""
    collections = Path(stack.__file__).parents[5]
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys\nfrom ansible_collections.sage.infra.plugins.filter import stack as filters\n" + script,
        ],
        env={**os.environ, "PYTHONPATH": str(collections)},
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.split()


def test_comparing_one_kind_loads_only_its_service_file():
    script = """
entry = filters.stack_plan({"threshold": 80.0}, "alarm", "sage-cpu", {"alarm": {"sage-cpu": {"threshold": 70.0}}})
loaded = sorted(name.rsplit(".", 1)[-1] for name in sys.modules if ".module_utils.stack_" in name)
print(entry["action"], loaded)
"""
    assert in_a_fresh_interpreter(script) == ["update", "['stack_cloudwatch']"]


def test_testing_for_an_unknown_id_loads_no_comparison():
    script = """
known = filters.stack_known({"arn": filters.or_unknown(None)})
print(known, any(".module_utils.stack" in name for name in sys.modules))
"""
    assert in_a_fresh_interpreter(script) == ["False", "False"]


def test_the_filters_show_an_unknown_id_as_the_plan_does():
    from ansible_collections.sage.infra.plugins.filter import stack as filters

    assert filters.UNKNOWN == stack.UNKNOWN
    assert filters.or_unknown("") == stack.UNKNOWN
