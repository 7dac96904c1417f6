"""The retrieval-augmented answer: embed the question, search, prompt, generate, time each stage."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import anyio
import anyio.to_thread

from ragfleet.adapters.embedder import Embedder
from ragfleet.adapters.llm import OpenAIChatClient
from ragfleet.adapters.vector_store import SearchHit, VectorStore, VectorStoreUnavailableError
from ragfleet.query.filters import build_expression
from ragfleet.query.prompting import NO_CONTEXT_ANSWER, build_messages, select_passages


@dataclass(frozen=True, slots=True)
class StageTimings:
    """Seconds spent in each stage of one answer."""

    embed: float = 0.0
    search: float = 0.0
    generate: float = 0.0


@dataclass(frozen=True, slots=True)
class Answer:
    """An answer with the passages it was generated from, in citation order."""

    text: str
    passages: list[SearchHit]
    model: str
    timings: StageTimings
    prompt_tokens: int = 0
    completion_tokens: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


class QueryService:
    """Answers questions from the corpus in the vector store."""

    def __init__(
        self,
        store: VectorStore,
        embedder: Embedder,
        llm: OpenAIChatClient,
        *,
        context_chars: int,
        search_timeout_s: float,
    ) -> None:
        self._store = store
        self._embedder = embedder
        self._llm = llm
        self._context_chars = context_chars
        self._search_timeout_s = search_timeout_s

    async def answer(
        self, question: str, context_filter: Mapping[str, Any] | None, max_results: int
    ) -> Answer:
        """Retrieve up to ``max_results`` passages and generate an answer that cites them."""
        expression = build_expression(context_filter)  # FilterError before any work is done

        started = time.perf_counter()
        vectors = await anyio.to_thread.run_sync(self._embedder.embed, [question])
        embedded = time.perf_counter()
        try:
            with anyio.fail_after(self._search_timeout_s):
                hits = await self._store.search(vectors[0].tolist(), max_results, expression)
        except TimeoutError as exc:
            raise VectorStoreUnavailableError("vector search timed out") from exc
        searched = time.perf_counter()
        if not hits:
            timings = StageTimings(embed=embedded - started, search=searched - embedded)
            return Answer(NO_CONTEXT_ANSWER, [], self._llm.known_model, timings)

        passages = select_passages(hits, self._context_chars)
        completion = await self._llm.complete(
            build_messages(question, passages, self._context_chars)
        )
        generated = time.perf_counter()
        return Answer(
            text=completion.text,
            passages=passages,
            model=completion.model,
            timings=StageTimings(
                embed=embedded - started,
                search=searched - embedded,
                generate=generated - searched,
            ),
            prompt_tokens=completion.prompt_tokens,
            completion_tokens=completion.completion_tokens,
        )
