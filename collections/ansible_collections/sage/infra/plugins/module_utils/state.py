# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The end of a state-driven module: run ensure_present or ensure_absent, report changed, result and diff."""


def exit_for_state(module, result_key, ensure_present, ensure_absent, *args, **extra_results):
    """Each ensure_* function returns (changed, result, before, after); extra_results are merged in."""
    ensure = ensure_present if module.params["state"] == "present" else ensure_absent
    changed, result, before, after = ensure(module, *args)
    output = {"changed": changed, result_key: result, **extra_results}
    if module._diff:
        output["diff"] = {"before": before, "after": after}
    module.exit_json(**output)


def repeated_names(list_option, names):
    """The error for names the list option gives more than once, or None."""
    repeated = sorted({name for name in names if names.count(name) > 1})
    return f"{list_option}: the names must be unique; repeated: {', '.join(repeated)}" if repeated else None


def exit_for_states(module, single_key, list_key, outcomes):
    """End a module that manages one resource (O(name)) or a list of them (the option list_key).

    outcomes maps each name, in the order of the run, to (changed, result, before, after). One resource: its result
    under single_key. A list: the results under list_key, the diff keyed by the names that changed.
    """
    output = {"changed": any(outcome[0] for outcome in outcomes.values())}
    if module.params[list_key] is None:
        (output[single_key], before, after) = next(iter(outcomes.values()))[1:]
    else:
        output[list_key] = [outcome[1] for outcome in outcomes.values()]
        changes = {name: outcome for name, outcome in outcomes.items() if outcome[0]}
        before = {name: outcome[2] for name, outcome in changes.items()}
        after = {name: outcome[3] for name, outcome in changes.items()}
    if module._diff:
        output["diff"] = {"before": before, "after": after}
    module.exit_json(**output)
