# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Make ``ansible_collections.sage.infra`` importable in unit tests.

The collection lives in ``<repo>/collections``; it is appended to ``sys.path`` (after the venv's
site-packages) so that ``ansible_collections.amazon.aws`` still resolves from the venv while
``ansible_collections.sage.infra`` resolves from this tree (``ansible_collections`` is a namespace
package in both places).
"""

import json
import sys
from pathlib import Path

import botocore.client
import pytest
from ansible.module_utils.testing import patch_module_args

_COLLECTIONS_ROOT = str(Path(__file__).resolve().parents[5])
if _COLLECTIONS_ROOT not in sys.path:
    sys.path.append(_COLLECTIONS_ROOT)


@pytest.fixture
def calls(monkeypatch):
    """Record the operation name of every botocore API call."""
    recorded = []
    original = botocore.client.BaseClient._make_api_call

    def recording(self, operation_name, api_params):
        recorded.append(operation_name)
        return original(self, operation_name, api_params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", recording)
    return recorded


@pytest.fixture
def fake_aws_credentials(monkeypatch):
    """Dummy credentials, and no endpoint or profile from the caller's environment (moto in-process)."""
    for var in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")


@pytest.fixture
def invoke(capsys):
    """Run a module's main() with the given arguments: (exit code, result without "invocation", raw stdout).

    None of `secrets` may be in the output. Ansible masks no_log values it finds in the output; apart
    from the echoed module arguments ("invocation") the mask showing up would mean a leaked value.
    """

    def _invoke(main, module_args, secrets=()):
        with patch_module_args(module_args), pytest.raises(SystemExit) as exc:
            main()
        out = capsys.readouterr().out
        for secret in secrets:
            assert secret not in out
        result = json.loads(out)
        result.pop("invocation", None)
        assert "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER" not in json.dumps(result)
        return exc.value.code or 0, result, out

    return _invoke


@pytest.fixture
def module_runner(invoke):
    """runner(main, **base_args) -> run(**args): the module's result, asserting success; run.fail(**args): its msg,
    asserting failure. check_mode= and diff= set the Ansible flags."""

    def runner(main, **base_args):
        def _run(check_mode=False, diff=False, **args):
            flags = {"_ansible_check_mode": check_mode, "_ansible_diff": diff}
            return invoke(main, {**base_args, **flags, **args})

        def ok(**args):
            rc, result, _out = _run(**args)
            assert rc == 0, result
            return result

        def fail(**args):
            rc, result, _out = _run(**args)
            assert rc == 1, result
            assert result["failed"] is True
            return result["msg"]

        ok.fail = fail
        return ok

    return runner
