"""GPUs as nvidia-smi names them, matched against a hardware profile's model and the GPUs the
AWS catalogue lets stand in for it (the conformance tests use these; tests/ansible tests them)."""

from dataclasses import dataclass

from ragfleet.hardware import Profile, load_catalogue


@dataclass(frozen=True)
class Gpu:
    name: str
    memory_mib: int
    compute_capability: float


def parse_gpus(text: str) -> list[Gpu]:
    """Lines of ``name, memory.total [MiB], compute_cap`` from nvidia-smi."""
    gpus = []
    for line in text.splitlines():
        if line.strip():
            name, memory, capability = (field.strip() for field in line.rsplit(",", 2))
            gpus.append(Gpu(name, int(float(memory)), float(capability)))
    return gpus


def accepted_models(profile: Profile) -> list[str]:
    """The profile's model, then the catalogue's GPUs that may stand in for it on AWS."""
    catalogue = load_catalogue()
    stand_ins = [profile.aws.gpu_stand_in] + [
        catalogue.instance_types[t].gpu_model
        for t in profile.aws.all_instance_types
        if t in catalogue.instance_types
    ]
    return [profile.gpu.model, *dict.fromkeys(stand_ins)]


def model_matches(name: str, model: str) -> bool:
    """``NVIDIA A100-SXM4-40GB`` is an A100-40GB; ``NVIDIA L40S`` is no L4: whole tokens only."""
    tokens = set(name.upper().replace("-", " ").split())
    return name.upper() == model.upper() or set(model.upper().replace("-", " ").split()) <= tokens
