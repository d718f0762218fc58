"""Whether a model folder is one the ONNX encoder can run: BERT + mean pooling, read from its files.

Reading the config files is all this does (no torch, no onnx), so the query path can ask it
on every start; ``None`` with a reason means "use sentence-transformers for this model".
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .modelpath import resolve_model_path

# The files whose content decides the vectors (the weights are identified by size and mtime).
_CONFIG_FILES = ("config.json", "tokenizer.json", "modules.json", "sentence_bert_config.json")


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
        h = hashlib.sha256()
        for name in _CONFIG_FILES:
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


def spec_for(model: str) -> tuple[BertSpec | None, str]:
    """``read_spec`` of a model name or folder (the packaged default resolves to its folder)."""
    try:
        folder = Path(resolve_model_path(model))
    except Exception as exc:  # ModelError when the packaged model is missing
        return None, str(exc)
    if not folder.is_dir():
        return None, f"{model!r} is not a local model folder"
    return read_spec(folder)


__all__ = ["BertSpec", "read_spec", "spec_for"]
