"""Votes on answers (👍 / 👎), kept in the index's state database (``retrieval/state.py``).

Every answer a front end offers for voting is recorded first (``record``), under a random
``answer_id`` the front end carries with it (Discord puts it in the buttons' custom ids, so a
button pressed after a restart still finds its answer). What is kept:

- the answer: question, the earlier questions it followed up on, whether it answered, when;
- its quotes: article id and character span (``article.text[start:end]`` is the quote, and
  stays so across rebuilds while the article is unchanged), the text, and the ids of the index
  sentences it was made of when the caller knows them (those change with every rebuild);
- the votes: +1 or -1, one per voter per answer (a second vote replaces the first), when, and
  the voter as an HMAC-SHA256 of their id under a salt made once per install and kept in the
  same database, so votes can be told apart without storing who cast them.

``question_set`` turns liked answers into evaluation questions (``citebot eval --feedback``):
the question, its conversation, the quotes' articles as gold and the quotes' texts as answers.

One ``FeedbackStore`` may be shared by threads; writes are serialised by a lock here and by
SQLite's own locking between processes.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import sqlite3
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from .errors import IndexStateError, InputError, NotFoundError
from .models import Answer
from .state import open_state, state_path

SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback_install (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    salt BLOB NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS feedback_answers (
    answer_id TEXT PRIMARY KEY,
    question TEXT NOT NULL,
    context TEXT NOT NULL DEFAULT '[]',
    followup_of TEXT,
    answered INTEGER NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS feedback_quotes (
    answer_id TEXT NOT NULL REFERENCES feedback_answers(answer_id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    article_id TEXT NOT NULL,
    start INTEGER NOT NULL,
    end INTEGER NOT NULL,
    text TEXT NOT NULL,
    sentence_ids TEXT,
    PRIMARY KEY (answer_id, position)
);
CREATE TABLE IF NOT EXISTS feedback_votes (
    answer_id TEXT NOT NULL REFERENCES feedback_answers(answer_id) ON DELETE CASCADE,
    voter TEXT NOT NULL,
    vote INTEGER NOT NULL CHECK (vote IN (-1, 1)),
    at REAL NOT NULL,
    PRIMARY KEY (answer_id, voter)
);
CREATE INDEX IF NOT EXISTS feedback_answers_created ON feedback_answers(created);
"""

UP, DOWN = 1, -1
ANSWER_ID_BYTES = 8  # 16 hex digits: room in a Discord custom id, no collisions in practice
VoteOutcome = Literal["recorded", "changed", "unchanged"]


def open_state_db(index_dir: str | Path, schema: str) -> sqlite3.Connection:
    """``open_state`` with its failures (a read-only or missing folder, a damaged file) as one
    ``IndexStateError`` that names the file, instead of a traceback."""
    try:
        return open_state(index_dir, schema)
    except (sqlite3.Error, OSError) as exc:
        raise IndexStateError(
            f"cannot open the index's state database {state_path(index_dir)} ({exc}); it keeps "
            "votes and threads, so the index folder must be writable"
        ) from None


def new_answer_id() -> str:
    return secrets.token_hex(ANSWER_ID_BYTES)


def is_answer_id(text: str) -> bool:
    return len(text) == 2 * ANSWER_ID_BYTES and all(c in "0123456789abcdef" for c in text)


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class QuoteRef:
    """Where a voted quote is: ``article.text[start:end] == text``."""

    article_id: str
    start: int
    end: int
    text: str
    sentence_ids: tuple[int, ...] | None = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"article_id": self.article_id, "start": self.start, "end": self.end,
                             "text": self.text}
        if self.sentence_ids is not None:
            d["sentence_ids"] = list(self.sentence_ids)
        return d


@dataclass(frozen=True, slots=True)
class RecordedAnswer:
    answer_id: str
    question: str
    context: tuple[str, ...]
    followup_of: str | None
    answered: bool
    created: float
    quotes: tuple[QuoteRef, ...]


@dataclass(frozen=True, slots=True)
class Vote:
    answer_id: str
    question: str
    vote: int  # UP or DOWN
    voter: str  # HMAC of the voter's id under the install's salt
    at: float
    answered: bool
    followup_of: str | None
    quotes: tuple[QuoteRef, ...]

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "answer_id": self.answer_id, "question": self.question,
            "vote": "up" if self.vote == UP else "down", "voter": self.voter, "at": _iso(self.at),
            "answered": self.answered, "quotes": [q.to_dict() for q in self.quotes],
        }
        if self.followup_of is not None:
            d["followup_of"] = self.followup_of
        return d


@dataclass(frozen=True, slots=True)
class LikedQuestion:
    """A question users liked an answer to, as ``citebot eval --feedback`` asks it again."""

    id: str
    question: str
    context: tuple[str, ...]
    answers: tuple[str, ...]  # the liked quotes' texts
    gold: tuple[str, ...]  # the liked quotes' articles


class FeedbackStore:
    """The feedback tables of one index's state database."""

    def __init__(self, index_dir: str | Path) -> None:
        self.index_dir = Path(index_dir)
        self._conn = open_state_db(self.index_dir, SCHEMA)
        self._lock = threading.Lock()
        self._salt = self._install_salt()

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> FeedbackStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _install_salt(self) -> bytes:
        with self._lock:
            # OR IGNORE: when two processes start at once, the first salt stays for both.
            self._conn.execute("INSERT OR IGNORE INTO feedback_install (id, salt, created) VALUES (1, ?, ?)",
                               (secrets.token_bytes(32), time.time()))
            (salt,) = self._conn.execute("SELECT salt FROM feedback_install WHERE id = 1").fetchone()
        return bytes(salt)

    def voter(self, user_id: int | str) -> str:
        """The stored form of a voter id: HMAC-SHA256 under this install's salt, 32 hex digits."""
        return hmac.new(self._salt, str(user_id).encode(), hashlib.sha256).hexdigest()[:32]

    # -- writing ---------------------------------------------------------------------------
    def record(self, answer: Answer, *, context: Sequence[str] = (),
               sentence_ids: Sequence[Sequence[int] | None] | None = None,
               answer_id: str | None = None, now: float | None = None) -> str:
        """Keep an answer so votes can refer to it; returns its ``answer_id``. ``sentence_ids``
        holds, per quote, the index sentences it is made of (or None where unknown)."""
        aid = answer_id or new_answer_id()
        ids = list(sentence_ids) if sentence_ids is not None else [None] * len(answer.quotes)
        rows = [
            (aid, i, q.article_id, q.start, q.end, q.text,
             json.dumps(list(s)) if s is not None else None)
            for i, (q, s) in enumerate(zip(answer.quotes, ids, strict=True))
        ]
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.execute(
                    "INSERT INTO feedback_answers (answer_id, question, context, followup_of, answered,"
                    " created) VALUES (?, ?, ?, ?, ?, ?)",
                    (aid, answer.question, json.dumps(list(context)), answer.followup_of,
                     int(answer.answered), time.time() if now is None else now),
                )
                self._conn.executemany(
                    "INSERT INTO feedback_quotes (answer_id, position, article_id, start, end, text,"
                    " sentence_ids) VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
        return aid

    def vote(self, answer_id: str, user_id: int | str, value: int,
             now: float | None = None) -> VoteOutcome:
        """Cast or change ``user_id``'s vote (``UP`` or ``DOWN``) on an answer."""
        if value not in (UP, DOWN):
            raise InputError(f"a vote is {UP} or {DOWN}, not {value!r}")
        voter = self.voter(user_id)
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                known = self._conn.execute("SELECT 1 FROM feedback_answers WHERE answer_id = ?",
                                           (answer_id,)).fetchone()
                if known is None:
                    raise NotFoundError(f"no recorded answer {answer_id!r}; it may have been pruned")
                old = self._conn.execute("SELECT vote FROM feedback_votes WHERE answer_id = ? AND voter = ?",
                                         (answer_id, voter)).fetchone()
                if old is None or old[0] != value:
                    self._conn.execute(
                        "INSERT INTO feedback_votes (answer_id, voter, vote, at) VALUES (?, ?, ?, ?)"
                        " ON CONFLICT (answer_id, voter)"
                        " DO UPDATE SET vote = excluded.vote, at = excluded.at",
                        (answer_id, voter, value, time.time() if now is None else now))
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
        if old is None:
            return "recorded"
        return "unchanged" if old[0] == value else "changed"

    def prune(self, older_than_days: float, now: float | None = None) -> int:
        """Forget answers nobody voted on that are older than this; returns how many."""
        cutoff = (time.time() if now is None else now) - older_than_days * 86400
        with self._lock:
            cur = self._conn.execute(
                "DELETE FROM feedback_answers WHERE created < ? AND answer_id NOT IN"
                " (SELECT answer_id FROM feedback_votes)", (cutoff,))
        return cur.rowcount

    # -- reading ---------------------------------------------------------------------------
    def _quotes(self, answer_ids: Sequence[str]) -> dict[str, tuple[QuoteRef, ...]]:
        out: dict[str, list[QuoteRef]] = {a: [] for a in answer_ids}
        for chunk in (answer_ids[i:i + 500] for i in range(0, len(answer_ids), 500)):
            marks = ",".join("?" * len(chunk))
            for aid, art, start, end, text, sids in self._conn.execute(
                f"SELECT answer_id, article_id, start, end, text, sentence_ids FROM feedback_quotes"
                f" WHERE answer_id IN ({marks}) ORDER BY answer_id, position", chunk,
            ):
                out[aid].append(QuoteRef(art, start, end, text,
                                         tuple(json.loads(sids)) if sids is not None else None))
        return {a: tuple(q) for a, q in out.items()}

    def answer(self, answer_id: str) -> RecordedAnswer | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT question, context, followup_of, answered, created FROM feedback_answers"
                " WHERE answer_id = ?", (answer_id,)).fetchone()
            if row is None:
                return None
            quotes = self._quotes([answer_id])[answer_id]
        question, context, followup_of, answered, created = row
        return RecordedAnswer(answer_id, question, tuple(json.loads(context)), followup_of,
                              bool(answered), created, quotes)

    def votes(self) -> list[Vote]:
        """Every vote, oldest first."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT v.answer_id, a.question, v.vote, v.voter, v.at, a.answered, a.followup_of"
                " FROM feedback_votes v JOIN feedback_answers a USING (answer_id)"
                " ORDER BY v.at, v.answer_id, v.voter").fetchall()
            quotes = self._quotes(list(dict.fromkeys(r[0] for r in rows)))
        return [Vote(aid, q, v, who, at, bool(ans), fu, quotes[aid])
                for aid, q, v, who, at, ans, fu in rows]

    def question_set(self) -> list[LikedQuestion]:
        """Answers with more 👍 than 👎 and at least one quote, one question per distinct
        question and conversation (the gold and answers of its liked answers merged)."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT a.answer_id, a.question, a.context FROM feedback_answers a"
                " JOIN feedback_votes v USING (answer_id) GROUP BY a.answer_id"
                " HAVING SUM(v.vote) > 0 ORDER BY MIN(v.at), a.answer_id").fetchall()
            quotes = self._quotes([r[0] for r in rows])
        merged: dict[tuple[str, tuple[str, ...]], LikedQuestion] = {}
        for aid, question, context in rows:
            if not quotes[aid]:
                continue
            ctx = tuple(json.loads(context))
            key = (" ".join(question.split()).casefold(), ctx)
            seen = merged.get(key) or LikedQuestion(aid, question, ctx, (), ())
            answers = tuple(dict.fromkeys([*seen.answers, *(q.text for q in quotes[aid])]))
            gold = tuple(dict.fromkeys([*seen.gold, *(q.article_id for q in quotes[aid])]))
            merged[key] = replace(seen, answers=answers, gold=gold)
        return list(merged.values())

def has_feedback_db(index_dir: str | Path) -> bool:
    """Whether the index has a state database yet (without one, nothing was ever voted on);
    lets read-only commands avoid creating one."""
    return state_path(index_dir).exists()


__all__ = [
    "DOWN",
    "UP",
    "FeedbackStore",
    "LikedQuestion",
    "QuoteRef",
    "RecordedAnswer",
    "Vote",
    "VoteOutcome",
    "has_feedback_db",
    "is_answer_id",
    "new_answer_id",
    "open_state_db",
]
