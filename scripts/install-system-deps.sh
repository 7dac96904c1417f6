#!/usr/bin/env bash
# Installs the Debian packages the test suite needs. Runs apt only as root and only for what is
# missing, so a second `make test` costs nothing; as a normal user it prints what to install.
set -euo pipefail

# Debian packages the tests use.
packages=(
  redis-server  # the answer cache and rate-limit tests run a real Redis
  prometheus    # promtool checks a real /metrics scrape; the monitoring tests run Prometheus
  prometheus-alertmanager  # amtool checks the rendered Alertmanager config and its routes
  haproxy       # `haproxy -c` checks the gateway role's rendered configuration
  xfsprogs      # the nvme_raid boot script makes and relabels XFS on loop devices in tests/ansible
  gpg           # tests/ansible/test_supply_chain.py makes throwaway keys for the apt key check
)

# `python3 -m venv` needs ensurepip; Debian's own python3 splits it into python3-venv.
if ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
  packages+=(python3-venv)
fi

missing=()
for pkg in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "missing Debian packages: ${missing[*]} — install them with: sudo apt-get install ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
