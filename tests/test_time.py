"""Time-aware answers: the asking date, time in the question, explicit filters, and undated articles,
through the engine and every command-line path."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from conftest import ROOT, SEEDS
from seed_questions import ANSWERABLE, BORDER, SVR

from retrieval import Citebot, InputError
from retrieval.scope import said_in, scope_for
from retrieval.timeparse import parse_time

UNDATED = {"id": "undated-1", "title": "Kremlin comment on troop reports",
           "text": ("The Kremlin spokesman said Western reports of Russian troops massing near Ukraine "
                    "were fake news designed to stoke tension.\n\nHe gave no date for any withdrawal.")}
LATER = {"id": "later-1", "title": "Spy agency repeats denial", "published": "2022-02-01",
         "source": "Example Wire", "url": "https://wire.example.com/2022/02/01/spy-agency",
         "text": ("Russia's SVR foreign intelligence service again said on Tuesday that reports of an "
                  "invasion plan were Western propaganda.\n\nThe agency gave no evidence.")}


@pytest.fixture(scope="module")
def timed_index(tmp_path_factory: pytest.TempPathFactory, embedder) -> Path:  # type: ignore[no-untyped-def]
    src = tmp_path_factory.mktemp("timed-src")
    for p in SEEDS.iterdir():
        shutil.copy(p, src / p.name)
    (src / "more.jsonl").write_text("".join(json.dumps(r) + "\n" for r in (UNDATED, LATER)))
    idx = tmp_path_factory.mktemp("timed-index")
    Citebot(idx, embedder=embedder).index([src])
    return idx


@pytest.fixture(scope="module")
def bot(timed_index: Path, embedder) -> Citebot:  # type: ignore[no-untyped-def]
    return Citebot(timed_index, embedder=embedder)


def test_a_period_in_the_question_filters_what_was_said(seed_engine) -> None:  # type: ignore[no-untyped-def]
    nov = seed_engine.answer("What did the SVR say in November 2021?")
    assert nov.answered and {q.url for q in nov.quotes} == {SVR}
    assert nov.period == "Articles from November 2021"
    assert not seed_engine.answer("What did the SVR say in 2019?").answered


def test_a_relative_period_that_holds_nothing_is_dropped_and_said(seed_engine) -> None:  # type: ignore[no-untyped-def]
    q = "What did the SVR say over the past three months?"
    # Asked today of the 2021 seeds: the period holds no article, so all dates answer, and the
    # answer says the period was dropped.
    now = seed_engine.answer(q)
    assert now.answered and now.quotes[0].url == SVR
    assert now.period is not None and now.period.startswith("No articles from ")
    assert now.period.endswith("; all dates used")
    # Asked in December 2021 the same period holds the SVR article and filters as usual.
    then = seed_engine.answer(q, as_of="2021-12-01")
    assert then.answered and then.period == "Articles from 2 Sep-1 Dec 2021"
    # Asked before any article, the period is dropped, and still nothing after the asking date.
    early = seed_engine.answer(q, as_of="2021-01-01")
    assert not early.quotes


def test_seed_questions_answer_as_before(seed_engine) -> None:  # type: ignore[no-untyped-def]
    # Asked today, "on Monday" is a week of 2026 the seeds say nothing of: the phrase changes
    # nothing, and the answer names no period.
    for question, _, url in ANSWERABLE:
        ans = seed_engine.answer(question)
        assert ans.period is None and ans.quotes and ans.quotes[0].url == url, question
    monday = "What did Russia's foreign intelligence service dismiss on Monday?"
    assert parse_time(monday, date(2026, 12, 2)).range is not None
    # Asked on the day, the same phrase is the Monday of the SVR article, and the answer says so.
    then = seed_engine.answer(monday, as_of="2021-11-23")
    assert then.period == "Articles from 22 Nov 2021" and then.quotes[0].url == SVR


def test_nothing_published_after_the_asking_date_is_quoted(bot: Citebot) -> None:
    for as_of in ("2021-11-21", date(2021, 11, 30), datetime(2022, 1, 31, 23, 59, tzinfo=UTC)):
        for q in ("What did the SVR say?", "What did Russia's spy agency say about invasion plans?"):
            for quote in bot.answer(q, as_of=as_of).quotes:
                assert quote.published is None or quote.published <= str(as_of)[:10]
    # Before the spy agency article, only the border article (and the undated one) may answer.
    early = bot.search("What did the SVR say about an invasion?", as_of="2021-11-20", k=50)
    assert {p.url for p in early} <= {BORDER, None}
    assert bot.answer("What did the SVR say?", as_of="2022-03-01").quotes  # later: answered


def test_this_week_prefers_the_week_before_the_asking_date(bot: Citebot) -> None:
    q = "What did Russia's foreign intelligence service say this week about invasion claims?"
    late = bot.answer(q, as_of="2022-02-03")
    assert late.period == "Articles from 28 Jan-3 Feb 2022"
    assert late.quotes[0].url == LATER["url"]
    early = bot.answer(q, as_of="2021-11-24")
    assert early.quotes[0].url == SVR


def test_undated_articles_survive_priors_but_not_explicit_filters(bot: Citebot) -> None:
    q = "What did the Kremlin spokesman say about fake news of troops?"
    assert bot.answer(q).quotes[0].article_id == "undated-1"
    assert bot.answer(q + " this week", as_of="2021-11-23").quotes[0].article_id == "undated-1"
    assert bot.answer(q, as_of="2021-11-20").quotes[0].article_id == "undated-1"  # as_of keeps it
    explicit = bot.answer(q, since="2021-11-01")
    assert all(x.article_id != "undated-1" for x in explicit.quotes)
    assert explicit.period == "Articles since 1 Nov 2021"
    everything = bot.sources()
    assert sum(1 for a in everything if a.published is None) == 1
    assert [a.id for a in bot.sources(since="2022-01-01")] == ["later-1"]


def test_source_filter_and_a_filter_that_leaves_nothing(bot: Citebot) -> None:
    only = bot.answer("What did the SVR say?", source="Example Wire")
    assert {x.article_id for x in only.quotes} == {"later-1"}
    assert {x.article_id for x in bot.answer("What did the SVR say?", source="wire.example.com").quotes} \
        == {"later-1"}
    with pytest.raises(InputError, match="no indexed article was published"):
        bot.answer("What did the SVR say?", until="2020-12-31")
    with pytest.raises(InputError, match="from Nobody"):
        bot.cite("The SVR said", source="Nobody")
    with pytest.raises(InputError, match="after"):
        bot.answer("What did the SVR say?", since="2022", until="2021")


def test_citation_lookups_read_no_time_into_the_claim(bot: Citebot) -> None:
    claim = "Russia's SVR foreign intelligence service on Monday dismissed growing Western allegations"
    assert bot.cite(claim)[0].verbatim
    assert not bot.cite(claim, as_of="2021-11-20") or not bot.cite(claim, as_of="2021-11-20")[0].verbatim


def test_time_words_are_not_keywords() -> None:
    s = scope_for("What did the Kremlin say this week about the week-long drills?", as_of="2021-11-20")
    assert "this week" not in s.keyword_text and "week-long" in s.keyword_text
    s2 = scope_for("What happened in 2019 in Hong Kong?", as_of="2021-11-20")
    assert "2019" in s2.keyword_text  # a calendar year is what articles repeat
    assert said_in("What did the SVR say in 2019?", parse_time("What did the SVR say in 2019?"))
    assert not said_in("Who won the election in 2020?", parse_time("Who won the election in 2020?"))
    assert not said_in("Guns bought in the United States in July 2020?",
                       parse_time("Guns bought in the United States in July 2020?"))


# -- the command line -------------------------------------------------------------------------

def run(*args: str, index: Path, stdin: str | bytes | None = None) -> subprocess.CompletedProcess:  # type: ignore[type-arg]
    env = {**os.environ, "CITEBOT_LOG_LEVEL": "WARNING"}
    return subprocess.run([sys.executable, "-m", "bot", *args, "--index", str(index)], cwd=ROOT,
                          input=stdin.encode() if isinstance(stdin, str) else stdin,
                          capture_output=True, env=env, timeout=180)


def test_cli_filters_on_every_command(timed_index: Path) -> None:
    r = run("ask", "--json", "--as-of", "2021-11-20", "What did the SVR say?", index=timed_index)
    assert r.returncode == 0, r.stderr
    assert all(q["published"] in (None, "2021-11-16") for q in json.loads(r.stdout)["quotes"])
    r = run("search", "--json", "--since", "2022-01", "What did the SVR say?", index=timed_index)
    assert {p["article_id"] for p in json.loads(r.stdout)["passages"]} == {"later-1"}
    r = run("cite", "--json", "--source", "Example Wire",
            "reports of an invasion plan were Western propaganda", index=timed_index)
    matches = json.loads(r.stdout)["matches"]
    assert matches and matches[0]["verbatim"] and matches[0]["article_id"] == "later-1"
    r = run("sources", "--json", "--until", "2021-11-30", index=timed_index)
    assert {a["published"] for a in json.loads(r.stdout)["articles"]} == {"2021-11-16", "2021-11-22"}
    r = run("sources", index=timed_index)
    assert b"(1 undated)" in r.stdout
    r = run("ask", "--until", "1999", "What did the SVR say?", index=timed_index)
    assert r.returncode == 2 and r.stdout == b""
    [line] = r.stderr.decode().strip().splitlines()
    assert "no indexed article was published" in line
    r = run("ask", "--since", "next tuesday-ish", "What did the SVR say?", index=timed_index)
    assert r.returncode == 2 and b"YYYY-MM-DD" in r.stderr and b"Traceback" not in r.stderr


def test_cli_shows_the_period_and_dates_beside_quotes(timed_index: Path) -> None:
    r = run("ask", "What did the SVR say about invasion plans in November 2021 and February 2022?",
            index=timed_index)
    assert r.returncode == 0
    r = run("ask", "What did Russia's foreign intelligence service say this week?",
            "--as-of", "2022-02-03", index=timed_index)
    out = r.stdout.decode()
    assert out.splitlines()[0] == "Articles from 28 Jan-3 Feb 2022"
    q = "What did the SVR say about Western claims of an invasion?"
    many = run("ask", "--json", q, index=timed_index)
    quotes = json.loads(many.stdout)["quotes"]
    text = run("ask", q, index=timed_index).stdout.decode()
    if len({q["published"] for q in quotes}) > 1:
        assert all(f"({q['published']})" in text for q in quotes if q["published"])
    else:
        assert "(20" not in text.split("Sources")[0]


def test_batch_lines_carry_their_own_time(timed_index: Path) -> None:
    lines = [
        json.dumps({"question": "What did the SVR say?", "as_of": "2021-11-20"}),
        "What did the SVR say?",
        json.dumps({"question": "What did the SVR say?", "since": "2022-01-01"}),
        json.dumps({"question": "What did the SVR say?", "until": "1999"}),
        json.dumps({"question": "What did the SVR say?", "when": "now"}),
        "",
    ]
    r = run("ask", "-", "--json", index=timed_index, stdin="\n".join(lines) + "\n")
    out = [json.loads(x) for x in r.stdout.decode().splitlines()]
    assert len(out) == len(lines) and r.returncode == 2
    assert all(q["published"] in (None, "2021-11-16") for q in out[0]["quotes"])
    assert out[1]["answered"]
    assert {q["article_id"] for q in out[2]["quotes"]} == {"later-1"}
    assert "no indexed article" in out[3]["error"] and "unknown field 'when'" in out[4]["error"]
    assert "empty" in out[5]["error"]
