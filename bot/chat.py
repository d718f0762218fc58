"""``citebot chat``: an interactive question loop with line editing and history."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import TextIO

from retrieval import Citebot
from retrieval.errors import CitebotError

HELP = """Type a question and press Enter. Commands:
  /cite TEXT   which article said TEXT, and whether verbatim
  /sources     list the indexed articles
  /help        this help
  /quit        leave (Ctrl-D and Ctrl-C work too)"""

HISTORY = Path(os.environ.get("CITEBOT_HISTORY", str(Path.home() / ".citebot_history")))


def _setup_readline(interactive: bool) -> bool:
    if not interactive:
        return False
    try:
        import readline
    except ImportError:  # pragma: no cover - Windows without pyreadline
        return False
    with contextlib.suppress(OSError):
        readline.read_history_file(HISTORY)
    readline.set_history_length(1000)
    return True


def _save_history() -> None:
    try:
        import readline

        readline.write_history_file(HISTORY)
    except (ImportError, OSError):
        pass


def run_chat(engine: Citebot, stdin: TextIO, stdout: TextIO) -> int:
    from .cli import style_for
    from .textout import render_answer, render_matches, render_sources

    interactive = stdin.isatty() and stdout.isatty()
    style = style_for(stdout)
    engine.open()
    use_readline = _setup_readline(interactive)
    if interactive:
        n = engine.view().articles_count
        print(f"citebot chat: {n} articles. /help for commands, Ctrl-D to leave.", file=stdout)
    prompt = "? " if interactive else ""
    try:
        while True:
            try:
                line = input(prompt) if interactive else stdin.readline()
            except EOFError:
                break
            if not interactive and line == "":
                break
            line = line.strip()
            if not line:
                continue
            if line in ("/quit", "/exit", "/q"):
                break
            try:
                if line == "/help":
                    out = HELP
                elif line == "/sources":
                    out = render_sources(engine.sources(), style)
                elif line.startswith("/cite"):
                    text = line[len("/cite"):].strip()
                    out = render_matches(text, engine.cite(text), style)
                elif line.startswith("/"):
                    out = f"unknown command {line.split()[0]}; /help lists them"
                else:
                    out = render_answer(engine.answer(line), style)
            except CitebotError as exc:
                out = f"error: {exc}"
            print(out + "\n", file=stdout, flush=True)
    except KeyboardInterrupt:
        print("", file=stdout)
    finally:
        if use_readline:
            _save_history()
    return 0
