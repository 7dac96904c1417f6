"""The nvidia_container_toolkit preflight refuses a driver below the floor of the GPU's class,
read from hardware_profiles/nvidia_driver.yaml, on recorded nvidia-smi output of real cards."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from tests.ansible.plays import ansible_env, run, tool
from tests.support.nvidia_smi import FAKE

PLAY = Path(__file__).resolve().parents[1] / "gpu" / "role-preflight.yml"


def preflight(tmp_path: Path, card: str) -> tuple[int, str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "nvidia-smi").symlink_to(FAKE)
    env = ansible_env()
    env["PATH"] = f"{bin_dir}{os.pathsep}{env['PATH']}"
    env["RAGFLEET_FAKE_GPU"] = card
    interpreter = f"ansible_python_interpreter={sys.executable}"
    role = "smoke_role=nvidia_container_toolkit"
    result = run(
        tool("ansible-playbook"), "-i", "localhost,", "-e", interpreter, "-e", role, PLAY, env=env
    )
    return result.returncode, result.stdout + result.stderr


@pytest.mark.parametrize("card", ["rtx3080-10gb-r580", "h100-x8-r580", "l40s-r595"])
def test_preflight_passes_an_r580_or_newer_driver(tmp_path: Path, card: str) -> None:
    returncode, output = preflight(tmp_path, card)
    assert returncode == 0, output[-3000:]


def test_preflight_refuses_an_r535_geforce_driver_naming_driver_floor_and_why(
    tmp_path: Path,
) -> None:
    returncode, output = preflight(tmp_path, "rtx3080-10gb-r535")
    assert returncode != 0
    assert (
        "driver 535.247.01 on NVIDIA GeForce RTX 3080 is too old: "
        "nvcr.io/nvidia/tensorrt-llm/release:1.2.0 (CUDA 13) needs R580 or newer on geforce GPUs"
    ) in output
    assert "no CUDA forward compatibility" in output


def test_preflight_refuses_an_r570_data_center_driver(tmp_path: Path) -> None:
    returncode, output = preflight(tmp_path, "l4-r570")
    assert returncode != 0
    assert "driver 570.133.20 on NVIDIA L4 is too old" in output
    assert "R535 LTSB" in output
