"""Metrics for node_exporter's textfile collector, from jobs that are not long-running servers.

The collector reads every ``*.prom`` file in its directory on each scrape; a file is written
under a temporary name (which the collector ignores) and renamed, so it never reads half of one.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from pathlib import Path


def write_textfile(
    directory: Path, name: str, gauges: Sequence[tuple[str, str, str, float]]
) -> Path:
    """Write ``gauges`` (metric name, help text, labels as ``k="v"``, value) to
    ``directory/name`` atomically, mode 0644 (node_exporter runs as its own user)."""
    lines: list[str] = []
    for metric, help_text, labels, value in gauges:
        lines += [
            f"# HELP {metric} {help_text}",
            f"# TYPE {metric} gauge",
            f"{metric}{{{labels}}} {value:.17g}",
        ]
    final = directory / name
    temporary = directory / f".{name}.{os.getpid()}.tmp"
    try:
        temporary.write_text("\n".join(lines) + "\n", encoding="utf-8")
        temporary.chmod(0o644)
        os.replace(temporary, final)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise
    return final
