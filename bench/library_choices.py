"""What the hand-written pieces save over the libraries that could replace them, side by side.

1. One JSON log line per request: loguru's own ``serialize=True`` sink, ragfleet's JSON sink
   (a loguru record, flat keys) and ragfleet's ``info_line`` (the access log's path: no loguru
   record, one write per event-loop iteration), each writing to /dev/null. Microseconds per line.
2. An OpenAI-protocol streamed completion: the ``openai`` SDK's ``AsyncOpenAI`` next to ragfleet's
   ``OpenAIChatClient``, both reading the same server-sent chunks from a local server that
   streams a fixed completion as fast as it can (so only the client's cost differs).
   Milliseconds per completion and microseconds per chunk.

Everything runs in this process on 127.0.0.1; medians of alternating rounds.

    .venv/bin/python bench/library_choices.py [--lines 20000] [--chunks 200] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from loguru import logger

FIELDS = {
    "request_id": "0123456789abcdef0123456789abcdef",
    "method": "POST",
    "path": "/query",
    "route": "/query",
    "status": 200,
    "duration_s": 0.000412,
    "query_chars": 27,
    "passages": 3,
    "cache": "hit",
}


def _per_line_us(write: Callable[[], None], lines: int) -> float:
    started = time.perf_counter()
    for _ in range(lines):
        write()
    return (time.perf_counter() - started) / lines * 1e6


def bench_logging(lines: int, rounds: int) -> dict[str, float]:
    from ragfleet.observability import logging as ragfleet_logging

    devnull = open("/dev/null", "w")  # noqa: SIM115 - held for the whole run
    results: dict[str, list[float]] = {"loguru serialize=True": [], "ragfleet JSON sink": []}
    results["ragfleet info_line"] = []
    for _ in range(rounds):
        logger.remove()
        logger.add(devnull, serialize=True, level="INFO")
        results["loguru serialize=True"].append(
            _per_line_us(lambda: logger.bind(**FIELDS).info("request"), lines)
        )
        logger.remove()
        ragfleet_logging._configured_for = None
        real_stderr = sys.stderr
        sys.stderr = devnull
        try:
            ragfleet_logging.configure_logging("INFO", json_lines=True)
            results["ragfleet JSON sink"].append(
                _per_line_us(lambda: logger.bind(**FIELDS).info("request"), lines)
            )

            async def many() -> float:
                started = time.perf_counter()
                for n in range(lines):
                    ragfleet_logging.info_line("ragfleet.api", "request", FIELDS)
                    if n % 32 == 31:
                        await asyncio.sleep(0)  # a loop iteration serves several requests
                await asyncio.sleep(0)
                return (time.perf_counter() - started) / lines * 1e6

            results["ragfleet info_line"].append(asyncio.run(many()))
        finally:
            sys.stderr = real_stderr
            logger.remove()
            ragfleet_logging._configured_for = None
    return {name: statistics.median(values) for name, values in results.items()}


def _streaming_server(chunks: int) -> ThreadingHTTPServer:
    pieces = [
        "data: "
        + json.dumps(
            {
                "id": "c",
                "object": "chat.completion.chunk",
                "created": 0,
                "model": "bench",
                "choices": [{"index": 0, "delta": {"content": f" tok{n}"}, "finish_reason": None}],
            }
        )
        + "\n\n"
        for n in range(chunks)
    ]
    pieces.append(
        "data: "
        + json.dumps(
            {
                "id": "c",
                "object": "chat.completion.chunk",
                "created": 0,
                "model": "bench",
                "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 50, "completion_tokens": chunks, "total_tokens": 50},
            }
        )
        + "\n\ndata: [DONE]\n\n"
    )
    body = "".join(pieces).encode()
    models = json.dumps({"object": "list", "data": [{"id": "bench", "object": "model"}]}).encode()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            self._send("application/json", models)

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self._send("text/event-stream", body)

        def _send(self, kind: str, payload: bytes) -> None:
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def bench_llm_client(chunks: int, rounds: int, completions: int = 30) -> dict[str, float]:
    from openai import AsyncOpenAI

    from ragfleet.adapters.llm import OpenAIChatClient
    from ragfleet.settings import ModelSettings

    server = _streaming_server(chunks)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    messages = [{"role": "user", "content": "hello"}]

    async def ragfleet_client() -> float:
        client = OpenAIChatClient(ModelSettings(llm_model="bench"), base)
        try:
            started = time.perf_counter()
            for _ in range(completions):
                await client.complete(messages)
            return (time.perf_counter() - started) / completions * 1e3
        finally:
            await client.close()

    async def sdk_client() -> float:
        client = AsyncOpenAI(base_url=f"{base}/v1", api_key="unused", max_retries=0)
        try:
            started = time.perf_counter()
            for _ in range(completions):
                stream = await client.chat.completions.create(
                    model="bench",
                    messages=messages,  # type: ignore[arg-type]
                    stream=True,
                    stream_options={"include_usage": True},
                )
                parts = [c.choices[0].delta.content or "" async for c in stream if c.choices]
                "".join(parts)
            return (time.perf_counter() - started) / completions * 1e3
        finally:
            await client.close()

    results: dict[str, list[float]] = {"openai SDK": [], "ragfleet client": []}
    try:
        for _ in range(rounds):
            results["ragfleet client"].append(asyncio.run(ragfleet_client()))
            results["openai SDK"].append(asyncio.run(sdk_client()))
    finally:
        server.shutdown()
    return {name: statistics.median(values) for name, values in results.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=20000)
    parser.add_argument("--chunks", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    logs = bench_logging(args.lines, args.rounds)
    print(f"JSON log line, µs per line (median of {args.rounds} rounds of {args.lines}):")
    for name, value in logs.items():
        print(f"  {name:<24} {value:7.2f}")
    base = logs["loguru serialize=True"]
    print(f"  info_line / serialize=True: {logs['ragfleet info_line'] / base:.2f}")

    llm = bench_llm_client(args.chunks, args.rounds)
    print(f"streamed completion of {args.chunks} chunks, ms (median of {args.rounds} rounds):")
    for name, value in llm.items():
        per_chunk = value / (args.chunks + 1) * 1e3
        print(f"  {name:<24} {value:7.2f} ms  ({per_chunk:.1f} µs per chunk)")
    print(f"  ragfleet client / openai SDK: {llm['ragfleet client'] / llm['openai SDK']:.2f}")


if __name__ == "__main__":
    main()
