"""The exporters' rendered units: private addresses, and the DCGM counters file read."""

from __future__ import annotations

import re
from pathlib import Path


def test_exporters_listen_on_the_private_address(rendered: Path) -> None:
    assert (
        "--web.listen-address=10.20.1.11:9100" in (rendered / "node_exporter.service").read_text()
    )
    assert "--collector.mdadm" in (rendered / "node_exporter.service").read_text()
    assert "--publish 10.20.1.11:9400:9400" in (rendered / "dcgm-exporter.service").read_text()


def test_dcgm_exporter_reads_the_mounted_counters_file(rendered: Path) -> None:
    """Without -f the image's default counters apply, which leave out the throttling fields."""
    unit = (rendered / "dcgm-exporter.service").read_text()
    mount = re.search(r"--volume (\S+):(\S+):ro", unit)
    assert mount, "the counters file is not mounted read-only"
    assert mount.group(1) == "/etc/dcgm-exporter/ragfleet-counters.csv"
    assert re.search(rf"-f {re.escape(mount.group(2))}\s*$", unit, re.MULTILINE), (
        "dcgm-exporter is not started with -f on the mounted file"
    )
