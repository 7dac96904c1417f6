"""The exporters role: system users, hardened units listening on a named address, the Redis
password readable by root and redis_exporter only. Where the binaries were installed
(exporters_install) the units run; where they were not (CI: GitHub is unreachable) the role wrote
the units and started nothing, and these tests check exactly that."""

import re
import time

import pytest

from tests.infra.remote_http import request

pytestmark = pytest.mark.exporters

HARDENING = (
    "NoNewPrivileges=true",
    "ProtectSystem=strict",
    "PrivateTmp=true",
    "PrivateDevices=true",
    "CapabilityBoundingSet=",
    "RestrictSUIDSGID=true",
    "MemoryDenyWriteExecute=true",
)
UNITS = {"node_exporter": 9100, "redis_exporter": 9121}


@pytest.mark.parametrize("name", sorted(UNITS))
def test_system_user_cannot_log_in(host, name):
    user = host.user(name)
    assert user.exists
    assert user.shell == "/usr/sbin/nologin"
    assert user.uid < 1000


@pytest.mark.parametrize("name", sorted(UNITS))
def test_unit_file_is_root_owned_and_hardened(host, name):
    unit = host.file(f"/etc/systemd/system/{name}.service")
    assert unit.exists
    assert (unit.user, unit.group, unit.mode) == ("root", "root", 0o644)
    content = unit.content_string
    assert f"User={name}" in content
    missing = [line for line in HARDENING if not re.search(rf"^{re.escape(line)}$", content, re.M)]
    assert not missing, f"{name}.service lacks {missing}"


def test_node_exporter_listens_on_a_named_address(host):
    content = host.file("/etc/systemd/system/node_exporter.service").content_string
    match = re.search(r"--web\.listen-address=(\S+):9100", content)
    assert match, "node_exporter.service sets no --web.listen-address"
    assert match.group(1) not in {"0.0.0.0", "", "[::]"}


def test_redis_exporter_secret_file(host):
    directory = host.file("/etc/redis_exporter")
    assert (directory.user, directory.group, directory.mode) == ("root", "redis_exporter", 0o750)
    env = host.file("/etc/redis_exporter/redis_exporter.env")
    assert (env.user, env.group, env.mode) == ("root", "redis_exporter", 0o640)
    content = env.content_string
    assert re.search(r"^REDIS_PASSWORD=.{16,}$", content, re.MULTILINE)
    listen = re.search(r"^REDIS_EXPORTER_WEB_LISTEN_ADDRESS=(\S+):9121$", content, re.MULTILINE)
    assert listen, "redis_exporter.env sets no listen address"
    assert listen.group(1) not in {"0.0.0.0", "", "[::]"}


def test_redis_exporter_reads_redis_as_its_read_only_user(host):
    """Logged in as the redis role's exporter user, not the admin, and it gets through."""
    env = host.file("/etc/redis_exporter/redis_exporter.env").content_string
    assert re.search(r"^REDIS_USER=redis_exporter$", env, re.MULTILINE), "not the exporter user"
    if not host.service("redis_exporter").is_running:
        pytest.skip("redis_exporter is not installed on this host")
    listen = re.search(r"^REDIS_EXPORTER_WEB_LISTEN_ADDRESS=(\S+)$", env, re.MULTILINE)
    url = f"http://{listen.group(1)}/metrics"
    for _ in range(30):  # the first scrape after a (re)start can race Redis's own start
        metrics = request(host, "GET", url).text
        if re.search(r"^redis_up 1$", metrics, re.MULTILINE):
            break
        time.sleep(1)
    assert re.search(r"^redis_up 1$", metrics, re.MULTILINE), "redis_exporter cannot log in"
    assert re.search(r"^redis_memory_used_bytes \d", metrics, re.MULTILINE)


def test_textfile_collector_directory(host):
    d = host.file("/var/lib/node_exporter/textfile")
    assert d.is_directory
    assert (d.user, d.group, d.mode) == ("root", "node_exporter", 0o775)


@pytest.mark.parametrize(("name", "port"), sorted(UNITS.items()))
def test_runs_exactly_when_installed(host, name, port):
    """The binary is the release one (exporters_source: github) or Debian's (debian)."""
    unit = host.file(f"/etc/systemd/system/{name}.service").content_string
    binary = re.search(r"^ExecStart=(\S+)", unit, re.MULTILINE)
    assert binary, f"{name}.service has no ExecStart"
    service = host.service(name)
    if host.file(binary.group(1)).exists:
        assert service.is_running
        assert service.is_enabled
        listening = [s for s in host.socket.get_listening_sockets() if s.endswith(f":{port}")]
        assert listening, f"{name} does not listen on {port}"
        assert not any(s.startswith(("tcp://0.0.0.0:", "tcp://:::")) for s in listening)
    else:
        assert not service.is_running, f"{name} runs without its binary {binary.group(1)}"
        assert not service.is_enabled, f"{name} is enabled without its binary {binary.group(1)}"


@pytest.mark.parametrize("package", ["prometheus-node-exporter", "prometheus-redis-exporter"])
def test_debian_packages_own_units_never_run(host, package):
    """exporters_source: debian masks the packages' units, which would listen on every address."""
    if not host.package(package).is_installed:
        pytest.skip(f"{package} is not installed (exporters_source: github)")
    service = host.service(package)
    assert not service.is_running, f"{package}.service runs beside the role's unit"
    assert service.is_masked, f"{package}.service is not masked"
