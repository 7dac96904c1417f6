"""Where the chunks live: generations of the chunk collection behind one alias.

The chunk collection is created as ``<milvus_collection>_<n>`` (n = 1, 2, ...) with the alias
``<milvus_collection>`` pointing at it; the service reads and writes through the alias only.
``ragfleet reindex`` builds generation n+1 beside the live one and moves the alias to it in one
call, so searches never see a half-built index. A database made before this layout has a real
collection named ``<milvus_collection>``; the service keeps using it, and the first reindex
replaces it by a generation (it drops the old collection, then creates the alias: searches fail
in between, see docs/operations.md).

These are plain functions of a pymilvus client, run inside
:meth:`ragfleet.adapters.milvus_connection.MilvusConnection.call`.
"""

from __future__ import annotations

import re
from typing import Any

from ragfleet.adapters.milvus_connection import create_empty_collection
from ragfleet.domain import FILTERABLE_FIELDS

TEXT_MAX = 8192


def generation_name(alias: str, number: int) -> str:
    """The collection name of generation ``number`` of the chunk collection ``alias``."""
    return f"{alias}_{number}"


def generation_numbers(client: Any, alias: str, timeout: float) -> list[int]:
    """The generation numbers of ``alias`` that exist as collections, aliased or not."""
    pattern = re.compile(re.escape(alias) + r"_(\d+)")
    found = (pattern.fullmatch(name) for name in client.list_collections(timeout=timeout))
    return sorted(int(match.group(1)) for match in found if match)


def target_of(client: Any, alias: str, timeout: float) -> str | None:
    """The collection ``alias`` names: the generation it points at, ``alias`` itself for a
    database made before generations (a real collection of that name), None when neither."""
    if not client.has_collection(alias, timeout=timeout):
        return None
    return str(client.describe_collection(alias, timeout=timeout)["collection_name"])


def create_chunk_collection(client: Any, name: str, dim: int, timeout: float) -> None:
    """An empty chunk collection with its indexes (loaded by the caller)."""
    from pymilvus import DataType, MilvusClient

    schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("pk", DataType.VARCHAR, is_primary=True, max_length=600)
    schema.add_field("doc_id", DataType.VARCHAR, max_length=512)
    schema.add_field("chunk_index", DataType.INT64)
    schema.add_field("source", DataType.VARCHAR, max_length=1024)
    schema.add_field("category", DataType.VARCHAR, max_length=128)
    schema.add_field("lang", DataType.VARCHAR, max_length=16)
    schema.add_field("year", DataType.INT64)
    schema.add_field("content_hash", DataType.VARCHAR, max_length=64)
    schema.add_field("text", DataType.VARCHAR, max_length=TEXT_MAX)
    schema.add_field("metadata", DataType.JSON)
    schema.add_field("embedding", DataType.FLOAT_VECTOR, dim=dim)
    index = client.prepare_index_params()
    index.add_index("embedding", index_type="FLAT", metric_type="COSINE")
    for field in FILTERABLE_FIELDS:
        index.add_index(field, index_type="INVERTED")
    create_empty_collection(client, name, schema, index, timeout)


def ensure_chunk_alias(client: Any, alias: str, dim: int, timeout: float) -> None:
    """Create generation 1 and the alias on a fresh database; leave any existing layout alone.

    Workers starting together on a fresh database may race: whoever creates the alias second
    finds it made and uses it.
    """
    if client.has_collection(alias, timeout=timeout):
        return
    first = generation_name(alias, 1)
    try:
        if not client.has_collection(first, timeout=timeout):
            create_chunk_collection(client, first, dim, timeout)
        client.create_alias(first, alias, timeout=timeout)
    except Exception:
        if not client.has_collection(alias, timeout=timeout):
            raise


def point_alias(client: Any, alias: str, target: str, timeout: float) -> None:
    """Make ``alias`` name ``target`` in one call; a real collection named ``alias`` (a database
    made before generations) is dropped first, the one moment searches find nothing."""
    current = target_of(client, alias, timeout)
    if current is None:
        client.create_alias(target, alias, timeout=timeout)
    elif current == alias:
        client.drop_collection(alias, timeout=timeout)
        client.create_alias(target, alias, timeout=timeout)
    else:
        client.alter_alias(target, alias, timeout=timeout)
