"""Votes on answers (retrieval/feedback.py) in a real state database, answers from the real
engine, and the ``citebot feedback`` / ``citebot eval --feedback`` commands in subprocesses."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from seed_questions import BORDER, SVR
from test_cli import run

from retrieval import Answer, NotFoundError
from retrieval.feedback import DOWN, UP, FeedbackStore, has_feedback_db, is_answer_id
from retrieval.state import state_path

GERMANY = "What did Germany's foreign ministry urge Moscow to do?"
PESKOV = "How had Peskov previously described the Western claims?"


@pytest.fixture()
def index_copy(seed_index_dir: Path, tmp_path: Path) -> Path:
    """A private copy of the seed index, so its state database starts empty."""
    dest = tmp_path / "index"
    shutil.copytree(seed_index_dir, dest, ignore=shutil.ignore_patterns("state.sqlite*"))
    return dest


def record(store: FeedbackStore, engine: Any, question: str, **kw: Any) -> tuple[str, Answer]:
    ans = engine.answer(question)
    ids = [engine.sentence_ids(q) for q in ans.quotes]
    return store.record(ans, sentence_ids=ids, **kw), ans


def test_votes_keep_the_question_and_where_each_quote_is(seed_engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with FeedbackStore(tmp_path) as store:
        aid, ans = record(store, seed_engine, GERMANY)
        assert is_answer_id(aid)
        assert store.vote(aid, 1234, UP) == "recorded"
        (vote,) = store.votes()
    assert vote.question == GERMANY and vote.vote == UP and vote.answered
    assert len(vote.quotes) == len(ans.quotes)
    for ref, quote in zip(vote.quotes, ans.quotes, strict=True):
        article = seed_engine.article(ref.article_id)
        assert article.text[ref.start:ref.end] == ref.text == quote.text
        assert ref.sentence_ids  # the index sentences the quote is made of
        rows = {s.id: s for s in seed_engine.view().article_sentences(ref.article_id)}
        assert rows[ref.sentence_ids[0]].start == ref.start
        assert rows[ref.sentence_ids[-1]].end == ref.end
    d = vote.to_dict()
    assert d["vote"] == "up" and d["at"].endswith("Z") and d["quotes"][0]["start"] >= 0
    assert "restraint" in d["quotes"][0]["text"]


def test_one_vote_per_user_per_answer_and_it_can_change(seed_engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with FeedbackStore(tmp_path) as store:
        aid, _ = record(store, seed_engine, GERMANY)
        assert store.vote(aid, 7, UP) == "recorded"
        assert store.vote(aid, 7, UP) == "unchanged"
        assert store.vote(aid, 7, DOWN) == "changed"
        assert store.vote(aid, 8, UP) == "recorded"
        votes = store.votes()
    assert sorted(v.vote for v in votes) == [DOWN, UP]
    assert len({v.voter for v in votes}) == 2


def test_voters_are_hashed_with_a_salt_made_once_per_install(seed_engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    user = 987654321012345678
    with FeedbackStore(tmp_path / "a") as a:
        aid, _ = record(a, seed_engine, GERMANY)
        a.vote(aid, user, UP)
        first = a.voter(user)
    with FeedbackStore(tmp_path / "a") as again, FeedbackStore(tmp_path / "b") as other:
        assert again.voter(user) == first  # the salt was kept in the database
        assert other.voter(user) != first  # another install, another salt
        assert again.votes()[0].voter == first
    raw = b"".join(p.read_bytes() for p in (tmp_path / "a").iterdir())
    assert str(user).encode() not in raw  # the id itself is never stored
    with sqlite3.connect(state_path(tmp_path / "a")) as conn:
        assert conn.execute("SELECT count(*) FROM feedback_install").fetchone() == (1,)


def test_a_vote_on_an_unknown_answer_says_so(tmp_path: Path) -> None:
    with FeedbackStore(tmp_path) as store, pytest.raises(NotFoundError, match="no recorded answer"):
        store.vote("0123456789abcdef", 1, UP)
    with FeedbackStore(tmp_path) as store, pytest.raises(ValueError, match="vote is 1 or -1"):
        store.vote("0123456789abcdef", 1, 5)


def test_prune_forgets_old_answers_nobody_voted_on(seed_engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with FeedbackStore(tmp_path) as store:
        old, _ = record(store, seed_engine, GERMANY, now=1_000.0)
        voted, _ = record(store, seed_engine, PESKOV, now=1_000.0)
        new, _ = record(store, seed_engine, GERMANY)
        store.vote(voted, 1, UP)
        assert store.prune(older_than_days=30) == 1
        assert store.answer(old) is None
        assert store.answer(voted) is not None and store.answer(new) is not None


def test_liked_answers_become_questions(seed_engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with FeedbackStore(tmp_path) as store:
        liked, _ = record(store, seed_engine, GERMANY)
        again, _ = record(store, seed_engine, "  what did germany's foreign ministry urge moscow to do?")
        disliked, _ = record(store, seed_engine, PESKOV)
        tied, _ = record(store, seed_engine, "What did the SVR say about the American claims?")
        abstained, _ = record(store, seed_engine, "Who won the 2018 FIFA World Cup?")
        follow = seed_engine.answer("What else did it say?",
                                    context=["What did Russia's SVR say the Americans are painting?"])
        fu = store.record(follow, context=["What did Russia's SVR say the Americans are painting?"])
        for aid in (liked, again, abstained, fu):
            store.vote(aid, 1, UP)
        store.vote(liked, 2, UP)
        store.vote(disliked, 1, DOWN)
        store.vote(tied, 1, UP)
        store.vote(tied, 2, DOWN)
        questions = store.question_set()
    assert [q.question for q in questions] == [GERMANY, "What else did it say?"]
    germany, followup = questions
    assert germany.gold == (BORDER,) and any("restraint" in a for a in germany.answers)
    assert followup.context == ("What did Russia's SVR say the Americans are painting?",)
    assert followup.gold == (SVR,)


# -- the commands -------------------------------------------------------------------------
def _votes(index: Path, engine: Any) -> None:
    with FeedbackStore(index) as store:
        good, _ = record(store, engine, GERMANY)
        bad, _ = record(store, engine, PESKOV)
        store.vote(good, 11, UP)
        store.vote(bad, 12, DOWN)


def test_feedback_command_lists_votes(index_copy: Path, seed_engine) -> None:  # type: ignore[no-untyped-def]
    empty = run("feedback", index=index_copy)
    assert empty.returncode == 0 and empty.stdout.startswith("No votes yet")
    assert not has_feedback_db(index_copy)  # listing created nothing
    _votes(index_copy, seed_engine)
    r = run("feedback", "--json", index=index_copy)
    assert r.returncode == 0, r.stderr
    votes = json.loads(r.stdout)["votes"]
    assert [(v["question"], v["vote"]) for v in votes] == [(GERMANY, "up"), (PESKOV, "down")]
    assert votes[0]["quotes"][0]["article_id"] == BORDER and len(votes[0]["voter"]) == 32
    text = run("feedback", index=index_copy)
    assert text.returncode == 0 and text.stdout.startswith("2 votes on 2 answers: 1 👍, 1 👎")
    assert GERMANY in text.stdout and f"{BORDER} [" in text.stdout


def test_eval_on_feedback(index_copy: Path, seed_engine) -> None:  # type: ignore[no-untyped-def]
    none = run("eval", "--feedback", index=index_copy)
    assert none.returncode == 2 and none.stderr.count("\n") == 1
    assert "no liked answers" in none.stderr and "Traceback" not in none.stderr
    _votes(index_copy, seed_engine)
    r = run("eval", "--feedback", "--json", index=index_copy)
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["questions"] == 1  # the liked answer only
    assert report["article_hit@1"] == 1.0 and report["quote_hit@1"] == 1.0
    both = run("eval", "questions.jsonl", "--feedback", index=index_copy)
    assert both.returncode == 2 and "not both or neither" in both.stderr


def test_an_unopenable_state_database_is_one_line(tmp_path: Path) -> None:
    from retrieval import IndexStateError

    state_path(tmp_path).mkdir()  # a folder where the database file should be
    with pytest.raises(IndexStateError, match=r"cannot open the index.s state database .*writable"):
        FeedbackStore(tmp_path)
