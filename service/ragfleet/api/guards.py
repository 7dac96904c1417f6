"""Request checks that run before the body is read."""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from litestar.exceptions import HTTPException
from litestar.status_codes import HTTP_415_UNSUPPORTED_MEDIA_TYPE


def check_json_content_type(connection: ASGIConnection[Any, Any, Any, Any]) -> None:
    """JSON endpoints refuse other media types with 415 instead of a confusing parse error."""
    media_type = connection.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type != "application/json":
        raise HTTPException(
            status_code=HTTP_415_UNSUPPORTED_MEDIA_TYPE,
            detail=(
                f"expected Content-Type: application/json, got {media_type or 'none'}; "
                "send the body as JSON"
            ),
        )
