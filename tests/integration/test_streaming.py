"""POST /query/stream: tokens as Server-Sent Events, then a final event with sources."""

from __future__ import annotations

import json
from typing import Any

from litestar.testing import AsyncTestClient

from ragfleet.app import create_app
from tests.integration.conftest import SettingsFactory


def parse_sse(text: str) -> list[tuple[str, Any]]:
    """(event, decoded data) pairs of an SSE body."""
    events = []
    for block in text.strip().split("\r\n\r\n" if "\r\n\r\n" in text else "\n\n"):
        event, data = "message", []
        for line in block.splitlines():
            if line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].strip())
        if data:
            events.append((event, json.loads("\n".join(data))))
    return events


async def test_tokens_stream_then_a_done_event_with_sources(
    corpus_client: AsyncTestClient[Any],
) -> None:
    body = {
        "query": "What status code does a request get when the LLM server does not answer in time?",
        "max_results": 4,  # not a key /query tests have cached: this one must generate
    }
    response = await corpus_client.post("/query/stream", json=body)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = parse_sse(response.text)
    tokens = [data["text"] for name, data in events if name == "token"]
    done = [data for name, data in events if name == "done"]
    assert tokens
    assert len(done) == 1
    assert events[-1][0] == "done"
    assert "docs/api.md" in done[0]["sources"]
    assert done[0]["citations"][0]["number"] == 1
    assert done[0]["cached"] is False
    assert done[0]["timings"]["generate"] > 0


async def test_a_second_identical_stream_is_served_from_the_cache(
    make_settings: SettingsFactory,
) -> None:
    doc = {"id": "s", "text": "Streaming answers are cached like the others."}
    async with AsyncTestClient(create_app(make_settings())) as client:
        await client.post("/documents", json={"documents": [doc]})
        body = {"query": "Are streamed answers cached?"}
        first = parse_sse((await client.post("/query/stream", json=body)).text)
        second = parse_sse((await client.post("/query/stream", json=body)).text)
    first_text = "".join(d["text"] for n, d in first if n == "token")
    second_tokens = [d["text"] for n, d in second if n == "token"]
    assert second[-1][1]["cached"] is True
    assert second_tokens == [first_text.strip()]


async def test_a_bad_filter_is_a_400_before_the_stream_starts(
    corpus_client: AsyncTestClient[Any],
) -> None:
    response = await corpus_client.post(
        "/query/stream", json={"query": "x", "context_filter": {"nope": 1}}
    )
    assert response.status_code == 400
    assert "unknown field 'nope'" in response.json()["detail"]
