# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests for sage.infra.ecr_authorization_info, run against moto in-process.

moto answers GetAuthorizationToken, for each registry ID (the caller's account by default), with the token
base64("AWS:<registry id>-auth-token"), the endpoint https://<registry id>.dkr.ecr.<region>.amazonaws.com and
an expiry of 2015-01-01T00:00:00+00:00.
"""

import base64
from datetime import UTC, datetime

import botocore.client
import pytest
from ansible_collections.sage.infra.plugins.modules import ecr_authorization_info as mod
from botocore.exceptions import ClientError, EndpointConnectionError
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID

REGION = "us-west-2"
OTHER_ACCOUNT = "210987654321"
MASK = "********"


def token(text):
    return base64.b64encode(text.encode()).decode()


def moto_password(account=DEFAULT_ACCOUNT_ID):
    return f"{account}-auth-token"


@pytest.fixture(autouse=True)
def aws(monkeypatch, fake_aws_credentials):
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        yield


@pytest.fixture
def answer(monkeypatch):
    """Make GetAuthorizationToken answer with the given authorizationData list."""

    def _answer(*data):
        def fake(self, operation_name, params):
            assert operation_name == "GetAuthorizationToken"
            return {"authorizationData": list(data)}

        monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", fake)

    return _answer


@pytest.fixture
def run(module_runner):
    return module_runner(mod.main, expect={"changed": False}, region=REGION)


def test_login_of_the_callers_registry_with_one_call(run, requests):
    # the token and its decoded text never appear; the password does, unmasked, as the result needs it
    secrets = (token(f"AWS:{moto_password()}"), f"AWS:{moto_password()}")
    result = run(secrets=secrets)
    assert requests == [("GetAuthorizationToken", {})]
    assert result == {
        "changed": False,
        "registry": f"{DEFAULT_ACCOUNT_ID}.dkr.ecr.{REGION}.amazonaws.com",
        "username": "AWS",
        "password": moto_password(),
        "expires_at": "2015-01-01T00:00:00+00:00",
    }
    assert MASK not in run.out


def test_registry_id_is_passed(run, requests):
    result = run(registry_id=OTHER_ACCOUNT)
    assert requests == [("GetAuthorizationToken", {"registryIds": [OTHER_ACCOUNT]})]
    assert result["registry"] == f"{OTHER_ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com"
    assert result["username"] == "AWS"
    assert result["password"] == moto_password(OTHER_ACCOUNT)


def test_check_mode_returns_the_same(run, requests):
    result = run(check_mode=True)
    assert [name for name, _params in requests] == ["GetAuthorizationToken"]
    assert result["registry"] == f"{DEFAULT_ACCOUNT_ID}.dkr.ecr.{REGION}.amazonaws.com"
    assert result["password"] == moto_password()


def test_password_with_colons_and_real_expiry(run, answer):
    """Only the first ':' separates the user name from the password."""
    expires = datetime(2025, 1, 31, 23, 59, 59, 999000, tzinfo=UTC)
    answer(
        {
            "authorizationToken": token("AWS:pa:ss/wo+rd=="),
            "expiresAt": expires,
            "proxyEndpoint": "https://123456789012.dkr.ecr.eu-west-1.amazonaws.com",
        }
    )
    result = run(secrets=(token("AWS:pa:ss/wo+rd=="),))
    assert result["registry"] == "123456789012.dkr.ecr.eu-west-1.amazonaws.com"
    assert result["username"] == "AWS"
    assert result["password"] == "pa:ss/wo+rd=="
    assert result["expires_at"] == "2025-01-31T23:59:59.999000+00:00"


@pytest.mark.parametrize(
    ("endpoint", "host"),
    [
        ("https://123456789012.dkr.ecr.us-west-2.amazonaws.com", "123456789012.dkr.ecr.us-west-2.amazonaws.com"),
        ("https://123456789012.dkr.ecr.us-west-2.amazonaws.com/", "123456789012.dkr.ecr.us-west-2.amazonaws.com"),
        ("123456789012.dkr.ecr.us-west-2.amazonaws.com", "123456789012.dkr.ecr.us-west-2.amazonaws.com"),
        ("https://localhost:5000", "localhost:5000"),
    ],
)
def test_registry_host(endpoint, host):
    assert mod.registry_host(None, endpoint) == host


def test_access_denied_fails_clearly(run, monkeypatch):
    def denied(self, operation_name, params):
        error = {"Error": {"Code": "AccessDeniedException", "Message": "not authorized"}}
        raise ClientError(error, operation_name)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", denied)
    result = run.failure()
    assert result["msg"].startswith("Failed to get an ECR authorization token: ")
    assert "AccessDeniedException" in result["msg"]
    assert result["error"]["code"] == "AccessDeniedException"


def test_connection_error_fails_clearly(run, monkeypatch):
    def unreachable(self, operation_name, params):
        raise EndpointConnectionError(endpoint_url="https://api.ecr.us-west-2.amazonaws.com/")

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", unreachable)
    msg = run.fail()
    assert msg.startswith("Failed to get an ECR authorization token: ")
    assert "Could not connect" in msg


def test_no_authorization_data_fails_clearly(run, answer):
    answer()
    assert run.fail() == "Failed to get an ECR authorization token: the response has no authorization data"


def test_missing_token_fails_clearly(run, answer):
    answer({"proxyEndpoint": "https://123456789012.dkr.ecr.us-west-2.amazonaws.com"})
    assert run.fail() == "Failed to get an ECR authorization token: the response has no token"


@pytest.mark.parametrize(
    ("bad_token", "reason"),
    [
        ("not base64!", "the token is not base64-encoded text"),
        (base64.b64encode(b"\xff\xfe:secret").decode(), "the token is not base64-encoded text"),
        (token("AWS-only-a-user-name"), "the token is not of the form user:password"),
        (token("AWS:"), "the token is not of the form user:password"),
        (token(":s3cr3t-password"), "the token is not of the form user:password"),
    ],
)
def test_malformed_token_fails_without_showing_it(run, answer, bad_token, reason):
    answer({"authorizationToken": bad_token, "proxyEndpoint": "https://123456789012.dkr.ecr.us-west-2.amazonaws.com"})
    msg = run.fail(secrets=(bad_token, "s3cr3t-password", "AWS-only-a-user-name"))
    assert msg == f"Failed to get an ECR authorization token: {reason}"


def test_missing_endpoint_fails_clearly(run, answer):
    answer({"authorizationToken": token("AWS:s3cr3t-password")})
    msg = run.fail(secrets=(token("AWS:s3cr3t-password"), "s3cr3t-password"))
    assert msg == "Failed to get an ECR authorization token: the response has no registry endpoint"


def test_password_is_masked_in_failures_once_known(run, monkeypatch):
    """From the decoding of the token on, a failure message that held the password would show it masked."""

    def leaky(module, endpoint):
        module.fail_json(msg=f"cannot log in to {endpoint} with {moto_password()}")

    monkeypatch.setattr(mod, "registry_host", leaky)
    msg = run.fail(secrets=(moto_password(),))
    assert msg == f"cannot log in to https://{DEFAULT_ACCOUNT_ID}.dkr.ecr.{REGION}.amazonaws.com with {MASK}"
