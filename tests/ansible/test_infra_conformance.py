"""tests/infra/test_conformance.py run against this GPU-less machine through testinfra's local
backend: it must fail with what the profile expects where the hardware is missing, and pass where a
profile asks for no more than the machine has. A manifest in a temporary directory stands in for
the /var/lib/ragfleet/hardware-profile.json that site.yml writes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
PROFILES = REPO / "hardware_profiles"
MODULE = "tests/infra/test_conformance.py"
PYTEST = (sys.executable, "-m", "pytest", "-p", "no:cacheprovider")

pytestmark = pytest.mark.skipif(
    shutil.which("nvidia-smi") is not None, reason="this machine has nvidia-smi: not GPU-less"
)


def run_conformance(
    tmp_path: Path, manifest: dict[str, object], profiles: Path = PROFILES
) -> subprocess.CompletedProcess[str]:
    manifest_file = tmp_path / "hardware-profile.json"
    manifest_file.write_text(json.dumps(manifest))
    env = dict(os.environ)
    env["RAGFLEET_HARDWARE_MANIFEST"] = str(manifest_file)
    env["RAGFLEET_HARDWARE_PROFILES"] = str(profiles)
    return subprocess.run(
        [*PYTEST, MODULE, "--hosts=local://", "-m", "conformance", "-rA", "--tb=line", "-q"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def gpu_manifest(profile: str, data_dir: Path) -> dict[str, object]:
    return {
        "profile": profile,
        "gpu": True,
        "install": True,
        "check_hardware": True,
        "data_dir": str(data_dir),
        "groups": ["gpu_inference"],
    }


def test_a_gpu_less_host_fails_the_large_profile_saying_what_is_missing(tmp_path: Path) -> None:
    result = run_conformance(tmp_path, gpu_manifest("large", tmp_path / "data"))
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    expects = "profile large expects 8 x NVIDIA A100-SXM4-40GB"
    for check in ("model_and_count", "memory", "compute_capability"):
        assert f"FAILED {MODULE}::test_gpu_{check}" in output
    assert f"nvidia-smi not found: {expects}" in output
    assert "profile large expects RAID 0 over 4 NVMe devices" in output
    assert f"FAILED {MODULE}::test_nvme_raid0_array" in output
    assert f"data path {tmp_path / 'data'} is not a mount point" in output
    if (os.cpu_count() or 0) < 32:
        assert "cores (nproc): profile large expects at least 32" in output
    assert "SKIPPED" not in output, "every check applies to a GPU host of the large profile"


def test_a_profile_within_this_machine_passes_and_says_why_gpu_checks_do_not_apply(
    tmp_path: Path,
) -> None:
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    shutil.copy(PROFILES / "aws_instance_types.yaml", profiles)
    honest = yaml.safe_load((PROFILES / "small.yaml").read_text())
    honest["host"] = {"min_cores": 1, "min_ram_gib": 1}
    (profiles / "small.yaml").write_text(yaml.safe_dump(honest))
    manifest = gpu_manifest("small", tmp_path) | {"gpu": False}

    result = run_conformance(tmp_path, manifest, profiles)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert f"PASSED {MODULE}::test_cores" in output
    assert f"PASSED {MODULE}::test_ram" in output
    assert "converged with gpu false, no GPU expected" in output
    assert "FAILED" not in output


def test_gpu_names_match_the_profile_model_or_its_aws_stand_ins() -> None:
    from ragfleet.hardware import load_profile
    from tests.infra.gpus import accepted_models, model_matches, parse_gpus

    gpus = parse_gpus("NVIDIA A100-SXM4-40GB, 40960, 8.0\nNVIDIA L40S, 46068, 8.9\n")
    assert [(g.name, g.memory_mib, g.compute_capability) for g in gpus] == [
        ("NVIDIA A100-SXM4-40GB", 40960, 8.0),
        ("NVIDIA L40S", 46068, 8.9),
    ]
    large = accepted_models(load_profile("large"))
    assert any(model_matches("NVIDIA A100-SXM4-40GB", m) for m in large)
    assert any(model_matches("NVIDIA H100 80GB HBM3", m) for m in large)  # p5.48xlarge
    medium = accepted_models(load_profile("medium"))
    assert any(model_matches("NVIDIA L4", m) for m in medium)  # the AWS stand-in
    assert not model_matches("NVIDIA L40S", "L4")
    assert not any(model_matches("NVIDIA A10G", m) for m in medium)  # SM 8.6: no FP8
