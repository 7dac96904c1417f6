"""Answers into response bodies: shared by /query, /query/stream and the OpenAI endpoint."""

from __future__ import annotations

from ragfleet.api.schemas import Citation, StageTimingsBody
from ragfleet.query.models import Answer


def sources_of(answer: Answer) -> list[str]:
    """Distinct sources in citation order."""
    return list(dict.fromkeys(hit.source for hit in answer.passages))


def citations_of(answer: Answer) -> list[Citation]:
    """One citation per passage, numbered as in the prompt."""
    return [
        Citation(
            number=i,
            doc_id=hit.doc_id,
            chunk=hit.chunk_index,
            source=hit.source,
            score=round(hit.score, 6),
        )
        for i, hit in enumerate(answer.passages, start=1)
    ]


def timings_of(answer: Answer) -> StageTimingsBody:
    """Stage timings rounded to microseconds (zeros for a cached answer)."""
    if answer.cached:
        return StageTimingsBody(embed=0.0, search=0.0, generate=0.0)
    return StageTimingsBody(
        embed=round(answer.timings.embed, 6),
        search=round(answer.timings.search, 6),
        generate=round(answer.timings.generate, 6),
    )
