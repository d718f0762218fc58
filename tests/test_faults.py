"""Faults of the environment and damaged files: one line each, never a traceback, never an answer
from damaged data, and the previous index untouched. Real files, real processes."""

from __future__ import annotations

import json
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, SEEDS

from retrieval import Citebot, CitebotError, IndexCorruptError
from retrieval.commit import POINTER, read_live_commit

Q = "What did Germany's foreign ministry urge Moscow to do?"
ROOT_USER = os.geteuid() == 0


def run(*args: str, env: dict[str, str] | None = None, stdin: bytes | None = None,
        preexec: object = None, cwd: Path = ROOT,
        as_user: bool = False) -> subprocess.CompletedProcess[bytes]:
    """``citebot ARGS`` in a new process. ``as_user``: with file permissions enforced even when the
    tests run as root (root's capabilities to bypass them dropped with setpriv)."""
    full = {**os.environ, "CITEBOT_LOG_LEVEL": "WARNING", **(env or {})}
    cmd = [sys.executable, "-m", "bot", *args]
    if as_user and ROOT_USER:
        if shutil.which("setpriv") is None:
            pytest.skip("running as root without setpriv: permissions cannot be enforced")
        cmd = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", "--", *cmd]
    return subprocess.run(cmd, cwd=cwd, env=full, input=stdin, capture_output=True, timeout=240,
                          preexec_fn=preexec)  # type: ignore[arg-type]


def one_line(r: subprocess.CompletedProcess[bytes]) -> str:
    err = r.stderr.decode(errors="replace")
    assert "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


# -- damaged files ------------------------------------------------------------------------

def _damage(path: Path, how: str) -> None:
    data = path.read_bytes()
    if how == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif how == "zeroed":
        path.write_bytes(b"\0" * len(data))
    elif how == "garbled":
        rng = random.Random(len(data))
        b = bytearray(data)
        for _ in range(max(8, len(b) // 50)):
            b[rng.randrange(len(b))] ^= 0xFF
        path.write_bytes(bytes(b))
    elif how == "deleted":
        path.unlink()


SEGMENT_FILES = ["segment.sqlite", "passage_vectors.npy", "sentence_vectors.npy", "passage_ids.npy",
                 "sentence_ids.npy", "passage_hub.npy", "sentence_hub.npy", "passage_articles.npy",
                 "article_days.npy"]


@pytest.fixture(scope="module")
def two_commit_index(tmp_path_factory: pytest.TempPathFactory, embedder) -> Path:  # type: ignore[no-untyped-def]
    """Seeds in one commit, then an extra article and a deletion in a second one."""
    src = tmp_path_factory.mktemp("src")
    for p in SEEDS.iterdir():
        shutil.copy(p, src / p.name)
    idx = tmp_path_factory.mktemp("idx")
    bot = Citebot(idx, embedder=embedder)
    bot.index([src])
    (src / "extra.jsonl").write_text(json.dumps({"id": "extra", "title": "Harbour bridge", "text":
        "The Harbour Bridge reopened after repairs that cost 40 million dollars."}) + "\n")
    bot.index([src])
    return idx


@pytest.mark.parametrize("how", ["truncated", "zeroed", "garbled", "deleted"])
@pytest.mark.parametrize("name", SEGMENT_FILES)
def test_a_damaged_segment_file_is_found_before_any_answer(two_commit_index: Path, tmp_path: Path,
                                                            embedder, name: str, how: str) -> None:  # type: ignore[no-untyped-def]
    good = Citebot(two_commit_index, embedder=embedder).answer(Q)
    idx = tmp_path / "idx"
    shutil.copytree(two_commit_index, idx)
    _damage(idx / "seg-000001" / name, how)
    bot = Citebot(idx, embedder=embedder)
    try:
        ans = bot.answer(Q)
    except IndexCorruptError as exc:
        assert "seg-000001" in str(exc) and "citebot index" in str(exc)
    else:  # only acceptable if nothing that answers was damaged: then the answer is the same
        assert ans == good, f"{name} {how} gave a different answer without an error"


@pytest.mark.parametrize("how", ["truncated", "garbled", "deleted"])
def test_a_damaged_commit_falls_back_to_the_previous_one(two_commit_index: Path, tmp_path: Path,
                                                          how: str) -> None:
    idx = tmp_path / "idx"
    shutil.copytree(two_commit_index, idx)
    live = read_live_commit(idx)
    assert live is not None
    _damage(idx / live.name, how)
    r = run("sources", "--json", "--index", str(idx))
    assert r.returncode == 0
    line = one_line(r)
    assert line.startswith("citebot: warning:") and "newest intact commit" in line
    ids = {a["id"] for a in json.loads(r.stdout)["articles"]}
    assert "extra" not in ids and len(ids) == 2  # the previous commit, whole
    # The next build repairs the pointer and commits again.
    fixed = run("index", str(SEEDS), "--index", str(idx))
    assert fixed.returncode == 0, fixed.stderr
    assert run("sources", "--index", str(idx)).stderr == b""


@pytest.mark.parametrize("how", ["truncated", "zeroed", "deleted"])
def test_a_damaged_pointer_uses_the_newest_intact_commit(two_commit_index: Path, tmp_path: Path,
                                                          how: str) -> None:
    idx = tmp_path / "idx"
    shutil.copytree(two_commit_index, idx)
    if how == "deleted":
        (idx / POINTER).write_text("commit-999999.json\n")  # names a commit that is not there
    else:
        _damage(idx / POINTER, how)
    r = run("sources", "--json", "--index", str(idx))
    assert r.returncode == 0, r.stderr
    assert "extra" in {a["id"] for a in json.loads(r.stdout)["articles"]}


def test_an_update_over_a_damaged_segment_refuses_then_repairs(two_commit_index: Path,
                                                               tmp_path: Path) -> None:
    idx = tmp_path / "idx"
    shutil.copytree(two_commit_index, idx)
    _damage(idx / "seg-000001" / "sentence_hub.npy", "garbled")
    r = run("index", str(SEEDS), "--index", str(idx))
    assert r.returncode == 1
    line = one_line(r)
    assert "seg-000001" in line and "--repair" in line and "--rebuild" in line
    fixed = run("index", "--repair", str(SEEDS), "--index", str(idx))
    assert fixed.returncode == 0, fixed.stderr
    assert b"dropping it" in fixed.stderr
    ok = run("ask", "--json", Q, "--index", str(idx))
    assert ok.returncode == 0 and "restraint" in json.loads(ok.stdout)["quotes"][0]["text"]
    v = run("index", "--verify", "--index", str(idx))
    assert v.returncode == 0 and b"OK" in v.stdout


def test_verify_names_each_damaged_file(two_commit_index: Path, tmp_path: Path) -> None:
    idx = tmp_path / "idx"
    shutil.copytree(two_commit_index, idx)
    assert run("index", "--verify", "--index", str(idx)).returncode == 0
    _damage(idx / "seg-000001" / "passage_vectors.npy", "garbled")
    r = run("index", "--verify", "--json", "--index", str(idx))
    assert r.returncode == 1
    report = json.loads(r.stdout)
    assert not report["ok"] and any("seg-000001/passage_vectors.npy" in p for p in report["problems"])
    doctor = run("doctor", "--index", str(idx))
    assert doctor.returncode == 1 and b"passage_vectors.npy" in doctor.stdout


# -- disk full ------------------------------------------------------------------------------

def _file_size_limit(limit: int) -> object:
    def apply() -> None:
        # Writes past the limit fail with EFBIG instead of killing the process with SIGXFSZ.
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


def _bulk(dst: Path, n: int) -> Path:
    dst.mkdir()
    paras = [p for f in SEEDS.iterdir() for p in f.read_text().split("\n\n") if len(p) > 80]
    with open(dst / "bulk.jsonl", "w") as f:
        for i in range(n):
            body = "\n\n".join(f"Item {i}: {paras[(i + j) % len(paras)]}" for j in range(4))
            f.write(json.dumps({"id": f"b{i}", "title": f"Bulk {i}", "text": body}) + "\n")
    return dst


@pytest.mark.parametrize("limit", [30_000, 120_000])
def test_disk_full_during_a_build_is_one_line_and_loses_nothing(seed_index_dir: Path, tmp_path: Path,
                                                                limit: int) -> None:
    idx = tmp_path / "idx"
    shutil.copytree(seed_index_dir, idx)
    before = read_live_commit(idx)
    files_before = {p.relative_to(idx) for p in idx.rglob("*")}
    bulk = _bulk(tmp_path / "bulk", 100)
    r = run("index", str(SEEDS), str(bulk), "--index", str(idx), preexec=_file_size_limit(limit))
    assert r.returncode == 1, r.stderr
    line = one_line(r)
    assert line.startswith(f"citebot: error: cannot update the index in {idx}")
    # The OS says EFBIG; SQLite reports it as a full disk or a failed write.
    assert any(w in line for w in ("size limit", "disk is full", "write to the disk failed"))
    assert read_live_commit(idx) == before
    assert {p.relative_to(idx) for p in idx.rglob("*")} <= files_before | {Path("write.lock")}
    ok = run("ask", "--json", Q, "--index", str(idx))
    assert ok.returncode == 0 and json.loads(ok.stdout)["answered"]


def test_a_full_tmpfs_is_reported_as_a_full_disk(seed_index_dir: Path, tmp_path: Path) -> None:
    mnt = tmp_path / "small"
    mnt.mkdir()
    # Room for the index and a little more than nothing: the build fills it early.
    size_kb = sum(p.stat().st_size for p in seed_index_dir.rglob("*") if p.is_file()) // 1024 + 200
    if subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kb}k", "tmpfs", str(mnt)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a small tmpfs here (needs root); RLIMIT_FSIZE covers disk full")
    try:
        idx = mnt / "idx"
        shutil.copytree(seed_index_dir, idx)
        before = read_live_commit(idx)
        r = run("index", str(SEEDS), str(_bulk(tmp_path / "bulk", 100)), "--index", str(idx))
        assert r.returncode == 1
        assert "the disk is full" in one_line(r)
        assert read_live_commit(idx) == before and not list(idx.glob(".tmp-*"))
    finally:
        subprocess.run(["umount", str(mnt)], capture_output=True)


# -- settings, paths, permissions ------------------------------------------------------------

def test_paths_of_the_wrong_kind_are_one_line(tmp_path: Path) -> None:
    afile = tmp_path / "afile"
    afile.write_text("x")
    for env, args, code, words in [
        ({"CITEBOT_INDEX_DIR": str(afile)}, ["sources"], 2, "CITEBOT_INDEX_DIR"),
        ({"CITEBOT_CACHE_DIR": str(afile)}, ["sources"], 2, "CITEBOT_CACHE_DIR"),
        ({"CITEBOT_EMBEDDING_MODEL": "/nonexistent/model"}, ["sources"], 2, "no model at /nonexistent"),
        ({}, ["sources", "--index", str(afile)], 1, "is a file, not a folder"),
        ({}, ["index", str(tmp_path / "missing"), "--index", str(tmp_path / "i")], 1, "no such file"),
    ]:
        r = run(*args, env=env)
        assert r.returncode == code, (env, args, r.stderr)
        assert words in one_line(r), (env, args)


def _chmod_tree(root: Path, dirs: int, files: int) -> None:
    for p in [root, *root.rglob("*")]:
        p.chmod(dirs if p.is_dir() else files)


def test_a_read_only_index_answers_and_refuses_updates_in_one_line(seed_index_dir: Path,
                                                                   tmp_path: Path) -> None:
    idx = tmp_path / "idx"
    shutil.copytree(seed_index_dir, idx)
    _chmod_tree(idx, 0o555, 0o444)
    try:
        r = run("ask", "--json", Q, "--index", str(idx), as_user=True)
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["answered"] and r.stderr == b""
        assert not list(idx.rglob("*-wal")) and not list(idx.rglob("*-shm"))
        w = run("index", str(SEEDS), "--index", str(idx), as_user=True)
        assert w.returncode == 1
        assert "permission denied" in one_line(w)
    finally:
        _chmod_tree(idx, 0o755, 0o644)


def test_a_read_only_mount_serves_and_says_so_for_writes(seed_index_dir: Path, tmp_path: Path) -> None:
    src, mnt = tmp_path / "idx", tmp_path / "ro"
    shutil.copytree(seed_index_dir, src)
    mnt.mkdir()
    if subprocess.run(["mount", "--bind", str(src), str(mnt)], capture_output=True).returncode != 0:
        pytest.skip("cannot bind-mount here (needs root); the chmod test covers read-only folders")
    try:
        subprocess.run(["mount", "-o", "remount,ro,bind", str(mnt)], check=True, capture_output=True)
        r = run("ask", "--json", Q, "--index", str(mnt))
        assert r.returncode == 0 and json.loads(r.stdout)["answered"] and r.stderr == b""
        w = run("index", str(SEEDS), "--index", str(mnt))
        assert w.returncode == 1 and "read-only file system" in one_line(w)
    finally:
        subprocess.run(["umount", str(mnt)], capture_output=True)


def test_an_unreadable_articles_folder_keeps_its_articles(tmp_path: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    src = tmp_path / "articles"
    (src / "sub").mkdir(parents=True)
    for p in SEEDS.iterdir():
        shutil.copy(p, src / "sub" / p.name)
    idx = tmp_path / "idx"
    Citebot(idx, embedder=embedder).index([src])
    (src / "sub").chmod(0o000)
    try:
        r = run("index", str(src), "--index", str(idx), as_user=True)
        assert r.returncode == 0, r.stderr
        assert b"removed 0" in r.stdout and b"kept 2" in r.stdout
        assert b"cannot list" in r.stderr and b"Traceback" not in r.stderr
    finally:
        (src / "sub").chmod(0o755)
    assert len(Citebot(idx, embedder=embedder).sources()) == 2


# -- input the terminal can send ------------------------------------------------------------------

def test_every_batch_line_gets_one_output_line(seed_index_dir: Path) -> None:
    rng = random.Random(12)
    odd = ["\u2028", "\u0085", "\x1c", "\x1d", "\x1e", "\x1f", "\u3000", "\u00a0", "\r", "\x0b",
           "\x0c", "\u200b", "\ufeff"]
    lines = []
    for _ in range(300):
        kind = rng.random()
        if kind < 0.3:
            lines.append("".join(rng.choice(odd) for _ in range(rng.randint(1, 4))))
        elif kind < 0.6:
            lines.append("What did " + rng.choice(["NATO", "the SVR", "Peskov"]) + rng.choice(odd) + " say?")
        else:
            lines.append("".join(chr(rng.randint(32, 0x2FFF)) for _ in range(rng.randint(1, 40))))
    data = "\n".join(lines).encode("utf-8", errors="surrogatepass") + b"\n"
    r = run("ask", "-", "--json", "--index", str(seed_index_dir), stdin=data)
    assert b"Traceback" not in r.stderr
    out = r.stdout.decode().removesuffix("\n").split("\n")
    assert len(out) == 300
    assert len(r.stdout.decode().splitlines()) == 300  # even for readers that split on U+2028
    for raw, line in zip(lines, out, strict=True):
        obj = json.loads(line)
        assert "answered" in obj or "error" in obj, raw


def test_bytes_that_are_not_utf8_are_replaced_not_fatal(seed_index_dir: Path) -> None:
    bad = b"What did the SVR say \xff\xfe about \xc3 invasion plans?\n\x80\x81\n"
    r = run("ask", "-", "--json", "--index", str(seed_index_dir), stdin=bad)
    assert b"Traceback" not in r.stderr
    first, second = (json.loads(x) for x in r.stdout.decode().splitlines())
    assert first["answered"] and "\ufffd" in first["question"]
    assert "error" in second
    argv = subprocess.run([sys.executable, "-m", "bot", "cite", "--index", str(seed_index_dir),
                           os.fsdecode(b"The Kremlin has dismissed the concerns \xff as unfounded")],
                          cwd=ROOT, capture_output=True, timeout=120)
    assert argv.returncode == 0 and b"Traceback" not in argv.stderr
    assert b"Kremlin" in argv.stdout


def test_a_question_of_stop_words_gets_the_documented_reply(seed_index_dir: Path) -> None:
    r = run("ask", "What is it that they did?", "--index", str(seed_index_dir))
    assert r.returncode == 2 and "ask about something in the articles" in one_line(r)


def test_the_api_raises_one_error_type_for_environment_faults(tmp_path: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    afile = tmp_path / "f"
    afile.write_text("x")
    with pytest.raises(CitebotError) as err:
        Citebot(afile, embedder=embedder).index([SEEDS])
    assert "\n" not in str(err.value) and str(afile) in str(err.value)
