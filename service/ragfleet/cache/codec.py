"""Cached answers as JSON (msgspec), never pickle: reading a cache must not run code."""

from __future__ import annotations

import msgspec

from ragfleet.adapters.vector_store import SearchHit
from ragfleet.query.models import Answer, StageTimings


class _Passage(msgspec.Struct, array_like=True):
    doc_id: str
    chunk_index: int
    text: str
    source: str
    score: float


class CachedAnswer(msgspec.Struct):
    """What is stored per cache key; timings are those of the request that generated it."""

    text: str
    model: str
    passages: list[_Passage]
    embed_s: float
    search_s: float
    generate_s: float
    prompt_tokens: int = 0
    completion_tokens: int = 0


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(CachedAnswer)


def encode_answer(answer: Answer) -> bytes:
    """Serialise an answer for the cache."""
    return _encoder.encode(
        CachedAnswer(
            text=answer.text,
            model=answer.model,
            passages=[
                _Passage(h.doc_id, h.chunk_index, h.text, h.source, h.score)
                for h in answer.passages
            ],
            embed_s=answer.timings.embed,
            search_s=answer.timings.search,
            generate_s=answer.timings.generate,
            prompt_tokens=answer.prompt_tokens,
            completion_tokens=answer.completion_tokens,
        )
    )


def decode_answer(raw: bytes) -> Answer:
    """Rebuild an answer from cache bytes; raises msgspec.DecodeError on foreign data."""
    cached = _decoder.decode(raw)
    return Answer(
        text=cached.text,
        passages=[
            SearchHit(p.doc_id, p.chunk_index, p.text, p.source, p.score) for p in cached.passages
        ],
        model=cached.model,
        timings=StageTimings(cached.embed_s, cached.search_s, cached.generate_s),
        prompt_tokens=cached.prompt_tokens,
        completion_tokens=cached.completion_tokens,
        cached=True,
    )
