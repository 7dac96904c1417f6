"""Supply chain, as the roles run it: image references pinned by digest (or refused when
malformed), vendors' apt keys installed only when their fingerprint is pinned (run against
throwaway gpg keys), release tarballs checked against a SHA-256 committed in the repository (a
missing or wrong one refuses). docs/versions.md, "Supply chain pins", says where each pin came from;
tests/unit/test_supply_chain_pins.py holds the pins themselves to that ledger."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.ansible.plays import ROLES_DIR, ansible_env, load_yaml, run, tool
from tests.infra.artifacts import image_digest, image_tag, is_pinned, unit_image

DIGEST = "sha256:" + "0123456789abcdef" * 4


def _play(
    tmp_path: Path, tasks: list[dict[str, Any]], facts: bool = False, **variables: Any
) -> tuple[int, str]:
    """Run tasks on localhost; the return code and everything Ansible printed."""
    playbook = tmp_path / "play.yml"
    play = {"hosts": "localhost", "connection": "local", "gather_facts": facts, "tasks": tasks}
    playbook.write_text(yaml.safe_dump([play]))
    env = ansible_env()
    env["ANSIBLE_ROLES_PATH"] = str(ROLES_DIR)
    # Facts of this run only: the shared jsonfile cache may hold another run's partial facts.
    env["ANSIBLE_CACHE_PLUGIN"] = "memory"
    variables = {"ansible_python_interpreter": sys.executable, **variables}
    result = run(
        tool("ansible-playbook"), "-i", "localhost,", playbook, "-e", json.dumps(variables), env=env
    )
    return result.returncode, result.stdout + result.stderr


# --- image references ------------------------------------------------------------------------


def test_a_digest_pin_keeps_its_tag_for_the_stand_ins() -> None:
    pinned = "quay.io/coreos/etcd:v3.5.18@" + DIGEST
    assert image_tag(pinned) == "v3.5.18"
    assert image_digest(pinned) == DIGEST
    assert is_pinned(pinned)
    assert image_tag("quay.io/coreos/etcd:v3.5.18") == "v3.5.18"
    assert not is_pinned("quay.io/coreos/etcd@" + DIGEST)
    assert not is_pinned("registry.example:5000/etcd")


class _StandinHost:
    """What unit_image() asks a host: the stand-in label of an image."""

    def check_output(self, command: str, *args: str) -> str:
        return "true"


def test_unit_image_finds_the_stand_in_of_a_digest_pinned_image() -> None:
    """Molecule runs ragfleet-standin/<name>:<tag> where the role pins NAME:TAG@sha256:DIGEST."""
    pinned = "quay.io/coreos/etcd:v3.5.18@" + DIGEST
    argv = ["docker", "run", "--name", "milvus-etcd", "ragfleet-standin/etcd:v3.5.18", "etcd"]
    assert unit_image(_StandinHost(), argv, pinned) == "ragfleet-standin/etcd:v3.5.18"
    assert unit_image(_StandinHost(), ["docker", "run", pinned], pinned) == pinned


# Each role's preflight, with the image variable set: (role, variable, extra variables).
IMAGE_VARIABLES = [
    (
        "milvus",
        "milvus_etcd_image",
        {"milvus_root_password": "r" * 32, "milvus_service_password": "s" * 32},
    ),
    ("tensorrt_llm", "tensorrt_llm_image", {"tensorrt_llm_install": False}),
    ("exporters", "exporters_dcgm_exporter_image", {}),
]


def _preflight(tmp_path: Path, role: str, **variables: Any) -> tuple[int, str]:
    include = {"ansible.builtin.include_role": {"name": role, "tasks_from": "preflight"}}
    return _play(tmp_path, [include], facts=role == "exporters", **variables)


def _default(role: str, variable: str) -> str:
    value: str = load_yaml(ROLES_DIR / role / "defaults" / "main.yml")[variable]
    return value


@pytest.mark.parametrize(("role", "variable", "extra"), IMAGE_VARIABLES)
def test_preflight_accepts_a_digest_pinned_image(
    tmp_path: Path, role: str, variable: str, extra: dict[str, Any]
) -> None:
    name_tag = _default(role, variable).split("@")[0]
    returncode, output = _preflight(tmp_path, role, **{variable: f"{name_tag}@{DIGEST}", **extra})
    assert returncode == 0, output[-3000:]


@pytest.mark.parametrize(("role", "variable", "extra"), IMAGE_VARIABLES)
def test_preflight_refuses_a_digest_without_its_tag(
    tmp_path: Path, role: str, variable: str, extra: dict[str, Any]
) -> None:
    name = _default(role, variable).split("@")[0].rpartition(":")[0]
    returncode, output = _preflight(tmp_path, role, **{variable: f"{name}@{DIGEST}", **extra})
    assert returncode != 0
    assert "NAME:TAG@sha256:DIGEST" in output


def test_preflight_refuses_a_truncated_digest(tmp_path: Path) -> None:
    name_tag = _default("milvus", "milvus_minio_image").split("@")[0]
    returncode, output = _preflight(
        tmp_path, "milvus", milvus_minio_image=f"{name_tag}@{DIGEST[:-1]}"
    )
    assert returncode != 0
    assert "NAME:TAG@sha256:DIGEST" in output


# --- apt repository keys ---------------------------------------------------------------------


def _gpg(home: Path, *argv: str) -> str:
    result = subprocess.run(
        ["gpg", "--batch", "--homedir", str(home), *argv],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return result.stdout


def _throwaway_key(home: Path, name: str) -> tuple[str, str]:
    """A new signing key in a scratch GNUPGHOME: its fingerprint and armoured public key."""
    uid = f"{name} <{name}@example.invalid>"
    _gpg(home, "--passphrase", "", "--quick-gen-key", uid, "ed25519", "sign", "never")
    listing = _gpg(home, "--with-colons", "--list-keys", uid)
    fingerprint = next(line.split(":")[9] for line in listing.splitlines() if line[:4] == "fpr:")
    return fingerprint, _gpg(home, "--armor", "--export", fingerprint)


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[str, str]]:
    """Two throwaway keys: `vendor` (the one a role pins) and `other` (anyone else's)."""
    if subprocess.run(["which", "gpg"], capture_output=True, check=False).returncode != 0:
        pytest.skip("gpg is missing: run `make system-deps`")
    home = tmp_path_factory.mktemp("gnupg")
    home.chmod(0o700)
    return {name: _throwaway_key(home, name) for name in ("vendor", "other")}


def _install_key(tmp_path: Path, served: str, pinned: list[str]) -> tuple[int, str, Path]:
    """The apt_signing_key role fetching `served` from a file:// URL, with these pins."""
    if os.geteuid() != 0:
        pytest.skip("the role installs the keyring as root")
    source = tmp_path / "served.asc"
    source.write_text(served)
    dest = tmp_path / "keyrings" / "vendor.asc"
    dest.parent.mkdir()
    include = {"ansible.builtin.include_role": {"name": "apt_signing_key"}}
    returncode, output = _play(
        tmp_path,
        [include],
        apt_signing_key_url=source.as_uri(),
        apt_signing_key_dest=str(dest),
        apt_signing_key_fingerprints=pinned,
    )
    return returncode, output, dest


def test_a_key_with_the_pinned_fingerprint_is_installed(tmp_path: Path, keys: dict) -> None:
    fingerprint, armoured = keys["vendor"]
    returncode, output, dest = _install_key(tmp_path, armoured, [fingerprint])
    assert returncode == 0, output[-3000:]
    assert dest.read_text() == armoured
    assert dest.stat().st_mode & 0o777 == 0o644


def test_the_pin_ignores_spaces_and_case(tmp_path: Path, keys: dict) -> None:
    fingerprint, armoured = keys["vendor"]
    spaced = " ".join(fingerprint[i : i + 4] for i in range(0, 40, 4)).lower()
    returncode, output, _ = _install_key(tmp_path, armoured, [spaced])
    assert returncode == 0, output[-3000:]


def test_a_key_with_another_fingerprint_is_refused_and_not_installed(
    tmp_path: Path, keys: dict
) -> None:
    vendor, _ = keys["vendor"]
    other, armoured = keys["other"]
    returncode, output, dest = _install_key(tmp_path, armoured, [vendor])
    assert returncode != 0
    assert f"holds the key(s) {other}" in output
    assert f"pinned fingerprint(s) are {vendor}" in output
    assert not dest.exists()


def test_a_file_with_an_extra_key_beside_the_pinned_one_is_refused(
    tmp_path: Path, keys: dict
) -> None:
    vendor, vendor_key = keys["vendor"]
    other, other_key = keys["other"]
    returncode, output, dest = _install_key(tmp_path, vendor_key + other_key, [vendor])
    assert returncode != 0
    assert other in output
    assert not dest.exists()


def test_a_file_without_a_key_is_refused(tmp_path: Path, keys: dict) -> None:
    vendor, _ = keys["vendor"]
    returncode, _, dest = _install_key(tmp_path, "<html>not a key</html>\n", [vendor])
    assert returncode != 0
    assert not dest.exists()


# --- release tarballs ------------------------------------------------------------------------


def _exporters_preflight(tmp_path: Path, **variables: Any) -> tuple[int, str]:
    return _preflight(
        tmp_path, "exporters", exporters_install=True, exporters_source="github", **variables
    )


def test_preflight_passes_with_the_committed_node_exporter_sums(tmp_path: Path) -> None:
    returncode, output = _exporters_preflight(tmp_path)
    assert returncode == 0, output[-3000:]


def test_preflight_refuses_a_version_without_a_committed_sum(tmp_path: Path) -> None:
    returncode, output = _exporters_preflight(tmp_path, exporters_node_exporter_version="1.9.0")
    assert returncode != 0
    assert "No committed SHA-256 for node_exporter 1.9.0" in output
    assert "exporters_node_exporter_sha256" in output


def test_preflight_refuses_redis_exporter_until_its_sums_are_committed(tmp_path: Path) -> None:
    """redis_exporter 1.67.0's sums were not found in a citable source: the role fails closed."""
    returncode, output = _exporters_preflight(
        tmp_path, exporters_redis_exporter_enabled=True, exporters_redis_password="x" * 16
    )
    assert returncode != 0
    assert "No committed SHA-256 for redis_exporter 1.67.0" in output


def test_a_tarball_that_does_not_match_the_committed_sum_is_refused(tmp_path: Path) -> None:
    """The role's own download task, from a local mirror serving something else under the name."""
    if os.geteuid() != 0:
        pytest.skip("the role downloads into root's directories")
    version = _default("exporters", "exporters_node_exporter_version")
    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(os.uname().machine)
    if arch is None:
        pytest.skip(f"no release of node_exporter for {os.uname().machine} is pinned")
    release = tmp_path / "mirror" / "prometheus" / "node_exporter" / "releases" / "download"
    tarball = release / f"v{version}" / f"node_exporter-{version}.linux-{arch}.tar.gz"
    tarball.parent.mkdir(parents=True)
    tarball.write_bytes(b"not the release\n")
    include = {"ansible.builtin.include_role": {"name": "exporters", "tasks_from": "install"}}
    returncode, output = _play(
        tmp_path,
        [include],
        facts=True,
        exporters_github_url=(tmp_path / "mirror").as_uri(),
        exporters_source="github",
        exporters_redis_exporter_enabled=False,
        exporters_dcgm_exporter_enabled=False,
        exporters_install_dir=str(tmp_path / "bin"),
    )
    assert returncode != 0
    committed = load_yaml(ROLES_DIR / "exporters" / "defaults" / "main.yml")[
        "exporters_node_exporter_sha256"
    ][version][arch]
    assert "did not match" in output
    assert committed in output
    assert hashlib.sha256(b"not the release\n").hexdigest() in output
    assert not (tmp_path / "bin" / "node_exporter").exists()
