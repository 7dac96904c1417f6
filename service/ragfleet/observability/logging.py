"""One JSON object per log line, from loguru, the stdlib and uvicorn alike.

Structured fields bound to a record (request id, route, status, duration…) become top-level keys,
so a log shipper can index them without parsing the message.

Hand-written rather than loguru's ``serialize=True``: that sink nests the record under
``record`` (file, function, process, thread...) instead of flat keys a shipper indexes, and
costs about ten times ``info_line`` per access-log line (bench/library_choices.py).
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import sys
import traceback
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, TextIO

import msgspec
from loguru import logger

_encode = msgspec.json.Encoder(enc_hook=str).encode

_configured_for: tuple[str, bool] | None = None
# True when configure_logging installed the JSON sink at INFO or below: info_line() then writes
# straight to it.
_json_info_lines = False
# Lines info_line() wrote during the current event-loop iteration, flushed at its end in one write
# by a callback scheduled on _flush_loop.
_pending: list[str] = []
_flush_loop: asyncio.AbstractEventLoop | None = None


def _flush_pending() -> None:
    global _flush_loop
    _flush_loop = None
    if _pending:
        lines = "".join(_pending)
        _pending.clear()
        sys.stderr.write(lines)


atexit.register(_flush_pending)


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


def info_line(logger_name: str, message: str, fields: Mapping[str, Any]) -> None:
    """An INFO record with ``fields`` as extra keys, for lines written on every request.

    With the JSON sink it is written as the sink writes a loguru record (same keys, same order)
    but without building one: loguru's record machinery costs about 20 µs a line, this 3 µs.
    Inside an event loop, the lines of one loop iteration go out together in one write at its end
    (sub-millisecond later) instead of one write each. Otherwise it goes through loguru like any
    other line.
    """
    if _json_info_lines:
        entry: dict[str, Any] = {
            "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "level": "INFO",
            "message": message,
            "logger": logger_name,
        }
        entry.update(fields)
        line = _encode(entry).decode() + "\n"
        _pending.append(line)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            _flush_pending()
            return
        if _flush_loop is not loop:
            _schedule_flush(loop)
    else:
        logger.patch(lambda record: record.__setitem__("name", logger_name)).info(message, **fields)


def _schedule_flush(loop: asyncio.AbstractEventLoop) -> None:
    global _flush_loop
    if _flush_loop is not None:  # scheduled on a loop that stopped before running it
        _flush_pending()
    _flush_loop = loop
    loop.call_soon(_flush_pending)


def configure_logging(level: str = "INFO", json_lines: bool = True) -> None:
    """Route every logger to one sink on stderr; idempotent for the same arguments."""
    global _configured_for, _json_info_lines
    if _configured_for == (level, json_lines):
        return
    logger.remove()
    # diagnose=False: loguru would otherwise print every local variable's value in a traceback,
    # and those include API keys, passwords in URLs and request bodies.
    if json_lines:
        logger.add(
            _json_sink(lambda: sys.stderr),
            level=level.upper(),
            enqueue=False,
            backtrace=False,
            diagnose=False,
        )
    else:
        logger.add(sys.stderr, level=level.upper(), backtrace=False, diagnose=False)
    stdlib_level = logging.DEBUG if level.upper() == "TRACE" else level.upper()
    logging.basicConfig(handlers=[InterceptHandler()], level=stdlib_level, force=True)
    for name in ("uvicorn", "uvicorn.error", "litestar"):
        lg = logging.getLogger(name)
        lg.handlers = [InterceptHandler()]
        lg.propagate = False
    # The access log is written by the request-context middleware, with the request id. No
    # handler at all (not ``disabled``, which pymilvus' dictConfig() turns back off when imported
    # later): uvicorn then does not even format its line.
    access = logging.getLogger("uvicorn.access")
    access.handlers = []
    access.propagate = False
    access.setLevel(logging.WARNING)
    # One line per outbound HTTP call is too much at INFO; failures surface as our own errors.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    # faiss (imported by Milvus Lite) reports each CPU-specific build it could not load, at INFO,
    # before loading the generic one that works.
    logging.getLogger("faiss.loader").setLevel(logging.WARNING)
    _configured_for = (level, json_lines)
    _json_info_lines = json_lines and logger.level(level.upper()).no <= logger.level("INFO").no
