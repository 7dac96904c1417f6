#!/usr/bin/env bash
# Builds the systemd base image the Molecule scenarios boot, without a container registry:
# debootstrap a minimal Debian 12 from the mirror apt already uses on this host, add what Ansible,
# systemd and testinfra need, and `podman import` it. Skips everything when the image exists
# (delete it with `podman rmi localhost/ragfleet-molecule-base:bookworm` to rebuild).
#   RAGFLEET_BASE_IMAGE  image name (default localhost/ragfleet-molecule-base:bookworm)
#   RAGFLEET_MIRROR      Debian mirror URL (default: the first URIs: line of apt's debian.sources)
set -euo pipefail

IMAGE=${RAGFLEET_BASE_IMAGE:-localhost/ragfleet-molecule-base:bookworm}
SUITE=bookworm
SOURCES=/etc/apt/sources.list.d/debian.sources

# python3 + python3-apt: Ansible's modules and the apt module; systemd, systemd-sysv, dbus: a
# real /sbin/init so services start; iproute2: `ss` for testinfra's socket checks; sudo: the
# playbooks use become (become_method = sudo in ansible/ansible.cfg).
PACKAGES=python3,python3-apt,systemd,systemd-sysv,dbus,iproute2,ca-certificates,sudo

if [ "$(id -u)" -ne 0 ]; then
  echo "build-base-image: run as root (debootstrap and rootful podman)" >&2
  exit 1
fi

if podman image exists "$IMAGE"; then
  echo "build-base-image: $IMAGE exists, nothing to do"
  exit 0
fi

mirror=${RAGFLEET_MIRROR:-}
if [ -z "$mirror" ]; then
  if [ -f "$SOURCES" ]; then
    # The first URIs: line is the main archive (the security archive comes after it).
    mirror=$(awk '/^URIs:/ {print $2; exit}' "$SOURCES")
  elif [ -f /etc/apt/sources.list ]; then
    mirror=$(awk '$1 == "deb" && $0 !~ /security/ {print $2; exit}' /etc/apt/sources.list)
  fi
fi
if [ -z "$mirror" ]; then
  echo "build-base-image: no Debian mirror found in $SOURCES; set RAGFLEET_MIRROR" >&2
  exit 1
fi

rootfs=$(mktemp -d /var/tmp/ragfleet-base.XXXXXX)
trap 'rm -rf --one-file-system "$rootfs"' EXIT

start=$(date +%s)
echo "build-base-image: debootstrap $SUITE from $mirror"
# --include installs the extra packages in the same run (one dependency resolution, no chroot apt).
debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$rootfs" "$mirror" >"$rootfs.log" 2>&1 || {
  tail -30 "$rootfs.log" >&2
  exit 1
}
rm -f "$rootfs.log"
bootstrapped=$(date +%s)

# The image gets the host's apt sources (the same mirror), empty package lists and no caches:
# prepare.yml runs `apt update` in the container.
if [ -f "$SOURCES" ]; then
  install -D -m 0644 "$SOURCES" "$rootfs$SOURCES"
  rm -f "$rootfs/etc/apt/sources.list"
fi
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb
# A container needs no getty, and systemd must not wait on udev-settle or remount /.
for unit in getty@tty1.service console-getty.service systemd-udevd.service systemd-remount-fs.service; do
  ln -sf /dev/null "$rootfs/etc/systemd/system/$unit"
done
: >"$rootfs/etc/machine-id"

echo "build-base-image: podman import $IMAGE"
tar -C "$rootfs" -c . | podman import --quiet \
  --change 'CMD ["/sbin/init"]' --change 'STOPSIGNAL SIGRTMIN+3' - "$IMAGE" >/dev/null
imported=$(date +%s)

size=$(podman image inspect --format '{{.Size}}' "$IMAGE")
echo "build-base-image: done — debootstrap $((bootstrapped - start)) s, import $((imported - bootstrapped)) s," \
  "$((size / 1024 / 1024)) MiB"
