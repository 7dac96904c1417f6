"""Recorded nvidia-smi output of real cards (tests/fixtures/nvidia-smi, sources in SOURCES.md)
answers every query the code and the roles run, and drives the facts, the driver floor and
``ragfleet profile check`` the way a host with that card would."""

from __future__ import annotations

import json
import shlex
import subprocess
from pathlib import Path

import pytest
import yaml

from ragfleet.cli import main
from ragfleet.hardware.compare import compare
from ragfleet.hardware.driver import judge, load_driver_table
from ragfleet.hardware.facts import NVIDIA_SMI_QUERY, HostFacts, gather
from ragfleet.hardware.loader import DEFAULT_PROFILES_DIR, load_profile
from tests.support.nvidia_smi import CARDS, FIXTURES, install_fake

REPO = DEFAULT_PROFILES_DIR.parent
ROLES = REPO / "ansible" / "roles"
GIB_KIB = 1024 * 1024


def role_nvidia_smi_argv(role: str) -> list[list[str]]:
    """Every nvidia-smi argv a role's preflight runs, read from its task file."""
    tasks = yaml.safe_load((ROLES / role / "tasks" / "preflight.yml").read_text())
    argvs = [t["ansible.builtin.command"]["argv"] for t in tasks if "ansible.builtin.command" in t]
    return [argv[1:] for argv in argvs if argv[0] == "nvidia-smi"]


def conformance_argv() -> list[str]:
    """The query tests/infra/test_conformance.py runs on a converged host."""
    source = (REPO / "tests" / "infra" / "test_conformance.py").read_text()
    line = next(x for x in source.splitlines() if x.startswith("NVIDIA_SMI = "))
    return shlex.split(line.split("=", 1)[1].strip().strip('"'))[1:]


def queries() -> list[list[str]]:
    return [
        list(NVIDIA_SMI_QUERY),
        *role_nvidia_smi_argv("nvidia_container_toolkit"),
        *role_nvidia_smi_argv("tensorrt_llm"),
        conformance_argv(),
        ["-L"],
    ]


def smi(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, card: str, *argv: str):
    fake = install_fake(monkeypatch, tmp_path / "bin", card)
    return subprocess.run([str(fake), *argv], capture_output=True, text=True, check=False)


def host_with(gpus_from: HostFacts) -> HostFacts:
    """A host that meets every profile's cores, RAM and NVMe, with the recorded card's GPUs."""
    from ragfleet.hardware.facts import DiskFact

    disks = tuple(
        DiskFact(name=f"nvme{i}n1", size_bytes=1_000_000_000_000, model="NVMe") for i in range(8)
    )
    return HostFacts(cpu_count=96, mem_total_kib=1152 * GIB_KIB, gpus=gpus_from.gpus, nvme=disks)


def gathered(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, card: str) -> HostFacts:
    install_fake(monkeypatch, tmp_path / "bin", card)
    return host_with(gather())


# --- the fixtures and the fake ---------------------------------------------------------------


def test_the_fixtures_cover_the_cards_the_profiles_name() -> None:
    names = {(FIXTURES / c / "list-gpus.txt").read_text().split(": ")[1] for c in CARDS}
    assert {n.split(" (UUID")[0] for n in names} >= {
        "NVIDIA GeForce RTX 3080",
        "NVIDIA GeForce RTX 4090",
        "NVIDIA A100-SXM4-80GB",
        "NVIDIA L4",
        "NVIDIA L40S",
        "NVIDIA A10G",
        "NVIDIA H100 80GB HBM3",
    }
    sources = (FIXTURES / "SOURCES.md").read_text()
    assert [c for c in CARDS if c not in sources] == [], "every card needs its sources"


@pytest.mark.parametrize("card", CARDS)
def test_every_query_the_code_and_roles_run_has_a_recorded_answer(
    card: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gpu_count = len((FIXTURES / card / "list-gpus.txt").read_text().splitlines())
    for argv in queries():
        result = smi(tmp_path, monkeypatch, card, *argv)
        assert result.returncode == 0, f"{card}: no fixture for nvidia-smi {shlex.join(argv)}"
        assert len(result.stdout.splitlines()) == gpu_count, shlex.join(argv)


def test_the_fake_fails_like_nvidia_smi_on_an_unknown_query(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = smi(tmp_path, monkeypatch, "l4-r570", "--query-gpu=name,ecc.mode", "--format=csv")
    assert result.returncode == 2
    assert "is not a valid field to query" in result.stderr
    assert result.stdout == ""


# --- facts and the driver floor --------------------------------------------------------------


@pytest.mark.parametrize(
    ("card", "name", "count", "memory_mib", "driver"),
    [
        ("rtx3080-10gb-r535", "NVIDIA GeForce RTX 3080", 1, 10240, "535.247.01"),
        ("rtx4090-r580", "NVIDIA GeForce RTX 4090", 1, 24564, "580.82.09"),
        ("a100-80gb-x8-r580", "NVIDIA A100-SXM4-80GB", 8, 81920, "580.65.06"),
        ("l4-r570", "NVIDIA L4", 1, 23034, "570.133.20"),
        ("l40s-r595", "NVIDIA L40S", 1, 46068, "595.91.07"),
        ("a10g-r535", "NVIDIA A10G", 1, 23028, "535.247.01"),
        ("h100-x8-r580", "NVIDIA H100 80GB HBM3", 8, 81559, "580.126.09"),
    ],
)
def test_gather_reads_name_memory_and_driver_of_each_card(
    card: str,
    name: str,
    count: int,
    memory_mib: int,
    driver: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    gpus = gathered(tmp_path, monkeypatch, card).gpus
    assert [(g.name, g.memory_mib, g.driver_version) for g in gpus] == [
        (name, memory_mib, driver)
    ] * count


@pytest.mark.parametrize(
    ("card", "ok", "gpu_class"),
    [
        ("rtx3080-10gb-r535", False, "geforce"),
        ("rtx3080-10gb-r580", True, "geforce"),
        ("rtx4090-r580", True, "geforce"),
        ("a10g-r535", False, "datacenter"),
        ("l4-r570", False, "datacenter"),
        ("l40s-r595", True, "datacenter"),
        ("a100-80gb-x8-r580", True, "datacenter"),
        ("h100-x8-r580", True, "datacenter"),
    ],
)
def test_driver_floor_is_r580_for_the_cuda_13_image(
    card: str, ok: bool, gpu_class: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gpu = gathered(tmp_path, monkeypatch, card).gpus[0]
    verdict = judge(load_driver_table(), gpu.name, gpu.driver_version)
    assert (verdict.ok, verdict.gpu_class, verdict.floor) == (ok, gpu_class, "580")


def test_a_too_old_geforce_driver_is_refused_naming_driver_floor_and_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gpu = gathered(tmp_path, monkeypatch, "rtx3080-10gb-r535").gpus[0]
    message = judge(load_driver_table(), gpu.name, gpu.driver_version).message
    assert "535.247.01" in message
    assert "R580" in message
    assert "no CUDA forward" in message


def test_profile_check_reports_the_driver_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    facts = tmp_path / "facts.json"
    for card, verdict in (("rtx3080-10gb-r535", "FAIL"), ("rtx3080-10gb-r580", "ok")):
        facts.write_bytes(json.dumps(_builtins(gathered(tmp_path, monkeypatch, card))).encode())
        main(["profile", "check", "medium", "--facts", str(facts)])
        driver_line = next(x for x in capsys.readouterr().out.splitlines() if "] driver" in x)
        assert f"[{verdict:>4}] driver" in driver_line
        assert ">= R580 (geforce" in driver_line


def test_a_too_old_driver_alone_fails_the_profile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    report = compare(load_profile("medium"), gathered(tmp_path, monkeypatch, "l40s-r595"))
    assert report.ok, report.render()
    old = gathered(tmp_path, monkeypatch, "l4-r570")
    report = compare(load_profile("medium"), old)
    assert [f.check for f in report.failures] == ["driver"], report.render()


def _builtins(facts: HostFacts) -> object:
    import msgspec

    return msgspec.to_builtins(facts)


# --- profiles against real cards ------------------------------------------------------------


@pytest.mark.parametrize(
    ("card", "profile"),
    [
        ("rtx3080-10gb-r580", "small"),
        ("a10g-r535", "small"),
        ("rtx4090-r580", "medium"),
        ("l40s-r595", "medium"),
        ("a100-80gb-x8-r580", "large"),
        ("h100-x8-r580", "large"),
    ],
)
def test_the_profiles_gpus_are_met_by_the_cards_they_name(
    card: str, profile: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    report = compare(load_profile(profile), gathered(tmp_path, monkeypatch, card))
    gpu_findings = [f for f in report.findings if f.check.startswith("gpu")]
    assert all(f.ok for f in gpu_findings), report.render()


def test_large_needs_all_eight_gpus_of_a_p4d(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    eight = gathered(tmp_path, monkeypatch, "a100-80gb-x8-r580")
    four = HostFacts(**{**_builtins_dict(eight), "gpus": eight.gpus[:4]})
    report = compare(load_profile("large"), four)
    assert {f.check for f in report.failures} == {"gpu count", "gpu memory"}
    assert load_profile("large").trtllm.tensor_parallel_size == 8


def _builtins_dict(facts: HostFacts) -> dict[str, object]:
    return {f: getattr(facts, f) for f in facts.__struct_fields__}
