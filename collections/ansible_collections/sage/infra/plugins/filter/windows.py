# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter that checks an AWS daily backup window against a weekly maintenance window."""


def window_errors(*args, **kwargs):
    """module_utils/windows.window_errors, imported when first called (Ansible loads every filter file of the
    collection, from source, in each task's worker)."""
    from ansible_collections.sage.infra.plugins.module_utils.windows import window_errors as errors

    return errors(*args, **kwargs)


class FilterModule:
    def filters(self):
        return {"window_errors": window_errors}
