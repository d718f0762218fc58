"""Shared fixtures: one real model per test session, real indexes in temporary folders."""

from __future__ import annotations

import os
import sys
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


@pytest.fixture(scope="session")
def embedder():  # type: ignore[no-untyped-def]
    from retrieval import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder()


@pytest.fixture(scope="session")
def seed_index_dir(tmp_path_factory: pytest.TempPathFactory, embedder) -> Path:  # type: ignore[no-untyped-def]
    from retrieval import Citebot

    d = tmp_path_factory.mktemp("seed-index")
    Citebot(d, embedder=embedder).index([SEEDS])
    return d


@pytest.fixture(scope="session")
def seed_engine(seed_index_dir: Path, embedder) -> Iterator[object]:  # type: ignore[no-untyped-def]
    from retrieval import Citebot

    bot = Citebot(seed_index_dir, embedder=embedder)
    yield bot
    bot.close()
