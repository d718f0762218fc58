"""Near-duplicate articles: the same wire story under several urls.

MinHash signatures over word 5-shingles (datasketch), looked up in an LSH index, then confirmed
by the signatures' estimated Jaccard similarity. Shingles of five words are specific enough that
two different stories on one topic share few of them, while a story re-published with another
headline, a trimmed last paragraph or an added byline keeps most (benchmarks/feeds.py measures
it on the BBC set, where such copies are known). Word shingles are also cheap next to sentence
vectors, which would need the model for every candidate.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import numpy as np

NUM_PERM = 128
# Stored signatures must be rebuilt with the scheme that made them (datasketch >= 2 asks).
SCHEME = "affine32"
SHINGLE_WORDS = 5
THRESHOLD = 0.7
_WORDS = re.compile(r"\w+")


def shingles(text: str, k: int = SHINGLE_WORDS) -> set[bytes]:
    words = _WORDS.findall(text.lower())
    if len(words) < k:
        return {" ".join(words).encode("utf-8")} if words else set()
    return {" ".join(words[i:i + k]).encode("utf-8") for i in range(len(words) - k + 1)}


def signature(text: str) -> np.ndarray:
    """The MinHash signature of ``text`` (``NUM_PERM`` unsigned 64-bit values), to store."""
    from datasketch import MinHash

    m = MinHash(num_perm=NUM_PERM, scheme=SCHEME)
    m.update_batch(list(shingles(text)))
    return np.asarray(m.hashvalues, dtype=np.uint64)


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Estimated Jaccard similarity of the shingle sets behind two signatures."""
    return float(np.count_nonzero(a == b)) / len(a)


class DedupIndex:
    """Signatures of the indexed articles; ``match`` names the one a new text duplicates."""

    def __init__(self, threshold: float = THRESHOLD) -> None:
        from datasketch import MinHashLSH

        self.threshold = threshold
        self._lsh: Any = MinHashLSH(threshold=threshold, num_perm=NUM_PERM)
        self._sigs: dict[str, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self._sigs)

    def __contains__(self, article_id: str) -> bool:
        return article_id in self._sigs

    def _minhash(self, sig: np.ndarray) -> Any:
        from datasketch import MinHash

        return MinHash(num_perm=NUM_PERM, hashvalues=sig, scheme=SCHEME)

    def add(self, article_id: str, sig: np.ndarray) -> None:
        if article_id in self._sigs:
            self.remove(article_id)
        self._sigs[article_id] = sig
        self._lsh.insert(article_id, self._minhash(sig))

    def remove(self, article_id: str) -> None:
        if self._sigs.pop(article_id, None) is not None:
            self._lsh.remove(article_id)

    def match(self, sig: np.ndarray, exclude: str | None = None) -> tuple[str, float] | None:
        """The most similar indexed article at or over the threshold, with its similarity."""
        best: tuple[str, float] | None = None
        for cand in self._lsh.query(self._minhash(sig)):
            if cand == exclude:
                continue
            s = similarity(sig, self._sigs[cand])
            if s >= self.threshold and (best is None or s > best[1]):
                best = (cand, s)
        return best

    def pairs(self) -> Iterable[tuple[str, str, float]]:
        """Every near-duplicate pair among the indexed articles, each once."""
        order = {a: i for i, a in enumerate(self._sigs)}
        for a, i in order.items():
            for b in self._lsh.query(self._minhash(self._sigs[a])):
                if order[b] > i:
                    s = similarity(self._sigs[a], self._sigs[b])
                    if s >= self.threshold:
                        yield a, b, s
