"""Deprecated location of the word helpers, kept while callers move to ``retrieval.terms``."""

from .terms import STOPWORDS, content_words, fts_query, words

__all__ = ["STOPWORDS", "content_words", "fts_query", "words"]
