"""The redis role: redis-server runs from the distribution's unit, on named addresses only, with
passwords required and its configuration readable by root and the redis group only."""

import re

import pytest

pytestmark = pytest.mark.redis

CONFIG = "/etc/redis/redis.conf"
PORT = 6379
FLEET_CA = "/etc/ssl/ragfleet/ca.pem"
TLS_CLI = f"redis-cli --tls --cacert {FLEET_CA}"
WILDCARDS = {"0.0.0.0", "::", "*"}


def _bind_addresses(host):
    match = re.search(r"^bind\s+(.+)$", host.file(CONFIG).content_string, re.MULTILINE)
    assert match, f"{CONFIG} has no bind line"
    return match.group(1).split()


def test_service_active_and_enabled(host):
    service = host.service("redis-server")
    assert service.is_running
    assert service.is_enabled


def test_config_file_mode_and_owner(host):
    f = host.file(CONFIG)
    assert f.user == "root"
    assert f.group == "redis"
    assert f.mode == 0o640
    assert host.file("/etc/redis").mode & 0o002 == 0


def test_binds_named_addresses_only(host):
    addresses = _bind_addresses(host)
    assert "127.0.0.1" in addresses
    assert not WILDCARDS & set(addresses), f"bind {' '.join(addresses)} includes a wildcard"


def test_listens_on_the_bound_addresses_only(host):
    listening = {
        s.host
        for s in (host.socket(spec) for spec in host.socket.get_listening_sockets())
        if s.protocol == "tcp" and s.port == PORT
    }
    assert listening, f"nothing listens on port {PORT}"
    assert not WILDCARDS & listening, f"port {PORT} listens on {listening}"
    assert listening == set(_bind_addresses(host))


def test_passwords_are_required(host):
    anonymous = host.run(f"{TLS_CLI} -h 127.0.0.1 -p {PORT} ping")
    assert "NOAUTH" in anonymous.stdout + anonymous.stderr
    wrong = host.run(f"{TLS_CLI} --no-auth-warning -h 127.0.0.1 -p {PORT} -a not-the-password ping")
    assert "WRONGPASS" in wrong.stdout + wrong.stderr


def test_only_tls_is_spoken_verified_by_the_fleet_ca(host):
    content = host.file(CONFIG).content_string
    assert re.search(r"^port 0$", content, re.MULTILINE), "a plaintext port is configured"
    assert re.search(rf"^tls-port {PORT}$", content, re.MULTILINE)
    plaintext = host.run(f"redis-cli -h 127.0.0.1 -p {PORT} ping")
    assert "NOAUTH" not in plaintext.stdout + plaintext.stderr, "Redis answered in plaintext"
    assert "PONG" not in plaintext.stdout
    other_ca = host.run(
        f"redis-cli --tls --cacert /etc/ssl/certs/ca-certificates.crt -p {PORT} ping"
    )
    assert "NOAUTH" not in other_ca.stdout + other_ca.stderr, "a certificate no CA signed passed"


def test_passwords_stored_as_hashes_only(host):
    content = host.file(CONFIG).content_string
    assert not re.search(r"^\s*requirepass\b", content, re.MULTILINE)
    users = re.findall(r"^user\s+(\S+)\s+on\s+(\S+)", content, re.MULTILINE)
    assert {name for name, _ in users} >= {"default"}
    assert len(users) >= 2, "the default user and the service's ACL user"
    for name, secret in users:
        assert re.fullmatch(r"#[0-9a-f]{64}", secret), f"user {name} has no SHA-256 password hash"


def test_not_persistent_and_bounded(host):
    content = host.file(CONFIG).content_string
    assert re.search(r"^maxmemory \d+mb$", content, re.MULTILINE)
    assert 'save ""' in content
    assert "appendonly no" in content


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        ("User", "redis"),
        ("NoNewPrivileges", "yes"),
        ("ProtectSystem", "strict"),
        ("ProtectHome", "yes"),
        ("PrivateTmp", "yes"),
        ("PrivateDevices", "yes"),
        ("RestrictAddressFamilies", "AF_INET AF_INET6 AF_UNIX"),
        ("CapabilityBoundingSet", ""),
    ],
)
def test_unit_is_hardened(host, setting, expected):
    value = host.check_output(f"systemctl show -p {setting} --value redis-server")
    assert value == expected, f"redis-server {setting}={value!r}, expected {expected!r}"
