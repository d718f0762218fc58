"""The values citebot hands out: frozen dataclasses, safe to share between threads.

Every span is a pair of character offsets into ``Article.text`` (the cleaned body), so
``article.text[start:end]`` is always exactly the quoted text.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True, slots=True)
class Article:
    """One loaded article: metadata plus the cleaned body text (paragraphs split by a blank line)."""

    id: str
    title: str
    text: str
    url: str | None = None
    published: str | None = None  # ISO date, YYYY-MM-DD where known
    source: str | None = None
    author: str | None = None
    path: str | None = None  # where it was loaded from, for messages
    content_hash: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Span:
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Chunk:
    """A passage before it is stored: consecutive whole sentences of one article."""

    start: int
    end: int
    sentences: tuple[Span, ...]


@dataclass(frozen=True, slots=True)
class Passage:
    """A retrieved passage with its citation."""

    passage_id: int
    article_id: str
    title: str
    url: str | None
    published: str | None
    start: int
    end: int
    text: str
    score: float
    rank: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Source:
    n: int
    article_id: str
    title: str
    url: str | None
    published: str | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Quote:
    """Verbatim sentence(s) of one article; ``n`` is the number of its ``Source``."""

    n: int
    text: str
    article_id: str
    title: str
    url: str | None
    published: str | None
    start: int
    end: int
    score: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Answer:
    question: str
    answered: bool
    quotes: tuple[Quote, ...] = ()
    sources: tuple[Source, ...] = ()
    # The closest articles when the answer abstains, so front ends can point somewhere.
    closest: tuple[Source, ...] = field(default=(), compare=False)
    # Answered, but the best sentence is only loosely related: the quotes are the closest the
    # articles come and may not answer the question. Front ends say so.
    weak: bool = False
    # The period the answer looked at, when the question or the caller named one
    # ("Articles from 14-20 Nov 2021"); front ends show it.
    period: str | None = None
    # A follow-up answered with its conversation as context: the earlier question it built on
    # (retrieval/followup.py). In ``to_dict`` only when set, so other answers' JSON is unchanged.
    followup_of: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "question": self.question,
            "answered": self.answered,
            "weak": self.weak,
            "period": self.period,
            "quotes": [q.to_dict() for q in self.quotes],
            "sources": [s.to_dict() for s in self.sources],
        }
        if self.followup_of is not None:
            d["followup_of"] = self.followup_of
        return d


@dataclass(frozen=True, slots=True)
class Match:
    """An article sentence (or two) that says what a cited text says."""

    text: str
    article_id: str
    title: str
    url: str | None
    published: str | None
    start: int
    end: int
    score: float
    verbatim: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class ArticleInfo:
    """An indexed article as listed by ``sources``."""

    id: str
    title: str
    url: str | None
    published: str | None
    source: str | None
    passages: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class SkippedFile:
    path: str
    reason: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line is not None else self.path
        return f"skipped {where}: {self.reason}"


@dataclass(frozen=True, slots=True)
class IndexReport:
    """What one build or update did."""

    added: int
    updated: int
    removed: int
    unchanged: int
    skipped: int
    passages: int
    seconds: float
    skipped_files: tuple[SkippedFile, ...] = ()
    ignored: int = 0  # files of a type citebot does not read
    ignored_examples: tuple[str, ...] = ()
    kept: int = 0  # articles kept because their file or folder could not be read this time
    segments: int = 0
    merges: int = 0

    def summary(self) -> str:
        text = (
            f"added {self.added}, updated {self.updated}, removed {self.removed}, "
            f"unchanged {self.unchanged}, skipped {self.skipped}, "
            f"passages {self.passages}, {self.seconds:.1f}s"
        )
        if self.kept:
            text += f"; kept {self.kept} whose files could not be read"
        if self.ignored:
            eg = ", ".join(Path(p).name for p in self.ignored_examples)
            files = "file" if self.ignored == 1 else "files"
            text += f"; ignored {self.ignored} {files} of unknown type, e.g. {eg}"
        return text

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["skipped_files"] = [str(s) for s in self.skipped_files]
        d["ignored_examples"] = list(self.ignored_examples)
        return d
