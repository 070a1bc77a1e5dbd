#!/usr/bin/env bash
# Lints what ansible-lint and yamllint do not understand: the GitHub workflows (actionlint, with
# shellcheck on their `run:` scripts, and zizmor's security audits) and the backend Dockerfile
# (hadolint). The linters come from requirements-lint.txt into ./.venv. Offline: zizmor runs
# without its GitHub API audits. Exits non-zero on any finding of any of them.
set -euo pipefail
cd "$(dirname "$0")/.."

venv_bin="$PWD/.venv/bin"
# actionlint runs the shellcheck found on PATH: the venv's one, the same everywhere.
export PATH="$venv_bin:$PATH"
for tool in actionlint shellcheck zizmor hadolint; do
    if [[ ! -x "$venv_bin/$tool" ]]; then
        echo "lint-extra: $venv_bin/$tool is missing: .venv/bin/pip install -r requirements-lint.txt" >&2
        exit 2
    fi
done

shopt -s nullglob
workflows=(.github/workflows/*.yml .github/workflows/*.yaml)
if ((${#workflows[@]} == 0)); then
    echo "lint-extra: no workflow in .github/workflows" >&2
    exit 2
fi

status=0
echo "actionlint: ${workflows[*]}"
actionlint -color=false "${workflows[@]}" || status=1

echo "zizmor (offline): .github/workflows"
zizmor --offline --quiet --no-progress --color=never .github/workflows || status=1

echo "hadolint: files/docker/backend/Dockerfile"
hadolint --no-color files/docker/backend/Dockerfile || status=1

if ((status != 0)); then
    echo "lint-extra: findings above" >&2
fi
exit "$status"
