"""tests/gpu/smoke.sh on recorded nvidia-smi output (tests/support/fake-nvidia-smi) and a docker
whose daemon does not answer: it reports what it checked and what not, and fails only on a real
failure (here: a driver below the image's floor)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.nvidia_smi import install_fake

SMOKE = Path(__file__).resolve().parents[1] / "gpu" / "smoke.sh"


def smoke(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, card: str) -> tuple[int, str]:
    bin_dir = tmp_path / "bin"
    install_fake(monkeypatch, bin_dir, card)
    docker = bin_dir / "docker"
    docker.write_text("#!/bin/sh\necho 'Cannot connect to the Docker daemon' >&2\nexit 1\n")
    docker.chmod(0o755)
    env = {**os.environ, "PYTHON": sys.executable, "SMOKE_MODEL_DIR": str(tmp_path / "none")}
    env["PYTHONPATH"] = str(SMOKE.parents[2] / "service")
    result = subprocess.run(
        ["bash", str(SMOKE)], capture_output=True, text=True, env=env, timeout=240, check=False
    )
    return result.returncode, result.stdout + result.stderr


def test_smoke_on_an_r580_rtx_3080_reports_inventory_checks_and_skips(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    returncode, report = smoke(tmp_path, monkeypatch, "rtx3080-10gb-r580")
    assert returncode == 0, report
    assert "GPU: NVIDIA GeForce RTX 3080, 580.82.09, 10240 MiB, 8.6" in report
    assert "CUDA version the driver supports: 13.0" in report
    assert "ok: nvidia_container_toolkit preflight" in report
    assert "ok: tensorrt_llm preflight for profile small: GPUs for tensor parallelism 1" in report
    assert "too few GPUs for profile large (TP 8)" in report
    for profile in ("small", "medium", "large"):
        assert f"host against hardware profile {profile}:" in report
    assert "[  ok] gpu memory    need >= 10 GiB" in report
    assert "not checked: trtllm-serve: docker is installed but its daemon does not answer" in report
    assert report.rstrip().endswith("result: no failure")


def test_smoke_fails_on_an_r535_geforce_driver_and_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    returncode, report = smoke(tmp_path, monkeypatch, "rtx3080-10gb-r535")
    assert returncode == 1, report
    assert "FAILED: nvidia_container_toolkit preflight" in report
    assert "driver 535.247.01 on NVIDIA GeForce RTX 3080 is too old" in report
    assert "result: 1 failure(s)" in report
