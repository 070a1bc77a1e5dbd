#!/usr/bin/python


# Copyright: Contributors to the sage-infra project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: valkey_info
version_added: 0.1.0
short_description: Report the health of a Valkey (or Redis OSS) server, such as an ElastiCache node
description:
  - Connects to a Valkey or Redis OSS server and reports its round-trip latency, version, replication role,
    memory use and eviction policy, eviction and hit/miss counters, connected clients and key counts per database.
  - Read-only; it never changes anything, so it always reports C(changed=false) and runs the same in check mode.
  - Everything comes from C(PING) and a single C(INFO) call. C(CONFIG GET), which ElastiCache does not allow,
    is not used; the eviction policy is read from the C(maxmemory_policy) field of C(INFO memory).
  - Not an AWS API module; it talks to the server itself, so it must run on a host that can reach the endpoint
    (ElastiCache is only reachable from inside its VPC).
author:
  - sage-infra developers (!UNKNOWN)
options:
  ping_count:
    description:
      - Number of C(PING) round trips timed for RV(valkey.latency_ms), after the one that checks the connection.
    type: int
    default: 5
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: The module is read-only, so check mode runs the same as a normal run.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
extends_documentation_fragment:
  - sage.infra.valkey
"""

EXAMPLES = r"""
- name: Check the ElastiCache primary endpoint (transit encryption and AUTH token)
  sage.infra.valkey_info:
    host: master.sage-cache.abc123.euw1.cache.amazonaws.com
    tls: true
    auth_token: "{{ vault_valkey_auth_token }}"
  register: cache

- name: Warn when the cache is close to its memory limit
  ansible.builtin.debug:
    msg: "{{ (cache.valkey.memory.used_ratio * 100) | round(1) }} % of maxmemory used"
  when: (cache.valkey.memory.used_ratio or 0) > 0.9

- name: Check a local server
  sage.infra.valkey_info:
    host: 127.0.0.1
  register: local_cache

- name: Show the server version and the keys of database 0
  ansible.builtin.debug:
    msg: >-
      {{ local_cache.valkey.server_name }} {{ local_cache.valkey.version }},
      {{ local_cache.valkey.keyspace.db0.keys | default(0) }} keys in db0
"""

RETURN = r"""
valkey:
  description: What the server reported.
  type: dict
  returned: success
  contains:
    server_name:
      description: V(valkey) for Valkey (its C(server_name) field), V(redis) for Redis OSS, which has no such field.
      type: str
      sample: valkey
    version:
      description: Server version; C(valkey_version) on Valkey, C(redis_version) otherwise.
      type: str
      sample: "8.0.1"
    redis_version:
      description: The C(redis_version) field. Valkey reports the Redis OSS version it is compatible with (V(7.2.4)).
      type: str
      sample: "7.2.4"
    mode:
      description: V(standalone), V(cluster) or V(sentinel).
      type: str
      sample: standalone
    cluster_enabled:
      description: Whether the server runs in cluster mode (ElastiCache cluster mode enabled, or Serverless).
      type: bool
      sample: false
    uptime_seconds:
      description: Seconds since the server started.
      type: int
      sample: 86400
    latency_ms:
      description: Round-trip time of O(ping_count) C(PING) commands, in milliseconds.
      type: dict
      contains:
        min:
          description: Fastest round trip.
          type: float
          sample: 0.21
        avg:
          description: Mean round trip.
          type: float
          sample: 0.35
        max:
          description: Slowest round trip.
          type: float
          sample: 0.62
        samples:
          description: Number of round trips timed.
          type: int
          sample: 5
    role:
      description: Replication role, V(master) or V(replica) (INFO says C(slave) for a replica).
      type: str
      sample: master
    connected_replicas:
      description: Number of replicas connected to this server.
      type: int
      sample: 1
    master_link_status:
      description: State of the link to the master, V(up) or V(down).
      type: str
      returned: when RV(valkey.role=replica)
      sample: up
    connected_clients:
      description: Number of client connections, this one included.
      type: int
      sample: 12
    memory:
      description: Memory use.
      type: dict
      contains:
        used_memory:
          description: Bytes allocated by the server.
          type: int
          sample: 1048576
        used_memory_human:
          description: RV(valkey.memory.used_memory) in a human-readable form.
          type: str
          sample: 1.00M
        maxmemory:
          description: Memory limit in bytes, V(0) for none.
          type: int
          sample: 1610612736
        maxmemory_human:
          description: RV(valkey.memory.maxmemory) in a human-readable form.
          type: str
          sample: 1.50G
        maxmemory_policy:
          description: Eviction policy applied at the memory limit.
          type: str
          sample: volatile-lru
        used_ratio:
          description: RV(valkey.memory.used_memory) divided by RV(valkey.memory.maxmemory); V(null) without a limit.
          type: float
          sample: 0.42
    stats:
      description: Counters since the server started (or since C(CONFIG RESETSTAT)).
      type: dict
      contains:
        evicted_keys:
          description: Keys evicted because of the memory limit.
          type: int
          sample: 0
        expired_keys:
          description: Keys removed because their time to live ran out.
          type: int
          sample: 1523
        keyspace_hits:
          description: Successful key lookups.
          type: int
          sample: 90210
        keyspace_misses:
          description: Lookups of keys that did not exist.
          type: int
          sample: 1234
        hit_ratio:
          description: RV(valkey.stats.keyspace_hits) divided by all lookups; V(null) before the first lookup.
          type: float
          sample: 0.9865
    keyspace:
      description:
        - Key counts per database that holds keys, as INFO keyspace reports them (C(keys), C(expires), C(avg_ttl)).
        - An empty database is not listed.
      type: dict
      sample: {"db0": {"keys": 1250, "expires": 1200, "avg_ttl": 3599000}}
    total_keys:
      description: Sum of the keys of all databases.
      type: int
      sample: 1250
"""

import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.sage.infra.plugins.module_utils.valkey_client import (
    cluster_enabled,
    connect,
    fail_on_error,
    valkey_argument_spec,
    valkey_errors,
)


def _int(info, key):
    value = info.get(key)
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _ratio(numerator, denominator, digits=4):
    if not denominator or numerator is None:
        return None
    return round(numerator / denominator, digits)


def measure_latency(client, count):
    """PING ``count`` times; min/avg/max round trip in milliseconds."""
    timings = []
    for _attempt in range(count):
        start = time.perf_counter()
        client.ping()
        timings.append((time.perf_counter() - start) * 1000)
    return {
        "min": round(min(timings), 3),
        "avg": round(sum(timings) / len(timings), 3),
        "max": round(max(timings), 3),
        "samples": len(timings),
    }


def summarize(info):
    """The module's view of a parsed INFO reply (valkey-py's ``Valkey.info()`` dict)."""
    redis_version = info.get("redis_version")
    redis_version = None if redis_version is None else str(redis_version)
    valkey_version = info.get("valkey_version")
    server_name = str(info.get("server_name") or ("valkey" if valkey_version else "redis"))

    role = str(info.get("role", "unknown"))
    if role == "slave":
        role = "replica"

    used_memory, maxmemory = _int(info, "used_memory"), _int(info, "maxmemory")
    hits, misses = _int(info, "keyspace_hits"), _int(info, "keyspace_misses")

    keyspace = {}
    for key, value in info.items():
        if key.startswith("db") and key[2:].isdigit() and isinstance(value, dict):
            keyspace[key] = value

    summary = {
        "server_name": server_name,
        "version": str(valkey_version) if valkey_version else redis_version,
        "redis_version": redis_version,
        "mode": info.get("server_mode") or info.get("redis_mode"),
        "cluster_enabled": cluster_enabled(info),
        "uptime_seconds": _int(info, "uptime_in_seconds"),
        "role": role,
        "connected_replicas": _int(info, "connected_slaves") or 0,
        "connected_clients": _int(info, "connected_clients"),
        "memory": {
            "used_memory": used_memory,
            "used_memory_human": info.get("used_memory_human"),
            "maxmemory": maxmemory,
            "maxmemory_human": info.get("maxmemory_human"),
            "maxmemory_policy": info.get("maxmemory_policy"),
            "used_ratio": _ratio(used_memory, maxmemory),
        },
        "stats": {
            "evicted_keys": _int(info, "evicted_keys"),
            "expired_keys": _int(info, "expired_keys"),
            "keyspace_hits": hits,
            "keyspace_misses": misses,
            "hit_ratio": _ratio(hits, (hits or 0) + (misses or 0)),
        },
        "keyspace": keyspace,
        "total_keys": sum(int(db.get("keys", 0)) for db in keyspace.values()),
    }
    if role == "replica":
        summary["master_link_status"] = info.get("master_link_status")
    return summary


def main():
    argument_spec = valkey_argument_spec()
    argument_spec["ping_count"] = {"type": "int", "default": 5}
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)

    if module.params["ping_count"] < 1:
        module.fail_json(msg=f"ping_count must be 1 or more; got {module.params['ping_count']}")

    client = connect(module, decode_responses=True)
    try:
        latency = measure_latency(client, module.params["ping_count"])
        info = client.info()
    except valkey_errors() as e:
        fail_on_error(module, e, "read INFO")
    finally:
        client.close()

    result = summarize(info)
    result["latency_ms"] = latency
    module.exit_json(changed=False, valkey=result)


if __name__ == "__main__":
    main()
