# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters whose code is imported when first called.

Ansible loads every filter file of the collection, from source, in each task's worker that uses one of its filters:
a filter file that imports its module_utils only when one of its filters runs keeps that cost off the other tasks."""

from __future__ import annotations

import importlib


def deferred(module, name):
    """A function calling module_utils/<module>.<name>, imported at its first call."""

    def call(*args, **kwargs):
        utils = importlib.import_module(f"ansible_collections.sage.infra.plugins.module_utils.{module}")
        return getattr(utils, name)(*args, **kwargs)

    call.__name__ = name
    return call
