"""The growing index: what an update costs, and whether increments answer like one build.

    python benchmarks/growth.py                 # (a)-(d) on a news-archive index of >= 50k passages
    python benchmarks/growth.py --quality       # (e) ten increments vs one build on both dev sets
    python benchmarks/growth.py --archive       # (f) peak RSS of building the whole news archive
    python benchmarks/growth.py --archive --old-code DIR   # ... and of the code checked out in DIR

(a) adding 1 article to an index of at least 50,000 passages: wall time with the model warm (in
    process) and as a new ``citebot index`` process, and the bytes each writes (/proc/self/io);
(b) adding 1,000 articles to it against a fresh build of the same 1,000: passages per second;
(c) a reader open across 100 commits made by another process: every question in between
    answered, and its answers after the last commit equal to a new process's;
(d) -- (e) ten increments against one build of realtimeqa-dev and xquad-en: article hit@1 / hit@5
    and quote_hit@1, with the default merge policy and with merges turned off;
(f) peak RSS of a build of all 24,480 articles of news-archive.jsonl from empty and as ten
    increments (each increment a new ``citebot index`` process), against ``--old-code``.
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
    """An index of the first news-archive articles holding >= 50,000 passages (cached)."""
    from retrieval import Citebot

    d = CACHE / "growth-base"
    meta = d / "growth-base.json"
    if not rebuild and meta.exists():
        info = json.loads(meta.read_text())
        if Citebot(d).has_index():
            return d, int(info["articles"])
    if rebuild:
        shutil.rmtree(d, ignore_errors=True)
    bot = Citebot(d)
    # Resume an interrupted build: its committed articles are the first ones of the archive.
    n = start = len(bot.sources()) if bot.has_index() else 0
    report = None
    while True:
        rows = read_jsonl(archive, start, 500)
        src = write_jsonl(CACHE / "growth-src" / f"part-{start:05d}.jsonl", rows)
        t0 = time.perf_counter()
        report = bot.add_articles(_load(src))
        n += len(rows)
        start += len(rows)
        log(f"base index: {n} articles, {report.passages} passages ({time.perf_counter() - t0:.0f} s)")
        if report.passages >= BASE_PASSAGES:
            break
    assert report is not None
    meta.write_text(json.dumps({"articles": n, "passages": report.passages}) + "\n")
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


def thousand(base: Path, archive: Path, first_unused: int, tmp: Path) -> list[list[Any]]:
    from retrieval import Citebot

    arts = _load(write_jsonl(tmp / "thousand.jsonl", read_jsonl(archive, first_unused + 100, 1000)))
    fresh = Citebot(tmp / "fresh")
    fresh.open()
    fresh.index_embedder.encode(["warm up"])
    t0 = time.perf_counter()
    r_fresh = fresh.add_articles(arts)
    fresh_s = time.perf_counter() - t0
    inc_dir = tmp / "inc"
    shutil.copytree(base, inc_dir)
    inc = Citebot(inc_dir)
    inc.index_embedder.encode(["warm up"])
    t0 = time.perf_counter()
    inc.add_articles(arts)
    inc_s = time.perf_counter() - t0
    n = r_fresh.passages
    return [
        ["1,000 articles, fresh build", f"{n:,} passages in {fresh_s:.0f} s",
         f"{n / fresh_s:.1f} passages/s", ""],
        ["1,000 articles added to the base index", f"{n:,} passages in {inc_s:.0f} s",
         f"{n / inc_s:.1f} passages/s", f"{fresh_s / inc_s:.0%} of the fresh build's rate"],
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

def archive_rss(archive: Path, old_code: Path | None, tmp: Path) -> str:
    rows = []
    with open(archive, encoding="utf-8") as f:
        total = sum(1 for _ in f)
    parts_dir = tmp / "parts"
    step = -(-total // 10)
    parts = []
    with open(archive, encoding="utf-8") as f:
        lines = f.readlines()
    for i in range(10):
        p = parts_dir / f"part-{i}"
        p.mkdir(parents=True)
        (p / "news.jsonl").write_text("".join(lines[i * step:(i + 1) * step]), encoding="utf-8")
        parts.append(p)
    del lines
    for label, code in (("this citebot", None), ("old code", old_code)):
        if label == "old code" and code is None:
            continue
        cwd = code or ROOT
        full = run_cli(["index", str(archive), "--index", str(tmp / f"full-{label[:3]}")], cwd=cwd,
                       pythonpath=code)
        log(f"{label} from empty: {full}")
        inc = []
        for i in range(10):
            # Each increment indexes all parts so far (a folder sync keeps what it saw before).
            args = ["index", *[str(p) for p in parts[:i + 1]], "--index", str(tmp / f"inc-{label[:3]}")]
            inc.append(run_cli(args, cwd=cwd, pythonpath=code))
            log(f"{label} increment {i + 1}: {inc[-1]}")
        rows.append([label, f"{full['rss_mb']:.0f} MB", f"{full['wall'] / 60:.0f} min",
                     f"{max(r['rss_mb'] for r in inc):.0f} MB",
                     f"{sum(r['wall'] for r in inc) / 60:.0f} min"])
    return md_table(["code", "peak RSS from empty", "time", "peak RSS, 10 increments", "time"], rows)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quality", action="store_true", help="(e): ten increments vs one build")
    p.add_argument("--archive", action="store_true", help="(f): peak RSS over the whole archive")
    p.add_argument("--old-code", type=Path, default=None, help="a checkout to compare in (f)")
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
            body = archive_rss(archive, args.old_code, tmp)
            title = "Growth: peak RSS of a whole news-archive build"
        else:
            base, used = base_index(archive, args.rebuild)
            rows = one_article(base, archive, used, tmp)
            body = md_table(["what", "wall", "write_bytes", "wchar"], rows)
            body += "\n\n" + md_table(["what", "work", "rate", "ratio"], thousand(base, archive, used, tmp))
            body += "\n\n" + md_table(["what", "result", "commits", "consistency"],
                                      live_reader(base, archive, used, tmp))
            title = "Growth: the cost of an update"
    print(body, flush=True)
    if not args.no_append:
        print(f"appended to {append_results(title, body)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
