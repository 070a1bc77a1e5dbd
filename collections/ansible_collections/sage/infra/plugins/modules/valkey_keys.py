#!/usr/bin/python


# Copyright: Contributors to the sage-infra project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: valkey_keys
version_added: 0.1.0
short_description: Delete the keys of a Valkey (or Redis OSS) database that match a glob pattern
description:
  - Deletes the keys of one database of a Valkey or Redis OSS server (such as an ElastiCache node) whose
    names match O(pattern), for example every cached AI response (V(ai:response:*)).
  - Keys are found with C(SCAN) in batches of O(count), never with C(KEYS), so the server is not blocked
    on a large keyspace. All matching keys are found first, then removed with C(UNLINK) (memory is freed in
    the background; C(DEL) on servers without C(UNLINK)) in batches of O(count).
  - With O(flush_all=true) the whole selected database is emptied at once with C(FLUSHDB ASYNC) instead.
  - In check mode keys are only counted; nothing is deleted.
  - Not an AWS API module; it talks to the server itself, so it must run on a host that can reach the endpoint
    (ElastiCache is only reachable from inside its VPC).
author:
  - sage-infra developers (!UNKNOWN)
options:
  pattern:
    description:
      - Glob-style pattern of the key names to delete, as C(SCAN MATCH) understands it (V(*), V(?), V([abc]),
        a backslash escapes), for example V(ai:response:*).
      - Must not be empty.
      - V(*) matches every key of the database. With O(flush_all=false) they are still found with C(SCAN) and
        deleted in batches; use O(max_keys) as a safety limit.
    type: str
    required: true
  count:
    description:
      - Batch size; the C(COUNT) hint of each C(SCAN) call and the number of keys per C(UNLINK) call.
    type: int
    default: 500
  max_keys:
    description:
      - Safety limit. When more keys than this match, the module fails without deleting anything
        (all matching keys are counted before any is deleted).
      - V(0) means no limit.
    type: int
    default: 0
  flush_all:
    description:
      - Empty the whole selected database (O(db)) with C(FLUSHDB ASYNC), every key whatever its name.
      - Only done when set to V(true) explicitly, and then O(pattern) must be V(*) so that the task
        itself says that every key goes; any other pattern is refused.
      - Other databases of the server are not touched (this is not C(FLUSHALL)).
      - O(max_keys) still applies, to the number of keys in the database.
    type: bool
    default: false
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: In check mode the matching keys are counted and nothing is deleted.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
notes:
  - The names of all matching keys are held in memory by the module before they are deleted, a few hundred
    bytes per key.
  - Keys written while the module runs may or may not be deleted; keys deleted by others meanwhile make
    RV(deleted) smaller than RV(matched).
  - Cluster mode (ElastiCache cluster mode enabled, ElastiCache Serverless) is not supported, since C(SCAN)
    only sees the keys of the node it is sent to. The module fails when C(INFO cluster) reports cluster mode.
extends_documentation_fragment:
  - sage.infra.valkey
"""

EXAMPLES = r"""
- name: Count the cached AI responses that would be deleted
  sage.infra.valkey_keys:
    host: master.sage-cache.abc123.euw1.cache.amazonaws.com
    tls: true
    auth_token: "{{ vault_valkey_auth_token }}"
    pattern: "ai:response:*"
  check_mode: true
  register: would_purge

- name: Delete the cached AI responses, unless there are suspiciously many
  sage.infra.valkey_keys:
    host: master.sage-cache.abc123.euw1.cache.amazonaws.com
    tls: true
    auth_token: "{{ vault_valkey_auth_token }}"
    pattern: "ai:response:*"
    max_keys: 100000
  register: purge

- name: Empty database 2 of a local server, every key in it
  sage.infra.valkey_keys:
    host: 127.0.0.1
    db: 2
    pattern: "*"
    flush_all: true
"""

RETURN = r"""
matched:
  description:
    - Number of keys that matched O(pattern); with O(flush_all=true), the number of keys in the database.
  type: int
  returned: success
  sample: 1200
deleted:
  description:
    - Number of keys deleted. V(0) in check mode.
    - With O(flush_all=true), the number of keys in the database just before C(FLUSHDB).
  type: int
  returned: success
  sample: 1200
sample:
  description: Up to 10 of the matching key names, sorted.
  type: list
  elements: str
  returned: success
  sample: ["ai:response:0", "ai:response:1", "ai:response:10"]
flushed:
  description: Whether C(FLUSHDB) was sent (V(false) in check mode and when the database was already empty).
  type: bool
  returned: success
  sample: false
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_text
from ansible_collections.sage.infra.plugins.module_utils.valkey_client import (
    cluster_enabled,
    connect,
    fail_on_error,
    valkey,
    valkey_argument_spec,
    valkey_errors,
)

SAMPLE_SIZE = 10


def key_names(keys):
    return [to_text(key, errors="surrogate_or_replace") for key in sorted(keys)[:SAMPLE_SIZE]]


def check_not_cluster(module, client):
    try:
        info = client.info("cluster")
    except valkey.exceptions.ResponseError:
        return  # INFO not allowed to this ACL user; a cluster would then answer SCAN/UNLINK with errors
    if cluster_enabled(info):
        module.fail_json(
            msg="The server runs in cluster mode, which valkey_keys does not support: SCAN only sees the keys "
            "of one node. Nothing was deleted."
        )


def scan(client, pattern, count):
    """Names (bytes) of every key matching pattern, each once."""
    return set(client.scan_iter(match=pattern, count=count))


def unlink(client, keys, count):
    """Delete keys in batches of count with UNLINK (DEL when the server does not know UNLINK)."""
    keys = list(keys)
    use_del = False
    deleted = 0
    for start in range(0, len(keys), count):
        batch = keys[start : start + count]
        if not use_del:
            try:
                deleted += client.unlink(*batch)
                continue
            except valkey.exceptions.ResponseError as e:
                if "unknown command" not in str(e).lower():
                    raise
                use_del = True
        deleted += client.delete(*batch)
    return deleted


def too_many(module, matched, sample):
    limit = module.params["max_keys"]
    if limit and matched > limit:
        what = (
            f"db {module.params['db']} holds" if module.params["flush_all"] else f"{module.params['pattern']!r} matches"
        )
        module.fail_json(
            msg=f"{what} {matched} keys, more than max_keys={limit}: nothing was deleted. "
            "Raise max_keys (0 for no limit) or narrow the pattern.",
            matched=matched,
            deleted=0,
            sample=sample,
            flushed=False,
        )


def purge_pattern(module, client):
    params = module.params
    keys = scan(client, params["pattern"], params["count"])
    sample = key_names(keys)
    too_many(module, len(keys), sample)
    deleted = 0
    if keys and not module.check_mode:
        deleted = unlink(client, keys, params["count"])
    return {"matched": len(keys), "deleted": deleted, "sample": sample, "flushed": False}


def flush_db(module, client):
    matched = client.dbsize()
    sample = set()
    for key in client.scan_iter(count=SAMPLE_SIZE * 10):
        sample.add(key)
        if len(sample) >= SAMPLE_SIZE:
            break
    sample = key_names(sample)
    too_many(module, matched, sample)
    flushed = bool(matched) and not module.check_mode
    if flushed:
        client.flushdb(asynchronous=True)
    return {"matched": matched, "deleted": matched if flushed else 0, "sample": sample, "flushed": flushed}


def main():
    argument_spec = valkey_argument_spec()
    argument_spec.update(
        pattern={"type": "str", "required": True},
        count={"type": "int", "default": 500},
        max_keys={"type": "int", "default": 0, "no_log": False},
        flush_all={"type": "bool", "default": False},
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    params = module.params

    if not params["pattern"].strip():
        module.fail_json(msg="pattern must not be empty; use pattern: '*' (with flush_all: true) to delete every key")
    if params["flush_all"] and params["pattern"] != "*":
        module.fail_json(
            msg=f"flush_all: true empties the whole db {params['db']} and requires pattern: '*' to say so; "
            f"got pattern {params['pattern']!r}. Nothing was deleted."
        )
    if params["count"] < 1:
        module.fail_json(msg=f"count must be 1 or more; got {params['count']}")
    if params["max_keys"] < 0:
        module.fail_json(msg=f"max_keys must be 0 (no limit) or more; got {params['max_keys']}")

    client = connect(module)
    try:
        check_not_cluster(module, client)
        result = flush_db(module, client) if params["flush_all"] else purge_pattern(module, client)
    except valkey_errors() as e:
        fail_on_error(module, e, f"delete the keys matching {params['pattern']!r} in db {params['db']}")
    finally:
        client.close()

    changed = result["deleted"] > 0 or (module.check_mode and result["matched"] > 0)
    module.exit_json(changed=changed, **result)


if __name__ == "__main__":
    main()
