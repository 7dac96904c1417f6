"""``ragfleet serve``: the HTTP service under uvicorn, with its local sidecars when needed.

On embedded defaults the llama.cpp generator is started once here and shared by every worker, and
with several workers over a Milvus Lite database a Milvus Lite server is started for them
(the database can be opened by one process only). With several workers Prometheus metrics are
collected in multiprocess mode, in a directory emptied at every start.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import os
import shutil
from contextlib import ExitStack, suppress
from typing import TYPE_CHECKING, Any

from loguru import logger

from ragfleet.settings import Settings, SettingsError, split_list

if TYPE_CHECKING:
    import uvicorn


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "serve", help="run the HTTP service", description=__doc__
    )
    parser.add_argument("--host", help="bind address (RAGFLEET_HOST, default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (RAGFLEET_PORT, default 8000)")
    parser.add_argument("--workers", type=int, help="uvicorn worker processes (RAGFLEET_WORKERS)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ragfleet.observability.logging import configure_logging

    overrides = {k: v for k, v in vars(args).items() if k in {"host", "port", "workers"} and v}
    try:
        settings = Settings.from_env(**overrides)
    except SettingsError as exc:
        logger.error(str(exc))
        return 2
    configure_logging(settings.logging.log_level, settings.logging.log_json)

    with ExitStack() as sidecars:
        settings = start_sidecars(settings, sidecars)
        if settings.server.workers > 1:
            prepare_multiprocess_metrics(settings)
        return run_server(uvicorn_config(settings))


def start_sidecars(settings: Settings, stack: ExitStack) -> Settings:
    """Start the servers the workers share, stopped when ``stack`` closes; return the settings
    that point the workers at them.

    The llama.cpp generator starts here, once: each worker would otherwise load its own model.
    """
    from ragfleet.adapters.milvus_lite_server import MilvusLiteServer
    from ragfleet.system.wiring import llm_server

    llm_url = stack.enter_context(llm_server(settings.models))
    store = settings.store
    if settings.server.workers > 1 and store.uses_milvus_lite:
        milvus = MilvusLiteServer(store.milvus_lite_path)
        milvus.start()
        stack.callback(milvus.stop)
        store = dataclasses.replace(store, milvus_uri=milvus.uri)
    models = dataclasses.replace(settings.models, llm_base_url=llm_url)
    return dataclasses.replace(settings, models=models, store=store)


def uvicorn_config(settings: Settings) -> uvicorn.Config:
    """uvicorn's configuration, its app factory bound to ``settings``.

    uvicorn pickles the config into each worker it spawns, so the workers build their apps from
    these very settings, sidecar URLs and command-line options included, not from the environment.
    """
    import uvicorn

    from ragfleet.app import create_app

    server = settings.server
    return uvicorn.Config(
        functools.partial(create_app, settings),
        factory=True,
        host=server.host,
        port=server.port,
        workers=server.workers,
        log_config=None,
        server_header=False,
        access_log=False,  # the request-context middleware logs each request, with its id
        # X-Forwarded-For is believed only from the gateway's addresses.
        proxy_headers=True,
        forwarded_allow_ips=split_list(server.trusted_proxies) or None,
        timeout_graceful_shutdown=30,
        # A fleet's gateway reaches the service over TLS and verifies it against the fleet CA.
        ssl_certfile=server.tls_cert_file or None,
        ssl_keyfile=server.tls_key_file or None,
    )


def run_server(config: uvicorn.Config) -> int:
    """Serve until stopped, the way ``uvicorn.run`` does inside: ``uvicorn.run`` itself takes
    several workers only from an import string, which cannot carry the settings. The workers share
    one socket bound here; one server that never started exits with uvicorn's failure code."""
    import uvicorn
    from uvicorn.config import STARTUP_FAILURE
    from uvicorn.supervisors import Multiprocess

    if config.workers > 1:
        with suppress(KeyboardInterrupt):
            Multiprocess(config, sockets=[config.bind_socket()]).run()
        reap_resource_tracker()
        return 0
    server = uvicorn.Server(config)
    with suppress(KeyboardInterrupt):
        server.run()
    return 0 if server.started else STARTUP_FAILURE


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
