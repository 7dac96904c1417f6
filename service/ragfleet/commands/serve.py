"""``ragfleet serve``: the HTTP service under uvicorn, with its local sidecars when needed.

On embedded defaults the llama.cpp generator is started once here and shared by every worker, and
with several workers over a Milvus Lite database a Milvus Lite server is started for them
(the database can be opened by one process only). With several workers Prometheus metrics are
collected in multiprocess mode, in a directory emptied at every start.
"""

from __future__ import annotations

import argparse
import os
import shutil
from contextlib import ExitStack
from typing import Any

from loguru import logger

from ragfleet.settings import Settings, SettingsError, split_list


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "serve", help="run the HTTP service", description=__doc__
    )
    parser.add_argument("--host", help="bind address (RAGFLEET_HOST, default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (RAGFLEET_PORT, default 8000)")
    parser.add_argument("--workers", type=int, help="uvicorn worker processes (RAGFLEET_WORKERS)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from ragfleet.adapters.milvus_lite_server import MilvusLiteServer
    from ragfleet.observability.logging import configure_logging
    from ragfleet.system.wiring import llm_server

    overrides = {k: v for k, v in vars(args).items() if k in {"host", "port", "workers"} and v}
    try:
        settings = Settings.from_env(**overrides)
    except SettingsError as exc:
        logger.error(str(exc))
        return 2
    configure_logging(settings.logging.log_level, settings.logging.log_json)

    with ExitStack() as sidecars:
        # Started here, once, and shared: each worker would otherwise load its own model.
        os.environ["RAGFLEET_LLM_BASE_URL"] = sidecars.enter_context(llm_server(settings.models))
        if settings.server.workers > 1 and settings.store.uses_milvus_lite:
            milvus = MilvusLiteServer(settings.store.milvus_lite_path)
            milvus.start()
            sidecars.callback(milvus.stop)
            os.environ["RAGFLEET_MILVUS_URI"] = milvus.uri
        if settings.server.workers > 1:
            prepare_multiprocess_metrics(settings)
        for key, value in overrides.items():
            os.environ[f"RAGFLEET_{key.upper()}"] = str(value)
        uvicorn.run(
            "ragfleet.app:create_app",
            factory=True,
            host=settings.server.host,
            port=settings.server.port,
            workers=settings.server.workers,
            log_config=None,
            server_header=False,
            access_log=False,  # the request-context middleware logs each request, with its id
            # X-Forwarded-For is believed only from the gateway's addresses.
            proxy_headers=True,
            forwarded_allow_ips=split_list(settings.server.trusted_proxies) or None,
            timeout_graceful_shutdown=30,
            # A fleet's gateway reaches the service over TLS and verifies it against the fleet CA.
            ssl_certfile=settings.server.tls_cert_file or None,
            ssl_keyfile=settings.server.tls_key_file or None,
        )
        if settings.server.workers > 1:
            reap_resource_tracker()
    return 0


def reap_resource_tracker() -> None:
    """Stop multiprocessing's resource tracker and wait for it, so no process outlives this one.

    uvicorn's spawned workers start the tracker; left alone it exits only once this process has
    gone, so systemd (``KillMode=mixed``) finds it still running, SIGKILLs it and waits for the
    cgroup to empty, which in a container on cgroup v1 takes the whole ``TimeoutStopSec``.
    """
    from multiprocessing import resource_tracker

    stop = getattr(resource_tracker._resource_tracker, "_stop", None)  # no public API for this
    if callable(stop):
        stop()


def prepare_multiprocess_metrics(settings: Settings) -> None:
    """Point prometheus-client at an empty per-service directory before workers start.

    Samples of workers from an earlier run would otherwise be summed into the new run's counters.
    """
    directory = settings.store.data_dir.resolve() / f"prometheus-{settings.server.port}"
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory)
