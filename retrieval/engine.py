"""``Citebot``: the one object front ends hold. It opens an index, loads the model once, and
answers ``answer``, ``cite``, ``search``, ``sources`` and ``article`` calls from any thread."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from .answer import MAX_QUESTION_CHARS, AbstainParams, answer_question, check_text
from .cite import CiteParams, cite_text
from .commit import Manifest
from .embedder import DEFAULT_MODEL, Embedder, load_embedder
from .envfaults import environment_faults
from .errors import IndexEmptyError, InputError, NotFoundError
from .followup import blend, plan_followup
from .index import IndexConfig, build_index, has_index
from .limits import LoadLimits
from .models import Answer, Article, ArticleInfo, IndexReport, Match, Passage, Quote
from .prepare import Preparer
from .quotes import QuoteParams
from .reader import IndexReader
from .retriever import FusionParams, ranked_articles, retrieve, to_passages
from .scope import DateLike, Scope, describe_empty, relative_bound, scope_for
from .view import View
from .writer import IndexWriter, ProgressFn, check_manifest


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
        limits: LoadLimits | None = None,
    ) -> None:
        self.index_dir = Path(index_dir)
        self.config = IndexConfig(model, passage_tokens, passage_overlap)
        self.top_k = top_k
        self.tuning = tuning or Tuning()
        self.limits = limits  # what one article file may cost to load (limits.py)
        self.encoder = encoder
        self.cache_dir = Path(cache_dir) if cache_dir else None
        # One embedder passed in serves both questions and builds (tests share one).
        self._embedder = embedder
        self._index_embedder = embedder
        self._reader: IndexReader | None = None
        self._checked: Manifest | None = None
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
                    from .upgrade import upgrade_with_lock

                    with environment_faults(f"open the index in {self.index_dir}", self.index_dir):
                        upgrade_with_lock(self.index_dir)
                        self._reader = IndexReader(self.index_dir)
        return self._reader

    def view(self) -> View:
        """The newest committed state of the index: one question answers from one view."""
        with environment_faults(f"read the index in {self.index_dir}", self.index_dir):
            view = self.reader.current()
        if view.commit.manifest != self._checked:
            check_manifest(view.manifest, self.config, self._model_id(), self.index_dir)
            self._checked = view.commit.manifest
        return view

    def _model_id(self) -> str:
        from .embedder import _model_id

        return self._embedder.model_id if self._embedder is not None else _model_id(self.config.model)

    def has_index(self) -> bool:
        return has_index(self.index_dir)

    def index(
        self, paths: Sequence[str | Path], *, rebuild: bool = False, progress: ProgressFn | None = None,
        wait: bool = True, notice: Callable[[str], None] | None = None, repair: bool = False,
        preparer: Preparer | None = None,
    ) -> IndexReport:
        """``preparer``: who splits and embeds (default: this process; rayprep.RayPreparer: a cluster)."""
        return build_index(paths, self.index_dir, self.config, self.index_embedder,
                           rebuild=rebuild, progress=progress, wait=wait, notice=notice, repair=repair,
                           limits=self.limits, preparer=preparer)

    def writer(self, **kwargs: Any) -> IndexWriter:
        """The index's writer (holds the write lock until closed; use ``with``)."""
        with environment_faults(f"update the index in {self.index_dir}", self.index_dir):
            return IndexWriter(self.index_dir, self.config, self.index_embedder, **kwargs)

    def _writing(self) -> Any:
        return environment_faults(f"update the index in {self.index_dir}", self.index_dir)

    def add_articles(self, articles: Iterable[Article], *, wait: bool = True) -> IndexReport:
        """Index these articles (replacing older versions of the same ids) in one commit;
        nothing else is removed."""
        t0 = time.perf_counter()
        with self._writing(), self.writer(wait=wait) as w:
            for art in articles:
                w.upsert(art)
            w.commit()
            merges = w.maybe_merge()
            st, commit = w.stats, w.commit_point
        return IndexReport(added=st.added, updated=st.updated, removed=0, unchanged=st.unchanged,
                           skipped=0, passages=commit.passages, seconds=time.perf_counter() - t0,
                           segments=len(commit.segments), merges=merges)

    def remove_articles(self, ids: Iterable[str], *, wait: bool = True) -> int:
        with self._writing(), self.writer(wait=wait) as w:
            n = sum(w.delete(aid) for aid in ids)
            w.commit()
            w.maybe_merge()
        return n

    def compact(self, *, wait: bool = True, progress: ProgressFn | None = None) -> IndexReport:
        """Merge every segment into one, dropping deleted rows and refreshing hubness."""
        t0 = time.perf_counter()
        with self._writing(), self.writer(wait=wait, progress=progress) as w:
            commit = w.compact()
        return IndexReport(added=0, updated=0, removed=0, unchanged=commit.articles, skipped=0,
                           passages=commit.passages, seconds=time.perf_counter() - t0,
                           segments=len(commit.segments), merges=1)

    def open(self) -> None:
        """Load the model and open the index now rather than on the first question."""
        self.view()
        self.embedder.encode(["warm up"])

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    # -- queries -----------------------------------------------------------------------
    def _encode(self, text: str) -> np.ndarray:
        return self.embedder.encode([text])[0]

    def scope(self, text: str, *, as_of: DateLike = None, since: DateLike = None,
              until: DateLike = None, source: str | Sequence[str] | None = None,
              read_time: bool = True, view: View | None = None) -> Scope:
        """What a query may answer from (see scope.py); explicit limits that leave no article
        raise a one-line ``InputError``."""
        sources = (source,) if isinstance(source, str) else tuple(source or ())
        scope = scope_for(text, as_of=as_of, since=since, until=until, source=sources,
                          read_time=read_time)
        if view is None:
            return scope
        if (scope.explicit is not None or scope.filter.sources) and view.count_articles(scope.filter) == 0:
            raise InputError(describe_empty(scope))
        period = relative_bound(scope)
        if period is not None and view.count_articles(replace(scope.filter, keep_undated=False)) == 0:
            relaxed = scope_for(text, as_of=as_of, since=since, until=until, source=sources,
                                read_time=read_time, question_bound=False)
            return replace(relaxed, dropped=period)
        return scope

    def answer(self, question: str, *, k: int | None = None, as_of: DateLike = None,
               since: DateLike = None, until: DateLike = None,
               source: str | Sequence[str] | None = None, context: Sequence[str] = ()) -> Answer:
        """The cited answer to ``question`` as asked on ``as_of`` (default today), from articles
        published up to then (and within ``since``/``until``, from ``source``, when given).
        ``context``: the conversation's earlier questions, oldest first (a follow-up)."""
        if context:
            return self.answer_followup(question, context, k=k, as_of=as_of, since=since,
                                        until=until, source=source)[0]
        return self.answer_ranked(question, k=k, as_of=as_of, since=since, until=until,
                                  source=source)[0]

    def answer_ranked(
        self, question: str, *, k: int | None = None, depth: int = 10, as_of: DateLike = None,
        since: DateLike = None, until: DateLike = None, source: str | Sequence[str] | None = None,
    ) -> tuple[Answer, list[str]]:
        """The answer plus the ids of the first ``depth`` distinct articles retrieved, best first."""
        q = check_text(question)
        view = self.view()
        scope = self.scope(q, as_of=as_of, since=since, until=until, source=source, view=view)
        t = self.tuning
        ans, cands = answer_question(view, q, self._encode(q), k=self._k(view, k),
                                     fusion=t.fusion, quotes=t.quotes, abstain=t.abstain, scope=scope)
        return ans, ranked_articles(view, cands, depth)

    # -- follow-ups (retrieval/followup.py): the conversation changes only the text and the
    # vector handed to answer_question, never retrieval itself.
    def answer_followup(
        self, question: str, context: Sequence[str], *, k: int | None = None, depth: int = 10,
        as_of: DateLike = None, since: DateLike = None, until: DateLike = None,
        source: str | Sequence[str] | None = None,
    ) -> tuple[Answer, list[str]]:
        """``answer_ranked`` for a question asked after ``context`` (earlier questions, oldest
        first); the answer's ``followup_of`` names the earlier question it built on, if any."""
        plan = plan_followup(question, context)
        if plan.builds_on is None or not plan.question or len(plan.question) > MAX_QUESTION_CHARS:
            # Answered alone, or refused with the usual message.
            return self.answer_ranked(question, k=k, depth=depth, as_of=as_of, since=since,
                                      until=until, source=source)
        # Checked with the earlier words, which give "What did he say?" something to look for;
        # the slice is the question itself, cleaned the same way (cleaning keeps lengths).
        q = check_text(plan.keyword_text)[: len(plan.question)]
        qvec, cvec = self.embedder.encode([q, plan.context_text])
        view = self.view()
        # Time phrases come from the follow-up alone; the earlier words join its keyword text.
        scope = self.scope(q, as_of=as_of, since=since, until=until, source=source, view=view)
        scope = replace(scope, keyword_text=" ".join([scope.keyword_text, *plan.terms]))
        t = self.tuning
        ans, cands = answer_question(view, q, blend(qvec, cvec, plan.vector_weight),
                                     k=self._k(view, k), fusion=t.fusion, quotes=t.quotes,
                                     abstain=plan.abstain(t.abstain), scope=scope)
        ans = replace(ans, followup_of=plan.builds_on)
        return ans, ranked_articles(view, cands, depth)

    def answer_many(self, questions: Sequence[str], *, k: int | None = None,
                    as_of: DateLike = None) -> list[Answer]:
        """Answer a batch, encoding the questions together (batch mode, evaluations)."""
        qs = [check_text(q) for q in questions]
        vecs = self.embedder.encode(qs, batch_size=64)
        view = self.view()
        t = self.tuning
        kk = self._k(view, k)
        return [
            answer_question(view, q, v, k=kk, fusion=t.fusion, quotes=t.quotes, abstain=t.abstain,
                            scope=self.scope(q, as_of=as_of, view=view))[0]
            for q, v in zip(qs, vecs, strict=True)
        ]

    def sentence_ids(self, quote: Quote) -> tuple[int, ...]:
        """Ids of the index sentences a quote is made of (feedback keeps them beside the span;
        unlike the span they change when the index is rebuilt)."""
        rows = self.view().article_sentences(quote.article_id)
        return tuple(s.id for s in rows if quote.start <= s.start and s.end <= quote.end)

    def cite(self, text: str, *, as_of: DateLike = None, since: DateLike = None,
             until: DateLike = None, source: str | Sequence[str] | None = None) -> tuple[Match, ...]:
        """Which articles (published up to ``as_of``) say ``text``, and whether verbatim."""
        claim = check_text(text, "text to cite")
        view = self.view()
        scope = self.scope(claim, as_of=as_of, since=since, until=until, source=source,
                           read_time=False, view=view)
        return cite_text(view, claim, self._encode(claim), fusion=self.tuning.fusion,
                         params=self.tuning.cite, scope=scope)

    def search(self, question: str, *, k: int | None = None, as_of: DateLike = None,
               since: DateLike = None, until: DateLike = None,
               source: str | Sequence[str] | None = None) -> list[Passage]:
        q = check_text(question)
        view = self.view()
        scope = self.scope(q, as_of=as_of, since=since, until=until, source=source, view=view)
        kk = self._k(view, k)
        cands = retrieve(view, scope.keyword_text, self._encode(q), kk, self.tuning.fusion, scope=scope)
        return to_passages(view, cands, kk)

    def sources(self, *, as_of: DateLike = None, since: DateLike = None, until: DateLike = None,
                source: str | Sequence[str] | None = None) -> list[ArticleInfo]:
        """The indexed articles, newest first; with any argument, those the same limits allow
        (``as_of`` alone keeps undated ones, as queries do)."""
        view = self.view()
        if as_of is None and since is None and until is None and not source:
            return view.list_articles()
        scope = self.scope("", as_of=as_of, since=since, until=until, source=source,
                           read_time=False, view=view)
        return view.list_articles(scope.filter)

    def article(self, id_or_url: str) -> Article:
        view = self.view()
        art = view.article(id_or_url) or view.article_by_url(id_or_url)
        if art is None:
            raise NotFoundError(
                f"no indexed article has the id or url {id_or_url!r}; `citebot sources` lists them"
            )
        return Article(id=art.id, title=art.title, text=art.text, url=art.url,
                       published=art.published, source=art.source, author=art.author,
                       content_hash=art.content_hash)

    def _k(self, view: View, k: int | None) -> int:
        kk = self.top_k if k is None else k
        if kk < 1:
            raise InputError(f"k of {kk} is too small; ask for at least 1")
        if view.passages_count == 0:
            raise IndexEmptyError(
                f"the index in {self.index_dir} holds no articles; add some with "
                f"`citebot index PATH --index {self.index_dir}`"
            )
        # More than there are is not an error: every passage there is, is the answer to it.
        return min(kk, view.passages_count)
