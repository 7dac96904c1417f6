"""The nvidia_driver role on GPU hosts: where nvidia-smi works the driver meets the floor and lists
the GPUs; where no driver could be installed (CI: no GPU, install switch off) the role wrote only
the nouveau blacklist and installed no driver package."""

import re

import pytest

from tests.infra.artifacts import package_version, role_defaults

pytestmark = pytest.mark.nvidia_driver

BLACKLIST = "/etc/modprobe.d/ragfleet-blacklist-nouveau.conf"


@pytest.fixture(autouse=True, scope="module")
def _only_on_gpu_hosts(gpu_host):
    if not gpu_host:
        pytest.skip("the manifest says this is no GPU inference host: the role did not run")


@pytest.fixture(scope="module")
def driver(host):
    """The driver version nvidia-smi reports, or None where it does not answer."""
    result = host.run("nvidia-smi --query-gpu=driver_version --format=csv,noheader")
    lines = result.stdout.split()
    return lines[0] if result.rc == 0 and lines else None


def test_a_working_driver_meets_the_floor_and_lists_the_gpus(host, driver):
    if driver is None:
        pytest.skip("no working driver on this host (checked below)")
    floor = role_defaults("nvidia_driver")["nvidia_driver_min_version"]
    assert tuple(map(int, driver.split("."))) >= tuple(map(int, floor.split(".")))
    listing = host.run("nvidia-smi -L")
    assert listing.rc == 0
    assert re.search(r"^GPU 0: ", listing.stdout, re.MULTILINE), listing.stdout


def test_without_a_driver_only_the_nouveau_blacklist_is_left(host, driver, manifest):
    if driver is not None:
        pytest.skip("a driver works here")
    assert not manifest["install"], "site.yml installed but no driver answers"
    blacklist = host.file(BLACKLIST)
    assert (blacklist.user, blacklist.group, blacklist.mode) == ("root", "root", 0o644)
    lines = blacklist.content_string.splitlines()
    assert "blacklist nouveau" in lines
    assert "options nouveau modeset=0" in lines
    branch = role_defaults("nvidia_driver")["nvidia_driver_branch"]
    for name in (f"nvidia-utils-{branch}-server", f"nvidia-headless-no-dkms-{branch}-server"):
        assert package_version(host, name) is None, f"{name} installed without the install switch"
