"""``GET /metrics/llm``: the LLM server's Prometheus metrics, relayed from loopback.

trtllm-serve has no authentication, so on a GPU host it listens on loopback only. Prometheus reads
its metrics here instead, behind the same address allow-list as ``/metrics``.
"""

from __future__ import annotations

from typing import Any

import httpx
from litestar import Controller, Response, get
from litestar.exceptions import ServiceUnavailableException

# A scrape has its own timeout (Prometheus' scrape_timeout, 10 s by default): stay under it.
RELAY_TIMEOUT_S = 5.0
PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"


def llm_metrics_controller(url: str, guard: Any) -> type[Controller]:
    """A controller relaying ``url`` at ``/metrics/llm`` to callers ``guard`` admits."""

    class LLMMetricsController(Controller):
        path = "/metrics/llm"
        guards = [guard]
        include_in_schema = False

        @get("/")
        async def relay(self) -> Response[bytes]:
            """The LLM server's metrics as it serves them; 503 when it cannot be read."""
            try:
                async with httpx.AsyncClient(timeout=RELAY_TIMEOUT_S) as client:
                    upstream = await client.get(url)
            except httpx.HTTPError as exc:
                raise ServiceUnavailableException(
                    f"the LLM server's metrics could not be read ({type(exc).__name__})"
                ) from None
            if upstream.status_code != 200:
                raise ServiceUnavailableException(
                    f"the LLM server's metrics answered {upstream.status_code}"
                )
            media_type = upstream.headers.get("content-type", PROMETHEUS_TEXT)
            return Response(upstream.content, media_type=media_type)

    return LLMMetricsController
