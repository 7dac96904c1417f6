"""Docker's rendered daemon.json registers the NVIDIA runtime."""

from __future__ import annotations

import json
from pathlib import Path


def test_daemon_json_registers_the_nvidia_runtime(rendered: Path) -> None:
    daemon = json.loads((rendered / "daemon.json").read_text())
    assert daemon["runtimes"]["nvidia"]["path"] == "nvidia-container-runtime"
    assert daemon["live-restore"] is True
