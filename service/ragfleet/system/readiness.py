"""Readiness: each dependency probed with a short timeout, reported by name.

The vector store and the LLM server are required: without them no query can be answered. The
answer cache is not: it fails open, so a cache that is down is reported ``degraded`` while the
service stays ready.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import anyio

from ragfleet.adapters.llm import OpenAIChatClient
from ragfleet.adapters.vector_store import VectorStore
from ragfleet.cache.backends import AnswerCache

PROBE_TIMEOUT_S = 2.0
REQUIRED = frozenset({"vector_store", "llm"})


@dataclass(frozen=True, slots=True)
class Check:
    """One dependency's state: ``ok``, ``degraded`` or ``down``, with a short reason."""

    status: str
    detail: str = ""


class ReadinessProbe:
    """Probes the vector store, the LLM server and the answer cache."""

    def __init__(
        self, store: VectorStore, llm: OpenAIChatClient, cache: AnswerCache | None = None
    ) -> None:
        self._store = store
        self._llm = llm
        self._cache = cache

    async def check(self) -> dict[str, Check]:
        """Probe every dependency concurrently."""
        results: dict[str, Check] = {}

        async def probe(name: str, call: Callable[[], Awaitable[Any]]) -> None:
            try:
                with anyio.fail_after(PROBE_TIMEOUT_S):
                    outcome = await call()
                results[name] = Check(outcome if isinstance(outcome, str) else "ok")
            except TimeoutError:
                results[name] = Check("down", f"no answer within {PROBE_TIMEOUT_S:.0f}s")
            except Exception as exc:  # a probe reports, it never raises
                results[name] = Check("down", type(exc).__name__)

        async with anyio.create_task_group() as group:
            group.start_soon(probe, "vector_store", self._store.ping)
            group.start_soon(probe, "llm", self._llm.list_models)
            if self._cache is not None:
                group.start_soon(probe, "cache", self._cache.check)
        return dict(sorted(results.items()))

    @staticmethod
    def is_ready(checks: dict[str, Check]) -> bool:
        """Ready when every required dependency is ok; the cache may be degraded."""
        return all(check.status == "ok" for name, check in checks.items() if name in REQUIRED)
