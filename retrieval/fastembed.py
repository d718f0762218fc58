"""A torch-free embedder for BERT-style sentence-transformers models (all-MiniLM-L6-v2).

Importing torch and sentence-transformers costs 4-6 s, longer than a whole ``citebot ask`` may
take, so the query path runs the model with ONNX Runtime and tokenises with the ``tokenizers``
library. The ONNX files are exported locally, once, from the packaged weights into a
caller-chosen cache directory (``onnxexport``). Only ``prepare_fast_embedder`` may export (and so
import torch); ``load_fast_embedder`` and everything ``FastEmbedder`` does never import torch or
transformers. Without onnxruntime both return None and ``load_embedder`` uses
sentence-transformers.

The fp32 vectors match ``SentenceTransformerEmbedder`` (cosine > 0.9999), and ``model_id`` is
the reference's, so an index built by one can be queried by the other. The int8 variant is a
different encoder (mean cosine 0.99 to fp32): ``encoder_id`` tells them apart for whoever
records what built an index.

Batch independence. ONNX Runtime's dynamic int8 quantisation computes each activation's scale
over the whole batch tensor, padding included, so batched int8 vectors depend on which texts
share the batch (on BBC sentences, the spread of a text's cosine to its fp32 vector across
batchings reached 0.013, and two int8 vectors of one text a cosine of 0.965). An incremental
or parallel build must give every text the vector a single build gives it, so the int8 encoder
runs each text alone: its scales then come from that text only, and the vector is a function
of the text, bit for bit. Texts run concurrently, one single-threaded run per core, which is
no slower than batching: no padding, and length-sorted batches were small GEMMs anyway (52
against 41 passages/s in an interleaved A/B, ``benchmarks/encoders.py``). fp32 has no
batch-wide state and stays batched (its vectors agree across batchings to 1e-7).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from . import onnxexport
from .bertspec import BertSpec, read_spec, spec_for
from .modelpath import model_id

log = logging.getLogger(__name__)


class _OnnxBackend:
    """One ONNX Runtime session, run on whole batches or (``per_text``) on one text at a time."""

    def __init__(
        self, path: Path, threads: int, *, release_memory: bool = False, per_text: bool = False
    ) -> None:
        import onnxruntime as ort

        # A build encodes batches of every length, and ONNX Runtime's arena keeps the largest
        # it ever needed (about 270 MB on news sentences) after encoding ends, on top of which
        # the build then computes hubness. Shrinking it after each encode call hands that back
        # at no measurable cost; questions (one short batch each) keep the arena warm.
        self._last_opts = None
        if release_memory:
            self._last_opts = ort.RunOptions()
            self._last_opts.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")

        self.per_text = per_text
        opts = ort.SessionOptions()
        # One text alone is too small a GEMM to split across cores; concurrent runs use them.
        opts.intra_op_num_threads = 1 if per_text else threads
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # Idle worker threads otherwise spin for a while after each call, stealing one of the
        # two cores from the rest of the process (faiss search, quote scoring).
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._sess = ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
        # InferenceSession.run is thread-safe and releases the GIL, so threads are real cores.
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="citebot-onnx") if per_text else None

    def run(self, ids: np.ndarray, mask: np.ndarray, *, last: bool = False) -> np.ndarray:
        """Mean-pooled (not yet normalised) float32 rows for int64 ids/mask of shape (B, S);
        ``last`` marks the final batch of an ``encode`` call."""
        opts = self._last_opts if last else None
        out = self._sess.run(None, {"input_ids": ids, "attention_mask": mask}, opts)[0]
        return np.asarray(out, dtype=np.float32)

    def run_each(self, seqs: Sequence[Sequence[int]], *, last: bool = False) -> np.ndarray:
        """``run`` on each token sequence alone (no batch mates, no padding), concurrently."""

        def one(ids: Sequence[int], final: bool = False) -> np.ndarray:
            arr = np.asarray(ids, dtype=np.int64)[None, :]
            return self.run(arr, np.ones_like(arr), last=final)[0]

        if not seqs:
            return np.zeros((0, 0), dtype=np.float32)
        head = list(seqs[:-1]) if last else list(seqs)
        rows = list(self._pool.map(one, head)) if self._pool is not None else [one(s) for s in head]
        if last:  # alone, after the rest, so the arena shrinks with no run in flight
            rows.append(one(seqs[-1], True))
        return np.stack(rows)


class FastEmbedder:
    """``Embedder`` on ONNX Runtime; tokenises with ``tokenizers``, never imports torch."""

    def __init__(self, model: str, spec: BertSpec, backend: _OnnxBackend, encoder_id: str) -> None:
        from tokenizers import Tokenizer

        self._name = model
        self._spec = spec
        self._backend = backend
        self._encoder_id = encoder_id
        self._tok = Tokenizer.from_file(str(spec.folder / "tokenizer.json"))
        self._tok.enable_truncation(spec.max_tokens)
        # Padding is done here, per length-sorted batch, so the tokenizer must not pad.
        self._tok.no_padding()
        self._count_tok: Any = None

    @property
    def model_id(self) -> str:
        return model_id(self._name)

    @property
    def encoder_id(self) -> str:
        return self._encoder_id

    @property
    def dim(self) -> int:
        return self._spec.hidden

    @property
    def max_tokens(self) -> int:
        return self._spec.max_tokens

    @property
    def batch_invariant(self) -> bool:
        """True when a text's vector cannot depend on the texts encoded with it."""
        return self._backend.per_text or self._encoder_id == "onnx-fp32"

    def encode(
        self, texts: Sequence[str], *, batch_size: int = 32, show_progress: bool = False
    ) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        # sentence-transformers strips every text before tokenising; match it exactly.
        encs = self._tok.encode_batch([str(t).strip() for t in texts])
        # Longest first so the first batch shows the peak memory, and sorting keeps padding
        # (wasted attention and GEMM rows) near zero.
        order = sorted(range(len(encs)), key=lambda i: -len(encs[i].ids))
        step = max(1, batch_size)
        for start in _progress(range(0, len(order), step), show_progress):
            idx = order[start : start + step]
            last = start + step >= len(order)
            if self._backend.per_text:
                out[idx] = self._backend.run_each([encs[i].ids for i in idx], last=last)
                continue
            width = len(encs[idx[0]].ids)
            ids = np.zeros((len(idx), width), dtype=np.int64)
            mask = np.zeros((len(idx), width), dtype=np.int64)
            for row, i in enumerate(idx):
                n = len(encs[i].ids)
                ids[row, :n] = encs[i].ids
                mask[row, :n] = 1
            out[idx] = self._backend.run(ids, mask, last=last)
        # Unit rows whatever the model's module stack says: the Embedder contract.
        out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
        return out

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        if self._count_tok is None:
            from tokenizers import Tokenizer

            tok = Tokenizer.from_file(str(self._spec.folder / "tokenizer.json"))
            tok.no_truncation()
            tok.no_padding()
            self._count_tok = tok
        encs = self._count_tok.encode_batch(list(texts), add_special_tokens=False)
        return [len(e.ids) for e in encs]


def _progress(it: range, show: bool) -> Iterator[int]:
    if not show:
        yield from it
        return
    try:
        from rich.progress import track
    except ImportError:  # pragma: no cover - rich is a dependency
        yield from it
        return
    yield from track(it, description="embedding")


# --------------------------------------------------------------------------- public API


def _onnxruntime_available() -> bool:
    # Importing it, not just finding it: a broken or blocked install must also mean "no", and
    # the fast path imports it next anyway.
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


def load_fast_embedder(
    model: str, cache_dir: Path, quantize: bool = False, *, threads: int | None = None
) -> FastEmbedder | None:
    """Load an existing export (never exports, never imports torch); None if there is none,
    if the model is not one the fast path runs, or if onnxruntime is not installed."""
    spec, why = spec_for(model)
    if spec is None:
        log.info("fast embedder not used: %s", why)
        return None
    if not _onnxruntime_available():
        log.info("fast embedder not used: onnxruntime is not installed")
        return None
    threads = threads or min(2, os.cpu_count() or 1)
    path = onnxexport.entry_dir(cache_dir, model, spec) / onnxexport.file_name(quantize)
    if not path.exists():
        return None
    try:
        # int8 is the build encoder: builds release the arena between encode calls, and its
        # texts run alone so that their vectors do not depend on their batch (module docstring).
        backend = _OnnxBackend(path, threads, release_memory=quantize, per_text=quantize)
    except Exception as exc:  # a corrupt or foreign file: let the caller fall back
        log.warning("fast embedder not used: cannot load %s (%s)", path, type(exc).__name__)
        return None
    return FastEmbedder(model, spec, backend, "onnx-int8" if quantize else "onnx-fp32")


def prepare_fast_embedder(
    model: str, cache_dir: Path, *, quantize: bool, threads: int | None = None
) -> FastEmbedder | None:
    """Export the model to ``cache_dir`` if needed (imports torch only then) and load it.

    Returns None, with a one-line log notice, when the fast path cannot serve this model or
    onnxruntime is missing: the caller then uses ``SentenceTransformerEmbedder``.
    """
    spec, why = spec_for(model)
    if spec is None:
        log.info("fast embedder not used: %s", why)
        return None
    if not _onnxruntime_available():
        log.info("fast embedder not used: onnxruntime is not installed")
        return None
    entry = onnxexport.entry_dir(cache_dir, model, spec)
    target = entry / onnxexport.file_name(quantize)
    if not target.exists():
        try:
            with onnxexport.locked(entry.parent / (entry.name + ".lock")):
                entry.mkdir(parents=True, exist_ok=True)
                # Another process may have finished the export while this one waited.
                if not target.exists():
                    onnxexport.export(spec, entry, quantize)
        except Exception as exc:
            log.warning("fast embedder not used: ONNX export failed (%s: %s)", type(exc).__name__, exc)
            return None
    return load_fast_embedder(model, cache_dir, quantize, threads=threads)


EXPORT_VERSION = onnxexport.EXPORT_VERSION

__all__ = [
    "EXPORT_VERSION",
    "BertSpec",
    "FastEmbedder",
    "load_fast_embedder",
    "prepare_fast_embedder",
    "read_spec",
]
