"""Cache keys change with everything that changes an answer, and only with that."""

from __future__ import annotations

from ragfleet.cache.keys import fingerprint, normalise_query

BASE = ("How are answers cached?", {"category": "md"}, 5, "smollm2", "v1")


def test_case_and_whitespace_do_not_change_the_question() -> None:
    assert normalise_query("  How ARE\tanswers \n cached? ") == "how are answers cached?"
    assert fingerprint(*BASE) == fingerprint("how are  answers cached?", *BASE[1:])


def test_the_key_is_a_sha256_hex_digest() -> None:
    key = fingerprint(*BASE)
    assert len(key) == 64
    assert int(key, 16) >= 0


def test_each_input_changes_the_key() -> None:
    variants = [
        ("What is cached?", *BASE[1:]),
        (BASE[0], {"category": "txt"}, *BASE[2:]),
        (BASE[0], None, *BASE[2:]),
        (*BASE[:2], 6, *BASE[3:]),
        (*BASE[:3], "llama-3-8b", BASE[4]),
        (*BASE[:4], "v2"),
    ]
    keys = {fingerprint(*variant) for variant in variants}
    assert fingerprint(*BASE) not in keys
    assert len(keys) == len(variants)


def test_filter_key_order_does_not_matter() -> None:
    one = fingerprint("q", {"category": "md", "year": 2024}, 5, "m", "v")
    other = fingerprint("q", {"year": 2024, "category": "md"}, 5, "m", "v")
    assert one == other
