"""How fast citebot builds, answers and starts, on BBC News articles plus the seeds, in one run.

    python benchmarks/speed.py [--articles N] [--questions 200] [--encoder NAME] [--no-append]

On ``../shared/data/corpora/bbc-news-2225.jsonl`` (the first N articles with ``--articles N``,
default all 2,225) plus ``seeds/``:

(a) index build throughput (passages/s, model already loaded) and, in the same run, raw
    ``SentenceTransformer.encode(passage_texts, batch_size=32)`` in fp32 on the same passage
    texts read back from the built index; the ratio build/raw is the figure to watch;
(b) warm ``ask`` and ``cite`` latency p50/p95: ask over realtimeqa-dev questions plus the seed
    questions of tests/seed_questions.py; cite over sentences sampled from the indexed BBC
    articles, half verbatim and half lightly paraphrased (words dropped, two swapped);
(c) cold ``citebot ask "..." --index DIR`` wall time, median of 5 new processes (after one
    untimed run, so the OS file cache is warm), and ``citebot --help``, median of 5;
(d) peak RSS of one cold ask (``/usr/bin/time -v`` or ``getrusage``);
(e) index size on disk.

It measures whatever ``citebot`` uses by default. ``--encoder NAME`` is passed to ``Citebot``
when its constructor takes ``encoder`` (and set as ``CITEBOT_ENCODER`` for the subprocesses);
otherwise it is ignored with a notice.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    CACHE,
    ROOT,
    SEEDS,
    add_common_args,
    append_results,
    describe_embedder,
    engine_kwargs,
    index_tables,
    log,
    md_table,
    percentile,
    require_shared,
)

BBC = "corpora/bbc-news-2225.jsonl"
RTQA = "qa/realtimeqa-dev/questions.jsonl"
COLD_QUESTION = "What did NATO's chief say?"


def subset(src: Path, n: int | None, dest_dir: Path) -> Path:
    if n is None:
        return src
    dest_dir.mkdir(parents=True, exist_ok=True)
    dest = dest_dir / f"bbc-first-{n}.jsonl"
    with open(src, encoding="utf-8") as f:
        lines = [line for line in f if line.strip()][:n]
    text = "".join(lines)
    if not dest.exists() or dest.read_text(encoding="utf-8") != text:
        dest.write_text(text, encoding="utf-8")
    return dest


# -- (a) build --------------------------------------------------------------------------------------

def passage_and_sentence_texts(index_dir: Path) -> tuple[list[str], list[str]]:
    from retrieval.index import passage_text

    arts, passages, sentences = index_tables(index_dir)
    return ([passage_text(arts[a][0], arts[a][1][s:e]) for _, a, s, e, _, _ in passages],
            [arts[a][1][s:e] for _, a, s, e in sentences])


def sentence_transformer(emb: Any) -> Any:
    """The SentenceTransformer behind the default embedder, or a freshly loaded one."""
    from sentence_transformers import SentenceTransformer

    model = getattr(emb, "model", None)
    if isinstance(model, SentenceTransformer):
        return model
    from retrieval.embedder import DEFAULT_MODEL, SentenceTransformerEmbedder

    return SentenceTransformerEmbedder(DEFAULT_MODEL).model


def raw_encode_rate(st: Any, texts: Sequence[str]) -> tuple[float, float]:
    st.encode(["warm up"], batch_size=32)
    t0 = time.perf_counter()
    st.encode(list(texts), batch_size=32, convert_to_numpy=True, show_progress_bar=False)
    secs = time.perf_counter() - t0
    return len(texts) / secs, secs


# -- (b) warm latency -------------------------------------------------------------------------------

def ask_questions(n: int) -> list[str]:
    sys.path.insert(0, str(ROOT / "tests"))
    from seed_questions import ANSWERABLE, UNANSWERABLE

    from retrieval.evaluation import load_questions

    seeds = [q for q, _, _ in ANSWERABLE] + list(UNANSWERABLE)
    rest = max(n - len(seeds), 0)
    rtqa = [q.question for q in load_questions(require_shared(RTQA)[0], rest)] if rest else []
    return (seeds + rtqa)[:n] if n >= len(seeds) else seeds[:n]


def paraphrase(sentence: str, rng: random.Random) -> str:
    words = sentence.split()
    kept = [w for i, w in enumerate(words) if i == 0 or rng.random() > 0.15]
    if len(kept) > 4:
        i = rng.randrange(1, len(kept) - 2)
        kept[i], kept[i + 1] = kept[i + 1], kept[i]
    return " ".join(kept)


def cite_claims(index_dir: Path, n: int) -> list[tuple[str, str, bool]]:
    """(claim, source article id, verbatim?) for ``n`` sentences of non-seed articles."""
    arts, _, sentences = index_tables(index_dir)
    texts = {aid: text for aid, (_, text, path) in arts.items() if not (path or "").startswith(str(SEEDS))}
    rows = [(a, s, e) for _, a, s, e in sentences if a in texts and 60 <= e - s <= 300]
    rng = random.Random(0)
    picks = rng.sample(rows, min(n, len(rows)))
    out = []
    for i, (aid, s, e) in enumerate(picks):
        sent = " ".join(texts[aid][s:e].split())
        out.append((sent, aid, True) if i % 2 == 0 else (paraphrase(sent, rng), aid, False))
    return out


def timed(fn: Any, items: Sequence[Any]) -> tuple[list[float], list[Any]]:
    lat, results = [], []
    for x in items:
        t0 = time.perf_counter()
        results.append(fn(x))
        lat.append((time.perf_counter() - t0) * 1000)
    return lat, results


# -- (c)-(e) processes and disk ---------------------------------------------------------------------

def citebot_cmd() -> list[str]:
    exe = Path(sys.executable).parent / "citebot"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "bot"]


def run_wall(cmd: list[str], env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"exit {proc.returncode}: {proc.stderr.strip()[-300:]}")
    return wall


def peak_rss_mb(cmd: list[str], env: dict[str, str]) -> tuple[float, str]:
    gnu_time = shutil.which("time") or ("/usr/bin/time" if Path("/usr/bin/time").exists() else None)
    if gnu_time:
        proc = subprocess.run([gnu_time, "-v", *cmd], cwd=ROOT, env=env, capture_output=True, text=True)
        m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
        if m:
            return int(m.group(1)) / 1024, "/usr/bin/time -v"
    # A wrapper process so RUSAGE_CHILDREN holds this one child only.
    code = ("import resource, subprocess, sys; subprocess.run(sys.argv[1:], capture_output=True); "
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    out = subprocess.run([sys.executable, "-c", code, *cmd], cwd=ROOT, env=env, capture_output=True,
                         text=True, check=True).stdout
    return int(out.strip()) / 1024, "getrusage(RUSAGE_CHILDREN)"


def disk_usage(index_dir: Path) -> tuple[int, dict[str, int]]:
    """Bytes of the index's files, summed by file name across segments."""
    parts: dict[str, int] = {}
    for p in index_dir.rglob("*"):
        if p.is_file():
            parts[p.name] = parts.get(p.name, 0) + p.stat().st_size
    return sum(parts.values()), parts


def mb(n: float) -> str:
    return f"{n / 1e6:.1f} MB"


# -- main -------------------------------------------------------------------------------------------

def _err(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return f"**failed**: {type(exc).__name__}" + (f": {lines[-1][:200]}" if lines else "")


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--articles", type=int, default=None, help="use the first N BBC articles (default all)")
    p.add_argument("--questions", type=int, default=200, help="questions (and cite claims) for warm latency")
    p.add_argument("--runs", type=int, default=5, help="new processes for each cold timing")
    p.add_argument("--encoder", default=None, help="query/index encoder, if this citebot supports a choice")
    p.add_argument("--reuse-index", action="store_true",
                   help="skip (a): keep the index a previous run built and measure (b)-(e) only")
    add_common_args(p)
    args = p.parse_args(argv)
    bbc, _ = require_shared(BBC, RTQA)

    from retrieval import Citebot

    kwargs = engine_kwargs(args.encoder)
    tag = f"bbc{args.articles}" if args.articles else "bbc-all"
    work = CACHE / f"speed-{tag}"
    source = subset(bbc, args.articles, work)
    index_dir = work / "index"
    rows: list[list[str]] = []

    bot = Citebot(index_dir, **kwargs)
    t0 = time.perf_counter()
    emb = bot.embedder
    emb.encode(["warm up"])
    load_s = time.perf_counter() - t0
    # Engines that build with their own encoder (e.g. int8) load it on the first build: load it
    # here so the build time is indexing only.
    t0 = time.perf_counter()
    build_emb = getattr(bot, "index_embedder", emb)
    build_emb.encode(["warm up"])
    load_s += time.perf_counter() - t0 if build_emb is not emb else 0.0
    log(f"model loaded in {load_s:.1f} s ({describe_embedder(emb)}, builds: {describe_embedder(build_emb)})")
    reuse = args.reuse_index and bot.has_index()

    # (a) build, model loaded beforehand so only indexing is timed
    if not reuse:
        log(f"building index of {source.name} + seeds")
        t0 = time.perf_counter()
        bot.index([str(source), str(SEEDS)], rebuild=True)
        build_s = time.perf_counter() - t0
    bot.close()
    passages, sentences = passage_and_sentence_texts(index_dir)
    n_art = args.articles or "all 2,225"
    encoder_note = ""
    if args.encoder:
        encoder_note = f", --encoder {args.encoder}" + ("" if kwargs else " (ignored: not supported)")
    rows += [
        ["corpus", f"first {n_art} BBC articles + seeds: {len(passages):,} passages, "
                   f"{len(sentences):,} sentences"],
        ["encoders (default unless --encoder)",
         f"questions: {describe_embedder(emb)}; index build: {describe_embedder(build_emb)}{encoder_note}"],
        ["model load, in process (both encoders)", f"{load_s:.1f} s"],
    ]
    if reuse:
        rows.append(["index build", "not measured (`--reuse-index`)"])
    else:
        build_rate = len(passages) / build_s
        log(f"built: {len(passages)} passages, {len(sentences)} sentences in {build_s:.1f} s")
        st = sentence_transformer(emb)
        raw_rate, raw_s = raw_encode_rate(st, passages)
        log(f"raw encode: {raw_rate:.1f} passages/s ({raw_s:.1f} s); raw encode of the sentences next")
        raw_sent_rate, raw_sent_s = raw_encode_rate(st, sentences)
        del st
        rows += [
            ["index build (passages and sentences embedded, written)",
             f"**{build_rate:.1f} passages/s** ({build_s:.1f} s)"],
            ["raw `SentenceTransformer.encode(passages, batch_size=32)` fp32",
             f"**{raw_rate:.1f} passages/s** ({raw_s:.1f} s)"],
            ["**build / raw encode ratio**", f"**{build_rate / raw_rate:.2f}**"],
            ["raw encode of the sentences too (for reference)",
             f"{raw_sent_rate:.1f} sentences/s ({raw_sent_s:.1f} s); passages + sentences: "
             f"{raw_s + raw_sent_s:.1f} s = {(raw_s + raw_sent_s) / build_s:.2f} of the build time"],
        ]

    # (b) warm latency; each measurement reports its own failure instead of losing the run
    bot = Citebot(index_dir, embedder=emb, **kwargs)
    bot.open()
    questions = ask_questions(args.questions)
    claims = cite_claims(index_dir, args.questions)
    log(f"warm ask over {len(questions)} questions")
    label = f"warm `ask` p50 / p95 ({len(questions)} questions"
    try:
        for q in questions[:5]:
            bot.answer(q)
        ask_lat, answers = timed(bot.answer, questions)
        answered = sum(a.answered for a in answers) / len(answers)
        rows.append([f"{label}, {answered:.0%} answered)",
                     f"{percentile(ask_lat, 50):.1f} / {percentile(ask_lat, 95):.1f} ms"])
    except Exception as exc:
        rows.append([label + ")", _err(exc)])
    log(f"warm cite over {len(claims)} claims")
    label = f"warm `cite` p50 / p95 ({len(claims)} claims, half paraphrased)"
    try:
        bot.cite(claims[0][0])
        cite_lat, matches = timed(bot.cite, [c for c, _, _ in claims])
        verb = [(m, aid) for m, (_, aid, v) in zip(matches, claims, strict=True) if v]
        para = [(m, aid) for m, (_, aid, v) in zip(matches, claims, strict=True) if not v]
        # A sentence can occur in two articles (the BBC set has near-duplicates): any verbatim
        # match in the source counts; paraphrases must have the source as the top match.
        verb_ok = sum(any(x.verbatim and x.article_id == aid for x in m)
                      for m, aid in verb) / max(len(verb), 1)
        para_ok = sum(bool(m) and m[0].article_id == aid for m, aid in para) / max(len(para), 1)
        # ... or the same sentence in a near-duplicate of the source article.
        para_dup = sum(
            bool(m) and m[0].article_id != aid and m[0].text in bot.article(aid).text
            for m, aid in para
        ) / max(len(para), 1)
        para_verbatim = sum(bool(m) and m[0].verbatim for m, _ in para) / max(len(para), 1)
        rows += [
            [label, f"{percentile(cite_lat, 50):.1f} / {percentile(cite_lat, 95):.1f} ms"],
            ["cite correctness (top match)",
             f"verbatim claims found verbatim in their source {verb_ok:.0%}; paraphrased claims: top match "
             f"is the source {para_ok:.0%}, or the same sentence in a near-duplicate article "
             f"{para_dup:.0%}; wrongly called verbatim {para_verbatim:.0%}"],
        ]
    except Exception as exc:
        rows.append([label, _err(exc)])
    bot.close()

    # (c) cold processes, (d) RSS
    env = dict(os.environ)
    if args.encoder:
        env["CITEBOT_ENCODER"] = args.encoder
    ask_cmd = [*citebot_cmd(), "ask", COLD_QUESTION, "--index", str(index_dir)]
    help_cmd = [*citebot_cmd(), "--help"]
    log(f"cold runs: {' '.join(ask_cmd)}")
    label = f"cold `citebot ask \"...\" --index DIR` (median of {args.runs})"
    try:
        run_wall(ask_cmd, env)  # untimed: fills the OS file cache (and any one-time export)
        cold = [run_wall(ask_cmd, env) for _ in range(args.runs)]
        rows.append([label, f"{statistics.median(cold):.2f} s (min {min(cold):.2f}, max {max(cold):.2f})"])
    except Exception as exc:
        rows.append([label, _err(exc)])
    label = f"`citebot --help` (median of {args.runs})"
    try:
        run_wall(help_cmd, env)
        helps = [run_wall(help_cmd, env) for _ in range(args.runs)]
        rows.append([label, f"{statistics.median(helps):.2f} s"])
    except Exception as exc:
        rows.append([label, _err(exc)])
    try:
        rss, rss_how = peak_rss_mb(ask_cmd, env)
        rows.append(["peak RSS, cold ask", f"{rss:.0f} MB ({rss_how})"])
    except Exception as exc:
        rows.append(["peak RSS, cold ask", _err(exc)])

    # (e) disk
    total, parts = disk_usage(index_dir)
    big = ", ".join(f"{k} {mb(v)}" for k, v in sorted(parts.items(), key=lambda kv: -kv[1]) if v > 1e5)
    rows.append(["index size on disk", f"{mb(total)} ({big})"])

    body = md_table(["figure", "value"], rows)
    if args.articles:
        body += (f"\n\n(`--articles {args.articles}`: the first {args.articles} of the 2,225 BBC articles "
                 "(the file is sorted by topic: these are business news), to spare the shared CPU. "
                 "Throughput and latency are per passage / per query; disk size and warm latency grow "
                 "with the corpus.)")
    print(body, flush=True)
    if not args.no_append:
        path = append_results(f"Speed ({tag})", body)
        print(f"appended to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
