"""Hubness: the mean cosine to the nearest vectors of other articles, computed at index time."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
from conftest import SEEDS

from retrieval import Citebot, hubness
from retrieval.chunker import split_sentences
from retrieval.commit import read_live_commit
from retrieval.hubness import hub_scores
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


def test_approximate_neighbours_track_exact_ones(xquad_sentences, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    _, groups, vecs = xquad_sentences
    exact = hub_scores(vecs, groups)
    monkeypatch.setattr(hubness, "EXACT_WORK", 0)  # every chunk through the inverted file
    approx = hub_scores(vecs, groups)
    assert np.corrcoef(exact, approx)[0, 1] > 0.95
    assert float(np.abs(exact - approx).mean()) < 0.02


def _segment_hubs(index_dir: Path) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    commit = read_live_commit(index_dir)
    assert commit is not None
    out = []
    for info in commit.segments:
        d = index_dir / info.name
        out.append(tuple(np.load(d / f"{n}.npy") for n in
                         ("passage_ids", "passage_hub", "sentence_ids", "sentence_hub")))
    return out  # type: ignore[return-value]


EXTRA = [
    ("Kremlin denies troop build-up", "Russia's Kremlin said Western reports of a troop "
     "build-up near Ukraine were hysteria. NATO said it was watching closely."),
    ("Weather", "Heavy snow fell across Moscow on Monday, closing schools."),
]


def test_new_vectors_get_hubness_against_the_whole_index(tmp_path: Path, embedder, cache_dir) -> None:  # type: ignore[no-untyped-def]
    src = tmp_path / "articles"
    shutil.copytree(SEEDS, src)
    bot = Citebot(tmp_path / "index", embedder=embedder, cache_dir=cache_dir)
    bot.index([src])
    ((_p_ids, p_hub, _s_ids, s_hub),) = _segment_hubs(tmp_path / "index")
    assert (p_hub > 0).all() and (s_hub > 0).all()

    (src / "extra.jsonl").write_text("".join(
        json.dumps({"id": f"x{i}", "title": t, "text": body}) + "\n" for i, (t, body) in enumerate(EXTRA)))
    bot.index([src])
    (old_p, old_ph, _, old_sh), (new_p, new_ph, _new_s, _new_sh) = _segment_hubs(tmp_path / "index")
    # The old segment keeps its values until a merge refreshes them ...
    np.testing.assert_array_equal(old_ph, p_hub)
    np.testing.assert_array_equal(old_sh, s_hub)
    # ... and the new rows' hubness is what a full computation over both segments gives them.
    view = bot.view()
    rows = [r for st in view.segments for r in st.seg.conn.execute(
        "SELECT p.id, a.id FROM passages p JOIN articles a ON a.ord = p.article ORDER BY p.id")]
    ids = [r[0] for r in rows]
    vecs = np.vstack([np.asarray(st.seg.passage_vectors) for st in view.segments])
    full = hub_scores(vecs, np.array([r[1] for r in rows], dtype=object))
    at = {pid: i for i, pid in enumerate(ids)}
    np.testing.assert_allclose(new_ph, full[[at[int(p)] for p in new_p]], atol=1e-5)
    # After compaction every row has the full computation's value.
    bot.compact()
    ((c_ids, c_hub, _, _),) = _segment_hubs(tmp_path / "index")
    np.testing.assert_allclose(c_hub, full[[at[int(p)] for p in c_ids]], atol=1e-5)
    assert any(c_hub[np.searchsorted(c_ids, p)] != h for p, h in zip(old_p, old_ph, strict=True))
    bot.close()


def test_an_old_index_without_hubness_gets_it_on_upgrade(tmp_path: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    fixture = Path(__file__).parent / "data" / "index-v1-seeds"
    idx = tmp_path / "old"
    shutil.copytree(fixture, idx)
    (idx / "gen-000001" / "hubness.npz").unlink()
    bot = Citebot(idx, embedder=embedder)
    ans = bot.answer("What did the SVR say?")
    assert ans.answered and "SVR" in ans.quotes[0].text
    ((_, p_hub, _, s_hub),) = _segment_hubs(idx)
    assert (p_hub > 0).all() and (s_hub > 0).all()
    bot.close()
