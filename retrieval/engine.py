"""``Citebot``: the one object front ends hold. It opens an index, loads the model once, and
answers ``answer``, ``cite``, ``search``, ``sources`` and ``article`` calls from any thread."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from .answer import AbstainParams, answer_question, check_text
from .cite import CiteParams, cite_text
from .embedder import DEFAULT_MODEL, Embedder, load_embedder
from .errors import InputError, NotFoundError
from .followup import blend, plan_followup
from .index import IndexConfig, Progress, build_index, current_generation
from .models import Answer, Article, ArticleInfo, IndexReport, Match, Passage, Quote
from .quotes import QuoteParams
from .reader import IndexReader
from .retriever import FusionParams, ranked_articles, retrieve, to_passages


@dataclass(frozen=True, slots=True)
class Tuning:
    """Every knob of retrieval and quoting in one place (benchmarks vary these)."""

    fusion: FusionParams = field(default_factory=FusionParams)
    quotes: QuoteParams = field(default_factory=QuoteParams)
    abstain: AbstainParams = field(default_factory=AbstainParams)
    cite: CiteParams = field(default_factory=CiteParams)


class Citebot:
    """Questions in, cited verbatim quotes out.

    ``embedder`` may be passed in (tests share one); otherwise it is loaded on first use.
    """

    def __init__(
        self,
        index_dir: str | Path,
        *,
        model: str = DEFAULT_MODEL,
        passage_tokens: int = 128,
        passage_overlap: int = 1,
        top_k: int = 5,
        encoder: str = "auto",
        cache_dir: str | Path | None = None,
        embedder: Embedder | None = None,
        tuning: Tuning | None = None,
    ) -> None:
        self.index_dir = Path(index_dir)
        self.config = IndexConfig(model, passage_tokens, passage_overlap)
        self.top_k = top_k
        self.tuning = tuning or Tuning()
        self.encoder = encoder
        self.cache_dir = Path(cache_dir) if cache_dir else None
        # One embedder passed in serves both questions and builds (tests share one).
        self._embedder = embedder
        self._index_embedder = embedder
        self._reader: IndexReader | None = None
        self._lock = threading.Lock()

    # -- lifecycle ---------------------------------------------------------------------
    @property
    def embedder(self) -> Embedder:
        """Encodes questions (loaded on first use)."""
        if self._embedder is None:
            with self._lock:
                if self._embedder is None:
                    self._embedder = load_embedder(
                        self.config.model, encoder=self.encoder, cache_dir=self.cache_dir
                    )
        return self._embedder

    @property
    def index_embedder(self) -> Embedder:
        """Encodes passages and sentences for a build (may be quantised; loaded on first build)."""
        if self._index_embedder is None:
            with self._lock:
                if self._index_embedder is None:
                    self._index_embedder = load_embedder(
                        self.config.model, encoder=self.encoder, cache_dir=self.cache_dir,
                        purpose="index",
                    )
        return self._index_embedder

    @property
    def reader(self) -> IndexReader:
        if self._reader is None:
            with self._lock:
                if self._reader is None:
                    reader = IndexReader(self.index_dir)
                    reader.check(self.config, self._model_id())
                    self._reader = reader
        return self._reader

    def _model_id(self) -> str:
        from .embedder import _model_id

        return self._embedder.model_id if self._embedder is not None else _model_id(self.config.model)

    def has_index(self) -> bool:
        return current_generation(self.index_dir) is not None

    def index(
        self, paths: Sequence[str | Path], *, rebuild: bool = False, progress: Progress | None = None
    ) -> IndexReport:
        report = build_index(paths, self.index_dir, self.config, self.index_embedder,
                             rebuild=rebuild, progress=progress)
        if self._reader is not None:
            self._reader.refresh()
        return report

    def open(self) -> None:
        """Load the model and open the index now rather than on the first question."""
        _ = self.reader
        self.embedder.encode(["warm up"])

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    # -- queries -----------------------------------------------------------------------
    def _encode(self, text: str) -> np.ndarray:
        return self.embedder.encode([text])[0]

    def answer(self, question: str, *, k: int | None = None, context: Sequence[str] = ()) -> Answer:
        """``context``: the conversation's earlier questions, oldest first (a follow-up)."""
        if context:
            return self.answer_followup(question, context, k=k)[0]
        return self.answer_ranked(question, k=k)[0]

    def answer_ranked(
        self, question: str, *, k: int | None = None, depth: int = 10
    ) -> tuple[Answer, list[str]]:
        """The answer plus the ids of the first ``depth`` distinct articles retrieved, best first."""
        q = check_text(question)
        t = self.tuning
        ans, cands = answer_question(self.reader, q, self._encode(q), k=self._k(k),
                                     fusion=t.fusion, quotes=t.quotes, abstain=t.abstain)
        return ans, ranked_articles(self.reader, cands, depth)

    # -- follow-ups (retrieval/followup.py): the conversation changes only the text and the
    # vector handed to answer_question, never retrieval itself.
    def answer_followup(
        self, question: str, context: Sequence[str], *, k: int | None = None, depth: int = 10
    ) -> tuple[Answer, list[str]]:
        """``answer_ranked`` for a question asked after ``context`` (earlier questions, oldest
        first); the answer's ``followup_of`` names the earlier question it built on, if any."""
        q = check_text(question)
        plan = plan_followup(q, context)
        if plan.builds_on is None:
            return self.answer_ranked(q, k=k, depth=depth)
        qvec, cvec = self.embedder.encode([q, plan.context_text])
        t = self.tuning
        ans, cands = answer_question(self.reader, plan.keyword_text, blend(qvec, cvec, plan.vector_weight),
                                     k=self._k(k), fusion=t.fusion, quotes=t.quotes,
                                     abstain=plan.abstain(t.abstain))
        ans = replace(ans, question=q, followup_of=plan.builds_on)
        return ans, ranked_articles(self.reader, cands, depth)

    def answer_many(self, questions: Sequence[str], *, k: int | None = None) -> list[Answer]:
        """Answer a batch, encoding the questions together (batch mode, evaluations)."""
        qs = [check_text(q) for q in questions]
        vecs = self.embedder.encode(qs, batch_size=64)
        t = self.tuning
        kk = self._k(k)
        return [
            answer_question(self.reader, q, v, k=kk, fusion=t.fusion, quotes=t.quotes, abstain=t.abstain)[0]
            for q, v in zip(qs, vecs, strict=True)
        ]

    def sentence_ids(self, quote: Quote) -> tuple[int, ...]:
        """Ids of the index sentences a quote is made of (feedback keeps them beside the span;
        unlike the span they change when the index is rebuilt)."""
        rows = self.reader.store.article_sentences(quote.article_id)
        return tuple(s.id for s in rows if quote.start <= s.start and s.end <= quote.end)

    def cite(self, text: str) -> tuple[Match, ...]:
        claim = check_text(text, "text to cite")
        return cite_text(self.reader, claim, self._encode(claim),
                         fusion=self.tuning.fusion, params=self.tuning.cite)

    def search(self, question: str, *, k: int | None = None) -> list[Passage]:
        q = check_text(question)
        kk = self._k(k)
        cands = retrieve(self.reader, q, self._encode(q), kk, self.tuning.fusion)
        return to_passages(self.reader, cands, kk)

    def sources(self) -> list[ArticleInfo]:
        return self.reader.store.list_articles()

    def article(self, id_or_url: str) -> Article:
        store = self.reader.store
        art = store.article(id_or_url) or store.article_by_url(id_or_url)
        if art is None:
            raise NotFoundError(
                f"no indexed article has the id or url {id_or_url!r}; `citebot sources` lists them"
            )
        return Article(id=art.id, title=art.title, text=art.text, url=art.url,
                       published=art.published, source=art.source, author=art.author,
                       content_hash=art.content_hash)

    def _k(self, k: int | None) -> int:
        kk = self.top_k if k is None else k
        if kk < 1:
            raise InputError(f"k of {kk} is too small; ask for at least 1")
        total = self.reader.manifest.passages
        if kk > max(total, 1):
            raise InputError(
                f"k of {kk} is larger than the number of passages, {total}; ask for fewer"
            )
        return kk
