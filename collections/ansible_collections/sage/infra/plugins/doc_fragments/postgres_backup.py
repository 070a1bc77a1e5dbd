# Copyright: Contributors to the sage-infra project
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation of the options shared by the modules of plugins/module_utils/postgres_backup.py."""

from __future__ import annotations


class ModuleDocFragment:
    # postgres_backup.BACKUP_ARGUMENTS
    DOCUMENTATION = r"""
options:
  bucket:
    description:
      - The S3 bucket of the backups.
    type: str
    required: true
  prefix:
    description:
      - Key prefix of the backups, for example V(postgres/). Empty or ending with C(/).
    type: str
    default: postgres/
  log_file:
    description:
      - A file the steps are appended to, each with its timestamp. Its directory must be writable.
    type: path
"""

    # postgres_backup.CLIENT_ARGUMENTS
    CLIENT = r"""
options:
  pg_bindir:
    description:
      - Directory of C(pg_dump), C(psql) and C(pg_restore) of (at least) the server's major version, for example
        V(/usr/lib/postgresql/18/bin). Found on PATH when not set.
    type: path
"""
