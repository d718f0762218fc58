"""``citebot eval``: the metric definitions on hand-built outcomes, and the command on the seeds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from seed_questions import ANSWERABLE
from test_cli import run

from retrieval.errors import InputError
from retrieval.evaluation import EvalQuestion, Outcome, load_questions, summarize


def test_metrics_follow_their_definitions() -> None:
    questions = [
        EvalQuestion("1", "q1", ("Kyiv",), ("a",)),
        EvalQuestion("2", "q2", (), ("b",)),
        EvalQuestion("3", "q3", ("100,000",), ("c",)),
        EvalQuestion("4", "q4", ("NATO activity",), ("d",)),
    ]
    outcomes = [
        # gold first; the answer string differs from the quote in case and white space only
        Outcome(("a", "x"), ("The capital, KYIV,  said",), True, 10.0),
        # gold fifth: a hit at 5, not at 1, reciprocal rank 1/5; no answer strings to check
        Outcome(("x", "y", "z", "w", "b", "v"), ("anything",), True, 20.0, weak=True),
        # gold eleventh: no hit, reciprocal rank 0 (only the first 10 count); abstained
        Outcome((*(f"n{i}" for i in range(10)), "c"), (), False, 30.0),
        # gold second; the answer is in the second quote: a quote hit at 3, not at 1
        Outcome(("x", "d"), ("Putin said so.", "The Kremlin cited NATO\nactivity."), True, 40.0),
    ]
    r = summarize(questions, outcomes).to_dict()
    assert r["questions"] == 4 and r["with_answers"] == 3
    assert r["article_hit@1"] == 0.25
    assert r["article_hit@5"] == 0.75
    assert r["mrr@10"] == round((1 + 1 / 5 + 0 + 1 / 2) / 4, 4)
    assert r["quote_hit@1"] == round(1 / 3, 4)
    assert r["quote_hit@3"] == round(2 / 3, 4)
    assert r["answered"] == 0.75 and r["weak"] == 0.25
    assert r["p50_ms"] == 25.0


def test_bad_question_files_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    path.write_text('{"id": "1", "question": "fine", "answers": [], "gold": ["a"]}\n\n{"id": 2}\n')
    with pytest.raises(InputError, match=r"q\.jsonl:3 is not a question record"):
        load_questions(path)
    path.write_text("\n")
    with pytest.raises(InputError, match="holds no questions"):
        load_questions(path)


def _seed_questions(path: Path) -> Path:
    rows = [
        {"id": str(i), "question": q, "answers": words[:1], "gold": [url]}
        for i, (q, words, url) in enumerate(ANSWERABLE)
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_eval_command_on_the_seed_questions(seed_index_dir: Path, tmp_path: Path) -> None:
    questions = _seed_questions(tmp_path / "seed.jsonl")
    r = run("eval", str(questions), "--json", index=seed_index_dir)
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert set(d) == {
        "questions", "with_answers", "article_hit@1", "article_hit@5", "mrr@10", "quote_hit@1",
        "quote_hit@3", "answered", "weak", "p50_ms", "p95_ms",
    }
    assert d["questions"] == d["with_answers"] == len(ANSWERABLE)
    # The same bar as the seed answer tests: the right article first, the words in the quote.
    assert d["article_hit@1"] >= 0.9 and d["quote_hit@1"] >= 0.9 and d["answered"] >= 0.95
    assert 0 < d["p50_ms"] <= d["p95_ms"]
    r = run("eval", str(questions), "--limit", "3", index=seed_index_dir)
    assert r.returncode == 0, r.stderr
    lines = dict(line.split(None, 1) for line in r.stdout.splitlines())
    assert lines["questions"] == "3" and "article_hit@5" in lines


def test_eval_command_bad_file_is_one_line(seed_index_dir: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text("not json\n")
    r = run("eval", str(bad), index=seed_index_dir)
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0 and "bad.jsonl:1" in r.stderr
    assert "Traceback" not in r.stderr


def test_eval_asks_each_question_on_the_date_its_id_gives(seed_engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from retrieval.evaluation import evaluate

    svr = "https://www.themoscowtimes.com/2021/11/22/russia-spy-agency-dismisses-claims-of-ukraine-invasion-plan-a75634"
    rows = [{"id": f"{day}_0", "question": "What did Russia's SVR say about invasion claims?",
             "answers": ["hysteria"], "gold": [svr]} for day in ("20211120", "20211124")]
    path = tmp_path / "q.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    qs = load_questions(path, as_of="id")
    assert [q.as_of for q in qs] == ["2021-11-20", "2021-11-24"]
    before, after = (evaluate(seed_engine, [q]) for q in qs)
    assert before.article_hit_at_1 == 0.0 and after.article_hit_at_1 == 1.0  # not yet published
    assert load_questions(path, as_of="2021-11-24")[0].as_of == "2021-11-24"
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"id": "q1", "question": "x y", "answers": [], "gold": []}) + "\n")
    with pytest.raises(InputError, match="does not begin with a date"):
        load_questions(bad, as_of="id")
