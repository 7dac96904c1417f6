"""Readiness: each dependency probed with a short timeout, reported by name."""

from __future__ import annotations

from dataclasses import dataclass

import anyio

from ragfleet.adapters.llm import OpenAIChatClient
from ragfleet.adapters.vector_store import VectorStore

PROBE_TIMEOUT_S = 2.0


@dataclass(frozen=True, slots=True)
class Check:
    """One dependency's state: ``ok`` or ``down`` with a short reason."""

    status: str
    detail: str = ""


class ReadinessProbe:
    """Probes the vector store and the LLM server."""

    def __init__(self, store: VectorStore, llm: OpenAIChatClient) -> None:
        self._store = store
        self._llm = llm

    async def check(self) -> dict[str, Check]:
        """Probe every dependency concurrently."""
        results: dict[str, Check] = {}

        async def probe(name: str, coro_factory: object) -> None:
            try:
                with anyio.fail_after(PROBE_TIMEOUT_S):
                    await coro_factory()  # type: ignore[operator]
                results[name] = Check("ok")
            except TimeoutError:
                results[name] = Check("down", f"no answer within {PROBE_TIMEOUT_S:.0f}s")
            except Exception as exc:  # a probe reports, it never raises
                results[name] = Check("down", type(exc).__name__)

        async with anyio.create_task_group() as group:
            group.start_soon(probe, "vector_store", self._store.ping)
            group.start_soon(probe, "llm", self._llm.list_models)
        return dict(sorted(results.items()))
