"""The data_volume role: where the inventory names an EBS data volume it is mounted through
/etc/fstab by its /dev/disk/by-id link, without nofail, and its units require the mount; a host
without one (on-prem, CI containers) has no such mount and no drop-in."""

import pytest

pytestmark = pytest.mark.data_volume

LINK_PREFIX = "/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_vol"
DROPIN = "ragfleet-data-volume.conf"


def _ebs_entries(host):
    return [
        line.split()
        for line in host.file("/etc/fstab").content_string.splitlines()
        if line.startswith(LINK_PREFIX)
    ]


def test_an_ebs_volume_is_mounted_by_its_link_without_nofail(host):
    entries = _ebs_entries(host)
    if not entries:
        pytest.skip("no EBS data volume in /etc/fstab: the inventory named none")
    assert len(entries) == 1, entries
    _source, path, fstype, options = entries[0][:4]
    assert fstype == "xfs"
    assert "nofail" not in options.split(",")
    assert host.mount_point(path).exists
    assert host.mount_point(path).filesystem == "xfs"


def test_drop_ins_exactly_where_a_volume_is_mounted(host):
    dropins = host.run(f"find /etc/systemd/system -name {DROPIN}").stdout.split()
    entries = _ebs_entries(host)
    if not entries:
        assert dropins == [], f"drop-ins without a mounted volume: {dropins}"
        return
    path = entries[0][1]
    assert dropins, "the volume's units do not require its mount"
    for dropin in dropins:
        assert f"RequiresMountsFor={path}" in host.file(dropin).content_string.splitlines()
