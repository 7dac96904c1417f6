"""Every error the service answers a request with, as one tree; ``api.errors`` maps it to HTTP.

- :class:`ClientError`: the request is wrong; 400 with a message saying what to change.
- :class:`DependencyUnavailableError`: a server the service needs is down; 503 with Retry-After.
- :class:`DependencyTimeoutError`: it answered too slowly; 504.

Anything outside the tree is a bug: 500, logged with its traceback and the request id.
"""

from __future__ import annotations


class RagfleetError(Exception):
    """Base of the errors a request can end with; ``kind`` labels ``ragfleet_errors_total``."""

    kind = "internal"


class ClientError(RagfleetError, ValueError):
    """The request cannot be served as sent; the message tells the caller what to change."""

    kind = "invalid_request"


class FilterError(ClientError):
    """A ``context_filter`` names an unknown field, operator or a value of the wrong type."""

    kind = "invalid_filter"


class DocumentError(ClientError):
    """A document cannot be ingested as sent (id, metadata, size)."""

    kind = "invalid_document"


class DependencyUnavailableError(RagfleetError):
    """A server the service depends on could not be reached or failed."""

    dependency = "a dependency"


class VectorStoreUnavailableError(DependencyUnavailableError):
    """Milvus could not be reached or answered with an error."""

    kind = "vector_store_unavailable"
    dependency = "vector store"


class DocumentLockUnavailableError(DependencyUnavailableError):
    """Another writer of the same document held its lock for longer than a write takes."""

    kind = "document_lock_unavailable"
    dependency = "document lock"


class LLMUnavailableError(DependencyUnavailableError):
    """The generation server is down, refused, or answered with a server error."""

    kind = "llm_unavailable"
    dependency = "LLM server"


class DependencyTimeoutError(RagfleetError, TimeoutError):
    """A server the service depends on did not answer in time."""

    dependency = "a dependency"


class LLMTimeoutError(DependencyTimeoutError):
    """The generation server did not answer within the configured timeout."""

    kind = "llm_timeout"
    dependency = "LLM server"
