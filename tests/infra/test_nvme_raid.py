"""The nvme_raid role: the data path, and where data devices were found, an XFS filesystem
mounted there by UUID with nofail (an md RAID 0 array recorded in mdadm.conf when it striped
several). Where no device was used (CI containers: no NVMe and no md driver) the role leaves a
plain directory and no half-configured mount or array; these tests check whichever it left. That
the array covers the profile's NVMe count is the conformance module's job on real hosts."""

import re

import pytest

pytestmark = pytest.mark.nvme_raid

MD_DEVICE = "/dev/md/ragfleet"
MDADM_CONF = "/etc/mdadm/mdadm.conf"


def _fstab_entries(host, path):
    entries = []
    for line in host.file("/etc/fstab").content_string.splitlines():
        fields = line.split()
        if len(fields) >= 4 and not fields[0].startswith("#") and fields[1] == path:
            entries.append(fields)
    return entries


def test_data_path_is_a_root_owned_directory(host, manifest):
    d = host.file(manifest["data_path"])
    assert d.is_directory
    assert (d.user, d.group, d.mode) == ("root", "root", 0o755)


def test_mounted_by_uuid_with_nofail_or_left_a_plain_directory(host, manifest):
    path = manifest["data_path"]
    entries = _fstab_entries(host, path)
    mounted = host.run(f"findmnt --mountpoint {path} --noheadings --output UUID,FSTYPE")
    if not entries:
        assert mounted.rc != 0, f"{path} is mounted but /etc/fstab does not say so"
        return
    assert len(entries) == 1, f"/etc/fstab mounts {path} {len(entries)} times"
    source, _, fstype, options = entries[0][:4]
    assert source.startswith("UUID="), f"{path} is mounted by {source}, not by UUID"
    assert fstype == "xfs"
    assert "nofail" in options.split(","), "a lost instance-store device would stop the boot"
    assert mounted.rc == 0, f"{path} is in /etc/fstab but not mounted"
    uuid, mounted_type = mounted.stdout.split()
    assert (f"UUID={uuid}", mounted_type) == (source, "xfs")


def test_array_recorded_exactly_when_assembled(host):
    conf = host.file(MDADM_CONF)
    lines = conf.content_string.splitlines() if conf.exists else []
    recorded = [line for line in lines if line.split()[:2] == ["ARRAY", MD_DEVICE]]
    if host.file(MD_DEVICE).exists:
        assert len(recorded) == 1, f"{MDADM_CONF} does not record {MD_DEVICE} exactly once"
        assert re.search(r"\bname=(\S+:)?ragfleet(\s|$)", recorded[0]), recorded[0]
    else:
        assert recorded == [], f"{MDADM_CONF} records {MD_DEVICE}, which does not exist"
