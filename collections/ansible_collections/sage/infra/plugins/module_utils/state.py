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
