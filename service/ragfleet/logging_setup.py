"""One JSON object per log line, from loguru, the stdlib and uvicorn alike.

Structured fields bound to a record (request id, route, status, duration…) become top-level keys,
so a log shipper can index them without parsing the message.
"""

from __future__ import annotations

import logging
import sys
import traceback
from collections.abc import Callable
from datetime import UTC
from typing import Any, TextIO

import msgspec
from loguru import logger

_encode = msgspec.json.Encoder(enc_hook=str).encode

_configured_for: tuple[str, bool] | None = None


def _json_sink(stream: Callable[[], TextIO]) -> Any:
    """A loguru sink writing JSON lines to ``stream()``, looked up per record (tests swap it)."""

    def sink(message: Any) -> None:
        record = message.record
        entry: dict[str, Any] = {
            "timestamp": record["time"].astimezone(UTC).isoformat(timespec="milliseconds"),
            "level": record["level"].name,
            "message": record["message"],
            "logger": record["name"],
        }
        entry.update(record["extra"])
        if record["exception"] is not None:
            entry["exception"] = "".join(traceback.format_exception(*record["exception"])).rstrip()
        # stderr is line-buffered: one write per record, no explicit flush on the hot path.
        stream().write(_encode(entry).decode() + "\n")

    return sink


class InterceptHandler(logging.Handler):
    """Send stdlib log records (uvicorn, pymilvus, httpx…) to loguru."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            level: str | int = logger.level(record.levelname).name
        except ValueError:
            level = record.levelno
        logger.bind(logger=record.name).opt(depth=6, exception=record.exc_info).log(
            level, record.getMessage()
        )


def configure_logging(level: str = "INFO", json_lines: bool = True) -> None:
    """Route every logger to one sink on stderr; idempotent for the same arguments."""
    global _configured_for
    if _configured_for == (level, json_lines):
        return
    logger.remove()
    if json_lines:
        logger.add(_json_sink(lambda: sys.stderr), level=level.upper(), enqueue=False)
    else:
        logger.add(sys.stderr, level=level.upper())
    stdlib_level = logging.DEBUG if level.upper() == "TRACE" else level.upper()
    logging.basicConfig(handlers=[InterceptHandler()], level=stdlib_level, force=True)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "litestar"):
        lg = logging.getLogger(name)
        lg.handlers = [InterceptHandler()]
        lg.propagate = False
    # The access log is written by the request-context middleware, with the request id.
    logging.getLogger("uvicorn.access").disabled = True
    # Milvus Lite's in-process gRPC server lacks AllocTimestamp; pymilvus falls back after an
    # error the server logs on every index creation. It is noise, not a fault.
    logging.getLogger("grpc._server").setLevel(logging.CRITICAL)
    # One line per outbound HTTP call is too much at INFO; failures surface as our own errors.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    _configured_for = (level, json_lines)
