"""Value objects of the query path, shared by the service, the cache codec and the API."""

from __future__ import annotations

from dataclasses import dataclass

from ragfleet.adapters.vector_store import SearchHit


@dataclass(frozen=True, slots=True)
class StageTimings:
    """Seconds spent in each stage of one answer."""

    embed: float = 0.0
    search: float = 0.0
    generate: float = 0.0


@dataclass(frozen=True, slots=True)
class Answer:
    """An answer with the passages it was generated from, in citation order."""

    text: str
    passages: list[SearchHit]
    model: str
    timings: StageTimings
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached: bool = False
