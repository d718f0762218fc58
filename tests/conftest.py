"""Shared fixtures: one real model per test session, real indexes in temporary folders."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
SHARED_DATA = ROOT.parent / "shared" / "data"

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def shared_file(rel: str) -> Path:
    """A file of ../shared/data, or a clean skip when this checkout has none beside it."""
    path = SHARED_DATA / rel
    if not path.exists():
        pytest.skip(f"{path} is missing: the shared evaluation data sits beside the project root")
    return path


def pytest_configure(config: pytest.Config) -> None:
    # One ONNX export per test session, shared with the CLI subprocesses through the env.
    if "CITEBOT_CACHE_DIR" not in os.environ:
        os.environ["CITEBOT_CACHE_DIR"] = tempfile.mkdtemp(prefix="citebot-test-cache-")


@pytest.fixture(scope="session")
def cache_dir() -> Path:
    return Path(os.environ["CITEBOT_CACHE_DIR"])


@pytest.fixture(scope="session")
def embedder(cache_dir: Path):  # type: ignore[no-untyped-def]
    """The question encoder citebot uses by default (ONNX fp32: sentence-transformers' vectors)."""
    from retrieval import load_embedder

    return load_embedder(cache_dir=cache_dir)


@pytest.fixture(scope="session")
def seed_index_dir(tmp_path_factory: pytest.TempPathFactory, cache_dir: Path) -> Path:
    """An index of seeds/ built the way `citebot index` builds it (int8 encoder)."""
    from retrieval import Citebot

    d = tmp_path_factory.mktemp("seed-index")
    Citebot(d, cache_dir=cache_dir).index([SEEDS])
    return d


@pytest.fixture(scope="session")
def seed_engine(seed_index_dir: Path, embedder) -> Iterator[object]:  # type: ignore[no-untyped-def]
    from retrieval import Citebot

    bot = Citebot(seed_index_dir, embedder=embedder)
    yield bot
    bot.close()


@pytest.fixture(scope="session")
def xquad_sentences(embedder):  # type: ignore[no-untyped-def]
    """(texts, article ids, vectors) of the first 3,000 sentences of XQuAD's paragraphs: real
    text for the vector tests, embedded once per session."""
    import numpy as np

    from retrieval.chunker import split_sentences
    from retrieval.loaders import load_articles

    arts = load_articles([shared_file("qa/xquad-en/articles.jsonl")]).articles
    pairs = [(a.text[s.start:s.end], a.id) for a in arts for s in split_sentences(a.text)][:3000]
    texts = [t for t, _ in pairs]
    return texts, np.array([g for _, g in pairs], dtype=object), embedder.encode(texts, batch_size=64)
