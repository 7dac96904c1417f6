"""Running Ansible from the tests: the repository's paths and roles, the environment every
ansible-* command gets, one play on localhost, and a host's variables as site.yml sees them."""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
ANSIBLE_DIR = REPO / "ansible"
ROLES_DIR = ANSIBLE_DIR / "roles"
BIN = Path(sys.executable).parent
INVENTORIES = ["local", "example-onprem", "example-large"]
# Every role: the conventions in test_role_*.py hold for each.
ROLES = sorted(path.name for path in ROLES_DIR.iterdir() if path.is_dir())
# Roles that only write files made on the controller: no packages, so no install step or switch,
# and nothing to restart, so no handlers.
WRITE_ONLY_ROLES = {"fleet_tls"}
# Roles the others include for shared steps (apt_signing_key: a vendor's signing key; common: the
# container unit, the image pull, start then wait, each a tasks_from entry point): their
# tasks/main.yml is that step, with no preflight, install or configure of its own.
INCLUDED_ROLES = {"apt_signing_key", "common"}
# Roles with no main entry point: each task file is one, included with tasks_from, and its
# parameters (passed by the including role, never set in an inventory) start with _ROLE_.
TASKS_FROM_ROLES = {"common"}


def entry_points(role: str) -> list[str]:
    """The entry points meta/argument_specs.yml declares (main, or the tasks_from files)."""
    spec = yaml.safe_load((ROLES_DIR / role / "meta/argument_specs.yml").read_text())
    return sorted(spec["argument_specs"])


def ansible_env() -> dict[str, str]:
    env = dict(os.environ)
    env["ANSIBLE_CONFIG"] = str(ANSIBLE_DIR / "ansible.cfg")
    env["ANSIBLE_NOCOLOR"] = "1"
    env["ANSIBLE_HOME"] = str(REPO / ".ragfleet" / "ansible-home")
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    return env


def bare_ansible_env(directory: Path) -> dict[str, str]:
    """Ansible's own settings instead of ansible/ansible.cfg (a config file that does not exist and
    a home in ``directory``), with the roles on the roles path: a role's files on their own, as no
    playbook of the tree configures them."""
    return {
        **os.environ,
        "ANSIBLE_ROLES_PATH": str(ROLES_DIR),
        "ANSIBLE_CONFIG": str(directory / "ansible.cfg"),
        "ANSIBLE_HOME": str(directory / "ansible-home"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
    }


def json_ansible_env() -> dict[str, str]:
    """ansible_env() with the JSON stdout callback and the roles on the roles path; facts stay in
    memory, so a play that gathers a subset leaves no partial facts in the shared cache."""
    env = ansible_env()
    env["ANSIBLE_CACHE_PLUGIN"] = "memory"
    env["ANSIBLE_ROLES_PATH"] = str(ROLES_DIR)
    env["ANSIBLE_LOAD_CALLBACK_PLUGINS"] = "1"
    env["ANSIBLE_STDOUT_CALLBACK"] = "ansible.posix.json"
    return env


def run_local_play(
    directory: Path, play: dict[str, Any], variables: dict[str, Any]
) -> tuple[int, dict[str, Any]]:
    """One play on localhost (connection local) with extra variables: its exit code and the JSON
    callback's report."""
    playbook = directory / "play.yml"
    playbook.write_text(
        yaml.safe_dump([{"hosts": "localhost", "connection": "local", **play}], sort_keys=False)
    )
    result = run(
        tool("ansible-playbook"),
        "-i",
        "localhost,",
        playbook,
        "-e",
        json.dumps(variables),
        env=json_ansible_env(),
    )
    report: dict[str, Any] = json.loads(result.stdout)
    return result.returncode, report


def run(
    *argv: str | Path, env: dict[str, str] | None = None, timeout: int = 300
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in argv],
        cwd=REPO,
        env=env or ansible_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def tool(name: str) -> str:
    path = BIN / name
    assert path.exists(), (
        f"{name} is missing from {BIN}: run `make venv` (pip extras `operator`, `test`)"
    )
    return str(path)


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


@functools.cache
def generated_vault() -> tuple[Path, Path]:
    """A vault from `ragfleet secrets init` (the vault and its password file), made once."""
    directory = Path(tempfile.mkdtemp(prefix="ragfleet-vault-"))
    password = directory / "vault-pass"
    result = run(BIN / "ragfleet", "secrets", "init", directory, "--vault-password-file", password)
    assert result.returncode == 0, result.stdout + result.stderr
    return directory / "vault.yml", password


def group_vars_of(inventory: str, host: str, expression: str) -> Any:
    """Evaluate an expression in a host's variables as site.yml sees them (playbook group_vars,
    the inventory's switches read with their defaults, the inventory, a generated vault)."""
    vault, vault_password = generated_vault()
    env = ansible_env()
    env["ANSIBLE_LOAD_CALLBACK_PLUGINS"] = "1"
    env["ANSIBLE_STDOUT_CALLBACK"] = "ansible.posix.json"
    env["ANSIBLE_CACHE_PLUGIN"] = "memory"
    with tempfile.TemporaryDirectory() as scratch:
        # A probe playbook beside the real group_vars and tasks, one level under a root that
        # holds hardware_profiles/ as the repository does (ragfleet_repo_dir is playbook_dir/..).
        root = Path(scratch)
        (root / "hardware_profiles").symlink_to(REPO / "hardware_profiles")
        playbooks = root / "ansible"
        playbooks.mkdir()
        for shared in ("group_vars", "tasks"):
            (playbooks / shared).symlink_to(ANSIBLE_DIR / shared)
        probe = playbooks / "probe.yml"
        probe.write_text(
            yaml.safe_dump(
                [
                    {
                        "hosts": host,
                        "gather_facts": False,
                        "tasks": [
                            {"ansible.builtin.import_tasks": "tasks/inventory_switches.yml"},
                            {"ansible.builtin.debug": {"msg": f"{{{{ {expression} | to_json }}}}"}},
                        ],
                    }
                ]
            )
        )
        result = run(
            tool("ansible-playbook"),
            "-i",
            REPO / "inventories" / inventory / "hosts.yml",
            probe,
            "-e",
            f"@{vault}",
            "--vault-password-file",
            vault_password,
            env=env,
        )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = json.loads(result.stdout)
    return json.loads(report["plays"][0]["tasks"][-1]["hosts"][host]["msg"])
