"""The Ansible tree is lint-clean, parses with every inventory, keeps its secrets encrypted,
documents every role variable, and renders configurations that the owning tools accept."""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
ANSIBLE_DIR = REPO / "ansible"
ROLES_DIR = ANSIBLE_DIR / "roles"
BIN = Path(sys.executable).parent

# The roles checked for layout, specs and READMEs (prometheus and grafana are written separately;
# ansible-lint and the syntax checks still cover them).
ROLES = [
    "fleet_tls",
    "nvidia_driver",
    "nvme_raid",
    "data_volume",
    "container_runtime",
    "nvidia_container_toolkit",
    "redis",
    "milvus",
    "exporters",
    "tensorrt_llm",
    "ragfleet_service",
    "gateway",
]
# Roles that only write files made on the controller: no packages, so no install step or switch,
# and nothing to restart, so no handlers.
WRITE_ONLY_ROLES = {"fleet_tls"}
PLAYBOOKS = ["site.yml", "verify.yml", "backup.yml", "restore.yml"]
INVENTORIES = ["local", "example-onprem", "example-large"]
GROUPS = {"gpu_inference", "datastore", "monitoring", "gateway"}
# Boot-time units that build block devices before local filesystems mount: root by necessity
# (mdadm, mkfs), checked in test_nvme_boot.py.
ROOT_BOOT_UNITS = {"ragfleet-nvme-data.service"}


def container_unit_names() -> set[str]:
    """Units the common role writes from the container descriptions in the roles' vars/main.yml."""
    names = set()
    for path in ROLES_DIR.glob("*/vars/main.yml"):
        for key, value in (yaml.safe_load(path.read_text()) or {}).items():
            if key.endswith("_container") and isinstance(value, dict):
                names.add(f"{value['name']}.service")
            elif key.endswith("_containers"):
                names.update(f"{item['name']}.service" for item in value)
    return names


# Units the roles write themselves (Redis and HAProxy use the packages' hardened units).
UNIT_TEMPLATES = sorted(
    {
        p.name.removesuffix(".j2")
        for p in ROLES_DIR.glob("*/templates/*.service.j2")
        if p.name.removesuffix(".j2") not in ROOT_BOOT_UNITS and p.parts[-3] != "common"
    }
    | container_unit_names()
)


def ansible_env() -> dict[str, str]:
    env = dict(os.environ)
    env["ANSIBLE_CONFIG"] = str(ANSIBLE_DIR / "ansible.cfg")
    env["ANSIBLE_NOCOLOR"] = "1"
    env["ANSIBLE_HOME"] = str(REPO / ".ragfleet" / "ansible-home")
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    return env


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


# --- lint and syntax -------------------------------------------------------------------------


def test_ansible_lint_production_profile_passes() -> None:
    result = run(
        tool("ansible-lint"),
        "--nocolor",
        "-c",
        ANSIBLE_DIR / ".ansible-lint",
        ANSIBLE_DIR,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    assert "Profile 'production' was required, and it passed" in result.stdout + result.stderr


def test_molecule_playbooks_pass_the_production_profile() -> None:
    """The scenarios' own playbooks (prepare, connect, converge) meet the roles' bar."""
    playbooks = sorted((REPO / "molecule" / "shared").glob("*.yml"))
    assert {p.name for p in playbooks} >= {"connect.yml", "converge.yml", "prepare.yml"}
    result = run(
        tool("ansible-lint"),
        "--nocolor",
        "--offline",
        "--profile",
        "production",
        *playbooks,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    assert "Profile 'production' was required, and it passed" in result.stdout + result.stderr


@pytest.mark.parametrize("inventory", INVENTORIES)
@pytest.mark.parametrize("playbook", PLAYBOOKS)
def test_playbook_syntax_checks_against_inventory(playbook: str, inventory: str) -> None:
    result = run(
        tool("ansible-playbook"),
        "--syntax-check",
        "-i",
        REPO / "inventories" / inventory / "hosts.yml",
        ANSIBLE_DIR / playbook,
    )
    assert result.returncode == 0, result.stdout + result.stderr


# --- inventories -----------------------------------------------------------------------------


def inventory_list(inventory: str) -> dict[str, Any]:
    result = run(
        tool("ansible-inventory"), "-i", REPO / "inventories" / inventory / "hosts.yml", "--list"
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize("inventory", INVENTORIES)
def test_inventory_lists_the_four_groups_with_hosts(inventory: str) -> None:
    listing = inventory_list(inventory)
    assert set(listing["all"]["children"]) >= GROUPS
    for group in GROUPS:
        assert listing[group]["hosts"], f"{inventory}: group {group} has no host"


@pytest.mark.parametrize("inventory", INVENTORIES)
def test_inventory_names_a_profile_and_private_addresses(inventory: str) -> None:
    hostvars = inventory_list(inventory)["_meta"]["hostvars"]
    for host, variables in hostvars.items():
        profile = variables["ragfleet_profile"]
        assert (REPO / "hardware_profiles" / f"{profile}.yaml").is_file(), (
            f"{host}: unknown profile {profile}"
        )
        assert re.fullmatch(r"\d+\.\d+\.\d+\.\d+", variables["private_ip"]), f"{host}: private_ip"


def test_large_inventory_has_two_inference_hosts() -> None:
    assert len(inventory_list("example-large")["gpu_inference"]["hosts"]) >= 2


def test_local_inventory_runs_everything_on_localhost_without_a_gpu() -> None:
    listing = inventory_list("local")
    for group in GROUPS:
        assert listing[group]["hosts"] == ["localhost"]
    assert listing["_meta"]["hostvars"]["localhost"]["ansible_connection"] == "local"
    assert listing["_meta"]["hostvars"]["localhost"]["ragfleet_gpu"] is False


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
    the inventory, a generated vault)."""
    vault, vault_password = generated_vault()
    env = ansible_env()
    env["ANSIBLE_LOAD_CALLBACK_PLUGINS"] = "1"
    env["ANSIBLE_STDOUT_CALLBACK"] = "ansible.posix.json"
    result = run(
        tool("ansible"),
        "-i",
        REPO / "inventories" / inventory / "hosts.yml",
        host,
        "--playbook-dir",
        ANSIBLE_DIR,
        "-m",
        "ansible.builtin.debug",
        "-a",
        f"msg={{{{ {expression} | to_json }}}}",
        "-e",
        f"@{vault}",
        "--vault-password-file",
        vault_password,
        env=env,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = json.loads(result.stdout)
    return json.loads(report["plays"][0]["tasks"][0]["hosts"][host]["msg"])


def test_group_vars_size_the_large_inference_hosts_from_the_profile() -> None:
    profile = load_yaml(REPO / "hardware_profiles" / "large.yaml")
    got = group_vars_of(
        "example-large",
        "rag-large-inference-1",
        "{'workers': ragfleet_service_workers, 'tp': tensorrt_llm_tensor_parallel_size,"
        " 'quant': tensorrt_llm_quantisation, 'batch': tensorrt_llm_max_batch_size,"
        " 'kv': tensorrt_llm_kv_cache_free_gpu_memory_fraction, 'model': tensorrt_llm_model,"
        " 'raid': nvme_raid_level, 'devices': nvme_raid_min_devices}",
    )
    assert got == {
        "workers": profile["service"]["workers"],
        "tp": profile["trtllm"]["tensor_parallel_size"],
        "quant": profile["trtllm"]["quantisation"],
        "batch": profile["trtllm"]["max_batch_size"],
        "kv": profile["trtllm"]["kv_cache_free_gpu_memory_fraction"],
        "model": profile["trtllm"]["model"],
        "raid": profile["nvme"]["raid_level"],
        "devices": profile["nvme"]["min_devices"],
    }


def test_group_vars_wire_the_service_to_gateway_monitoring_and_datastore() -> None:
    got = group_vars_of(
        "example-large",
        "rag-large-inference-2",
        "{'proxies': ragfleet_service_trusted_proxies,"
        " 'metrics': ragfleet_service_metrics_allow_from,"
        " 'milvus': ragfleet_service_milvus_uri, 'redis': ragfleet_service_redis_url,"
        " 'host': ragfleet_service_host, 'llm': ragfleet_service_llm_base_url}",
    )
    assert got["proxies"] == ["127.0.0.1", "10.20.4.41"]
    assert got["metrics"] == ["127.0.0.1", "10.20.3.31"]
    assert got["milvus"] == "https://10.20.2.21:19530"
    assert re.fullmatch(r"rediss://ragfleet:[^@]+@10\.20\.2\.21:6379/0", got["redis"])
    assert got["host"] == "10.20.1.12"
    assert got["llm"] == "http://127.0.0.1:8001"


def test_group_vars_give_the_service_the_milvus_user_the_datastore_creates() -> None:
    token = group_vars_of("example-large", "rag-large-inference-1", "ragfleet_service_milvus_token")
    datastore = group_vars_of(
        "example-large",
        "rag-large-datastore-1",
        "[milvus_service_user, milvus_service_password, milvus_root_password]",
    )
    user, password, root_password = datastore
    assert token == f"{user}:{password}"
    assert user == "ragfleet_service"
    assert len(password) >= 32
    assert len(root_password) >= 32
    assert password != root_password


def test_group_vars_put_every_inference_host_behind_the_gateway() -> None:
    backends = group_vars_of("example-large", "rag-large-gateway-1", "gateway_backends")
    assert backends == {
        "rag-large-inference-1": "10.20.1.11",
        "rag-large-inference-2": "10.20.1.12",
    }


def test_group_vars_choose_milvus_lite_for_small_and_standalone_for_large() -> None:
    assert group_vars_of("example-onprem", "rtx-01", "milvus_mode") == "lite"
    assert group_vars_of("example-large", "rag-large-datastore-1", "milvus_mode") == "standalone"


# --- role structure and argument specs -------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_role_has_the_standard_layout(role: str) -> None:
    path = ROLES_DIR / role
    for part in (
        "defaults/main.yml",
        "meta/main.yml",
        "meta/argument_specs.yml",
        "tasks/main.yml",
        "tasks/preflight.yml",
        "tasks/install.yml",
        "tasks/configure.yml",
        "handlers/main.yml",
        "README.md",
    ):
        if role in WRITE_ONLY_ROLES and part in {"tasks/install.yml", "handlers/main.yml"}:
            assert not (path / part).exists(), f"{role} writes files only: {part} says otherwise"
            continue
        assert (path / part).is_file(), f"{role}: {part} is missing"
    main = (path / "tasks/main.yml").read_text()
    steps = ["preflight.yml", "configure.yml"]
    if role not in WRITE_ONLY_ROLES:
        steps.insert(1, "install.yml")
    assert [main.index(step) for step in steps] == sorted(main.index(step) for step in steps)


@pytest.mark.parametrize("role", ROLES)
def test_install_is_skippable_by_a_variable(role: str) -> None:
    if role in WRITE_ONLY_ROLES:
        assert "install" not in (ROLES_DIR / role / "tasks/main.yml").read_text()
        return
    main = load_yaml(ROLES_DIR / role / "tasks/main.yml")
    install = next(
        task for task in main if task["ansible.builtin.include_tasks"]["file"] == "install.yml"
    )
    assert f"{role}_install" in str(install["when"])


def argument_options(role: str) -> dict[str, dict[str, Any]]:
    spec = load_yaml(ROLES_DIR / role / "meta/argument_specs.yml")
    return spec["argument_specs"]["main"]["options"]


@pytest.mark.parametrize("role", ROLES)
def test_every_default_is_documented_in_argument_specs(role: str) -> None:
    defaults = load_yaml(ROLES_DIR / role / "defaults/main.yml") or {}
    undocumented = sorted(set(defaults) - set(argument_options(role)))
    assert not undocumented, f"{role}: defaults without argument_specs: {undocumented}"


@pytest.mark.parametrize("role", ROLES)
def test_every_public_variable_is_prefixed_typed_and_described(role: str) -> None:
    for name, option in argument_options(role).items():
        assert name.startswith(f"{role}_"), f"{role}: {name} lacks the role prefix"
        assert option.get("type"), f"{role}: {name} has no type"
        assert len(option.get("description", "")) > 10, f"{role}: {name} has no description"
        if "choices" in option and "default" in option:
            assert option["default"] in option["choices"], (
                f"{role}: {name} default not among choices"
            )


@pytest.mark.parametrize("role", ROLES)
def test_argument_spec_defaults_match_the_role_defaults(role: str) -> None:
    defaults = load_yaml(ROLES_DIR / role / "defaults/main.yml") or {}
    for name, option in argument_options(role).items():
        if "default" in option:
            assert name in defaults, (
                f"{role}: {name} has a spec default but no defaults/main.yml entry"
            )
            assert option["default"] == defaults[name], (
                f"{role}: {name} spec default differs from defaults/main.yml"
            )


@pytest.mark.parametrize("role", ROLES)
def test_role_readme_documents_every_variable(role: str) -> None:
    readme = (ROLES_DIR / role / "README.md").read_text()
    missing = [name for name in argument_options(role) if f"`{name}`" not in readme]
    assert not missing, f"{role}/README.md does not mention {missing}"
    assert "## Example" in readme


def test_system_users_get_nologin_shells() -> None:
    for tasks in ROLES_DIR.glob("*/tasks/*.yml"):
        if tasks.parts[-3] not in ROLES:
            continue
        for task in load_yaml(tasks) or []:
            module = task.get("ansible.builtin.user")
            if module:
                assert module.get("system") is True, tasks
                assert module.get("shell") == "/usr/sbin/nologin", tasks


def test_commands_declare_when_they_change_something() -> None:
    def walk(tasks: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        for task in tasks:
            yield task
            for key in ("block", "rescue", "always"):
                yield from walk(task.get(key, []))

    for path in [
        *ANSIBLE_DIR.glob("*.yml"),
        *ROLES_DIR.glob("*/tasks/*.yml"),
        *ROLES_DIR.glob("*/handlers/*.yml"),
    ]:
        if path.name.startswith("vault") or (
            path.parts[-3] not in ROLES and path.parent != ANSIBLE_DIR
        ):
            continue
        documents = load_yaml(path) or []
        plays = documents if path.parent == ANSIBLE_DIR else [{"tasks": documents}]
        for play in plays:
            for task in walk(play.get("tasks", [])):
                command = task.get("ansible.builtin.command") or task.get("ansible.builtin.shell")
                if command is None:
                    continue
                guarded = "changed_when" in task or any(
                    k in command for k in ("creates", "removes")
                )
                assert guarded, (
                    f"{path}: command task {task.get('name')!r} lacks changed_when/creates"
                )


def test_site_wires_the_roles_by_group() -> None:
    plays = {
        play["hosts"]: [r["role"] for r in play.get("roles", [])]
        for play in load_yaml(ANSIBLE_DIR / "site.yml")
    }
    assert plays["gpu_inference"] == [
        "nvidia_driver",
        "nvme_raid",
        "data_volume",
        "container_runtime",
        "nvidia_container_toolkit",
        "tensorrt_llm",
        "ragfleet_service",
    ]
    assert plays["datastore"] == [
        "nvme_raid",
        "data_volume",
        "container_runtime",
        "redis",
        "milvus",
    ]
    assert plays["monitoring"] == ["data_volume", "prometheus", "grafana"]
    assert plays["gateway"] == ["gateway"]
    assert "exporters" in plays["all"]
    order = [play["hosts"] for play in load_yaml(ANSIBLE_DIR / "site.yml")]
    assert order.index("datastore") < order.index("gpu_inference"), (
        "the service's /readyz needs Milvus first"
    )


# --- rendered templates ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("rendered")
    result = run(
        tool("ansible-playbook"),
        "-i",
        "localhost,",
        REPO / "tests/ansible/render_templates.yml",
        "-e",
        f"render_dir={out}",
        "-e",
        "render_trtllm_profile=large",
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    return out


def test_haproxy_config_passes_haproxy_check(rendered: Path) -> None:
    haproxy = shutil.which("haproxy") or (
        "/usr/sbin/haproxy" if Path("/usr/sbin/haproxy").exists() else None
    )
    assert haproxy, (
        "haproxy is not installed: `make test` installs the Debian package haproxy"
        " (scripts/install-system-deps.sh)"
    )
    openssl = shutil.which("openssl")
    assert openssl, "openssl is not installed"
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            rendered / "ragfleet.pem.key",
            "-out",
            rendered / "ragfleet.pem",
            "-days",
            "1",
            "-subj",
            "/CN=test",
        ],
        check=True,
        capture_output=True,
    )
    result = subprocess.run(
        [haproxy, "-c", "-f", rendered / "haproxy.cfg"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "[WARNING]" not in result.stdout + result.stderr, result.stdout + result.stderr


def test_haproxy_config_balances_on_readyz_and_guards_the_edge(rendered: Path) -> None:
    cfg = (rendered / "haproxy.cfg").read_text()
    assert "balance leastconn" in cfg
    assert "uri /readyz" in cfg
    assert "server inference-1 10.20.1.11:8000 check" in cfg
    assert "server inference-2 10.20.1.12:8000 check" in cfg
    assert "deny deny_status 403 if { path,url_dec -m reg -i ^(/+\\.)*/+metrics }" in cfg
    assert "del-header X-Forwarded-For" in cfg
    assert "option forwardfor" in cfg
    assert "sc_http_req_rate(0) gt 600" in cfg
    assert "req.hdr_val(content-length) gt 10485760" in cfg
    assert "%{+json}o" in cfg
    assert "bind 10.20.4.41:8404" in cfg  # statistics on the private address only


@pytest.fixture
def redis_on_rendered_config(rendered: Path, tmp_path: Path) -> Iterator[int]:
    server = shutil.which("redis-server")
    assert server, (
        "redis-server is not installed: `make test` installs the Debian package redis-server"
    )
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [
            server,
            rendered / "redis.conf",
            "--port",
            str(port),
            "--dir",
            tmp_path,
            "--supervised",
            "no",
            "--pidfile",
            tmp_path / "redis.pid",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if process.poll() is not None:
                output = process.stdout.read() if process.stdout else ""
                pytest.fail(f"redis-server rejected the rendered redis.conf:\n{output}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_redis_config_starts_a_bounded_non_persistent_cache(redis_on_rendered_config: int) -> None:
    import redis

    admin = redis.Redis(port=redis_on_rendered_config, password="test-admin-password-0123")
    assert admin.config_get("maxmemory-policy")["maxmemory-policy"] == "allkeys-lru"
    assert admin.config_get("maxmemory")["maxmemory"] == str(64 * 1024 * 1024)
    assert admin.config_get("save")["save"] == ""
    assert admin.config_get("appendonly")["appendonly"] == "no"
    assert admin.config_get("bind")["bind"] == "127.0.0.1"


def test_redis_config_gives_the_service_an_acl_user_without_dangerous_commands(
    redis_on_rendered_config: int,
) -> None:
    import redis

    app = redis.Redis(
        port=redis_on_rendered_config, username="ragfleet", password="test-app-password-0123"
    )
    app.set("ragfleet:probe", "1", ex=10)
    assert app.get("ragfleet:probe") == b"1"
    assert app.eval("return 1", 0) == 1  # the cache's Lua scripts
    with pytest.raises(redis.exceptions.NoPermissionError):
        app.flushall()
    anonymous = redis.Redis(port=redis_on_rendered_config)
    with pytest.raises(redis.exceptions.AuthenticationError):
        anonymous.get("ragfleet:probe")


def test_redis_config_gives_the_exporter_a_user_that_can_only_read(
    redis_on_rendered_config: int,
) -> None:
    import redis

    admin = redis.Redis(port=redis_on_rendered_config, password="test-admin-password-0123")
    admin.set("ragfleet:answer", "cached")
    exporter = redis.Redis(
        port=redis_on_rendered_config,
        username="redis_exporter",
        password="test-exporter-password-0123",
    )
    # What redis_exporter reads on every scrape.
    assert exporter.ping()
    assert "used_memory" in exporter.info()
    assert exporter.config_get("maxmemory")
    exporter.slowlog_get()
    exporter.execute_command("LATENCY", "LATEST")
    exporter.execute_command("CLIENT", "LIST")
    denied = [
        lambda: exporter.set("ragfleet:answer", "poisoned"),
        lambda: exporter.delete("ragfleet:answer"),
        lambda: exporter.flushall(),
        lambda: exporter.config_set("maxmemory", "1mb"),
        lambda: exporter.execute_command("CLIENT", "KILL", "TYPE", "normal"),
        lambda: exporter.slowlog_reset(),
        lambda: exporter.eval("return redis.call('SET', KEYS[1], 'x')", 1, "ragfleet:answer"),
        lambda: exporter.publish("ragfleet:invalidate", "x"),
    ]
    for attempt in denied:
        with pytest.raises(redis.exceptions.ResponseError, match=r"NOPERM|no permissions"):
            attempt()
    assert admin.get("ragfleet:answer") == b"cached"


def test_redis_config_keeps_passwords_out_of_the_file(rendered: Path) -> None:
    conf = (rendered / "redis.conf").read_text()
    assert "test-admin-password-0123" not in conf
    assert "test-app-password-0123" not in conf
    assert "test-exporter-password-0123" not in conf


def test_environment_file_holds_every_setting_in_systemd_quoting(rendered: Path) -> None:
    lines = [
        line
        for line in (rendered / "ragfleet.env").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    env = {}
    for line in lines:
        name, _, value = line.partition("=")
        assert value.startswith('"'), line
        assert value.endswith('"'), line
        env[name] = json.loads(value)
    assert env["RAGFLEET_WORKERS"] == "8"
    assert env["RAGFLEET_HOST"] == "10.20.1.11"
    assert env["RAGFLEET_TRUSTED_PROXIES"] == "127.0.0.1,10.20.4.41"
    assert env["RAGFLEET_METRICS_ALLOW_FROM"] == "127.0.0.1,10.20.3.31"
    assert env["RAGFLEET_API_KEYS"].count(":query") == 2
    assert env["RAGFLEET_CACHE_TTL_S"] == 'say "hi"'
    assert env["RAGFLEET_LOG_JSON"] == "true"


def test_service_unit_runs_ragfleet_serve_with_the_workers(rendered: Path) -> None:
    unit = (rendered / "ragfleet.service").read_text()
    assert "ragfleet serve --host 10.20.1.11 --port 8000 --workers 8" in unit
    assert "ReadWritePaths=/srv/ragfleet/service" in unit


def test_tensorrt_llm_unit_takes_the_large_profile_and_publishes_privately(rendered: Path) -> None:
    unit = (rendered / "tensorrt-llm.service").read_text()
    options = load_yaml(rendered / "extra_llm_api_options.yml")
    for flag in (
        "--tp_size 8",
        "--max_batch_size 64",
        "--kv_cache_free_gpu_memory_fraction 0.9",
        "--ipc host",
        "--ulimit memlock=-1",
        "--ulimit stack=67108864",
        "--host 0.0.0.0",
    ):
        assert flag in unit, flag
    assert re.findall(r"--publish (\S+)", unit) == ["127.0.0.1:8001:8001"]
    assert "nvcr.io/nvidia/tensorrt-llm/release:" in unit
    assert options["quant_config"]["quant_algo"] == "W8A16"
    assert options["kv_cache_config"]["free_gpu_memory_fraction"] == 0.9


def test_milvus_standalone_publishes_only_on_private_and_loopback(rendered: Path) -> None:
    unit = (rendered / "milvus.service").read_text()
    assert sorted(re.findall(r"--publish (\S+)", unit)) == sorted(
        [
            "127.0.0.1:19530:19530",
            "10.20.2.21:19530:19530",
            "127.0.0.1:9091:9091",
            "10.20.2.21:9091:9091",
        ]
    )
    assert "--publish" not in (rendered / "milvus-etcd.service").read_text()
    assert "--publish" not in (rendered / "milvus-minio.service").read_text()
    assert re.search(r"milvusdb/milvus:v2\.5\.\d+", unit)
    config = load_yaml(rendered / "user.yaml")
    assert config["minio"]["accessKeyID"] == "test-access"
    assert config["etcd"]["endpoints"] == ["milvus-etcd:2379"]
    lite = (rendered / "milvus-lite.service").read_text()
    assert "--host 10.20.2.21" in lite


def test_milvus_standalone_authenticates_and_speaks_tls_with_the_fleet_certificate(
    rendered: Path,
) -> None:
    config = load_yaml(rendered / "user.yaml")
    security = config["common"]["security"]
    assert security["authorizationEnabled"] is True
    assert security["tlsMode"] == 1
    assert security["defaultRootPassword"] == "test-root-password"
    # The REST API is not used by the service; off, it cannot be a plaintext way in.
    assert config["proxy"]["http"]["enabled"] is False
    tls = config["tls"]
    unit = (rendered / "milvus.service").read_text()
    mounts = set(re.findall(r"--volume (\S+)", unit))
    for host_file, key in [
        ("/etc/ssl/ragfleet/host.pem", "serverPemPath"),
        ("/etc/ssl/ragfleet/host.key", "serverKeyPath"),
        ("/etc/ssl/ragfleet/ca.pem", "caPemPath"),
    ]:
        assert f"{host_file}:{tls[key]}:ro" in mounts, key


def test_milvus_lite_runs_behind_the_gate_with_tls_and_digests_only(rendered: Path) -> None:
    lite = (rendered / "milvus-lite.service").read_text()
    exec_start = re.search(r"^ExecStart=(.*)$", lite, re.MULTILINE)
    assert exec_start is not None
    argv = exec_start.group(1).split()
    assert argv[:2] == ["/opt/milvus-lite/bin/python", "/opt/milvus-lite/milvus_gate.py"]
    assert argv[argv.index("--tls-cert-file") + 1] == "/etc/ssl/ragfleet/host.pem"
    assert argv[argv.index("--tls-key-file") + 1] == "/etc/ssl/ragfleet/host.key"
    assert re.search(r"^SupplementaryGroups=ragfleet-tls$", lite, re.MULTILINE)
    assert re.search(r"^EnvironmentFile=/etc/milvus/milvus-lite.env$", lite, re.MULTILINE)
    env = (rendered / "milvus-lite.env").read_text()
    assert "test-root-password" not in env
    assert "test-service-password" not in env
    users = json.loads(re.search(r"^MILVUS_GATE_USERS='(.*)'$", env, re.MULTILINE).group(1))
    digest = hashlib.sha256(b"milvus-gate:root:test-root-password").hexdigest()
    assert users["root"] == {"sha256": digest}
    assert "DropCollection" not in users["ragfleet_service"]["privileges"]
    assert "Search" in users["ragfleet_service"]["privileges"]


def test_every_unit_template_is_rendered_by_the_render_playbook(rendered: Path) -> None:
    assert sorted(p.name for p in rendered.glob("*.service")) == UNIT_TEMPLATES


@pytest.mark.parametrize("unit", UNIT_TEMPLATES)
def test_container_units_never_make_the_docker_client_read_a_secret_file(
    rendered: Path, unit: str
) -> None:
    """`docker run --env-file F` opens F in the client, which runs as the unit's unprivileged
    user and may not read the root-only file: systemd reads it instead, docker gets names."""
    text = (rendered / unit).read_text()
    assert "--env-file" not in text, f"{unit}: the docker client cannot read a root-only env file"


@pytest.mark.parametrize(
    ("unit", "env_file"),
    [("milvus-minio.service", "minio.env"), ("tensorrt-llm.service", "tensorrt-llm.env")],
)
def test_container_units_pass_every_variable_of_their_env_file_by_name(
    rendered: Path, unit: str, env_file: str
) -> None:
    text = (rendered / unit).read_text()
    assert re.search(rf"^EnvironmentFile=/etc/\S+/{re.escape(env_file)}$", text, re.MULTILINE)
    names = set(re.findall(r"^([A-Z_]+)=", (rendered / env_file).read_text(), re.MULTILINE))
    passed = set(re.findall(r"--env ([A-Z_]+)", text))
    assert names, f"{env_file} sets no variable"
    assert names <= passed, f"{unit} does not pass {sorted(names - passed)}"


@pytest.mark.parametrize("unit", UNIT_TEMPLATES)
def test_systemd_units_are_hardened_and_unprivileged(rendered: Path, unit: str) -> None:
    text = (rendered / unit).read_text()
    for directive in (
        "NoNewPrivileges=true",
        "ProtectSystem=strict",
        "ProtectHome=",
        "CapabilityBoundingSet=",
    ):
        assert directive in text, f"{unit}: {directive} missing"
    user = re.search(r"^User=(\S+)", text, re.M)
    assert user, f"{unit}: runs as root"
    assert user.group(1) != "root", unit


# Drop-ins that add the TLS group to a packaged unit: (package unit, the drop-in as written).
TLS_GROUP_DROP_INS = {
    "redis-server": lambda: next(
        task["ansible.builtin.copy"]["content"]
        for task in load_yaml(ROLES_DIR / "redis/tasks/configure.yml")
        if task["name"] == "Let Redis read the TLS key"
    ),
    "prometheus": lambda: (ROLES_DIR / "prometheus/templates/tls.conf.j2").read_text(),
}


@pytest.mark.parametrize("unit", sorted(TLS_GROUP_DROP_INS))
def test_a_drop_in_adding_the_tls_group_turns_off_the_packages_private_users(unit: str) -> None:
    """Debian's redis-server.service and prometheus.service set PrivateUsers=true: that user
    namespace maps only the unit's own user and group, so systemd cannot add the TLS group, and
    the unit fails (216/GROUP) wherever user namespaces work: real hosts, unprivileged
    containers."""
    packaged = Path(f"/lib/systemd/system/{unit}.service")
    assert packaged.is_file(), f"{packaged} is missing: `make system-deps` installs the package"
    drop_in = TLS_GROUP_DROP_INS[unit]()
    assert "SupplementaryGroups=" in drop_in
    if re.search(r"^PrivateUsers=(true|yes|1)$", packaged.read_text(), re.M):
        assert re.search(r"^\s*PrivateUsers=false$", drop_in, re.M), drop_in


def test_daemon_json_registers_the_nvidia_runtime(rendered: Path) -> None:
    daemon = json.loads((rendered / "daemon.json").read_text())
    assert daemon["runtimes"]["nvidia"]["path"] == "nvidia-container-runtime"
    assert daemon["live-restore"] is True


def test_exporters_listen_on_the_private_address(rendered: Path) -> None:
    assert (
        "--web.listen-address=10.20.1.11:9100" in (rendered / "node_exporter.service").read_text()
    )
    assert "--collector.mdadm" in (rendered / "node_exporter.service").read_text()
    assert "--publish 10.20.1.11:9400:9400" in (rendered / "dcgm-exporter.service").read_text()


def test_dcgm_exporter_reads_the_mounted_counters_file(rendered: Path) -> None:
    """Without -f the image's default counters apply, which leave out the throttling fields."""
    unit = (rendered / "dcgm-exporter.service").read_text()
    mount = re.search(r"--volume (\S+):(\S+):ro", unit)
    assert mount, "the counters file is not mounted read-only"
    assert mount.group(1) == "/etc/dcgm-exporter/ragfleet-counters.csv"
    assert re.search(rf"-f {re.escape(mount.group(2))}\s*$", unit, re.MULTILINE), (
        "dcgm-exporter is not started with -f on the mounted file"
    )


def test_the_common_start_runs_pending_restarts_before_starting() -> None:
    """A start followed at once by the handler's restart leaves a half-created container whose
    name the restarted unit collides with: the pending restart must run first and alone."""
    tasks = load_yaml(ROLES_DIR / "common" / "tasks" / "start.yml")
    flush = next(
        i for i, task in enumerate(tasks) if task.get("ansible.builtin.meta") == "flush_handlers"
    )
    start = next(
        i
        for i, task in enumerate(tasks)
        if task.get("ansible.builtin.systemd_service", {}).get("state") == "started"
    )
    assert flush < start


# Units started before anything that could be pending for them: Docker (before its containers),
# boot-time units of the driver, the toolkit and the NVMe array.
STARTED_OUTSIDE_COMMON = {
    "container_runtime",
    "nvidia_container_toolkit",
    "nvidia_driver",
    "nvme_raid",
}


@pytest.mark.parametrize(
    "role",
    sorted(p.name for p in ROLES_DIR.iterdir() if (p / "tasks").is_dir() and p.name != "common"),
)
def test_server_roles_start_through_the_common_start(role: str) -> None:
    """One way to start a server and wait for it: the common role's start.yml."""
    text = "\n".join(p.read_text() for p in (ROLES_DIR / role / "tasks").glob("*.yml"))
    starts_directly = re.search(r"^\s+state: started$", text, re.MULTILINE) is not None
    assert starts_directly == (role in STARTED_OUTSIDE_COMMON), (
        f"{role}: start servers with tasks_from: start.yml of the common role"
    )
