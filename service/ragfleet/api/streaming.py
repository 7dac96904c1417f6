"""Answers as Server-Sent Events: one streaming core, and the ``POST /query/stream`` endpoint.

The core drives :meth:`QueryService.stream` and hands each item to a presenter, which turns it into
the events of one protocol (ragfleet's here, OpenAI's chunks in :mod:`ragfleet.api.openai_compat`).
Retrieval and the start of generation happen before the response starts, so a bad filter, a
vector store that is down or an LLM that cannot be reached still get a proper 4xx/5xx status; a
failure after that becomes the presenter's error event. If the client disconnects, the stream is
cancelled and so is the generation on the LLM server.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

import msgspec
from litestar import Controller, Request, post
from litestar.di import NamedDependency
from litestar.params import JSONBody
from litestar.response import ServerSentEvent, ServerSentEventMessage

from ragfleet.api.guards import requires_scope
from ragfleet.api.openapi import EVENT_STREAM, QueryStreamOperation, json_route_responses
from ragfleet.api.presenters import citations_of, sources_of, timings_of
from ragfleet.api.request_context import request_id_of
from ragfleet.api.schemas import QueryRequest
from ragfleet.domain import Answer, TokenDelta
from ragfleet.errors import RagfleetError
from ragfleet.query.service import QueryService
from ragfleet.system.wiring import Services

_encode = msgspec.json.encode


class StreamPresenter(Protocol):
    """Turns the items of one answer stream into the events of one protocol."""

    def opening(self) -> Iterable[ServerSentEventMessage]: ...
    def token(self, delta: TokenDelta) -> ServerSentEventMessage: ...
    def done(self, answer: Answer) -> ServerSentEventMessage: ...
    def failed(self, error: RagfleetError) -> ServerSentEventMessage: ...
    def closing(self) -> Iterable[ServerSentEventMessage]: ...


async def stream_answer(
    queries: QueryService,
    question: str,
    context_filter: Mapping[str, Any] | None,
    max_results: int,
    presenter: StreamPresenter,
) -> ServerSentEvent:
    """Start the answer (errors up to the first item become HTTP statuses), then stream it."""
    items = queries.stream(question, context_filter, max_results)
    first = await anext(items)
    return ServerSentEvent(_events(first, items, presenter))


async def _events(
    first: TokenDelta | Answer,
    rest: AsyncGenerator[TokenDelta | Answer, None],
    presenter: StreamPresenter,
) -> AsyncIterator[ServerSentEventMessage]:
    for message in presenter.opening():
        yield message
    item: TokenDelta | Answer | None = first
    try:
        while item is not None:
            yield presenter.token(item) if isinstance(item, TokenDelta) else presenter.done(item)
            item = await anext(rest, None)
    except RagfleetError as exc:
        yield presenter.failed(exc)
    finally:
        await rest.aclose()
    for message in presenter.closing():
        yield message


class RagfleetEvents:
    """``token`` events (``{"text": ...}``), then one ``done`` with sources, citations and
    timings, or one ``error`` if generation fails after the stream started."""

    def __init__(self, request_id: str) -> None:
        self._request_id = request_id

    def opening(self) -> Iterable[ServerSentEventMessage]:
        return ()

    def token(self, delta: TokenDelta) -> ServerSentEventMessage:
        return ServerSentEventMessage(event="token", data=_encode({"text": delta.text}))

    def done(self, answer: Answer) -> ServerSentEventMessage:
        body = {
            "sources": sources_of(answer),
            "citations": citations_of(answer),
            "timings": timings_of(answer),
            "processing_time": round(answer.elapsed_s, 6),
            "timestamp": datetime.now(UTC).isoformat(),
            "model": answer.model,
            "cached": answer.cached,
            "request_id": self._request_id,
        }
        return ServerSentEventMessage(event="done", data=_encode(body))

    def failed(self, error: RagfleetError) -> ServerSentEventMessage:
        status = 504 if isinstance(error, TimeoutError) else 503
        body = {
            "status_code": status,
            "detail": "the LLM server failed during generation; retry later",
            "request_id": self._request_id,
        }
        return ServerSentEventMessage(event="error", data=_encode(body))

    def closing(self) -> Iterable[ServerSentEventMessage]:
        return ()


class QueryStreamController(Controller):
    """Streaming answers."""

    path = "/query/stream"
    tags = ["query"]

    @post(
        "/",
        guards=[requires_scope("query", json_body=True)],
        status_code=200,
        summary="Answer a question, streaming tokens as Server-Sent Events",
        media_type=EVENT_STREAM,
        responses=json_route_responses(503, 504),
        operation_class=QueryStreamOperation,
    )
    async def stream(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[QueryRequest],
        services: NamedDependency[Services],
    ) -> ServerSentEvent:
        """Tokens as they come, then a ``done`` event with sources and timings."""
        presenter = RagfleetEvents(request_id_of(request.scope))
        return await stream_answer(
            services.queries, data.query, data.context_filter, data.max_results, presenter
        )
