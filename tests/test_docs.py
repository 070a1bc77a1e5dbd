"""Every module, filter and role renders with ansible-doc; the changelog fragments lint and render.

Modules and roles are discovered from the file system, so a new one without documentation fails here.
Each `ansible-doc` start costs about half a second: one run per plugin type covers every name at once.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
COLLECTION = ROOT / "collections" / "ansible_collections" / "sage" / "infra"
BIN = Path(sys.executable).parent
NAMESPACE = "sage.infra"

MODULES = sorted(p.stem for p in (COLLECTION / "plugins" / "modules").glob("*.py") if p.stem != "__init__")
FILTER_FILES = sorted(p for p in (COLLECTION / "plugins" / "filter").glob("*.py") if p.stem != "__init__")
ROLES = sorted(p.name for p in (ROOT / "roles").iterdir() if (p / "tasks").is_dir())
FRAGMENTS = sorted((COLLECTION / "changelogs" / "fragments").glob("*.y*ml"))


def run(*command: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    env = dict(
        os.environ,
        ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
        ANSIBLE_NOCOLOR="1",
        PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    )
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False)


def ansible_doc_json(plugin_type: str, names: list[str], *args: str) -> tuple[dict, str]:
    """The --json documentation of `names` (a name ansible-doc cannot render is missing) and stderr."""
    completed = run(str(BIN / "ansible-doc"), "-t", plugin_type, *args, "--json", *names)
    try:
        return json.loads(completed.stdout or "{}"), completed.stderr
    except json.JSONDecodeError as error:
        raise AssertionError(f"ansible-doc -t {plugin_type} printed no JSON: {error}\n{completed.stderr}") from error


def undocumented(options: dict | None, nested: str, path: str = "") -> list[str]:
    """The options (and their `nested` sub-options, recursively) that lack a description or a type."""
    problems = []
    for name, spec in (options or {}).items():
        where = f"{path}{name}"
        problems += [f"{where}: no {key}" for key in ("description", "type") if not spec.get(key)]
        problems += undocumented(spec.get(nested), nested, f"{where}.")
    return problems


def undescribed(values: dict | None, path: str = "") -> list[str]:
    """The return values (and what they contain, recursively) that lack a description."""
    problems = []
    for name, spec in (values or {}).items():
        problems += [] if spec.get("description") else [f"return {path}{name}: no description"]
        problems += undescribed(spec.get("contains"), f"{path}{name}.")
    return problems


def plugin_problems(rendered: dict) -> list[str]:
    """What is missing from a module's or filter's rendered documentation."""
    doc = rendered.get("doc") or {}
    problems = [f"no {key}" for key in ("short_description", "description") if not doc.get(key)]
    problems += undocumented(doc.get("options"), "suboptions")
    problems += undescribed(rendered.get("return")) if rendered.get("return") else ["no RETURN"]
    examples = yaml.safe_load(rendered.get("examples") or "null")
    if not isinstance(examples, list) or not examples:
        problems.append("EXAMPLES is not a list of tasks")
    return problems


@pytest.fixture(scope="module")
def module_docs():
    return ansible_doc_json("module", [f"{NAMESPACE}.{name}" for name in MODULES])


@pytest.fixture(scope="module")
def filter_files():
    """Every filter of the collection mapped to its plugin file, as ansible-doc loads them, and what it printed."""
    listing = run(str(BIN / "ansible-doc"), "-t", "filter", "-F", NAMESPACE)
    return dict(re.findall(r"^(\S+)\s+(\S+\.py)$", listing.stdout, re.MULTILINE)), listing.stdout + listing.stderr


@pytest.fixture(scope="module")
def role_docs():
    return ansible_doc_json("role", ROLES, "-r", str(ROOT / "roles"))


def test_modules_and_roles_are_found():
    assert len(MODULES) >= 20, MODULES
    assert {"network", "secrets", "database", "cache", "ecs", "monitoring"} <= set(ROLES), ROLES


@pytest.mark.parametrize("name", MODULES)
def test_module_renders_with_ansible_doc(module_docs, name):
    docs, stderr = module_docs
    fqcn = f"{NAMESPACE}.{name}"
    assert fqcn in docs, f"ansible-doc -t module {fqcn} rendered nothing:\n{stderr}"
    assert plugin_problems(docs[fqcn]) == []
    tasks = yaml.safe_load(docs[fqcn]["examples"])
    assert any(fqcn in task for task in tasks), f"no example of {fqcn} calls it by its FQCN"


def test_every_filter_loads_and_documented_filters_render(filter_files):
    files, output = filter_files
    assert sorted({Path(path).name for path in files.values()}) == sorted(p.name for p in FILTER_FILES), (
        f"a filter plugin file defines no filter that ansible-doc can load:\n{output}"
    )
    listing = run(str(BIN / "ansible-doc"), "-t", "filter", "-l", NAMESPACE, "--json")
    summaries = json.loads(listing.stdout)
    broken = sorted(set(files) - set(summaries))
    assert broken == [], f"documentation that does not parse:\n{listing.stderr}"
    documented = sorted(name for name, summary in summaries.items() if summary != "UNDOCUMENTED")
    docs, stderr = ansible_doc_json("filter", documented) if documented else ({}, "")
    problems = {name: found for name in documented if (found := plugin_problems(docs.get(name, {})))}
    assert problems == {}, stderr


@pytest.mark.parametrize("name", ROLES)
def test_role_renders_with_ansible_doc(role_docs, name):
    docs, stderr = role_docs
    assert name in sorted(docs), f"ansible-doc -t role {name} rendered nothing (no meta/argument_specs.yml?):\n{stderr}"
    entry_points = docs[name]["entry_points"]
    assert "main" in entry_points, f"roles/{name}/meta/argument_specs.yml has no main entry point"
    for entry_point, spec in entry_points.items():
        assert spec.get("short_description"), f"{name} ({entry_point}): no short_description"
        assert undocumented(spec.get("options"), "options") == [], f"{name} ({entry_point})"


def test_collection_readme_lists_every_module_and_filter(filter_files):
    readme = (COLLECTION / "README.md").read_text(encoding="utf-8")
    names = [f"{NAMESPACE}.{name}" for name in MODULES] + sorted(filter_files[0])
    assert [name for name in names if f"| `{name}` |" not in readme] == [], "missing from the README's tables"


def fragment_entries(path: Path) -> list[str]:
    entries = []
    for value in yaml.safe_load(path.read_text(encoding="utf-8")).values():
        entries += value if isinstance(value, list) else [value]
    return entries


def test_changelog_fragments_lint():
    assert FRAGMENTS, "no changelog fragment in changelogs/fragments"
    completed = run(str(BIN / "antsibull-changelog"), "lint", cwd=COLLECTION)
    assert completed.returncode == 0 and not completed.stdout.strip(), completed.stdout + completed.stderr


def test_release_changelog_shows_every_fragment_and_module(tmp_path):
    """The next release (galaxy.yml's version) renders each fragment and lists each module.

    Run on a copy: a release consumes the fragments. antsibull-changelog lists a module in the release that equals
    its version_added, so a module whose version_added is neither a past release nor the next one is missing.
    """
    copy = tmp_path / "ansible_collections" / "sage" / "infra"
    shutil.copytree(COLLECTION, copy, ignore=shutil.ignore_patterns("output", "__pycache__", ".plugin-cache.yaml"))
    completed = run(
        str(BIN / "antsibull-changelog"), "release", "--ansible-doc-bin", str(BIN / "ansible-doc"), cwd=copy
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    changelog = " ".join((copy / "CHANGELOG.rst").read_text(encoding="utf-8").split())
    missing = [text for path in FRAGMENTS for text in fragment_entries(path) if " ".join(text.split()) not in changelog]
    assert missing == [], "fragments not in CHANGELOG.rst"
    missing = [name for name in MODULES if f"- {NAMESPACE}.{name} - " not in changelog]
    assert missing == [], "modules not listed in CHANGELOG.rst (is their version_added a release?)"
    assert not list((copy / "changelogs" / "fragments").glob("*.y*ml")), "the release kept fragments"
