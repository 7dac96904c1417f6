"""OpenAI-compatible endpoints, so any OpenAI client (the ``openai`` SDK, LangChain, Open WebUI)
can use ragfleet unchanged: ``POST /v1/chat/completions`` (with ``stream``) and ``GET /v1/models``.

The last user message is the question; the answer is retrieval-augmented exactly as ``/query``.
Earlier turns are not used for retrieval. ragfleet extensions ride along: a request may carry
``context_filter`` and ``max_results`` (the SDK's ``extra_body``), and a response carries the
sources and citations under ``ragfleet``.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, MediaType, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.exceptions import ValidationException
from litestar.params import JSONBody
from litestar.response import ServerSentEventMessage
from msgspec import Meta

from ragfleet.api.guards import requires_scope
from ragfleet.api.openapi import (
    EVENT_STREAM,
    ChatCompletionOperation,
    error_responses,
    json_route_responses,
)
from ragfleet.api.presenters import citations_of, sources_of
from ragfleet.api.request_context import request_id_of
from ragfleet.api.schemas import MAX_QUERY_CHARS, MaxResults
from ragfleet.api.streaming import stream_answer
from ragfleet.domain import Answer, TokenDelta
from ragfleet.errors import RagfleetError
from ragfleet.system.wiring import Services

MODEL_ID = "ragfleet"
_encode = msgspec.json.encode

# A user message's text is the question: limited like /query's, and more than whitespace.
QuestionText = Annotated[str, Meta(min_length=1, max_length=MAX_QUERY_CHARS, pattern=r"\S")]
_QUESTION_SCHEMA = {
    "type": "string",
    "minLength": 1,
    "maxLength": MAX_QUERY_CHARS,
    "pattern": r"\S",
}


class ContentPart(msgspec.Struct):
    """A typed part of a message's content; only ``text`` parts are read."""

    type: str
    text: str | None = None


class SystemMessage(msgspec.Struct, tag_field="role", tag="system"):
    """Instructions; ragfleet's own prompt is used instead."""

    content: str | list[ContentPart] | None = None


class DeveloperMessage(msgspec.Struct, tag_field="role", tag="developer"):
    """OpenAI's newer name for system instructions; not used either."""

    content: str | list[ContentPart] | None = None


class TextPart(msgspec.Struct, forbid_unknown_fields=True):
    """A question sent as a content part: ragfleet answers text, one part of it."""

    type: Literal["text"]
    text: QuestionText


class UserMessage(msgspec.Struct, tag_field="role", tag="user"):
    """A question: text, or a list holding one text part."""

    content: Annotated[
        QuestionText | Annotated[list[TextPart], Meta(min_length=1, max_length=1)],
        # Litestar documents a union's members without their constraints: spelled out here.
        Meta(
            extra_json_schema={
                "extra": {
                    "one_of": [
                        _QUESTION_SCHEMA,
                        {
                            "type": "array",
                            "items": {"$ref": "#/components/schemas/TextPart"},
                            "minItems": 1,
                            "maxItems": 1,
                        },
                    ]
                }
            }
        ),
    ]


class AssistantMessage(msgspec.Struct, tag_field="role", tag="assistant"):
    """An earlier answer; earlier turns are not used for retrieval."""

    content: str | list[ContentPart] | None = None


class ToolMessage(msgspec.Struct, tag_field="role", tag="tool"):
    """A tool result; not used."""

    content: str | list[ContentPart] | None = None


ChatMessage = SystemMessage | DeveloperMessage | UserMessage | AssistantMessage | ToolMessage
# The schema says what the server needs: at least one user message (the last one is answered).
_HAS_A_QUESTION = {
    "contains": {"type": "object", "properties": {"role": {"const": "user"}}, "required": ["role"]}
}


class ChatCompletionRequest(msgspec.Struct):
    """The fields ragfleet reads; other OpenAI parameters are accepted and ignored."""

    messages: Annotated[
        list[ChatMessage],
        Meta(
            min_length=1,
            description="The conversation; the last user message is the question.",
            extra_json_schema={"extra": _HAS_A_QUESTION},
        ),
    ]
    model: str = MODEL_ID
    stream: bool = False
    context_filter: dict[str, Any] | None = None
    max_results: MaxResults = 5


def _question(request: ChatCompletionRequest) -> str:
    """The text of the last user message, or a 400 when there is none."""
    for message in reversed(request.messages):
        if isinstance(message, UserMessage):
            content = message.content
            return (content if isinstance(content, str) else content[0].text).strip()
    raise ValidationException("messages must include a user message, the question to answer")


def _completion_id(request: Request[Any, Any, Any]) -> str:
    return f"chatcmpl-{request_id_of(request.scope)}"


def _extension(answer: Answer) -> dict[str, Any]:
    return {
        "sources": sources_of(answer),
        "citations": citations_of(answer),
        "cached": answer.cached,
    }


class OpenAIController(Controller):
    """The OpenAI chat-completions protocol over ragfleet's retrieval."""

    path = "/v1"
    tags = ["openai"]

    @get(
        "/models",
        guards=[requires_scope("query")],
        summary="OpenAI: list models",
        responses=error_responses(),
    )
    async def models(self) -> dict[str, Any]:
        """ragfleet presents itself as one model."""
        return {
            "object": "list",
            "data": [{"id": MODEL_ID, "object": "model", "created": 0, "owned_by": "ragfleet"}],
        }

    @post(
        "/chat/completions",
        guards=[requires_scope("query", json_body=True)],
        status_code=200,
        summary="OpenAI: retrieval-augmented chat completion",
        responses=json_route_responses(503, 504),
        # A stream takes the handler's media type (Litestar's Stream prefers it to its own);
        # the JSON answer carries its own.
        media_type=EVENT_STREAM,
        operation_class=ChatCompletionOperation,
    )
    async def chat_completions(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[ChatCompletionRequest],
        services: NamedDependency[Services],
    ) -> Any:
        """Answer the last user message from the corpus, streamed when ``stream`` is true."""
        question = _question(data)
        created = int(time.time())
        completion_id = _completion_id(request)
        if data.stream:
            chunks = OpenAIChunks(completion_id, created)
            return await stream_answer(
                services.queries, question, data.context_filter, data.max_results, chunks
            )
        answer = await services.queries.answer(question, data.context_filter, data.max_results)
        body = {
            "id": completion_id,
            "object": "chat.completion",
            "created": created,
            "model": MODEL_ID,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": answer.text},
                    "finish_reason": "stop",
                }
            ],
            "usage": {
                "prompt_tokens": answer.prompt_tokens,
                "completion_tokens": answer.completion_tokens,
                "total_tokens": answer.prompt_tokens + answer.completion_tokens,
            },
            "ragfleet": _extension(answer),
        }
        return Response(body, media_type=MediaType.JSON)


class OpenAIChunks:
    """``chat.completion.chunk`` events: the role, the text as it comes, ``finish_reason: stop``
    with ragfleet's sources, then ``[DONE]``; an error object if generation fails midway."""

    def __init__(self, completion_id: str, created: int) -> None:
        self._completion_id = completion_id
        self._created = created

    def _chunk(
        self, delta: dict[str, Any], finish: str | None, **extra: Any
    ) -> ServerSentEventMessage:
        body = {
            "id": self._completion_id,
            "object": "chat.completion.chunk",
            "created": self._created,
            "model": MODEL_ID,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            **extra,
        }
        return ServerSentEventMessage(data=_encode(body))

    def opening(self) -> Iterable[ServerSentEventMessage]:
        return (self._chunk({"role": "assistant", "content": ""}, None),)

    def token(self, delta: TokenDelta) -> ServerSentEventMessage:
        return self._chunk({"content": delta.text}, None)

    def done(self, answer: Answer) -> ServerSentEventMessage:
        return self._chunk({}, "stop", ragfleet=_extension(answer))

    def failed(self, error: RagfleetError) -> ServerSentEventMessage:
        body = {"message": "the LLM server failed during generation", "type": "server_error"}
        return ServerSentEventMessage(data=_encode({"error": body}))

    def closing(self) -> Iterable[ServerSentEventMessage]:
        return (ServerSentEventMessage(data="[DONE]"),)
