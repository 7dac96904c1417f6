"""Split a document into overlapping chunks that keep paragraphs and sentences whole.

Retrieval quality depends on chunks that read on their own: splits fall on paragraph breaks first,
then sentence ends, then spaces, and only as a last resort inside a word. Consecutive chunks share
about ``overlap`` characters so a fact straddling a boundary is found from either side.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_SEPARATORS = ("\n\n", "\n", ". ", "? ", "! ", "; ", ", ", " ")
_BLANK_RUNS = re.compile(r"\n{3,}")


@dataclass(frozen=True, slots=True)
class Chunk:
    """One piece of a document, numbered from 0 in reading order."""

    index: int
    text: str


def chunk_text(text: str, size: int, overlap: int) -> list[Chunk]:
    """Split ``text`` into chunks of at most ``size`` characters overlapping by ~``overlap``."""
    if size <= 0 or overlap < 0 or overlap >= size:
        raise ValueError("chunk size must be positive and overlap smaller than size")
    normalised = _BLANK_RUNS.sub("\n\n", text.replace("\r\n", "\n")).strip()
    if not normalised:
        return []
    pieces = _split(normalised, size, _SEPARATORS)
    chunks: list[str] = []
    current = ""
    for piece in pieces:
        if current and len(current) + len(piece) > size:
            chunks.append(current.strip())
            current = _tail(current, overlap)
        current += piece
    if current.strip():
        chunks.append(current.strip())
    return [Chunk(index=i, text=t) for i, t in enumerate(chunks) if t]


def _split(text: str, size: int, separators: tuple[str, ...]) -> list[str]:
    """Break text into pieces no longer than ``size``, cutting at the coarsest separator first.

    A piece still too long is split again with the finer separators only, so every level of
    recursion makes progress.
    """
    if len(text) <= size:
        return [text]
    for position, separator in enumerate(separators):
        if separator in text:
            finer = separators[position + 1 :]
            parts = text.split(separator)
            pieces: list[str] = []
            for i, part in enumerate(parts):
                piece = part + (separator if i < len(parts) - 1 else "")
                pieces.extend(_split(piece, size, finer) if len(piece) > size else [piece])
            return pieces
    return [text[i : i + size] for i in range(0, len(text), size)]


def _tail(text: str, overlap: int) -> str:
    """The last ~``overlap`` characters of ``text``, starting at a word boundary."""
    if overlap == 0:
        return ""
    tail = text[-overlap:]
    space = tail.find(" ")
    return tail[space + 1 :] if 0 <= space < len(tail) - 1 else tail
