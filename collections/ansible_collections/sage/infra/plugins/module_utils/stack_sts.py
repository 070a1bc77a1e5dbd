# Copyright: Contributors to the sage-infra project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The account the stack runs in, for the policies that must name it (a bucket's log delivery statements).
Read once, whatever names it is asked under: one GetCallerIdentity."""

from __future__ import annotations

from ansible_collections.sage.infra.plugins.module_utils.stack import Kind, register

register(Kind("account"))


def read_account(client, names):
    """{name: {account_id, partition, arn}} for each name (all the same account)."""
    identity = client.get_caller_identity()
    view = {"account_id": identity["Account"], "partition": identity["Arn"].split(":")[1], "arn": identity["Arn"]}
    return {name: dict(view) for name in names or []}


READERS = {"account": ("sts", read_account)}
