# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests for the s3_bucket_name_error filter (the backup and log bucket roles' validation)."""

import pytest
from ansible_collections.sage.infra.plugins.filter.s3 import s3_bucket_name_error


@pytest.mark.parametrize("name", ["sage-backups", "sage-access-logs-123456789012", "a.b-c", "abc"])
def test_valid_names(name):
    assert s3_bucket_name_error(name, "log_bucket_name") == ""


@pytest.mark.parametrize(
    "name, rule",
    [
        ("ab", "3 to 63 characters"),
        ("s" * 64, "3 to 63 characters"),
        ("Sage_Logs", "only lowercase letters, digits, dots and hyphens"),
        ("-logs", "starting and ending with a letter or digit"),
        ("logs..sage", "no two adjacent dots"),
        ("192.168.5.4", "not an IP address"),
        ("xn--logs", "not starting with xn--"),
        ("logs-s3alias", "not ending with -s3alias"),
        ("", "3 to 63 characters"),
    ],
)
def test_each_broken_rule_is_named_with_the_variable(name, rule):
    error = s3_bucket_name_error(name, "log_bucket_name")
    assert error.startswith("log_bucket_name must follow S3's bucket naming rules (") and rule in error
    assert error.endswith(f"got '{name}'")
