"""Facts about a host that a hardware profile constrains: cores, RAM, GPUs, NVMe, RAID.

Parsing is kept apart from reading so tests can feed real-world text and JSON facts without
touching the machine; ``gather`` is the only function that reads /proc, /sys or runs nvidia-smi.
"""

import os
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import msgspec

NVIDIA_SMI_QUERY = ("--query-gpu=name,memory.total,driver_version", "--format=csv,noheader,nounits")
# AWS exposes EBS volumes as NVMe too; only instance store (or on-prem drives) count as local NVMe.
EBS_MODEL = "Amazon Elastic Block Store"
_NVME_NAMESPACE = re.compile(r"^nvme[0-9]+n[0-9]+$")


class GpuFact(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    name: str
    memory_mib: int
    driver_version: str = ""


class DiskFact(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    name: str
    size_bytes: int
    model: str = ""


class RaidFact(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    name: str
    level: str
    devices: tuple[str, ...] = ()


class HostFacts(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """What ``ragfleet profile check --facts FILE.json`` reads; ``gather`` produces the same."""

    cpu_count: int
    mem_total_kib: int
    gpus: tuple[GpuFact, ...] = ()
    nvme: tuple[DiskFact, ...] = ()
    raid: tuple[RaidFact, ...] = ()
    notes: tuple[str, ...] = ()


class FactsError(Exception):
    """A facts file is unreadable or does not have the expected shape."""


def parse_meminfo(text: str) -> int:
    """MemTotal in KiB from /proc/meminfo."""
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        if key == "MemTotal":
            return int(rest.split()[0])
    raise ValueError("/proc/meminfo has no MemTotal line")


def parse_nvidia_smi(text: str) -> tuple[GpuFact, ...]:
    """GPUs from ``nvidia-smi --query-gpu=name,memory.total[,driver_version] --format=csv,
    noheader,nounits`` (the driver column is optional so facts saved by older versions parse)."""
    gpus = []
    for line in text.splitlines():
        if not line.strip():
            continue
        name, memory, *driver = (field.strip() for field in line.split(","))
        gpus.append(
            GpuFact(name=name, memory_mib=int(float(memory)), driver_version="".join(driver[:1]))
        )
    return tuple(gpus)


def parse_mdstat(text: str) -> tuple[RaidFact, ...]:
    """Active md arrays from /proc/mdstat, e.g. ``md0 : active raid0 nvme2n1[1] nvme1n1[0]``."""
    arrays = []
    for line in text.splitlines():
        name, sep, rest = line.partition(" : ")
        words = rest.split()
        if not sep or not name.startswith("md") or len(words) < 2 or words[0] != "active":
            continue
        devices = tuple(sorted(word.split("[")[0] for word in words[2:]))
        arrays.append(RaidFact(name=name.strip(), level=words[1], devices=devices))
    return tuple(arrays)


def read_nvme(sys_block: Path) -> tuple[DiskFact, ...]:
    """Whole NVMe namespaces under /sys/block with their size and model."""
    disks = []
    for entry in sorted(sys_block.glob("nvme*")):
        if not _NVME_NAMESPACE.match(entry.name):
            continue  # a hidden multipath node such as nvme0c0n1
        sectors = int((entry / "size").read_text().strip() or 0)
        model_file = entry / "device" / "model"
        model = model_file.read_text().strip() if model_file.exists() else ""
        disks.append(DiskFact(name=entry.name, size_bytes=sectors * 512, model=model))
    return tuple(disks)


def load_facts(path: Path) -> HostFacts:
    """Facts gathered elsewhere (e.g. on the target host) and saved as JSON."""
    try:
        return msgspec.json.decode(path.read_bytes(), type=HostFacts)
    except OSError as error:
        raise FactsError(f"{path}: cannot read: {error.strerror}") from error
    except msgspec.DecodeError as error:
        raise FactsError(f"{path}: not host facts: {error}") from error


Runner = Callable[[list[str]], str]


def _run_nvidia_smi(command: list[str]) -> str:
    result = subprocess.run(command, capture_output=True, text=True, timeout=30, check=True)  # noqa: S603
    return result.stdout


def gather(root: Path = Path("/"), run: Runner = _run_nvidia_smi) -> HostFacts:
    """Read this host's facts; ``root`` and ``run`` let the reading be pointed elsewhere."""
    notes: list[str] = []
    smi = shutil.which("nvidia-smi")
    gpus: tuple[GpuFact, ...] = ()
    if smi is None:
        notes.append("nvidia-smi not found: no NVIDIA driver on this host")
    else:
        try:
            gpus = parse_nvidia_smi(run([smi, *NVIDIA_SMI_QUERY]))
        except (subprocess.SubprocessError, OSError, ValueError) as error:
            notes.append(f"nvidia-smi failed: {error}")
    mdstat = root / "proc" / "mdstat"
    return HostFacts(
        cpu_count=os.cpu_count() or 0,
        mem_total_kib=parse_meminfo((root / "proc" / "meminfo").read_text()),
        gpus=gpus,
        nvme=read_nvme(root / "sys" / "block"),
        raid=parse_mdstat(mdstat.read_text()) if mdstat.exists() else (),
        notes=tuple(notes),
    )
