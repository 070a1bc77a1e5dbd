# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The stack plan: each resource's desired state compared with the stack as read (sage.infra.stack_info)."""

from __future__ import annotations

# Ansible loads every filter file of the collection, from source, in each task's worker that uses one of them:
# module_utils/stack is imported by the filters that compare (plan_entry then imports the one service file of the
# kind it compares), not by those that only test for an id not known yet.
UNKNOWN = "(known after apply)"  # module_utils/stack.UNKNOWN (a unit test keeps them equal)


def _stack():
    from ansible_collections.sage.infra.plugins.module_utils import stack

    return stack


def stack_plan(desired, kind, name, stack, role=None):
    """The plan entry of one resource: desired ({attribute: value}, or None for "should not exist")
    against the stack as read. See module_utils/stack.plan_entry."""
    return _stack().plan_entry(kind, name, desired, stack, role)


def stack_plan_items(items, role, kind=None):
    """Plan entries of items a role compared itself (the network's subnets, route tables ...): each item's
    changes is None for a resource that does not exist, [] when in sync, else the attributes that differ.
    kind: the items' kind, unless each names its own. Items that are plan entries already are kept as they are."""
    entries = []
    for item in items:
        if "action" in item:
            entries.append(item)
            continue
        changes = item.get("changes")
        action = "create" if changes is None else ("update" if changes else "unchanged")
        settings = {key: value for key, value in item.items() if key not in _NOT_SETTINGS and value is not None}
        entries.append(
            {
                "kind": kind or item["kind"],
                "name": item["name"],
                "role": role,
                "action": action,
                "changes": _stack().masked(changes or []),
                "current": {"id": item["id"]} if item.get("id") and action != "create" else None,
                "desired": _stack().masked(settings),
            }
        )
    return entries


_NOT_SETTINGS = frozenset({"kind", "name", "changes", "in_sync", "id", "index", "key", "enabled"})


def or_unknown(value):
    """The value, or "(known after apply)" for an id that does not exist yet (check mode, plan.yml)."""
    return value if value not in (None, "") else UNKNOWN


def stack_known(value):
    """Whether the value holds no id that only a creation would give ("(known after apply)"), at any depth:
    a module given such a value in check mode could only fail, so its resource is left to the plan."""
    if isinstance(value, dict):
        return all(stack_known(item) for item in value.values())
    if isinstance(value, (list, tuple)):
        return all(stack_known(item) for item in value)
    return value != UNKNOWN


def stack_plan_summary(entries):
    """Counts by action and the summary line ("Plan: 2 to add, 1 to change, 0 to destroy")."""
    return _stack().summary(entries)


def stack_plan_lines(entries):
    """The plan as lines: one per resource to create, change or remove, with what differs."""
    return _stack().plan_lines(entries)


def stack_extra_inline_policies(entry):
    """Inline policies found on a role that the stack did not put there."""
    from ansible_collections.sage.infra.plugins.module_utils.stack_iam import extra_inline_policies

    return extra_inline_policies(entry)


class FilterModule:
    def filters(self):
        return {
            "stack_plan": stack_plan,
            "stack_plan_items": stack_plan_items,
            "stack_plan_summary": stack_plan_summary,
            "stack_plan_lines": stack_plan_lines,
            "or_unknown": or_unknown,
            "stack_known": stack_known,
            "stack_extra_inline_policies": stack_extra_inline_policies,
        }
