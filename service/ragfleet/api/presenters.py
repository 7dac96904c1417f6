"""Answers into response bodies: shared by /query, /query/stream and the OpenAI endpoint."""

from __future__ import annotations

from datetime import UTC, datetime

from ragfleet.api.schemas import Citation, QueryResponse
from ragfleet.domain import Answer, StageTimings


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


def timings_of(answer: Answer) -> StageTimings:
    """Stage timings rounded to microseconds (zeros for a cached answer)."""
    if answer.cached:
        return StageTimings()
    return StageTimings(
        embed=round(answer.timings.embed, 6),
        search=round(answer.timings.search, 6),
        generate=round(answer.timings.generate, 6),
    )


def query_response(answer: Answer, request_id: str) -> QueryResponse:
    """The body of ``POST /query``, from the Litestar handler and the cache-hit path alike."""
    return QueryResponse(
        answer=answer.text,
        sources=sources_of(answer),
        processing_time=round(answer.elapsed_s, 6),
        timestamp=datetime.now(UTC).isoformat(),
        citations=citations_of(answer),
        timings=timings_of(answer),
        model=answer.model,
        request_id=request_id,
        cached=answer.cached,
    )


def query_log_fields(question: str, answer: Answer, log_query_text: bool) -> dict[str, object]:
    """What the access-log line of a ``POST /query`` adds about the question and its answer."""
    fields: dict[str, object] = {
        "query_chars": len(question),
        "passages": len(answer.passages),
        "cache": "hit" if answer.cached else "miss",
    }
    if log_query_text:
        fields["query"] = question
    return fields
