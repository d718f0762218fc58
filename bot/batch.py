"""Batch mode (``ask -``, ``cite -``, ``search -``): one input per stdin line, one output per input.

Lines are split on ``\\n`` only and decoded as UTF-8 with undecodable bytes replaced, so a line
holding U+2028, U+0085 or a stray byte is still one input and gets exactly one output, and the
outputs of a run line up with its inputs. A line may be plain text, or a JSON object with the
text under ``"question"`` (or ``"text"`` for ``cite``) and per-line options beside it; with
``--json`` every output is one JSON object, an error object for a line that cannot be answered.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO, TextIO

from retrieval.errors import InputError

# Options a JSON line may carry, and the engine keyword each becomes.
LINE_OPTIONS = ("k", "as_of", "since", "until", "source")


# Characters that some line splitters (Python's str.splitlines among them) treat as line breaks:
# escaped in JSON output, so that one output is one line for every reader.
_BREAKS = {c: f"\\u{c:04x}" for c in (0x0B, 0x0C, 0x1C, 0x1D, 0x1E, 0x85, 0x2028, 0x2029)}


def json_line(obj: Any) -> str:
    """``obj`` as one line of JSON, readable as one line whatever splits the lines."""
    return json.dumps(obj, ensure_ascii=False).translate(_BREAKS)


def read_lines(stream: BinaryIO) -> Iterator[str]:
    """Lines of a byte stream split on b"\\n" only, decoded leniently, without their ending."""
    for raw in stream:
        yield raw.removesuffix(b"\n").removesuffix(b"\r").decode("utf-8", errors="replace")


@dataclass(frozen=True, slots=True)
class Line:
    text: str
    options: dict[str, Any]


def parse_line(line: str, text_key: str) -> Line:
    """A plain line, or a JSON object ``{"question": ..., "as_of": ..., ...}``."""
    stripped = line.strip()
    if not stripped.startswith("{"):
        return Line(line, {})
    try:
        obj = json.loads(stripped)
    except ValueError:
        return Line(line, {})  # a question that happens to start with "{"
    if not isinstance(obj, dict):
        return Line(line, {})
    keys = {text_key, "question", "text"} | set(LINE_OPTIONS)
    unknown = sorted(set(obj) - keys)
    if unknown:
        raise InputError(f"unknown field {unknown[0]!r} in a JSON line; use {text_key!r} and any of "
                         + ", ".join(LINE_OPTIONS))
    text = obj.get(text_key, obj.get("question", obj.get("text")))
    if not isinstance(text, str):
        raise InputError(f'a JSON line needs a "{text_key}" string')
    return Line(text, {k: obj[k] for k in LINE_OPTIONS if obj.get(k) is not None})


def run_batch(stdin: BinaryIO, stdout: TextIO, stderr: TextIO, *, text_key: str, as_json: bool,
              work: Callable[[str, dict[str, Any]], Any], to_json: Callable[[str, Any], dict[str, Any]],
              to_text: Callable[[str, Any], str]) -> int:
    """Answer every line; 2 if any line was refused, else 0."""
    failed = False
    for raw in read_lines(stdin):
        text = raw
        try:
            line = parse_line(raw, text_key)
            text = line.text
            result = work(line.text, line.options)
        except InputError as exc:
            failed = True
            if as_json:
                print(json_line({text_key: text.strip(), "error": str(exc)}), file=stdout, flush=True)
            else:
                print(f"citebot: error: {exc}", file=stderr, flush=True)
            continue
        if as_json:
            print(json_line(to_json(text.strip(), result)), file=stdout, flush=True)
        else:
            print(to_text(text.strip(), result) + "\n", file=stdout, flush=True)
    return 2 if failed else 0
