"""site.yml when resources take time, as on AWS: the emulator keeps new NAT gateways `pending`, RDS instances
`creating` (no endpoint) and Valkey groups `creating` (no endpoints) for a while (tests/harness/moto_timing.py).

The roles must wait on the real states: the play converges, the URL secrets are written only after the
play has seen the instance and the group available, routes through the NAT gateway only once it is
available, and the database and the cache are created at the same time (their waits overlap).
"""

from __future__ import annotations

import pytest

from tests.harness.emulator import is_mutating
from tests.harness.playbook import run_playbook

# Short for the test's budget, long against the pollers: rds_instance_info every 2 s here (database_poll_seconds);
# sage.infra.elasticache_valkey looks every 15 s, so the group (12 s) is seen at its second look.
DELAYS = {"nat": 4, "rds": 20, "valkey": 12}
FAST_POLL = {"database_poll_seconds": 2}
REMOVE_DATABASE = """
- name: Remove the database only (as teardown.yml does)
  hosts: localhost
  gather_facts: false
  module_defaults:
    group/sage.infra.aws: "{{ sage_aws_connection }}"
  roles:
    - role: database
      vars:
        database_state: absent
"""


@pytest.fixture(scope="module")
def timed(emulator):
    """One converge from an empty account with the delays; the emulator is left empty and instant after."""
    emulator.reset_state()
    assert emulator.configure_timing(**DELAYS) == {**DELAYS, "modify": 0, "rds_delete": 0}
    run = run_playbook("site.yml", emulator.endpoint, extra_vars=FAST_POLL)
    yield {"run": run, "calls": emulator.calls(), "resources": emulator.timing()["resources"]}
    emulator.reset_state()


def delayed(timed, kind):
    (resource,) = [r for r in timed["resources"] if r["kind"] == kind]
    return resource


def first_seen_available(timed, kind, action):
    """The first describe call that started once the resource was available (so answered `available`)."""
    resource = delayed(timed, kind)
    seen = [c for c in timed["calls"] if c["action"] == action and c["start"] >= resource["available"]]
    assert seen, f"the play never looked at the {kind} resource once it was available"
    return seen[0]


def test_site_converges_when_resources_take_time(timed):
    timed["run"].assert_ok()
    assert {r["kind"] for r in timed["resources"]} == {"nat", "rds", "valkey"}, "the delays were not applied"
    assert "database_endpoint: sage-postgres." in timed["run"].output
    assert "valkey_endpoint: master.sage-valkey." in timed["run"].output


@pytest.mark.parametrize(
    ("secret", "kind", "describe"),
    [("sage/database-url", "rds", "DescribeDBInstances"), ("sage/valkey-url", "valkey", "DescribeReplicationGroups")],
)
def test_url_secrets_are_written_after_the_play_saw_the_resource_available(timed, secret, kind, describe):
    writes = [
        c
        for c in timed["calls"]
        if c["service"] == "secretsmanager" and is_mutating(c["action"]) and secret in c.get("resource", "")
    ]
    assert any(c["action"] in ("CreateSecret", "PutSecretValue") for c in writes), writes
    seen = first_seen_available(timed, kind, describe)
    early = [c for c in writes if c["start"] < seen["end"]]
    assert not early, f"{secret} written before {kind} was seen available: {early}"


def test_routes_through_the_nat_gateway_come_after_it_is_available(timed):
    nat = delayed(timed, "nat")
    routes = [
        c for c in timed["calls"] if c["action"] in ("CreateRoute", "ReplaceRoute") and c.get("resource") == nat["id"]
    ]
    assert routes, "no route through the NAT gateway was created"
    seen = first_seen_available(timed, "nat", "DescribeNatGateways")
    assert all(route["start"] > seen["end"] for route in routes), (routes, seen)


def test_the_database_and_the_cache_are_awaited_together(timed):
    rds = delayed(timed, "rds")
    create_cache = next(c for c in timed["calls"] if c["action"] == "CreateReplicationGroup")
    assert create_cache["start"] < rds["available"], "the cache was created only once the database was available"
    url_writes = [
        c
        for c in timed["calls"]
        if c["service"] == "secretsmanager" and is_mutating(c["action"]) and "-url" in c.get("resource", "")
    ]
    both_ready = max(c["end"] for c in url_writes) - rds["start"]
    # One after the other they would take at least the two creation times.
    assert both_ready < DELAYS["rds"] + DELAYS["valkey"], f"{both_ready:.1f} s from creation to both URLs"


def test_rerun_changes_nothing(timed, emulator):
    emulator.reset_calls()
    run = run_playbook("site.yml", emulator.endpoint, extra_vars=FAST_POLL).assert_ok()
    assert run.changed == 0
    assert emulator.mutating_calls() == []


def test_a_poll_interval_of_zero_fails_before_any_call(timed, emulator):
    emulator.reset_calls()
    run = run_playbook("site.yml", emulator.endpoint, extra_vars={"database_poll_seconds": 0})
    assert run.returncode != 0
    assert "database_poll_seconds must be at least 1" in run.output
    assert emulator.calls() == []


def test_the_database_removal_waits_until_the_instance_is_gone_and_no_longer(timed, emulator, tmp_path):
    """Removal reads the instance every database_poll_seconds (rds_instance's own waiter looks once a minute)
    and removes the parameter group only once the instance is gone."""
    emulator.configure_timing(rds_delete=6)
    emulator.reset_calls()
    playbook = tmp_path / "remove_database.yml"
    playbook.write_text(REMOVE_DATABASE)
    run_playbook(str(playbook), emulator.endpoint, extra_vars=FAST_POLL).assert_ok()
    (removal,) = [r for r in emulator.timing()["resources"] if r["kind"] == "rds_delete"]
    calls = emulator.calls()
    looks = [c for c in calls if c["action"] == "DescribeDBInstances" and c["start"] >= removal["start"]]
    assert any(c["start"] < removal["available"] for c in looks), "the play never saw the instance being deleted"
    (group_removal,) = [c for c in calls if c["action"] == "DeleteDBParameterGroup"]
    late = group_removal["start"] - removal["available"]
    assert 0 <= late < FAST_POLL["database_poll_seconds"] + 3, late
