"""Vector search in a segment: the approximate index of large segments keeps recall@10 >= 0.95
against exact search on real text, and masked (deleted, filtered) rows never come back."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from conftest import shared_file

from retrieval import vectors as vec


def test_ann_recall_at_10_and_masks(embedder, xquad_sentences, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    _, _, vecs = xquad_sentences
    rows = shared_file("qa/xquad-en/questions.jsonl").read_text().splitlines()[::6]
    queries = embedder.encode([json.loads(r)["question"] for r in rows], batch_size=64)

    monkeypatch.setattr(vec, "APPROXIMATE_ABOVE", 100)
    kind = vec.build_ann(tmp_path, vecs)
    assert kind != "flat"
    ann = vec.load_ann(tmp_path, kind)
    hits = total = 0
    for q in queries:
        want, _exact_sims = vec.search(vecs, None, q, 10, None)
        got, got_sims = vec.search(vecs, ann, q, 10, None)
        hits += len(set(want.tolist()) & set(got.tolist()))
        total += len(want)
        # Candidates are re-scored with the stored vectors: the cosines are exact.
        np.testing.assert_allclose(got_sims, vecs[got] @ q, rtol=1e-5, atol=1e-6)
        assert list(got_sims) == sorted(got_sims, reverse=True)
    assert hits / total >= 0.95

    live = np.ones(len(vecs), bool)
    live[:200] = False
    for index in (None, ann):
        for q in queries[:20]:
            found, _ = vec.search(vecs, index, q, 10, live)
            assert len(found) == 10 and not (found < 200).any()
