#!/usr/bin/env bash
# Prints the newest Python this machine has for the alert Lambda's tests, nearest to its runtime
# (monitoring_lambda_runtime, python3.14): python3.14, then 3.13, 3.12, on PATH or among pyenv's versions,
# else the project's own python3. On stderr, which one and, if not 3.14, why.
set -euo pipefail
for version in 3.14 3.13 3.12; do
  candidates=("python$version")
  if command -v pyenv > /dev/null; then
    for dir in "$(pyenv root)/versions/$version".*; do candidates+=("$dir/bin/python$version"); done
  fi
  for candidate in "${candidates[@]}"; do
    # pyenv's shims exist for versions that are not selected and then fail: try to run it.
    if path=$(command -v "$candidate" 2> /dev/null) && "$path" -c 'import ssl, venv' 2> /dev/null; then
      [ "$version" = 3.14 ] || echo "No Python 3.14 here (the Lambda's runtime): its tests run on $version" >&2
      echo "$path"
      exit 0
    fi
  done
done
echo "No Python 3.12+ here: the Lambda's tests run on $(python3 --version) (the function runs on 3.14)" >&2
command -v python3
