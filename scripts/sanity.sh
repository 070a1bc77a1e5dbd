#!/usr/bin/env bash
# `ansible-test sanity` for the sage.infra collection, offline but for PyPI, with the venv's Python 3.11.
# Extra arguments go to ansible-test, e.g. `scripts/sanity.sh --test pylint -v`.
# Setup (venv requirements, dependency collections, pip bootstrap) is done by scripts/ansible-test.sh.
#
# Every default sanity test runs; none is skipped. pslint, shellcheck and empty-init report "No tests
# applicable": the collection has no PowerShell or shell files nor empty __init__.py files. changelog lints
# changelogs/fragments with the antsibull-changelog ansible-test installs from PyPI into its own venv; pslint
# and shellcheck would need pwsh and the shellcheck binary once such files are added.
set -euo pipefail

exec "$(dirname "$0")/ansible-test.sh" sanity --python 3.11 "$@"
