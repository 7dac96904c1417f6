"""Stand-in for minio/minio as Milvus standalone runs it: `minio server DIR`, root credentials
from MINIO_ROOT_USER / MINIO_ROOT_PASSWORD (MinIO's own defaults when unset, its length rules
when set), a data directory the container's user must be able to write, the S3 bucket calls
Milvus makes (signed with AWS Signature Version 4 and checked against the root credentials),
and /minio/health/live and /ready on port 9000."""

from __future__ import annotations

import argparse
import os
import sys
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path

from standin import exit_on_sigterm, fail, log, s3_request_is_signed_by, serve_http

NAME = "minio"


def credentials() -> tuple[str, str]:
    """MinIO falls back to minioadmin when neither variable is set and refuses short ones."""
    user = os.environ.get("MINIO_ROOT_USER", "")
    password = os.environ.get("MINIO_ROOT_PASSWORD", "")
    if not user and not password:
        log(NAME, "WARNING: detected default credentials 'minioadmin:minioadmin'")
        return "minioadmin", "minioadmin"
    if len(user) < 3:
        fail(NAME, "Invalid credentials: MINIO_ROOT_USER should be at least 3 characters")
    if len(password) < 8:
        fail(NAME, "Invalid credentials: MINIO_ROOT_PASSWORD should be at least 8 characters")
    return user, password


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="minio", allow_abbrev=False)
    commands = parser.add_subparsers(dest="command", required=True)
    server = commands.add_parser("server", allow_abbrev=False)
    server.add_argument("--address", default=":9000")
    server.add_argument("--console-address", default="")
    server.add_argument("--quiet", action="store_true")
    server.add_argument("directory")
    # The image's entrypoint prepends `minio` when the command does not start with it.
    return parser.parse_args(argv[1:] if argv[:1] == ["minio"] else argv)


def main(argv: list[str]) -> None:
    args = parse(argv)
    user, password = credentials()
    data = Path(args.directory)
    try:
        (data / ".minio.sys").mkdir(parents=True, exist_ok=True)
        (data / ".minio.sys" / "format.json").write_text(
            '{"version": "1", "format": "xl-single"}\n'
        )
    except OSError as error:
        fail(NAME, f"Unable to use the drive {data}: {error}")

    def bucket(request: BaseHTTPRequestHandler) -> tuple[int, str, bytes]:
        if not s3_request_is_signed_by(request, user, password):
            body = b"<Error><Code>InvalidAccessKeyId</Code></Error>"
            return 403, "application/xml", body
        path = data / request.path.split("?", 1)[0].strip("/").split("/")[0]
        if request.command == "PUT":
            path.mkdir(exist_ok=True)
            return 200, "application/xml", b""
        return (200 if path.is_dir() else 404), "application/xml", b""

    health = {
        ("GET", "/minio/health/live"): lambda _request: (200, "text/plain", b""),
        ("GET", "/minio/health/ready"): lambda _request: (200, "text/plain", b""),
    }
    routes = {**health, ("HEAD", "/"): bucket, ("PUT", "/"): bucket}
    host, _, port = args.address.rpartition(":")
    exit_on_sigterm()
    serve_http(host or "0.0.0.0", int(port), routes)
    log(NAME, f"API: {args.address} (uid {os.getuid()})")
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main(sys.argv[1:])
