"""``ragfleet query "question"``: ask a running ragfleet service and print the answer."""

from __future__ import annotations

import argparse
import json
from typing import Any

import httpx


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "query", help="ask a running service a question", description=__doc__
    )
    parser.add_argument("question")
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="service base URL")
    parser.add_argument("--max-results", type=int, default=5)
    parser.add_argument("--filter", type=json.loads, default=None, help="context_filter as JSON")
    parser.add_argument("--json", action="store_true", help="print the raw JSON response")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    body = {"query": args.question, "max_results": args.max_results, "context_filter": args.filter}
    try:
        response = httpx.post(f"{args.url.rstrip('/')}/query", json=body, timeout=120)
    except httpx.HTTPError as exc:
        print(f"cannot reach {args.url}: {exc}")
        return 1
    payload = response.json()
    if args.json or response.status_code != 200:
        print(json.dumps(payload, indent=2))
        return 0 if response.status_code == 200 else 1
    print(payload["answer"])
    print()
    for citation in payload["citations"]:
        print(f"[{citation['number']}] {citation['source']} (score {citation['score']:.3f})")
    timings = payload["timings"]
    print(
        f"\n{payload['processing_time']:.2f}s total: embed {timings['embed'] * 1000:.0f} ms,"
        f" search {timings['search'] * 1000:.0f} ms, generate {timings['generate'] * 1000:.0f} ms"
    )
    return 0
