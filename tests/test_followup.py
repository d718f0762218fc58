"""Follow-up questions: the pure rule (retrieval/followup.py), the engine's ``context`` argument
over the real seed index, and the measurement set the rule was tuned on."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, shared_file
from seed_questions import BORDER, SVR

from retrieval.followup import (
    CONTEXT_VECTOR_WEIGHT,
    MAX_CONTEXT_TERMS,
    blend,
    is_question,
    names,
    plan_followup,
    points_back,
    stands_alone,
)
from retrieval.textnorm import normalize

PESKOV = "What did Kremlin spokesman Dmitry Peskov tell reporters about troop movements?"
PAIRS = ROOT / "benchmarks" / "followup_pairs.jsonl"


# -- the rule -----------------------------------------------------------------------------
@pytest.mark.parametrize("question", [
    "What else did he say?", "Which news agency quoted him?", "Who is its spokesman?",
    "What about Germany?", "And how about the West?", "Why did he say that?",
    "How long is the deal?", "Who wrote it?", "Did they also comment?",
])
def test_questions_that_lean_on_the_conversation(question: str) -> None:
    assert not stands_alone(question)
    plan = plan_followup(question, [PESKOV])
    assert plan.builds_on == PESKOV
    assert "peskov" in plan.terms and "kremlin" in plan.terms
    assert plan.vector_weight == CONTEXT_VECTOR_WEIGHT
    assert plan.keyword_text.startswith(question) and "peskov" in plan.keyword_text


@pytest.mark.parametrize("question", [
    "What did Macron tell Putin in their phone call?",  # "their" has its names before it
    "How did Putin respond?",
    "Who is Sony's chief operating officer?",
    "When did the conflict with the separatists in the east start?",  # long enough alone
])
def test_questions_that_stand_alone_are_answered_alone(question: str) -> None:
    assert stands_alone(question)
    plan = plan_followup(question, [PESKOV])
    assert plan.builds_on is None and plan.terms == () and plan.vector_weight == 0
    assert plan.keyword_text == question


def test_no_context_means_no_follow_up() -> None:
    assert plan_followup("What else did he say?", []).builds_on is None
    assert plan_followup("What else did he say?", ["", "  "]).builds_on is None


def test_pronouns_after_a_name_do_not_point_back() -> None:
    assert not points_back("What did NATO say about its plans?")
    assert points_back("What did it say about NATO?")


def test_terms_skip_what_the_question_has_and_are_capped() -> None:
    plan = plan_followup("What else did Peskov say about troops?", [PESKOV], always=True)
    assert "peskov" not in plan.terms and "troop" not in plan.terms  # the question has them
    long = " ".join(f"Name{i}" for i in range(30)) + "?"
    assert len(plan_followup("Why?", [long]).terms) == MAX_CONTEXT_TERMS


def test_anchor_is_the_last_question_that_stood_alone() -> None:
    thread = [
        "What did NATO chief Jens Stoltenberg say?",
        PESKOV,
        "How had he previously described the Western claims?",  # leans on Peskov
    ]
    plan = plan_followup("Why did he say that?", thread)
    assert plan.builds_on == PESKOV
    assert plan.context_text == " ".join(thread[1:])
    assert "stoltenberg" not in plan.terms  # an older, finished topic
    # Names first, the latest question's first; then topic words.
    assert plan.terms[:4] == ("western", "kremlin", "dmitry", "peskov")
    assert "claims" in plan.terms[4:] and "spokesman" in plan.terms[4:]
    # Nothing stood alone: the conversation's first question anchors it.
    assert plan_followup("And then?", ["Who wrote it?", "Why?"]).builds_on == "Who wrote it?"


def test_names() -> None:
    assert names("What did NATO's chief say?") == ["nato"]
    assert names("Tom Hanks was where?") == ["tom", "hanks"]
    assert names("What did the Kremlin say? And Peskov?") == ["kremlin", "peskov"]


def test_blend_is_a_unit_vector_between_the_two() -> None:
    q = np.array([1.0, 0.0, 0.0], np.float32)
    c = np.array([0.0, 1.0, 0.0], np.float32)
    v = blend(q, c, 0.5)
    assert np.linalg.norm(v) == pytest.approx(1.0)
    assert v @ q > v @ c > 0
    assert np.allclose(blend(q, c, 0.0), q)
    assert np.allclose(blend(q, -q, 1.0), q)  # a degenerate blend falls back to the question


@pytest.mark.parametrize(("text", "expected"), [
    ("thanks!", False), ("ok cool", False), ("lol", False), ("nice one", False),
    ("what else did he say", True), ("ok and why did he say that", True), ("Peskov said what?", True),
    ("Is that in the article?", True),
])
def test_is_question(text: str, expected: bool) -> None:
    assert is_question(text) is expected


# -- the engine ---------------------------------------------------------------------------
def test_a_follow_up_finds_the_earlier_subject(seed_engine) -> None:  # type: ignore[no-untyped-def]
    first = "What did Russia's SVR say the Americans are painting?"
    alone = seed_engine.answer("What else did it say?")
    assert not alone.answered  # by itself the question names nothing the articles hold
    ans = seed_engine.answer("What else did it say?", context=[first])
    assert ans.answered and ans.question == "What else did it say?"
    assert ans.followup_of == first
    assert ans.quotes[0].url == SVR and "SVR" in " ".join(q.text for q in ans.quotes)
    d = ans.to_dict()
    assert d["followup_of"] == first and d["question"] == "What else did it say?"


def test_follow_up_about_a_spokesman_quotes_his_article(seed_engine) -> None:  # type: ignore[no-untyped-def]
    from retrieval import InputError

    first = "Who is the spokesman of Ukraine's state border service?"
    with pytest.raises(InputError, match="no words to look for"):
        seed_engine.answer("What did he say?")  # alone it names nothing to search for
    ans = seed_engine.answer("What did he say?", context=[first])
    assert ans.answered and ans.quotes[0].url == BORDER
    assert "Demchenko" in ans.quotes[0].text


def test_a_question_that_stands_alone_ignores_the_context(seed_engine) -> None:  # type: ignore[no-untyped-def]
    q = "How did Putin respond?"
    plain, with_context = seed_engine.answer(q), seed_engine.answer(q, context=[PESKOV])
    assert with_context.followup_of is None
    assert [x.text for x in with_context.quotes] == [x.text for x in plain.quotes]
    assert "followup_of" not in plain.to_dict()  # the stable JSON is unchanged
    follow = seed_engine.answer("What did he say?",
                                context=["Who is the spokesman of Ukraine's state border service?"])
    assert set(follow.to_dict()) == set(plain.to_dict()) | {"followup_of"}


def test_follow_up_input_is_checked_like_a_question(seed_engine) -> None:  # type: ignore[no-untyped-def]
    from retrieval import InputError

    with pytest.raises(InputError, match="empty"):
        seed_engine.answer("  ", context=[PESKOV])
    with pytest.raises(InputError, match="over the limit"):
        seed_engine.answer("x" * 1001, context=[PESKOV])


# -- the measurement set ------------------------------------------------------------------
def _pairs() -> list[dict[str, object]]:
    return [json.loads(line) for line in PAIRS.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_measurement_set_has_at_least_30_answerable_pairs_of_each_source() -> None:
    pairs = _pairs()
    answerable = [p for p in pairs if p["answers"]]
    assert len(answerable) >= 30
    assert {p["kind"] for p in pairs} == {"elliptical", "self-contained", "topic-shift", "unanswerable"}
    assert any(str(p["gold"][0]).startswith("https://") for p in pairs)  # type: ignore[index]
    assert any(str(p["gold"][0]).startswith("bbc-") for p in pairs)  # type: ignore[index]
    assert len({p["id"] for p in pairs}) == len(pairs)


def test_seed_pairs_answers_are_in_their_articles(seed_engine) -> None:  # type: ignore[no-untyped-def]
    for p in _pairs():
        gold = str(p["gold"][0])  # type: ignore[index]
        if gold.startswith("https://"):
            text = normalize(seed_engine.article(gold).text)
            for a in p["answers"]:  # type: ignore[attr-defined]
                assert normalize(a) in text, (p["id"], a)


def test_bbc_pairs_answers_are_in_their_articles() -> None:
    bbc = shared_file("corpora/bbc-news-2225.jsonl")
    texts: dict[str, str] = {}
    for line in Path(bbc).read_text(encoding="utf-8").splitlines():
        d = json.loads(line)
        texts[d["id"]] = normalize(d["text"])
    for p in _pairs():
        gold = str(p["gold"][0])  # type: ignore[index]
        if gold.startswith("bbc-"):
            for a in p["answers"]:  # type: ignore[attr-defined]
                assert normalize(a) in texts[gold], (p["id"], a)
