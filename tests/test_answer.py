from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import SEEDS, shared_file
from seed_questions import ANSWERABLE, BORDER, SVR, UNANSWERABLE

from retrieval import Answer, Citebot, InputError
from retrieval.textnorm import normalize


@pytest.mark.parametrize(("question", "words", "url"), ANSWERABLE, ids=[q for q, _, _ in ANSWERABLE])
def test_seed_questions_quote_the_right_sentence(  # type: ignore[no-untyped-def]
    seed_engine, question: str, words: list[str], url: str
) -> None:
    ans = seed_engine.answer(question)
    assert ans.answered, question
    first = ans.quotes[0]
    for w in words:
        assert w.lower() in first.text.lower(), (question, first.text)
    assert first.url == url
    assert first.n == 1 and ans.sources[0].url == url


def test_at_least_95_percent_of_seed_questions_answered(seed_engine) -> None:  # type: ignore[no-untyped-def]
    answered = sum(seed_engine.answer(q).answered for q, _, _ in ANSWERABLE)
    assert answered / len(ANSWERABLE) >= 0.95


@pytest.mark.parametrize("question", UNANSWERABLE)
def test_questions_the_seeds_cannot_answer_abstain(seed_engine, question: str) -> None:  # type: ignore[no-untyped-def]
    ans = seed_engine.answer(question)
    assert not ans.answered
    assert ans.quotes == () and ans.sources == ()
    assert ans.closest  # front ends can still point at the nearest articles


def test_sources_numbered_by_first_use_and_only_quoted(seed_engine) -> None:  # type: ignore[no-untyped-def]
    ans = seed_engine.answer("What did Putin say about the West and Ukraine?", k=5)
    assert ans.answered
    used = [q.n for q in ans.quotes]
    assert sorted({s.n for s in ans.sources}) == list(range(1, len(ans.sources) + 1))
    assert {s.n for s in ans.sources} == set(used)
    first_use = list(dict.fromkeys(used))
    assert first_use == sorted(first_use)
    by_n = {s.n: s for s in ans.sources}
    for q in ans.quotes:
        assert by_n[q.n].article_id == q.article_id and q.url in (BORDER, SVR)


def test_empty_and_long_questions_are_refused(seed_engine) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InputError, match="empty"):
        seed_engine.answer("   ")
    with pytest.raises(InputError, match="1001 characters"):
        seed_engine.answer("x" * 1001)
    with pytest.raises(InputError, match="too small"):
        seed_engine.answer("What did the SVR say?", k=0)


def test_k_larger_than_the_index_means_every_passage(seed_engine) -> None:  # type: ignore[no-untyped-def]
    total = sum(a.passages for a in seed_engine.sources())
    passages = seed_engine.search("What did the SVR say?", k=10_000)
    assert len(passages) == total
    assert len({p.passage_id for p in passages}) == total
    assert seed_engine.answer("What did the SVR say?", k=10_000).answered


def _assert_quote_rules(bot: Citebot, ans: Answer) -> None:
    assert len(ans.quotes) <= 3
    texts = {}
    for q in ans.quotes:
        if q.article_id not in texts:
            texts[q.article_id] = bot.article(q.article_id).text
        art = texts[q.article_id]
        assert art[q.start:q.end] == q.text  # verbatim, exact span
        from retrieval.chunker import split_sentences

        sents = [s for s in split_sentences(art) if s.start >= q.start and s.end <= q.end]
        assert sents and sents[0].start == q.start and sents[-1].end == q.end  # whole sentences
        assert 1 <= len(sents) <= 2
        assert len(q.text) <= 300 or len(sents) == 1
    for i, a in enumerate(ans.quotes):
        for b in ans.quotes[i + 1:]:
            assert not (a.article_id == b.article_id and a.start < b.end and b.start < a.end)
            assert normalize(a.text) != normalize(b.text)


@pytest.fixture(scope="module")
def bbc_engine(tmp_path_factory, embedder):  # type: ignore[no-untyped-def]
    src = shared_file("corpora/bbc-news-2225.jsonl")
    d = tmp_path_factory.mktemp("bbc")
    sample = d / "bbc-sample.jsonl"
    sample.write_text("".join(src.read_text().splitlines(keepends=True)[:60]))
    bot = Citebot(d / "index", embedder=embedder)
    bot.index([SEEDS, sample])
    return bot


def test_quote_rules_hold_over_many_questions(bbc_engine, seed_engine) -> None:  # type: ignore[no-untyped-def]
    rows = shared_file("qa/realtimeqa-dev/questions.jsonl").read_text().splitlines()[:150]
    questions = [q for q, _, _ in ANSWERABLE] + [json.loads(r)["question"] for r in rows]
    answered = 0
    for q in questions:
        for bot in (bbc_engine, seed_engine):
            ans = bot.answer(q)
            answered += ans.answered
            if ans.answered:
                _assert_quote_rules(bot, ans)
            else:
                assert ans.quotes == ()
    assert answered > len(ANSWERABLE)  # the property was checked on real answers


def test_weak_marks_off_topic_answers_not_seed_answers(bbc_engine, seed_engine) -> None:  # type: ignore[no-untyped-def]
    strong = [q for q, _, _ in ANSWERABLE if not seed_engine.answer(q).weak]
    assert len(strong) >= 0.9 * len(ANSWERABLE)
    # Short questions have a low cosine with any one long sentence; the words carry them.
    assert "What did NATO's chief say?" in strong
    # realtimeqa's 2020-23 news is not in the seeds or in BBC's 2004-05 articles: what the
    # engine still answers there is a loose match and should say so.
    rows = shared_file("qa/realtimeqa-dev/questions.jsonl").read_text().splitlines()[:300]
    answered = [a for a in bbc_engine.answer_many([json.loads(r)["question"] for r in rows]) if a.answered]
    assert len(answered) >= 20
    assert sum(a.weak for a in answered) >= 0.7 * len(answered)


def test_seed_index_abstains_on_other_news(seed_engine) -> None:  # type: ignore[no-untyped-def]
    rows = shared_file("qa/realtimeqa-dev/questions.jsonl").read_text().splitlines()[::3]
    qs = [json.loads(r)["question"] for r in rows]
    abstained = sum(not a.answered for a in seed_engine.answer_many(qs))
    assert abstained / len(qs) >= 0.90


def test_answer_json_shape(seed_engine) -> None:  # type: ignore[no-untyped-def]
    d = seed_engine.answer("What did Germany's foreign ministry urge Moscow to do?").to_dict()
    assert set(d) == {"question", "answered", "weak", "period", "quotes", "sources"}
    assert d["weak"] is False
    assert set(d["quotes"][0]) == {
        "n", "text", "article_id", "title", "url", "published", "start", "end", "score"
    }
    assert set(d["sources"][0]) == {"n", "article_id", "title", "url", "published"}
    json.dumps(d)


def test_seeds_folder_is_the_shipped_corpus() -> None:
    names = sorted(p.name for p in SEEDS.iterdir())
    assert names == ["000_69cd93adf557b6b8.txt", "004_212586e071c012b4.txt"]
    shared = Path(SEEDS).resolve().parent.parent / "shared" / "seeds"
    if shared.exists():
        for n in names:
            assert (SEEDS / n).read_bytes() == (shared / n).read_bytes()
