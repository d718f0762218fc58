"""Answer quality of citebot against two plain baselines, on the same passages, in one run.

    python benchmarks/quality.py [--limit N] [--rebuild] [--only xquad|realtimeqa] [--no-append]

For each dataset (``../shared/data/qa/xquad-en``, ``qa/realtimeqa-dev``) it builds or reuses the
citebot index of the dataset's articles in ``benchmarks/.cache``, runs
``retrieval.evaluation.evaluate`` on citebot, and scores on the same questions:

- **dense**: the index's own passage vectors (same model, same ``passage_text(title, body)``) in
  an exact ``faiss.IndexFlatIP``; the question's nearest passages, best first;
- **BM25**: ``bm25s`` over the same passage texts (English stop words, Snowball stemmer when
  PyStemmer is installed); passages with a positive score, best first.

For both, the article ranking is the distinct articles of the passage ranking, quote 1 is the
sentence of the top passage with the highest cosine to the question (the index's sentence
vectors, so the same model), and quotes 2-3 are the best sentences of the 2nd and 3rd passages.
They never abstain (BM25 "answers" when any passage shares a term with the question). Metrics
are those of ``evaluate`` (see retrieval/evaluation.py), computed by the same rules.

``run_quality(dataset, tuning=None, limit=None)`` is the in-process entry point for tuning
scripts: it reuses the cached index and the loaded model across calls.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # importable from tuning scripts too
from _common import (
    CACHE,
    add_common_args,
    append_results,
    count_printer,
    describe_embedder,
    engine_kwargs,
    ensure_index,
    index_encoder,
    log,
    md_table,
    require_shared,
)

from retrieval.evaluation import EvalQuestion, Outcome, evaluate, load_questions, summarize

DATASETS: dict[str, tuple[str, str]] = {  # option name -> (folder under shared/data, cache name)
    "xquad": ("qa/xquad-en", "xquad-en"),
    "realtimeqa": ("qa/realtimeqa-dev", "realtimeqa-dev"),
}
SEARCH_DEPTH = 50  # passages a baseline ranks (articles are the distinct ones among them)
COLUMNS = ["hit@1", "hit@5", "mrr@10", "quote_hit@1", "quote_hit@3", "answered", "p50 ms"]

_embedders: dict[str | None, Any] = {}


def shared_embedder(encoder: str | None = None) -> Any:
    """The question encoder citebot loads (by default, or for ``encoder``), once per process."""
    if encoder not in _embedders:
        from retrieval import Citebot

        emb = Citebot(CACHE / "_model", **engine_kwargs(encoder)).embedder
        emb.encode(["warm up"])
        _embedders[encoder] = emb
    return _embedders[encoder]


def dataset_paths(dataset: str) -> tuple[Path, Path, str]:
    folder, cache_name = DATASETS[dataset]
    arts, qs = require_shared(f"{folder}/articles.jsonl", f"{folder}/questions.jsonl")
    return arts, qs, cache_name


def dataset_index(dataset: str, *, rebuild: bool = False, encoder: str | None = None) -> Path:
    """The cached index of the dataset's articles, built the way citebot builds (with ``encoder``)."""
    arts, _, cache_name = dataset_paths(dataset)
    name = cache_name if encoder is None else f"{cache_name}-{encoder}"
    return ensure_index(name, [arts], rebuild=rebuild, **engine_kwargs(encoder))


# -- scoring (the rules of retrieval.evaluation.evaluate) -------------------------------------------

def metrics(questions: Sequence[EvalQuestion], outcomes: Sequence[Outcome]) -> dict[str, float]:
    """One table row: citebot's own scorer (retrieval.evaluation.summarize) for every system."""
    d = summarize(questions, outcomes).to_dict()
    return {
        "hit@1": d["article_hit@1"], "hit@5": d["article_hit@5"], "mrr@10": d["mrr@10"],
        "quote_hit@1": d["quote_hit@1"], "quote_hit@3": d["quote_hit@3"], "answered": d["answered"],
        "p50 ms": d["p50_ms"], "p95 ms": d["p95_ms"],
    }


# -- citebot ---------------------------------------------------------------------------------------

class _Recorder:
    """Stands in for the bot inside ``evaluate`` and keeps every answer for the details file."""

    def __init__(self, bot: Any) -> None:
        self.bot = bot
        self.rows: list[tuple[Any, list[str], float]] = []

    def open(self) -> None:
        self.bot.open()

    def answer_ranked(self, question: str, *, k: int | None = None, depth: int = 10,
                      as_of: Any = None) -> tuple[Any, list[str]]:
        t0 = time.perf_counter()
        ans, ranked = self.bot.answer_ranked(question, k=k, depth=depth, as_of=as_of)
        self.rows.append((ans, ranked, (time.perf_counter() - t0) * 1000))
        return ans, ranked


def run_citebot(index_dir: Path, questions: Sequence[EvalQuestion], tuning: Any = None,
                label: str = "citebot", encoder: str | None = None,
                ) -> tuple[dict[str, float], list[Outcome], list[Any]]:
    from retrieval import Citebot

    bot = Citebot(index_dir, embedder=shared_embedder(encoder), tuning=tuning, **engine_kwargs(encoder))
    rec = _Recorder(bot)
    try:
        evaluate(rec, questions, progress=count_printer(label, 500))  # type: ignore[arg-type]
    finally:
        bot.close()
    outcomes = [Outcome(tuple(ranked), tuple(q.text for q in ans.quotes), ans.answered, ms)
                for ans, ranked, ms in rec.rows]
    m = metrics(questions, outcomes)
    return m, outcomes, [ans for ans, _, _ in rec.rows]


# -- baselines -------------------------------------------------------------------------------------

class PassageSet:
    """The passages of one citebot index, their texts and vectors, and their sentences."""

    def __init__(self, index_dir: Path) -> None:
        from retrieval.index import passage_text
        from retrieval.reader import IndexReader

        reader = IndexReader(index_dir)
        self.reader = reader
        view = reader.current()
        self.view = view
        self.articles: dict[str, tuple[str, str]] = {}
        rows: list[tuple[int, str, int, int, int, int]] = []
        self.sentences: dict[int, tuple[str, int, int]] = {}
        vec_parts = []
        for st in view.segments:
            conn = st.seg.conn
            ords = {o: aid for o, aid in conn.execute("SELECT ord, id FROM articles")}
            live = {o for o in ords if not st.is_deleted(o)}
            self.articles.update((aid, (title, text)) for o, aid, title, text in conn.execute(
                "SELECT ord, id, title, text FROM articles") if o in live)
            seg_rows = [(r[0], ords[r[1]], r[2], r[3], r[4], r[5]) for r in conn.execute(
                "SELECT id, article, start, end, first_sentence, last_sentence FROM passages ORDER BY id")
                if r[1] in live]
            rows += seg_rows
            self.sentences.update((sid, (ords[a], s, e)) for sid, a, s, e in conn.execute(
                "SELECT id, article, start, end FROM sentences") if a in live)
            keep = np.isin(st.seg.passage_ids, [r[0] for r in seg_rows])
            vec_parts.append(np.asarray(st.seg.passage_vectors[keep], np.float32))
        self.pids = np.asarray([r[0] for r in rows], np.int64)
        self.article_of = [r[1] for r in rows]
        self.sent_range = [(r[4], r[5]) for r in rows]
        self.texts = [passage_text(self.articles[r[1]][0], self.articles[r[1]][1][r[2]:r[3]]) for r in rows]
        self.vectors = np.ascontiguousarray(np.vstack(vec_parts) if vec_parts else np.zeros((0, 384)),
                                            dtype=np.float32)

    def best_sentences(self, qvec: np.ndarray, ranked_rows: Sequence[int], n: int = 3) -> list[str]:
        """Best-cosine sentence of each of the first ``n`` passages (skipping repeats)."""
        out: list[str] = []
        taken: set[int] = set()
        for row in ranked_rows[:n]:
            first, last = self.sent_range[row]
            sids = [s for s in range(first, last + 1) if s in self.sentences and s not in taken]
            if not sids:
                continue
            cos = self.view.sentence_vectors(sids) @ qvec.ravel()
            sid = sids[int(np.argmax(cos))]
            taken.add(sid)
            aid, s, e = self.sentences[sid]
            out.append(self.articles[aid][1][s:e])
        return out

    def articles_of(self, ranked_rows: Sequence[int], depth: int = 10) -> list[str]:
        out: list[str] = []
        for row in ranked_rows:
            aid = self.article_of[row]
            if aid not in out:
                out.append(aid)
                if len(out) == depth:
                    break
        return out

    def close(self) -> None:
        self.reader.close()


def run_dense(ps: PassageSet, questions: Sequence[EvalQuestion], encoder: str | None = None) -> list[Outcome]:
    import faiss

    emb = shared_embedder(encoder)
    flat = faiss.IndexFlatIP(ps.vectors.shape[1])
    flat.add(ps.vectors)
    depth = min(SEARCH_DEPTH, len(ps.pids))
    out: list[Outcome] = []
    for q in questions:
        t0 = time.perf_counter()
        qvec = emb.encode([q.question])[0]
        _, idx = flat.search(qvec[None, :], depth)
        rows = [int(i) for i in idx[0] if i >= 0]
        quotes = ps.best_sentences(qvec, rows)
        ranked = ps.articles_of(rows)
        out.append(Outcome(tuple(ranked), tuple(quotes), bool(quotes), (time.perf_counter() - t0) * 1000))
    return out


def _stemmer() -> Any:
    try:
        import Stemmer  # PyStemmer, optional
    except ImportError:
        return None
    return Stemmer.Stemmer("english")


def run_bm25(ps: PassageSet, questions: Sequence[EvalQuestion],
             encoder: str | None = None) -> tuple[list[Outcome], str]:
    import bm25s

    stemmer = _stemmer()
    retriever = bm25s.BM25()
    retriever.index(bm25s.tokenize(ps.texts, stopwords="en", stemmer=stemmer, show_progress=False),
                    show_progress=False)
    emb = shared_embedder(encoder)
    depth = min(SEARCH_DEPTH, len(ps.pids))
    out: list[Outcome] = []
    for q in questions:
        t0 = time.perf_counter()
        toks = bm25s.tokenize([q.question], stopwords="en", stemmer=stemmer, return_ids=False,
                              show_progress=False)
        rows: list[int] = []
        if toks and toks[0]:
            docs, scores = retriever.retrieve(toks, k=depth, show_progress=False)
            rows = [int(d) for d, s in zip(docs[0], scores[0], strict=True) if s > 0]
        quotes: list[str] = []
        if rows:  # the sentence pick uses the same model as the dense side
            quotes = ps.best_sentences(emb.encode([q.question])[0], rows)
        out.append(Outcome(tuple(ps.articles_of(rows)), tuple(quotes), bool(rows),
                           (time.perf_counter() - t0) * 1000))
    desc = "bm25s " + ("+ Snowball stemmer" if stemmer else "(no stemmer: PyStemmer not installed)")
    return out, desc


# -- entry points ----------------------------------------------------------------------------------

def run_quality(
    dataset: str, tuning: Any = None, limit: int | None = None, *, baselines: bool = False,
    rebuild: bool = False, details: Path | None = None, encoder: str | None = None,
) -> dict[str, Any]:
    """Evaluate citebot (with ``tuning``, a ``retrieval.engine.Tuning``) on ``dataset``.

    Returns ``{"dataset", "questions", "with_answers", "passages", "citebot": {metric: value}}``,
    plus ``"dense"`` and ``"bm25"`` when ``baselines`` is set. The index is cached and the model
    stays loaded, so calling this repeatedly with different tunings costs only the evaluation.
    ``details``: write one JSON line per question (answers of every system) there. ``encoder``:
    as ``Citebot(encoder=...)`` for questions and the build (None: citebot's default); each
    encoder gets its own cached index.
    """
    _, qpath, _ = dataset_paths(dataset)
    index_dir = dataset_index(dataset, rebuild=rebuild, encoder=encoder)
    questions = load_questions(qpath, limit)
    result: dict[str, Any] = {
        "dataset": DATASETS[dataset][0].split("/")[-1], "questions": len(questions),
        "with_answers": sum(1 for q in questions if q.answers),
        "encoder": f"questions {describe_embedder(shared_embedder(encoder))}, "
                   f"index built by {index_encoder(index_dir)}",
    }
    log(f"{dataset}: citebot on {len(questions)} questions")
    result["citebot"], cb_out, answers = run_citebot(index_dir, questions, tuning, encoder=encoder)
    outcomes: dict[str, list[Outcome]] = {"citebot": cb_out}
    if baselines:
        ps = PassageSet(index_dir)
        try:
            result["passages"] = len(ps.pids)
            result["articles"] = len(ps.articles)
            log(f"{dataset}: dense baseline")
            outcomes["dense"] = run_dense(ps, questions, encoder)
            result["dense"] = metrics(questions, outcomes["dense"])
            log(f"{dataset}: BM25 baseline")
            outcomes["bm25"], result["bm25_desc"] = run_bm25(ps, questions, encoder)
            result["bm25"] = metrics(questions, outcomes["bm25"])
        finally:
            ps.close()
    if details is not None:
        with open(details, "w", encoding="utf-8") as f:
            for i, q in enumerate(questions):
                rec: dict[str, Any] = {"id": q.id, "question": q.question, "answers": list(q.answers),
                                       "gold": list(q.gold)}
                for name, outs in outcomes.items():
                    o = outs[i]
                    rec[name] = {"answered": o.answered, "ranked": o.ranked[:5], "quotes": o.quotes[:3]}
                rec["citebot"]["quote_articles"] = [x.article_id for x in answers[i].quotes[:3]]
                f.write(json.dumps(rec, ensure_ascii=False) + "\n")
    return result


def table(result: dict[str, Any]) -> str:
    rows = []
    labels = (("bm25", "BM25 (bm25s)"), ("dense", "dense MiniLM + exact FAISS"), ("citebot", "citebot"))
    for key, label in labels:
        if key in result:
            rows.append([label, *(result[key][c] for c in COLUMNS[:-1]), f"{result[key]['p50 ms']:.1f}"])
    if "dense" in result:
        rows.append(["Δ citebot − dense", *(
            f"{result['citebot'][c] - result['dense'][c]:+.3f}" for c in COLUMNS[:-1]), ""])
    return md_table(["system", *COLUMNS], rows)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--limit", type=int, default=None, help="only the first N questions of each set")
    p.add_argument("--only", choices=sorted(DATASETS), default=None)
    p.add_argument("--encoder", default=None,
                   help="Citebot(encoder=...) for questions and index builds (default: citebot's own)")
    add_common_args(p)
    args = p.parse_args(argv)
    require_shared(*(f"{DATASETS[d][0]}/questions.jsonl" for d in DATASETS))
    names = [args.only] if args.only else list(DATASETS)
    sections = []
    for name in names:
        suffix = f"-{args.encoder}" if args.encoder else ""
        details = CACHE / f"{DATASETS[name][1]}{suffix}-details.jsonl"
        r = run_quality(name, limit=args.limit, baselines=True, rebuild=args.rebuild, details=details,
                        encoder=args.encoder)
        head = (f"### {r['dataset']}: {r['questions']:,} questions ({r['with_answers']:,} with answer "
                f"strings), {r['articles']:,} articles, {r['passages']:,} passages")
        body = (f"{head}\n\n{table(r)}\n\nEncoders (all three systems): {r['encoder']}. "
                f"BM25: {r['bm25_desc']}. citebot p95 "
                f"{r['citebot']['p95 ms']} ms, dense p95 {r['dense']['p95 ms']} ms, BM25 p95 "
                f"{r['bm25']['p95 ms']} ms. Per-question answers: `benchmarks/.cache/{details.name}`.")
        print(body + "\n", flush=True)
        sections.append(body)
    if args.limit:
        sections.append(f"(`--limit {args.limit}`: first {args.limit} questions of each set only.)")
    if not args.no_append:
        extra = [f"limit {args.limit}"] if args.limit else []
        extra += [f"--encoder {args.encoder}"] if args.encoder else []
        path = append_results("Quality" + (f" ({', '.join(extra)})" if extra else ""),
                              "\n\n".join(sections))
        print(f"appended to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
