"""The torch-free embedder: same vectors as sentence-transformers, no torch, one export."""

from __future__ import annotations

import ast
import json
import random
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from retrieval import fastembed, onnxexport
from retrieval.embedder import DEFAULT_MODEL, Embedder, SentenceTransformerEmbedder
from retrieval.fastembed import FastEmbedder, load_fast_embedder, prepare_fast_embedder

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
BBC = ROOT.parent / "shared" / "data" / "corpora" / "bbc-news-2225.jsonl"
MIN_COSINE = 0.9999


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cache the fp32 and int8 models are exported into, in a new process that prints nothing.

    `citebot ask` exports on first use, so the exporter's own progress output and warnings would
    land around the answer; stdout and stderr must stay empty.
    """
    cache = tmp_path_factory.mktemp("fastembed-cache")
    code = textwrap.dedent(
        f"""
        from pathlib import Path
        from retrieval.fastembed import prepare_fast_embedder
        for quantize in (False, True):
            assert prepare_fast_embedder({DEFAULT_MODEL!r}, Path({str(cache)!r}), quantize=quantize)
        """
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout == "", f"the export printed to stdout: {proc.stdout[:500]!r}"
    assert proc.stderr == "", f"the export printed to stderr: {proc.stderr[-1000:]!r}"
    return cache


@pytest.fixture(scope="module")
def fast(cache_dir: Path) -> FastEmbedder:
    emb = load_fast_embedder(DEFAULT_MODEL, cache_dir, quantize=False)
    assert emb is not None, "the fast path must work for the packaged model"
    return emb


@pytest.fixture(scope="module")
def fast_int8(cache_dir: Path) -> FastEmbedder:
    emb = load_fast_embedder(DEFAULT_MODEL, cache_dir, quantize=True)
    assert emb is not None
    return emb


@pytest.fixture(scope="module")
def reference() -> SentenceTransformerEmbedder:
    """sentence-transformers itself (torch), the vectors the fast path must reproduce."""
    return SentenceTransformerEmbedder(DEFAULT_MODEL)


def _chunks(text: str, emb: Embedder, target: int = 100) -> list[str]:
    """~``target``-word-piece passages, the size the index stores."""
    out: list[str] = []
    cur: list[str] = []
    for word in text.split():
        cur.append(word)
        if emb.count_tokens([" ".join(cur)])[0] >= target:
            out.append(" ".join(cur))
            cur = []
    if cur:
        out.append(" ".join(cur))
    return out


def _sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+", text) if 3 <= len(s.split()) <= 30]


def _seed_texts(emb: Embedder) -> list[str]:
    texts: list[str] = []
    for path in sorted(SEEDS.glob("*.txt")):
        body = path.read_text(encoding="utf-8")
        texts += _chunks(body, emb) + _sentences(body)
    return texts


def _assert_close(fast: Embedder, reference: Embedder, texts: list[str]) -> None:
    got = fast.encode(texts)
    want = reference.encode(texts)
    assert got.shape == want.shape == (len(texts), reference.dim)
    assert got.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    cos = (got * want).sum(axis=1)
    worst = int(cos.argmin())
    assert cos.min() >= MIN_COSINE, f"cosine {cos.min():.6f} on {texts[worst][:80]!r}"


def test_implements_the_embedder_protocol(fast: FastEmbedder, reference: SentenceTransformerEmbedder) -> None:
    assert isinstance(fast, Embedder)
    # The same model_id lets an index built by one embedder be queried by the other.
    assert fast.model_id == reference.model_id == "sentence-transformers/all-MiniLM-L6-v2"
    assert fast.dim == reference.dim == 384
    assert fast.max_tokens == reference.max_tokens == 256
    assert fast.encoder_id == "onnx-fp32"
    assert fast.encode([]).shape == (0, 384)


def test_matches_reference_on_seed_articles(
    fast: FastEmbedder, reference: SentenceTransformerEmbedder
) -> None:
    texts = _seed_texts(reference)
    assert len(texts) >= 20
    # Odd inputs: empty, whitespace-padded, one word, longer than max_tokens (truncated).
    texts += ["", "  padded query  ", "Ukraine", " ".join(texts) * 2]
    _assert_close(fast, reference, texts)


def test_matches_reference_on_corpus_passages(
    fast: FastEmbedder, reference: SentenceTransformerEmbedder
) -> None:
    if not BBC.exists():
        pytest.skip(f"{BBC} is missing: the shared evaluation data sits beside the project root")
    passages: list[str] = []
    sentences: list[str] = []
    with BBC.open(encoding="utf-8") as fh:
        for line in fh:
            text = json.loads(line)["text"]
            passages += _chunks(text, reference)
            sentences += _sentences(text)[:3]
            if len(passages) >= 200:
                break
    assert len(passages) >= 200
    _assert_close(fast, reference, passages[:200] + sentences[:60])


def test_order_and_batching_do_not_change_vectors(fast: FastEmbedder) -> None:
    # encode sorts by length internally; rows must come back in input order.
    texts = ["short", "a much longer text about the central bank and interest rates " * 5, "mid size"]
    whole = fast.encode(texts, batch_size=32)
    one_by_one = np.vstack([fast.encode([t]) for t in texts])
    np.testing.assert_allclose(whole, one_by_one, atol=1e-5)


def _in_other_company(emb: FastEmbedder, texts: list[str]) -> list[np.ndarray]:
    """The same texts encoded alone, together at two batch sizes, and shuffled among long passages."""
    rng = random.Random(7)
    alone = np.vstack([emb.encode([t]) for t in texts])
    filler = [" ".join(texts) * 3, *(t * 4 for t in texts[:8])]  # long mates: padding if batched
    mixed = texts + filler
    order = list(range(len(mixed)))
    rng.shuffle(order)
    shuffled = emb.encode([mixed[i] for i in order], batch_size=16)
    back = np.zeros((len(mixed), emb.dim), np.float32)
    back[order] = shuffled
    return [alone, emb.encode(texts, batch_size=32), emb.encode(texts, batch_size=256), back[: len(texts)]]


def test_int8_vectors_do_not_depend_on_their_batch(fast_int8: FastEmbedder, reference: Embedder) -> None:
    """An incremental or parallel build must give each text the vector a single build gives it.

    Batched dynamic int8 fails this (activation scales span the batch: element differences of
    0.036 on BBC sentences); one text per run passes it bit for bit.
    """
    assert fast_int8.encoder_id == "onnx-int8" and fast_int8.batch_invariant
    texts = _seed_texts(reference)[:40]
    first, *others = _in_other_company(fast_int8, texts)
    for other in others:
        np.testing.assert_allclose(other, first, rtol=0, atol=1e-6)


def test_fp32_vectors_do_not_depend_on_their_batch(fast: FastEmbedder, reference: Embedder) -> None:
    assert fast.batch_invariant
    first, *others = _in_other_company(fast, _seed_texts(reference)[:40])
    for other in others:
        np.testing.assert_allclose(other, first, rtol=0, atol=1e-5)


def test_int8_stays_close_to_fp32(fast_int8: FastEmbedder, fast: FastEmbedder, reference: Embedder) -> None:
    texts = _seed_texts(reference)
    cos = (fast_int8.encode(texts) * fast.encode(texts)).sum(axis=1)
    # Measured on 2,000 BBC sentences: mean 0.99, min 0.98 (benchmarks/RESULTS.md).
    assert cos.mean() >= 0.985 and cos.min() >= 0.96, (cos.mean(), cos.min())


def test_count_tokens_matches_reference(fast: FastEmbedder, reference: SentenceTransformerEmbedder) -> None:
    texts = ["", "Hello world", "Zelenskiy's border-service spokesman said 100,000 troops" * 30]
    assert fast.count_tokens(texts) == reference.count_tokens(texts)


def test_query_path_does_not_import_torch(fast: FastEmbedder, cache_dir: Path) -> None:
    code = textwrap.dedent(
        f"""
        import sys
        from pathlib import Path
        from retrieval.embedder import load_embedder
        emb = load_embedder({DEFAULT_MODEL!r}, cache_dir=Path({str(cache_dir)!r}))
        assert type(emb).__name__ == "FastEmbedder", type(emb)
        vec = emb.encode(["what did the border service say?"])
        assert vec.shape == (1, 384)
        heavy = [m for m in ("torch", "transformers", "sentence_transformers", "onnxscript")
                 if m in sys.modules]
        print("HEAVY:" + ",".join(heavy))
        """
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "HEAVY:\n" in proc.stdout, proc.stdout


def test_second_prepare_reuses_the_export(
    fast: FastEmbedder, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = sorted(cache_dir.rglob("*.onnx"))
    assert [f.name for f in files] == ["model-fp32.onnx", "model-int8.onnx"]
    before = [f.stat().st_mtime_ns for f in files]

    def no_export(*args: object, **kwargs: object) -> None:
        raise AssertionError("the cached export must be reused")

    monkeypatch.setattr(onnxexport, "export", no_export)
    for quantize in (False, True):
        assert prepare_fast_embedder(DEFAULT_MODEL, cache_dir, quantize=quantize) is not None
    assert [f.stat().st_mtime_ns for f in files] == before
    assert not list(cache_dir.rglob("*.tmp")), "no temp files may be left behind"


def test_load_without_export_returns_none(tmp_path: Path) -> None:
    assert load_fast_embedder(DEFAULT_MODEL, tmp_path, quantize=False) is None
    assert not list(tmp_path.iterdir()), "loading must never export"


def test_unsupported_models_fall_back(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "roberta"}))
    (tmp_path / "model.safetensors").write_bytes(b"")
    (tmp_path / "tokenizer.json").write_text("{}")
    with caplog.at_level("INFO", logger="retrieval.fastembed"):
        assert prepare_fast_embedder(str(tmp_path), tmp_path / "cache", quantize=False) is None
        assert prepare_fast_embedder(str(tmp_path / "nope"), tmp_path / "cache", quantize=False) is None
    assert "roberta" in caplog.text
    assert not (tmp_path / "cache").exists()


def test_load_embedder_falls_back_with_one_notice(monkeypatch: pytest.MonkeyPatch,
                                                  caplog: pytest.LogCaptureFixture,
                                                  tmp_path: Path) -> None:
    """When the fast path cannot serve a model, citebot says so once and still works."""
    from retrieval.embedder import load_embedder

    monkeypatch.setattr(fastembed, "load_fast_embedder", lambda *a, **k: None)
    monkeypatch.setattr(fastembed, "prepare_fast_embedder", lambda *a, **k: None)
    with caplog.at_level("WARNING", logger="citebot"):
        emb = load_embedder(DEFAULT_MODEL, cache_dir=tmp_path)
    assert isinstance(emb, SentenceTransformerEmbedder)
    notices = [r for r in caplog.records if r.name == "citebot"]
    assert len(notices) == 1 and "sentence-transformers" in notices[0].getMessage()
    assert emb.encode(["still works"]).shape == (1, 384)


def test_without_onnxruntime_citebot_uses_sentence_transformers(tmp_path: Path) -> None:
    """No onnxruntime importable: sentence-transformers answers, after one notice and no export."""
    code = textwrap.dedent(
        f"""
        import logging, sys
        sys.modules["onnxruntime"] = None  # what an environment without it looks like to import
        logging.basicConfig(level=logging.WARNING, format="%(name)s: %(message)s")
        from pathlib import Path
        from retrieval.embedder import SentenceTransformerEmbedder, load_embedder
        for purpose in ("query", "index"):
            emb = load_embedder({DEFAULT_MODEL!r}, cache_dir=Path({str(tmp_path)!r}), purpose=purpose)
            assert isinstance(emb, SentenceTransformerEmbedder), type(emb)
        print(emb.encode(["still answers"]).shape)
        """
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "(1, 384)"
    notices = [ln for ln in proc.stderr.splitlines() if ln.startswith("citebot: ")]
    assert len(notices) == 2, proc.stderr  # one per load_embedder call
    assert all("sentence-transformers" in n for n in notices)
    assert "Traceback" not in proc.stderr
    assert not list(tmp_path.rglob("*.onnx")), "nothing may be exported without onnxruntime"


def test_auto_encoder_uses_fp32_for_questions_and_int8_for_builds(cache_dir: Path) -> None:
    from retrieval.embedder import encoder_id, load_embedder

    assert encoder_id(load_embedder(DEFAULT_MODEL, cache_dir=cache_dir)) == "onnx-fp32"
    assert encoder_id(load_embedder(DEFAULT_MODEL, cache_dir=cache_dir, purpose="index")) == "onnx-int8"
    reference = load_embedder(DEFAULT_MODEL, encoder="sentence-transformers")
    assert encoder_id(reference) == "sentence-transformers"


def test_public_names_keep_working() -> None:
    from retrieval import embedder

    for name in ("load_embedder", "Embedder", "SentenceTransformerEmbedder", "DEFAULT_MODEL", "encoder_id",
                 "default_cache_dir", "ENCODERS", "resolve_model_path", "_model_id"):
        assert hasattr(embedder, name), name
    assert embedder._model_id("all-MiniLM-L6-v2") == "sentence-transformers/all-MiniLM-L6-v2"
    assert embedder.ENCODERS == ("auto", "onnx-fp32", "onnx-int8", "sentence-transformers")


def _retrieval_imports(module: str) -> set[str]:
    """The retrieval modules ``module`` imports, at the top or inside functions."""
    tree = ast.parse((ROOT / "retrieval" / f"{module}.py").read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                found.add(node.module.split(".")[0])
            else:
                found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("retrieval."):
            found.add((node.module or "").split(".")[1])
    return found


def test_the_embedder_modules_import_no_circle() -> None:
    """embedder -> fastembed -> onnxexport/bertspec -> modelpath, never back up."""
    modules = ("embedder", "fastembed", "onnxexport", "bertspec", "modelpath")
    graph = {m: _retrieval_imports(m) & set(modules) for m in modules}
    assert "embedder" not in set().union(*(graph[m] for m in modules if m != "embedder"))

    def reaches(start: str, goal: str, seen: frozenset[str] = frozenset()) -> bool:
        return any(n == goal or (n not in seen and reaches(n, goal, seen | {n})) for n in graph[start])

    assert not [m for m in modules if reaches(m, m)], graph
