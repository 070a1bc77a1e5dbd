# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter that checks an AWS daily backup window against a weekly maintenance window."""

from ansible_collections.sage.infra.plugins.module_utils.windows import window_errors


class FilterModule:
    def filters(self):
        return {"window_errors": window_errors}
