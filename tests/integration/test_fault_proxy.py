"""The fault-injecting proxy itself (tests/harness/fault_proxy.py), with boto3 clients through it to the emulator.

Read-only calls only (or calls the proxy stops): the emulator's state is left as the other tests found it.
"""

from __future__ import annotations

import contextlib
import time

import botocore.config
import botocore.exceptions
import pytest

from tests.harness import emulator as emulator_harness
from tests.harness import fault_proxy


@pytest.fixture(scope="module")
def proxy(emulator):
    with fault_proxy.running(emulator.endpoint) as running:
        yield running


@pytest.fixture(autouse=True)
def fresh(proxy, emulator):
    proxy.restore()
    proxy.configure()
    proxy.reset_counts()
    emulator.reset_calls()


def client(proxy, service: str, attempts: int = 1):
    """A boto3 client through the proxy; attempts=1: no retry, the fault is what the caller sees."""
    config = botocore.config.Config(retries={"mode": "standard", "total_max_attempts": attempts})
    return emulator_harness.client(proxy.endpoint, service, config=config)


# One read-only call per protocol: (service, method, the emulator's action name)
CALLS = [
    ("ec2", "describe_vpcs", "DescribeVpcs"),  # ec2
    ("sts", "get_caller_identity", "GetCallerIdentity"),  # query
    ("secretsmanager", "list_secrets", "ListSecrets"),  # json
    ("s3", "list_buckets", "GET /"),  # rest-xml
    ("lambda", "list_functions", "GET /2015-03-31/functions"),  # rest-json
]


def test_forwards_every_protocol_unchanged(proxy, emulator, aws):
    for service, method, _ in CALLS:
        answer = getattr(client(proxy, service), method)()
        assert answer["ResponseMetadata"]["HTTPStatusCode"] == 200, (service, answer)
    # A large answer comes back whole (streamed, not cut at a buffer's size).
    types = client(proxy, "ec2").describe_instance_types(MaxResults=100)["InstanceTypes"]
    assert types == aws("ec2").describe_instance_types(MaxResults=100)["InstanceTypes"]
    proxied, direct = [action for *_, action in CALLS] + ["DescribeInstanceTypes"], ["DescribeInstanceTypes"]
    assert [c["action"] for c in emulator.calls()] == proxied + direct
    assert proxy.counts() == {"total": 6, "faulted": 0, "mutating": 0, "forwarded": 6}


@pytest.mark.parametrize(
    ("service", "method", "code", "status"),
    [
        ("ec2", "describe_vpcs", "RequestLimitExceeded", 503),
        ("sts", "get_caller_identity", "Throttling", 400),
        ("secretsmanager", "list_secrets", "ThrottlingException", 400),
        ("s3", "list_buckets", "SlowDown", 503),
        ("lambda", "list_functions", "TooManyRequestsException", 429),
    ],
)
def test_throttling_in_each_protocols_shape(proxy, emulator, service, method, code, status):
    proxy.configure(share=1.0, faults=("throttle",))
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        getattr(client(proxy, service), method)()
    assert raised.value.response["Error"]["Code"] == code
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == status
    assert emulator.calls() == [], "a faulted call never reaches the emulator"


@pytest.mark.parametrize("fault", ["500", "503"])
def test_plain_http_errors(proxy, fault):
    proxy.configure(share=1.0, faults=(fault,))
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        client(proxy, "secretsmanager").list_secrets()
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == int(fault)


def test_a_faulted_create_is_counted_as_mutating_and_creates_nothing(proxy, emulator):
    proxy.configure(share=1.0, faults=("throttle",))
    with pytest.raises(botocore.exceptions.ClientError):
        client(proxy, "ec2").create_vpc(CidrBlock="10.99.0.0/16")
    assert (proxy.counts()["mutating"], proxy.counts()["faulted"]) == (1, 1)
    assert emulator.mutating_calls() == []


def test_spared_actions_are_never_faulted(proxy):
    proxy.configure(share=1.0, spare=("ListSecrets",))
    client(proxy, "secretsmanager").list_secrets()
    with pytest.raises(botocore.exceptions.ClientError):
        client(proxy, "secretsmanager").describe_secret(SecretId="any")
    spared, faulted = (call.outcome for call in proxy.calls)
    assert (spared, faulted in fault_proxy.FAULTS) == ("forwarded", True)


def test_the_same_seed_faults_the_same_calls(proxy):
    def outcomes():
        proxy.reset_counts()
        proxy.configure(share=0.5, seed=3)
        ec2 = client(proxy, "ec2")
        for _ in range(12):
            with contextlib.suppress(botocore.exceptions.ClientError):
                ec2.describe_vpcs()
        return [call.outcome for call in proxy.calls]

    first = outcomes()
    assert first == outcomes()
    assert 0 < sum(outcome != "forwarded" for outcome in first) < 12
    assert {outcome for outcome in first} - {"forwarded"} <= set(fault_proxy.FAULTS)


def test_standard_retries_get_through_a_throttled_share(proxy):
    proxy.configure(share=0.3, seed=1)
    secrets = client(proxy, "secretsmanager", attempts=10)
    for _ in range(10):
        secrets.list_secrets()
    counts = proxy.counts()
    assert counts["faulted"] > 0
    assert counts["forwarded"] == 10 and counts["total"] == 10 + counts["faulted"]


def test_latency_delays_each_call(proxy):
    proxy.configure(latency=0.3)
    started = time.monotonic()
    client(proxy, "sts").get_caller_identity()
    assert time.monotonic() - started >= 0.3


def test_cut_at_an_action_loses_its_answer_then_refuses_until_restored(proxy, emulator):
    proxy.cut_at("DescribeVpcs")
    ec2 = client(proxy, "ec2", attempts=2)
    ec2.describe_subnets()  # another action passes
    with pytest.raises(botocore.exceptions.ConnectionClosedError) as raised:
        ec2.describe_vpcs()
    assert proxy.endpoint in str(raised.value)
    assert proxy.cut_event.is_set()
    assert [c["action"] for c in emulator.calls()] == ["DescribeSubnets", "DescribeVpcs"], "the lost call got there"
    counts = proxy.counts()
    assert (counts["lost"], counts["refused"]) == (1, 1), "the retry met the cut"

    proxy.restore()
    assert ec2.describe_vpcs()["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_a_cut_proxy_answers_nothing(proxy):
    proxy.cut()
    with pytest.raises(botocore.exceptions.ConnectionClosedError):
        client(proxy, "sts").get_caller_identity()
    assert proxy.counts()["refused"] == 1


@pytest.mark.parametrize("settings", [{"share": 1.5}, {"faults": ("timeout",)}, {"faults": ()}, {"latency": -1}])
def test_bad_settings_are_refused(proxy, settings):
    with pytest.raises(ValueError):
        proxy.configure(**settings)
