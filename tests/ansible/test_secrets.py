"""`ragfleet secrets init` makes a private vault of fresh values, and site.yml refuses any secret
that has been published, naming the variable and never printing the value."""

from __future__ import annotations

import hashlib
import re
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.ansible.plays import ANSIBLE_DIR, BIN, REPO, run, tool

PUBLISHED = ANSIBLE_DIR / "group_vars" / "all" / "published_secrets.yml"
CHECK_PLAYBOOK = Path(__file__).with_name("refuse_published_secrets.yml")


def secrets_init(directory: Path, *extra: str | Path) -> tuple[int, str]:
    result = run(
        BIN / "ragfleet",
        "secrets",
        "init",
        directory,
        "--vault-password-file",
        directory / "vault-pass",
        *extra,
    )
    return result.returncode, result.stdout + result.stderr


def open_vault(directory: Path) -> dict[str, object]:
    result = run(
        tool("ansible-vault"),
        "view",
        "--vault-password-file",
        directory / "vault-pass",
        directory / "vault.yml",
    )
    assert result.returncode == 0, result.stderr
    values: dict[str, object] = yaml.safe_load(result.stdout)
    return values


@pytest.fixture
def vault_dir(tmp_path: Path) -> Path:
    code, output = secrets_init(tmp_path)
    assert code == 0, output
    return tmp_path


def test_the_vault_is_encrypted_and_opens_with_its_password_file(vault_dir: Path) -> None:
    assert (vault_dir / "vault.yml").read_text().startswith("$ANSIBLE_VAULT;1.1;AES256")
    assert open_vault(vault_dir)["vault_hf_token"] == ""


def strings(node: Any) -> Iterator[str]:
    """Every key and value of a parsed YAML document that is a string (Jinja expressions too)."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from strings(key)
            yield from strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from strings(item)
    elif isinstance(node, str):
        yield node


def test_the_vault_defines_every_vault_variable_the_playbooks_read(vault_dir: Path) -> None:
    referenced = set()
    for path in ANSIBLE_DIR.rglob("*.yml"):
        for text in strings(yaml.safe_load(path.read_text())):
            referenced |= set(re.findall(r"\bvault_[a-z_]+\b", text))
    # Alertmanager receivers an operator adds to the vault only when they configure them.
    optional = {"vault_file", "vault_password_variables", "vault_pagerduty_key"}
    optional |= {"vault_heartbeat_url"}
    assert referenced - optional <= set(open_vault(vault_dir))


def test_the_vault_and_its_password_file_are_readable_by_their_owner_only(
    vault_dir: Path,
) -> None:
    for name in ("vault.yml", "vault-pass"):
        assert stat.S_IMODE((vault_dir / name).stat().st_mode) == 0o600, name


def test_two_vaults_share_no_secret(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    for directory in (first, second):
        directory.mkdir()
        assert secrets_init(directory)[0] == 0
    a, b = open_vault(first), open_vault(second)
    for name, value in a.items():
        if value:
            assert value != b[name], name


def test_the_vault_keeps_only_the_hash_of_the_admin_key_it_prints(tmp_path: Path) -> None:
    code, output = secrets_init(tmp_path)
    assert code == 0
    key = re.search(r"admin API key \(shown once, scope admin\): (rf_\S+)", output)
    assert key is not None, output
    digest = hashlib.sha256(key.group(1).encode()).hexdigest()
    assert open_vault(tmp_path)["vault_ragfleet_api_keys"] == [f"admin:{digest}:admin"]
    assert key.group(1) not in (tmp_path / "vault.yml").read_text()


def test_the_admin_key_can_go_to_a_private_file_instead(tmp_path: Path) -> None:
    code, output = secrets_init(tmp_path, "--admin-key-file", tmp_path / "admin-key")
    assert code == 0, output
    key = (tmp_path / "admin-key").read_text().strip()
    assert key.startswith("rf_")
    assert key not in output
    assert stat.S_IMODE((tmp_path / "admin-key").stat().st_mode) == 0o600


def test_an_existing_vault_is_replaced_only_with_force(vault_dir: Path) -> None:
    before = (vault_dir / "vault.yml").read_text()
    code, output = secrets_init(vault_dir)
    assert code == 2
    assert "--force" in output
    assert (vault_dir / "vault.yml").read_text() == before
    assert secrets_init(vault_dir, "--force")[0] == 0
    assert (vault_dir / "vault.yml").read_text() != before


def test_a_short_vault_password_is_refused(tmp_path: Path) -> None:
    (tmp_path / "vault-pass").write_text("short\n")
    code, output = secrets_init(tmp_path)
    assert code == 2
    assert "at least 16" in output
    assert not (tmp_path / "vault.yml").exists()


# --- site.yml refuses published values ----------------------------------------------------------


def check_secrets(tmp_path: Path, values: dict[str, object]) -> tuple[int, str]:
    """Run site.yml's published-secret checks over ``values`` as the vault."""
    extra = tmp_path / "vault-values.yml"
    extra.write_text(yaml.safe_dump(values))
    result = run(
        tool("ansible-playbook"),
        "-i",
        "localhost,",
        "-c",
        "local",
        CHECK_PLAYBOOK,
        "-e",
        f"@{PUBLISHED}",
        "-e",
        f"@{extra}",
    )
    return result.returncode, result.stdout + result.stderr


def test_a_generated_vault_passes_the_checks(vault_dir: Path, tmp_path: Path) -> None:
    code, output = check_secrets(tmp_path, open_vault(vault_dir))
    assert code == 0, output


# The old example vault's values (public in the repository's history) and upstream defaults.
@pytest.mark.parametrize(
    ("variable", "published"),
    [
        ("vault_redis_password", "demo-redis-admin-password-change-me"),
        ("vault_redis_app_password", "demo-redis-ragfleet-password-change-me"),
        ("vault_minio_secret_key", "demo-minio-secret-change-me"),
        ("vault_minio_access_key", "minioadmin"),
        ("vault_grafana_admin_password", "demo-grafana-admin-change-me"),
        ("vault_grafana_admin_password", "admin"),
        ("vault_gateway_stats_password", "demo-haproxy-stats-change-me"),
        # Milvus's root password until changed (common.security.defaultRootPassword's default).
        ("vault_milvus_root_password", "Milvus"),
        ("vault_milvus_service_password", "Milvus"),
    ],
)
def test_a_published_password_is_refused_by_name_without_printing_it(
    vault_dir: Path, tmp_path: Path, variable: str, published: str
) -> None:
    values = open_vault(vault_dir)
    values[variable] = published
    code, output = check_secrets(tmp_path, values)
    assert code != 0
    assert f"{variable} holds a published example or default value" in output
    assert published not in output.replace(f"{variable}", "")


def test_a_published_api_key_is_refused_by_its_name(vault_dir: Path, tmp_path: Path) -> None:
    values = open_vault(vault_dir)
    demo = "demo:b39768bd0338a420b9d28be5775c1fbedd91279d595a760eede536dee3910cab:query"
    values["vault_ragfleet_api_keys"] = [*values["vault_ragfleet_api_keys"], demo]  # type: ignore[misc]
    code, output = check_secrets(tmp_path, values)
    assert code != 0
    assert "published keys (by name: demo)" in output


def test_site_runs_the_checks_right_after_loading_the_vault() -> None:
    tasks = [
        task
        for play in yaml.safe_load((REPO / "ansible" / "site.yml").read_text())
        for task in play.get("tasks", [])
    ]
    names = [task.get("name") for task in tasks]
    includes = [task.get("ansible.builtin.include_tasks") for task in tasks]
    assert names.index("Load the secrets from the vault") < includes.index(
        "tasks/refuse_published_secrets.yml"
    )
