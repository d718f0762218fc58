"""``citebot eval``: run the evaluation and print the metrics; ``citebot feedback``: the votes
it can be run on."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the engine loads numpy and FAISS; `citebot feedback` needs neither
    from retrieval import Citebot


def run_eval_command(engine: Citebot, path: Path | None, *, limit: int | None, as_json: bool,
                     as_of: str | None = None) -> int:
    """``path`` None: the questions are the answers people liked (``--feedback``)."""
    from retrieval.evaluation import evaluate, feedback_questions, load_questions

    from .cli import _progress_bar

    if path is not None:
        questions = load_questions(path, limit, as_of=as_of)
    else:
        questions = feedback_questions(engine.index_dir, limit)
    update, stop = _progress_bar("answering")
    try:
        report = evaluate(engine, questions, progress=update)
    finally:
        stop()
    d = report.to_dict()
    if as_json:
        print(json.dumps(d))
        return 0
    width = max(len(k) for k in d)
    for k, v in d.items():
        print(f"{k:<{width}}  {v}", file=sys.stdout)
    return 0


def run_feedback_command(index_dir: Path, *, as_json: bool) -> int:
    """List every vote, oldest first, with the question and the quoted articles and spans."""
    from retrieval.feedback import UP, FeedbackStore, has_feedback_db

    votes = []
    if has_feedback_db(index_dir):  # reading must not create the database
        with FeedbackStore(index_dir) as store:
            votes = store.votes()
    if as_json:
        print(json.dumps({"votes": [v.to_dict() for v in votes]}, ensure_ascii=False))
        return 0
    if not votes:
        print("No votes yet: they come from the 👍 / 👎 buttons under the Discord bot's answers.")
        return 0
    up = sum(v.vote == UP for v in votes)
    answers = len({v.answer_id for v in votes})
    print(f"{len(votes)} votes on {answers} answers: {up} 👍, {len(votes) - up} 👎")
    for v in votes:
        d = v.to_dict()
        where = ", ".join(f"{q.article_id} [{q.start}:{q.end}]" for q in v.quotes) or "(no quotes: abstained)"
        mark = "👍" if v.vote == UP else "👎"
        print(f"{d['at']}  {mark}  {v.question}")
        print(f"    answer {v.answer_id}, voter {v.voter[:12]}, quotes {where}")
    return 0
