"""The lists `make security` sorts Prowler's findings by agree with each other and with docs/security.md, where
users read the reasons before an audit."""

from __future__ import annotations

from pathlib import Path

import yaml

from tests import security

ROOT = Path(__file__).resolve().parents[1]
DOC = (ROOT / "docs" / "security.md").read_text()


def test_every_muted_check_says_why():
    assert security.muted_checks(), "the mutelist is read"
    assert security.undescribed_mutes() == []


def test_every_listed_check_is_explained_in_the_security_document():
    fixed = yaml.safe_load(security.FIXED.read_text())
    pending = yaml.safe_load(security.PENDING.read_text())
    listed = set(security.muted_checks()) | set(fixed) | set(pending) | set(security.EMULATOR_ONLY)
    assert [check for check in sorted(listed) if f"`{check}`" not in DOC and f"`{check}`," not in DOC] == []


def test_a_fixed_check_is_not_pending_and_muted_only_for_resources_it_names():
    fixed = set(yaml.safe_load(security.FIXED.read_text()))
    assert fixed & set(yaml.safe_load(security.PENDING.read_text())) == set()
    muted = security.muted_checks()
    assert {check: muted[check]["Resources"] for check in fixed & set(muted) if ".*" in muted[check]["Resources"]} == {}
    assert all("*" not in resource for check in fixed & set(muted) for resource in muted[check]["Resources"])
