"""What the OpenAPI document at ``/schema`` adds to Litestar's, so that it tells the truth.

Litestar documents a handler's success response and a generic 400. The service answers more: every
error carries :class:`ErrorBody` (with the request id), JSON routes refuse other media types
with 415, keys and scopes give 401 and 403, the rate limiter 429, a dependency that is down 503,
a slow LLM 504. Request bodies that refuse unknown fields say so (``additionalProperties: false``),
the streaming routes declare ``text/event-stream``, and API keys are a bearer security scheme when
they are configured. The contract test holds the server to this document with schemathesis.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from litestar._openapi.schema_generation.plugins.struct import StructSchemaPlugin
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import (
    Components,
    OpenAPIMediaType,
    OpenAPIType,
    Operation,
    Schema,
    SecurityScheme,
)

from ragfleet.api.schemas import ErrorBody

if TYPE_CHECKING:
    from litestar._openapi.schema_generation import SchemaCreator
    from litestar.typing import FieldDefinition

EVENT_STREAM = "text/event-stream"

_ERRORS: dict[int, str] = {
    400: "The request is not valid; `detail` says what to change.",
    401: "No API key, or one that is not known (only when RAGFLEET_API_KEYS is set).",
    403: "The API key lacks this route's scope, or the peer is not allowed.",
    404: "No such resource.",
    413: "The body is larger than RAGFLEET_REQUEST_MAX_BODY_BYTES.",
    415: "The body is not sent as Content-Type: application/json.",
    429: "The key's rate limit is exhausted; retry after the seconds in Retry-After.",
    500: "An internal error; quote `request_id` to the operators.",
    503: "A dependency (vector store, LLM server) is unavailable; retry after Retry-After.",
    504: "The LLM server did not answer in time.",
}
# The statuses every authenticated route can answer besides its own.
_EVERY_ROUTE = (401, 403, 429, 500)


API_KEY_SCHEME = "apiKey"
# The routes that take no key (the probes); everything else in the schema needs one.
NO_KEY: list[dict[str, list[str]]] = [{}]


def api_key_security(*, enabled: bool) -> dict[str, Any]:
    """OpenAPIConfig arguments declaring bearer API keys, when keys are configured."""
    if not enabled:
        return {}
    return {
        "components": Components(
            security_schemes={
                API_KEY_SCHEME: SecurityScheme(
                    type="http",
                    scheme="bearer",
                    description="An API key from RAGFLEET_API_KEYS: Authorization: Bearer KEY.",
                )
            }
        ),
        "security": [{API_KEY_SCHEME: []}],
    }


def error_responses(*statuses: int) -> dict[int, ResponseSpec]:
    """Response specs for ``statuses`` and those every authenticated route can give."""
    return {
        status: ResponseSpec(data_container=ErrorBody, description=_ERRORS[status])
        for status in sorted({*statuses, *_EVERY_ROUTE})
    }


def json_route_responses(*statuses: int) -> dict[int, ResponseSpec]:
    """Response specs for a route with a JSON request body."""
    return error_responses(400, 413, 415, *statuses)


class ClosedStructSchemaPlugin(StructSchemaPlugin):
    """msgspec structs declared with ``forbid_unknown_fields`` are documented as closed objects:
    a client generating requests from the schema then never sends a field the server refuses."""

    def is_plugin_supported_field(self, field_definition: FieldDefinition) -> bool:
        return super().is_plugin_supported_field(field_definition) and bool(
            field_definition.type_.__struct_config__.forbid_unknown_fields
        )

    def to_openapi_schema(
        self, field_definition: FieldDefinition, schema_creator: SchemaCreator
    ) -> Schema:
        schema = super().to_openapi_schema(field_definition, schema_creator)
        schema.additional_properties = False
        return schema


def server_sent_events(events: list[str]) -> OpenAPIMediaType:
    """``text/event-stream`` whose events (as schemathesis and OpenAPI 3.2's ``itemSchema`` read
    them: ``event``, ``data``, ``id``, ``retry``) carry one of ``events``; ``data`` is text."""
    event = Schema(type=OpenAPIType.STRING, enum=events)
    return OpenAPIMediaType(
        schema=Schema(
            type=OpenAPIType.OBJECT,
            properties={
                "event": event,
                "data": Schema(type=OpenAPIType.STRING),
                "id": Schema(type=OpenAPIType.STRING),
                "retry": Schema(type=OpenAPIType.INTEGER),
            },
            required=["data"],
        )
    )


@dataclass
class QueryStreamOperation(Operation):
    """``POST /query/stream``: ``token`` events, then ``done`` (or ``error``)."""

    def __post_init__(self) -> None:
        success: Any = (self.responses or {}).get("200")
        if success is not None:
            success.content = {EVENT_STREAM: server_sent_events(["token", "done", "error"])}


@dataclass
class ChatCompletionOperation(Operation):
    """``POST /v1/chat/completions``: JSON, or OpenAI's unnamed ``message`` events (JSON chunks,
    then ``[DONE]``) when ``stream`` is true."""

    def __post_init__(self) -> None:
        success: Any = (self.responses or {}).get("200")
        if success is not None and success.content:
            schema = next(iter(success.content.values())).schema
            success.content = {
                "application/json": OpenAPIMediaType(schema=schema),
                EVENT_STREAM: server_sent_events(["message"]),
            }
