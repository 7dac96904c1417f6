"""The rendered redis.conf, run by a real redis-server: a bounded cache that keeps nothing on
disk, one ACL user per client with only what it needs, and no password in the file."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest


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
