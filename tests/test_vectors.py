"""The approximate FAISS index keeps recall@10 >= 0.95 against exact search on real text."""

from __future__ import annotations

import json

import numpy as np
from conftest import SEEDS, shared_file

from retrieval import vectors as vec
from retrieval.chunker import split_sentences
from retrieval.loaders import load_articles


def test_ivf_recall_at_10(embedder) -> None:  # type: ignore[no-untyped-def]
    arts = load_articles([shared_file("qa/xquad-en/articles.jsonl")]).articles
    texts = [a.text[s.start:s.end] for a in arts for s in split_sentences(a.text)]
    texts += [a.text[s.start:s.end] for a in load_articles([SEEDS]).articles for s in split_sentences(a.text)]
    vecs = embedder.encode(texts, batch_size=64)
    ids = np.arange(1000, 1000 + len(texts), dtype=np.int64)
    rows = shared_file("qa/xquad-en/questions.jsonl").read_text().splitlines()[::4]
    queries = embedder.encode([json.loads(r)["question"] for r in rows], batch_size=64)

    exact = vec.new_index(vecs.shape[1], vecs, ids)
    approx = vec.new_index(vecs.shape[1], vecs, ids, approximate_above=100)
    assert not vec.is_approximate(exact) and vec.is_approximate(approx)
    hits = total = 0
    for q in queries:
        want = {i for i, _ in vec.search(exact, q, 10)}
        got = {i for i, _ in vec.search(approx, q, 10)}
        hits += len(want & got)
        total += len(want)
    assert hits / total >= 0.95

    # Removing ids works in place on both, and removed ids never come back.
    drop = list(range(1000, 1100))
    for index in (exact, approx):
        index = vec.update(index, drop, np.zeros(0, np.int64), np.zeros((0, vecs.shape[1]), np.float32),
                           approximate_above=100)
        for q in queries[:20]:
            assert not {i for i, _ in vec.search(index, q, 10)} & set(drop)
