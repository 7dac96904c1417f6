"""Cache keys: everything that decides an answer, hashed with sha256.

The corpus version is not hashed into the fingerprint but appended to it
(``<prefix>answer:<corpus_version>:<fingerprint>``): Redis then reads the current version and the
answer in one atomic round trip (a Lua script), and any ingest or delete makes every older answer
unreachable at once, exactly as hashing it in would.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from functools import partial
from typing import Any

import msgspec

# Canonical JSON: dict keys sorted at every level, so equal filters give equal keys.
_encode = partial(msgspec.json.encode, order="sorted")


def normalise_query(query: str) -> str:
    """Case and whitespace do not change what is asked."""
    return " ".join(query.split()).casefold()


def fingerprint(
    query: str,
    context_filter: Mapping[str, Any] | None,
    max_results: int,
    model: str,
    prompt_version: str,
) -> str:
    """sha256 over the normalised query, filter, max_results, model and prompt version."""
    payload = _encode(
        [normalise_query(query), context_filter or {}, max_results, model, prompt_version]
    )
    return hashlib.sha256(payload).hexdigest()
