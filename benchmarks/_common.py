"""What every benchmark script shares: paths, skipping without data, machine facts, results, indexes.

Scripts are run as ``python benchmarks/NAME.py`` from anywhere; they find the project root from
this file, read data from ``ROOT.parent/shared/data`` and append their tables to
``benchmarks/RESULTS.md``. Indexes they build are cached in ``benchmarks/.cache/<name>/``
(git-ignored) and rebuilt only when missing, incompatible with this citebot, or on ``--rebuild``.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "benchmarks"
SHARED = ROOT.parent / "shared" / "data"
CACHE = BENCH / ".cache"
RESULTS = BENCH / "RESULTS.md"
SEEDS = ROOT / "seeds"

if str(ROOT) not in sys.path:  # `retrieval` and `bot` import without an installed package too
    sys.path.insert(0, str(ROOT))


def require_shared(*rel: str) -> list[Path]:
    """The given paths under ``../shared/data``; exit 0 with a one-line message when any is absent."""
    paths = [SHARED / r for r in rel]
    missing = [p for p in paths if not p.exists()]
    if missing:
        names = ", ".join(str(p) for p in missing)
        print(f"skipped: {names} not found (the shared data lives beside the project, "
              f"see ../shared/data/README.md)")
        sys.exit(0)
    return paths


# -- machine and commit -------------------------------------------------------------------------

def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _ram_gb() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024 / 1024
    except (OSError, ValueError):
        pass
    return None


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "absent"


def machine_info() -> str:
    """One line: CPU, cores, RAM, load, Python and the versions that decide speed."""
    ram = _ram_gb()
    try:
        load = "load {:.1f}/{:.1f}/{:.1f}".format(*os.getloadavg())
    except OSError:
        load = "load ?"
    parts = [
        _cpu_model(),
        f"{os.cpu_count()} cores",
        f"{ram:.0f} GB RAM" if ram else "RAM ?",
        load,
        f"Python {platform.python_version()}",
        f"torch {_version('torch')}",
        f"faiss-cpu {_version('faiss-cpu')}",
        f"sentence-transformers {_version('sentence-transformers')}",
    ]
    return ", ".join(parts)


def git_commit() -> str:
    """Short hash of HEAD, with ``-dirty`` when the work tree has changes; ``unknown`` outside git."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                              text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True,
                               text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("-dirty" if dirty else "")


def source_fingerprint() -> str:
    """sha256 of the code that decides the results (retrieval/, bot/, pyproject.toml), 10 hex digits.

    With a dirty work tree the commit alone does not say what ran; this does.
    """
    h = hashlib.sha256()
    files = sorted([*ROOT.glob("retrieval/**/*.py"), *ROOT.glob("bot/**/*.py"), ROOT / "pyproject.toml"])
    for f in files:
        if f.is_file():
            h.update(f"{f.relative_to(ROOT)}\0".encode() + f.read_bytes() + b"\0")
    return h.hexdigest()[:10]


START_FINGERPRINT = source_fingerprint()  # what this process imported
START_COMMIT = git_commit()


def append_results(title: str, body: str) -> Path:
    """Append ``## title — date — commit`` + machine line + body to benchmarks/RESULTS.md."""
    date = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    if not RESULTS.exists():
        RESULTS.write_text(
            "# Benchmark results\n\n"
            "Appended by the scripts in this folder (see README.md); newest last. Timings come from a\n"
            "shared machine, so compare ratios measured within one run rather than absolute times.\n"
        )
    commit = START_COMMIT
    if git_commit() != commit:
        commit += f" (HEAD moved to {git_commit()} during the run)"
    code = f"Code: sources fingerprint {START_FINGERPRINT} (retrieval/, bot/, pyproject.toml)"
    if source_fingerprint() != START_FINGERPRINT:
        code += f", changed to {source_fingerprint()} during the run"
    if START_COMMIT.endswith("-dirty"):
        code += "; the work tree had uncommitted changes"
    section = f"\n## {title} — {date} — commit {commit}\n\nMachine: {machine_info()}  \n{code}\n\n"
    with open(RESULTS, "a", encoding="utf-8") as f:
        f.write(section + body.rstrip() + "\n")
    return RESULTS


# -- tables and numbers ---------------------------------------------------------------------------

def md_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    def cell(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:.3f}" if abs(v) < 10 else f"{v:.1f}"
        return str(v)

    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def percentile(values: Sequence[float], q: float) -> float:
    import numpy as np

    return float(np.percentile(values, q)) if len(values) else float("nan")


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def progress_printer(label: str, every: int = 250) -> Any:
    """A build ``progress(BuildProgress)`` callback that prints a line now and then on stderr."""
    state = {"last": -every}

    def progress(p: Any) -> None:
        if p.phase != "embedding" or p.embedded - state["last"] >= every:
            state["last"] = p.embedded
            log(f"{label}: {p.phase}, {p.articles} read, {p.embedded} embedded, {p.passages} passages")
    return progress


def count_printer(label: str, every: int = 250) -> Any:
    """A ``progress(done, total)`` callback (evaluations) that prints a line now and then."""
    def progress(done: int, total: int) -> None:
        if done == total or done % every == 0:
            log(f"{label}: {done}/{total}")
    return progress


# -- indexes --------------------------------------------------------------------------------------

def _stamp(paths: Sequence[Path]) -> str:
    """Identifies the inputs (names, sizes, mtimes) so a changed input set updates the index."""
    h = hashlib.sha256()
    for root in sorted(Path(p).resolve() for p in paths):
        files = [root] if root.is_file() else sorted(q for q in root.rglob("*") if q.is_file())
        for f in files:
            st = f.stat()
            h.update(f"{f}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:16]


def _compatible(bot: Any) -> bool:
    from retrieval.errors import CitebotError

    try:
        _ = bot.reader  # opens the index and checks schema, model and passage settings
    except CitebotError as exc:
        log(f"cached index unusable ({exc}); rebuilding")
        return False
    finally:
        bot.close()
    return True


def engine_kwargs(encoder: str | None) -> dict[str, Any]:
    """``{"encoder": encoder}`` when this citebot's engine lets callers choose one, else ``{}``."""
    import inspect

    from retrieval import Citebot

    if encoder is None:
        return {}
    if "encoder" in inspect.signature(Citebot.__init__).parameters:
        return {"encoder": encoder}
    log(f"this citebot's engine has no encoder choice; --encoder {encoder} ignored")
    return {}


def index_encoder(index_dir: Path) -> str:
    """The encoder recorded in an index's commit."""
    from retrieval.commit import read_live_commit

    commit = read_live_commit(index_dir)
    return commit.manifest.encoder if commit is not None else "none"


def _encoder_drift(bot: Any, index_dir: Path) -> bool:
    """True when citebot would now build this index with another encoder than the cached one."""
    emb = getattr(bot, "index_embedder", None)  # engines that build with a separate encoder
    if emb is None:
        return False
    want = str(getattr(emb, "encoder_id", "sentence-transformers"))
    have = index_encoder(index_dir)
    if want != have:
        log(f"cached index {index_dir.name} was built by {have}, citebot now builds with {want}; rebuilding")
        return True
    return False


def ensure_index(name: str, paths: Sequence[Path], *, rebuild: bool = False, **citebot_kwargs: Any) -> Path:
    """The index of ``paths`` in ``benchmarks/.cache/<name>``, built as ``Citebot(**citebot_kwargs)``
    builds it. Built when missing, incompatible, made by another encoder than citebot would use
    now, or when ``rebuild`` is set; updated incrementally when the input files changed.

    Pass ``encoder=`` (see ``engine_kwargs``) rather than ``embedder=`` so the build uses the
    encoder citebot itself builds with (it may differ from the question encoder).
    """
    from retrieval import Citebot

    index_dir = CACHE / name
    stamp_file = index_dir / "benchmark-inputs.json"
    bot = Citebot(index_dir, **citebot_kwargs)
    stamp = _stamp(paths)
    fresh = rebuild or not bot.has_index() or not _compatible(bot)
    if not fresh and "embedder" not in citebot_kwargs:
        fresh = _encoder_drift(bot, index_dir)
    if not fresh:
        try:
            same = json.loads(stamp_file.read_text()).get("stamp") == stamp
        except (OSError, ValueError):
            same = False
        if same:
            return index_dir
        log(f"inputs of cached index {name} changed; updating it")
    else:
        log(f"building index {name} from {', '.join(str(p) for p in paths)}")
    t0 = time.perf_counter()
    report = bot.index([str(p) for p in paths], rebuild=fresh,
                       progress=progress_printer(f"index {name}", 1024))
    bot.close()
    log(f"index {name}: {report.summary()} ({time.perf_counter() - t0:.0f} s)")
    stamp_file.write_text(json.dumps({"stamp": stamp, "paths": [str(p) for p in paths]}) + "\n")
    return index_dir


def describe_embedder(emb: Any) -> str:
    """The embedder's class and, when it has one, its encoder id (e.g. ``FastEmbedder (onnx-fp32)``)."""
    name = type(emb).__name__
    enc = getattr(emb, "encoder_id", None)
    return f"{name} ({enc})" if enc else name


def add_common_args(parser: Any) -> None:
    parser.add_argument("--rebuild", action="store_true", help="rebuild cached indexes")
    parser.add_argument("--no-append", action="store_true", help="print only; do not append to RESULTS.md")


def index_tables(index_dir: Path) -> tuple[dict[str, tuple[str, str, str | None]],
                                            list[tuple[int, str, int, int, int, int]],
                                            list[tuple[int, str, int, int]]]:
    """The live rows of every segment of an index: articles {id: (title, text, path)},
    passages (id, article id, start, end, first sentence, last sentence) and sentences
    (id, article id, start, end), each in id order."""
    from retrieval.reader import IndexReader

    reader = IndexReader(index_dir)
    articles: dict[str, tuple[str, str, str | None]] = {}
    passages: list[tuple[int, str, int, int, int, int]] = []
    sentences: list[tuple[int, str, int, int]] = []
    try:
        for st in reader.current().segments:
            conn = st.seg.conn
            ords = {}
            for o, aid, title, text, path in conn.execute("SELECT ord, id, title, text, path FROM articles"):
                if not st.is_deleted(o):
                    ords[o] = aid
                    articles[aid] = (title, text, path)
            passages += [(r[0], ords[r[1]], *r[2:]) for r in conn.execute(
                "SELECT id, article, start, end, first_sentence, last_sentence FROM passages ORDER BY id")
                if r[1] in ords]
            sentences += [(r[0], ords[r[1]], r[2], r[3]) for r in conn.execute(
                "SELECT id, article, start, end FROM sentences ORDER BY id") if r[1] in ords]
    finally:
        reader.close()
    return articles, passages, sentences
