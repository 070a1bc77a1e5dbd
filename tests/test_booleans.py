"""Booleans as users give them: `-e name=false` on the command line is the string "false", which Jinja finds true
and a `when:` refuses ("Conditionals must have a boolean result"). Every read of a role's boolean variable in the
roles' tasks and vars goes through `| bool`. (tests/integration/test_booleans.py runs them given that way.)"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
# Lines that only name a variable for people: task names, messages, comments, survey questions.
PROSE = re.compile(r"^\s*(#|- name:|name:|msg:|variable:|that:\s*$)")


def booleans(role: str, entry_point: str) -> dict[str, object]:
    """{name: default} of the boolean variables of one entry point of a role's meta/argument_specs.yml."""
    specs = yaml.safe_load((ROOT / "roles" / role / "meta" / "argument_specs.yml").read_text())["argument_specs"]
    options = specs[entry_point].get("options") or {}
    return {name: option.get("default") for name, option in options.items() if option.get("type") == "bool"}


def all_booleans() -> set[str]:
    """The boolean variables of every entry point of every role."""
    names: set[str] = set()
    for spec_file in sorted(ROOT.glob("roles/*/meta/argument_specs.yml")):
        role = spec_file.parts[-3]
        for entry_point in yaml.safe_load(spec_file.read_text())["argument_specs"]:
            names |= set(booleans(role, entry_point))
    return names


def bare_reads(text: str, names: set[str]) -> list[tuple[int, str]]:
    """(line number, line) of each read of one of `names` not followed by `| bool`, outside prose and messages."""
    alternatives = "|".join(sorted(names, key=len, reverse=True))
    read = re.compile(rf"\b({alternatives})\b(?!\s*[:=])(?!\s*\|\s*bool\b)")
    found = []
    in_message = False
    for number, line in enumerate(text.splitlines(), 1):
        # A failure message's text may name a variable (set X to false): not a read. It ends at the next key.
        if re.match(r"^\s*(- )?\w+:", line):
            in_message = bool(re.match(r"^\s*(- )?(msg|fail_msg|success_msg):", line))
        if in_message or PROSE.match(line):
            continue
        if read.search(line.split(" #", 1)[0]):
            found.append((number, line.strip()))
    return found


def test_the_scan_finds_a_bare_read_and_accepts_a_converted_one():
    names = {"flag_enabled"}
    assert bare_reads("when: flag_enabled\n", names) == [(1, "when: flag_enabled")]
    assert bare_reads("x: \"{{ 'a' if flag_enabled else 'b' }}\"\n", names) != []
    converted = 'when: flag_enabled | bool\nname: Set flag_enabled\nx: "{{ not flag_enabled|bool }}"\n'
    assert bare_reads(converted, names) == []
    assert bare_reads("  msg: >-\n    set flag_enabled to false\nnext: 1\n", names) == []


def test_every_role_boolean_is_read_through_the_bool_filter():
    names = all_booleans()
    assert {"cache_parameter_group_enabled", "network_flow_logs_enabled", "database_multi_az"} <= names
    files = [
        path
        for path in [*sorted(ROOT.glob("roles/*/*/*.yml")), ROOT / "site.yml", *sorted(ROOT.glob("playbooks/*.yml"))]
        if path.parent.name not in ("meta", "defaults")
    ]
    bare = [
        f"{path.relative_to(ROOT)}:{number}: {line}"
        for path in files
        for number, line in bare_reads(path.read_text(), names)
    ]
    assert not bare, "read without `| bool` (a string from -e would be taken as true):\n" + "\n".join(bare)
