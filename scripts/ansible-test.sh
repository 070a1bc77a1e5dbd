#!/usr/bin/env bash
# Run ansible-test for the sage.infra collection on a machine whose only network access is PyPI.
#
#   scripts/ansible-test.sh sanity --python 3.11            (what scripts/sanity.sh runs)
#   scripts/ansible-test.sh units --python 3.11 --venv      (unit tests in a venv of ansible-test's own)
#
# Prepares, idempotently and quickly once done:
#   1. the project venv ($root/.venv) with requirements-sanity.txt (ansible-core, and `ansible` for the
#      amazon.aws / community.aws collections the modules use);
#   2. links to those dependency collections in collections/ansible_collections/<ns>/<name>, the only place
#      ansible-test looks for them (it sets ANSIBLE_COLLECTIONS_PATH to the collection root);
#   3. the pip bootstrap of ansible-test: it creates its sanity (and --venv) virtual environments without
#      pip and fetches a get-pip script from a non-PyPI server unless ~/.ansible/test/cache/get_pip_<ver>.py
#      exists; we put scripts/ansible_test_get_pip.py there, next to the pip wheel from PyPI.
# then runs ansible-test with the given arguments from the collection directory.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
venv="$root/.venv"
py="$venv/bin/python"
collections_root="$root/collections"
collection="$collections_root/ansible_collections/sage/infra"

# 1. Project venv and what ansible-test needs in it.
if [ ! -x "$py" ]; then
  python3.11 -m venv "$venv"
fi
"$py" -m pip install -q -r "$root/requirements-sanity.txt"

# 2. Dependency collections from galaxy.yml, linked from the `ansible` package of the venv.
#    A real directory already there (for example from ansible-galaxy) is left alone.
"$py" - "$collection/galaxy.yml" "$collections_root" <<'PY'
import os
import sys
import sysconfig

import yaml

galaxy, collections_root = sys.argv[1:]
with open(galaxy, encoding="utf-8") as f:
    dependencies = yaml.safe_load(f).get("dependencies") or {}
site = os.path.join(sysconfig.get_paths()["purelib"], "ansible_collections")
for fqcn in dependencies:
    namespace, name = fqcn.split(".")
    source = os.path.join(site, namespace, name)
    target = os.path.join(collections_root, "ansible_collections", namespace, name)
    if os.path.isdir(target) and not os.path.islink(target):
        continue
    if not os.path.isdir(source):
        sys.exit(f"{fqcn} is neither in {target} nor in the venv ({source}): check requirements-sanity.txt")
    if os.path.islink(target) and os.readlink(target) == source:
        continue
    os.makedirs(os.path.dirname(target), exist_ok=True)
    if os.path.islink(target):
        os.unlink(target)
    os.symlink(source, target)
    print(f"linked {fqcn}: {target} -> {source}")
PY

# 3. Offline pip bootstrap for ansible-test's virtual environments.
pip_version="$("$py" -c '
from types import SimpleNamespace
from ansible_test._internal.python_requirements import get_venv_packages
print(get_venv_packages(SimpleNamespace(version="3.11"))["pip"])')"
cache="$("$py" -c 'import os; print(os.path.expanduser("~/.ansible/test/cache"))')"  # as ansible-test sees it
mkdir -p "$cache"
if ! compgen -G "$cache/pip-${pip_version}-*.whl" > /dev/null; then
  "$py" -m pip download -q --no-deps --only-binary=:all: -d "$cache" "pip==${pip_version}"
fi
bootstrap="$cache/get_pip_${pip_version//./_}.py"
if ! cmp -s "$root/scripts/ansible_test_get_pip.py" "$bootstrap"; then
  cp "$root/scripts/ansible_test_get_pip.py" "$bootstrap"
fi

cd "$collection"
export PATH="$venv/bin:$PATH"
exec ansible-test "$@"
