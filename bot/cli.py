"""The ``citebot`` command line. Parses, builds settings and the engine, prints results.

Heavy libraries (torch, sentence-transformers, FAISS) load only inside commands that need
them, so ``citebot --help`` stays instant.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from retrieval.errors import CitebotError

if TYPE_CHECKING:
    from retrieval import Citebot

    from .settings import Settings
    from .textout import Style

log = logging.getLogger("citebot")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="citebot",
        description="Answer questions about news articles with verbatim, cited quotes.",
    )
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    def add(name: str, help: str) -> argparse.ArgumentParser:
        sp = sub.add_parser(name, help=help, description=help)
        sp.add_argument("--index", type=Path, metavar="DIR", help="index directory (default from settings)")
        return sp

    sp = add("index", "build or update the index from article files and folders")
    sp.add_argument("paths", nargs="*", type=Path, help="files or folders (default: the articles dir)")
    sp.add_argument("--rebuild", action="store_true",
                    help="build a new index from these files; readers keep the old one until it is done")
    sp.add_argument("--compact", action="store_true",
                    help="merge all segments into one (drops deleted rows, refreshes hubness); no paths")
    sp.add_argument("--no-wait", action="store_true",
                    help="fail at once if another process is writing the index, instead of waiting")
    sp.add_argument("--json", action="store_true", help="print the summary as JSON")

    sp = add("ask", "answer a question with quotes from the articles ('-' reads questions from stdin)")
    sp.add_argument("question", nargs="+", help="the question, or - for one question per stdin line")
    sp.add_argument("-k", type=int, default=None, help="passages to retrieve (default from settings)")
    sp.add_argument("--json", action="store_true", help="print JSON (one object per line with -)")

    sp = add("search", "list the best-matching passages for a question")
    sp.add_argument("question", nargs="+")
    sp.add_argument("-k", type=int, default=None)
    sp.add_argument("--json", action="store_true")

    sp = add("cite", "find which article said a quote or claim, and whether verbatim")
    sp.add_argument("text", nargs="+")
    sp.add_argument("--json", action="store_true")

    sp = add("show", "print an indexed article's metadata and full text")
    sp.add_argument("id_or_url")
    sp.add_argument("--json", action="store_true")

    sp = add("sources", "list the indexed articles")
    sp.add_argument("--json", action="store_true")

    add("chat", "ask questions interactively (model and index load once)")

    sp = add("discord", "run the Discord bot (needs DISCORD_TOKEN)")
    sp.add_argument("--sync", action="store_true", help="register the slash commands with Discord, then run")

    sp = add("eval", "measure retrieval and quote quality on a questions file")
    sp.add_argument("questions", type=Path, nargs="?",
                    help="JSON Lines: {id, question, answers, gold}")
    sp.add_argument("--feedback", action="store_true",
                    help="use the answers people liked (👍) instead of a file; their quotes' "
                         "articles are gold")
    sp.add_argument("--limit", type=int, default=None, help="only the first N questions")
    sp.add_argument("--json", action="store_true")

    sp = add("feedback", "list the 👍 / 👎 votes given to answers (in the index's state database)")
    sp.add_argument("--json", action="store_true")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        from .settings import load_settings

        settings = load_settings()
        _setup_logging(settings.log_level)
        handler = _COMMANDS[args.command]
        return handler(args, settings)
    except CitebotError as exc:
        print(f"citebot: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("citebot: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # A pager or `head` closed the pipe; that is not an error worth a traceback.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def _setup_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level), stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # Warnings about articles and index files are for the user, one plain line each.
    h = logging.StreamHandler(sys.stderr)
    h.setFormatter(logging.Formatter("citebot: warning: %(message)s"))
    for name in ("citebot.loaders", "citebot.reader", "citebot.index"):
        user = logging.getLogger(name)
        user.propagate = False
        user.addHandler(h)
    for noisy in ("sentence_transformers", "transformers", "httpx", "urllib3", "filelock", "faiss"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def style_for(stream: TextIO) -> Style:
    from .textout import Style

    tty = stream.isatty()
    color = tty and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"
    width = min(os.get_terminal_size(stream.fileno()).columns, 100) if tty else 88
    return Style(color=color, links=color, width=width)


def make_engine(settings: Settings, index: Path | None) -> Citebot:
    from retrieval import Citebot

    return Citebot(
        index or settings.index_dir, model=settings.embedding_model,
        passage_tokens=settings.passage_tokens, passage_overlap=settings.passage_overlap,
        top_k=settings.top_k, encoder=settings.encoder, cache_dir=settings.cache_dir,
    )


def _progress_bar(label: str = "embedding") -> tuple[Callable[[int, int], None] | None, Callable[[], None]]:
    """A progress bar on stderr when it is a terminal; nothing otherwise."""
    if not sys.stderr.isatty():
        return None, lambda: None
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    bar = Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                   console=Console(stderr=True), transient=True)
    task = bar.add_task("embed", total=None)
    bar.start()

    def update(done: int, total: int) -> None:
        bar.update(task, completed=done, total=total)

    return update, bar.stop


def _build_status() -> tuple[Callable[[Any], None] | None, Callable[[], None]]:
    """A one-line status on stderr while a build streams (its total is not known ahead)."""
    if not sys.stderr.isatty():
        return None, lambda: None
    from rich.console import Console

    status = Console(stderr=True).status("reading articles")
    status.start()

    def update(p: Any) -> None:
        status.update(f"{p.phase}: {p.articles:,} articles read, {p.embedded:,} embedded, "
                      f"{p.passages:,} passages")

    return update, status.stop


def _notice(text: str) -> None:
    print(f"citebot: {text}", file=sys.stderr, flush=True)


def run_index(engine: Citebot, paths: Sequence[Path], *, rebuild: bool = False,
              wait: bool = True) -> Any:
    update, stop = _build_status()
    try:
        return engine.index(paths, rebuild=rebuild, progress=update, wait=wait, notice=_notice)
    finally:
        stop()


def ensure_index(engine: Citebot, settings: Settings) -> None:
    """The first ask/chat/cite on a new machine builds the index from the articles dir."""
    if engine.has_index():
        return
    if not settings.articles_dir.exists():
        from retrieval.errors import IndexMissingError

        raise IndexMissingError(
            f"no index in {engine.index_dir}, and no articles folder {settings.articles_dir} to "
            "build one from; run `citebot index PATH` with your articles, or set "
            "CITEBOT_ARTICLES_DIR or CITEBOT_INDEX_DIR"
        )
    print(f"citebot: no index in {engine.index_dir} yet; building it from {settings.articles_dir}",
          file=sys.stderr)
    report = run_index(engine, [settings.articles_dir])
    print(f"citebot: {report.summary()}", file=sys.stderr)


def cmd_index(args: argparse.Namespace, settings: Settings) -> int:
    from retrieval.errors import InputError

    engine = make_engine(settings, args.index)
    if args.compact:
        if args.paths or args.rebuild:
            raise InputError("--compact takes no paths and no --rebuild; run it on its own")
        update, stop = _build_status()
        try:
            report = engine.compact(wait=not args.no_wait, progress=update)
        finally:
            stop()
    else:
        paths = args.paths or [settings.articles_dir]
        report = run_index(engine, paths, rebuild=args.rebuild, wait=not args.no_wait)
    if args.json:
        print(json.dumps(report.to_dict()))
    else:
        print(report.summary())
    return 0


def _joined(words: Sequence[str]) -> str:
    return " ".join(words)


def cmd_ask(args: argparse.Namespace, settings: Settings) -> int:
    from retrieval.errors import InputError

    from .textout import render_answer

    engine = make_engine(settings, args.index)
    if args.question == ["-"]:
        ensure_index(engine, settings)
        failed = False
        style = style_for(sys.stdout)
        for line in sys.stdin:
            q = line.strip()
            if not q:
                continue
            try:
                ans = engine.answer(q, k=args.k)
            except InputError as exc:
                failed = True
                if args.json:
                    print(json.dumps({"question": q, "error": str(exc)}), flush=True)
                else:
                    print(f"citebot: error: {exc}", file=sys.stderr)
                continue
            if args.json:
                print(json.dumps(ans.to_dict(), ensure_ascii=False), flush=True)
            else:
                print(f"Q: {q}\n{render_answer(ans, style)}\n", flush=True)
        return 2 if failed else 0
    question = _joined(args.question)
    from retrieval.answer import check_text

    check_text(question)  # refuse bad input before loading anything
    ensure_index(engine, settings)
    ans = engine.answer(question, k=args.k)
    if args.json:
        print(json.dumps(ans.to_dict(), ensure_ascii=False))
    else:
        print(render_answer(ans, style_for(sys.stdout)))
    return 0


def cmd_search(args: argparse.Namespace, settings: Settings) -> int:
    from .textout import render_passages

    engine = make_engine(settings, args.index)
    ensure_index(engine, settings)
    passages = engine.search(_joined(args.question), k=args.k)
    if args.json:
        print(json.dumps({"question": _joined(args.question),
                          "passages": [p.to_dict() for p in passages]}, ensure_ascii=False))
    else:
        print(render_passages(passages, style_for(sys.stdout)))
    return 0


def cmd_cite(args: argparse.Namespace, settings: Settings) -> int:
    from retrieval.answer import check_text

    from .textout import render_matches

    text = _joined(args.text)
    check_text(text, "text to cite")
    engine = make_engine(settings, args.index)
    ensure_index(engine, settings)
    matches = engine.cite(text)
    if args.json:
        print(json.dumps({"query": text, "matches": [m.to_dict() for m in matches]}, ensure_ascii=False))
    else:
        print(render_matches(text, matches, style_for(sys.stdout)))
    return 0


def cmd_show(args: argparse.Namespace, settings: Settings) -> int:
    from .textout import render_article

    engine = make_engine(settings, args.index)
    art = engine.article(args.id_or_url)
    if args.json:
        d = art.to_dict()
        d.pop("path", None)
        print(json.dumps(d, ensure_ascii=False))
    else:
        print(render_article(art, style_for(sys.stdout)))
    return 0


def cmd_sources(args: argparse.Namespace, settings: Settings) -> int:
    from .textout import render_sources

    engine = make_engine(settings, args.index)
    items = engine.sources()
    if args.json:
        print(json.dumps({"articles": [a.to_dict() for a in items]}, ensure_ascii=False))
    else:
        print(render_sources(items, style_for(sys.stdout)))
    return 0


def cmd_chat(args: argparse.Namespace, settings: Settings) -> int:
    from .chat import run_chat

    engine = make_engine(settings, args.index)
    ensure_index(engine, settings)
    return run_chat(engine, sys.stdin, sys.stdout)


def cmd_discord(args: argparse.Namespace, settings: Settings) -> int:
    from .discord_app import run_discord

    return run_discord(settings, index=args.index, sync=args.sync)


def cmd_eval(args: argparse.Namespace, settings: Settings) -> int:
    from .evaluate import run_eval_command

    if (args.questions is None) == (not args.feedback):
        from retrieval.errors import InputError

        raise InputError("give either a questions file or --feedback to `citebot eval`, not both or neither")
    engine = make_engine(settings, args.index)
    return run_eval_command(engine, args.questions, limit=args.limit, as_json=args.json)


def cmd_feedback(args: argparse.Namespace, settings: Settings) -> int:
    from .evaluate import run_feedback_command

    return run_feedback_command(args.index or settings.index_dir, as_json=args.json)


_COMMANDS: dict[str, Callable[[argparse.Namespace, Settings], int]] = {
    "index": cmd_index, "ask": cmd_ask, "search": cmd_search, "cite": cmd_cite, "show": cmd_show,
    "sources": cmd_sources, "chat": cmd_chat, "discord": cmd_discord, "eval": cmd_eval,
    "feedback": cmd_feedback,
}
