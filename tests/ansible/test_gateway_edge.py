"""The gateway's edge rules, run in a real HAProxy: no spelling of /metrics gets through.

The rules are taken from the rendered haproxy.cfg (the dot-dot and /metrics denies) and put in
a plain-HTTP frontend on loopback in front of a stub backend that answers 200 to everything, so
what HAProxy lets through is what would reach the service.
"""

from __future__ import annotations

import http.client
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from ragfleet.adapters.free_port import free_loopback_port


class _Ok(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = self.path.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def edge_rules(config: str) -> list[str]:
    """The frontend's rules on the decoded path, as rendered."""
    return [line.strip() for line in config.splitlines() if "deny" in line and "url_dec" in line]


@pytest.fixture(scope="module")
def edge(rendered: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    haproxy = shutil.which("haproxy") or "/usr/sbin/haproxy"
    assert Path(haproxy).exists(), "haproxy is not installed (scripts/install-system-deps.sh)"
    rules = edge_rules((rendered / "haproxy.cfg").read_text())
    assert len(rules) == 2, rules
    backend = ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    threading.Thread(target=backend.serve_forever, daemon=True).start()
    port = free_loopback_port()
    config = tmp_path_factory.mktemp("edge") / "haproxy.cfg"
    config.write_text(
        "defaults\n  mode http\n  timeout connect 2s\n  timeout client 5s\n  timeout server 5s\n"
        f"frontend edge\n  bind 127.0.0.1:{port}\n"
        + "".join(f"  {rule}\n" for rule in rules)
        + "  default_backend stub\n"
        f"backend stub\n  server stub 127.0.0.1:{backend.server_address[1]}\n"
    )
    process = subprocess.Popen(
        [haproxy, "-db", "-f", str(config)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                http.client.HTTPConnection("127.0.0.1", port, timeout=1).connect()
                break
            except OSError:
                assert process.poll() is None, process.stdout.read() if process.stdout else ""
                assert time.monotonic() < deadline, "haproxy did not start"
                time.sleep(0.05)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)
        backend.shutdown()


def status_of(port: int, path: str) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    connection.request("GET", path)
    status = connection.getresponse().status
    connection.close()
    return status


@pytest.mark.parametrize(
    "path",
    [
        "/metrics",
        "/metrics/",
        "/%6Detrics",
        "/%6detrics",
        "/%6D%65trics",
        "//metrics",
        "/./metrics",
        "/%2Fmetrics",
        "/.%2F/metrics",
        "/METRICS",
        "/metrics?x=1",
    ],
)
def test_every_spelling_of_metrics_is_refused(edge: int, path: str) -> None:
    assert status_of(edge, path) == 403


@pytest.mark.parametrize("path", ["/readyz/../metrics", "/a/%2E%2E/metrics", "/.."])
def test_dot_dot_segments_are_refused(edge: int, path: str) -> None:
    assert status_of(edge, path) == 400


@pytest.mark.parametrize("path", ["/readyz", "/query", "/documents/metrics-notes.md"])
def test_other_paths_pass(edge: int, path: str) -> None:
    assert status_of(edge, path) == 200
