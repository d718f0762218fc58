"""A torch-free embedder for BERT-style sentence-transformers models (all-MiniLM-L6-v2).

Importing torch and sentence-transformers costs 4-6 s, longer than a whole ``citebot ask`` may
take, so the query path runs the model with ONNX Runtime (or, when onnxruntime is missing, with
plain numpy from the safetensors weights) and tokenises with the ``tokenizers`` library.

The ONNX file is exported locally, once, from the packaged weights and kept in a caller-chosen
cache directory. Only ``prepare_fast_embedder`` may export (and so import torch);
``load_fast_embedder`` and everything ``FastEmbedder`` does never import torch or transformers.

The vectors match ``SentenceTransformerEmbedder`` (cosine > 0.9999 in fp32), and ``model_id`` is
the reference's, so an index built by one can be queried by the other. The int8 variant is a
different encoder (mean cosine 0.994 to fp32, min 0.98): ``encoder_id`` tells them apart for
whoever records what built an index.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import os
import tempfile
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from .embedder import _model_id, resolve_model_path

log = logging.getLogger(__name__)

# Bump when the exported graph changes, so stale cache entries are never reused.
EXPORT_VERSION = 2
_OPSET = 17
_INPUTS = ("input_ids", "attention_mask")


# --------------------------------------------------------------------------- model description


@dataclass(frozen=True)
class BertSpec:
    """What the fast path needs to know about a model folder; None from ``read_spec`` = unsupported."""

    folder: Path
    hidden: int
    heads: int
    layers: int
    eps: float
    max_tokens: int
    normalize: bool

    @property
    def fingerprint(self) -> str:
        # Size + mtime of the weights and the full config text: cheap enough for every query
        # (hashing 90 MB would cost ~0.1 s) and changes whenever the weights are replaced.
        h = hashlib.sha256(f"v{EXPORT_VERSION}".encode())
        for name in ("config.json", "tokenizer.json", "modules.json", "sentence_bert_config.json"):
            p = self.folder / name
            if p.exists():
                h.update(name.encode() + p.read_bytes())
        st = (self.folder / "model.safetensors").stat()
        h.update(f"{st.st_size}:{st.st_mtime_ns}".encode())
        return h.hexdigest()[:16]


def read_spec(folder: Path) -> tuple[BertSpec | None, str]:
    """Describe a BERT + mean-pooling sentence-transformers folder, or say why it is not one."""

    def load(name: str) -> Any:
        return json.loads((folder / name).read_text(encoding="utf-8"))

    try:
        cfg = load("config.json")
        modules = load("modules.json") if (folder / "modules.json").exists() else []
        st_cfg = load("sentence_bert_config.json") if (folder / "sentence_bert_config.json").exists() else {}
    except (OSError, ValueError) as exc:
        return None, f"cannot read the model config ({type(exc).__name__})"
    for need in ("model.safetensors", "tokenizer.json"):
        if not (folder / need).exists():
            return None, f"the model folder has no {need}"
    if cfg.get("model_type") != "bert":
        return None, f"model_type {cfg.get('model_type')!r} is not bert"
    if cfg.get("position_embedding_type", "absolute") != "absolute":
        return None, "only absolute position embeddings are supported"
    if cfg.get("hidden_act") != "gelu":
        return None, f"activation {cfg.get('hidden_act')!r} is not gelu"
    kinds = [m.get("type", "").rsplit(".", 1)[-1] for m in modules]
    if kinds and kinds not in (["Transformer", "Pooling"], ["Transformer", "Pooling", "Normalize"]):
        return None, f"unsupported module stack {kinds}"
    pooling = next((m for m in modules if m.get("type", "").endswith("Pooling")), None)
    if pooling is not None:
        try:
            pcfg = load(f"{pooling.get('path', '1_Pooling')}/config.json")
        except (OSError, ValueError):
            return None, "cannot read the pooling config"
        modes = [k for k, v in pcfg.items() if k.startswith("pooling_mode") and v]
        if modes != ["pooling_mode_mean_tokens"]:
            return None, f"pooling {modes} is not mean pooling"
    max_tokens = int(st_cfg.get("max_seq_length") or 0) or 512
    max_tokens = min(max_tokens, int(cfg.get("max_position_embeddings", 512)))
    spec = BertSpec(
        folder=folder,
        hidden=int(cfg["hidden_size"]),
        heads=int(cfg["num_attention_heads"]),
        layers=int(cfg["num_hidden_layers"]),
        eps=float(cfg.get("layer_norm_eps", 1e-12)),
        max_tokens=max_tokens,
        normalize=not kinds or "Normalize" in kinds,
    )
    return spec, ""


# --------------------------------------------------------------------------- backends


class _Backend(Protocol):
    def run(self, ids: np.ndarray, mask: np.ndarray, *, last: bool = False) -> np.ndarray:
        """Mean-pooled (not yet normalised) float32 rows for int64 ids/mask of shape (B, S);
        ``last`` marks the final batch of an ``encode`` call."""


class _OnnxBackend:
    def __init__(self, path: Path, threads: int, *, release_memory: bool = False) -> None:
        import onnxruntime as ort

        # A build encodes batches of every length, and ONNX Runtime's arena keeps the largest
        # it ever needed (about 270 MB on news sentences) after encoding ends, on top of which
        # the build then computes hubness. Shrinking it after each encode call hands that back
        # at no measurable cost; questions (one short batch each) keep the arena warm.
        self._last_opts = None
        if release_memory:
            self._last_opts = ort.RunOptions()
            self._last_opts.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # Idle worker threads otherwise spin for a while after each call, stealing one of the
        # two cores from the rest of the process (faiss search, quote scoring).
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._sess = ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])

    def run(self, ids: np.ndarray, mask: np.ndarray, *, last: bool = False) -> np.ndarray:
        opts = self._last_opts if last else None
        out = self._sess.run(None, {"input_ids": ids, "attention_mask": mask}, opts)[0]
        return np.asarray(out, dtype=np.float32)


class _NumpyBackend:
    """The same forward pass in numpy: the fallback when onnxruntime is not installed."""

    def __init__(self, spec: BertSpec) -> None:
        from safetensors.numpy import load_file

        w = load_file(str(spec.folder / "model.safetensors"))
        w = {k.removeprefix("bert."): v for k, v in w.items()}
        self._spec = spec
        # token_type_ids are always 0 for single texts, so that row folds into the positions.
        self._word = w["embeddings.word_embeddings.weight"]
        self._pos = (
            w["embeddings.position_embeddings.weight"] + w["embeddings.token_type_embeddings.weight"][0]
        )
        self._emb_ln = (w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        self._layers = []
        for i in range(spec.layers):
            p = f"encoder.layer.{i}."
            # One (H, 3H) matrix for q, k and v: one GEMM instead of three.
            qkv_w = np.concatenate(
                [w[p + f"attention.self.{n}.weight"].T for n in ("query", "key", "value")], axis=1
            )
            qkv_b = np.concatenate([w[p + f"attention.self.{n}.bias"] for n in ("query", "key", "value")])
            self._layers.append(
                (
                    np.ascontiguousarray(qkv_w),
                    qkv_b,
                    np.ascontiguousarray(w[p + "attention.output.dense.weight"].T),
                    w[p + "attention.output.dense.bias"],
                    (w[p + "attention.output.LayerNorm.weight"], w[p + "attention.output.LayerNorm.bias"]),
                    np.ascontiguousarray(w[p + "intermediate.dense.weight"].T),
                    w[p + "intermediate.dense.bias"],
                    np.ascontiguousarray(w[p + "output.dense.weight"].T),
                    w[p + "output.dense.bias"],
                    (w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"]),
                )
            )

    def _ln(self, x: np.ndarray, wb: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        mu = x.mean(-1, keepdims=True)
        xc = x - mu
        var = np.mean(xc * xc, axis=-1, keepdims=True)
        return xc / np.sqrt(var + self._spec.eps) * wb[0] + wb[1]

    def run(self, ids: np.ndarray, mask: np.ndarray, *, last: bool = False) -> np.ndarray:
        b, s = ids.shape
        h, nh = self._spec.hidden, self._spec.heads
        d = h // nh
        x = self._ln(self._word[ids] + self._pos[:s], self._emb_ln).reshape(b * s, h)
        bias = ((1.0 - mask.astype(np.float32)) * -10000.0)[:, None, None, :]
        scale = np.float32(1.0 / math.sqrt(d))
        for qkv_w, qkv_b, o_w, o_b, ln1, i_w, i_b, f_w, f_b, ln2 in self._layers:
            qkv = (x @ qkv_w + qkv_b).reshape(b, s, 3, nh, d).transpose(2, 0, 3, 1, 4)
            q, k, v = qkv[0], qkv[1], qkv[2]
            att = (q * scale) @ k.transpose(0, 1, 3, 2) + bias
            att -= att.max(-1, keepdims=True)
            np.exp(att, out=att)
            att /= att.sum(-1, keepdims=True)
            ctx = (att @ v).transpose(0, 2, 1, 3).reshape(b * s, h)
            x = self._ln(ctx @ o_w + o_b + x, ln1)
            x = self._ln(_gelu(x @ i_w + i_b) @ f_w + f_b + x, ln2)
        m = mask.astype(np.float32)[:, :, None]
        summed = (x.reshape(b, s, h) * m).sum(1)
        return (summed / np.maximum(m.sum(1), 1e-9)).astype(np.float32)


def _gelu(x: np.ndarray) -> np.ndarray:
    # BERT's exact (erf) gelu. numpy has no erf, so use Abramowitz-Stegun 7.1.26 refined to
    # float32 precision: max error 1.5e-7, far below what moves a cosine at the 4th decimal.
    z = np.abs(x) * np.float32(1 / math.sqrt(2))
    t = 1.0 / (1.0 + np.float32(0.3275911) * z)
    poly = t * (
        np.float32(0.254829592)
        + t
        * (
            np.float32(-0.284496736)
            + t * (np.float32(1.421413741) + t * (np.float32(-1.453152027) + t * np.float32(1.061405429)))
        )
    )
    erf_abs = 1.0 - poly * np.exp(-z * z)
    erf = np.copysign(erf_abs, x)
    return (x * 0.5 * (1.0 + erf)).astype(np.float32)


# --------------------------------------------------------------------------- the embedder


class FastEmbedder:
    """``Embedder`` on ONNX Runtime or numpy; tokenises with ``tokenizers``, never imports torch."""

    def __init__(self, model: str, spec: BertSpec, backend: _Backend, encoder_id: str) -> None:
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
        return _model_id(self._name)

    @property
    def encoder_id(self) -> str:
        return self._encoder_id

    @property
    def dim(self) -> int:
        return self._spec.hidden

    @property
    def max_tokens(self) -> int:
        return self._spec.max_tokens

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
        batches = range(0, len(order), max(1, batch_size))
        for start in _progress(batches, show_progress):
            idx = order[start : start + batch_size]
            width = len(encs[idx[0]].ids)
            ids = np.zeros((len(idx), width), dtype=np.int64)
            mask = np.zeros((len(idx), width), dtype=np.int64)
            for row, i in enumerate(idx):
                n = len(encs[i].ids)
                ids[row, :n] = encs[i].ids
                mask[row, :n] = 1
            out[idx] = self._backend.run(ids, mask, last=start + batch_size >= len(order))
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


# --------------------------------------------------------------------------- cache and export


def _entry_dir(cache_dir: Path, model: str, spec: BertSpec) -> Path:
    slug = "".join(c if c.isalnum() or c in "-_." else "_" for c in _model_id(model))[-60:]
    return Path(cache_dir) / "onnx" / f"{slug}-{spec.fingerprint}"


def _file_name(quantize: bool) -> str:
    return "model-int8.onnx" if quantize else "model-fp32.onnx"


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock so that two processes do not both spend seconds exporting."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+b") as fh:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX: the atomic rename still protects
            yield
            return
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _atomic_write(dest: Path, produce: Callable[[Path], object]) -> None:
    """Have ``produce`` write a temp file beside ``dest``, then rename: readers never see half."""
    fd, tmp = tempfile.mkstemp(prefix=dest.name + ".", suffix=".tmp", dir=dest.parent)
    os.close(fd)
    try:
        produce(Path(tmp))
        # mkstemp makes 0600 files; a shared cache must be readable like any other file.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, dest)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def _export_fp32(spec: BertSpec, dest: Path) -> None:
    """Trace a plain-torch BERT built from the safetensors weights into ONNX (pooling included).

    A hand-written module rather than transformers' ``BertModel``: tracing transformers 5's
    mask construction bakes the example's shape into the graph (padded batches came out wrong),
    and this graph is the exact pattern ONNX Runtime fuses into its Attention kernels.
    """
    import torch
    from safetensors.torch import load_file

    w = {
        k.removeprefix("bert."): v.float()
        for k, v in load_file(str(spec.folder / "model.safetensors")).items()
    }
    h, nh, eps = spec.hidden, spec.heads, spec.eps
    d = h // nh
    ln = torch.nn.functional.layer_norm

    class Bert(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.w = {k: torch.nn.Parameter(v, requires_grad=False) for k, v in w.items()}
            for i, v in enumerate(self.w.values()):
                self.register_parameter(f"p{i}", v)

        def lin(self, x: torch.Tensor, name: str) -> torch.Tensor:
            return x @ self.w[name + ".weight"].t() + self.w[name + ".bias"]

        def norm(self, x: torch.Tensor, name: str) -> torch.Tensor:
            return ln(x, (h,), self.w[name + ".weight"], self.w[name + ".bias"], eps)

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            b, s = input_ids.shape[0], input_ids.shape[1]
            pos = torch.arange(s, device=input_ids.device)
            x = (
                self.w["embeddings.word_embeddings.weight"][input_ids]
                + self.w["embeddings.position_embeddings.weight"][pos]
                + self.w["embeddings.token_type_embeddings.weight"][0]
            )
            x = self.norm(x, "embeddings.LayerNorm")
            # The exact shape of transformers 4's mask code: ORT's Attention fuser matches it.
            ext = attention_mask[:, None, None, :].to(torch.float32)
            bias = (1.0 - ext) * -10000.0
            for i in range(spec.layers):
                p = f"encoder.layer.{i}."

                def heads(t: torch.Tensor) -> torch.Tensor:
                    return t.view(b, s, nh, d).permute(0, 2, 1, 3)

                q = heads(self.lin(x, p + "attention.self.query"))
                k = heads(self.lin(x, p + "attention.self.key"))
                v = heads(self.lin(x, p + "attention.self.value"))
                att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d) + bias, dim=-1)
                ctx = (att @ v).permute(0, 2, 1, 3).reshape(b, s, h)
                x = self.norm(
                    self.lin(ctx, p + "attention.output.dense") + x, p + "attention.output.LayerNorm"
                )
                inter = torch.nn.functional.gelu(self.lin(x, p + "intermediate.dense"))
                x = self.norm(self.lin(inter, p + "output.dense") + x, p + "output.LayerNorm")
            m = attention_mask.to(torch.float32)
            summed = (x * m[:, :, None]).sum(1)
            return summed / torch.clamp(m.sum(1, keepdim=True), min=1e-9)

    ids = torch.randint(1000, 2000, (2, 16))
    mask = torch.ones(2, 16, dtype=torch.int64)
    mask[1, 9:] = 0
    axes = {"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "seq"}}
    axes["embedding"] = {0: "batch"}
    # The TorchScript exporter is deprecated but needs no onnxscript and traces this plain
    # module exactly; its warnings are noise for whoever runs `citebot index`.
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            Bert().eval(),
            (ids, mask),
            str(dest),
            input_names=list(_INPUTS),
            output_names=["embedding"],
            dynamic_axes=axes,
            opset_version=_OPSET,
            do_constant_folding=True,
            dynamo=False,
        )


def _fuse(spec: BertSpec, src: Path, dest: Path) -> None:
    """Rewrite into ONNX Runtime's fused Attention / SkipLayerNorm / BiasGelu ops, ahead of time.

    The session would do much of this at load, but the offline fusers find more (Attention is
    the big one), and doing it here keeps session start-up on the query path short.
    """
    from onnxruntime.transformers.optimizer import optimize_model

    opt = optimize_model(
        str(src), model_type="bert", num_heads=spec.heads, hidden_size=spec.hidden, opt_level=0
    )
    opt.save_model_to_file(str(dest))


def _quantize(src: Path, dest: Path) -> None:
    """Dynamic int8: int8 weights, per-row uint8 activations, the VNNI kernels of ONNX Runtime.

    Per-channel weight scales on every MatMul and Attention: per-tensor scales gave cosine
    0.956 to fp32 (min 0.89), unusable; per-channel everywhere 0.9935 (min 0.979) at 5.7x the
    throughput of sentence-transformers; keeping the six FFN-output MatMuls in fp32 0.9967 (min
    0.992) at only 3.2x. What decides is retrieval, not cosine: built with per-channel-everywhere
    vectors, article_hit@5 and quote_hit@1 on xquad-en and realtimeqa-dev stay within 0.3 points
    of an fp32 build (benchmarks/RESULTS.md), so the faster variant ships.
    """
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with _quiet_root_warning("Please consider to run pre-processing"):
        quantize_dynamic(
            str(src),
            str(dest),
            weight_type=QuantType.QInt8,
            op_types_to_quantize=["MatMul", "Attention"],
            per_channel=True,
            # The fused contrib ops defeat shape inference; their outputs are all float.
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
        )


@contextlib.contextmanager
def _quiet_root_warning(prefix: str) -> Iterator[None]:
    """Drop one known, unactionable warning that onnxruntime logs on the root logger."""

    def keep(record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(prefix)

    root = logging.getLogger()
    root.addFilter(keep)
    try:
        yield
    finally:
        root.removeFilter(keep)


def _export(spec: BertSpec, entry: Path, quantize: bool) -> None:
    fp32 = entry / _file_name(False)
    if not fp32.exists():
        with tempfile.TemporaryDirectory(dir=entry) as tmp:
            raw = Path(tmp) / "raw.onnx"
            _export_fp32(spec, raw)
            _atomic_write(fp32, lambda p: _fuse(spec, raw, p))
    if quantize:
        int8 = entry / _file_name(True)
        if not int8.exists():
            _atomic_write(int8, lambda p: _quantize(fp32, p))
    meta = {"export_version": EXPORT_VERSION, "opset": _OPSET, "folder": str(spec.folder)}
    _atomic_write(entry / "meta.json", lambda p: p.write_text(json.dumps(meta), encoding="utf-8"))


# --------------------------------------------------------------------------- public API


def _spec_for(model: str) -> tuple[BertSpec | None, str]:
    try:
        folder = Path(resolve_model_path(model))
    except Exception as exc:  # ModelError when the packaged model is missing
        return None, str(exc)
    if not folder.is_dir():
        return None, f"{model!r} is not a local model folder"
    return read_spec(folder)


def _onnxruntime_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("onnxruntime") is not None


def load_fast_embedder(
    model: str, cache_dir: Path, quantize: bool = False, *, threads: int | None = None
) -> FastEmbedder | None:
    """Load an existing export (never exports, never imports torch); None if there is none.

    Without onnxruntime, an fp32 request gets the numpy forward pass instead (same vectors, no
    export needed, ~15 ms a query); an int8 one gets None, since those vectors would differ.
    """
    spec, why = _spec_for(model)
    if spec is None:
        log.info("fast embedder not used: %s", why)
        return None
    threads = threads or min(2, os.cpu_count() or 1)
    if not _onnxruntime_available():
        if quantize:
            log.info("fast embedder not used: onnxruntime is not installed (needed for int8)")
            return None
        # Same fp32 vectors, no export needed, and still no torch import on the query path.
        log.info("onnxruntime is not installed: embedding queries with the numpy forward pass")
        return FastEmbedder(model, spec, _NumpyBackend(spec), "numpy-fp32")
    path = _entry_dir(cache_dir, model, spec) / _file_name(quantize)
    if not path.exists():
        return None
    try:
        # int8 is the build encoder: builds release the arena between encode calls.
        backend = _OnnxBackend(path, threads, release_memory=quantize)
    except Exception as exc:  # a corrupt or foreign file: let the caller fall back
        log.warning("fast embedder not used: cannot load %s (%s)", path, type(exc).__name__)
        return None
    return FastEmbedder(model, spec, backend, "onnx-int8" if quantize else "onnx-fp32")


def prepare_fast_embedder(
    model: str, cache_dir: Path, *, quantize: bool, threads: int | None = None
) -> FastEmbedder | None:
    """Export the model to ``cache_dir`` if needed (imports torch only then) and load it.

    Returns None, with a one-line log notice, when the fast path cannot serve this model or
    onnxruntime is missing: the caller then indexes with ``SentenceTransformerEmbedder``.
    """
    spec, why = _spec_for(model)
    if spec is None:
        log.info("fast embedder not used: %s", why)
        return None
    if not _onnxruntime_available():
        # The numpy forward is quick to start but slower than torch in bulk: not worth it here.
        log.info("fast embedder not used: onnxruntime is not installed")
        return None
    entry = _entry_dir(cache_dir, model, spec)
    target = entry / _file_name(quantize)
    if not target.exists():
        try:
            with _locked(entry.parent / (entry.name + ".lock")):
                entry.mkdir(parents=True, exist_ok=True)
                # Another process may have finished the export while this one waited.
                if not target.exists():
                    _export(spec, entry, quantize)
        except Exception as exc:
            log.warning("fast embedder not used: ONNX export failed (%s: %s)", type(exc).__name__, exc)
            return None
    return load_fast_embedder(model, cache_dir, quantize, threads=threads)


__all__ = [
    "EXPORT_VERSION",
    "BertSpec",
    "FastEmbedder",
    "load_fast_embedder",
    "prepare_fast_embedder",
    "read_spec",
]
