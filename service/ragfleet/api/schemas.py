"""Request and response bodies. msgspec validates them and Litestar documents them at /schema."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from msgspec import Meta

from ragfleet.domain import StageTimings
from ragfleet.query.filters import filter_json_schema

MAX_QUERY_CHARS = 2000
MAX_RESULTS_LIMIT = 20
MAX_DOCUMENTS_PER_REQUEST = 256
MAX_DOCUMENT_CHARS = 2_000_000

QueryText = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=MAX_QUERY_CHARS,
        description=f"The question, 1 to {MAX_QUERY_CHARS} characters, not only whitespace.",
        examples=["How does ragfleet cache answers?"],
    ),
]
MaxResults = Annotated[
    int,
    Meta(ge=1, le=MAX_RESULTS_LIMIT, description="How many passages to retrieve (1 to 20)."),
]
DOCUMENT_ID_MAX_CHARS = 256
DOCUMENT_ID_PATTERN = r"^[^\x00-\x1f\x7f]+$"
DocumentId = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=DOCUMENT_ID_MAX_CHARS,
        pattern=DOCUMENT_ID_PATTERN,
        description="Stable id; ingesting the same id again replaces the document.",
    ),
]


class QueryRequest(msgspec.Struct, forbid_unknown_fields=True):
    """A question, optionally restricted to passages whose attributes match ``context_filter``."""

    query: QueryText
    context_filter: (
        Annotated[
            dict[str, Any],
            Meta(
                description=(
                    "Attribute filter, ANDed: {field: value} for equality, {field: {op: value}} "
                    "with op in eq, ne, in, gt, gte, lt, lte. Fields: doc_id, source, category, "
                    "lang (strings) and year (integer; the only field with range operators)."
                ),
                examples=[{"category": "md"}, {"year": {"gte": 2024}}],
                # Litestar documents a union's members without their constraints: the whole
                # schema is given instead, from the module that enforces it.
                extra_json_schema={"extra": {"one_of": [filter_json_schema(), {"type": "null"}]}},
            ),
        ]
        | None
    ) = None
    max_results: MaxResults = 5

    def __post_init__(self) -> None:
        if not self.query.strip():
            raise ValueError("query must contain more than whitespace")


class Citation(msgspec.Struct):
    """A passage the answer was generated from; ``number`` is its [n] in the prompt."""

    number: int
    doc_id: str
    chunk: int
    source: str
    score: float


class QueryResponse(msgspec.Struct):
    """The chapter's contract (answer, sources, processing_time, timestamp) plus citations."""

    answer: str
    sources: list[str]
    processing_time: float
    timestamp: str
    citations: list[Citation]
    timings: StageTimings
    model: str
    request_id: str
    cached: bool = False


class DocumentIn(msgspec.Struct, forbid_unknown_fields=True):
    """A document to index; ``metadata.category``, ``lang`` and ``year`` are filterable."""

    id: DocumentId
    text: Annotated[str, Meta(min_length=1, max_length=MAX_DOCUMENT_CHARS)]
    source: Annotated[str, Meta(max_length=1024)] = ""
    metadata: dict[str, Any] = msgspec.field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.text.strip():
            raise ValueError(f"document {self.id!r}: text must contain more than whitespace")


class IngestRequest(msgspec.Struct, forbid_unknown_fields=True):
    """A batch of documents."""

    documents: Annotated[list[DocumentIn], Meta(min_length=1, max_length=MAX_DOCUMENTS_PER_REQUEST)]


class IngestResponse(msgspec.Struct):
    """What the batch changed and the corpus version after it."""

    ingested: int
    unchanged: int
    chunks: int
    corpus_version: int


class DeleteResponse(msgspec.Struct):
    """The deleted id and the corpus version after the delete."""

    deleted: str
    corpus_version: int


class CheckResult(msgspec.Struct):
    """One dependency's state as seen by /readyz."""

    status: str
    detail: str = ""


class ReadinessResponse(msgspec.Struct):
    """Overall readiness and each dependency's state."""

    status: str
    checks: dict[str, CheckResult]


class ErrorBody(msgspec.Struct):
    """Every error response: what went wrong, what to do, and the id to quote to operators."""

    status_code: int
    detail: str
    request_id: str
    extra: list[dict[str, Any]] | None = None
