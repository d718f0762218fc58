"""``citebot eval``: run the evaluation and print the metrics."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from retrieval import Citebot
from retrieval.evaluation import evaluate, load_questions


def run_eval_command(engine: Citebot, path: Path, *, limit: int | None, as_json: bool) -> int:
    from .cli import _progress_bar

    questions = load_questions(path, limit)
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
