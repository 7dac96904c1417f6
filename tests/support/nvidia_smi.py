"""Put tests/support/fake-nvidia-smi on PATH as ``nvidia-smi`` for one recorded card."""

import os
from pathlib import Path

import pytest

SUPPORT = Path(__file__).resolve().parent
FAKE = SUPPORT / "fake-nvidia-smi"
FIXTURES = SUPPORT.parent / "fixtures" / "nvidia-smi"
CARDS = sorted(p.name for p in FIXTURES.iterdir() if p.is_dir())


def install_fake(monkeypatch: pytest.MonkeyPatch, bin_dir: Path, card: str) -> Path:
    """Link the fake as ``bin_dir/nvidia-smi``, put ``bin_dir`` first on PATH, choose ``card``."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    link = bin_dir / "nvidia-smi"
    if not link.exists():
        link.symlink_to(FAKE)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.setenv("RAGFLEET_FAKE_GPU", card)
    return link
