"""The growing index: what an update costs, and whether increments answer like one build.

    python benchmarks/growth.py                 # (a)-(d) on a news-archive index of >= 50k passages
    python benchmarks/growth.py --quality       # (e) ten increments vs one build on both dev sets
    python benchmarks/growth.py --archive increments   # (f) the news archive in ten increments
    python benchmarks/growth.py --archive empty [--subset N]          # ... in one process
    python benchmarks/growth.py --archive old --old-code DIR [--subset N]   # ... by older code

(a) adding 1 article to an index of at least 50,000 passages: wall time with the model warm (in
    process) and as a new ``citebot index`` process, and the bytes each writes (/proc/self/io);
(b) adding 1,000 articles to it against a fresh build of the same 1,000: passages per second;
(c) a reader open across 100 commits made by another process: every question in between
    answered, and its answers after the last commit equal to a new process's;
(d) -- (e) ten increments against one build of realtimeqa-dev and xquad-en: article hit@1 / hit@5
    and quote_hit@1, with the default merge policy and with merges turned off;
(f) peak RSS of a build of the 24,480 articles of news-archive.jsonl as ten increments (each
    a new ``citebot index`` process; the index stays in ``benchmarks/.cache/archive`` for the
    time and scale benchmarks), from empty in one process (``--subset N``: its first N articles),
    and the same with ``--old-code DIR`` (a checkout of an older citebot).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from _common import (
    CACHE,
    ROOT,
    add_common_args,
    append_results,
    log,
    md_table,
    require_shared,
)

ARCHIVE = "corpora/news-archive.jsonl"
RTQA = "qa/realtimeqa-dev"
XQUAD = "qa/xquad-en"
BASE_PASSAGES = 50_000
POOL_ARTICLES = 20


def read_jsonl(path: Path, start: int = 0, count: int | None = None) -> list[dict[str, Any]]:
    out = []
    with open(path, encoding="utf-8") as f:
        for i, line in enumerate(f):
            if i < start:
                continue
            if count is not None and len(out) >= count:
                break
            out.append(json.loads(line))
    return out


def write_jsonl(path: Path, rows: Sequence[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    return path


def io_counters() -> dict[str, int]:
    out = {}
    for line in Path("/proc/self/io").read_text().splitlines():
        k, v = line.split(":")
        out[k.strip()] = int(v)
    return out


# The child process: the CLI's own main, then what it wrote and its peak RSS, on stderr. Peak RSS
# is VmHWM, not ru_maxrss: Linux carries ru_maxrss across execve from the forking parent.
CHILD = (
    "import sys, time; t0 = time.perf_counter(); from bot.cli import main; "
    "rc = main(sys.argv[1:]); "
    "io = dict((k.strip(), int(v)) for k, v in (l.split(':') for l in open('/proc/self/io'))); "
    "hwm = next(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmHWM')); "
    "print('BENCH', time.perf_counter() - t0, io['write_bytes'], io['wchar'], hwm, file=sys.stderr); "
    "sys.exit(rc)"
)


def run_cli(args: Sequence[str], cwd: Path = ROOT, pythonpath: Path | None = None) -> dict[str, float]:
    env = {**os.environ, "CITEBOT_LOG_LEVEL": "WARNING"}
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-c", CHILD, *args], cwd=cwd, env=env, capture_output=True,
                       text=True)
    wall = time.perf_counter() - t0
    line = next((ln for ln in r.stderr.splitlines() if ln.startswith("BENCH")), None)
    if r.returncode != 0 or line is None:
        raise RuntimeError(f"citebot {' '.join(args)} failed: {r.stderr.strip()[-500:]}")
    _, secs, wb, wc, rss = line.split()
    return {"wall": wall, "inside": float(secs), "write_bytes": int(wb), "wchar": int(wc),
            "rss_mb": int(rss) / 1024}


# -- the base index -----------------------------------------------------------------------------

def base_index(archive: Path, rebuild: bool) -> tuple[Path, int]:
    """An index of the first news-archive articles holding >= 50,000 passages (cached).

    Its text is real (the articles split as any build splits them, with their FTS rows), its
    vectors are made (see madevectors.py) from the real vectors of the first POOL_ARTICLES
    articles: what an update costs depends on how many vectors there are, not on their values,
    and embedding 50,000 passages with their sentences would take hours on this machine. The
    articles the measurements add are embedded by the model."""
    from madevectors import MadeVectorsPreparer, real_pools

    from retrieval import Citebot

    d = CACHE / "growth-base"
    meta = d / "growth-base.json"
    if not rebuild and meta.exists():
        info = json.loads(meta.read_text())
        if Citebot(d).has_index():
            return d, int(info["articles"])
    shutil.rmtree(d, ignore_errors=True)
    bot = Citebot(d)
    pools = real_pools(bot, _load(write_jsonl(CACHE / "growth-src" / "pool.jsonl",
                                              read_jsonl(archive, 0, POOL_ARTICLES))))
    log(f"base index: vector pools of {len(pools[0])} passages, {len(pools[1])} sentences (real)")
    cfg = bot.config
    prep = MadeVectorsPreparer(bot.index_embedder, cfg.passage_tokens, cfg.passage_overlap, *pools)
    n = 0
    t0 = time.perf_counter()
    with bot.writer(preparer=prep) as w:
        while True:
            rows = read_jsonl(archive, n, 250)
            for a in _load(write_jsonl(CACHE / "growth-src" / f"part-{n:05d}.jsonl", rows)):
                w.upsert(a)
            n += len(rows)
            passages = w.commit().passages
            log(f"base index: {n} articles, {passages} passages ({time.perf_counter() - t0:.0f} s)")
            if passages >= BASE_PASSAGES:
                break
    meta.write_text(json.dumps({"articles": n, "passages": passages}) + "\n")
    return d, n


def _load(path: Path) -> list[Any]:
    from retrieval.loaders import load_articles

    return list(load_articles([path]).articles)


# -- (a) and (b) ----------------------------------------------------------------------------------

def one_article(base: Path, archive: Path, first_unused: int, tmp: Path) -> list[list[Any]]:
    from retrieval import Citebot

    rows = []
    d = tmp / "one"
    shutil.copytree(base, d)
    bot = Citebot(d)
    bot.add_articles(_load(write_jsonl(tmp / "warm.jsonl", read_jsonl(archive, first_unused, 1))))
    warm = []
    for i in range(5):
        src = write_jsonl(tmp / f"one-{i}.jsonl", read_jsonl(archive, first_unused + 1 + i, 1))
        arts = _load(src)
        before = io_counters()
        t0 = time.perf_counter()
        bot.add_articles(arts)
        secs = time.perf_counter() - t0
        after = io_counters()
        warm.append((secs, after["write_bytes"] - before["write_bytes"], after["wchar"] - before["wchar"]))
    passages = bot.view().passages_count
    rows.append([f"add 1 article, model warm (median of 5; index of {passages:,} passages)",
                 f"{statistics.median(w[0] for w in warm):.2f} s",
                 f"{statistics.median(w[1] for w in warm) / 1e6:.2f} MB",
                 f"{statistics.median(w[2] for w in warm) / 1e6:.2f} MB"])
    cold = []
    for i in range(3):
        src = write_jsonl(tmp / f"cold-{i}.jsonl", read_jsonl(archive, first_unused + 10 + i, 1))
        cold.append(run_cli(["index", str(src), "--index", str(d)]))
    rows.append(["add 1 article, new `citebot index` process (median of 3)",
                 f"{statistics.median(c['wall'] for c in cold):.2f} s",
                 f"{statistics.median(c['write_bytes'] for c in cold) / 1e6:.2f} MB",
                 f"{statistics.median(c['wchar'] for c in cold) / 1e6:.2f} MB"])
    return rows


def thousand(base: Path, archive: Path, first_unused: int, tmp: Path, count: int) -> list[list[Any]]:
    """The same ``count`` articles into a fresh index and into the base index, alternating batches
    of 50 between the two, so both see the same machine load (this machine is shared)."""
    from retrieval import Citebot

    arts = _load(write_jsonl(tmp / "thousand.jsonl", read_jsonl(archive, first_unused + 100, count)))
    fresh = Citebot(tmp / "fresh")
    fresh.index_embedder.encode(["warm up"])
    inc_dir = tmp / "inc"
    shutil.copytree(base, inc_dir)
    inc = Citebot(inc_dir)
    inc.index_embedder.encode(["warm up"])
    fresh_s = inc_s = 0.0
    for lo in range(0, len(arts), 50):
        batch = arts[lo:lo + 50]
        t0 = time.perf_counter()
        r_fresh = fresh.add_articles(batch)
        fresh_s += time.perf_counter() - t0
        t0 = time.perf_counter()
        inc.add_articles(batch)
        inc_s += time.perf_counter() - t0
        log(f"(b) {lo + len(batch)}/{len(arts)}: fresh {fresh_s:.0f} s, into the base {inc_s:.0f} s")
    n = r_fresh.passages
    return [
        [f"{count:,} articles, fresh build (batches of 50)", f"{n:,} passages in {fresh_s:.0f} s",
         f"{n / fresh_s:.1f} passages/s", ""],
        [f"{count:,} articles added to the base index (same batches, alternating)",
         f"{n:,} passages in {inc_s:.0f} s", f"{n / inc_s:.1f} passages/s",
         f"{fresh_s / inc_s:.0%} of the fresh build's rate"],
    ]


# -- (c) ----------------------------------------------------------------------------------------

WRITER = """
import json, sys
from retrieval import Citebot
from retrieval.loaders import load_articles
bot = Citebot(sys.argv[1])
arts = load_articles([sys.argv[2]]).articles
for a in arts:
    bot.add_articles([a])
    print("committed", flush=True)
"""


def live_reader(base: Path, archive: Path, first_unused: int, tmp: Path) -> list[list[Any]]:
    from retrieval import Citebot

    d = tmp / "live"
    shutil.copytree(base, d)
    rows = read_jsonl(archive, first_unused + 2000, 100)
    src = write_jsonl(tmp / "stream.jsonl", rows)
    questions = [f"What happened: {r['title']}?" for r in rows[::10]] + [
        "What did the president say about the economy?", "Who won the election?"]
    bot = Citebot(d)
    bot.open()
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(d), str(src)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    asked = failed = 0
    gens: set[int] = set()
    while proc.poll() is None:
        for q in questions:
            try:
                gens.add(bot.view().commit.generation)
                bot.answer(q)
                asked += 1
            except Exception as exc:  # counted, not hidden
                failed += 1
                log(f"question failed during commits: {type(exc).__name__}: {exc}")
    _, err = proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"writer failed: {err[-500:]}")
    mine = [bot.answer(q).to_dict() for q in questions]
    qfile = tmp / "questions.txt"
    qfile.write_text("\n".join(questions) + "\n")
    r = subprocess.run([sys.executable, "-m", "bot", "ask", "-", "--json", "--index", str(d)], cwd=ROOT,
                       input=qfile.read_text(), capture_output=True, text=True, check=True)
    theirs = [json.loads(line) for line in r.stdout.splitlines()]
    same = sum(a == b for a, b in zip(mine, theirs, strict=True))
    return [["reader open across 100 commits of another process",
             f"{asked} questions answered, {failed} failed", f"{len(gens)} commits seen",
             f"after the last commit: {same}/{len(questions)} answers equal a new process's"]]


# -- (e) ----------------------------------------------------------------------------------------

def increments_quality(rebuild: bool) -> str:
    from retrieval import Citebot
    from retrieval.evaluation import evaluate, load_questions
    from retrieval.mergepolicy import MergePolicy

    out = []
    for name in (RTQA, XQUAD):
        (folder,) = require_shared(name)
        articles = _load(folder / "articles.jsonl")
        questions = load_questions(folder / "questions.jsonl")
        table = []
        for label, policy, parts in (("one build", None, 1),
                                     ("ten increments, default merges", None, 10),
                                     ("ten increments, no merges", MergePolicy(merge_factor=1000), 10)):
            d = CACHE / f"growth-{Path(name).name}-{parts}-{'nomerge' if policy else 'merge'}"
            if rebuild or not Citebot(d).has_index():
                shutil.rmtree(d, ignore_errors=True)
                bot = Citebot(d)
                step = -(-len(articles) // parts)
                for i in range(0, len(articles), step):
                    with bot.writer(policy=policy) as w:
                        for a in articles[i:i + step]:
                            w.upsert(a)
                        w.commit()
                        w.maybe_merge()
                    log(f"{d.name}: {min(i + step, len(articles))}/{len(articles)} articles")
            bot = Citebot(d)
            rep = evaluate(bot, questions)
            segs = len(bot.view().commit.segments)
            table.append([label, segs, rep.article_hit_at_1, rep.article_hit_at_5, rep.quote_hit_at_1])
            bot.close()
        base = table[0]
        for row in table[1:]:
            row.append(f"{(row[2] - base[2]) * 100:+.1f} / {(row[3] - base[3]) * 100:+.1f} / "
                       f"{(row[4] - base[4]) * 100:+.1f}")
        table[0].append("")
        out.append(f"**{Path(name).name}** ({len(articles)} articles, {len(questions)} questions)\n\n"
                   + md_table(["index", "segments", "hit@1", "hit@5", "quote_hit@1", "Δ points"], table))
    return "\n\n".join(out)


# -- (f) ----------------------------------------------------------------------------------------

def _archive_parts(archive: Path, parts: int) -> list[Path]:
    """The archive cut into ``parts`` folders of consecutive articles (cached)."""
    base = CACHE / f"archive-parts-{parts}"
    folders = [base / f"part-{i:02d}" for i in range(parts)]
    if all((f / "news.jsonl").exists() for f in folders):
        return folders
    with open(archive, encoding="utf-8") as f:
        lines = f.readlines()
    step = -(-len(lines) // parts)
    for i, folder in enumerate(folders):
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "news.jsonl").write_text("".join(lines[i * step:(i + 1) * step]), encoding="utf-8")
    return folders


def archive_rss(archive: Path, mode: str, old_code: Path | None, subset: int | None) -> str:
    """Peak RSS (VmHWM) and time of building the archive: ``increments`` (ten ``citebot index``
    processes, each over the parts so far, into ``benchmarks/.cache/archive``, kept for the other
    benchmarks), ``empty`` (one process over the whole archive, or its first ``subset`` articles)
    and ``old`` (the same with the code checked out in ``old_code``)."""
    rows = []
    if mode == "increments":
        parts = _archive_parts(archive, 10)
        dest = CACHE / "archive"
        for i in range(len(parts)):
            # Each increment indexes all parts so far, as a folder sync of a growing archive does.
            r = run_cli(["index", *[str(p) for p in parts[:i + 1]], "--index", str(dest)])
            log(f"increment {i + 1}: {r}")
            rows.append([f"increment {i + 1} of 10", f"{r['rss_mb']:.0f} MB", f"{r['wall'] / 60:.1f} min",
                         f"{r['write_bytes'] / 1e6:.0f} MB"])
        return md_table(["build", "peak RSS (VmHWM)", "wall", "written"], rows)
    src = archive
    if subset is not None:
        src = write_jsonl(CACHE / f"archive-first-{subset}" / "news.jsonl", read_jsonl(archive, 0, subset))
    code = old_code if mode == "old" else None
    with tempfile.TemporaryDirectory(prefix="archive-", dir=CACHE) as t:
        r = run_cli(["index", str(src), "--index", str(Path(t) / "idx")], cwd=code or ROOT, pythonpath=code)
    label = ("old code" if mode == "old" else "this citebot") + f", {subset or 24480} articles from empty"
    log(f"{label}: {r}")
    rows.append([label, f"{r['rss_mb']:.0f} MB", f"{r['wall'] / 60:.1f} min",
                 f"{r['write_bytes'] / 1e6:.0f} MB"])
    return md_table(["build", "peak RSS (VmHWM)", "wall", "written"], rows)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quality", action="store_true", help="(e): ten increments vs one build")
    p.add_argument("--archive", choices=["increments", "empty", "old"], default=None,
                   help="(f): peak RSS of building the archive in ten increments, from empty, or "
                        "from empty with --old-code")
    p.add_argument("--old-code", type=Path, default=None, help="a checkout to compare in (f)")
    p.add_argument("--subset", type=int, default=None, help="(f) from empty: only the first N articles")
    p.add_argument("--batch", type=int, default=1000, help="(b): how many articles to add")
    p.add_argument("--parts", default="abc", help="which of (a), (b), (c) to run (default: all)")
    add_common_args(p)
    args = p.parse_args(argv)
    (archive,) = require_shared(ARCHIVE)
    CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="growth-", dir=CACHE) as t:
        tmp = Path(t)
        if args.quality:
            body = increments_quality(args.rebuild)
            title = "Growth: ten increments against one build"
        elif args.archive:
            body = archive_rss(archive, args.archive, args.old_code, args.subset)
            title = f"Growth: peak RSS of a news-archive build ({args.archive})"
        else:
            base, used = base_index(archive, args.rebuild)
            parts = []
            # Each part is logged as it is measured: a later failure loses nothing.
            if "a" in args.parts:
                parts.append(md_table(["what", "wall", "write_bytes", "wchar"],
                                      one_article(base, archive, used, tmp)))
                log(parts[-1])
            if "b" in args.parts:
                parts.append(md_table(["what", "work", "rate", "ratio"],
                                      thousand(base, archive, used, tmp, args.batch)))
                log(parts[-1])
            if "c" in args.parts:
                parts.append(md_table(["what", "result", "commits", "consistency"],
                                      live_reader(base, archive, used, tmp)))
            body = "\n\n".join(parts) + (
                f"\n\nBase index: the first {used:,} news-archive articles, real text split as any build "
                f"splits it, with vectors made from the real vectors of the first {POOL_ARTICLES} articles "
                "(benchmarks/madevectors.py; an update's cost depends on the number of vectors, not their "
                "values). Every article the measurements add is embedded by the model.")
            title = "Growth: the cost of an update"
    print(body, flush=True)
    if not args.no_append:
        print(f"appended to {append_results(title, body)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
