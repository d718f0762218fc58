"""How much one input may cost: the limits that keep a single hostile file from stalling a build.

Every limit has its default here and only here; the loaders take a ``LoadLimits`` and the
sentence splitter takes ``max_paragraph_chars``, so a settings layer can expose them.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import InputError

# Text longer than any news article (the longest of the 24,480 in the shared news archive is
# 100,000 characters) but small enough to split and embed in a few minutes.
MAX_TEXT_CHARS = 2_000_000
# pysbd's rules take time that grows faster than the paragraph (16 KB: 17 us a character,
# 32 KB: 40 us); windows of 2,000 characters were the fastest on both news prose and text with
# no sentence end (6 and 8 us a character, against 12 and 14 at 4,000). No paragraph of the
# Reuters or realtimeqa corpora is longer; 3 of XQuAD's 240, 14 of BBC News' 10,585 (windowed,
# their sentences are the same but for one BBC paragraph) and 366 of the news archive's
# 1,046,777 are.
MAX_PARAGRAPH_CHARS = 2_000


@dataclass(frozen=True, slots=True)
class LoadLimits:
    """Bounds on what one article file (or JSON Lines record) may cost to load."""

    # An article's text beyond this is cut at the last paragraph (else sentence, else word)
    # end before it, with a one-line note; the article is still indexed.
    max_text_chars: int = MAX_TEXT_CHARS
    # A whole-file format (text, Markdown, JSON) larger than this is skipped: it is read into
    # memory at once. JSON Lines files are read a line at a time and have no limit.
    max_file_bytes: int = 64 * 1024 * 1024
    # HTML larger than this is skipped: trafilatura takes about 4 s a megabyte (5.3 MB: 21 s),
    # and news pages are well under it (their weight is in images and scripts loaded apart).
    max_html_bytes: int = 5 * 1024 * 1024
    # One JSON Lines record (line) larger than this is skipped, without reading it whole.
    max_record_bytes: int = 32 * 1024 * 1024
    # JSON nested deeper than this is skipped before parsing (a nested "bomb" would otherwise
    # exhaust the parser's recursion); article records need three levels.
    max_json_depth: int = 64
    # YAML front matter: at most this many bytes, holding at most this many values once its
    # aliases (``*name``) are expanded: nine aliases of nine, seven levels deep, turn 278 bytes
    # into 48 million values (an "alias bomb").
    max_front_matter_bytes: int = 64 * 1024
    max_yaml_nodes: int = 10_000
    # Paragraphs longer than this reach the sentence splitter in windows of this size.
    max_paragraph_chars: int = MAX_PARAGRAPH_CHARS

    def __post_init__(self) -> None:
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise InputError(f"LoadLimits.{name} must be a whole number >= 1, got {value!r}")


DEFAULT_LIMITS = LoadLimits()
