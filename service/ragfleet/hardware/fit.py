"""Does an AWS instance type meet a profile? The same rules as the Terraform precondition."""

from ragfleet.hardware.model import InstanceType, Profile


def instance_shortfalls(profile: Profile, spec: InstanceType) -> list[str]:
    """Say what ``spec`` lacks against the profile's minimums; an empty list means it fits."""
    checks = [
        (
            spec.vcpus >= profile.host.min_cores,
            f"{spec.vcpus} vCPUs, needs {profile.host.min_cores}",
        ),
        (
            spec.ram_gib >= profile.host.min_ram_gib,
            f"{spec.ram_gib} GiB RAM, needs {profile.host.min_ram_gib}",
        ),
        (
            spec.gpu_count >= profile.gpu.min_count,
            f"{spec.gpu_count} GPUs, needs {profile.gpu.min_count}",
        ),
        (
            spec.gpu_memory_gib >= profile.gpu.min_memory_gib,
            f"{spec.gpu_memory_gib} GiB per GPU, needs {profile.gpu.min_memory_gib}",
        ),
        (
            spec.compute_capability >= profile.gpu.min_compute_capability,
            f"GPU SM {spec.compute_capability}, {profile.trtllm.quantisation} needs "
            f"SM {profile.gpu.min_compute_capability}",
        ),
        (
            spec.nvme_count >= profile.nvme.min_devices,
            f"{spec.nvme_count} NVMe devices, needs {profile.nvme.min_devices}",
        ),
        (
            spec.nvme_total_gb >= profile.nvme.min_total_gb,
            f"{spec.nvme_total_gb} GB NVMe, needs {profile.nvme.min_total_gb}",
        ),
    ]
    return [message for ok, message in checks if not ok]
