#!/usr/bin/env bash
# Runs the Molecule scenarios: podman set up, the base image built (cached), then
# `molecule test -s SCENARIO` for each scenario named on the command line (default: all of them,
# one after the other: the machine has few cores). Run from anywhere; needs root and the venv
# with the `ops` extra (make venv).
#   scripts/molecule-test.sh            # every scenario under molecule/
#   scripts/molecule-test.sh redis      # one
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
venv=${VENV:-$root/.venv}
export PATH="$venv/bin:$PATH"

if [ $# -gt 0 ]; then
  scenarios=("$@")
else
  scenarios=()
  for file in molecule/*/molecule.yml; do
    scenarios+=("$(basename "$(dirname "$file")")")
  done
fi

bash scripts/podman-setup.sh
bash scripts/build-base-image.sh

failed=()
for scenario in "${scenarios[@]}"; do
  start=$(date +%s)
  if molecule test -s "$scenario"; then
    echo "molecule-test: $scenario passed in $(($(date +%s) - start)) s"
  else
    echo "molecule-test: $scenario FAILED after $(($(date +%s) - start)) s" >&2
    failed+=("$scenario")
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "molecule-test: failed: ${failed[*]}" >&2
  exit 1
fi
