"""Loaders read markdown, text and HTML into documents with stable ids."""

from __future__ import annotations

from pathlib import Path

import pytest

from ragfleet.ingestion.loaders import UnsupportedFileError, html_to_text, iter_files, load_file


def test_html_keeps_visible_text_and_title_and_drops_scripts() -> None:
    title, text = html_to_text(
        "<html><head><title>Gate &amp; way</title><style>p{}</style></head>"
        "<body><p>HAProxy  balances</p><script>alert(1)</script><p>with leastconn</p></body></html>"
    )
    assert title == "Gate & way"
    assert "HAProxy balances" in text
    assert "with leastconn" in text
    assert "alert" not in text


def test_document_id_is_the_path_relative_to_the_root(tmp_path: Path) -> None:
    (tmp_path / "guides").mkdir()
    path = tmp_path / "guides" / "intro.md"
    path.write_text("# Intro\n\nHello")
    document = load_file(path, tmp_path)
    assert document.id == "guides/intro.md"
    assert document.source == "guides/intro.md"
    assert document.metadata == {"category": "md"}


def test_unsupported_files_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "image.png"
    path.write_bytes(b"\x89PNG")
    with pytest.raises(UnsupportedFileError, match=r"unsupported file type \.png"):
        load_file(path, tmp_path)


def test_directories_expand_to_supported_files_in_sorted_order(tmp_path: Path) -> None:
    for name in ("b.md", "a.txt", "c.html", "skip.pdf"):
        (tmp_path / name).write_text("x")
    assert [p.name for p in iter_files([tmp_path])] == ["a.txt", "b.md", "c.html"]


def test_a_missing_path_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no such file"):
        list(iter_files([tmp_path / "nope"]))
