"""``POST /query/stream``: the answer as Server-Sent Events.

Events: ``token`` (``{"text": ...}``) as text is generated, then one ``done`` with sources,
citations and timings — or one ``error`` if the LLM fails after the stream started. Retrieval and
the start of generation happen before the response starts, so a bad filter, a vector store that is
down or an LLM that cannot be reached still get a proper 4xx/5xx status. If the client disconnects,
the stream is cancelled and so is the generation on the LLM server.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, AsyncIterator
from datetime import UTC, datetime
from typing import Any

import msgspec
from litestar import Controller, Request, post
from litestar.di import NamedDependency
from litestar.params import JSONBody
from litestar.response import ServerSentEvent, ServerSentEventMessage

from ragfleet.adapters.llm import LLMTimeoutError, LLMUnavailableError, TokenDelta
from ragfleet.adapters.vector_store import VectorStoreUnavailableError
from ragfleet.api.presenters import citations_of, sources_of, timings_of
from ragfleet.api.request_context import request_id_of
from ragfleet.api.schemas import QueryRequest
from ragfleet.query.filters import build_expression
from ragfleet.query.models import Answer
from ragfleet.security.auth import requires_scope
from ragfleet.system.container import Services

_encode = msgspec.json.encode


class QueryStreamController(Controller):
    """Streaming answers."""

    path = "/query/stream"
    tags = ["query"]

    @post(
        "/",
        guards=[requires_scope("query", json_body=True)],
        status_code=200,
        summary="Answer a question, streaming tokens as Server-Sent Events",
    )
    async def stream(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[QueryRequest],
        services: NamedDependency[Services],
    ) -> ServerSentEvent:
        """Tokens as they come, then a ``done`` event with sources and timings."""
        build_expression(data.context_filter)  # a bad filter is a 400, not an event
        started = time.perf_counter()
        items = services.queries.stream(data.query, data.context_filter, data.max_results)
        first = await anext(items)  # retrieval and the LLM connection happen here
        request_id = request_id_of(request.scope)
        return ServerSentEvent(_events(first, items, started, request_id))


async def _events(
    first: TokenDelta | Answer,
    rest: AsyncGenerator[TokenDelta | Answer, None],
    started: float,
    request_id: str,
) -> AsyncIterator[ServerSentEventMessage]:
    item: TokenDelta | Answer | None = first
    try:
        while item is not None:
            if isinstance(item, TokenDelta):
                yield ServerSentEventMessage(event="token", data=_encode({"text": item.text}))
            else:
                yield ServerSentEventMessage(event="done", data=_done(item, started, request_id))
            item = await anext(rest, None)
    except (LLMUnavailableError, LLMTimeoutError, VectorStoreUnavailableError) as exc:
        status = 504 if isinstance(exc, LLMTimeoutError) else 503
        detail = "the LLM server failed during generation; retry later"
        yield ServerSentEventMessage(
            event="error",
            data=_encode({"status_code": status, "detail": detail, "request_id": request_id}),
        )
    finally:
        await rest.aclose()


def _done(answer: Answer, started: float, request_id: str) -> bytes:
    return _encode(
        {
            "sources": sources_of(answer),
            "citations": citations_of(answer),
            "timings": timings_of(answer),
            "processing_time": round(time.perf_counter() - started, 6),
            "timestamp": datetime.now(UTC).isoformat(),
            "model": answer.model,
            "cached": answer.cached,
            "request_id": request_id,
        }
    )
