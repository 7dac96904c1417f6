"""Hardware profiles: the loader's schema and consistency checks, and host-facts comparison.

Host facts are passed in as data (the JSON that ``ragfleet profile check --facts`` reads, or the
text /proc and nvidia-smi print), never by faking the operating system.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from ragfleet.cli import main
from ragfleet.hardware import ProfileError, list_profiles, load_catalogue, load_profile
from ragfleet.hardware.compare import compare
from ragfleet.hardware.facts import (
    DiskFact,
    GpuFact,
    HostFacts,
    RaidFact,
    parse_mdstat,
    parse_meminfo,
    parse_nvidia_smi,
    read_nvme,
)
from ragfleet.hardware.fit import instance_shortfalls
from ragfleet.hardware.loader import DEFAULT_PROFILES_DIR
from ragfleet.hardware.schema import SCHEMA_FILE, profile_schema

GIB_KIB = 1024 * 1024


@pytest.fixture
def profiles(tmp_path: Path) -> Path:
    """A writable copy of hardware_profiles/ to break on purpose."""
    copy = tmp_path / "profiles"
    shutil.copytree(DEFAULT_PROFILES_DIR, copy)
    return copy


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


def small_host(**overrides: object) -> HostFacts:
    """Facts of a workstation that just meets the small profile."""
    values: dict[str, object] = {
        "cpu_count": 8,
        "mem_total_kib": 32 * GIB_KIB - 700_000,  # what a 32 GiB machine reports
        "gpus": (
            GpuFact(name="NVIDIA GeForce RTX 3080", memory_mib=10240, driver_version="580.82.09"),
        ),
        "nvme": (DiskFact(name="nvme0n1", size_bytes=512_110_190_592, model="Samsung 980 PRO"),),
    }
    values.update(overrides)
    return HostFacts(**values)  # type: ignore[arg-type]


# --- the committed profiles -------------------------------------------------------------------


def test_repository_has_the_three_profiles() -> None:
    assert list_profiles() == ["large", "medium", "small"]


@pytest.mark.parametrize("name", ["small", "medium", "large"])
def test_every_profile_loads_and_its_aws_types_meet_it(name: str) -> None:
    profile = load_profile(name)
    catalogue = load_catalogue()
    for instance_type in profile.aws.all_instance_types:
        assert instance_shortfalls(profile, catalogue.instance_types[instance_type]) == []


def test_fp8_profile_asks_for_ada_or_newer() -> None:
    medium = load_profile("medium")
    assert medium.trtllm.quantisation == "fp8"
    assert medium.gpu.min_compute_capability >= 8.9


def test_rtx_3080_profile_does_not_use_fp8() -> None:
    assert load_profile("small").trtllm.quantisation != "fp8"


def test_committed_json_schema_matches_the_structs() -> None:
    assert SCHEMA_FILE.read_text() == profile_schema(), (
        "stale: regenerate it with `python -m ragfleet.hardware.schema`"
    )


# --- schema errors name the file, the key and what was expected -------------------------------


def test_unknown_profile_lists_the_known_ones() -> None:
    with pytest.raises(ProfileError, match=r"unknown hardware profile 'huge'.*small"):
        load_profile("huge")


@pytest.mark.parametrize("shared_table", ["aws_instance_types", "nvidia_driver", "ports"])
def test_a_shared_table_is_not_a_profile(shared_table: str) -> None:
    with pytest.raises(ProfileError, match=rf"unknown hardware profile '{shared_table}'"):
        load_profile(shared_table)


def test_wrong_type_names_file_key_and_expected_type(profiles: Path) -> None:
    edit(profiles / "small.yaml", "min_cores: 8", "min_cores: eight")
    with pytest.raises(ProfileError) as error:
        load_profile("small", profiles)
    message = str(error.value)
    assert "small.yaml" in message
    assert "key 'host.min_cores'" in message
    assert "Expected `int`" in message


def test_missing_key_is_reported_with_its_parent(profiles: Path) -> None:
    edit(profiles / "small.yaml", "  max_batch_size: 8\n", "")
    with pytest.raises(
        ProfileError, match=r"key 'trtllm': .*missing required field `max_batch_size`"
    ):
        load_profile("small", profiles)


def test_misspelt_key_is_rejected(profiles: Path) -> None:
    edit(profiles / "small.yaml", "max_batch_size:", "max_batchsize:")
    with pytest.raises(ProfileError, match=r"key 'trtllm': .*unknown field `max_batchsize`"):
        load_profile("small", profiles)


def test_unknown_quantisation_is_rejected(profiles: Path) -> None:
    edit(profiles / "small.yaml", "quantisation: int4_wo", "quantisation: fp4")
    with pytest.raises(ProfileError, match=r"key 'trtllm.quantisation'"):
        load_profile("small", profiles)


def test_kv_cache_fraction_above_one_is_rejected(profiles: Path) -> None:
    edit(
        profiles / "small.yaml",
        "kv_cache_free_gpu_memory_fraction: 0.85",
        "kv_cache_free_gpu_memory_fraction: 1.5",
    )
    with pytest.raises(ProfileError, match=r"key 'trtllm.kv_cache_free_gpu_memory_fraction'"):
        load_profile("small", profiles)


def test_broken_yaml_is_reported_as_such(profiles: Path) -> None:
    (profiles / "small.yaml").write_text("name: [small\n")
    with pytest.raises(ProfileError, match=r"small.yaml: not valid YAML"):
        load_profile("small", profiles)


# --- consistency between keys ------------------------------------------------------------------


def test_fp8_on_an_ampere_class_profile_is_rejected(profiles: Path) -> None:
    edit(profiles / "small.yaml", "quantisation: int4_wo", "quantisation: fp8")
    with pytest.raises(ProfileError, match=r"fp8 needs GPUs of SM 8.9 or newer"):
        load_profile("small", profiles)


def test_weight_only_quantisation_on_the_pytorch_backend_is_rejected(profiles: Path) -> None:
    edit(profiles / "small.yaml", "backend: tensorrt", "backend: pytorch")
    with pytest.raises(ProfileError, match=r"int4_wo needs trtllm.backend tensorrt"):
        load_profile("small", profiles)


def test_fp8_on_the_pytorch_backend_needs_a_pre_quantised_checkpoint(profiles: Path) -> None:
    edit(profiles / "medium.yaml", "nvidia/Llama-3.1-8B-Instruct-FP8", "meta-llama/Llama-3.1-8B")
    with pytest.raises(ProfileError, match=r"key 'trtllm.model': .*fp8 needs a pre-quantised"):
        load_profile("medium", profiles)


def test_backend_defaults_to_pytorch(profiles: Path) -> None:
    edit(profiles / "medium.yaml", "  backend: pytorch\n", "")
    assert load_profile("medium", profiles).trtllm.backend == "pytorch"


def test_fp8_profile_is_served_from_nvidias_fp8_checkpoint_on_pytorch() -> None:
    trtllm = load_profile("medium").trtllm
    assert (trtllm.backend, trtllm.model) == ("pytorch", "nvidia/Llama-3.1-8B-Instruct-FP8")


def test_tensor_parallelism_beyond_the_gpu_count_is_rejected(profiles: Path) -> None:
    edit(profiles / "small.yaml", "tensor_parallel_size: 1", "tensor_parallel_size: 2")
    with pytest.raises(ProfileError, match=r"key 'trtllm.tensor_parallel_size': expected at most"):
        load_profile("small", profiles)


def test_raid0_on_a_single_device_is_rejected(profiles: Path) -> None:
    edit(profiles / "medium.yaml", "min_devices: 2", "min_devices: 1")
    with pytest.raises(ProfileError, match=r"raid0 needs at least 2 devices"):
        load_profile("medium", profiles)


def test_name_must_match_the_file(profiles: Path) -> None:
    edit(profiles / "small.yaml", "name: small", "name: smol")
    with pytest.raises(ProfileError, match=r"key 'name': expected 'small'"):
        load_profile("small", profiles)


def test_undersized_aws_alternative_is_rejected(profiles: Path) -> None:
    edit(profiles / "small.yaml", "[g5.4xlarge,", "[g4dn.xlarge, g5.4xlarge,")
    with pytest.raises(
        ProfileError, match=r"'g4dn.xlarge' is below the profile's minimums: 4 vCPUs"
    ):
        load_profile("small", profiles)


def test_aws_type_missing_from_the_catalogue_is_rejected(profiles: Path) -> None:
    edit(profiles / "small.yaml", "instance_type: g6.4xlarge", "instance_type: g9.4xlarge")
    with pytest.raises(ProfileError, match=r"'g9.4xlarge' is not in aws_instance_types.yaml"):
        load_profile("small", profiles)


def test_catalogue_rejects_an_unknown_gpu_model(profiles: Path) -> None:
    edit(profiles / "aws_instance_types.yaml", "gpu_model: T4,", "gpu_model: T5,")
    with pytest.raises(ProfileError, match=r"instance_types.g4dn.xlarge.gpu_model"):
        load_catalogue(profiles)


# --- parsing what hosts print -------------------------------------------------------------------


def test_meminfo_total_is_read_in_kib() -> None:
    assert parse_meminfo("MemTotal:       32803712 kB\nMemFree:  1 kB\n") == 32803712


def test_nvidia_smi_csv_gives_name_and_memory() -> None:
    text = "NVIDIA GeForce RTX 4090, 24564\nNVIDIA A10G, 23028\n"
    assert parse_nvidia_smi(text) == (
        GpuFact(name="NVIDIA GeForce RTX 4090", memory_mib=24564),
        GpuFact(name="NVIDIA A10G", memory_mib=23028),
    )


def test_mdstat_lists_active_arrays_and_members() -> None:
    text = (
        "Personalities : [raid0]\n"
        "md0 : active raid0 nvme2n1[1] nvme1n1[0]\n"
        "      1875122176 blocks super 1.2 512k chunks\n\n"
        "unused devices: <none>\n"
    )
    assert parse_mdstat(text) == (
        RaidFact(name="md0", level="raid0", devices=("nvme1n1", "nvme2n1")),
    )


def test_sys_block_nvme_namespaces_are_read_with_size_and_model(tmp_path: Path) -> None:
    for name, sectors, model in [
        ("nvme0n1", 1000215216, "Samsung SSD 980 PRO 512GB"),
        ("sda", 1, "x"),
    ]:
        (tmp_path / name / "device").mkdir(parents=True)
        (tmp_path / name / "size").write_text(f"{sectors}\n")
        (tmp_path / name / "device" / "model").write_text(f"{model}\n")
    assert read_nvme(tmp_path) == (
        DiskFact(name="nvme0n1", size_bytes=1000215216 * 512, model="Samsung SSD 980 PRO 512GB"),
    )


# --- comparing a host with a profile ------------------------------------------------------------


def test_workstation_with_an_rtx_3080_meets_small() -> None:
    report = compare(load_profile("small"), small_host())
    assert report.ok, report.render()


def test_host_without_gpu_fails_and_says_why() -> None:
    facts = small_host(gpus=(), notes=("nvidia-smi not found: no NVIDIA driver on this host",))
    report = compare(load_profile("small"), facts)
    assert not report.ok
    assert {f.check for f in report.failures} == {"gpu count", "gpu memory"}
    assert "nvidia-smi not found" in report.render()


def test_too_few_cores_is_the_only_failure() -> None:
    report = compare(load_profile("small"), small_host(cpu_count=4))
    assert [f.check for f in report.failures] == ["cpu cores"]


def test_ram_a_little_below_label_passes_but_half_fails() -> None:
    profile = load_profile("small")
    assert compare(profile, small_host(mem_total_kib=31 * GIB_KIB)).ok
    assert not compare(profile, small_host(mem_total_kib=16 * GIB_KIB)).ok


def test_gpu_with_too_little_memory_fails_memory_check() -> None:
    facts = small_host(gpus=(GpuFact(name="NVIDIA GeForce RTX 3070", memory_mib=8192),))
    report = compare(load_profile("small"), facts)
    assert [f.check for f in report.failures] == ["gpu memory"]


def test_ebs_volumes_do_not_count_as_local_nvme() -> None:
    ebs = DiskFact(name="nvme0n1", size_bytes=600_000_000_000, model="Amazon Elastic Block Store")
    report = compare(load_profile("small"), small_host(nvme=(ebs,)))
    assert {f.check for f in report.failures} == {"nvme devices", "nvme size"}


def test_missing_raid_array_warns_without_failing() -> None:
    disks = tuple(
        DiskFact(
            name=f"nvme{i}n1", size_bytes=940_000_000_000, model="Amazon EC2 NVMe Instance Storage"
        )
        for i in (1, 2)
    )
    facts = small_host(
        cpu_count=64,
        mem_total_kib=256 * GIB_KIB,
        gpus=(GpuFact(name="NVIDIA L4", memory_mib=23034),),
        nvme=disks,
    )
    report = compare(load_profile("medium"), facts)
    raid = next(f for f in report.findings if f.check == "raid")
    assert report.ok
    assert raid.status == "warn"


# --- the CLI ------------------------------------------------------------------------------------


def write_facts(path: Path, facts: HostFacts) -> Path:
    import msgspec

    path.write_bytes(msgspec.json.encode(facts))
    return path


def test_profile_check_with_matching_facts_exits_zero(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    facts = write_facts(tmp_path / "facts.json", small_host())
    assert main(["profile", "check", "small", "--facts", str(facts)]) == 0
    assert "meets profile small" in capsys.readouterr().out


def test_profile_check_with_missing_gpu_exits_one_and_names_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    facts = write_facts(tmp_path / "facts.json", small_host(gpus=()))
    assert main(["profile", "check", "small", "--facts", str(facts)]) == 1
    assert "does NOT meet profile small (missing: gpu count, gpu memory)" in capsys.readouterr().out


def test_profile_check_json_report_is_machine_readable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    facts = write_facts(tmp_path / "facts.json", small_host(cpu_count=2))
    assert main(["profile", "check", "small", "--facts", str(facts), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False
    assert [f["check"] for f in report["findings"] if not f["ok"]] == ["cpu cores"]


def test_profile_check_rejects_a_malformed_facts_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "facts.json"
    bad.write_text('{"cpu_count": "many"}')
    assert main(["profile", "check", "small", "--facts", str(bad)]) == 2
    assert "facts.json: not host facts" in capsys.readouterr().err


def test_profile_show_prints_the_profile_as_yaml(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["profile", "show", "medium"]) == 0
    out = capsys.readouterr().out
    assert "quantisation: fp8" in out
    assert "instance_type: g6.16xlarge" in out


def test_profile_list_names_every_profile(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["profile", "list"]) == 0
    names = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
    assert names == ["large", "medium", "small"]
