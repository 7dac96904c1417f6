"""The values every layer shares: what a search finds, what an answer holds, what may be filtered.

They sit at the bottom of the package (adapters, cache, query and api all import them; they import
nothing of ragfleet) and are msgspec structs, so the cache and the API encode them directly.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

import msgspec

# The document attributes a query may filter on, with their types: typed columns in the vector
# store, checked by the filter translator.
FILTERABLE_FIELDS: Final[Mapping[str, type]] = {
    "doc_id": str,
    "source": str,
    "category": str,
    "lang": str,
    "year": int,
}


class SearchHit(msgspec.Struct, frozen=True, array_like=True):
    """A chunk found by similarity search; ``score`` is cosine similarity (higher is closer)."""

    doc_id: str
    chunk_index: int
    text: str
    source: str
    score: float


class StageTimings(msgspec.Struct, frozen=True):
    """Seconds spent in each stage of one answer."""

    embed: float = 0.0
    search: float = 0.0
    generate: float = 0.0


class Answer(msgspec.Struct, frozen=True):
    """An answer with the passages it was generated from, in citation order.

    ``timings`` are those of the generation; ``elapsed_s`` is what this request took to produce
    it (a cache hit's own lookup time), and ``cached`` says whether it came from the cache.
    """

    text: str
    passages: list[SearchHit]
    model: str
    timings: StageTimings
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached: bool = False
    elapsed_s: float = 0.0


class TokenDelta(msgspec.Struct, frozen=True):
    """A piece of generated text as it arrives."""

    text: str
