"""The README's first command, as a newcomer runs it: `make demo` starts the AWS emulator in the background,
provisions the stack on it and prints the stack's outputs; the emulator keeps running (a second `make demo` finds
it answering; that a re-run changes nothing is test_site.py's); `make emulator-stop` stops it. On a free port and
with a pid directory of its own, so that a demo the developer has running on the default port is left alone."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.error
import urllib.request

from tests.harness.net import free_port
from tests.harness.playbook import ROOT, PlaybookRun


def make(*args: str) -> PlaybookRun:
    # The Makefile's venv is this test's own (VENV is a path relative to the project).
    venv = os.path.relpath(sys.prefix, ROOT)
    env = {key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "MAKE", "MFLAGS"))}
    done = subprocess.run(
        ["make", "--no-print-directory", f"VENV={venv}", *args],
        cwd=ROOT,
        env={**env, "ANSIBLE_NOCOLOR": "1"},
        capture_output=True,
        text=True,
        timeout=900,
        stdin=subprocess.DEVNULL,
    )
    return PlaybookRun(done.returncode, done.stdout + done.stderr)


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except (urllib.error.URLError, OSError):
        return False


def test_make_demo_provisions_the_stack_and_prints_its_outputs(tmp_path):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    settings = (f"EMULATOR_PORT={port}", f"EMULATOR_DIR={tmp_path}")
    try:
        demo = make("demo", *settings).assert_ok()
        assert f"AWS emulator started on {url}" in demo.output
        assert demo.changed > 0 and demo.recap["failed"] == 0
        for output in ("vpc_id: vpc-", "alb_dns_name: sage-alb", "database_endpoint: sage-postgres.", "ecs_service: "):
            assert output in demo.output, f"the stack outputs name {output!r}"
        assert (tmp_path / "pid").is_file() and answers(f"{url}/moto-api/")

        again = make("emulator", *settings).assert_ok()
        assert f"AWS emulator already answering on {url}" in again.output
    finally:
        stopped = make("emulator-stop", *settings)
    stopped.assert_ok()
    assert not (tmp_path / "pid").exists()
    assert not answers(f"{url}/moto-api/"), "make emulator-stop stopped the emulator"
