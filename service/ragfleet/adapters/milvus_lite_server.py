"""A Milvus Lite gRPC server as a child process, so several uvicorn workers share one database.

Milvus Lite's data directory can be opened by one process only; with more than one worker,
``ragfleet serve`` starts this sidecar on loopback and points every worker at it.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

from loguru import logger

from ragfleet.adapters.free_port import free_loopback_port


class MilvusLiteServer:
    """``milvus-lite server --data-dir DIR --host 127.0.0.1 --port PORT`` with a start/stop life."""

    def __init__(self, data_dir: Path, port: int = 0) -> None:
        self.data_dir = data_dir
        self.port = port or free_loopback_port()
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def uri(self) -> str:
        """The URI pymilvus connects to."""
        return f"http://127.0.0.1:{self.port}"

    def start(self, wait_s: float = 60.0) -> None:
        """Start the server and wait until its port accepts connections."""
        executable = shutil.which("milvus-lite") or str(
            Path(sys.executable).with_name("milvus-lite")
        )
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        command = [
            executable,
            "server",
            "--data-dir",
            str(self.data_dir),
            "--host",
            "127.0.0.1",  # its default is 0.0.0.0: never expose the unauthenticated store
            "--port",
            str(self.port),
        ]
        logger.info("starting Milvus Lite server on {} for {}", self.uri, self.data_dir)
        self._process = subprocess.Popen(command)  # noqa: S603 - fixed argv, no shell
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(
                    f"milvus-lite server exited with {self._process.returncode}; "
                    f"is {self.data_dir} open by another process?"
                )
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"milvus-lite server did not listen within {wait_s:.0f}s")

    def stop(self) -> None:
        """Terminate the server, killing it if it does not stop within 10 s."""
        if self._process is None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._process = None
