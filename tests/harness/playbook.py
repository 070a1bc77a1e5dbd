"""Run ansible-playbook the way a user does and read its PLAY RECAP."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_RECAP = re.compile(
    r"^localhost\s*:\s*ok=(?P<ok>\d+)\s+changed=(?P<changed>\d+)\s+unreachable=(?P<unreachable>\d+)\s+"
    r"failed=(?P<failed>\d+)\s+skipped=(?P<skipped>\d+)\s+rescued=(?P<rescued>\d+)\s+ignored=(?P<ignored>\d+)",
    re.MULTILINE,
)


@dataclass
class PlaybookRun:
    returncode: int
    output: str

    @property
    def recap(self) -> dict[str, int]:
        match = _RECAP.search(self.output)
        if not match:
            raise AssertionError(f"no PLAY RECAP in the output:\n{self.output[-3000:]}")
        return {key: int(value) for key, value in match.groupdict().items()}

    @property
    def changed(self) -> int:
        return self.recap["changed"]

    def assert_ok(self) -> PlaybookRun:
        assert self.returncode == 0, f"ansible-playbook failed ({self.returncode}):\n{self.output[-6000:]}"
        return self


def run_playbook(
    playbook: str,
    endpoint: str,
    *args: str,
    inventory: str = "inventories/local",
    extra_vars: dict | None = None,
    env: dict | None = None,
    timeout: int = 900,
    cwd: Path = ROOT,
) -> PlaybookRun:
    command = [str(Path(sys.executable).parent / "ansible-playbook"), playbook, "-i", inventory, *args]
    if extra_vars:
        command += ["-e", json.dumps(extra_vars)]
    run_env = dict(
        os.environ,
        AWS_ENDPOINT_URL=endpoint,
        ANSIBLE_FORCE_COLOR="0",
        ANSIBLE_NOCOLOR="1",
        PATH=f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
        **(env or {}),
    )
    return _run(command, run_env, timeout, cwd)


def run_make(target: str, *settings: str, timeout: int = 900) -> PlaybookRun:
    """`make <target> <settings>` in the project, as the README has users run it, with this test's venv as the
    Makefile's (VENV is a path relative to the project); no AWS_* or make variable of the caller's reaches it."""
    venv = os.path.relpath(sys.prefix, ROOT)
    env = {key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "MAKE", "MFLAGS"))}
    return _run(
        ["make", "--no-print-directory", f"VENV={venv}", target, *settings], {**env, "ANSIBLE_NOCOLOR": "1"}, timeout
    )


def _run(command: list[str], env: dict, timeout: int, cwd: Path = ROOT) -> PlaybookRun:
    completed = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    return PlaybookRun(completed.returncode, completed.stdout + completed.stderr)
