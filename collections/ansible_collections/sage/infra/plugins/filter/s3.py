# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter that checks an S3 bucket name before any AWS call (the backup and log bucket roles)."""

import re

# S3's naming rules for general purpose buckets:
# https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html
RULES = (
    ("3 to 63 characters", lambda name: 3 <= len(name) <= 63),
    ("only lowercase letters, digits, dots and hyphens", lambda name: re.fullmatch(r"[a-z0-9.-]*", name)),
    ("starting and ending with a letter or digit", lambda name: re.fullmatch(r"[a-z0-9](.*[a-z0-9])?", name)),
    ("no two adjacent dots", lambda name: ".." not in name),
    ("not an IP address", lambda name: not re.fullmatch(r"[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+", name)),
    (
        "not starting with xn--, sthree- or amzn-s3-demo-",
        lambda name: not re.match(r"xn--|sthree-|amzn-s3-demo-", name),
    ),
    (
        "not ending with -s3alias, --ol-s3, .mrap, --x-s3 or --table-s3",
        lambda name: not re.search(r"(-s3alias|--ol-s3|\.mrap|--x-s3|--table-s3)$", name),
    ),
)


def s3_bucket_name_error(name, variable):
    """'' when ``name`` follows S3's bucket naming rules, else which it breaks, naming ``variable``."""
    name = "" if name is None else str(name)
    broken = [rule for rule, holds in RULES if not holds(name)]
    if not broken:
        return ""
    return f"{variable} must follow S3's bucket naming rules ({'; '.join(broken)}), got '{name}'"


class FilterModule:
    def filters(self):
        return {"s3_bucket_name_error": s3_bucket_name_error}
