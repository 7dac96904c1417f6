"""The prompt numbers passages from 1 and stays within the context budget."""

from __future__ import annotations

from ragfleet.adapters.vector_store import SearchHit
from ragfleet.query.prompting import build_messages, select_passages


def _hit(n: int, text: str) -> SearchHit:
    return SearchHit(doc_id=f"d{n}", chunk_index=0, text=text, source=f"s{n}", score=1.0 - n / 10)


def test_passages_are_numbered_from_one_with_their_sources() -> None:
    messages = build_messages("Why?", [_hit(1, "alpha"), _hit(2, "beta")], budget_chars=1000)
    user = messages[1]["content"]
    assert "[1] (source: s1)\nalpha" in user
    assert "[2] (source: s2)\nbeta" in user
    assert user.rstrip().endswith("Question: Why?\nAnswer:")
    assert "Cite" in messages[0]["content"]


def test_selection_stops_at_the_budget_but_keeps_the_best_hit() -> None:
    hits = [_hit(1, "x" * 900), _hit(2, "y" * 200), _hit(3, "z" * 10)]
    assert [h.doc_id for h in select_passages(hits, budget_chars=1000)] == ["d1"]
    assert [h.doc_id for h in select_passages(hits, budget_chars=100)] == ["d1"]
    assert len(select_passages(hits, budget_chars=2000)) == 3
