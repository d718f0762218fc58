"""``citebot doctor``: every check an operator would make by hand, one line each, with the fix.

Settings are already valid when this runs (``load_settings`` refused otherwise); what is
checked here is the world they point at: the folders, the model, the index files.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

from retrieval.errors import CitebotError

if TYPE_CHECKING:
    from .settings import Settings


def _folder(path: Path, what: str, *, write: bool) -> tuple[bool, str]:
    if not path.exists():
        return True, f"{what} {path} does not exist yet (it is created on first use)"
    if not path.is_dir():
        return False, f"{what} {path} is a file, not a folder; point the setting at a folder"
    if not os.access(path, os.R_OK | os.X_OK):
        return False, f"{what} {path} cannot be read by this user; fix its permissions"
    if write and not os.access(path, os.W_OK):
        return True, f"{what} {path} is read-only here: queries work, builds and votes do not"
    return True, f"{what} {path}"


def checks(settings: Settings, index: Path | None) -> list[tuple[bool, str]]:
    out: list[tuple[bool, str]] = []
    index_dir = index or settings.index_dir
    out.append(_folder(index_dir, "index", write=True))
    ok, line = _folder(settings.articles_dir, "articles", write=False)
    if ok and settings.articles_dir.is_dir():
        from retrieval.loaders import EXTENSIONS

        n = sum(1 for p in settings.articles_dir.rglob("*") if p.suffix.lower() in EXTENSIONS)
        line += f" ({n} article files)"
    elif not settings.articles_dir.exists():
        ok, line = False, (f"articles {settings.articles_dir} does not exist; set CITEBOT_ARTICLES_DIR "
                           "or pass paths to `citebot index`")
    out.append((ok, line))
    out.append(_folder(settings.cache_dir, "cache", write=True))
    try:
        from retrieval.embedder import load_embedder

        emb = load_embedder(settings.embedding_model, encoder=settings.encoder, cache_dir=settings.cache_dir)
        enc = getattr(emb, "encoder_id", "sentence-transformers")
        out.append((True, f"model {settings.embedding_model} loads offline ({enc}, {emb.dim} dimensions)"))
    except CitebotError as exc:
        out.append((False, f"model: {exc}"))
    from retrieval.index import has_index

    if index_dir.is_dir() and has_index(index_dir):
        from retrieval.verify import verify_index

        report = verify_index(index_dir)
        if report.ok:
            out.append((True, f"index files: {report.commit}, {report.segments} segments, "
                              f"{report.files} files, {report.bytes / 1e6:.1f} MB, every checksum matches"))
        out += [(False, f"index files: {p}") for p in report.problems]
        out += [(True, f"index files: {n}") for n in report.notes]
    elif index_dir.is_dir() or not index_dir.exists():
        out.append((True, f"no index in {index_dir} yet; `citebot index` builds one"))
    out.append((True, "Discord token set" if settings.discord_token else
                "Discord token not set (only `citebot discord` needs DISCORD_TOKEN)"))
    return out


def run_doctor(settings: Settings, index: Path | None, *, as_json: bool) -> int:
    results = checks(settings, index)
    if as_json:
        print(json.dumps({"ok": all(ok for ok, _ in results),
                          "checks": [{"ok": ok, "check": line} for ok, line in results]}))
    else:
        for ok, line in results:
            print(f"{'ok' if ok else 'PROBLEM':8s}{line}")
    return 0 if all(ok for ok, _ in results) else 1
