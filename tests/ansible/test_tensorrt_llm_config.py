"""The TensorRT-LLM unit takes the large profile's options and publishes on loopback only."""

from __future__ import annotations

import re
from pathlib import Path

from tests.ansible.plays import load_yaml


def test_tensorrt_llm_unit_takes_the_large_profile_and_publishes_privately(rendered: Path) -> None:
    unit = (rendered / "tensorrt-llm.service").read_text()
    options = load_yaml(rendered / "extra_llm_api_options.yml")
    for flag in (
        "--tp_size 8",
        "--max_batch_size 64",
        "--kv_cache_free_gpu_memory_fraction 0.9",
        "--ipc host",
        "--ulimit memlock=-1",
        "--ulimit stack=67108864",
        "--host 0.0.0.0",
    ):
        assert flag in unit, flag
    assert re.findall(r"--publish (\S+)", unit) == ["127.0.0.1:8001:8001"]
    assert "nvcr.io/nvidia/tensorrt-llm/release:" in unit
    assert options["quant_config"]["quant_algo"] == "W8A16"
    assert options["kv_cache_config"]["free_gpu_memory_fraction"] == 0.9
