"""Cached answers as JSON (msgspec), never pickle: reading a cache must not run code."""

from __future__ import annotations

import msgspec

from ragfleet.domain import Answer

_encode = msgspec.json.Encoder().encode
_decoder = msgspec.json.Decoder(Answer)


def encode_answer(answer: Answer) -> bytes:
    """Serialise an answer for the cache; timings are those of the request that generated it."""
    return _encode(answer)


def decode_answer(raw: bytes) -> Answer:
    """Rebuild an answer from cache bytes; raises msgspec.DecodeError on foreign data."""
    return msgspec.structs.replace(_decoder.decode(raw), cached=True)
