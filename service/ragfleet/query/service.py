"""The retrieval-augmented answer: cache, embed, search, prompt, generate — each stage timed.

A cache miss goes through single-flight: identical concurrent misses (in this worker, and across
workers and hosts when the cache is Redis) wait for one generation instead of each starting one.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, Mapping
from dataclasses import dataclass
from typing import Any

import anyio
import anyio.to_thread
import msgspec

from ragfleet.adapters.embedder import Embedder
from ragfleet.adapters.llm import ChatMessage, Completion, OpenAIChatClient
from ragfleet.adapters.vector_store import VectorStore
from ragfleet.cache.backends import AnswerCache
from ragfleet.cache.codec import decode_answer, encode_answer
from ragfleet.cache.keys import fingerprint
from ragfleet.domain import Answer, SearchHit, StageTimings, TokenDelta
from ragfleet.errors import LLMTimeoutError, LLMUnavailableError, VectorStoreUnavailableError
from ragfleet.observability.metrics import CACHE_ERRORS, CACHE_REQUESTS, STAGE_SECONDS
from ragfleet.query.filters import build_expression
from ragfleet.query.prompting import (
    NO_CONTEXT_ANSWER,
    PROMPT_VERSION,
    build_messages,
    select_passages,
)

# Resolved once: labels() costs more than the increment on the cache-hit path.
_HITS = CACHE_REQUESTS.labels(result="hit")
_TOTAL_SECONDS = STAGE_SECONDS.labels(stage="total")


@dataclass(frozen=True, slots=True)
class Retrieval:
    """The passages chosen for a question and the prompt built from them."""

    passages: list[SearchHit]
    messages: list[ChatMessage]
    embed_s: float
    search_s: float


class QueryService:
    """Answers questions from the corpus in the vector store."""

    def __init__(
        self,
        store: VectorStore,
        embedder: Embedder,
        llm: OpenAIChatClient,
        cache: AnswerCache | None,
        *,
        context_chars: int,
        search_timeout_s: float,
        generate_timeout_s: float,
    ) -> None:
        self._store = store
        self._embedder = embedder
        self._llm = llm
        self._cache = cache
        self._context_chars = context_chars
        self._search_timeout_s = search_timeout_s
        self._generate_timeout_s = generate_timeout_s

    @property
    def cache(self) -> AnswerCache | None:
        """The answer cache (None when switched off)."""
        return self._cache

    async def answer(
        self, question: str, context_filter: Mapping[str, Any] | None, max_results: int
    ) -> Answer:
        """A cached answer if there is one for this corpus version, else a generated one.

        Raises FilterError before any work is done, and the dependency errors of the tree in
        :mod:`ragfleet.errors`. ``elapsed_s`` of the answer is this call's duration.
        """
        started = time.perf_counter()
        expression = build_expression(context_filter)
        try:
            if self._cache is None:
                answer = await self._generate(question, expression, max_results)
            else:
                answer = await self._answer_cached(
                    question, context_filter, expression, max_results
                )
        finally:
            elapsed = time.perf_counter() - started
            _TOTAL_SECONDS.observe(elapsed)
        return msgspec.structs.replace(answer, elapsed_s=elapsed)

    async def cached(
        self, question: str, context_filter: Mapping[str, Any] | None, max_results: int
    ) -> Answer | None:
        """The cached answer for this corpus version, or None; only a hit is counted.

        For callers that answer hits themselves and pass everything else to :meth:`answer`,
        which then counts the miss (or the undecodable value) once. A filter is not checked
        here: one that :meth:`answer` would refuse never has a cached answer to find.
        """
        if self._cache is None:
            return None
        started = time.perf_counter()
        key = await self._cache_key(question, context_filter, max_results)
        lookup = await self._cache.lookup(key)
        if lookup.value is None:
            return None
        try:
            answer = decode_answer(lookup.value)
        except msgspec.DecodeError:
            return None
        _HITS.inc()
        elapsed = time.perf_counter() - started
        _TOTAL_SECONDS.observe(elapsed)
        return msgspec.structs.replace(answer, elapsed_s=elapsed)

    async def _answer_cached(
        self,
        question: str,
        context_filter: Mapping[str, Any] | None,
        expression: str,
        max_results: int,
    ) -> Answer:
        cache = self._cache
        assert cache is not None
        key = await self._cache_key(question, context_filter, max_results)
        cached, version = await self._lookup(cache, key)
        if cached is not None:
            return cached
        async with cache.flight(key, version) as flight:
            if flight.value is not None:
                return decode_answer(flight.value)
            answer = await self._generate(question, expression, max_results)
            flight.value = encode_answer(answer)
            await cache.store(key, version, flight.value)
            return answer

    async def retrieve(self, question: str, expression: str, max_results: int) -> Retrieval:
        """Embed the question, search, and build the prompt from the passages that fit."""
        started = time.perf_counter()
        vectors = await anyio.to_thread.run_sync(self._embedder.embed, [question])
        embedded = time.perf_counter()
        try:
            with anyio.fail_after(self._search_timeout_s):
                hits = await self._store.search(vectors[0].tolist(), max_results, expression)
        except TimeoutError as exc:
            raise VectorStoreUnavailableError("vector search timed out") from exc
        searched = time.perf_counter()
        STAGE_SECONDS.labels(stage="embed").observe(embedded - started)
        STAGE_SECONDS.labels(stage="search").observe(searched - embedded)
        passages = select_passages(hits, self._context_chars)
        messages = build_messages(question, passages, self._context_chars) if passages else []
        return Retrieval(passages, messages, embedded - started, searched - embedded)

    async def _generate(self, question: str, expression: str, max_results: int) -> Answer:
        retrieval = await self.retrieve(question, expression, max_results)
        if not retrieval.passages:
            timings = StageTimings(embed=retrieval.embed_s, search=retrieval.search_s)
            return Answer(NO_CONTEXT_ANSWER, [], self._llm.known_model, timings)
        started = time.perf_counter()
        try:
            with anyio.fail_after(self._generate_timeout_s):
                completion = await self._llm.complete(retrieval.messages)
        except TimeoutError as exc:
            raise LLMTimeoutError("generation exceeded the deadline") from exc
        generated = time.perf_counter() - started
        STAGE_SECONDS.labels(stage="generate").observe(generated)
        return Answer(
            text=completion.text,
            passages=retrieval.passages,
            model=completion.model,
            timings=StageTimings(retrieval.embed_s, retrieval.search_s, generated),
            prompt_tokens=completion.prompt_tokens,
            completion_tokens=completion.completion_tokens,
        )

    async def stream(
        self, question: str, context_filter: Mapping[str, Any] | None, max_results: int
    ) -> AsyncGenerator[TokenDelta | Answer, None]:
        """Yield text as it is generated, then the full :class:`Answer`.

        A cached answer comes back as one delta. A stream that misses does not wait on other
        in-flight generations (it would have nothing to stream meanwhile) but fills the cache.
        The answer's ``elapsed_s`` runs from the first item asked for to the last.
        """
        started = time.perf_counter()
        expression = build_expression(context_filter)
        key, version = "", 0
        if self._cache is not None:
            key = await self._cache_key(question, context_filter, max_results)
            cached, version = await self._lookup(self._cache, key)
            if cached is not None:
                yield TokenDelta(cached.text)
                yield msgspec.structs.replace(cached, elapsed_s=time.perf_counter() - started)
                return
        retrieval = await self.retrieve(question, expression, max_results)
        if not retrieval.passages:
            yield TokenDelta(NO_CONTEXT_ANSWER)
            timings = StageTimings(retrieval.embed_s, retrieval.search_s)
            elapsed = time.perf_counter() - started
            yield Answer(NO_CONTEXT_ANSWER, [], self._llm.known_model, timings, elapsed_s=elapsed)
            return
        generating = time.perf_counter()
        completion: Completion | None = None
        async for item in self._llm.stream(retrieval.messages):
            if isinstance(item, TokenDelta):
                yield item
            else:
                completion = item
        assert completion is not None
        generated = time.perf_counter() - generating
        STAGE_SECONDS.labels(stage="generate").observe(generated)
        answer = Answer(
            text=completion.text.strip(),
            passages=retrieval.passages,
            model=completion.model,
            timings=StageTimings(retrieval.embed_s, retrieval.search_s, generated),
            prompt_tokens=completion.prompt_tokens,
            completion_tokens=completion.completion_tokens,
        )
        if self._cache is not None:
            # Stored under the version read before retrieval: if the corpus changed meanwhile,
            # this answer is already unreachable, as it should be.
            await self._cache.store(key, version, encode_answer(answer))
        yield msgspec.structs.replace(answer, elapsed_s=time.perf_counter() - started)

    async def _cache_key(
        self, question: str, context_filter: Mapping[str, Any] | None, max_results: int
    ) -> str:
        """The fingerprint, with the model the LLM server serves (asked once, then remembered).

        If the server cannot be asked, "auto" stands in: a hit can still be served while the LLM
        is down, and a miss fails on generation as it would anyway.
        """
        try:
            model = await self._llm.model_id()
        except (LLMUnavailableError, LLMTimeoutError):
            model = "auto"
        return fingerprint(question, context_filter, max_results, model, PROMPT_VERSION)

    @staticmethod
    async def _lookup(cache: AnswerCache, key: str) -> tuple[Answer | None, int]:
        """The cached answer (None on a miss) and the corpus version it was looked up at."""
        lookup = await cache.lookup(key)
        if lookup.value is not None:
            try:
                answer = decode_answer(lookup.value)
            except msgspec.DecodeError:
                CACHE_ERRORS.labels(operation="decode").inc()
            else:
                _HITS.inc()
                return answer, lookup.version
        CACHE_REQUESTS.labels(result="miss").inc()
        return None, lookup.version
