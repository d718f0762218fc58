"""The ``citebot`` command line. Parses, builds settings and the engine, prints results.

Heavy libraries (torch, sentence-transformers, FAISS) load only inside commands that need
them, so ``citebot --help`` stays instant.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sqlite3
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from retrieval.errors import CitebotError

from .batch import json_line

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
    sp.add_argument("--verify", action="store_true",
                    help="check every file of the index against its checksum; no paths")
    sp.add_argument("--repair", action="store_true",
                    help="drop damaged segments and index their articles again from the paths given")
    sp.add_argument("--ray", nargs="?", const="", metavar="ADDRESS",
                    help="split and embed on Ray workers: no value = CITEBOT_RAY_ADDRESS or a local "
                    "runtime; auto = the running cluster; HOST:PORT or ray://HOST:PORT")
    sp.add_argument("--json", action="store_true", help="print the summary as JSON")

    def time_options(sp: argparse.ArgumentParser) -> None:
        g = sp.add_argument_group("time and sources")
        g.add_argument("--as-of", metavar="DATE", help="the asking date: what 'this week' means, and "
                       "nothing published later is used (default: today)")
        g.add_argument("--since", metavar="DATE", help="only articles published on or after DATE "
                       "(YYYY-MM-DD, YYYY-MM, YYYY, 7d, 'last week', ...)")
        g.add_argument("--until", metavar="DATE", help="only articles published on or before DATE")
        g.add_argument("--source", metavar="NAME", action="append",
                       help="only articles from this source name or web site (repeatable)")

    sp = add("ask", "answer a question with quotes from the articles ('-' reads questions from stdin)")
    sp.add_argument("question", nargs="+", help="the question, or - for one question per stdin line")
    sp.add_argument("-k", type=int, default=None, help="passages to retrieve (default from settings)")
    sp.add_argument("--json", action="store_true", help="print JSON (one object per line with -)")
    time_options(sp)

    sp = add("search", "list the best-matching passages for a question ('-' reads stdin)")
    sp.add_argument("question", nargs="+")
    sp.add_argument("-k", type=int, default=None)
    sp.add_argument("--json", action="store_true")
    time_options(sp)

    sp = add("cite", "find which article said a quote or claim, and whether verbatim ('-' reads stdin)")
    sp.add_argument("text", nargs="+")
    sp.add_argument("--json", action="store_true")
    time_options(sp)

    sp = add("show", "print an indexed article's metadata and full text")
    sp.add_argument("id_or_url")
    sp.add_argument("--json", action="store_true")

    sp = add("sources", "list the indexed articles")
    sp.add_argument("--json", action="store_true")
    time_options(sp)

    add("chat", "ask questions interactively (model and index load once)")

    sp = add("doctor", "check the settings, the paths, the model and the index, and say what to fix")
    sp.add_argument("--json", action="store_true")

    sp = add("discord", "run the Discord bot (needs DISCORD_TOKEN)")
    sp.add_argument("--sync", action="store_true", help="register the slash commands with Discord, then run")
    sp.add_argument("--watch", action="store_true",
                    help="also poll the feeds (as `citebot watch`) in the bot process")

    sp = add("eval", "measure retrieval and quote quality on a questions file")
    sp.add_argument("questions", type=Path, nargs="?",
                    help="JSON Lines: {id, question, answers, gold}")
    sp.add_argument("--feedback", action="store_true",
                    help="use the answers people liked (👍) instead of a file; their quotes' "
                         "articles are gold")
    sp.add_argument("--limit", type=int, default=None, help="only the first N questions")
    sp.add_argument("--as-of", metavar="DATE|id", default=None,
                    help="ask every question as of DATE, or 'id' to take each question's date from "
                         "its id (realtimeqa ids begin with the quiz date); default: today")
    sp.add_argument("--json", action="store_true")

    from .feeds_cli import add_parsers

    add_parsers(add)

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
        if settings.debug:  # the loaders and the last-resort handler read it from the environment
            os.environ["CITEBOT_DEBUG"] = "1"
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
    except (OSError, sqlite3.Error) as exc:
        # The last line of defence for faults of the environment the operations did not map
        # (writing output to a full disk, say): still one line, never a traceback.
        from retrieval.envfaults import translate

        mapped = translate(exc, f"run `citebot {args.command}`", getattr(args, "index", None))
        print(f"citebot: error: {mapped or exc}", file=sys.stderr)
        if os.environ.get("CITEBOT_DEBUG"):
            raise
        return 1


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
    from retrieval.errors import StorageError
    from retrieval.limits import LoadLimits

    if index is not None and index.exists() and not index.is_dir():
        raise StorageError(f"--index {index} is a file, not a folder; point it at a folder "
                           "(it is created if missing)")
    return Citebot(
        index or settings.index_dir, model=settings.embedding_model,
        passage_tokens=settings.passage_tokens, passage_overlap=settings.passage_overlap,
        top_k=settings.top_k, encoder=settings.encoder, cache_dir=settings.cache_dir,
        limits=LoadLimits(max_text_chars=settings.max_article_chars),
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
              wait: bool = True, repair: bool = False, ray_address: str | None = None) -> Any:
    """``ray_address``: None builds in this process; anything else on Ray (rayprep.py)."""
    if ray_address is not None:
        from retrieval.rayprep import ray_preparer

        with ray_preparer(ray_address, engine.config.model, encoder=engine.encoder,
                          passage_tokens=engine.config.passage_tokens,
                          overlap=engine.config.passage_overlap, cache_dir=engine.cache_dir) as prep:
            return _index_with(engine, paths, rebuild=rebuild, wait=wait, repair=repair, preparer=prep)
    return _index_with(engine, paths, rebuild=rebuild, wait=wait, repair=repair, preparer=None)


def _index_with(engine: Citebot, paths: Sequence[Path], *, rebuild: bool, wait: bool, repair: bool,
                preparer: Any) -> Any:
    update, stop = _build_status()
    try:
        return engine.index(paths, rebuild=rebuild, progress=update, wait=wait, notice=_notice,
                            repair=repair, preparer=preparer)
    finally:
        stop()


def print_verify(index_dir: Path, *, as_json: bool) -> int:
    from retrieval.verify import verify_index

    report = verify_index(index_dir)
    if as_json:
        print(json.dumps({"ok": report.ok, "commit": report.commit, "segments": report.segments,
                          "files": report.files, "bytes": report.bytes, "problems": report.problems,
                          "notes": report.notes}))
    else:
        for line in report.problems:
            print(f"damaged: {line}")
        for line in report.notes:
            print(line)
        state = "OK" if report.ok else f"{len(report.problems)} problem(s)"
        print(f"{report.commit}: {report.segments} segments, {report.files} files, "
              f"{report.bytes / 1e6:.1f} MB checked: {state}")
    return 0 if report.ok else 1


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
    if args.verify:
        if args.paths or args.rebuild or args.compact or args.repair or args.ray is not None:
            raise InputError("--verify takes no paths and no other option; run it on its own")
        return print_verify(engine.index_dir, as_json=args.json)
    if args.compact:
        if args.paths or args.rebuild or args.repair:
            raise InputError("--compact takes no paths and no --rebuild; run it on its own")
        if args.ray is not None:
            raise InputError("--compact runs on this machine (it embeds nothing); drop --ray")
        update, stop = _build_status()
        try:
            report = engine.compact(wait=not args.no_wait, progress=update)
        finally:
            stop()
    else:
        paths = args.paths or [settings.articles_dir]
        ray = None if args.ray is None else (args.ray or settings.ray_address or "local")
        report = run_index(engine, paths, rebuild=args.rebuild, wait=not args.no_wait,
                           repair=args.repair, ray_address=ray)
    if args.json:
        print(json.dumps(report.to_dict()))
    else:
        print(report.summary())
    return 0


def _joined(words: Sequence[str]) -> str:
    return " ".join(words)


def query_options(args: argparse.Namespace) -> dict[str, Any]:
    """The time and source options of ask/search/cite/sources, as engine keywords."""
    out: dict[str, Any] = {}
    for name in ("as_of", "since", "until"):
        if getattr(args, name, None):
            out[name] = getattr(args, name)
    if getattr(args, "source", None):
        out["source"] = tuple(args.source)
    return out


def _merged(args: argparse.Namespace, line_options: dict[str, Any]) -> dict[str, Any]:
    """Command-line options, overridden per line by a JSON line's own."""
    opts = {**query_options(args), **line_options}
    if "k" in opts and not isinstance(opts["k"], int):
        from retrieval.errors import InputError

        raise InputError(f'"k" must be a whole number, got {opts["k"]!r}')
    if "k" not in opts and getattr(args, "k", None) is not None:
        opts["k"] = args.k
    return opts


def _batch(args: argparse.Namespace, text_key: str, work: Callable[[str, dict[str, Any]], Any],
           to_json: Callable[[str, Any], dict[str, Any]], to_text: Callable[[str, Any], str]) -> int:
    from .batch import run_batch

    return run_batch(sys.stdin.buffer, sys.stdout, sys.stderr, text_key=text_key, as_json=args.json,
                     work=lambda text, opts: work(text, _merged(args, opts)), to_json=to_json,
                     to_text=to_text)


def cmd_ask(args: argparse.Namespace, settings: Settings) -> int:
    from .textout import render_answer

    engine = make_engine(settings, args.index)
    if args.question == ["-"]:
        ensure_index(engine, settings)
        style = style_for(sys.stdout)
        return _batch(args, "question", lambda q, o: engine.answer(q, **o),
                      lambda q, a: a.to_dict(), lambda q, a: f"Q: {q}\n{render_answer(a, style)}")
    question = _joined(args.question)
    from retrieval.answer import check_text

    check_text(question)  # refuse bad input before loading anything
    ensure_index(engine, settings)
    ans = engine.answer(question, k=args.k, **query_options(args))
    if args.json:
        print(json_line(ans.to_dict()))
    else:
        print(render_answer(ans, style_for(sys.stdout)))
    return 0


def _search_json(question: str, passages: Any) -> dict[str, Any]:
    return {"question": question, "passages": [p.to_dict() for p in passages]}


def cmd_search(args: argparse.Namespace, settings: Settings) -> int:
    from .textout import render_passages

    engine = make_engine(settings, args.index)
    ensure_index(engine, settings)
    style = style_for(sys.stdout)
    if args.question == ["-"]:
        return _batch(args, "question", lambda q, o: engine.search(q, **o), _search_json,
                      lambda q, ps: f"Q: {q}\n{render_passages(ps, style)}")
    question = _joined(args.question)
    passages = engine.search(question, k=args.k, **query_options(args))
    if args.json:
        print(json_line(_search_json(question, passages)))
    else:
        print(render_passages(passages, style))
    return 0


def _cite_json(text: str, matches: Any) -> dict[str, Any]:
    return {"query": text, "matches": [m.to_dict() for m in matches]}


def cmd_cite(args: argparse.Namespace, settings: Settings) -> int:
    from retrieval.answer import check_text

    from .textout import render_matches

    engine = make_engine(settings, args.index)
    style = style_for(sys.stdout)
    if args.text == ["-"]:
        ensure_index(engine, settings)
        return _batch(args, "text", lambda t, o: engine.cite(t, **{k: v for k, v in o.items() if k != "k"}),
                      _cite_json, lambda t, ms: f"> {t}\n{render_matches(t, ms, style)}")
    text = _joined(args.text)
    check_text(text, "text to cite")
    ensure_index(engine, settings)
    matches = engine.cite(text, **query_options(args))
    if args.json:
        print(json_line(_cite_json(text, matches)))
    else:
        print(render_matches(text, matches, style))
    return 0


def cmd_show(args: argparse.Namespace, settings: Settings) -> int:
    from .textout import render_article

    engine = make_engine(settings, args.index)
    art = engine.article(args.id_or_url)
    if args.json:
        d = art.to_dict()
        d.pop("path", None)
        print(json_line(d))
    else:
        print(render_article(art, style_for(sys.stdout)))
    return 0


def cmd_sources(args: argparse.Namespace, settings: Settings) -> int:
    from .textout import render_sources

    engine = make_engine(settings, args.index)
    items = engine.sources(**query_options(args))
    if args.json:
        print(json_line({"articles": [a.to_dict() for a in items]}))
    else:
        print(render_sources(items, style_for(sys.stdout)))
    return 0


def cmd_chat(args: argparse.Namespace, settings: Settings) -> int:
    from .chat import run_chat

    engine = make_engine(settings, args.index)
    ensure_index(engine, settings)
    return run_chat(engine, sys.stdin, sys.stdout)


def cmd_doctor(args: argparse.Namespace, settings: Settings) -> int:
    from .doctor import run_doctor

    return run_doctor(settings, args.index, as_json=args.json)


def cmd_discord(args: argparse.Namespace, settings: Settings) -> int:
    from .discord_app import run_discord

    return run_discord(settings, index=args.index, sync=args.sync, watch=args.watch)


def cmd_eval(args: argparse.Namespace, settings: Settings) -> int:
    from .evaluate import run_eval_command

    if (args.questions is None) == (not args.feedback):
        from retrieval.errors import InputError

        raise InputError("give either a questions file or --feedback to `citebot eval`, not both or neither")
    engine = make_engine(settings, args.index)
    return run_eval_command(engine, args.questions, limit=args.limit, as_json=args.json,
                            as_of=args.as_of)


def cmd_feedback(args: argparse.Namespace, settings: Settings) -> int:
    from .evaluate import run_feedback_command

    return run_feedback_command(args.index or settings.index_dir, as_json=args.json)


_COMMANDS: dict[str, Callable[[argparse.Namespace, Settings], int]] = {
    "index": cmd_index, "ask": cmd_ask, "search": cmd_search, "cite": cmd_cite, "show": cmd_show,
    "sources": cmd_sources, "chat": cmd_chat, "discord": cmd_discord, "eval": cmd_eval,
    "doctor": cmd_doctor, "feedback": cmd_feedback,
}


def _feeds_command(name: str) -> Callable[[argparse.Namespace, Settings], int]:
    def run(args: argparse.Namespace, settings: Settings) -> int:
        from . import feeds_cli

        if name == "feeds":
            return feeds_cli.cmd_feeds(args, settings)
        return getattr(feeds_cli, f"cmd_{name}")(args, settings, make_engine)

    return run


_COMMANDS.update({name: _feeds_command(name) for name in ("add", "feeds", "watch")})
