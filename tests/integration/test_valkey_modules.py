"""sage.infra.valkey_info and sage.infra.valkey_keys, run with `ansible localhost -m ...` against a real server.

The server is Debian's redis-server started by tests/harness/valkey_server.py (see its docstring for why it
stands in for Valkey); Valkey's own INFO fields are checked by the unit-level tests at the end.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.harness import valkey_server
from tests.harness.playbook import ROOT

pytestmark = pytest.mark.skipif(not valkey_server.binary(), reason="redis-server is not installed")

PASSWORD = "Vk-s3cret-pass-7c1e94"
WRONG_PASSWORD = "Vk-wrong-pass-52ad08"
ACL_USER, ACL_PASSWORD = "sage-cache", "Vk-acl-pass-e3b0c4"
CENSORED = "********"  # what Ansible's no_log masking puts where a secret would have been printed
AI_KEYS, MARKET_KEYS = 1200, 50


@dataclass
class Run:
    returncode: int
    output: str
    result: dict

    @property
    def msg(self) -> str:
        return self.result.get("msg", "")


def ansible(module: str, args: dict, *extra: str, check: bool = False, json_output: bool = True, env=None) -> Run:
    """`ansible localhost -m sage.infra.<module> -a <json>`; the result of the task when json_output."""
    command = [str(Path(sys.executable).parent / "ansible"), "localhost", "-m", f"sage.infra.{module}"]
    command += ["-a", json.dumps(args), *extra] + (["--check"] if check else [])
    run_env = dict(
        os.environ,
        ANSIBLE_FORCE_COLOR="0",
        ANSIBLE_NOCOLOR="1",
        PATH=f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
        **(env or {}),
    )
    if json_output:
        run_env.update(ANSIBLE_LOAD_CALLBACK_PLUGINS="1", ANSIBLE_STDOUT_CALLBACK="json")
    completed = subprocess.run(command, cwd=ROOT, env=run_env, capture_output=True, text=True, timeout=120, check=False)
    result = {}
    if json_output:
        try:
            result = json.loads(completed.stdout)["plays"][0]["tasks"][0]["hosts"]["localhost"]
        except (ValueError, KeyError, IndexError) as e:
            raise AssertionError(
                f"no JSON result ({e}):\n{completed.stdout[-3000:]}\n{completed.stderr[-3000:]}"
            ) from e
    return Run(completed.returncode, completed.stdout + completed.stderr, result)


def ok(run: Run) -> dict:
    assert run.returncode == 0 and not run.result.get("failed"), f"module failed:\n{run.output[-4000:]}"
    return run.result


def failed(run: Run) -> str:
    assert run.returncode != 0 and run.result.get("failed"), f"module did not fail:\n{run.output[-4000:]}"
    return run.msg


def password_vars(tmp_path: Path, **values: str) -> list[str]:
    """Secrets go in a vars file (-e @file), never on the command line; args refer to them by name."""
    path = tmp_path / "valkey-vars.yml"
    path.write_text(yaml.safe_dump(values))
    return ["-e", f"@{path}"]


@pytest.fixture(scope="module")
def server():
    with valkey_server.running() as running:
        yield running


@pytest.fixture(scope="module")
def secured():
    with valkey_server.running(password=PASSWORD) as running:
        yield running


@pytest.fixture(scope="module")
def tls_server():
    if not valkey_server.tls_supported():
        pytest.skip("this redis-server build has no TLS support")
    with valkey_server.running(tls=True) as running:
        yield running


@pytest.fixture
def loaded(server):
    """db0 holds 1,200 ai:response:* keys (with a TTL, like cached responses) and 50 market:price:* keys."""
    client = server.client()
    client.flushall()
    pipe = client.pipeline(transaction=False)
    for i in range(AI_KEYS):
        pipe.set(f"ai:response:{i}", f"answer {i}", ex=3600)
    for i in range(MARKET_KEYS):
        pipe.set(f"market:price:{i}", str(100 + i))
    pipe.execute()
    client.config_resetstat()
    yield client
    client.close()


def count(client, pattern: str) -> int:
    return sum(1 for _ in client.scan_iter(match=pattern, count=1000))


# valkey_info


def test_info_reports_version_role_keyspace_and_latency(server):
    client = server.client()
    client.flushall()
    for i in range(7):
        client.set(f"session:{i}", "x", ex=600 if i < 3 else None)
    client.get("session:0")
    client.get("missing")
    db3 = server.client(db=3)
    for i in range(4):
        db3.set(f"other:{i}", "y")

    result = ok(ansible("valkey_info", server.module_args()))

    assert result["changed"] is False
    info = result["valkey"]
    assert info["version"] == info["redis_version"] == client.info("server")["redis_version"]
    assert info["server_name"] == "redis"
    assert info["mode"] == "standalone" and info["cluster_enabled"] is False
    assert info["role"] == "master" and info["connected_replicas"] == 0
    assert info["keyspace"]["db0"]["keys"] == 7 and info["keyspace"]["db0"]["expires"] == 3
    assert info["keyspace"]["db3"]["keys"] == 4
    assert set(info["keyspace"]) == {"db0", "db3"} and info["total_keys"] == 11
    latency = info["latency_ms"]
    assert 0 < latency["min"] <= latency["avg"] <= latency["max"] and latency["samples"] == 5
    assert info["connected_clients"] >= 2  # this test's clients and the module's
    assert info["memory"]["used_memory"] > 0
    assert info["memory"]["maxmemory_policy"] == client.config_get("maxmemory-policy")["maxmemory-policy"]
    assert info["memory"]["used_ratio"] is None  # no maxmemory
    assert info["stats"]["keyspace_hits"] >= 1 and info["stats"]["keyspace_misses"] >= 1
    assert info["stats"]["evicted_keys"] == 0


def test_info_in_check_mode_with_a_memory_limit(server):
    client = server.client()
    client.config_set("maxmemory", str(64 * 1024 * 1024))
    client.config_set("maxmemory-policy", "allkeys-lru")
    try:
        run = ansible("valkey_info", server.module_args(ping_count=2), check=True)
    finally:
        client.config_set("maxmemory", "0")
        client.config_set("maxmemory-policy", "noeviction")
    info = ok(run)["valkey"]
    assert run.result["changed"] is False
    assert info["memory"]["maxmemory"] == 64 * 1024 * 1024
    assert info["memory"]["maxmemory_policy"] == "allkeys-lru"
    assert 0 < info["memory"]["used_ratio"] < 1
    assert info["latency_ms"]["samples"] == 2


def test_info_with_the_right_password(secured, tmp_path):
    args = secured.module_args(password="{{ valkey_password }}")
    info = ok(ansible("valkey_info", args, *password_vars(tmp_path, valkey_password=PASSWORD)))["valkey"]
    assert info["role"] == "master"


def test_wrong_or_missing_password_fails_clearly_without_showing_it(secured, tmp_path):
    args = secured.module_args(password="{{ valkey_password }}")
    run = ansible("valkey_info", args, *password_vars(tmp_path, valkey_password=WRONG_PASSWORD))
    msg = failed(run)
    assert f"127.0.0.1:{secured.port}" in msg and "AuthenticationError" in msg, msg
    for text in (WRONG_PASSWORD, PASSWORD, CENSORED):
        assert text not in msg
    assert WRONG_PASSWORD not in run.output and PASSWORD not in run.output

    msg = failed(ansible("valkey_info", secured.module_args()))
    assert f"127.0.0.1:{secured.port}" in msg and "Authentication required" in msg, msg


def test_password_never_printed_at_vvv(secured, tmp_path):
    log = tmp_path / "ansible.log"
    env = {"ANSIBLE_LOG_PATH": str(log)}
    args = secured.module_args(auth_token="{{ valkey_password }}")  # the alias, as ElastiCache calls it
    good = ansible(
        "valkey_info", args, "-vvv", *password_vars(tmp_path, valkey_password=PASSWORD), json_output=False, env=env
    )
    assert good.returncode == 0 and "SUCCESS" in good.output, good.output[-3000:]
    bad = ansible(
        "valkey_keys",
        {**args, "pattern": "ai:*"},
        "-vvv",
        *password_vars(tmp_path, valkey_password=WRONG_PASSWORD),
        json_output=False,
        env=env,
    )
    assert bad.returncode != 0 and "AuthenticationError" in bad.output, bad.output[-3000:]
    assert "<localhost> EXEC" in good.output  # really -vvv
    assert "password: VALUE_SPECIFIED_IN_NO_LOG_PARAMETER" in good.output  # the module args are shown, masked
    for text in (good.output, bad.output, log.read_text()):
        assert PASSWORD not in text and WRONG_PASSWORD not in text


def test_acl_user(secured, tmp_path):
    admin = secured.client()
    admin.acl_setuser(ACL_USER, enabled=True, passwords=[f"+{ACL_PASSWORD}"], keys=["*"], commands=["+@all"])
    admin.set("ai:response:acl", "x")
    args = secured.module_args(username=ACL_USER, password="{{ acl_password }}", pattern="ai:response:*")
    vars_ = password_vars(tmp_path, acl_password=ACL_PASSWORD)
    result = ok(ansible("valkey_keys", args, *vars_))
    assert result["deleted"] == 1 and admin.exists("ai:response:acl") == 0

    args["username"] = "nobody"
    msg = failed(ansible("valkey_keys", args, *vars_))
    assert "AuthenticationError" in msg and ACL_PASSWORD not in msg


def test_tls(tls_server):
    tls_server.client().set("ai:response:tls", "x")
    info = ok(ansible("valkey_info", tls_server.module_args()))["valkey"]
    assert info["role"] == "master" and info["keyspace"]["db0"]["keys"] == 1

    result = ok(ansible("valkey_keys", tls_server.module_args(pattern="ai:response:*"), check=True))
    assert result["matched"] == 1 and result["deleted"] == 0 and result["changed"] is True

    plain = failed(ansible("valkey_info", {"host": tls_server.host, "port": tls_server.port}))
    assert "tls: true" in plain and f"127.0.0.1:{tls_server.port}" in plain, plain

    unverified = failed(ansible("valkey_info", tls_server.module_args(tls_ca_cert=None)))  # system CAs only
    assert "certificate verify failed" in unverified, unverified

    no_verify = tls_server.module_args(tls_ca_cert=None, tls_verify=False)
    assert ok(ansible("valkey_info", no_verify))["valkey"]["total_keys"] == 1


def test_unreachable_server_fails_with_the_endpoint():
    port = valkey_server.free_port()
    msg = failed(ansible("valkey_info", {"host": "127.0.0.1", "port": port, "connect_timeout": 2}))
    assert msg.startswith(f"Cannot connect to Valkey at 127.0.0.1:{port}") and "ConnectionError" in msg, msg


@pytest.mark.skipif(
    not Path("/usr/bin/python3").exists()
    or subprocess.run(["/usr/bin/python3", "-c", "import valkey"], capture_output=True, check=False).returncode == 0,
    reason="needs a Python without the valkey library",
)
def test_missing_library_is_reported_the_ansible_way(server):
    run = ansible("valkey_info", server.module_args(), "-e", "ansible_python_interpreter=/usr/bin/python3")
    msg = failed(run)
    assert "Failed to import the required Python library (valkey)" in msg, msg


# valkey_keys


def test_keys_check_mode_counts_and_deletes_nothing(server, loaded):
    result = ok(ansible("valkey_keys", server.module_args(pattern="ai:response:*"), check=True))
    assert result["matched"] == AI_KEYS and result["deleted"] == 0 and result["changed"] is True
    assert len(result["sample"]) == 10 and all(key.startswith("ai:response:") for key in result["sample"])
    assert loaded.dbsize() == AI_KEYS + MARKET_KEYS


def test_keys_deletes_exactly_the_matches_with_scan_and_unlink_then_changes_nothing(server, loaded):
    args = server.module_args(pattern="ai:response:*")
    result = ok(ansible("valkey_keys", args))
    assert result["matched"] == AI_KEYS and result["deleted"] == AI_KEYS and result["changed"] is True
    assert count(loaded, "ai:response:*") == 0 and count(loaded, "market:price:*") == MARKET_KEYS
    commands = loaded.info("commandstats")
    assert "cmdstat_keys" not in commands
    assert commands["cmdstat_scan"]["calls"] >= 3  # 1,250 keys, COUNT 500
    assert commands["cmdstat_unlink"]["calls"] == 3 and "cmdstat_del" not in commands  # batches of 500

    again = ok(ansible("valkey_keys", args))
    assert again["matched"] == 0 and again["deleted"] == 0 and again["changed"] is False and again["sample"] == []
    assert loaded.dbsize() == MARKET_KEYS


def test_keys_max_keys_fails_before_deleting_anything(server, loaded):
    run = ansible("valkey_keys", server.module_args(pattern="ai:response:*", max_keys=1000, count=100))
    msg = failed(run)
    assert "1200" in msg and "max_keys=1000" in msg and "nothing was deleted" in msg, msg
    assert run.result["matched"] == AI_KEYS and run.result["deleted"] == 0
    assert loaded.dbsize() == AI_KEYS + MARKET_KEYS

    result = ok(ansible("valkey_keys", server.module_args(pattern="market:price:*", max_keys=MARKET_KEYS)))
    assert result["deleted"] == MARKET_KEYS and loaded.dbsize() == AI_KEYS


def test_keys_refuses_flush_all_without_star_and_an_empty_pattern(server, loaded):
    msg = failed(ansible("valkey_keys", server.module_args(pattern="ai:*", flush_all=True)))
    assert "flush_all" in msg and "pattern: '*'" in msg and "Nothing was deleted" in msg, msg
    msg = failed(ansible("valkey_keys", server.module_args(pattern="", flush_all=True)))
    assert "pattern must not be empty" in msg, msg
    msg = failed(ansible("valkey_keys", server.module_args(pattern="")))
    assert "pattern must not be empty" in msg, msg
    assert loaded.dbsize() == AI_KEYS + MARKET_KEYS


def test_keys_flush_all_empties_only_the_selected_db(server, loaded):
    db1 = server.client(db=1)
    for i in range(30):
        db1.set(f"tmp:{i}", "z")
    args = server.module_args(pattern="*", flush_all=True, db=1)

    preview = ok(ansible("valkey_keys", args, check=True))
    assert preview["matched"] == 30 and preview["deleted"] == 0 and preview["changed"] is True
    assert preview["flushed"] is False and len(preview["sample"]) == 10 and db1.dbsize() == 30

    result = ok(ansible("valkey_keys", args))
    assert result["matched"] == result["deleted"] == 30 and result["flushed"] is True and result["changed"] is True
    assert db1.dbsize() == 0 and loaded.dbsize() == AI_KEYS + MARKET_KEYS

    again = ok(ansible("valkey_keys", args))
    assert again["changed"] is False and again["flushed"] is False and again["matched"] == 0


# Unit level: what a Valkey 8 server says that redis-server 7 does not, and the DEL fallback.


@pytest.fixture(scope="module")
def modules():
    collections = str(ROOT / "collections")
    if collections not in sys.path:
        sys.path.append(collections)
    from ansible_collections.sage.infra.plugins.modules import valkey_info, valkey_keys

    return valkey_info, valkey_keys


def test_summary_of_a_valkey_8_replica(modules):
    valkey_info, _ = modules
    info = {
        "redis_version": "7.2.4",
        "server_name": "valkey",
        "valkey_version": "8.0.2",
        "redis_mode": "standalone",
        "server_mode": "standalone",
        "uptime_in_seconds": 3600,
        "connected_clients": 4,
        "used_memory": 50,
        "used_memory_human": "50B",
        "maxmemory": 200,
        "maxmemory_human": "200B",
        "maxmemory_policy": "volatile-lru",
        "evicted_keys": 2,
        "expired_keys": 3,
        "keyspace_hits": 3,
        "keyspace_misses": 1,
        "role": "slave",
        "master_link_status": "up",
        "connected_slaves": 0,
        "cluster_enabled": 0,
        "db0": {"keys": 5, "expires": 1, "avg_ttl": 10},
        "db2": {"keys": 2, "expires": 0, "avg_ttl": 0},
    }
    summary = valkey_info.summarize(info)
    assert summary["server_name"] == "valkey" and summary["version"] == "8.0.2"
    assert summary["redis_version"] == "7.2.4"
    assert summary["role"] == "replica" and summary["master_link_status"] == "up"
    assert summary["memory"]["used_ratio"] == 0.25 and summary["stats"]["hit_ratio"] == 0.75
    assert summary["total_keys"] == 7 and summary["cluster_enabled"] is False


def test_unlink_falls_back_to_del(modules):
    import valkey

    _, valkey_keys = modules

    class OldServer:
        def __init__(self):
            self.calls = []

        def unlink(self, *keys):
            self.calls.append(("unlink", len(keys)))
            raise valkey.exceptions.ResponseError("unknown command 'UNLINK'")

        def delete(self, *keys):
            self.calls.append(("del", len(keys)))
            return len(keys)

    client = OldServer()
    assert valkey_keys.unlink(client, [f"k{i}" for i in range(25)], 10) == 25
    assert client.calls == [("unlink", 10), ("del", 10), ("del", 10), ("del", 5)]
