"""Load hardware profiles and the AWS catalogue, and refuse them with errors a person can act on.

Every error names the file, the key and what was expected, because the same YAML feeds Terraform
and Ansible: a typo caught here would otherwise surface as an obscure plan or play failure.
"""

import os
import re
from pathlib import Path
from typing import TypeVar

import msgspec

from ragfleet.hardware.fit import instance_shortfalls
from ragfleet.hardware.model import Catalogue, Profile, Quantisation

CATALOGUE_FILE = "aws_instance_types.yaml"
# The NVIDIA driver floor per GPU class (ragfleet.hardware.driver); not a profile either.
DRIVER_FILE = "nvidia_driver.yaml"
# The services' TCP ports, read by Terraform and Ansible; not a profile either.
PORTS_FILE = "ports.yaml"
PROFILES_ENV = "RAGFLEET_HARDWARE_PROFILES"
# service/ragfleet/hardware/loader.py -> the repository root holds hardware_profiles/, which
# Terraform and Ansible read too. An installed wheel has no repository: it carries a copy of the
# same files as ragfleet/hardware/profiles/ (setup.py), used when the repository's is absent.
REPO_PROFILES_DIR = Path(__file__).resolve().parents[3] / "hardware_profiles"
PACKAGED_PROFILES_DIR = Path(__file__).resolve().parent / "profiles"
DEFAULT_PROFILES_DIR = REPO_PROFILES_DIR if REPO_PROFILES_DIR.is_dir() else PACKAGED_PROFILES_DIR

# Every quantisation value with the GPU generation it needs: FP8 kernels need Ada or Hopper; BF16
# needs Ampere or newer; the others add no floor of their own (0.0).
MIN_COMPUTE_CAPABILITY: dict[Quantisation, float] = {
    "bf16": 8.0,
    "fp16": 0.0,
    "fp8": 8.9,
    "int8_wo": 0.0,
    "int4_wo": 0.0,
    "int4_awq": 0.0,
}
# The PyTorch backend runs a checkpoint as it is: unquantised, or a pre-quantised FP8 checkpoint.
# Weight-only INT8/INT4 needs the TensorRT backend, which quantises the engine while building it.
# Same set as the tensorrt_llm role's _tensorrt_llm_pytorch_quantisations.
PYTORCH_QUANTISATIONS: frozenset[Quantisation] = frozenset({"bf16", "fp16", "fp8"})
MIN_RAID_DEVICES = {"none": 0, "raid0": 2, "raid1": 2, "raid10": 4}

_MSGSPEC_PATH = re.compile(r"^(?P<message>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.DOTALL)
_T = TypeVar("_T")


class ProfileError(Exception):
    """A profile or the catalogue is missing, malformed, or inconsistent with itself."""


def profiles_dir(override: Path | None = None) -> Path:
    """An explicit override, then $RAGFLEET_HARDWARE_PROFILES, then the repo's directory (or,
    installed from a wheel, the copy it carries)."""
    if override is not None:
        return override
    from_env = os.environ.get(PROFILES_ENV)
    return Path(from_env) if from_env else DEFAULT_PROFILES_DIR


def list_profiles(directory: Path | None = None) -> list[str]:
    """Names of the profiles in ``directory``: every YAML file except the shared tables."""
    folder = profiles_dir(directory)
    shared = {CATALOGUE_FILE, DRIVER_FILE, PORTS_FILE}
    return sorted(p.stem for p in folder.glob("*.yaml") if p.name not in shared)


def load_catalogue(directory: Path | None = None) -> Catalogue:
    """Decode the AWS instance catalogue and check each type names a known GPU model."""
    path = profiles_dir(directory) / CATALOGUE_FILE
    catalogue = _decode(path, Catalogue)
    problems = [
        f"key 'instance_types.{name}.gpu_model': expected one of {sorted(catalogue.gpus)}, "
        f"got {spec.gpu_model!r}"
        for name, spec in catalogue.instance_types.items()
        if spec.gpu_model not in catalogue.gpus
    ]
    _raise_if(path, problems)
    return catalogue


def load_profile(name: str, directory: Path | None = None) -> Profile:
    """Decode profile ``name`` and check it against itself and the catalogue."""
    folder = profiles_dir(directory)
    known = list_profiles(folder)
    if name not in known:
        raise ProfileError(
            f"unknown hardware profile {name!r}: no {folder / (name + '.yaml')}; "
            f"known profiles: {', '.join(known) or 'none'}"
        )
    path = folder / f"{name}.yaml"
    profile = _decode(path, Profile)
    _raise_if(path, consistency_problems(profile, name, load_catalogue(folder)))
    return profile


def consistency_problems(profile: Profile, file_stem: str, catalogue: Catalogue) -> list[str]:
    """Rules that span several keys, which a per-key schema cannot express."""
    problems: list[str] = []
    if profile.name != file_stem:
        problems.append(f"key 'name': expected {file_stem!r} (the file name), got {profile.name!r}")
    problems.extend(_backend_problems(profile))
    needed_sm = MIN_COMPUTE_CAPABILITY[profile.trtllm.quantisation]
    if profile.gpu.min_compute_capability < needed_sm:
        problems.append(
            f"key 'trtllm.quantisation': {profile.trtllm.quantisation} needs GPUs of "
            f"SM {needed_sm} or newer, but gpu.min_compute_capability is "
            f"{profile.gpu.min_compute_capability}"
        )
    if profile.trtllm.tensor_parallel_size > profile.gpu.min_count:
        problems.append(
            f"key 'trtllm.tensor_parallel_size': expected at most gpu.min_count "
            f"({profile.gpu.min_count}), got {profile.trtllm.tensor_parallel_size}"
        )
    raid_devices = MIN_RAID_DEVICES[profile.nvme.raid_level]
    if profile.nvme.min_devices < raid_devices:
        problems.append(
            f"key 'nvme.min_devices': {profile.nvme.raid_level} needs at least {raid_devices} "
            f"devices, got {profile.nvme.min_devices}"
        )
    for instance_type in profile.aws.all_instance_types:
        spec = catalogue.instance_types.get(instance_type)
        if spec is None:
            problems.append(
                f"key 'aws': instance type {instance_type!r} is not in {CATALOGUE_FILE}"
            )
            continue
        shortfalls = instance_shortfalls(profile, spec)
        if shortfalls:
            problems.append(
                f"key 'aws': instance type {instance_type!r} is below the profile's minimums: "
                + "; ".join(shortfalls)
            )
    return problems


def _backend_problems(profile: Profile) -> list[str]:
    """The backend can serve the quantisation, and on PyTorch the checkpoint holds it."""
    trtllm = profile.trtllm
    if trtllm.backend != "pytorch":
        return []
    if trtllm.quantisation not in PYTORCH_QUANTISATIONS:
        return [
            f"key 'trtllm.quantisation': {trtllm.quantisation} needs trtllm.backend tensorrt "
            f"(the pytorch backend serves {', '.join(sorted(PYTORCH_QUANTISATIONS))} "
            "checkpoints as they are)"
        ]
    names_fp8 = "fp8" in trtllm.model.lower()
    if (trtllm.quantisation == "fp8") != names_fp8:
        return [
            "key 'trtllm.model': with the pytorch backend the checkpoint holds the quantisation, "
            "so fp8 needs a pre-quantised FP8 checkpoint and an FP8 checkpoint needs fp8; got "
            f"{trtllm.model!r} with {trtllm.quantisation}"
        ]
    return []


def _decode(path: Path, kind: type[_T]) -> _T:
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ProfileError(f"{path}: cannot read: {error.strerror}") from error
    try:
        return msgspec.yaml.decode(data, type=kind)
    except msgspec.ValidationError as error:
        raise ProfileError(f"{path}: {_describe(str(error))}") from error
    except msgspec.DecodeError as error:
        raise ProfileError(f"{path}: not valid YAML: {error}") from error


def _describe(message: str) -> str:
    """Turn msgspec's "Expected `int`, got `str` - at `$.host.min_cores`" into key-first prose."""
    match = _MSGSPEC_PATH.match(message)
    if match is None or not match.group("path"):
        return f"at the top level: {message}"
    key = match.group("path").lstrip(".")
    return f"key '{key}': {match.group('message')}"


def _raise_if(path: Path, problems: list[str]) -> None:
    if problems:
        raise ProfileError(f"{path}:\n  " + "\n  ".join(problems))
