"""The README's first command, `make demo`: it starts the AWS emulator in the background unless one answers on
its port, then runs site.yml on it. The shared stack of the integration tests is converged through `make demo`
(conftest.py; test_site.py's test_outputs_are_printed reads its output), on an emulator already answering. Here:
the start, a second start that finds it answering, and `make emulator-stop`, on a free port and with a pid
directory of their own, so that a demo the developer has running on the default port is left alone."""

from __future__ import annotations

from tests.harness.emulator import answers
from tests.harness.net import free_port
from tests.harness.playbook import run_make


def test_make_emulator_starts_it_in_the_background_once_and_emulator_stop_stops_it(tmp_path):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    settings = (f"EMULATOR_PORT={port}", f"EMULATOR_DIR={tmp_path}")
    try:
        started = run_make("emulator", *settings).assert_ok()
        assert f"AWS emulator started on {url} (stop it with: make emulator-stop)" in started.output
        assert (tmp_path / "pid").is_file() and answers(url)
        again = run_make("emulator", *settings).assert_ok()
        assert f"AWS emulator already answering on {url}" in again.output
    finally:
        stopped = run_make("emulator-stop", *settings)
    stopped.assert_ok()
    assert not (tmp_path / "pid").exists()
    assert not answers(url), "make emulator-stop stopped the emulator"
