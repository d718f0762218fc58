"""Time-aware answers on the dev sets: the asking date and the date prior, measured.

    python benchmarks/time_quality.py [--limit N] [--sweep] [--archive]

realtimeqa-dev's questions are news-quiz questions asked on a known date (their id begins with
it): run with each question's quiz date as ``as_of`` against the same questions asked today
(``as_of`` = now, when no question's time phrase can point at the 2020-2023 corpus). xquad-en has
no dates: it shows that time handling leaves undated Wikipedia questions alone. ``--archive``
adds the 24,480 dated news articles of ``corpora/news-archive.jsonl`` as distractors (the index
``growth.py --archive increments`` built, with the dev articles added to a copy of it).
``--sweep`` varies the prior's weight (``FusionParams.w_time``).
"""

from __future__ import annotations

import argparse
import shutil
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from _common import (
    CACHE,
    add_common_args,
    append_results,
    engine_kwargs,
    ensure_index,
    log,
    md_table,
    require_shared,
)

RTQA = "qa/realtimeqa-dev"
XQUAD = "qa/xquad-en"


def run(index: Path, questions: Sequence[Any], w_time: float | None = None) -> dict[str, float]:
    from retrieval import Citebot
    from retrieval.engine import Tuning
    from retrieval.evaluation import evaluate

    tuning = Tuning()
    if w_time is not None:
        tuning = replace(tuning, fusion=replace(tuning.fusion, w_time=w_time))
    bot = Citebot(index, tuning=tuning)
    rep = evaluate(bot, questions)
    bot.close()
    return {"hit@1": rep.article_hit_at_1, "hit@5": rep.article_hit_at_5, "mrr@10": rep.mrr_at_10,
            "quote_hit@1": rep.quote_hit_at_1, "answered": rep.answered, "p50_ms": rep.p50_ms}


def archive_with_dev(rtqa: Path) -> Path:
    """A copy of the archive index with the dev articles added (cached)."""
    from retrieval import Citebot

    src = CACHE / "archive"
    dest = CACHE / "archive-plus-rtqa"
    if not (src / "COMMIT").exists():
        print("skipped: no archive index; run `python benchmarks/growth.py --archive increments` first")
        sys.exit(0)
    if not (dest / "COMMIT").exists():
        shutil.copytree(src, dest)
        log("adding the realtimeqa-dev articles to a copy of the archive index")
        Citebot(dest).index([rtqa / "articles.jsonl"])
    return dest


def main(argv: Sequence[str] | None = None) -> int:
    from retrieval.evaluation import load_questions

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--limit", type=int, default=None)
    p.add_argument("--sweep", action="store_true")
    p.add_argument("--archive", action="store_true")
    add_common_args(p)
    args = p.parse_args(argv)
    rtqa, xquad = require_shared(RTQA, XQUAD)
    rtqa_index = ensure_index("realtimeqa-dev", [rtqa / "articles.jsonl"], rebuild=args.rebuild,
                              **engine_kwargs(None))
    dated = load_questions(rtqa / "questions.jsonl", args.limit, as_of="id")
    today = load_questions(rtqa / "questions.jsonl", args.limit)
    rows = []
    if args.archive:
        index = archive_with_dev(rtqa)
        runs = (("dev + archive, asked today", today), ("dev + archive, as of the quiz date", dated))
        for label, qs in runs:
            r = run(index, qs)
            rows.append([label, r["hit@1"], r["hit@5"], r["mrr@10"], r["quote_hit@1"], r["answered"]])
            log(f"{label}: {r}")
    else:
        weights = [0.0, 0.1, 0.2, 0.3, 0.5, 0.8] if args.sweep else [None]
        runs = (("realtimeqa-dev, asked today", today), ("realtimeqa-dev, as of the quiz date", dated))
        for label, qs in runs:
            for w in weights:
                r = run(rtqa_index, qs, w)
                name = label + (f", w_time {w}" if w is not None else "")
                rows.append([name, r["hit@1"], r["hit@5"], r["mrr@10"], r["quote_hit@1"], r["answered"]])
                log(f"{name}: {r}")
        xq_index = ensure_index("xquad-en", [xquad / "articles.jsonl"], **engine_kwargs(None))
        xq = load_questions(xquad / "questions.jsonl", args.limit)
        for w in ([0.0, None] if not args.sweep else [0.0, 0.3]):
            r = run(xq_index, xq, w)
            name = f"xquad-en, w_time {w if w is not None else 'default'}"
            rows.append([name, r["hit@1"], r["hit@5"], r["mrr@10"], r["quote_hit@1"], r["answered"]])
    body = md_table(["run", "hit@1", "hit@5", "mrr@10", "quote_hit@1", "answered"], rows)
    print(body)
    if not args.no_append:
        print(f"appended to {append_results('Time-aware answers', body)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
