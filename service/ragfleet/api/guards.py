"""Request checks that run before the body is read."""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from litestar.exceptions import HTTPException
from litestar.status_codes import HTTP_415_UNSUPPORTED_MEDIA_TYPE


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
