"""The baseline for bench/cache_hit_ratio.py: a bare Litestar JSON POST endpoint.

Same framework, same server settings, same request body as a ragfleet /query, but no middleware,
no validation beyond the struct, no cache and no metrics: the ceiling ragfleet is compared with.
"""

from __future__ import annotations

import msgspec
from litestar import Litestar, post


class Body(msgspec.Struct):
    query: str
    max_results: int = 5


class Reply(msgspec.Struct):
    answer: str
    sources: list[str]


@post("/query", status_code=200)
async def query(data: Body) -> Reply:
    return Reply(answer=data.query, sources=["bare"])


def create_app() -> Litestar:
    return Litestar(route_handlers=[query], logging_config=None)
