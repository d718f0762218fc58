"""Turning text into L2-normalised float32 vectors.

``Embedder`` is the one interface the index and the retriever use. The reference
implementation wraps sentence-transformers; it is imported lazily because torch alone takes
seconds to import and most commands (``--help``, ``sources``, ``show``) never embed anything.
``load_embedder`` picks between it and the ONNX encoder of ``fastembed``; what both need to
agree on (model names, the cache folder) lives in ``modelpath``, so neither imports the other's
internals.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

from . import fastembed
from .errors import ModelError
from .modelpath import DEFAULT_MODEL, default_cache_dir, model_id, resolve_model_path

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

# Older callers (engine.py) import the private name.
_model_id = model_id


@runtime_checkable
class Embedder(Protocol):
    """Encodes texts into rows of unit-length float32 vectors (inner product = cosine)."""

    @property
    def model_id(self) -> str:
        """Identifies the model weights, recorded in the index manifest."""

    @property
    def dim(self) -> int: ...

    @property
    def max_tokens(self) -> int: ...

    def encode(
        self, texts: Sequence[str], *, batch_size: int = 32, show_progress: bool = False
    ) -> np.ndarray: ...

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Word pieces per text, without special tokens (for packing passages)."""


class SentenceTransformerEmbedder:
    """The reference path: any sentence-transformers model name or local path."""

    def __init__(self, model: str = DEFAULT_MODEL, *, device: str = "cpu") -> None:
        self._name = model
        path = resolve_model_path(model)
        # Nothing may download at run time; a name that is not on disk must fail, not fetch.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:  # pragma: no cover - a broken install
            raise ModelError(
                "sentence-transformers is not installed; run `pip install sentence-transformers`"
            ) from exc
        try:
            from transformers.utils import logging as hf_logging

            # Its "Loading weights" bar would land in the middle of our own output.
            hf_logging.disable_progress_bar()
        except ImportError:  # pragma: no cover
            pass
        try:
            self._model: SentenceTransformer = SentenceTransformer(path, device=device)
        except Exception as exc:
            raise ModelError(
                f"cannot load embedding model {model!r} offline ({type(exc).__name__}); "
                "set CITEBOT_EMBEDDING_MODEL to a local sentence-transformers folder"
            ) from exc
        getter = getattr(self._model, "get_embedding_dimension", None)
        getter = getter or self._model.get_sentence_embedding_dimension
        dim = getter()
        if dim is None:  # pragma: no cover - every real model reports it
            raise ModelError(f"model {model!r} does not report its embedding dimension")
        self._dim = int(dim)

    @property
    def model_id(self) -> str:
        return model_id(self._name)

    @property
    def dim(self) -> int:
        return self._dim

    @property
    def max_tokens(self) -> int:
        return int(self._model.max_seq_length or 256)

    @property
    def model(self) -> SentenceTransformer:
        return self._model

    def encode(
        self, texts: Sequence[str], *, batch_size: int = 32, show_progress: bool = False
    ) -> np.ndarray:
        if not texts:
            return np.zeros((0, self._dim), dtype=np.float32)
        vecs = self._model.encode(
            list(texts),
            batch_size=batch_size,
            show_progress_bar=show_progress,
            convert_to_numpy=True,
            normalize_embeddings=True,
        )
        return np.ascontiguousarray(vecs, dtype=np.float32)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        tok = self._model.tokenizer
        enc = tok(list(texts), add_special_tokens=False, truncation=False, verbose=False)["input_ids"]
        return [len(ids) for ids in enc]


ENCODERS = ("auto", "onnx-fp32", "onnx-int8", "sentence-transformers")


def encoder_id(embedder: Embedder) -> str:
    """Which encoder made a set of vectors (recorded in the index manifest)."""
    return str(getattr(embedder, "encoder_id", "sentence-transformers"))


def load_embedder(
    model: str = DEFAULT_MODEL, *, encoder: str = "auto", cache_dir: Path | None = None,
    purpose: str = "query", threads: int | None = None,
) -> Embedder:
    """The fastest encoder that gives this model's vectors, falling back to sentence-transformers.

    ``auto`` embeds questions with ONNX Runtime in fp32 (same vectors as sentence-transformers,
    without importing torch) and builds indexes with int8 weights (several times the encoding
    throughput; the benchmarks check that retrieval and quote quality stay within a point of fp32). The ONNX
    files are exported once, locally, from the model's own weights into ``cache_dir``. Without
    onnxruntime, or for a model the fast encoder cannot run, it is sentence-transformers, with a
    one-line notice. ``threads``: cores the ONNX encoder runs on (default: up to 2).
    """
    if encoder not in ENCODERS:
        raise ModelError(f"unknown encoder {encoder!r}; use one of {', '.join(ENCODERS)}")
    if encoder == "sentence-transformers":
        return SentenceTransformerEmbedder(model)
    quantize = encoder == "onnx-int8" or (encoder == "auto" and purpose == "index")
    cache = cache_dir or default_cache_dir()
    fast = fastembed.load_fast_embedder(model, cache, quantize, threads=threads) or (
        fastembed.prepare_fast_embedder(model, cache, quantize=quantize, threads=threads)
    )
    if fast is not None:
        return fast
    logging.getLogger("citebot").warning(
        "the fast encoder cannot serve %s (see the log at INFO); using sentence-transformers, "
        "which starts slower", model,
    )
    return SentenceTransformerEmbedder(model)


__all__ = [
    "DEFAULT_MODEL",
    "ENCODERS",
    "Embedder",
    "SentenceTransformerEmbedder",
    "default_cache_dir",
    "encoder_id",
    "load_embedder",
    "resolve_model_path",
]
