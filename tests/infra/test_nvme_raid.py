"""The nvme_raid role: the data path, and where data devices were found, the boot unit that
re-creates a blank instance store and an XFS filesystem mounted there by label after it, without
nofail (an md RAID 0 array recorded in mdadm.conf by name when it striped several), with the units
that keep data there requiring the mount. Where no device was used (CI containers: no NVMe and no
md driver) the role leaves a plain directory and no half-configured mount, unit or array; these
tests check whichever it left. That the array covers the profile's NVMe count is the conformance
module's job on real hosts."""

import re

import pytest

pytestmark = pytest.mark.nvme_raid

MD_DEVICE = "/dev/md/ragfleet"
UNIT = "ragfleet-nvme-data.service"
DROPIN = "ragfleet-nvme-data.conf"
MDADM_CONF = "/etc/mdadm/mdadm.conf"


def _fstab_entries(host, path):
    entries = []
    for line in host.file("/etc/fstab").content_string.splitlines():
        fields = line.split()
        if len(fields) >= 4 and not fields[0].startswith("#") and fields[1] == path:
            entries.append(fields)
    return entries


def test_data_path_is_a_root_owned_directory(host, manifest):
    d = host.file(manifest["data_dir"])
    assert d.is_directory
    assert (d.user, d.group, d.mode) == ("root", "root", 0o755)


def test_mounted_by_label_after_the_boot_unit_or_left_a_plain_directory(host, manifest):
    path = manifest["data_dir"]
    entries = _fstab_entries(host, path)
    mounted = host.run(f"findmnt --mountpoint {path} --noheadings --output LABEL,FSTYPE")
    unit = host.file(f"/etc/systemd/system/{UNIT}")
    if not entries:
        assert mounted.rc != 0, f"{path} is mounted but /etc/fstab does not say so"
        assert not unit.exists, f"{UNIT} without a data filesystem to rebuild"
        return
    assert len(entries) == 1, f"/etc/fstab mounts {path} {len(entries)} times"
    source, _, fstype, options = entries[0][:4]
    assert source == "LABEL=ragfleet", f"{path} is mounted by {source}, not by label"
    assert fstype == "xfs"
    assert "nofail" not in options.split(","), "a missing data filesystem must stop its services"
    assert f"x-systemd.requires={UNIT}" in options.split(",")
    assert host.service(UNIT).is_enabled
    assert mounted.rc == 0, f"{path} is in /etc/fstab but not mounted"
    assert mounted.stdout.split() == ["ragfleet", "xfs"]


def test_units_require_the_mount_exactly_where_it_exists(host, manifest):
    path = manifest["data_dir"]
    dropins = host.run(f"find /etc/systemd/system -name {DROPIN}").stdout.split()
    if not _fstab_entries(host, path):
        assert dropins == [], f"drop-ins without a data filesystem: {dropins}"
        return
    assert any("/docker.service.d/" in d for d in dropins), dropins
    for dropin in dropins:
        assert f"RequiresMountsFor={path}" in host.file(dropin).content_string.splitlines()


def test_array_recorded_exactly_when_assembled(host):
    conf = host.file(MDADM_CONF)
    lines = conf.content_string.splitlines() if conf.exists else []
    recorded = [line for line in lines if line.split()[:2] == ["ARRAY", MD_DEVICE]]
    if host.file(MD_DEVICE).exists:
        assert len(recorded) == 1, f"{MDADM_CONF} does not record {MD_DEVICE} exactly once"
        assert re.search(r"\bname=ragfleet(\s|$)", recorded[0]), recorded[0]
        assert "UUID=" not in recorded[0], "a re-created array gets a new UUID"
    else:
        assert recorded == [], f"{MDADM_CONF} records {MD_DEVICE}, which does not exist"
