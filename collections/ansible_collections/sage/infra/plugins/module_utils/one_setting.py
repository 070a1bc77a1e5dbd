# Copyright: Contributors to the sage-infra project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The end every module that keeps one setting of an existing resource shares (a VPC endpoint's policy, a
repository's tag mutability, a bucket's access logging, a log group's key): write only when the setting differs,
never in check mode, and show it before and after."""

from __future__ import annotations

try:  # noqa: SIM105 - the same guarded import as the modules'
    import botocore
except ImportError:
    pass  # caught by AnsibleAWSModule


def exit_with_setting(module, before, desired, write, what, changed=None):
    """Exit the module with desired ({name: value}) as its result: changed when before differs from it (or as
    `changed` says, for a comparison by meaning), after calling write() unless in check mode; a failed write fails
    the module, saying it could not set `what`."""
    changed = before != desired if changed is None else changed
    if changed and not module.check_mode:
        try:
            write()
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
            module.fail_json_aws(e, msg=f"Failed to set {what}")
    result = {"changed": changed, **desired}
    if module._diff:
        result["diff"] = {"before": before, "after": desired}
    module.exit_json(**result)
