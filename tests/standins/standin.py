"""What the stand-in images share: small HTTP servers, SIGTERM as PID 1, waiting for a peer,
and the S3 request signature (AWS Signature Version 4) MinIO checks and Milvus sends.

Stand-ins run inside Molecule's Docker daemon in place of images no registry here can serve.
Each keeps the contract of the image it replaces (command line, environment, volumes, user,
ports, health endpoint) so that a unit that would fail with the real image fails with it too.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import json
import signal
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Handler = Callable[[BaseHTTPRequestHandler], tuple[int, str, bytes]]


def log(name: str, message: str) -> None:
    """One line on stderr: docker's journald log driver keeps it under the unit."""
    print(f"{name}: {message}", file=sys.stderr, flush=True)


def fail(name: str, message: str, code: int = 1) -> None:
    log(name, message)
    raise SystemExit(code)


def exit_on_sigterm(cleanup: Callable[[], None] | None = None) -> None:
    """PID 1 in a container ignores signals it has no handler for: `docker stop` would wait."""

    def handle(signum: int, _frame: object) -> None:
        if cleanup is not None:
            cleanup()
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)


def serve_http(host: str, port: int, routes: dict[tuple[str, str], Handler]) -> ThreadingHTTPServer:
    """Serve (METHOD, path-prefix) routes from a daemon thread; the longest prefix wins."""

    class RouteHandler(BaseHTTPRequestHandler):
        def _dispatch(self) -> None:
            path = self.path.split("?", 1)[0]
            matches = [key for key in routes if key[0] == self.command and path.startswith(key[1])]
            if not matches:
                self._reply(404, "text/plain", b"not found\n")
                return
            status, content_type, body = routes[max(matches, key=lambda key: len(key[1]))](self)
            self._reply(status, content_type, body)

        def _reply(self, status: int, content_type: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        do_GET = do_HEAD = do_PUT = do_POST = _dispatch

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer((host, port), RouteHandler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def json_reply(status: int, payload: object) -> tuple[int, str, bytes]:
    return status, "application/json", json.dumps(payload).encode()


def wait_for_http(url: str, timeout_s: float) -> bool:
    """True once `url` answers 200; peers start in any order, as compose services do."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return True
        except (OSError, urllib.error.URLError):
            pass
        time.sleep(1)
    return False


# AWS Signature Version 4 for a request without a body, as an S3 client signs it.
_EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
_SIGNED_HEADERS = "host;x-amz-content-sha256;x-amz-date"


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode(), hashlib.sha256).digest()


def _signature(
    secret_key: str, method: str, host: str, path: str, amz_date: str, region: str
) -> str:
    day = amz_date[:8]
    canonical_headers = (
        f"host:{host}\nx-amz-content-sha256:{_EMPTY_SHA256}\nx-amz-date:{amz_date}\n"
    )
    canonical_request = "\n".join(
        [method, path, "", canonical_headers, _SIGNED_HEADERS, _EMPTY_SHA256]
    )
    scope = f"{day}/{region}/s3/aws4_request"
    string_to_sign = "\n".join(
        [
            "AWS4-HMAC-SHA256",
            amz_date,
            scope,
            hashlib.sha256(canonical_request.encode()).hexdigest(),
        ]
    )
    key = ("AWS4" + secret_key).encode()
    for part in (day, region, "s3", "aws4_request"):
        key = _hmac(key, part)
    return hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()


def sign_s3_request(
    method: str, host: str, path: str, access_key: str, secret_key: str, region: str = "us-east-1"
) -> dict[str, str]:
    amz_date = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
    scope = f"{amz_date[:8]}/{region}/s3/aws4_request"
    signature = _signature(secret_key, method, host, path, amz_date, region)
    return {
        "x-amz-date": amz_date,
        "x-amz-content-sha256": _EMPTY_SHA256,
        "Authorization": (
            f"AWS4-HMAC-SHA256 Credential={access_key}/{scope}, "
            f"SignedHeaders={_SIGNED_HEADERS}, Signature={signature}"
        ),
    }


def s3_request_is_signed_by(
    request: BaseHTTPRequestHandler, access_key: str, secret_key: str
) -> bool:
    authorization = request.headers.get("Authorization", "")
    fields = dict(
        part.strip().split("=", 1)
        for part in authorization.removeprefix("AWS4-HMAC-SHA256 ").split(",")
        if "=" in part
    )
    credential = fields.get("Credential", "").split("/")
    if len(credential) != 5 or credential[0] != access_key:
        return False
    expected = _signature(
        secret_key,
        request.command,
        request.headers.get("Host", ""),
        request.path.split("?", 1)[0],
        request.headers.get("x-amz-date", ""),
        credential[2],
    )
    return hmac.compare_digest(expected, fields.get("Signature", ""))
