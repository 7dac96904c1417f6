"""Request ids and the access log, as a plain ASGI middleware around the whole app.

The cache-hit path (:mod:`ragfleet.api.hit_path`) uses the same two functions,
:func:`assign_request_id` and :func:`log_request`, for the requests it answers itself.

The id comes from ``X-Request-ID`` when a client or the gateway sends a sane one, otherwise it is
generated; it is returned in the response header, bound to every log line of the request, and put
in error bodies so a user can quote it to an operator.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Mapping
from typing import Any

from litestar.types import ASGIApp, Message, Receive, Scope, Send
from loguru import logger

from ragfleet.observability.logging import info_line

REQUEST_ID_HEADER = "x-request-id"
_SANE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_REQUEST_ID_HEADER_BYTES = REQUEST_ID_HEADER.encode()
_STATE_KEY = "request_id"


def request_id_of(scope: Scope | dict[str, Any]) -> str:
    """The id assigned to the request in ``scope`` ('' outside a request)."""
    state = scope.get("state") or {}
    return str(state.get(_STATE_KEY, ""))


def assign_request_id(scope: Scope) -> str:
    """The client's ``X-Request-ID`` when it is sane, else a fresh one; stored in the scope."""
    request_id = ""
    for name, value in scope.get("headers", []):
        if name == _REQUEST_ID_HEADER_BYTES:
            candidate = value.decode("latin-1")
            if _SANE_ID.match(candidate):
                request_id = candidate
                break
    request_id = request_id or uuid.uuid4().hex
    scope.setdefault("state", {})[_STATE_KEY] = request_id
    return request_id


def log_request(
    scope: Scope, request_id: str, status: int, started: float, extra: Mapping[str, object]
) -> None:
    """The access-log line: one per request, whichever path answered it."""
    path = scope.get("path", "")
    info_line(
        __name__,
        "request",
        {
            "request_id": request_id,
            "method": scope.get("method", ""),
            "path": path,
            "route": scope.get("path_template", path),
            "status": status,
            "duration_s": round(time.perf_counter() - started, 6),
            **extra,
        },
    )


class RequestContextMiddleware:
    """Assigns the request id, echoes it back and writes one access-log line per request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # type: ignore[comparison-overlap]
            await self.app(scope, receive, send)
            return
        request_id = assign_request_id(scope)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((_REQUEST_ID_HEADER_BYTES, request_id.encode()))
                message["headers"] = headers
            await send(message)

        with logger.contextualize(request_id=request_id):
            try:
                await self.app(scope, receive, send_with_id)
            finally:
                extra = scope.get("state", {}).get("log_extra", {})
                log_request(scope, request_id, status, started, extra)
