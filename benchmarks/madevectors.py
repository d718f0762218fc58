"""Made vectors for benchmarks that measure cost, not quality, at sizes this machine cannot embed.

The model embeds about 100 passage-or-sentence texts per second here, so an index of the whole
news archive (≈640k passages, ≈1.9M sentences) would take most of a day. What a build or an
update costs (splitting, FTS rows, hubness against the existing vectors, files written, memory)
does not depend on the vectors' values, only on their number, so these benchmarks split real
articles for real and give their passages and sentences vectors made by perturbing real ones.
Every report that uses them says so.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np


def noise_scale(cos: float, d: int) -> float:
    """Per-dimension sigma for which a unit vector plus noise has cosine ~``cos`` to the original:
    for noise of norm s, cos(v, v + e) ~ 1/sqrt(1 + s^2)."""
    return float(np.sqrt(1 / cos**2 - 1)) / np.sqrt(d)


def perturbed(pool: np.ndarray, n: int, rng: np.random.Generator, cos: float = 0.9) -> np.ndarray:
    """``n`` unit vectors, each a random row of ``pool`` plus Gaussian noise (cosine ~``cos``)."""
    d = pool.shape[1]
    block = pool[rng.integers(0, len(pool), n)] + rng.normal(0, noise_scale(cos, d), (n, d)).astype(np.float32)
    block /= np.linalg.norm(block, axis=1, keepdims=True)
    return block.astype(np.float32)


def replicate(real: np.ndarray, n: int, cos: float = 0.9, seed: int = 0) -> np.ndarray:
    """``real``, then perturbed copies up to ``n`` rows."""
    rng = np.random.default_rng(seed)
    out = np.empty((n, real.shape[1]), np.float32)
    out[: len(real)] = real[:n]
    at = len(real)
    while at < n:
        take = min(len(real), n - at)
        out[at:at + take] = perturbed(real, take, rng, cos)
        at += take
    return out


class MadeVectorsPreparer:
    """A ``retrieval.prepare.Preparer`` that splits articles for real and makes their vectors
    from pools of real passage and sentence vectors (deterministic per article id)."""

    def __init__(self, embedder: object, passage_tokens: int, overlap: int,
                 passage_pool: np.ndarray, sentence_pool: np.ndarray) -> None:
        self.embedder, self.passage_tokens, self.overlap = embedder, passage_tokens, overlap
        self.passage_pool, self.sentence_pool = passage_pool, sentence_pool

    def prepare(self, articles: Sequence[object]) -> list[object]:
        from retrieval.prepare import Prepared, split_article

        out: list[object] = []
        for art in articles:
            split = split_article(art, self.embedder, self.passage_tokens, self.overlap)  # type: ignore[arg-type]
            seed = int.from_bytes(hashlib.blake2b(split.article.id.encode(), digest_size=8).digest(), "little")
            rng = np.random.default_rng(seed)
            out.append(Prepared(split, perturbed(self.passage_pool, len(split.chunks), rng),
                                perturbed(self.sentence_pool, len(split.sentences), rng)))
        return out


def real_pools(bot: object, articles: Sequence[object]) -> tuple[np.ndarray, np.ndarray]:
    """Passage and sentence vectors of ``articles`` from the bot's own index encoder."""
    from retrieval.prepare import LocalPreparer

    cfg = bot.config  # type: ignore[attr-defined]
    prepared = LocalPreparer(bot.index_embedder, cfg.passage_tokens, cfg.passage_overlap).prepare(articles)  # type: ignore[attr-defined]
    return (np.vstack([p.passage_vecs for p in prepared]), np.vstack([p.sentence_vecs for p in prepared]))
