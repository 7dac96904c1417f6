"""The prompt: numbered passages, then the question, with the instruction to cite by number.

``PROMPT_VERSION`` changes whenever the wording changes, so cached answers made with an older
prompt are never served for the new one.
"""

from __future__ import annotations

from collections.abc import Sequence

from ragfleet.adapters.llm import ChatMessage
from ragfleet.adapters.vector_store import SearchHit

PROMPT_VERSION = "2026-11-25.1"

SYSTEM_PROMPT = (
    "You answer questions using only the numbered passages you are given. "
    "Cite the passages you used by their number in square brackets, like [1]. "
    "If the passages do not contain the answer, say that you do not know."
)

NO_CONTEXT_ANSWER = (
    "I found no passages in the corpus that match this question"
    " (and the context filter, if one was given), so I cannot answer it."
)


def select_passages(hits: Sequence[SearchHit], budget_chars: int) -> list[SearchHit]:
    """Keep the best hits whose text fits the context budget (always at least the first)."""
    selected: list[SearchHit] = []
    used = 0
    for hit in hits:
        if selected and used + len(hit.text) > budget_chars:
            break
        selected.append(hit)
        used += len(hit.text)
    return selected


def build_messages(
    question: str, passages: Sequence[SearchHit], budget_chars: int
) -> list[ChatMessage]:
    """Chat messages asking ``question`` over ``passages`` numbered from 1."""
    blocks = []
    for number, hit in enumerate(passages, start=1):
        text = hit.text if len(hit.text) <= budget_chars else hit.text[:budget_chars]
        blocks.append(f"[{number}] (source: {hit.source})\n{text}")
    user = "Passages:\n\n" + "\n\n".join(blocks) + f"\n\nQuestion: {question}\nAnswer:"
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": user},
    ]
