"""Exporting a BERT sentence encoder to ONNX, once, into the cache; nothing here runs per query.

Only this module imports torch (inside ``export_fp32``), and only ``prepare_fast_embedder``
calls into it. The steps:

1. ``export_fp32``: transformers' own ``BertModel`` plus mean pooling, through torch's
   maintained ONNX exporter (``torch.onnx.export(dynamo=True)``, which writes with onnxscript).
2. ``_fuse``: ONNX Runtime's transformer optimizer fuses SkipLayerNormalization and BiasGelu
   (``model-fp32.onnx``).
3. ``_quantize``: dynamic int8 (``model-int8.onnx``), for index builds.

Why this exporter (``benchmarks/encoders.py``, 2,000 BBC sentences and 512 passages, numbers in
``benchmarks/RESULTS.md``): it gives sentence-transformers' vectors (fp32 cosine min 1.000000,
int8 mean 0.9922 like before) at the speed of the hand-written export this module used to
carry (a plain-torch BERT re-implemented from the safetensors weights and traced; interleaved
A/B: 28.5 vs 27.5 fp32 and 42.8 vs 41.4 batched int8 passages/s), with no forward pass of our
own to maintain. Its cost is the one-time export: 3-5x the hand-written one's seconds
(transformers and torch.export are imported and the graph is captured symbolically).
sentence-transformers' ONNX backend and its ``export_optimized_onnx_model`` /
``export_dynamic_quantized_onnx_model`` (optimum-onnx) give the same vectors and speed, but
optimum-onnx 0.1.0 requires transformers < 4.58 while sentence-transformers 6 requires
transformers 5, so it cannot be installed beside this project's stack; and running the
backend itself imports torch on the query path.

Files are written beside their final name and renamed, under a lock, so concurrent processes
never see half a file and never export twice.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import tempfile
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

from .bertspec import BertSpec
from .modelpath import model_id

# Bump when the exported graph changes, so stale cache entries are never reused.
EXPORT_VERSION = 3
_OPSET = 18  # the dynamo exporter's lowest
_INPUTS = ("input_ids", "attention_mask")


def entry_dir(cache_dir: Path, model: str, spec: BertSpec) -> Path:
    """The cache folder of one model's exports; a new export version or new weights get a new one."""
    slug = "".join(c if c.isalnum() or c in "-_." else "_" for c in model_id(model))[-60:]
    return Path(cache_dir) / "onnx" / f"{slug}-v{EXPORT_VERSION}-{spec.fingerprint}"


def file_name(quantize: bool) -> str:
    return "model-int8.onnx" if quantize else "model-fp32.onnx"


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
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




def export_fp32(spec: BertSpec, dest: Path) -> None:
    """transformers' own ``BertModel`` plus mean pooling, through torch's ONNX exporter.

    The dynamo exporter (``torch.export``) records the attention mask's shapes symbolically, so
    padded batches of any size come out right (the TorchScript tracer baked the example's shape
    into transformers 5's mask code). Eager attention: its softmax graph is plain ONNX ops that
    ONNX Runtime runs as fast as its fused Attention kernel at these lengths (measured).
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the folder is local; never fetch anything
    import torch
    from transformers import AutoModel
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    bert = AutoModel.from_pretrained(str(spec.folder), attn_implementation="eager").float().eval()

    class Pooled(torch.nn.Module):
        """sentence-transformers' Pooling module (mean over the real tokens), inside the graph."""

        def __init__(self) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            tokens = self.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            m = attention_mask.to(tokens.dtype)[:, :, None]
            return (tokens * m).sum(1) / torch.clamp(m.sum(1), min=1e-9)

    ids = torch.randint(1000, 2000, (2, 16))
    mask = torch.ones(2, 16, dtype=torch.int64)
    mask[1, 9:] = 0
    batch, seq = torch.export.Dim("batch"), torch.export.Dim("seq", max=spec.max_tokens)
    axes = {name: {0: batch, 1: seq} for name in _INPUTS}
    # The exporter reports its progress with print() and logs that optional torchvision ops are
    # skipped; neither may land in `citebot ask` output.
    with (
        torch.no_grad(), warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()),
        _quiet_logger("torch.onnx"),
    ):
        warnings.simplefilter("ignore")
        program = torch.onnx.export(
            Pooled(), (ids, mask), input_names=list(_INPUTS), output_names=["sentence_embedding"],
            dynamic_shapes=axes, opset_version=_OPSET, dynamo=True, verbose=False,
        )
        if program is None:  # pragma: no cover - dynamo=True always returns the program
            raise RuntimeError("torch.onnx.export returned no program")
        program.save(str(dest))


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
    """Dynamic int8: int8 weights with per-channel scales, uint8 activations with one scale per
    tensor computed at run time (over the whole batch: why ``fastembed`` runs int8 one text at a
    time), on ONNX Runtime's integer GEMM kernels.

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
def _quiet_logger(name: str) -> Iterator[None]:
    """Only errors from logger ``name`` and its children while the block runs."""
    logger = logging.getLogger(name)
    before = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(before)


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


def export(spec: BertSpec, entry: Path, quantize: bool) -> None:
    """Write what is missing of ``entry``'s fp32 (and, if asked, int8) model."""
    fp32 = entry / file_name(False)
    if not fp32.exists():
        with tempfile.TemporaryDirectory(dir=entry) as tmp:
            raw = Path(tmp) / "raw.onnx"
            export_fp32(spec, raw)
            _atomic_write(fp32, lambda p: _fuse(spec, raw, p))
    if quantize:
        int8 = entry / file_name(True)
        if not int8.exists():
            _atomic_write(int8, lambda p: _quantize(fp32, p))
    meta = {"export_version": EXPORT_VERSION, "opset": _OPSET, "folder": str(spec.folder)}
    _atomic_write(entry / "meta.json", lambda p: p.write_text(json.dumps(meta), encoding="utf-8"))


__all__ = ["EXPORT_VERSION", "entry_dir", "export", "export_fp32", "file_name", "locked"]
