"""The command line end to end, in subprocesses, as a user runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, SEEDS
from seed_questions import BORDER, SVR


def run(*args: str, index: Path | None = None, stdin: str | None = None,
        env: dict[str, str] | None = None, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "bot", *args]
    if index is not None:
        cmd += ["--index", str(index)]
    full_env = {**os.environ, "NO_COLOR": "1", **(env or {})}
    full_env.pop("CITEBOT_INDEX_DIR", None)
    return subprocess.run(cmd, input=stdin, capture_output=True, text=True, cwd=cwd,
                          env=full_env, timeout=240)


def test_help_does_not_import_torch() -> None:
    code = "import sys; from bot.cli import main; rc = main(['--help']) if False else 0; " \
           "import bot.cli; print('torch' in sys.modules, 'sentence_transformers' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.stdout.strip() == "False False"
    r = run("--help")
    assert r.returncode == 0 and "ask" in r.stdout and "cite" in r.stdout


def test_ask_text(seed_index_dir: Path) -> None:
    r = run("ask", "What did Germany's foreign ministry urge Moscow to do?", index=seed_index_dir)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("> ")
    assert "restraint" in r.stdout and "[1]" in r.stdout
    assert "Sources" in r.stdout and BORDER in r.stdout
    assert "\x1b[" not in r.stdout  # no colour in a pipe
    assert "Traceback" not in r.stderr


def test_ask_json(seed_index_dir: Path) -> None:
    r = run("ask", "How had Peskov previously described the Western claims?", "--json", index=seed_index_dir)
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["answered"] is True and d["quotes"][0]["url"] == SVR
    assert "hysteria" in d["quotes"][0]["text"]
    assert set(d) == {"question", "answered", "weak", "period", "quotes", "sources"}


def test_ask_abstains_with_exit_zero(seed_index_dir: Path) -> None:
    r = run("ask", "Who won the 2018 FIFA World Cup?", index=seed_index_dir)
    assert r.returncode == 0
    assert "do not answer" in r.stdout and "Closest articles" in r.stdout


def test_batch_ask_from_stdin(seed_index_dir: Path) -> None:
    qs = (
        "What did NATO's chief say?\n\nHow many moons does Jupiter have?\n"
        "Where did Putin say the West was holding drills?\n"
    )
    r = run("ask", "-", "--json", index=seed_index_dir, stdin=qs)
    assert r.returncode == 2, r.stderr  # the blank line is refused, and answered with an error
    lines = [json.loads(x) for x in r.stdout.split("\n")[:-1]]
    assert [x.get("answered") for x in lines] == [True, None, False, True]
    assert "empty" in lines[1]["error"]
    assert "Black Sea" in lines[3]["quotes"][0]["text"]


def test_cite_and_show(seed_index_dir: Path) -> None:
    r = run("cite", "We're not recording any neighboring country's equipment", "--json", index=seed_index_dir)
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["query"].startswith("We're") and d["matches"][0]["verbatim"] is True
    assert d["matches"][0]["url"] == BORDER
    r = run("show", BORDER, "--json", index=seed_index_dir)
    art = json.loads(r.stdout)
    assert art["title"] == "Ukraine Border Service Says No Sign of Russian Troops"
    assert art["text"][d["matches"][0]["start"]:d["matches"][0]["end"]] == d["matches"][0]["text"]
    r = run("show", "no-such-article", index=seed_index_dir)
    assert r.returncode == 1 and "citebot sources" in r.stderr and "Traceback" not in r.stderr


def test_sources(seed_index_dir: Path) -> None:
    r = run("sources", "--json", index=seed_index_dir)
    items = json.loads(r.stdout)["articles"]
    assert {i["url"] for i in items} == {BORDER, SVR}
    r = run("sources", index=seed_index_dir)
    assert "2 articles indexed" in r.stdout
    counts = {i["url"]: i["passages"] for i in items}
    for url, n in counts.items():
        [line] = [row for row in r.stdout.splitlines() if row.endswith(url)]
        assert f"({n} passage{'s' if n != 1 else ''})" in line


def test_chat_through_stdin(seed_index_dir: Path) -> None:
    script = (
        "/help\nWhat did Blinken say would be a serious mistake?\n"
        "/cite Kremlin spokesman Dmitry Peskov told reporters\n/sources\n/bogus\n/quit\nnever reached\n"
    )
    r = run("chat", index=seed_index_dir, stdin=script)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "/cite TEXT" in out
    assert "serious mistake" in out and "[1]" in out
    assert "verbatim" in out
    assert "2 articles indexed" in out
    assert "unknown command /bogus" in out
    assert "never reached" not in out


def test_chat_ends_cleanly_on_eof(seed_index_dir: Path) -> None:
    r = run("chat", index=seed_index_dir, stdin="What did the SVR say?\n")
    assert r.returncode == 0 and "Traceback" not in r.stderr


@pytest.mark.parametrize(("args", "needle"), [
    (("ask", "   "), "empty"),
    (("ask", "x" * 1001), "1001 characters"),
    (("cite", ""), "empty"),
])
def test_bad_input_exits_2_with_one_line(args: tuple[str, ...], needle: str, tmp_path: Path) -> None:
    r = run(*args, index=tmp_path / "none")
    assert r.returncode == 2
    assert needle in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "none").exists()  # refused before any index is built


def test_missing_index_names_the_fix(tmp_path: Path) -> None:
    r = run("sources", index=tmp_path / "none")
    assert r.returncode == 1
    assert "citebot index" in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_ask_without_index_or_articles_names_the_fix(tmp_path: Path) -> None:
    # A new directory: no index yet, and no seeds/ to build the first one from.
    r = run("ask", "What did the SVR say?", cwd=tmp_path)
    assert r.returncode == 1
    [line] = r.stderr.strip().splitlines()
    assert "no articles folder seeds" in line and "citebot index PATH" in line
    assert not (tmp_path / ".citebot").exists()


def test_mismatched_index_names_the_fix(seed_index_dir: Path) -> None:
    r = run("ask", "What did the SVR say?", index=seed_index_dir, env={"CITEBOT_PASSAGE_TOKENS": "64"})
    assert r.returncode == 1
    assert "citebot index --rebuild" in r.stderr and "Traceback" not in r.stderr


def test_a_damaged_file_is_one_line_and_a_build_repairs_it(seed_index_dir: Path, tmp_path: Path) -> None:
    import shutil

    idx = tmp_path / "index"
    shutil.copytree(seed_index_dir, idx)
    (hub,) = idx.glob("seg-*/passage_hub.npy")
    data = bytearray(hub.read_bytes())
    data[-8:] = b"\xff" * 8  # same size, garbled values: only the checksum can tell
    hub.write_bytes(bytes(data))
    q = "What did Germany's foreign ministry urge Moscow to do?"
    r = run("ask", q, index=idx)
    assert r.returncode == 1 and r.stdout == ""
    [line] = r.stderr.strip().splitlines()
    assert "passage_hub.npy" in line and "damaged" in line and "citebot index" in line
    assert "Traceback" not in r.stderr
    refused = run("index", str(SEEDS), index=idx)
    assert refused.returncode == 1 and "--repair" in refused.stderr.strip()
    fixed = run("index", "--repair", str(SEEDS), index=idx)
    assert fixed.returncode == 0, fixed.stderr
    assert "damaged" in fixed.stderr and "added 2" in fixed.stdout
    again = run("ask", q, index=idx)
    assert again.returncode == 0 and "restraint" in again.stdout


def test_invalid_setting_is_one_line(tmp_path: Path) -> None:
    r = run("sources", index=tmp_path, env={"CITEBOT_TOP_K": "zero"})
    assert r.returncode == 2 and "CITEBOT_TOP_K" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_first_ask_builds_the_index(tmp_path: Path) -> None:
    articles = tmp_path / "articles"
    articles.mkdir()
    for p in SEEDS.iterdir():
        (articles / p.name).write_bytes(p.read_bytes())
    r = run("ask", "What did the Kremlin complain about instead?", index=tmp_path / "idx",
            env={"CITEBOT_ARTICLES_DIR": str(articles)})
    assert r.returncode == 0, r.stderr
    assert "building it from" in r.stderr and "added 2" in r.stderr
    assert "NATO activity" in r.stdout
    r2 = run("index", index=tmp_path / "idx", env={"CITEBOT_ARTICLES_DIR": str(articles)})
    assert "unchanged 2" in r2.stdout and "added 0" in r2.stdout
