"""Follow-up questions: quote_hit@1 of a conversation's second turn with and without the first.

``benchmarks/followup_pairs.jsonl`` holds hand-written two-turn pairs over the seed articles
and BBC News (2004-05): a first question that names its subject, then a second that a person
would ask next ("How much did it pay?"). ``kind`` says whether the second turn needs the first
to be understood (``elliptical``) or is answerable on its own (``self-contained``: a thread
that changes subject must not be dragged back). ``answers`` are strings of the gold article.

The index holds the seeds and a fixed BBC subset, the first 40 articles of each of the five
BBC topics (200 articles, every pair's article among them), so a second turn must find its
article among 202. Rows:

- ``alone``: the second question by itself (what citebot did before follow-ups);
- ``rule``: ``Citebot.answer_followup`` with the first question as context (the shipped rule,
  retrieval/followup.py);
- sweep rows: the same plan with another vector weight, without the added keywords, or
  applied to every second turn (``always``), computed by the same steps as the engine (checked
  against it for the shipped weights).

Usage: ``python benchmarks/followup.py [--rebuild] [--no-append]``
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    BENCH,
    CACHE,
    SEEDS,
    add_common_args,
    append_results,
    ensure_index,
    log,
    md_table,
    require_shared,
)
from quality import shared_embedder

BBC = "corpora/bbc-news-2225.jsonl"
PAIRS = BENCH / "followup_pairs.jsonl"
TOPICS = ("business", "entertainment", "politics", "sport", "tech")
PER_TOPIC = 40


@dataclass(frozen=True)
class Pair:
    id: str
    first: str
    second: str
    answers: tuple[str, ...]
    gold: tuple[str, ...]
    kind: str


def load_pairs(path: Path = PAIRS) -> list[Pair]:
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            d = json.loads(line)
            out.append(Pair(d["id"], d["first"], d["second"], tuple(d["answers"]), tuple(d["gold"]),
                            d["kind"]))
    return out


def bbc_subset(src: Path, dest: Path) -> Path:
    """The first ``PER_TOPIC`` articles of each topic, in file order, as JSON Lines."""
    counts = dict.fromkeys(TOPICS, 0)
    lines = []
    for line in src.read_text(encoding="utf-8").splitlines():
        topic = json.loads(line)["id"].split("-")[1]
        if counts.get(topic, PER_TOPIC) < PER_TOPIC:
            counts[topic] += 1
            lines.append(line)
    dest.parent.mkdir(parents=True, exist_ok=True)
    body = "\n".join(lines) + "\n"
    if not dest.exists() or dest.read_text(encoding="utf-8") != body:
        dest.write_text(body, encoding="utf-8")
    return dest


def check_pairs(bot: Any, pairs: Sequence[Pair]) -> None:
    """Every gold article is indexed and holds its answer strings (case and spacing aside)."""
    from retrieval.textnorm import normalize

    for p in pairs:
        for g in p.gold:
            text = normalize(bot.article(g).text)
            missing = [a for a in p.answers if normalize(a) not in text]
            if missing:
                raise SystemExit(f"{p.id}: answer {missing} not in article {g}")


def plan_answer(bot: Any, question: str, context: Sequence[str], **plan_kw: Any) -> Any:
    """What ``Citebot.answer_followup`` does, with the plan's parameters open to the sweep."""
    from retrieval.answer import answer_question
    from retrieval.followup import blend, plan_followup

    plan = plan_followup(question, context, **plan_kw)
    if plan.builds_on is None:
        return bot.answer(question)
    qvec, cvec = bot.embedder.encode([question, plan.context_text])
    t = bot.tuning
    view = bot.view()
    scope = bot.scope(question, view=view)
    scope = replace(scope, keyword_text=" ".join([scope.keyword_text, *plan.terms]))
    ans, _ = answer_question(view, question, blend(qvec, cvec, plan.vector_weight),
                             k=bot._k(view, None), fusion=t.fusion, quotes=t.quotes,
                             abstain=plan.abstain(t.abstain), scope=scope)
    return replace(ans, followup_of=plan.builds_on)


KINDS = ("elliptical", "self-contained", "topic-shift")  # answerable; then "unanswerable"


def score(pairs: Sequence[Pair], answers: Sequence[Any]) -> dict[str, float]:
    """quote_hit@1 overall and per kind, article hit@1 overall, and how often the context was used."""
    from retrieval.evaluation import quote_hit

    def rate(rows: list[tuple[Pair, Any]], hit: Any) -> float:
        return sum(bool(hit(p, a)) for p, a in rows) / len(rows) if rows else float("nan")

    def q1(p: Pair, a: Any) -> bool:
        return quote_hit([q.text for q in a.quotes], p.answers, 1)

    both = list(zip(pairs, answers, strict=True))
    out = {"used": rate(both, lambda p, a: a.followup_of is not None)}
    answerable = [(p, a) for p, a in both if p.answers]
    out["q1"] = rate(answerable, q1)
    out["hit1"] = rate(answerable, lambda p, a: a.quotes and a.quotes[0].article_id in p.gold)
    out["answered"] = rate(answerable, lambda p, a: a.answered)
    out["abstained unanswerable"] = rate([(p, a) for p, a in both if p.kind == "unanswerable"],
                                         lambda p, a: not a.answered)
    for kind in KINDS:
        rows = [(p, a) for p, a in both if p.kind == kind]
        out[f"q1 {kind}"] = rate(rows, q1)
        out[f"used {kind}"] = rate(rows, lambda p, a: a.followup_of is not None)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_common_args(ap)
    args = ap.parse_args(argv)
    (bbc,) = require_shared(BBC)

    from retrieval import Citebot
    from retrieval.followup import CONTEXT_VECTOR_WEIGHT, FOLLOWUP_ABSTAIN_SCALE, MAX_CONTEXT_TERMS

    pairs = load_pairs()
    src = bbc_subset(bbc, CACHE / "followup" / f"bbc-{PER_TOPIC}-per-topic.jsonl")
    index_dir = ensure_index("followup/index", [src, SEEDS], rebuild=args.rebuild)
    bot = Citebot(index_dir, embedder=shared_embedder())
    bot.open()
    check_pairs(bot, pairs)
    log(f"{len(pairs)} pairs over {len(bot.sources())} articles")

    t0 = time.perf_counter()
    alone = [bot.answer(p.second) for p in pairs]
    t_alone = (time.perf_counter() - t0) / len(pairs) * 1000
    t0 = time.perf_counter()
    rule = [bot.answer_followup(p.second, [p.first])[0] for p in pairs]
    t_rule = (time.perf_counter() - t0) / len(pairs) * 1000
    # The sweep's copy of the engine's steps must reproduce the engine at the shipped weights.
    copy = [plan_answer(bot, p.second, [p.first]) for p in pairs]
    same = sum([q.text for q in a.quotes] == [q.text for q in b.quotes]
               for a, b in zip(rule, copy, strict=True))
    if same != len(pairs):
        log(f"warning: the sweep's copy of the engine differs on {len(pairs) - same} pairs")

    rows: list[list[Any]] = []

    def row(name: str, answers: Sequence[Any] | None = None, **plan_kw: Any) -> None:
        if answers is None:
            answers = [plan_answer(bot, p.second, [p.first], **plan_kw) for p in pairs]
        s = score(pairs, answers)
        rows.append([name, s["q1"], *(s[f"q1 {k}"] for k in KINDS), s["hit1"], s["answered"],
                     s["abstained unanswerable"], " / ".join(f"{s[f'used {k}']:.2f}" for k in KINDS)])

    row("second turn alone", alone)
    row(f"rule (vector weight {CONTEXT_VECTOR_WEIGHT}, up to {MAX_CONTEXT_TERMS} terms, "
        f"abstention x {FOLLOWUP_ABSTAIN_SCALE})", rule)
    for w in (0.0, 0.25, 0.5, 1.0):
        if w != CONTEXT_VECTOR_WEIGHT:
            row(f"vector weight {w}", vector_weight=w)
    for w in (0.5, 1.0, 2.0, 100.0):
        row(f"joint vector (first + second encoded together), weight {w}", vector_weight=w, joint=True)
    for scale in (0.9, 0.8):
        row(f"abstention thresholds x {scale}", abstain_scale=scale)
    row("names only (no topic terms)", topic_terms=False)
    row("vector only (no added terms)", max_terms=0)
    row("rule applied to every second turn", always=True)

    counts = {k: sum(p.kind == k for p in pairs) for k in KINDS}
    n_un = sum(p.kind == "unanswerable" for p in pairs)
    table = md_table(
        ["second turn", "quote_hit@1 all", *(f"{k} ({counts[k]})" for k in KINDS), "article hit@1 all",
         "answered", f"unanswerable ({n_un}) abstained", "context used (" + " / ".join(KINDS) + ")"],
        rows,
    )
    body = (
        f"{len(pairs)} two-turn pairs (`benchmarks/followup_pairs.jsonl`) over the seeds and the first "
        f"{PER_TOPIC} BBC articles of each topic ({len(bot.sources())} articles); quote_hit@1, article "
        f"hit@1 and answered over the {len(pairs) - n_un} answerable second turns. Answer time per "
        f"second turn, warm: {t_alone:.0f} ms alone, {t_rule:.0f} ms with the rule. The sweep's copy of "
        f"the engine matches it on {same}/{len(pairs)}.\n\n{table}\n"
    )
    print(body)
    for p, a, r in zip(pairs, alone, rule, strict=True):
        log(f"{p.id} {p.kind[:4]} alone={a.quotes[0].text[:60] if a.quotes else '-'!r} "
            f"rule={r.quotes[0].text[:60] if r.quotes else '-'!r}")
    if not args.no_append:
        append_results("Follow-up questions (benchmarks/followup.py)", body)
    bot.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
