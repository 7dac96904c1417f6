"""Faults injected into a real Milvus: the vector store's pymilvus client, wrapped.

Milvus itself is never replaced: every call the wrapper lets through reaches a real Milvus Lite
(in-process or the server sidecar). The wrapper only decides that one call fails, as a Milvus
that went away would, or that some calls hang in the client, as they would on a link that stopped
carrying data, until the test releases them.
"""

from __future__ import annotations

import threading
from typing import Any

from ragfleet.adapters.milvus_connection import MilvusConnection
from ragfleet.adapters.vector_store import MilvusVectorStore
from ragfleet.settings import StoreSettings


class FaultyClient:
    """A pymilvus client that fails its n-th write (insert, upsert or delete) after
    :meth:`fail_at`, holds the calls named in :meth:`hold` until :attr:`released` is set, and
    records the options of the calls named in :meth:`record`."""

    WRITES = frozenset({"insert", "upsert", "delete"})

    def __init__(self, client: Any) -> None:
        self._client = client
        self._countdown = 0
        self._holding: frozenset[str] = frozenset()
        self._recording: frozenset[str] = frozenset()
        self.writes: list[str] = []
        self.recorded: list[tuple[str, dict[str, Any]]] = []
        self.held = threading.Event()  # set once a held call has started waiting
        self.released = threading.Event()

    def fail_at(self, nth_write: int) -> None:
        self._countdown = nth_write

    def hold(self, *names: str) -> None:
        self._holding = frozenset(names)

    def record(self, *names: str) -> None:
        self._recording = frozenset(names)

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if name not in self.WRITES | self._holding | self._recording:
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            if name in self._recording:
                self.recorded.append((name, kwargs))
            if name in self.WRITES:
                self.writes.append(name)
                if self._countdown:
                    self._countdown -= 1
                    if self._countdown == 0:
                        raise ConnectionError(f"Milvus went away during {name}")
            if name in self._holding:
                self.held.set()
                self.released.wait(60)
            return attribute(*args, **kwargs)

        return call


class FaultyConnection(MilvusConnection):
    """The real connection over a :class:`FaultyClient` (the latest one, after a reconnection)."""

    faults: FaultyClient

    def _new_client(self) -> Any:
        self.faults = FaultyClient(super()._new_client())
        return self.faults


class FaultyStore(MilvusVectorStore):
    """The real chunk store over a :class:`FaultyConnection`; ``connection`` shares another's."""

    connection: FaultyConnection

    def __init__(
        self, settings: StoreSettings, dim: int, *, connection: FaultyConnection | None = None
    ) -> None:
        super().__init__(settings, dim, connection=connection or FaultyConnection(settings))

    @property
    def faults(self) -> FaultyClient:
        return self.connection.faults
