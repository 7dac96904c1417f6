"""Route guards: the checks a route runs before its body is read (media type, API-key scope)."""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from litestar.exceptions import HTTPException
from litestar.handlers.base import BaseRouteHandler
from litestar.status_codes import HTTP_415_UNSUPPORTED_MEDIA_TYPE

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


def requires_scope(scope: str, *, json_body: bool = False) -> Any:
    """One guard per route (Litestar copies the handler for each guard it runs, per request):
    the scope check, and for JSON endpoints the content-type check too."""

    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        if json_body:
            check_json_content_type(connection)
        check_scope(connection, scope)

    guard.__name__ = f"requires_{scope}"
    return guard
