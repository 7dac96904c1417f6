#!/usr/bin/env bash
# Makes rootful podman usable for the Molecule scenarios on a Debian 12 host or CI runner
# (root, no systemd as PID 1, no container registry reachable). Idempotent: installs only the
# missing packages, rewrites the config files only when their content changes, then proves
# `podman info` works. Settings measured in /work/shared/FIELD-NOTES.md ("Ansible, Molecule, podman"):
#   - default_ulimits: the sandbox has no CAP_SYS_RESOURCE, so podman's default raise fails;
#   - runtime = "runc": crun rejects the hybrid cgroup layout;
#   - storage and run dirs under a writable path (RAGFLEET_PODMAN_ROOT, RAGFLEET_PODMAN_RUNROOT).
set -euo pipefail

PODMAN_ROOT=${RAGFLEET_PODMAN_ROOT:-/var/lib/containers/storage}
PODMAN_RUNROOT=${RAGFLEET_PODMAN_RUNROOT:-/run/containers/storage}
CONF_DIR=${RAGFLEET_CONTAINERS_CONF_DIR:-/etc/containers}

packages=(
  podman          # the Molecule driver's engine
  runc            # the OCI runtime that works here (crun does not)
  uidmap          # newuidmap/newgidmap, which podman expects even as root
  slirp4netns     # user-mode networking fallback
  fuse-overlayfs  # storage driver fallback where kernel overlay is refused
  debootstrap     # builds the base image (no registry to pull from)
  tar
)

if [ "$(id -u)" -ne 0 ]; then
  echo "podman-setup: run as root (rootful podman is what the scenarios use)" >&2
  exit 1
fi

missing=()
for pkg in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "podman-setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Write $2 to $1 only if it differs, so a second run leaves the files (and their mtimes) alone.
write_if_changed() {
  local path=$1 content=$2
  install -d -m 0755 "$(dirname "$path")"
  printf '%s\n' "$content" >"$path.tmp"
  if cmp -s "$path.tmp" "$path"; then
    rm -f "$path.tmp"
    return 0
  fi
  mv "$path.tmp" "$path"
  echo "podman-setup: wrote $path"
}

# Kernel overlay where the kernel offers it, else fuse-overlayfs, else vfs (slow but always works).
driver=vfs
mount_program=
if grep -qw overlay /proc/filesystems; then
  driver=overlay
elif [ -e /dev/fuse ] && command -v fuse-overlayfs >/dev/null; then
  driver=overlay
  mount_program='mount_program = "/usr/bin/fuse-overlayfs"'
fi

write_if_changed "$CONF_DIR/containers.conf" "# Written by ragfleet scripts/podman-setup.sh.
[containers]
default_ulimits = [\"nofile=20000:20000\", \"nproc=32768:32768\"]

[engine]
runtime = \"runc\"
cgroup_manager = \"cgroupfs\"
events_logger = \"file\""

write_if_changed "$CONF_DIR/storage.conf" "# Written by ragfleet scripts/podman-setup.sh.
[storage]
driver = \"$driver\"
graphroot = \"$PODMAN_ROOT\"
runroot = \"$PODMAN_RUNROOT\"

[storage.options.overlay]
${mount_program}"

# No registry is reachable: short names must not prompt or try docker.io.
write_if_changed "$CONF_DIR/registries.conf" "# Written by ragfleet scripts/podman-setup.sh.
unqualified-search-registries = []
short-name-mode = \"permissive\""

# The default policy.json ships with golang-github-containers-common; make sure one exists.
if [ ! -f "$CONF_DIR/policy.json" ]; then
  write_if_changed "$CONF_DIR/policy.json" '{"default": [{"type": "insecureAcceptAnything"}]}'
fi

install -d -m 0700 "$PODMAN_ROOT"
install -d -m 0700 "$PODMAN_RUNROOT"

if ! info=$(podman info --format '{{.Host.OCIRuntime.Name}} {{.Store.GraphDriverName}} {{.Host.CgroupsVersion}}' 2>&1); then
  echo "podman-setup: podman info failed:" >&2
  echo "$info" >&2
  exit 1
fi
echo "podman-setup: ok (runtime, storage, cgroups: $info)"
