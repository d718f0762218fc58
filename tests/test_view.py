"""A view's keyword scores are BM25 over the whole index, whatever the segments."""

from __future__ import annotations

import json
import shutil

import pytest
from conftest import SEEDS

from retrieval import Citebot
from retrieval import view as view_module
from retrieval.terms import content_words

QUESTIONS = ["What did the SVR say about Ukraine?", "Kremlin NATO troops border",
             "How much did the Harbour Bridge repairs cost?", "Russia invasion hysteria Peskov"]
EXTRA = [{"id": f"x{i}", "title": f"Harbour note {i}", "text": text} for i, text in enumerate([
    "The Harbour Bridge reopened after repairs that cost 40 million dollars, officials said.",
    "Russia's Kremlin said reports of troops near Ukraine were hysteria; NATO disagreed.",
    "Peskov told reporters the border was calm and the SVR had nothing to add.",
])]


@pytest.fixture(scope="module")
def indexes(tmp_path_factory: pytest.TempPathFactory, embedder) -> tuple[Citebot, Citebot]:  # type: ignore[no-untyped-def]
    src = tmp_path_factory.mktemp("src")
    for p in SEEDS.iterdir():
        shutil.copy(p, src / p.name)
    (src / "extra.jsonl").write_text("".join(json.dumps(r) + "\n" for r in EXTRA))
    one = Citebot(tmp_path_factory.mktemp("one"), embedder=embedder)
    one.index([src])
    two = Citebot(tmp_path_factory.mktemp("two"), embedder=embedder)
    two.index([SEEDS])
    two.add_articles(one.article(r["id"]) for r in EXTRA)  # type: ignore[misc]
    assert len(two.view().segments) == 2 and len(one.view().segments) == 1
    return one, two


def test_one_segment_scores_are_fts5_bm25(indexes: tuple[Citebot, Citebot]) -> None:
    one, _ = indexes
    view = one.view()
    conn = view.segments[0].seg.conn
    for q in QUESTIONS:
        query = " OR ".join(f'"{w}"' for w in dict.fromkeys(content_words(q)))
        want = {r: -s for r, s in conn.execute(
            "SELECT rowid, bm25(passages_fts, 2.0, 1.0) FROM passages_fts WHERE passages_fts MATCH ?",
            (query,))}
        got = view.keyword_scores(q)
        assert got.keys() == want.keys()
        for pid, score in want.items():
            assert got[pid] == pytest.approx(score, rel=1e-9), q


def test_two_segments_score_like_one(indexes: tuple[Citebot, Citebot]) -> None:
    one, two = indexes
    for q in QUESTIONS:
        a, b = one.view().keyword_scores(q), two.view().keyword_scores(q)
        by_text_a = {_key(one, p): s for p, s in a.items()}
        by_text_b = {_key(two, p): s for p, s in b.items()}
        assert by_text_a.keys() == by_text_b.keys()
        for k, s in by_text_a.items():
            assert by_text_b[k] == pytest.approx(s, rel=1e-6, abs=1e-9), (q, k)
        top_a = sorted(by_text_a, key=by_text_a.__getitem__, reverse=True)[:3]
        top_b = sorted(by_text_b, key=by_text_b.__getitem__, reverse=True)[:3]
        assert top_a == top_b, q


def _key(bot: Citebot, pid: int) -> tuple[str, int, int]:
    row = bot.view().passages([pid])[pid]
    return row.article_id, row.start, row.end


def test_common_terms_leave_the_keyword_query_of_a_large_index(indexes: tuple[Citebot, Citebot],
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    one, _ = indexes
    view = one.view()
    q = "Ukraine reopened"  # "ukraine" is in most passages, "reopened" in one
    full = view.keyword_scores(q)
    monkeypatch.setattr(view_module, "LARGE_INDEX", 0)
    pruned = view.keyword_scores(q)
    assert 0 < len(pruned) < len(full)
    assert all("reopened" in view.article(view.passages([p])[p].article_id).text for p in pruned)
