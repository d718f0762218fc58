"""citebot's core: articles in, cited verbatim quotes out. Never imports ``bot`` or discord.

Names load on first use (PEP 562), so ``import retrieval.errors`` alone stays cheap: the
command line imports it for ``citebot --help``, which must not pay for numpy or FAISS.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .embedder import DEFAULT_MODEL, Embedder, SentenceTransformerEmbedder, load_embedder
    from .engine import Citebot, Tuning
    from .errors import (
        CitebotError,
        IndexBusyError,
        IndexCorruptError,
        IndexEmptyError,
        IndexMismatchError,
        IndexMissingError,
        IndexStateError,
        InputError,
        LoadError,
        ModelError,
        NotFoundError,
    )
    from .index import IndexConfig, build_index
    from .models import (
        Answer,
        Article,
        ArticleInfo,
        IndexReport,
        Match,
        Passage,
        Quote,
        SkippedFile,
        Source,
    )

_WHERE = {
    "DEFAULT_MODEL": "embedder", "Embedder": "embedder", "SentenceTransformerEmbedder": "embedder",
    "load_embedder": "embedder", "Citebot": "engine", "Tuning": "engine",
    "CitebotError": "errors", "IndexBusyError": "errors", "IndexCorruptError": "errors",
    "IndexEmptyError": "errors", "IndexMismatchError": "errors",
    "IndexMissingError": "errors", "IndexStateError": "errors", "InputError": "errors",
    "LoadError": "errors", "ModelError": "errors", "NotFoundError": "errors",
    "IndexConfig": "index", "build_index": "index",
    "Answer": "models", "Article": "models", "ArticleInfo": "models", "IndexReport": "models",
    "Match": "models", "Passage": "models", "Quote": "models", "SkippedFile": "models",
    "Source": "models",
}

__all__ = [
    "DEFAULT_MODEL",
    "Answer",
    "Article",
    "ArticleInfo",
    "Citebot",
    "CitebotError",
    "Embedder",
    "IndexBusyError",
    "IndexConfig",
    "IndexCorruptError",
    "IndexEmptyError",
    "IndexMismatchError",
    "IndexMissingError",
    "IndexReport",
    "IndexStateError",
    "InputError",
    "LoadError",
    "Match",
    "ModelError",
    "NotFoundError",
    "Passage",
    "Quote",
    "SentenceTransformerEmbedder",
    "SkippedFile",
    "Source",
    "Tuning",
    "build_index",
    "load_embedder",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'retrieval' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
