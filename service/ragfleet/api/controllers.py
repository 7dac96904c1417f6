"""Route handlers: thin, they translate HTTP to service calls and back."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import unquote

import msgspec
from litestar import Controller, Request, Response, delete, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException, ValidationException
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import JSONBody, Parameter
from litestar.status_codes import HTTP_200_OK, HTTP_503_SERVICE_UNAVAILABLE

from ragfleet.api.guards import requires_scope
from ragfleet.api.openapi import NO_KEY, error_responses, json_route_responses
from ragfleet.api.presenters import query_log_fields, query_response
from ragfleet.api.request_context import request_id_of
from ragfleet.api.schemas import (
    DOCUMENT_ID_MAX_CHARS,
    DOCUMENT_ID_PATTERN,
    CheckResult,
    DeleteResponse,
    DocumentId,
    IngestRequest,
    IngestResponse,
    QueryRequest,
    QueryResponse,
    ReadinessResponse,
)
from ragfleet.system.wiring import Services


class QueryController(Controller):
    """Questions over the corpus."""

    path = "/query"
    tags = ["query"]

    @post(
        "/",
        guards=[requires_scope("query", json_body=True)],
        status_code=HTTP_200_OK,
        summary="Answer a question from the corpus",
        responses=json_route_responses(503, 504),
    )
    async def query(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[QueryRequest],
        services: NamedDependency[Services],
    ) -> QueryResponse:
        """Retrieve passages, generate an answer that cites them, and time each stage."""
        answer = await services.queries.answer(data.query, data.context_filter, data.max_results)
        request.scope["state"]["log_extra"] = query_log_fields(
            data.query, answer, services.settings.logging.log_query_text
        )
        return query_response(answer, request_id_of(request.scope))


class DocumentController(Controller):
    """Adding and removing documents."""

    path = "/documents"
    tags = ["documents"]

    @post(
        "/",
        guards=[requires_scope("ingest", json_body=True)],
        status_code=HTTP_200_OK,
        summary="Ingest documents",
        responses=json_route_responses(503),
    )
    async def ingest(
        self, data: JSONBody[IngestRequest], services: NamedDependency[Services]
    ) -> IngestResponse:
        """Chunk, embed and store each document; an unchanged document is skipped."""
        report = await services.ingestion.ingest(data.documents)
        return IngestResponse(
            ingested=report.ingested,
            unchanged=report.unchanged,
            chunks=report.chunks,
            corpus_version=report.corpus_version,
        )

    @delete(
        "/{doc_id:path}",
        guards=[requires_scope("ingest")],
        status_code=HTTP_200_OK,
        summary="Delete a document",
        responses=error_responses(400, 404, 503),
    )
    async def remove(
        self,
        doc_id: Annotated[
            str,
            Parameter(
                description="The document id, as given to POST /documents.",
                # Documented, not validated here: the routed value of a path parameter starts
                # with "/", so the id is read from the raw path and checked below.
                schema_extra={
                    "min_length": 1,
                    "max_length": DOCUMENT_ID_MAX_CHARS,
                    "pattern": DOCUMENT_ID_PATTERN,
                },
            ),
        ],
        request: Request[Any, Any, Any],
        services: NamedDependency[Services],
    ) -> DeleteResponse:
        """Remove every chunk of the document; later answers no longer use it. An id that begins
        with ``/`` is addressed as ``/documents//ID`` or ``/documents/%2FID``."""
        document = _document_id(request, doc_id)
        try:
            msgspec.convert(document, DocumentId)
        except msgspec.ValidationError as exc:
            raise ValidationException(
                f"document id {document!r} is not valid: {exc}; ids are 1-256 characters"
                " without control characters, as in POST /documents"
            ) from None
        version = await services.ingestion.delete(document)
        if version is None:
            raise NotFoundException(f"no document with id {document!r}")
        return DeleteResponse(deleted=document, corpus_version=version)


def _document_id(request: Request[Any, Any, Any], doc_id: str) -> str:
    """The id as the client wrote it, taken from the raw path: Litestar merges repeated slashes
    in the routed one, which would make ``/a`` and ``a`` the same id."""
    raw = request.scope.get("raw_path") or b""
    prefix = DocumentController.path + "/"
    text = raw.decode("ascii", "replace")
    if text.startswith(prefix):
        return unquote(text[len(prefix) :])
    return doc_id.removeprefix("/")


class HealthController(Controller):
    """Probes for load balancers and orchestrators; open without authentication."""

    tags = ["health"]

    @get("/healthz", summary="Liveness: the process answers", security=NO_KEY)
    async def healthz(self) -> dict[str, str]:
        """Always 200 while the event loop runs; checks no dependency."""
        return {"status": "ok"}

    @get(
        "/readyz",
        summary="Readiness: every dependency answers",
        security=NO_KEY,
        responses={
            HTTP_503_SERVICE_UNAVAILABLE: ResponseSpec(
                data_container=ReadinessResponse, description="A dependency does not answer."
            )
        },
    )
    async def readyz(self, services: NamedDependency[Services]) -> Response[ReadinessResponse]:
        """200 when every dependency answers, 503 naming those that do not."""
        checks = await services.readiness.check()
        ready = services.readiness.is_ready(checks)
        body = ReadinessResponse(
            status="ready" if ready else "not_ready",
            checks={name: CheckResult(c.status, c.detail) for name, c in checks.items()},
        )
        return Response(body, status_code=HTTP_200_OK if ready else HTTP_503_SERVICE_UNAVAILABLE)
