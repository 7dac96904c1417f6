"""One connection to Milvus, shared by the stores that keep collections in it.

Milvus Lite in-process is one client per data directory (a second open fails on its lock), so the
chunk store, the canonical document store and the corpus version all go through one
:class:`MilvusConnection`. pymilvus is synchronous, so every call runs in a worker thread.
Milvus Lite in-process is not safe for concurrent use from threads, so calls to it are serialised.
Calls to a Milvus server run concurrently, each with its own deadline: every RPC carries the Milvus
timeout, and the whole call gives up a margin after it (the caller gets
:class:`VectorStoreUnavailableError`, a 503; the worker thread is abandoned to pymilvus), so a
server that hangs holds up neither other calls nor /readyz.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import anyio
import anyio.to_thread

from ragfleet.errors import VectorStoreUnavailableError
from ragfleet.settings import StoreSettings

# pymilvus ends each RPC at its ``timeout=`` but retries an unavailable server, with back-off of up
# to 3 s, until that timeout has passed, so a call can outlast it; a call's deadline is the timeout
# plus this margin, and the worker thread of a call that runs over is abandoned.
DEADLINE_MARGIN_S = 1.0
# Calls to a Milvus server in flight at once from one worker (one thread each).
SERVER_CONCURRENT_CALLS = 8
# Reads see every write acknowledged before them, on any worker: a collection's default (Bounded)
# may leave out the last moments' writes, so a document just ingested could not be found, or a
# corpus version just moved forward could be read back older.
READ_CONSISTENCY = "Strong"
# Rows per page when a whole collection is read (a Milvus server answers at most 16,384 per query).
PAGE_ROWS = 1000

Preparer = Callable[[Any], None]


class MilvusConnection:
    """A pymilvus ``MilvusClient`` opened on first use, with the collections its stores need.

    Each store registers a *preparer* (:meth:`on_connect`): a function of the client that creates
    its collections if missing and loads them. Every (re)connection runs them all, since Milvus
    Lite releases collections on reopen.
    """

    def __init__(self, settings: StoreSettings, *, tls_ca_file: str = "") -> None:
        self.settings = settings
        self.timeout = settings.milvus_timeout_s
        self._tls_ca_file = tls_ca_file
        self._lite = settings.uses_milvus_lite
        self._preparers: list[Preparer] = []
        self._client: Any = None
        # Milvus Lite's engine takes one writer at a time and is not safe for threads: its calls
        # are serialised. A server takes concurrent calls, each bounded by its own deadline.
        self._lock = threading.Lock()
        self._limiter = anyio.CapacityLimiter(1 if self._lite else SERVER_CONCURRENT_CALLS)
        self._connecting: asyncio.Future[Any] | None = None

    def on_connect(self, prepare: Preparer) -> None:
        """Run ``prepare(client)`` on every new client, after those registered before it."""
        self._preparers.append(prepare)

    @property
    def uri(self) -> str:
        """The URI handed to pymilvus (a path for Milvus Lite)."""
        if self._lite:
            return str(self.settings.milvus_lite_path)
        return self.settings.milvus_uri

    @property
    def deadline_s(self) -> float:
        """How long one call to a Milvus server may take before it fails as unavailable."""
        return self.timeout + DEADLINE_MARGIN_S

    async def call(self, func: Callable[[Any], Any]) -> Any:
        """Run ``func(client)`` in a worker thread; every failure is VectorStoreUnavailableError."""
        if self._lite:
            return await self._call_lite(func)
        return await self._call_server(func)

    async def query(
        self, collection: str, condition: str, fields: list[str], **options: Any
    ) -> list[dict[str, Any]]:
        """Rows of ``collection`` matching ``condition`` (at most one page's worth: pass a
        ``limit``, or use :meth:`query_all`)."""
        rows = await self.call(
            lambda c: c.query(
                collection,
                filter=condition,
                output_fields=fields,
                consistency_level=READ_CONSISTENCY,
                timeout=self.timeout,
                **options,
            )
        )
        return list(rows)

    async def query_all(
        self, collection: str, condition: str, fields: list[str]
    ) -> list[dict[str, Any]]:
        """Every row of ``collection`` matching ``condition``, read page by page through
        pymilvus' query iterator (one call per page, each within its own deadline)."""
        pages = await self.call(
            lambda c: c.query_iterator(
                collection,
                batch_size=PAGE_ROWS,
                filter=condition,
                output_fields=fields,
                timeout=self.timeout,
            )
        )
        rows: list[dict[str, Any]] = []
        try:
            while page := await self.call(lambda c: pages.next()):
                rows += page
        finally:
            with contextlib.suppress(Exception):
                pages.close()
        return rows

    async def _call_lite(self, func: Callable[[Any], Any]) -> Any:
        try:
            return await anyio.to_thread.run_sync(
                partial(self._locked, func), limiter=self._limiter
            )
        except Exception as exc:  # pymilvus raises many types; the caller only needs "unavailable"
            raise VectorStoreUnavailableError(f"Milvus call failed: {exc}") from exc

    def _locked(self, func: Callable[[Any], Any]) -> Any:
        with self._lock:
            if self._client is None:
                self.settings.milvus_lite_path.parent.mkdir(parents=True, exist_ok=True)
                self._client = self._open_client()
            return func(self._client)

    async def _call_server(self, func: Callable[[Any], Any]) -> Any:
        """A call to a Milvus server: concurrent with the others, each within :attr:`deadline_s`.

        pymilvus bounds each RPC by its ``timeout=``, but it retries an unavailable server with
        back-off, each attempt with the whole timeout again. The deadline bounds the whole call:
        the caller gets its 503 on time, and the worker thread, abandoned, ends when pymilvus
        gives up. A call that got no answer retires its connection: the next call opens a new one
        (a half-open TCP connection never recovers by itself).
        """
        client = None
        try:
            with anyio.fail_after(self.deadline_s):
                client = await self._server_client()
                return await anyio.to_thread.run_sync(
                    func, client, abandon_on_cancel=True, limiter=self._limiter
                )
        except TimeoutError as exc:
            self._retire(client)
            raise VectorStoreUnavailableError(
                f"Milvus did not answer within {self.deadline_s:g}s"
            ) from exc
        except Exception as exc:
            if not _milvus_answered(exc):
                self._retire(client)
            raise VectorStoreUnavailableError(f"Milvus call failed: {exc}") from exc

    async def _server_client(self) -> Any:
        """The connected client; the first caller starts connecting, every caller waits for that
        connection (within its own deadline) without holding a worker thread."""
        if self._client is not None:
            return self._client
        if self._connecting is None:
            self._connecting = asyncio.get_running_loop().run_in_executor(None, self._open_client)
            self._connecting.add_done_callback(self._connected)
        return await asyncio.shield(self._connecting)

    def _connected(self, attempt: asyncio.Future[Any]) -> None:
        current = attempt is self._connecting
        if current:
            self._connecting = None
        if attempt.cancelled() or attempt.exception() is not None:
            return
        if current:
            self._client = attempt.result()
        else:  # the connection was closed meanwhile
            _close_quietly(attempt.result())

    def _retire(self, client: Any) -> None:
        """Stop using a client whose call got no answer; close it once every call already on it
        has had its deadline, so a slow call does not fail the others with it."""
        if client is not None and client is self._client:
            self._client = None
            asyncio.get_running_loop().call_later(self.deadline_s, _close_quietly, client)

    def _open_client(self) -> Any:
        client = self._new_client()
        try:
            for prepare in self._preparers:
                prepare(client)
        except BaseException:
            _close_quietly(client)
            raise
        return client

    def _new_client(self) -> Any:
        """A pymilvus client for this Milvus (tests wrap it to inject faults).

        A dedicated connection (pymilvus shares one per address and token otherwise): closing it
        after a failure then really reconnects, and it verifies the server with this store's TLS
        options.
        """
        from pymilvus import MilvusClient

        return MilvusClient(
            uri=self.uri,
            token=self.settings.milvus_token or "",
            timeout=self.timeout,
            dedicated=True,
            **milvus_tls_options(self.settings.milvus_uri, self._tls_ca_file),
        )

    async def close(self) -> None:
        """Release the client (and the Milvus Lite directory lock); a connection still being
        made is closed when it is."""
        self._connecting = None
        if self._client is None:
            return
        if self._lite:
            await anyio.to_thread.run_sync(
                partial(self._locked, partial(_close_lite, path=self.settings.milvus_lite_path)),
                limiter=self._limiter,
            )
        else:
            _close_quietly(self._client)
        self._client = None


def quote(value: str) -> str:
    """A Milvus string literal for a value this module controls (ids from our own requests)."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def milvus_tls_options(uri: str, ca_file: str) -> dict[str, Any]:
    """pymilvus' one-way TLS arguments for an ``https://`` Milvus URI, else none.

    pymilvus turns ``https://`` into a TLS channel itself; ``server_pem_path`` is the root
    certificate it verifies the server with (the fleet CA, RAGFLEET_TLS_CA_FILE; without it, the
    system's roots) and ``server_name`` the name the certificate must carry (the URI's host).
    """
    parsed = urlparse(uri)
    if parsed.scheme != "https":
        return {}
    options: dict[str, Any] = {"secure": True, "server_name": parsed.hostname or ""}
    if ca_file:
        options["server_pem_path"] = ca_file
    return options


def create_empty_collection(
    client: Any, name: str, schema: Any, index: Any, timeout: float
) -> None:
    """Create a collection and its indexes without pymilvus polling for each index to finish.

    ``create_collection(index_params=...)`` sleeps 0.5 s before every index-state check: 3.5 s
    for the two collections' seven indexes, on every fresh database. An index on an empty
    collection has nothing to build: the server records it and ``load_collection`` (called next)
    waits for whatever it still needs.
    """
    client.create_collection(name, schema=schema, timeout=timeout)
    client.create_index(name, index, sync=False, timeout=timeout)


def _close_quietly(client: Any) -> None:
    with contextlib.suppress(Exception):  # the connection is being discarded anyway
        client.close()


def _close_lite(client: Any, *, path: Path) -> None:
    """Close a Milvus Lite client and stop the in-process server pymilvus started for its data
    directory: closing the client alone keeps the directory locked until the process exits, and
    another process (``ragfleet reindex``, ``restore``) could not open it."""
    from milvus_lite.server_manager import server_manager_instance

    _close_quietly(client)
    server_manager_instance.release_server(str(path))


def _milvus_answered(exc: Exception) -> bool:
    """True when Milvus itself answered with an error (a bad expression, say): the connection is
    fine. A call that got no answer raises gRPC's error, or pymilvus' with the gRPC status or
    CONNECT_FAILED as its code."""
    from pymilvus.client.types import Status
    from pymilvus.exceptions import MilvusException

    return (
        isinstance(exc, MilvusException)
        and isinstance(exc.code, int)
        and exc.code != Status.CONNECT_FAILED
    )
