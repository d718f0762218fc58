"""citebot's core: articles in, cited verbatim quotes out. Never imports ``bot`` or discord."""

from .embedder import DEFAULT_MODEL, Embedder, SentenceTransformerEmbedder, load_embedder
from .engine import Citebot, Tuning
from .errors import (
    CitebotError,
    IndexCorruptError,
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

__all__ = [
    "DEFAULT_MODEL",
    "Answer",
    "Article",
    "ArticleInfo",
    "Citebot",
    "CitebotError",
    "Embedder",
    "IndexConfig",
    "IndexCorruptError",
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
