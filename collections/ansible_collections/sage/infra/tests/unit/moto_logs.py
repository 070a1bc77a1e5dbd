# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""moto CloudWatch Logs with AssociateKmsKey and DisassociateKmsKey, which it does not implement. Used by
sage.infra.log_group_kms_key's unit tests (with monkeypatch.setattr) and by the project's AWS emulator
(tests/harness/emulator.py, with setattr)."""

from moto.logs.exceptions import ResourceNotFoundException
from moto.logs.responses import LogsResponse


def patch_moto_gaps(setattr_=setattr):
    """AssociateKmsKey sets a log group's kmsKeyId (DescribeLogGroups shows it); DisassociateKmsKey removes it."""

    def set_key(response, key):
        group = response.logs_backend.groups.get(response._get_param("logGroupName"))
        if group is None:
            raise ResourceNotFoundException()
        group.kms_key_id = key
        return ""

    setattr_(LogsResponse, "associate_kms_key", lambda self: set_key(self, self._get_param("kmsKeyId")))
    setattr_(LogsResponse, "disassociate_kms_key", lambda self: set_key(self, None))
