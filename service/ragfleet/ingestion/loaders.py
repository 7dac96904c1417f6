"""Read .md, .txt and .html files into plain text documents for ingestion."""

from __future__ import annotations

import html
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

SUPPORTED_SUFFIXES = frozenset({".md", ".markdown", ".txt", ".html", ".htm"})


class UnsupportedFileError(ValueError):
    """A file type ragfleet cannot read."""


@dataclass(frozen=True, slots=True)
class LoadedDocument:
    """A document read from disk, ready for :class:`ragfleet.ingestion.service.IngestionService`."""

    id: str
    text: str
    source: str
    metadata: dict[str, Any] = field(default_factory=dict)


class _TextExtractor(HTMLParser):
    """Collects visible text, dropping scripts and styles, keeping block breaks."""

    _SKIP = frozenset({"script", "style", "noscript", "template"})
    _BLOCK = frozenset({"p", "div", "br", "li", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "pre"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.title = ""
        self._skipping = 0
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self._skipping += 1
        elif tag == "title":
            self._in_title = True
        elif tag in self._BLOCK:
            self.parts.append("\n\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP and self._skipping:
            self._skipping -= 1
        elif tag == "title":
            self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
        elif not self._skipping:
            self.parts.append(data)


def html_to_text(markup: str) -> tuple[str, str]:
    """Return (title, visible text) of an HTML page."""
    parser = _TextExtractor()
    parser.feed(markup)
    parser.close()
    text = "".join(parser.parts)
    lines = [" ".join(line.split()) for line in text.split("\n")]
    return html.unescape(parser.title.strip()), "\n".join(lines).strip()


def load_file(path: Path, root: Path | None = None) -> LoadedDocument:
    """Read one file; its id is the path relative to ``root`` (stable across machines)."""
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise UnsupportedFileError(f"{path}: unsupported file type {suffix or '(none)'}")
    raw = path.read_text(encoding="utf-8", errors="replace")
    relative = path.relative_to(root) if root and path.is_relative_to(root) else path
    doc_id = relative.as_posix()
    metadata: dict[str, Any] = {"category": suffix.lstrip(".")}
    if suffix in {".html", ".htm"}:
        title, text = html_to_text(raw)
        if title:
            metadata["title"] = title
    else:
        text = raw
    return LoadedDocument(id=doc_id, text=text, source=doc_id, metadata=metadata)


def iter_files(paths: Iterable[Path]) -> Iterator[Path]:
    """Expand directories into the supported files under them, in a stable order."""
    for path in paths:
        if path.is_dir():
            yield from sorted(
                p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in SUPPORTED_SUFFIXES
            )
        elif path.is_file():
            yield path
        else:
            raise FileNotFoundError(f"{path}: no such file or directory")
