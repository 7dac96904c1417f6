"""Chunking keeps paragraphs whole where it can, bounds chunk size, and overlaps neighbours."""

from __future__ import annotations

import itertools

import pytest

from ragfleet.ingestion.chunking import chunk_text


def test_short_text_is_one_chunk() -> None:
    chunks = chunk_text("A short note.", size=200, overlap=20)
    assert [c.text for c in chunks] == ["A short note."]


def test_blank_text_has_no_chunks() -> None:
    assert chunk_text(" \n\n \t", size=200, overlap=20) == []


def test_no_chunk_exceeds_the_size_plus_overlap() -> None:
    text = " ".join(f"word{i}" for i in range(2000))
    chunks = chunk_text(text, size=300, overlap=50)
    assert len(chunks) > 5
    assert all(len(c.text) <= 350 for c in chunks)


def test_chunks_are_numbered_in_reading_order() -> None:
    text = "\n\n".join(f"Paragraph {i}. " + "filler " * 30 for i in range(10))
    chunks = chunk_text(text, size=400, overlap=40)
    assert [c.index for c in chunks] == list(range(len(chunks)))
    assert chunks[0].text.startswith("Paragraph 0.")


def test_paragraphs_that_fit_are_not_split() -> None:
    first, second = "First paragraph " * 10, "Second paragraph " * 10
    chunks = chunk_text(f"{first}\n\n{second}", size=200, overlap=0)
    assert [c.text for c in chunks] == [first.strip(), second.strip()]


def test_consecutive_chunks_share_the_overlap() -> None:
    text = " ".join(f"token{i}" for i in range(400))
    chunks = chunk_text(text, size=200, overlap=60)
    for before, after in itertools.pairwise(chunks):
        assert after.text.split()[0] in before.text


def test_every_word_survives_chunking() -> None:
    words = [f"w{i}" for i in range(1000)]
    chunks = chunk_text(" ".join(words), size=150, overlap=30)
    seen = {w for c in chunks for w in c.text.split()}
    assert seen == set(words)


def test_a_paragraph_exactly_the_chunk_size_before_a_break_is_split_cleanly() -> None:
    # Regression: "part + separator" one character over the size used to recurse forever.
    chunks = chunk_text("a" * 100 + "\n\n" + "b" * 100, size=100, overlap=10)
    assert chunks[0].text == "a" * 100
    assert chunks[-1].text.endswith("b" * 100)


@pytest.mark.parametrize(("size", "overlap"), [(0, 0), (100, 100), (100, -1)])
def test_invalid_sizes_are_refused(size: int, overlap: int) -> None:
    with pytest.raises(ValueError, match="chunk size"):
        chunk_text("text", size=size, overlap=overlap)
