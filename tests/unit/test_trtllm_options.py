"""The tensorrt_llm role's trtllm-serve options: what it renders is accepted by the pinned
TensorRT-LLM release, and the role, the profile schema and the Python model share one
quantisation vocabulary.

TensorRT-LLM's LLM API argument classes forbid unknown fields, so a key the backend does not
declare stops trtllm-serve at start-up. The field lists the role may use are pinned in
ansible/roles/tensorrt_llm/files/llm_args_fields-1.2.0.json (sources in docs/versions.md). The
options file is rendered by Ansible itself from the role's own defaults, vars and template, with
each hardware profile's values mapped as ansible/group_vars/gpu_inference.yml maps them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import typing
from pathlib import Path
from typing import Any

import pytest
import yaml

from ragfleet.hardware.loader import (
    DEFAULT_PROFILES_DIR,
    MIN_COMPUTE_CAPABILITY,
    PYTORCH_QUANTISATIONS,
    list_profiles,
)
from ragfleet.hardware.model import Backend, Quantisation

REPO = Path(__file__).resolve().parents[2]
ROLE = REPO / "ansible" / "roles" / "tensorrt_llm"
PINNED = ROLE / "files" / "llm_args_fields-1.2.0.json"
SCHEMA = DEFAULT_PROFILES_DIR / "profile.schema.json"
PROFILES = ["small", "medium", "large"]
BACKENDS = ["pytorch", "tensorrt"]

# The role's variables as the group vars set them from the profile (gpu_inference.yml).
_PLAYBOOK = """
- name: Render the TensorRT-LLM options for every profile and backend
  hosts: localhost
  connection: local
  gather_facts: false
  vars_files:
    - {role}/defaults/main.yml
    - {role}/vars/main.yml
  vars:
    ansible_python_interpreter: "{{{{ ansible_playbook_python }}}}"
    profile_file: "{profiles}/{{{{ item.profile }}}}.yaml"
  tasks:
    - name: Render extra_llm_api_options.yml
      ansible.builtin.template:
        src: {role}/templates/extra_llm_api_options.yml.j2
        dest: "{out}/{{{{ item.profile }}}}-{{{{ item.backend }}}}.yml"
        mode: "0600"
      loop: "{{{{ combos }}}}"
      vars:
        hw: "{{{{ lookup('ansible.builtin.file', profile_file) | from_yaml }}}}"
        tensorrt_llm_model: "{{{{ hw.trtllm.model }}}}"
        tensorrt_llm_quantisation: "{{{{ hw.trtllm.quantisation }}}}"
        tensorrt_llm_tensor_parallel_size: "{{{{ hw.trtllm.tensor_parallel_size }}}}"
        tensorrt_llm_max_batch_size: "{{{{ hw.trtllm.max_batch_size }}}}"
        tensorrt_llm_kv_cache_free_gpu_memory_fraction: >-
          {{{{ hw.trtllm.kv_cache_free_gpu_memory_fraction }}}}
        tensorrt_llm_backend: "{{{{ item.backend }}}}"
"""


def _load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


@pytest.fixture(scope="module")
def pinned() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(PINNED.read_text())
    return data


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], dict[str, Any]]:
    """Options as trtllm-serve would read them, keyed by (profile, backend)."""
    tool = Path(sys.executable).parent / "ansible-playbook"
    assert tool.exists(), f"ansible-playbook is missing from {tool.parent}: run `make venv`"
    work = tmp_path_factory.mktemp("trtllm-options")
    playbook = work / "render.yml"
    playbook.write_text(_PLAYBOOK.format(role=ROLE, out=work, profiles=DEFAULT_PROFILES_DIR))
    combos = [{"profile": p, "backend": b} for p in PROFILES for b in BACKENDS]
    env = dict(os.environ)
    env.update(ANSIBLE_HOME=str(work / "ansible-home"), ANSIBLE_NOCOLOR="1")
    env.pop("ANSIBLE_CONFIG", None)
    result = subprocess.run(
        [str(tool), "-i", "localhost,", str(playbook), "-e", json.dumps({"combos": combos})],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    return {
        (c["profile"], c["backend"]): _load_yaml(work / f"{c['profile']}-{c['backend']}.yml")
        for c in combos
    }


def unknown_keys(options: dict[str, Any], backend: str, pinned: dict[str, Any]) -> list[str]:
    """Keys the backend's argument classes do not declare, with their dotted path."""
    problems = [key for key in options if key not in pinned["backends"][backend]["fields"]]
    for key, value in options.items():
        if not isinstance(value, dict):
            continue
        nested = pinned["nested"].get(key)
        if nested is None or backend not in nested["backends"]:
            problems.append(f"{key} (no pinned field list for {backend})")
            continue
        problems += [f"{key}.{sub}" for sub in value if sub not in nested["fields"]]
    return problems


# --- every key is a field of the pinned release -------------------------------------------


def test_the_profiles_are_the_ones_rendered() -> None:
    assert list_profiles() == sorted(PROFILES)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("profile", PROFILES)
def test_every_rendered_key_is_a_field_of_the_backends_arguments(
    rendered: dict[tuple[str, str], dict[str, Any]],
    pinned: dict[str, Any],
    profile: str,
    backend: str,
) -> None:
    options = rendered[(profile, backend)]
    assert unknown_keys(options, backend, pinned) == [], (
        f"{profile}/{backend}: trtllm-serve {pinned['release']} rejects these keys"
    )


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("profile", PROFILES)
def test_prometheus_metrics_are_switched_on(
    rendered: dict[tuple[str, str], dict[str, Any]], profile: str, backend: str
) -> None:
    """trtllm-serve mounts /prometheus/metrics only with return_perf_metrics."""
    assert rendered[(profile, backend)]["return_perf_metrics"] is True


@pytest.mark.parametrize("profile", PROFILES)
def test_pytorch_backend_collects_the_iteration_stats_behind_the_kv_cache_gauges(
    rendered: dict[tuple[str, str], dict[str, Any]], profile: str
) -> None:
    assert rendered[(profile, "pytorch")]["enable_iter_perf_stats"] is True


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("profile", PROFILES)
def test_kv_cache_fraction_is_the_profiles(
    rendered: dict[tuple[str, str], dict[str, Any]], profile: str, backend: str
) -> None:
    expected = _load_yaml(DEFAULT_PROFILES_DIR / f"{profile}.yaml")["trtllm"]
    options = rendered[(profile, backend)]
    assert options["kv_cache_config"] == {
        "free_gpu_memory_fraction": expected["kv_cache_free_gpu_memory_fraction"]
    }


@pytest.mark.parametrize(
    ("profile", "quant_algo"), [("small", "W4A16"), ("medium", "FP8"), ("large", "W8A16")]
)
def test_tensorrt_backend_quantises_the_engine_as_the_profile_says(
    rendered: dict[tuple[str, str], dict[str, Any]],
    pinned: dict[str, Any],
    profile: str,
    quant_algo: str,
) -> None:
    options = rendered[(profile, "tensorrt")]
    assert options["quant_config"] == {"quant_algo": quant_algo}
    assert quant_algo in pinned["quant_algo"]["values"]


@pytest.mark.parametrize("profile", PROFILES)
def test_pytorch_backend_takes_the_quantisation_from_the_checkpoint(
    rendered: dict[tuple[str, str], dict[str, Any]], profile: str
) -> None:
    assert "quant_config" not in rendered[(profile, "pytorch")]


# --- one quantisation vocabulary ------------------------------------------------------------


def _schema_enum(key: str) -> set[str]:
    schema = json.loads(SCHEMA.read_text())
    return set(schema["$defs"]["TrtLlmSettings"]["properties"][key]["enum"])


def _role_choices(variable: str) -> set[str]:
    specs = _load_yaml(ROLE / "meta" / "argument_specs.yml")
    return set(specs["argument_specs"]["main"]["options"][variable]["choices"])


def test_profile_schema_python_model_and_role_share_one_quantisation_vocabulary() -> None:
    role_vars = _load_yaml(ROLE / "vars" / "main.yml")
    vocabularies = {
        "profile.schema.json trtllm.quantisation": _schema_enum("quantisation"),
        "ragfleet.hardware.model.Quantisation": set(typing.get_args(Quantisation)),
        "ragfleet.hardware.loader.MIN_COMPUTE_CAPABILITY": set(MIN_COMPUTE_CAPABILITY),
        "tensorrt_llm vars _tensorrt_llm_quant_algos": set(role_vars["_tensorrt_llm_quant_algos"]),
        "tensorrt_llm argument_specs choices": _role_choices("tensorrt_llm_quantisation"),
    }
    assert len({frozenset(v) for v in vocabularies.values()}) == 1, vocabularies


def test_role_default_quantisation_is_in_the_vocabulary() -> None:
    defaults = _load_yaml(ROLE / "defaults" / "main.yml")
    assert defaults["tensorrt_llm_quantisation"] in typing.get_args(Quantisation)


def test_profile_and_role_agree_on_what_the_pytorch_backend_serves() -> None:
    role_vars = _load_yaml(ROLE / "vars" / "main.yml")
    assert set(role_vars["_tensorrt_llm_pytorch_quantisations"]) == set(PYTORCH_QUANTISATIONS)


def test_profile_schema_python_model_and_role_share_the_backends() -> None:
    defaults = _load_yaml(ROLE / "defaults" / "main.yml")
    backends = set(typing.get_args(Backend))
    assert _schema_enum("backend") == backends == _role_choices("tensorrt_llm_backend")
    assert defaults["tensorrt_llm_backend"] == "pytorch"
