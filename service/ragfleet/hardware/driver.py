"""The NVIDIA driver floor of the pinned TensorRT-LLM image, per GPU class.

hardware_profiles/nvidia_driver.yaml is the one table; the toolkit role's preflight reads the same
file, so Python and Ansible refuse the same hosts with the same reason.
"""

import re
from pathlib import Path

import msgspec

from ragfleet.hardware.loader import DRIVER_FILE, ProfileError, profiles_dir


class DriverClass(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    name: str
    pattern: str
    min_driver: str
    why: str


class DriverTable(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    image: str
    cuda: str
    classes: tuple[DriverClass, ...]
    sources: tuple[str, ...]

    def class_of(self, gpu_name: str) -> DriverClass:
        """The first class whose pattern the name contains; the table's last one matches all."""
        for gpu_class in self.classes:
            if re.search(gpu_class.pattern, gpu_name, re.IGNORECASE):
                return gpu_class
        raise ProfileError(f"{DRIVER_FILE}: no class matches GPU {gpu_name!r}")


class DriverVerdict(msgspec.Struct, frozen=True):
    ok: bool
    found: str
    floor: str
    gpu_class: str
    message: str


def load_driver_table(directory: Path | None = None) -> DriverTable:
    path = profiles_dir(directory) / DRIVER_FILE
    try:
        return msgspec.yaml.decode(path.read_bytes(), type=DriverTable)
    except OSError as error:
        raise ProfileError(f"{path}: cannot read: {error.strerror}") from error
    except msgspec.DecodeError as error:
        raise ProfileError(f"{path}: {error}") from error


def version_tuple(version: str) -> tuple[int, ...]:
    """``580.65.06`` as (580, 65, 6); a branch such as ``580`` as (580,)."""
    return tuple(int(part) for part in version.strip().split("."))


def judge(table: DriverTable, gpu_name: str, driver: str) -> DriverVerdict:
    """Is ``driver`` at least the floor of ``gpu_name``'s class? Says why not, naming both."""
    gpu_class = table.class_of(gpu_name)
    floor = gpu_class.min_driver
    try:
        ok = version_tuple(driver) >= version_tuple(floor)
    except ValueError:
        ok = False
    if ok:
        message = f"driver {driver} >= R{floor} ({gpu_class.name})"
    else:
        message = (
            f"driver {driver or 'unknown'} on {gpu_name} is too old: {table.image} (CUDA "
            f"{table.cuda}) needs R{floor} or newer on {gpu_class.name} GPUs: {gpu_class.why}"
        )
    return DriverVerdict(
        ok=ok, found=driver, floor=floor, gpu_class=gpu_class.name, message=message
    )
