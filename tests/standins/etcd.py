"""Stand-in for quay.io/coreos/etcd:v3.5 as Milvus standalone runs it: `etcd` with the flags of
Milvus's docker-compose file (or ETCD_* variables naming the same flags), a data directory the
container's user must be able to write, and GET /health on every client URL."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

from standin import exit_on_sigterm, fail, json_reply, log, serve_http

NAME = "etcd"
VERSION = "3.5.18"
# The etcd 3.5 flags this deployment can meet; any other is refused as etcd refuses it.
FLAGS = {
    "name": "default",
    "data-dir": "default.etcd",
    "listen-client-urls": "http://localhost:2379",
    "advertise-client-urls": "http://localhost:2379",
    "listen-peer-urls": "http://localhost:2380",
    "initial-advertise-peer-urls": "http://localhost:2380",
    "initial-cluster": "default=http://localhost:2380",
    "auto-compaction-mode": "periodic",
    "auto-compaction-retention": "0",
    "quota-backend-bytes": "0",
    "snapshot-count": "100000",
    "log-level": "info",
}


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="etcd", allow_abbrev=False)
    for flag, default in FLAGS.items():
        environment = "ETCD_" + flag.upper().replace("-", "_")
        parser.add_argument(f"--{flag}", f"-{flag}", default=os.environ.get(environment, default))
    known = {"ETCD_" + flag.upper().replace("-", "_") for flag in FLAGS}
    for variable in sorted(name for name in os.environ if name.startswith("ETCD_")):
        if variable not in known:
            log(NAME, f"unrecognized environment variable {variable}")
    return parser.parse_args(argv)


def prepare_data_dir(data_dir: str) -> None:
    member = Path(data_dir) / "member" / "snap"
    try:
        member.mkdir(parents=True, exist_ok=True)
        (member / "db").touch()
    except OSError as error:
        fail(NAME, f"cannot access data directory: {error}")


def main(argv: list[str]) -> None:
    args = parse(argv)
    prepare_data_dir(args.data_dir)
    exit_on_sigterm()
    routes = {
        ("GET", "/health"): lambda _request: json_reply(200, {"health": "true", "reason": ""}),
        ("GET", "/version"): lambda _request: json_reply(
            200, {"etcdserver": VERSION, "etcdcluster": "3.5.0"}
        ),
    }
    for url in args.listen_client_urls.split(","):
        address = urlsplit(url)
        serve_http(address.hostname or "0.0.0.0", address.port or 2379, routes)
        log(NAME, f"serving client traffic on {url} (uid {os.getuid()})")
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main(sys.argv[1:])
