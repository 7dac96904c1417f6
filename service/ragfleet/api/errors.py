"""Map exceptions to responses a person can act on; never leak exception text or stack traces.

Client mistakes (validation, filters, documents) become 4xx with a message saying what to change.
A dependency that is down becomes 503 with ``Retry-After``; an LLM that is too slow becomes 504.
Anything else is logged with its traceback and the request id, and the client gets a generic 500
that carries the same id.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException, SerializationException, ValidationException
from litestar.status_codes import (
    HTTP_400_BAD_REQUEST,
    HTTP_429_TOO_MANY_REQUESTS,
    HTTP_500_INTERNAL_SERVER_ERROR,
    HTTP_503_SERVICE_UNAVAILABLE,
    HTTP_504_GATEWAY_TIMEOUT,
)
from loguru import logger

from ragfleet.api.request_context import request_id_of
from ragfleet.api.schemas import ErrorBody
from ragfleet.errors import (
    ClientError,
    DependencyTimeoutError,
    DependencyUnavailableError,
    RagfleetError,
)
from ragfleet.observability.metrics import ERRORS

RETRY_AFTER_SECONDS = "5"


def _respond(
    request: Request[Any, Any, Any],
    status: int,
    detail: str,
    *,
    extra: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> Response[ErrorBody]:
    body = ErrorBody(
        status_code=status, detail=detail, request_id=request_id_of(request.scope), extra=extra
    )
    return Response(body, status_code=status, headers=headers)


def _validation_detail(exc: ValidationException) -> tuple[str, list[dict[str, Any]] | None]:
    """Flatten msgspec's messages into one sentence a person can act on."""
    extra = exc.extra if isinstance(exc.extra, list) else None
    if not extra:
        return str(exc.detail), None
    parts = []
    for item in extra:
        key = item.get("key")
        message = str(item.get("message", "invalid value"))
        # msgspec reports errors raised by a struct's own checks against the whole body ("data").
        located = key and key != "data" and not message.startswith(str(key))
        parts.append(f"{key}: {message}" if located else message)
    return "; ".join(parts), extra


def handle_validation(
    request: Request[Any, Any, Any], exc: ValidationException
) -> Response[ErrorBody]:
    ERRORS.labels(type="invalid_request").inc()
    detail, extra = _validation_detail(exc)
    return _respond(request, HTTP_400_BAD_REQUEST, detail, extra=extra)


def handle_http(request: Request[Any, Any, Any], exc: HTTPException) -> Response[ErrorBody]:
    if isinstance(exc.__cause__, SerializationException):
        ERRORS.labels(type="invalid_request").inc()
        detail = f"request body is not valid JSON: {exc.detail}"
        return _respond(request, HTTP_400_BAD_REQUEST, detail)
    ERRORS.labels(type=_HTTP_ERROR_TYPES.get(exc.status_code, f"http_{exc.status_code}")).inc()
    if exc.status_code >= 500:
        logger.opt(exception=exc).error("HTTP {} on {}", exc.status_code, request.url.path)
        return _respond(request, exc.status_code, "internal error", headers=exc.headers)
    headers = dict(exc.headers or {})
    if exc.status_code == HTTP_429_TOO_MANY_REQUESTS and "RateLimit-Reset" in headers:
        headers["Retry-After"] = str(max(1, int(headers["RateLimit-Reset"])))
        detail = "rate limit exceeded; retry after the number of seconds in Retry-After"
        return _respond(request, exc.status_code, detail, headers=headers)
    return _respond(request, exc.status_code, str(exc.detail), headers=headers)


_HTTP_ERROR_TYPES = {
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "body_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
}


def handle_ragfleet_error(
    request: Request[Any, Any, Any], exc: RagfleetError
) -> Response[ErrorBody]:
    """The one place the error tree becomes HTTP: 400, 503 with Retry-After, or 504."""
    if isinstance(exc, ClientError):
        ERRORS.labels(type=exc.kind).inc()
        return _respond(request, HTTP_400_BAD_REQUEST, str(exc))
    if isinstance(exc, DependencyUnavailableError):
        ERRORS.labels(type=exc.kind).inc()
        logger.opt(exception=exc).warning("{} unavailable", exc.dependency)
        return _respond(
            request,
            HTTP_503_SERVICE_UNAVAILABLE,
            f"the {exc.dependency} is unavailable; retry later",
            headers={"Retry-After": RETRY_AFTER_SECONDS},
        )
    if isinstance(exc, DependencyTimeoutError):
        ERRORS.labels(type=exc.kind).inc()
        logger.opt(exception=exc).warning("{} timed out", exc.dependency)
        return _respond(
            request,
            HTTP_504_GATEWAY_TIMEOUT,
            f"the {exc.dependency} did not answer in time; retry, or ask a shorter question",
        )
    return handle_internal(request, exc)


def handle_internal(request: Request[Any, Any, Any], exc: Exception) -> Response[ErrorBody]:
    ERRORS.labels(type="internal").inc()
    logger.opt(exception=exc).error("unhandled error on {}", request.url.path)
    return _respond(
        request,
        HTTP_500_INTERNAL_SERVER_ERROR,
        "internal error; quote the request id to the operators",
    )


EXCEPTION_HANDLERS: dict[type[Exception] | int, Any] = {
    ValidationException: handle_validation,
    HTTPException: handle_http,
    RagfleetError: handle_ragfleet_error,
    Exception: handle_internal,
}
