"""The packaged ONNX encoder gives unit vectors that place related texts closer."""

from __future__ import annotations

import numpy as np
import pytest

from ragfleet.adapters.embedder import OnnxEmbedder
from ragfleet.settings import ModelSettings


@pytest.fixture(scope="module")
def embedder() -> OnnxEmbedder:
    return OnnxEmbedder.from_settings(ModelSettings(embedding_batch_size=2))


def test_vectors_have_the_model_dimension_and_unit_length(embedder: OnnxEmbedder) -> None:
    vectors = embedder.embed(["one", "two", "three"])  # crosses a batch boundary
    assert vectors.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_related_texts_score_higher_than_unrelated_ones(embedder: OnnxEmbedder) -> None:
    query, related, unrelated = embedder.embed(
        ["How are answers cached?", "Answers are stored in a Redis cache.", "Bananas are yellow."]
    )
    assert query @ related > query @ unrelated + 0.2


def test_batching_does_not_change_the_vectors(embedder: OnnxEmbedder) -> None:
    texts = ["short", "a somewhat longer sentence about GPUs and NVMe RAID"]
    together = embedder.embed(texts)
    alone = np.vstack([embedder.embed([t]) for t in texts])
    assert np.allclose(together, alone, atol=1e-4)


def test_no_texts_give_an_empty_matrix(embedder: OnnxEmbedder) -> None:
    assert embedder.embed([]).shape == (0, 384)
