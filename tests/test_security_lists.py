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


def test_a_fixed_check_is_neither_muted_nor_pending():
    fixed = set(yaml.safe_load(security.FIXED.read_text()))
    assert fixed & (set(security.muted_checks()) | set(yaml.safe_load(security.PENDING.read_text()))) == set()
