# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Make ``ansible_collections.sage.infra`` importable in unit tests.

The collection lives in ``<repo>/collections``; it is appended to ``sys.path`` (after the venv's
site-packages) so that ``ansible_collections.amazon.aws`` still resolves from the venv while
``ansible_collections.sage.infra`` resolves from this tree (``ansible_collections`` is a namespace
package in both places).
"""

import sys
from pathlib import Path

import botocore.client
import pytest

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
