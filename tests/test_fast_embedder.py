"""The torch-free embedder: same vectors as sentence-transformers, no torch, one export."""

from __future__ import annotations

import json
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


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fastembed-cache")


@pytest.fixture(scope="session")
def fast(cache_dir: Path) -> FastEmbedder:
    emb = prepare_fast_embedder(DEFAULT_MODEL, cache_dir, quantize=False)
    assert emb is not None, "the fast path must work for the packaged model"
    return emb


@pytest.fixture(scope="session")
def reference(embedder: SentenceTransformerEmbedder) -> SentenceTransformerEmbedder:
    return embedder


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


def _assert_close(fast: Embedder, reference: Embedder, texts: list[str]) -> None:
    got = fast.encode(texts)
    want = reference.encode(texts)
    assert got.shape == want.shape == (len(texts), reference.dim)
    assert got.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    cos = (got * want).sum(axis=1)
    worst = int(cos.argmin())
    assert cos.min() >= MIN_COSINE, f"cosine {cos.min():.5f} on {texts[worst][:80]!r}"


def test_implements_the_embedder_protocol(fast: FastEmbedder, reference: SentenceTransformerEmbedder) -> None:
    assert isinstance(fast, Embedder)
    # The same model_id lets an index built by one embedder be queried by the other.
    assert fast.model_id == reference.model_id
    assert fast.dim == reference.dim == 384
    assert fast.max_tokens == reference.max_tokens == 256
    assert fast.encoder_id == "onnx-fp32"
    assert fast.encode([]).shape == (0, 384)


def test_matches_reference_on_seed_articles(
    fast: FastEmbedder, reference: SentenceTransformerEmbedder
) -> None:
    texts: list[str] = []
    for path in sorted(SEEDS.glob("*.txt")):
        body = path.read_text(encoding="utf-8")
        texts += _chunks(body, reference) + _sentences(body)
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


def test_count_tokens_matches_reference(fast: FastEmbedder, reference: SentenceTransformerEmbedder) -> None:
    texts = ["", "Hello world", "Zelenskiy's border-service spokesman said 100,000 troops" * 30]
    assert fast.count_tokens(texts) == reference.count_tokens(texts)


def test_query_path_does_not_import_torch(fast: FastEmbedder, cache_dir: Path) -> None:
    code = textwrap.dedent(
        f"""
        import sys
        from pathlib import Path
        from retrieval.fastembed import load_fast_embedder
        emb = load_fast_embedder({DEFAULT_MODEL!r}, Path({str(cache_dir)!r}), quantize=False)
        assert emb is not None
        vec = emb.encode(["what did the border service say?"])
        assert vec.shape == (1, 384)
        heavy = [m for m in ("torch", "transformers", "sentence_transformers") if m in sys.modules]
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
    assert len(files) == 1
    before = files[0].stat().st_mtime_ns

    def no_export(*args: object, **kwargs: object) -> None:
        raise AssertionError("the cached export must be reused")

    monkeypatch.setattr(onnxexport, "export", no_export)
    again = prepare_fast_embedder(DEFAULT_MODEL, cache_dir, quantize=False)
    assert again is not None
    assert files[0].stat().st_mtime_ns == before
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
    import retrieval.fastembed as fastembed
    from retrieval.embedder import load_embedder

    monkeypatch.setattr(fastembed, "load_fast_embedder", lambda *a, **k: None)
    monkeypatch.setattr(fastembed, "prepare_fast_embedder", lambda *a, **k: None)
    with caplog.at_level("WARNING", logger="citebot"):
        emb = load_embedder(DEFAULT_MODEL, cache_dir=tmp_path)
    assert isinstance(emb, SentenceTransformerEmbedder)
    notices = [r for r in caplog.records if r.name == "citebot"]
    assert len(notices) == 1 and "sentence-transformers" in notices[0].getMessage()
    assert emb.encode(["still works"]).shape == (1, 384)


def test_auto_encoder_uses_fp32_for_questions_and_int8_for_builds(cache_dir: Path) -> None:
    from retrieval.embedder import encoder_id, load_embedder

    assert encoder_id(load_embedder(DEFAULT_MODEL, cache_dir=cache_dir)) == "onnx-fp32"
    assert encoder_id(load_embedder(DEFAULT_MODEL, cache_dir=cache_dir, purpose="index")) == "onnx-int8"
    reference = load_embedder(DEFAULT_MODEL, encoder="sentence-transformers")
    assert encoder_id(reference) == "sentence-transformers"
