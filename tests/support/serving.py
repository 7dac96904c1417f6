"""``ragfleet serve`` as a real process for tests: started in its own process group on a free
loopback port, waited for until /readyz answers 200, and killed whole (workers, Milvus Lite
sidecar) at the end whatever happens."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path

import httpx
import pytest

from ragfleet.adapters.free_port import free_loopback_port


@contextmanager
def serving(
    ragfleet: str | Path,
    env: dict[str, str],
    log: Path,
    *,
    options: Sequence[str] = (),
    cwd: Path | None = None,
    ready_within_s: float = 120,
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """``ragfleet serve --port P *options``, ready: yields the process and its base URL."""
    port = free_loopback_port()
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(ragfleet), "serve", "--port", str(port), *options],
            cwd=cwd,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + ready_within_s
        while time.monotonic() < deadline:
            assert process.poll() is None, log.read_text()
            with suppress(httpx.HTTPError):
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            time.sleep(0.3)
        else:
            pytest.fail(f"service not ready in {ready_within_s:g} s:\n{log.read_text()}")
        yield process, base
    finally:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
