"""Cache hits of ``POST /query``, answered in front of Litestar.

A hit costs a near-cache (or one Redis) lookup; Litestar's routing, dependency injection, guards and
response machinery cost several times that. :class:`CacheHitPath` answers a hit itself, with what
the Litestar route would do for it, through the same functions: the API-key and scope check, the
JSON content-type check, the request id, the request schema (:class:`QueryRequest`, decoded
strictly, so it accepts no body the route would refuse), the response body, the access-log line and
the HTTP metrics of Litestar's Prometheus plugin (same metric objects and labels).

Everything else goes to Litestar untouched, with any body already read replayed: another route, a
missing or insufficient key, another media type, a body without Content-Length or over
:data:`MAX_BODY_BYTES` (or the configured limit), a body that does not decode, a filter error, a
miss, a cross-origin request when CORS is on. Errors therefore have one source of truth. The app
does not install this path when rate limiting is on: every request must be counted by the limiter.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import msgspec
from litestar.plugins.prometheus import PrometheusConfig, PrometheusMiddleware
from litestar.types import (
    HTTPResponseBodyEvent,
    HTTPResponseStartEvent,
    HTTPScope,
    Receive,
    ReceiveMessage,
    Send,
)

from ragfleet.api.guards import media_type_of
from ragfleet.api.presenters import query_log_fields, query_response
from ragfleet.api.request_context import REQUEST_ID_HEADER, assign_request_id, log_request
from ragfleet.api.schemas import QueryRequest
from ragfleet.security.api_keys import KeyRing
from ragfleet.security.auth import key_with_scope

if TYPE_CHECKING:
    from litestar import Litestar

    from ragfleet.system.wiring import Services

PATH = "/query"
# Queries are at most a few KiB; larger bodies are rare enough to leave to Litestar.
MAX_BODY_BYTES = 64 * 1024

_decode_request = msgspec.json.Decoder(QueryRequest).decode
_encode = msgspec.json.Encoder().encode


class CacheHitPath:
    """Answers ``POST /query`` cache hits; returns everything else to the caller for Litestar."""

    def __init__(
        self,
        app: Litestar,
        *,
        keyring: KeyRing,
        prometheus: PrometheusConfig,
        max_body_bytes: int,
        cors: bool,
    ) -> None:
        self._app = app
        self._keyring = keyring
        self._max_body_bytes = min(max_body_bytes, MAX_BODY_BYTES)
        self._cors = cors
        # The Prometheus plugin's own metrics (created on first use, shared with its middleware),
        # with the labels its middleware gives a 200 of this route.
        plugin = PrometheusMiddleware(app, prometheus)
        labels: dict[str, str | int | float] = {
            "method": "POST",
            "path": PATH,
            "status_code": 200,
            "app_name": prometheus.app_name,
        }
        values = list(labels.values())
        self._in_progress = plugin.requests_in_progress(labels).labels(*values)
        self._requests = plugin.request_count(labels).labels(*values)
        self._duration = plugin.request_time(labels).labels(*values)

    async def __call__(self, scope: HTTPScope, receive: Receive, send: Send) -> Receive | None:
        """None when the request was answered here, else the ``receive`` to hand to Litestar."""
        if scope["path"] != PATH or scope["method"] != "POST":
            return receive
        started = time.perf_counter()
        content_type = content_length = authorization = b""
        for name, value in scope["headers"]:
            if name == b"content-type":
                content_type = value
            elif name == b"content-length":
                content_length = value
            elif name == b"authorization":
                authorization = value
            elif name == b"origin" and self._cors:
                return receive
        if media_type_of(content_type.decode("latin-1")) != "application/json":
            return receive
        if self._keyring.enabled and (
            key_with_scope(self._keyring, authorization.decode("latin-1"), "query") is None
        ):
            return receive
        services: Services | None = getattr(self._app.state, "services", None)
        if services is None or not content_length.isdigit():
            return receive
        length = int(content_length)
        if not 0 < length <= self._max_body_bytes:
            return receive
        body, receive = await _read_body(receive, length)
        if body is None:
            return receive
        try:
            data = _decode_request(body)
        except msgspec.MsgspecError:
            return receive
        try:
            answer = await services.queries.cached(
                data.query, data.context_filter, data.max_results
            )
        except Exception:  # a bad filter, or anything unexpected: Litestar answers it
            return receive
        if answer is None:
            return receive

        request_id = assign_request_id(scope)
        payload = _encode(query_response(answer, request_id))
        self._in_progress.inc()
        try:
            await send(
                HTTPResponseStartEvent(
                    type="http.response.start",
                    status=200,
                    headers=[
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(payload)).encode()),
                        (REQUEST_ID_HEADER.encode(), request_id.encode()),
                    ],
                )
            )
            await send(
                HTTPResponseBodyEvent(type="http.response.body", body=payload, more_body=False)
            )
        finally:
            self._in_progress.dec()
        self._requests.inc()
        self._duration.observe(time.perf_counter() - started)
        fields = query_log_fields(data.query, answer, services.settings.logging.log_query_text)
        scope["path_template"] = PATH
        log_request(scope, request_id, 200, started, fields)
        return None


async def _read_body(receive: Receive, length: int) -> tuple[bytes | None, Receive]:
    """The whole body (None if it is not a plain body of ``length`` bytes) and a ``receive``
    that replays every message read here before asking the server for more."""
    messages: list[ReceiveMessage] = []
    chunks: list[bytes] = []
    size = 0
    complete = False
    while not complete:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            break
        chunk: bytes = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        if size > length:
            break
        complete = not message.get("more_body", False)
    body = b"".join(chunks) if complete and size == length else None
    return body, _replay(messages, receive)


def _replay(messages: list[ReceiveMessage], receive: Receive) -> Receive:
    pending = list(messages)

    async def replaying() -> Any:
        if pending:
            return pending.pop(0)
        return await receive()

    return replaying
