"""Route guards: the checks a route runs before its handler (media type, API-key scope, and the
body's JSON types, strictly)."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request
from litestar.connection import ASGIConnection
from litestar.exceptions import HTTPException, SerializationException, ValidationException
from litestar.handlers.base import BaseRouteHandler
from litestar.status_codes import HTTP_400_BAD_REQUEST, HTTP_415_UNSUPPORTED_MEDIA_TYPE

from ragfleet.security.auth import check_scope


def media_type_of(content_type: str) -> str:
    """``application/json`` from ``Application/JSON; charset=utf-8``."""
    return content_type.split(";", 1)[0].strip().lower()


def check_json_content_type(connection: ASGIConnection[Any, Any, Any, Any]) -> None:
    """JSON endpoints refuse other media types with 415 instead of a confusing parse error."""
    media_type = media_type_of(connection.headers.get("content-type", ""))
    if media_type != "application/json":
        raise HTTPException(
            status_code=HTTP_415_UNSUPPORTED_MEDIA_TYPE,
            detail=(
                f"expected Content-Type: application/json, got {media_type or 'none'}; "
                "send the body as JSON"
            ),
        )


async def check_json_types(
    connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
) -> None:
    """400 for a body whose JSON types differ from the documented ones (``"5"`` for an integer,
    ``0`` for a boolean). Litestar converts bodies in msgspec's lax mode (``strict=False`` in
    ``litestar/_signature/model.py``), which would accept them; the OpenAPI document promises
    the types, so the body is checked strictly first (Litestar caches it: read once)."""
    data = handler.parsed_fn_signature.parameters.get("data")
    if data is None:
        return
    try:
        body = await Request(connection.scope, connection.receive).json()
    except SerializationException as exc:  # answered as 400 "not valid JSON" (api.errors)
        raise HTTPException(status_code=HTTP_400_BAD_REQUEST, detail=str(exc)) from exc
    try:
        msgspec.convert(body, data.annotation, strict=True)
    except msgspec.ValidationError as exc:
        # Reported as Litestar reports its own validation errors: the field's path, the message.
        message, _, where = str(exc).rpartition(" - at `")
        if not message:
            message, where = str(exc), "$"
        key = where.rstrip("`").removeprefix("$").removeprefix(".") or "data"
        raise ValidationException(
            "Validation failed", extra=[{"message": message, "key": key, "source": "body"}]
        ) from None


def requires_scope(scope: str, *, json_body: bool = False) -> Any:
    """One guard per route (Litestar copies the handler for each guard it runs, per request):
    the scope check, and for JSON endpoints the content-type and strict type checks too."""

    async def guard(
        connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
    ) -> None:
        if json_body:
            check_json_content_type(connection)
        check_scope(connection, scope)
        if json_body:
            await check_json_types(connection, handler)

    guard.__name__ = f"requires_{scope}"
    return guard
