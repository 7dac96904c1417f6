"""The exporters role's DCGM exporter on GPU hosts: the pinned dcgm-exporter image under a
hardened unit, published on the private address only, collecting the fields of ragfleet's counters
file (mounted read-only, passed with -f). Without the install switch (CI) the unit is
written and not started; these tests check it, and that hosts without a GPU carry no such unit."""

from pathlib import Path

import pytest

from tests.infra.artifacts import (
    DOCKER_CLIENT_HARDENING,
    WILDCARDS,
    exec_start,
    is_pinned,
    missing_lines,
    option_value,
    option_values,
    published_addresses,
    role_defaults,
    unit_values,
)

pytestmark = pytest.mark.dcgm_exporter

UNIT = "/etc/systemd/system/dcgm-exporter.service"
COUNTERS = "/etc/dcgm-exporter/ragfleet-counters.csv"
COUNTERS_SOURCE = (
    Path(__file__).resolve().parents[2] / "ansible/roles/exporters/files/dcgm-counters.csv"
)


def test_unit_exactly_on_gpu_hosts(host, gpu_host):
    assert host.file(UNIT).exists == gpu_host


@pytest.fixture(scope="module")
def unit(host, gpu_host):
    if not gpu_host:
        pytest.skip("the manifest says this is no GPU inference host: no DCGM exporter")
    f = host.file(UNIT)
    assert (f.user, f.group, f.mode) == ("root", "root", 0o644)
    return f.content_string


def test_image_is_pinned(unit):
    argv = exec_start(unit)
    pinned = role_defaults("exporters")["exporters_dcgm_exporter_image"]
    assert is_pinned(pinned)
    assert argv[-3:] == [pinned, "-f", COUNTERS]


def test_collects_the_counters_file_the_role_ships(host, unit):
    f = host.file(COUNTERS)
    assert (f.user, f.group, f.mode) == ("root", "root", 0o644)
    assert f.content_string == COUNTERS_SOURCE.read_text()
    argv = exec_start(unit)
    assert f"{COUNTERS}:{COUNTERS}:ro" in option_values(argv, "--volume")


def test_published_on_a_named_address_only(unit):
    argv = exec_start(unit)
    published = published_addresses(argv)
    assert set(published) == {"9400"}
    assert not published["9400"] & WILDCARDS


def test_gets_the_gpus_and_only_the_capability_dcgm_needs(unit):
    argv = exec_start(unit)
    assert option_value(argv, "--gpus") == "all"
    assert option_values(argv, "--cap-add") == ["SYS_ADMIN"]
    assert "--privileged" not in argv


def test_unit_is_hardened_and_unprivileged(unit):
    assert unit_values(unit, "User") == ["dcgm-exporter"]
    assert unit_values(unit, "Restart") == ["on-failure"]
    missing = missing_lines(unit, DOCKER_CLIENT_HARDENING)
    assert not missing, f"dcgm-exporter.service lacks {missing}"


def test_runs_exactly_when_installed(host, unit, manifest):
    service = host.service("dcgm-exporter")
    assert service.is_running == manifest["install"]
    assert service.is_enabled == manifest["install"]
