"""Compare a host's facts with a profile and say, line by line, what is missing.

Reported capacities are a little below the label: the kernel keeps some RAM and the driver some GPU
memory, so those two compare against the nominal size with a tolerance. NVMe sizes are sold in
decimal GB and reported in full, so they compare exactly.
"""

import msgspec

from ragfleet.hardware.driver import DriverTable, judge, load_driver_table
from ragfleet.hardware.facts import EBS_MODEL, HostFacts
from ragfleet.hardware.model import Profile

KIB = 1024
GIB = 1024**3
RAM_TOLERANCE = 0.95  # a 32 GiB machine reports about 31.3 GiB MemTotal
GPU_MEMORY_TOLERANCE = 0.90  # an A10G (24 GB) reports 23028 MiB, a T4 (16 GB) 15360 MiB


class Finding(msgspec.Struct, frozen=True):
    check: str
    expected: str
    actual: str
    ok: bool
    blocking: bool = True

    @property
    def status(self) -> str:
        if self.ok:
            return "ok"
        return "FAIL" if self.blocking else "warn"


class Report(msgspec.Struct, frozen=True):
    profile: str
    findings: tuple[Finding, ...]

    @property
    def ok(self) -> bool:
        return all(finding.ok or not finding.blocking for finding in self.findings)

    @property
    def failures(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if not f.ok and f.blocking)

    def render(self) -> str:
        width = max(len(finding.check) for finding in self.findings)
        lines = [f"host against hardware profile {self.profile}:"]
        lines += [
            f"  [{f.status:>4}] {f.check:<{width}}  need {f.expected}; have {f.actual}"
            for f in self.findings
        ]
        if self.ok:
            lines.append(f"result: this host meets profile {self.profile}")
        else:
            missing = ", ".join(f.check for f in self.failures)
            lines.append(
                f"result: this host does NOT meet profile {self.profile} (missing: {missing})"
            )
        return "\n".join(lines)


def compare(profile: Profile, facts: HostFacts, drivers: DriverTable | None = None) -> Report:
    """Every requirement of ``profile`` as a finding about ``facts``; ``drivers`` defaults to
    the repository's hardware_profiles/nvidia_driver.yaml."""
    findings = [
        _cores(profile, facts),
        _ram(profile, facts),
        *_gpus(profile, facts),
        _driver(facts, drivers or load_driver_table()),
        *_nvme(profile, facts),
        _raid(profile, facts),
    ]
    return Report(profile=profile.name, findings=tuple(findings))


def _cores(profile: Profile, facts: HostFacts) -> Finding:
    need = profile.host.min_cores
    return Finding("cpu cores", f">= {need}", str(facts.cpu_count), facts.cpu_count >= need)


def _ram(profile: Profile, facts: HostFacts) -> Finding:
    need = profile.host.min_ram_gib
    have = facts.mem_total_kib * KIB
    return Finding(
        "ram", f">= {need} GiB", f"{have / GIB:.1f} GiB", have >= need * GIB * RAM_TOLERANCE
    )


def _gpus(profile: Profile, facts: HostFacts) -> list[Finding]:
    gpu = profile.gpu
    floor_mib = gpu.min_memory_gib * KIB * GPU_MEMORY_TOLERANCE
    big_enough = [g for g in facts.gpus if g.memory_mib >= floor_mib]
    if facts.gpus:
        found = ", ".join(f"{g.name} ({g.memory_mib} MiB)" for g in facts.gpus)
    else:
        found = "; ".join(n for n in facts.notes if "nvidia-smi" in n) or "no NVIDIA GPU"
    return [
        Finding(
            "gpu count",
            f">= {gpu.min_count} x {gpu.model}-class",
            found,
            len(facts.gpus) >= gpu.min_count,
        ),
        Finding(
            "gpu memory",
            f">= {gpu.min_memory_gib} GiB on {gpu.min_count} GPU(s)",
            f"{len(big_enough)} GPU(s) with enough memory",
            len(big_enough) >= gpu.min_count,
        ),
    ]


def _driver(facts: HostFacts, table: DriverTable) -> Finding:
    """The strictest verdict over the host's GPUs; unknown (no GPU, old facts) only warns."""
    verdicts = [judge(table, g.name, g.driver_version) for g in facts.gpus if g.driver_version]
    if not verdicts:
        floors = ", ".join(f"R{c.min_driver} ({c.name})" for c in table.classes)
        return Finding("driver", floors, "unknown (no GPU or no driver reported)", False, False)
    failing = [v for v in verdicts if not v.ok]
    verdict = (failing or verdicts)[0]
    return Finding(
        "driver",
        f">= R{verdict.floor} ({verdict.gpu_class}, CUDA {table.cuda})",
        verdict.found if verdict.ok else f"{verdict.found}: too old. {verdict.message}",
        verdict.ok,
    )


def _nvme(profile: Profile, facts: HostFacts) -> list[Finding]:
    nvme = profile.nvme
    local = [disk for disk in facts.nvme if disk.model != EBS_MODEL]
    total_gb = sum(disk.size_bytes for disk in local) / 1e9
    names = ", ".join(disk.name for disk in local) or "none"
    return [
        Finding(
            "nvme devices",
            f">= {nvme.min_devices}",
            f"{len(local)} ({names})",
            len(local) >= nvme.min_devices,
        ),
        Finding(
            "nvme size",
            f">= {nvme.min_total_gb} GB",
            f"{total_gb:.0f} GB",
            total_gb >= nvme.min_total_gb,
        ),
    ]


def _raid(profile: Profile, facts: HostFacts) -> Finding:
    level = profile.nvme.raid_level
    if level == "none":
        return Finding(
            "raid", "none", ", ".join(f"{r.name} {r.level}" for r in facts.raid) or "none", True
        )
    arrays = [r for r in facts.raid if r.level == level]
    actual = (
        ", ".join(f"{r.name} {r.level} over {len(r.devices)}" for r in facts.raid) or "no md array"
    )
    # Not blocking: Ansible's RAID role assembles the array, so a fresh host has none yet.
    return Finding(
        "raid", f"{level} over NVMe (created by Ansible)", actual, bool(arrays), blocking=False
    )
