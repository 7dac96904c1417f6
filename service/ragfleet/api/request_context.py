"""Request ids and the access log, as a plain ASGI middleware around the whole app.

The id comes from ``X-Request-ID`` when a client or the gateway sends a sane one, otherwise it is
generated; it is returned in the response header, bound to every log line of the request, and put
in error bodies so a user can quote it to an operator.
"""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

from litestar.types import ASGIApp, Message, Receive, Scope, Send
from loguru import logger

REQUEST_ID_HEADER = "x-request-id"
_SANE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_STATE_KEY = "request_id"


def request_id_of(scope: Scope | dict[str, Any]) -> str:
    """The id assigned to the request in ``scope`` ('' outside a request)."""
    state = scope.get("state") or {}
    return str(state.get(_STATE_KEY, ""))


def _incoming_id(scope: Scope) -> str:
    for name, value in scope.get("headers", []):
        if name == REQUEST_ID_HEADER.encode():
            candidate = value.decode("latin-1")
            if _SANE_ID.match(candidate):
                return candidate
    return uuid.uuid4().hex


class RequestContextMiddleware:
    """Assigns the request id, echoes it back and writes one access-log line per request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # type: ignore[comparison-overlap]
            await self.app(scope, receive, send)
            return
        request_id = _incoming_id(scope)
        scope.setdefault("state", {})[_STATE_KEY] = request_id
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((REQUEST_ID_HEADER.encode(), request_id.encode()))
                message["headers"] = headers
            await send(message)

        with logger.contextualize(request_id=request_id):
            try:
                await self.app(scope, receive, send_with_id)
            finally:
                path = scope.get("path", "")
                # Keyword arguments become the record's extra fields (no per-request bind()).
                logger.info(
                    "request",
                    method=scope.get("method", ""),
                    path=path,
                    route=scope.get("path_template", path),
                    status=status,
                    duration_s=round(time.perf_counter() - started, 6),
                    **scope.get("state", {}).get("log_extra", {}),
                )
