"""Calibrating when citebot abstains: the sentence-cosine threshold swept on data, in memory.

    python benchmarks/calibrate_abstention.py [--limit N] [--offtopic-articles N] [--rebuild] [--no-append]

citebot answers when the best sentence's cosine with the question reaches
``AbstainParams.min_sentence_cos`` or the best passage's reaches ``min_passage_cos``
(retrieval/answer.py). For ``min_sentence_cos`` from 0.25 to 0.45 (``min_passage_cos`` fixed at
its default) this prints:

- with an index of ``seeds/`` alone, the share of ``../shared/data/qa/realtimeqa-dev``
  questions (news about other things) that abstain: higher is better;
- on the same index, the share of ``tests/seed_questions.py`` ANSWERABLE questions answered
  (should be 100%) and of UNANSWERABLE ones abstained;
- with ``--offtopic-articles N``, also on an index of the first N BBC News articles (2004-05,
  ``corpora/bbc-news-2225.jsonl``), where the realtimeqa questions (2020-23 news) have no answer
  either: whether a threshold fitted on two articles holds on a larger corpus;
- on the realtimeqa-dev index (its own corpus, every question answerable), the share answered,
  which must stay within 2 points of no abstention at all.

Each question's features (best sentence cosine, best passage cosine) are computed once with the
engine's own ``retrieve`` and ``score_sentences`` and its tuning; thresholds are applied in
memory with the engine's own decision function, and the default is cross-checked against
``Citebot.answer``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    CACHE,
    ROOT,
    SEEDS,
    add_common_args,
    append_results,
    describe_embedder,
    ensure_index,
    index_encoder,
    log,
    md_table,
    require_shared,
)
from quality import dataset_index, shared_embedder

RTQA = "qa/realtimeqa-dev/questions.jsonl"
THRESHOLDS = [round(0.25 + i * 0.01, 2) for i in range(21)]
MAX_DROP = 0.02


@dataclass(frozen=True)
class Features:
    question: str
    has_sentences: bool
    best_sentence: float
    best_passage: float
    first_quote: str = ""


def features(index_dir: Path, questions: Sequence[str], label: str) -> list[Features]:
    from retrieval import Citebot
    from retrieval.quotes import score_sentences, select_quotes
    from retrieval.retriever import retrieve

    bot = Citebot(index_dir, embedder=shared_embedder())
    try:
        reader, t = bot.view(), bot.tuning
        k = max(1, min(bot.top_k, reader.passages_count))
        qs = [q.strip() for q in questions]
        log(f"{label}: encoding {len(qs)} questions")
        vecs = bot.embedder.encode(qs, batch_size=64)
        out = []
        for i, (q, v) in enumerate(zip(qs, vecs, strict=True)):
            cands = retrieve(reader, q, v, max(k, t.quotes.top_passages), t.fusion)
            scored, texts = score_sentences(reader, q, v, cands, t.quotes)
            best_p = max((c.dense for c in cands[:5]), default=0.0)
            picks = select_quotes(scored, texts, t.quotes)[:1]
            quote = "".join(texts[p.article_id][p.start : p.end] for p in picks)
            best_s = scored[0].cos if scored else float("-inf")
            out.append(Features(q, bool(scored), best_s, best_p, quote))
            if (i + 1) % 1000 == 0:
                log(f"{label}: {i + 1}/{len(qs)}")
    finally:
        bot.close()
    return out


def answers(f: Features, params: Any) -> bool:
    """The engine's own rule, applied to precomputed features (None params: never abstain)."""
    from retrieval.answer import _answers

    if not f.has_sentences:
        return False
    if params is None:
        return True
    return bool(_answers(f.best_sentence, [SimpleNamespace(dense=f.best_passage)], params))  # type: ignore[list-item]


def share(feats: Sequence[Features], params: Any) -> float:
    return sum(answers(f, params) for f in feats) / max(len(feats), 1)


def cross_check(index_dir: Path, feats: Sequence[Features], default: Any) -> int:
    """Questions where the in-memory rule disagrees with ``Citebot.answer`` at the defaults."""
    from retrieval import Citebot

    bot = Citebot(index_dir, embedder=shared_embedder())
    try:
        return sum(bot.answer(f.question).answered != answers(f, default) for f in feats)
    finally:
        bot.close()


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--limit", type=int, default=None, help="only the first N realtimeqa questions")
    p.add_argument("--offtopic-articles", type=int, default=0, metavar="N",
                   help="also measure abstention on an index of the first N BBC articles (0: off)")
    add_common_args(p)
    args = p.parse_args(argv)
    (rtqa_path,) = require_shared(RTQA)

    sys.path.insert(0, str(ROOT / "tests"))
    from seed_questions import ANSWERABLE, UNANSWERABLE

    from retrieval.answer import AbstainParams
    from retrieval.evaluation import load_questions

    default = AbstainParams()
    rtqa_questions = load_questions(rtqa_path, args.limit)
    rtqa = [q.question for q in rtqa_questions]
    seeds_index = ensure_index("seeds", [SEEDS], rebuild=args.rebuild)
    own_index = dataset_index("realtimeqa", rebuild=args.rebuild)

    f_off = features(seeds_index, rtqa, "realtimeqa on seeds")
    f_bbc: list[Features] = []
    if args.offtopic_articles:
        from speed import BBC, subset

        (bbc,) = require_shared(BBC)
        n = args.offtopic_articles
        src = subset(bbc, n, CACHE / f"bbc-first-{n}")
        bbc_index = ensure_index(f"bbc-first-{n}/index", [src], rebuild=args.rebuild)
        f_bbc = features(bbc_index, rtqa, f"realtimeqa on BBC-{n}")
    f_ans = features(seeds_index, [q for q, _, _ in ANSWERABLE], "seed answerable")
    f_un = features(seeds_index, list(UNANSWERABLE), "seed unanswerable")
    f_own = features(own_index, rtqa, "realtimeqa on its own corpus")

    check = f_ans + f_un + f_off[:100]
    mismatches = cross_check(seeds_index, check, default)
    own_base = share(f_own, None)

    grid = list(THRESHOLDS)
    if round(default.min_sentence_cos, 2) not in grid:
        grid.append(default.min_sentence_cos)
    rows = []
    candidates = []
    for thr in sorted(grid):
        params = replace(default, min_sentence_cos=thr)
        off_abstain = 1 - share(f_off, params)
        seeds_ok = share(f_ans, params)
        un_abstain = 1 - share(f_un, params)
        own = share(f_own, params)
        drop = own_base - own
        ok = drop <= MAX_DROP + 1e-9
        mark = " (default)" if thr == default.min_sentence_cos else ""
        bbc_col = [f"{1 - share(f_bbc, params):.1%}"] if f_bbc else []
        rows.append([f"{thr:.2f}{mark}", f"{off_abstain:.1%}", *bbc_col, f"{seeds_ok:.1%}",
                     f"{un_abstain:.1%}", f"{own:.1%}", f"{-drop * 100 + 0.0:+.1f}",
                     "yes" if ok else "**no**"])
        if ok:
            candidates.append((seeds_ok, off_abstain, -thr, thr))
    bbc_col = [f"{1 - share(f_bbc, None):.1%}"] if f_bbc else []
    rows.append(["no abstention", f"{1 - share(f_off, None):.1%}", *bbc_col, f"{share(f_ans, None):.1%}",
                 f"{1 - share(f_un, None):.1%}", f"{own_base:.1%}", "+0.0", "yes"])
    passage_only = share(f_off, replace(default, min_sentence_cos=float("inf")))

    header = ["min_sentence_cos", "realtimeqa on seeds index: abstained ↑",
              *([f"realtimeqa on BBC-{args.offtopic_articles} index: abstained ↑"] if f_bbc else []),
              "seed ANSWERABLE answered ↑", "seed UNANSWERABLE abstained ↑",
              "realtimeqa on own corpus: answered", "Δ points vs no abstention",
              f"within {MAX_DROP * 100:.0f} points"]
    notes = [
        f"min_passage_cos fixed at {default.min_passage_cos} (default pair: "
        f"{default.min_sentence_cos} / {default.min_passage_cos}). {len(rtqa):,} realtimeqa-dev questions, "
        f"{len(ANSWERABLE)} seed ANSWERABLE, {len(UNANSWERABLE)} UNANSWERABLE. "
        f"Questions encoded by {describe_embedder(shared_embedder())}; indexes built by "
        f"{index_encoder(seeds_index)}.",
        f"Through the passage threshold alone ({default.min_passage_cos}), {passage_only:.1%} of the "
        "realtimeqa questions are answered on the seeds index whatever the sentence threshold.",
        *([f"On the BBC-{args.offtopic_articles} index, the passage threshold alone answers "
           f"{share(f_bbc, replace(default, min_sentence_cos=float('inf'))):.1%}."] if f_bbc else []),
        f"Cross-check against `Citebot.answer` at the defaults on {len(check)} questions: "
        f"{mismatches} disagreement(s).",
    ]
    if candidates:
        best = max(candidates)
        notes.append(f"Best threshold by this data (seed questions answered first, then realtimeqa "
                     f"abstention, own-corpus drop ≤ {MAX_DROP * 100:.0f} points): **{best[3]:.2f}**.")
    if args.limit:
        notes.append(f"(`--limit {args.limit}`: first {args.limit} realtimeqa questions only.)")
    body = md_table(header, rows) + "\n\n" + "\n".join(f"- {n}" for n in notes)
    wanted = [q.answers for q in rtqa_questions]
    body += "\n\n" + weak_tier(default, f_off, f_bbc, f_ans, f_own, wanted, args.offtopic_articles)
    print(body, flush=True)
    if mismatches:
        log(f"warning: the in-memory rule disagreed with Citebot.answer on {mismatches} questions")
    if not args.no_append:
        path = append_results("Abstention calibration" + (f" (limit {args.limit})" if args.limit else ""),
                              body)
        print(f"appended to {path}")
    return 0


def weak_tier(
    default: Any, f_off: Sequence[Features], f_bbc: Sequence[Features], f_ans: Sequence[Features],
    f_own: Sequence[Features], wanted_by_q: Sequence[Sequence[str]], n_bbc: int,
) -> str:
    """How the weak-match mark (``retrieval.answer.is_weak``) splits the answers given.

    Off-topic answers should mostly be marked; answers on the questions' own corpus mostly not,
    and those marked should be right less often (quote_hit@1 by tier), or the mark says nothing.
    """
    from retrieval.answer import is_weak
    from retrieval.evaluation import quote_hit

    def weak_share(feats: Sequence[Features], params: Any) -> str:
        given = [f for f in feats if answers(f, default)]
        marked = sum(is_weak(f.question, f.best_sentence, f.first_quote, params) for f in given)
        return f"{marked / len(given):.1%}" if given else "-"

    rows = []
    settings = [(c, default.strong_keyword_share) for c in (0.45, 0.5, 0.55)]
    settings += [(default.strong_sentence_cos, k) for k in (0.5, float("inf"))]
    for cos, share_ in settings:
        params = replace(default, strong_sentence_cos=cos, strong_keyword_share=share_)
        tiers: dict[bool, list[bool]] = {True: [], False: []}
        for f, wanted in zip(f_own, wanted_by_q, strict=True):
            if wanted and answers(f, default):
                weak = is_weak(f.question, f.best_sentence, f.first_quote, params)
                tiers[weak].append(quote_hit([f.first_quote], wanted, 1))
        hit = {k: f"{sum(v) / len(v):.3f} ({len(v)})" if v else "-" for k, v in tiers.items()}
        mark = " (default)" if params == default else ""
        label = f"{cos:.2f} / " + ("any" if share_ == float("inf") else f"{share_:.2f}") + mark
        rows.append([label, weak_share(f_off, params),
                     *([weak_share(f_bbc, params)] if f_bbc else []), weak_share(f_ans, params),
                     weak_share(f_own, params), hit[False], hit[True]])
    header = ["strong_sentence_cos / strong_keyword_share", "realtimeqa on seeds: marked weak ↑",
              *([f"realtimeqa on BBC-{n_bbc}: marked weak ↑"] if f_bbc else []),
              "seed ANSWERABLE marked weak ↓", "realtimeqa on own corpus: marked weak ↓",
              "own corpus quote_hit@1, strong (n)", "own corpus quote_hit@1, weak (n)"]
    return ("### Weak-match mark\n\nAnswers given at the default abstention thresholds are marked "
            "weak when the best sentence's cosine is under `strong_sentence_cos` and the first quote "
            "holds under `strong_keyword_share` of the question's content words (any: cosine "
            "alone).\n\n" + md_table(header, rows))


if __name__ == "__main__":
    sys.exit(main())
