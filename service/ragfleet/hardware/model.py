"""The typed shape of a hardware profile and of the AWS instance catalogue.

These structs are the schema: decoding rejects unknown keys, wrong types and out-of-range values,
and hardware_profiles/profile.schema.json is generated from them (see ``ragfleet.hardware.schema``).
Keys are snake_case because Ansible, Terraform and Python all read the same files.
"""

from typing import Annotated, Literal

import msgspec

PositiveInt = Annotated[int, msgspec.Meta(ge=1)]
NonNegativeInt = Annotated[int, msgspec.Meta(ge=0)]
Identifier = Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9_]*$")]
InstanceTypeName = Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9-]*\.[a-z0-9]+$")]
ComputeCapability = Annotated[float, msgspec.Meta(ge=5.0, le=20.0)]
# The one quantisation vocabulary: the tensorrt_llm role accepts exactly these values (its
# vars/main.yml and meta/argument_specs.yml; tests/unit/test_trtllm_options.py holds them equal).
Quantisation = Literal["bf16", "fp16", "fp8", "int8_wo", "int4_wo", "int4_awq"]
# How trtllm-serve runs the model: pytorch serves the checkpoint as it is, tensorrt builds an
# engine (and quantises it while building).
Backend = Literal["pytorch", "tensorrt"]
RaidLevel = Literal["none", "raid0", "raid1", "raid10"]


class _Strict(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Base for every struct here: unknown keys are typos, so they are errors."""


class Capacity(_Strict):
    requests_per_minute: PositiveInt


class HostMinimums(_Strict):
    min_cores: PositiveInt
    min_ram_gib: PositiveInt


class GpuRequirement(_Strict):
    class_name: Identifier
    model: str
    min_count: PositiveInt
    min_memory_gib: PositiveInt
    min_compute_capability: ComputeCapability


class NvmeRequirement(_Strict):
    min_devices: NonNegativeInt
    min_total_gb: NonNegativeInt
    raid_level: RaidLevel


class ServiceSettings(_Strict):
    workers: Annotated[int, msgspec.Meta(ge=1, le=64)]


class TrtLlmSettings(_Strict):
    model: str
    quantisation: Quantisation
    tensor_parallel_size: PositiveInt
    max_batch_size: PositiveInt
    kv_cache_free_gpu_memory_fraction: Annotated[float, msgspec.Meta(gt=0.0, le=1.0)]
    backend: Backend = "pytorch"


class RoleSize(_Strict):
    instance_type: InstanceTypeName
    data_volume_gib: NonNegativeInt


class AwsRoles(_Strict):
    datastore: RoleSize
    monitoring: RoleSize
    gateway: RoleSize


class AwsPlacement(_Strict):
    instance_type: InstanceTypeName
    allowed_instance_types: tuple[InstanceTypeName, ...]
    gpu_stand_in: str
    gpu_stand_in_reason: str
    root_volume_gib: Annotated[int, msgspec.Meta(ge=20)]
    data_volume_gib: NonNegativeInt
    roles: AwsRoles

    @property
    def all_instance_types(self) -> tuple[str, ...]:
        """The default type first, then the vetted alternatives."""
        return (self.instance_type, *self.allowed_instance_types)


class Profile(_Strict):
    name: Identifier
    description: str
    capacity: Capacity
    host: HostMinimums
    gpu: GpuRequirement
    nvme: NvmeRequirement
    service: ServiceSettings
    trtllm: TrtLlmSettings
    aws: AwsPlacement


class GpuModel(_Strict):
    architecture: str
    compute_capability: ComputeCapability
    memory_gib: PositiveInt
    memory_bandwidth_gbps: PositiveInt


class InstanceType(_Strict):
    family: str
    vcpus: PositiveInt
    ram_gib: PositiveInt
    gpu_model: str
    gpu_count: PositiveInt
    gpu_memory_gib: PositiveInt
    compute_capability: ComputeCapability
    nvme_count: NonNegativeInt
    nvme_size_gb: NonNegativeInt

    @property
    def nvme_total_gb(self) -> int:
        return self.nvme_count * self.nvme_size_gb


class Catalogue(_Strict):
    gpus: dict[str, GpuModel]
    instance_types: dict[InstanceTypeName, InstanceType]
