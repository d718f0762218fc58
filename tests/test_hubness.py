"""Hubness: the mean cosine to the nearest vectors of other articles, computed at index time."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
from conftest import SEEDS, shared_file

from retrieval import Citebot
from retrieval.chunker import split_sentences
from retrieval.hubness import hub_scores
from retrieval.index import HUBNESS, current_generation
from retrieval.loaders import load_articles


def _seed_sentences(embedder) -> tuple[np.ndarray, np.ndarray]:  # type: ignore[no-untyped-def]
    """Seed sentences, grouped by paragraph so that there are many groups."""
    texts: list[str] = []
    groups: list[str] = []
    for art in load_articles([SEEDS]).articles:
        for s in split_sentences(art.text):
            texts.append(art.text[s.start:s.end])
            groups.append(f"{art.id}:{art.text.count(chr(10) * 2, 0, s.start)}")
    return embedder.encode(texts), np.array(groups, dtype=object)


def _brute_force(vecs: np.ndarray, groups: np.ndarray, k: int) -> np.ndarray:
    sims = vecs @ vecs.T
    out = np.zeros(len(vecs), np.float32)
    for i in range(len(vecs)):
        other = np.sort(sims[i][groups != groups[i]])[::-1][:k]
        out[i] = other.mean()
    return out


def test_hub_scores_match_brute_force_on_real_text(embedder) -> None:  # type: ignore[no-untyped-def]
    vecs, groups = _seed_sentences(embedder)
    assert len(set(groups)) > 10
    got = hub_scores(vecs, groups, k=5)
    np.testing.assert_allclose(got, _brute_force(vecs, groups, 5), atol=1e-5)
    assert got.min() > 0.0 and got.max() < 1.0


def test_neighbours_from_the_same_article_do_not_count(embedder) -> None:  # type: ignore[no-untyped-def]
    vecs, groups = _seed_sentences(embedder)
    # The first sentence, copied into its own paragraph: the copy is its nearest neighbour
    # (cosine 1), but it belongs to the same article and must be ignored.
    dup = np.vstack([vecs, vecs[:1]])
    same = np.append(groups, groups[0])
    other = np.append(groups, "another article")
    h_same = hub_scores(dup, same, k=5)
    h_other = hub_scores(dup, other, k=5)
    np.testing.assert_allclose(h_same[0], _brute_force(vecs, groups, 5)[0], atol=1e-5)
    assert h_other[0] > h_same[0] + 0.05  # with the copy counted, cosine 1 enters the mean


def test_an_article_of_near_copies_looks_past_its_own_rows(embedder) -> None:  # type: ignore[no-untyped-def]
    vecs, groups = _seed_sentences(embedder)
    # 30 copies of one sentence in one article fill every first-round neighbour slot with
    # same-article rows; the deeper second search must still find other articles' rows.
    copies = np.vstack([vecs, np.repeat(vecs[:1], 30, axis=0)])
    labels = np.append(groups, ["copies"] * 30).astype(object)
    got = hub_scores(copies, labels, k=5)
    np.testing.assert_allclose(got, _brute_force(copies, labels, 5), atol=1e-5)


def test_one_article_or_none_has_no_hubness(embedder) -> None:  # type: ignore[no-untyped-def]
    vecs, _ = _seed_sentences(embedder)
    assert not hub_scores(vecs, np.array(["a"] * len(vecs), dtype=object)).any()
    assert len(hub_scores(np.zeros((0, 384), np.float32), np.array([], dtype=object))) == 0


def test_approximate_neighbours_track_exact_ones(embedder) -> None:  # type: ignore[no-untyped-def]
    arts = load_articles([shared_file("qa/xquad-en/articles.jsonl")]).articles
    texts = [a.text[s.start:s.end] for a in arts for s in split_sentences(a.text)]
    groups = np.array([a.id for a in arts for _ in split_sentences(a.text)], dtype=object)
    vecs = embedder.encode(texts, batch_size=64)
    exact = hub_scores(vecs, groups)
    approx = hub_scores(vecs, groups, exact_below=100)
    assert np.corrcoef(exact, approx)[0, 1] > 0.95
    assert float(np.abs(exact - approx).mean()) < 0.02


def test_every_build_stores_hubness_for_every_vector(tmp_path: Path, embedder, cache_dir) -> None:  # type: ignore[no-untyped-def]
    src = tmp_path / "articles"
    shutil.copytree(SEEDS, src)
    bot = Citebot(tmp_path / "index", embedder=embedder, cache_dir=cache_dir)
    bot.index([src])
    gen = current_generation(tmp_path / "index")
    assert gen is not None
    manifest = json.loads((gen / "manifest.json").read_text())
    with np.load(gen / HUBNESS) as z:
        before = dict(zip(z["passage_ids"].tolist(), z["passage"].tolist(), strict=True))
        assert len(z["passage"]) == manifest["passages"]
        assert len(z["sentence"]) == manifest["sentences"]
        assert (z["passage"] > 0).all() and (z["sentence"] > 0).all()

    # Hubness is relative to the corpus: adding articles recomputes it for the old passages too.
    extra = src / "extra.jsonl"
    extra.write_text("".join(
        json.dumps({"id": f"x{i}", "title": t, "text": body}) + "\n"
        for i, (t, body) in enumerate([
            ("Kremlin denies troop build-up", "Russia's Kremlin said Western reports of a troop "
             "build-up near Ukraine were hysteria. NATO said it was watching closely."),
            ("Weather", "Heavy snow fell across Moscow on Monday, closing schools."),
        ])
    ))
    bot.index([src])
    gen2 = current_generation(tmp_path / "index")
    assert gen2 is not None and gen2 != gen
    with np.load(gen2 / HUBNESS) as z:
        after = dict(zip(z["passage_ids"].tolist(), z["passage"].tolist(), strict=True))
    kept = before.keys() & after.keys()
    assert kept and any(after[p] != before[p] for p in kept)
    bot.close()


def test_an_index_from_before_hubness_still_answers(tmp_path: Path, seed_index_dir: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    idx = tmp_path / "old"
    shutil.copytree(seed_index_dir, idx)
    gen = current_generation(idx)
    assert gen is not None
    (gen / HUBNESS).unlink()
    bot = Citebot(idx, embedder=embedder)
    ans = bot.answer("What did NATO's chief say?")
    assert ans.answered and "Stoltenberg" in " ".join(q.text for q in ans.quotes)
    assert not bot.reader.passage_hubs([1, 2]).any()
    bot.close()
