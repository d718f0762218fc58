"""What one hostile input costs to load: long lines, a YAML alias bomb, and the decoder's calls.

    python benchmarks/loading_limits.py [--no-before] [--no-append]

- **Long line**: one line of real news text (the news archive's articles joined with spaces, so
  no window repeats) of 100 KB, 1 MB and 10 MB, written as a .txt file. A new process loads it
  (``load_file``) and splits the article into sentences (``split_sentences``); wall time of each
  step and the process's peak RSS (``VmHWM`` of /proc/self/status; Linux only). 10 MB is cut
  to ``LoadLimits.max_text_chars`` (2 M characters) by the loader; one more row raises that
  limit to split all 10 MB. "before" rows
  run the code this branch started from (``git archive`` of the merge base with ``main``).
- **YAML alias bomb**: a 300-byte Markdown file whose front matter expands to 9**7 strings,
  loaded in a new process, before and after.
- **Decoder**: how ``retrieval.decoding.decode_bytes`` reads real news text re-encoded
  (Windows-1252, Latin-1, UTF-16), random bytes of each size, Latin text in HTML that declares a
  wrong or non-text charset, and legacy text in other scripts; charset-normalizer's own best
  guess on the same Windows-1252 samples for comparison.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tarfile
import tempfile
import time
from io import BytesIO
from pathlib import Path

from _common import ROOT, append_results, log, md_table, require_shared

from retrieval.decoding import NotTextError, decode_bytes

CHILD = r"""
import json, sys, time
sys.path.insert(0, sys.argv[1])
from retrieval.chunker import split_sentences
from retrieval.loaders import load_file
kwargs = {}
if sys.argv[3] != "default":
    from retrieval.limits import LoadLimits
    kwargs["limits"] = LoadLimits(max_text_chars=int(sys.argv[3]))
t0 = time.perf_counter()
articles, skipped = load_file(__import__("pathlib").Path(sys.argv[2]), **kwargs)
load_s = time.perf_counter() - t0
out = {"load_s": load_s, "skipped": [s.reason for s in skipped]}
if articles and sys.argv[4] == "split":
    t0 = time.perf_counter()
    out["sentences"] = len(split_sentences(articles[0].text))
    out["split_s"] = time.perf_counter() - t0
if articles:
    out["chars"] = len(articles[0].text)
    out["title_chars"] = len(articles[0].title)
# VmHWM, not ru_maxrss: Linux carries ru_maxrss across execve, so a child would report at
# least its parent's size at the fork.
with open("/proc/self/status") as status:
    out["peak_rss_mb"] = next(int(l.split()[1]) for l in status if l.startswith("VmHWM")) / 1024
out["code"] = __import__("retrieval").__file__
print(json.dumps(out))
"""

YAML_BOMB = (
    "---\n"
    'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
    "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
    "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
    "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
    "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
    "title: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n"
    "---\n"
    "Body text here.\n"
)


def before_tree(dest: Path) -> tuple[Path, str] | None:
    """The ``retrieval`` package of the merge base with ``main``, extracted under ``dest``."""
    try:
        base = subprocess.run(["git", "merge-base", "HEAD", "main"], cwd=ROOT, capture_output=True,
                              text=True, check=True).stdout.strip()
        data = subprocess.run(["git", "archive", base, "retrieval"], cwd=ROOT, capture_output=True,
                              check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    with tarfile.open(fileobj=BytesIO(data)) as tar:
        tar.extractall(dest, filter="data")
    return dest, base[:7]


def run_child(code_root: Path, path: Path, max_text: str, split: bool, timeout: float) -> dict:
    try:
        out = subprocess.run(
            [sys.executable, "-c", CHILD, str(code_root), str(path), max_text, "split" if split else "load"],
            capture_output=True, text=True, timeout=timeout, check=True,
            env={"PYTHONDONTWRITEBYTECODE": "1", "PATH": "/usr/bin:/bin"},
        )
    except subprocess.TimeoutExpired:
        return {"timeout": timeout}
    except subprocess.CalledProcessError as exc:
        return {"error": exc.stderr.strip().splitlines()[-1] if exc.stderr.strip() else str(exc)}
    result = json.loads(out.stdout.strip().splitlines()[-1])
    if not result["code"].startswith(str(code_root)):  # the code measured is the code meant
        raise RuntimeError(f"the child imported {result['code']}, not the code under {code_root}")
    return result


def news_line(n_chars: int) -> str:
    [archive] = require_shared("corpora/news-archive.jsonl")
    parts: list[str] = []
    size = 0
    with archive.open(encoding="utf-8") as f:
        for line in f:
            text = " ".join(json.loads(line)["text"].split())
            parts.append(text)
            size += len(text) + 1
            if size >= n_chars:
                break
    return " ".join(parts)[:n_chars].rsplit(" ", 1)[0]


def fmt(result: dict, key: str, digits: int = 2) -> str:
    if "timeout" in result:
        return f"not done after {result['timeout']:.0f} s"
    if "error" in result:
        return f"failed: {result['error'][:60]}"
    value = result.get(key)
    if value is None:
        return "—"
    return f"{value:,.{digits}f}" if isinstance(value, float) else f"{value:,}"


def long_line_section(tmp: Path, before: tuple[Path, str] | None) -> str:
    sizes = [("100 KB", 100_000), ("1 MB", 1_000_000), ("10 MB", 10_000_000)]
    text = news_line(10_000_000)
    rows = []
    for label, n in sizes:
        path = tmp / f"line-{n}.txt"
        path.write_text(text[:n].rsplit(" ", 1)[0], encoding="utf-8")
        log(f"long line {label}")
        r = run_child(ROOT, path, "default", True, 1800)
        rows.append([label, "after", fmt(r, "load_s"), fmt(r, "chars", 0), fmt(r, "split_s"),
                     fmt(r, "sentences", 0), fmt(r, "peak_rss_mb", 0)])
        if n == 10_000_000:
            log("long line 10 MB, limit raised")
            r = run_child(ROOT, path, str(20_000_000), True, 1800)
            rows.append([f"{label}, max_text_chars 20 M", "after", fmt(r, "load_s"), fmt(r, "chars", 0),
                         fmt(r, "split_s"), fmt(r, "sentences", 0), fmt(r, "peak_rss_mb", 0)])
    if before is not None:
        for label, n in [("100 KB", 100_000), ("300 KB", 300_000)]:
            path = tmp / f"line-before-{n}.txt"
            path.write_text(text[:n].rsplit(" ", 1)[0], encoding="utf-8")
            log(f"long line {label}, before")
            r = run_child(before[0], path, "default", True, 300)
            rows.append([label, f"before ({before[1]})", fmt(r, "load_s"), fmt(r, "chars", 0),
                         fmt(r, "split_s"), fmt(r, "sentences", 0), fmt(r, "peak_rss_mb", 0)])
    per_char = []
    for row in rows:
        try:
            per_char.append(float(row[4].replace(",", "")) / float(row[3].replace(",", "")) * 1e6)
        except ValueError:
            per_char.append(None)
    header = ["line", "code", "load s", "characters kept", "split s", "sentences",
              "peak RSS MB (VmHWM)", "split µs / character"]
    cells = [[*row, f"{p:.1f}" if p is not None else "—"] for row, p in zip(rows, per_char, strict=True)]
    table = md_table(header, cells)
    return ("### One long line, no blank line (real news text)\n\n" + table + "\n\n"
            "Each row is a new process: `load_file` then `split_sentences` on the article; peak RSS "
            "includes the interpreter and imports (about 20 MB). 10 MB is cut by the loader to "
            "`LoadLimits.max_text_chars` at a sentence end.\n")


def yaml_section(tmp: Path, before: tuple[Path, str] | None) -> str:
    path = tmp / "bomb.md"
    path.write_text(YAML_BOMB, encoding="utf-8")
    rows = []
    runs = [("after", ROOT)] + ([(f"before ({before[1]})", before[0])] if before else [])
    for label, code in runs:
        log(f"yaml bomb, {label}")
        r = run_child(code, path, "default", False, 600)
        outcome = (f"skipped: {r['skipped'][0]}" if r.get("skipped") else
                   f"loaded, title of {r['title_chars']:,} characters" if "title_chars" in r else fmt(r, "x"))
        rows.append([label, fmt(r, "load_s"), fmt(r, "peak_rss_mb", 0), outcome])
    return (f"### YAML alias bomb ({len(YAML_BOMB.encode())} bytes, 9**7 strings when expanded)\n\n"
            + md_table(["code", "load s", "peak RSS MB (VmHWM)", "outcome"], rows) + "\n")


def _decoded(data: bytes, declared: str | None = None) -> tuple[str, str | None]:
    try:
        d = decode_bytes(data, declared)
    except NotTextError as exc:
        return "skipped", str(exc)
    return d.text, d.encoding


def decoder_section() -> str:
    [archive] = require_shared("corpora/news-archive.jsonl")
    texts: list[str] = []
    with archive.open(encoding="utf-8") as f:
        for line in f:
            text = json.loads(line)["text"]
            if any(ord(ch) > 127 for ch in text):
                texts.append(text)
                if len(texts) == 1_500:
                    break
    from charset_normalizer import from_bytes

    rows = []
    plain = str.maketrans("‘’“”–—…", "''\"\"--_")
    for encoding in ("cp1252", "latin-1", "utf-16"):
        exact = differs = skipped = detector_exact = n = 0
        for text in texts:
            source = text.translate(plain) if encoding == "latin-1" else text
            for sample in (source[:100], source[:300], source):
                try:
                    data = sample.encode(encoding)
                except UnicodeEncodeError:
                    continue
                if encoding != "utf-16" and all(b < 128 for b in data):
                    continue
                n += 1
                got, _ = _decoded(data)
                exact += got == sample
                skipped += got == "skipped"
                differs += got not in (sample, "skipped")
                if encoding == "cp1252":
                    best = from_bytes(data).best()
                    detector_exact += best is not None and str(best) == sample
        note = f"charset-normalizer alone: {detector_exact:,} exact" if encoding == "cp1252" else ""
        rows.append([f"news re-encoded {encoding} (100, 300 chars, whole)", f"{n:,}", f"{exact:,}",
                     f"{differs:,}", f"{skipped:,}", note])
    rng = random.Random(20261202)
    for size in (4, 8, 16, 24, 64, 256, 4096):
        count = 2_000 if size <= 256 else 200
        outcomes = [_decoded(bytes(rng.getrandbits(8) for _ in range(size)))[1] for _ in range(count)]
        read = [o for o in outcomes if o and not o.startswith(("binary", "not text", "damaged"))]
        kinds = sorted({o for o in read if o})
        rows.append([f"random bytes, {size:,} B", f"{count:,}", "—", f"{len(read):,} read as text",
                     f"{count - len(read):,}", ", ".join(kinds)])
    latin = next(t for t in texts if "é" in t)
    sentence = next(s for s in latin.split(". ") if "é" in s) + "."
    for charset in ("base64", "hex", "rot13", "zlib", "undefined", "koi8-r", "shift_jis", "windows-1251",
                    "iso-8859-5", "windows-1253", "iso-8859-2", "iso-8859-1", "windows-1250"):
        page = (f'<html><head><meta charset="{charset}"><title>T</title></head><body><article><p>'
                f"{sentence}</p><p>{latin[:1500]}</p></article></body></html>")
        data = page.encode("cp1252", "replace")
        try:
            d = decode_bytes(data, charset)
            verdict = f"read as {d.encoding}" + (" (text exact)" if sentence in d.text else " (text differs)")
            note = d.note or ""
        except NotTextError as exc:
            verdict, note = "skipped", str(exc)
        rows.append([f"Latin news page declaring {charset}", "1", verdict, "", "", note])
    samples = {
        "Russian cp1251": ("Мэр Москвы заявил о новых правилах для метро и автобусов в городе.", "cp1251"),
        "Russian koi8-r": ("Мэр Москвы заявил о новых правилах для метро и автобусов в городе.", "koi8_r"),
        "Greek cp1253": ("Η κυβέρνηση ανακοίνωσε νέα μέτρα για τις μεταφορές στην Αθήνα.", "cp1253"),
        "Japanese shift_jis": ("東京都は新しい交通規則を発表しました。変更は来月から適用されます。",
                               "shift_jis"),
    }
    for label, (text, enc) in samples.items():
        page = f"<html><body><p>{text}</p><p>{text}</p></body></html>".encode(enc)
        got, how = _decoded(page)
        rows.append([f"{label}, undeclared (hand-written sample)", "1",
                     f"read as {how}" + (" (text exact)" if text in got else ""), "", "", ""])
    return ("### Decoder decisions\n\n"
            + md_table(["input", "samples", "exact / decision", "differs", "skipped", "note"], rows)
            + "\n")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--no-before", action="store_true", help="skip the runs of the code before")
    ap.add_argument("--no-append", action="store_true", help="print only; do not append to RESULTS.md")
    args = ap.parse_args()
    require_shared("corpora/news-archive.jsonl")
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="citebot-limits-") as tmp_name:
        tmp = Path(tmp_name)
        before = None if args.no_before else before_tree(tmp / "before")
        body = "\n".join([long_line_section(tmp, before), yaml_section(tmp, before), decoder_section()])
    body += f"\nWhole run {time.perf_counter() - t0:.0f} s (`python benchmarks/loading_limits.py`).\n"
    print(body)
    if not args.no_append:
        append_results("Loading limits", body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
