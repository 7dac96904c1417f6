"""A real redis-server on a free loopback port, started and stopped by the tests themselves."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from ragfleet.adapters.free_port import free_loopback_port
from tests.support.pki import ServerCertificate


class RedisServer:
    """``redis-server`` bound to 127.0.0.1, no persistence; can be stopped and started again.

    With ``tls``, the port speaks TLS only (``port 0``, ``tls-port``), as a fleet's Redis does.
    """

    def __init__(
        self,
        workdir: Path,
        password: str = "test-password",
        tls: ServerCertificate | None = None,
    ) -> None:
        executable = shutil.which("redis-server")
        if executable is None:
            pytest.fail("redis-server is not installed: run `make test` (it installs it) as root")
        self.executable = executable
        self.workdir = workdir
        self.password = password
        self.tls = tls
        self.port = free_loopback_port()
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        scheme = "rediss" if self.tls else "redis"
        return f"{scheme}://:{self.password}@127.0.0.1:{self.port}/0"

    def start(self) -> None:
        if self.tls is None:
            listen = ["--port", str(self.port)]
        else:
            listen = [
                "--port",
                "0",
                "--tls-port",
                str(self.port),
                "--tls-cert-file",
                str(self.tls.cert_file),
                "--tls-key-file",
                str(self.tls.key_file),
                "--tls-auth-clients",
                "no",
            ]
        self._process = subprocess.Popen(
            [
                self.executable,
                "--bind",
                "127.0.0.1",
                *listen,
                "--requirepass",
                self.password,
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        self.stop()
        pytest.fail("redis-server did not start within 10 s")

    def stop(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.wait(timeout=10)
            self._process = None
