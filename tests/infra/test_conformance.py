"""A host against the hardware profile it was converged with: GPUs (model, count, memory, compute
capability through nvidia-smi), cores, RAM, the NVMe RAID 0 array and the data path mounted on it.

The profile comes from /var/lib/ragfleet/hardware-profile.json, which site.yml writes on every host,
and is loaded from hardware_profiles/ on the controller ($RAGFLEET_HARDWARE_PROFILES names another
directory). Which checks apply is decided by the manifest and the profile, never by what the host
happens to have: on a gpu_inference host converged with gpu, a missing nvidia-smi, GPU or
array FAILS with what the profile expects. Checks that do not apply (a host without gpu, a
datastore host, a profile without RAID) are skipped with the reason, visible in `-rs`.

Run it on real hosts (docs/testing.md); Molecule containers deselect the marker.
"""

import shlex

import pytest

from ragfleet.hardware import Profile
from ragfleet.hardware.compare import GPU_MEMORY_TOLERANCE, RAM_TOLERANCE
from ragfleet.hardware.facts import parse_mdstat, parse_meminfo
from tests.infra.artifacts import manifest_path
from tests.infra.gpus import accepted_models, model_matches, parse_gpus

pytestmark = pytest.mark.conformance

NVIDIA_SMI = "nvidia-smi --query-gpu=name,memory.total,compute_cap --format=csv,noheader,nounits"


def gpu_expectation(profile: Profile) -> str:
    gpu = profile.gpu
    return f"profile {profile.name} expects {gpu.min_count} x {gpu.model}"


def raid_expectation(profile: Profile) -> str:
    return f"profile {profile.name} expects RAID 0 over {profile.nvme.min_devices} NVMe devices"


def _require_gpu_host(manifest, why):
    if "gpu_inference" not in manifest["groups"]:
        pytest.skip(f"{manifest_path()}: not a gpu_inference host, {why}")
    if not manifest["gpu"]:
        pytest.skip(f"{manifest_path()}: converged with gpu false, {why}")


def _require_inference_host(manifest):
    if "gpu_inference" not in manifest["groups"]:
        pytest.skip(
            f"{manifest_path()}: not a gpu_inference host; the profile sizes inference hosts"
        )


def _gpus(host, manifest, profile):
    _require_gpu_host(manifest, "no GPU expected")
    if not host.exists("nvidia-smi"):
        pytest.fail(f"nvidia-smi not found: {gpu_expectation(profile)}", pytrace=False)
    result = host.run(NVIDIA_SMI)
    if result.rc != 0:
        pytest.fail(
            f"nvidia-smi failed (rc {result.rc}: {(result.stderr or result.stdout).strip()}): "
            f"{gpu_expectation(profile)}",
            pytrace=False,
        )
    gpus = parse_gpus(result.stdout)
    if not gpus:
        pytest.fail(f"nvidia-smi lists no GPU: {gpu_expectation(profile)}", pytrace=False)
    return gpus


def _describe(gpus):
    return ", ".join(f"{g.name} ({g.memory_mib} MiB, SM {g.compute_capability})" for g in gpus)


def test_gpu_model_and_count(host, manifest, hardware_profile):
    gpus = _gpus(host, manifest, hardware_profile)
    models = accepted_models(hardware_profile)
    accepted = [g for g in gpus if any(model_matches(g.name, m) for m in models)]
    assert len(accepted) >= hardware_profile.gpu.min_count, (
        f"{len(accepted)} of {len(gpus)} GPU(s) are {' / '.join(models)} "
        f"(found {_describe(gpus)}): {gpu_expectation(hardware_profile)}"
    )


def test_gpu_memory(host, manifest, hardware_profile):
    gpus = _gpus(host, manifest, hardware_profile)
    need = hardware_profile.gpu.min_memory_gib
    big_enough = [g for g in gpus if g.memory_mib >= need * 1024 * GPU_MEMORY_TOLERANCE]
    assert len(big_enough) >= hardware_profile.gpu.min_count, (
        f"{len(big_enough)} GPU(s) with {need} GiB or more (found {_describe(gpus)}): "
        f"{gpu_expectation(hardware_profile)} with {need} GiB each"
    )


def test_gpu_compute_capability(host, manifest, hardware_profile):
    gpus = _gpus(host, manifest, hardware_profile)
    need = hardware_profile.gpu.min_compute_capability
    capable = [g for g in gpus if g.compute_capability >= need]
    quantisation = hardware_profile.trtllm.quantisation
    assert len(capable) >= hardware_profile.gpu.min_count, (
        f"{len(capable)} GPU(s) of compute capability {need} or newer (found {_describe(gpus)}): "
        f"{gpu_expectation(hardware_profile)}, SM {need}+ for {quantisation}"
    )


def test_cores(host, manifest, hardware_profile):
    _require_inference_host(manifest)
    cores = int(host.check_output("nproc"))
    need = hardware_profile.host.min_cores
    assert cores >= need, (
        f"{cores} cores (nproc): profile {hardware_profile.name} expects at least {need}"
    )


def test_ram(host, manifest, hardware_profile):
    _require_inference_host(manifest)
    kib = parse_meminfo(host.file("/proc/meminfo").content_string)
    need = hardware_profile.host.min_ram_gib
    assert kib >= need * 1024 * 1024 * RAM_TOLERANCE, (
        f"{kib / 1024 / 1024:.1f} GiB of RAM (/proc/meminfo MemTotal): profile "
        f"{hardware_profile.name} expects at least {need} GiB"
    )


def test_nvme_raid0_array(host, manifest, hardware_profile):
    _require_gpu_host(manifest, "no NVMe array expected")
    level = hardware_profile.nvme.raid_level
    if level != "raid0":
        pytest.skip(f"profile {hardware_profile.name}: raid_level {level}, no array expected")
    mdstat = host.file("/proc/mdstat")
    if not mdstat.exists:
        pytest.fail(
            f"no /proc/mdstat (no md driver loaded): {raid_expectation(hardware_profile)}",
            pytrace=False,
        )
    arrays = parse_mdstat(mdstat.content_string)
    striped = [
        a
        for a in arrays
        if a.level == "raid0"
        and len(a.devices) >= hardware_profile.nvme.min_devices
        and all(d.startswith("nvme") for d in a.devices)
    ]
    found = "; ".join(f"{a.name} {a.level} over {', '.join(a.devices)}" for a in arrays) or "none"
    assert striped, (
        f"no active raid0 array over {hardware_profile.nvme.min_devices} NVMe devices in "
        f"/proc/mdstat (arrays: {found}): {raid_expectation(hardware_profile)}"
    )


def test_data_path_is_mounted_from_the_nvme_devices(host, manifest, hardware_profile):
    _require_gpu_host(manifest, "the data path may be a plain directory")
    nvme = hardware_profile.nvme
    if nvme.min_devices == 0:
        pytest.skip(f"profile {hardware_profile.name} asks for no NVMe device")
    path = manifest["data_dir"]
    expected = (
        raid_expectation(hardware_profile)
        if nvme.raid_level == "raid0"
        else f"profile {hardware_profile.name} expects an NVMe device"
    )
    result = host.run(
        f"findmnt --mountpoint {shlex.quote(path)} --noheadings --output SOURCE,FSTYPE"
    )
    assert result.rc == 0, f"data path {path} is not a mount point: {expected} mounted there"
    source, fstype = result.stdout.split()
    device = host.check_output(f"readlink -f {shlex.quote(source)}")
    prefix = "/dev/md" if nvme.raid_level == "raid0" else "/dev/nvme"
    found = f"data path {path} is {fstype} on {source} ({device})"
    assert device.startswith(prefix), f"{found}: {expected} mounted there"
    assert fstype == "xfs", f"{found}: {expected}, XFS, mounted there"
