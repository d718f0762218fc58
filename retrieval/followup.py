"""Follow-up questions: the rule that lets "what else did he say?", asked after a question
about Peskov, find Peskov.

A follow-up in a conversation (a Discord thread) often leaves out its subject, and then its
own words retrieve nothing useful. ``plan_followup`` decides, from the new question and the
conversation's earlier questions alone (no model, no index), whether and how the earlier ones
join the query:

1. **Whether.** The new question leans on the earlier ones when it points back (a pronoun
   with no name before it in the question, "else", "also", "this", "what about ..."), or when it
   names nothing and has at most ``SHORT_QUESTION_WORDS`` content words ("How long is the
   deal?"). A question that names its own subject, or is long enough to stand alone, is
   answered alone: an unrelated question in the same thread must not drag the old topic along.
2. **Which.** The anchor is the most recent earlier question that stands on its own (the
   one that named the subject); the questions after it are part of the same chain. If none
   stands alone, the first question of the conversation is the anchor.
3. **Keyword query.** The chain's names (capitalised words), then its topic terms (other
   content words), that the new question lacks are appended to the text handed to retrieval,
   at most ``MAX_CONTEXT_TERMS``. The keyword side is an OR query over distinct words, so each
   joins with the same bm25 weight as the question's own words; quote scoring counts them as
   question words too, so a sentence about the earlier subject is preferred.
4. **Vector query.** ``blend(q, c, CONTEXT_VECTOR_WEIGHT)``: the question's vector plus
   ``CONTEXT_VECTOR_WEIGHT`` times the chain's vector, renormalised.
5. **Abstention.** The thresholds are ``FOLLOWUP_ABSTAIN_SCALE`` times a lone question's
   (``FollowUp.abstain``).

The weights were measured on ``benchmarks/followup_pairs.jsonl`` (``benchmarks/followup.py``;
figures in ``benchmarks/RESULTS.md``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from .answer import AbstainParams
from .quotes import stem
from .terms import STOPWORDS, content_words

# The chain's vector joins the question's at this weight (0 = keywords only).
CONTEXT_VECTOR_WEIGHT = 0.5
# At most this many earlier words join the keyword query: names first, then topic terms.
MAX_CONTEXT_TERMS = 10
# A question that names nothing and has at most this many content words leans on the context.
SHORT_QUESTION_WORDS = 3
# A follow-up's abstention thresholds are this share of a lone question's (see ``abstain``).
FOLLOWUP_ABSTAIN_SCALE = 1.0

# Pronouns that point back unless a name comes before them in the same question
# ("What did Macron tell Putin in their phone call?" is about Macron and Putin).
_PRONOUNS = frozenset("he she him her his hers they them their theirs it its".split())
# Words that point back to the conversation whatever else the question says.
_BACK = frozenset("this these those else also too again another other same further former latter".split())
_BACK_PHRASE = re.compile(r"^\W*(?:and\s+|so\s+)?(?:what|how)\s+about\b", re.I)
_THAT_AT_END = re.compile(r"\bthat\W*$", re.I)
# Words that carry no topic: question and conversation fillers beyond the stop words.
_FILLER = frozenset(
    """else also more other another happened happen mean means think know like new latest really
    exactly anything something thing things way ok okay thanks please still just much many long
    far often""".split()
)
# Capitalised words that open a question without naming anything.
_OPENERS = frozenset(
    """what who whom whose which when where why how is are was were do does did can could will
    would should shall may might has have had tell explain describe give show list find
    summarise summarize and so but ok okay please""".split()
)
_TOKEN = re.compile(r"[^\W_][\w'’-]*", re.UNICODE)
_POSSESSIVE = re.compile(r"['’]s?$")
_QUESTION_START = re.compile(
    r"^\W*(?:(?:ok(?:ay)?|so|and|but|then|hmm+|also)\W+)*(?:what|who|whom|whose|which|when|where|why|how|"
    r"is|are|was|were|do|does|did|can|could|will|would|should|has|have|had)\b",
    re.I,
)


@dataclass(frozen=True, slots=True)
class FollowUp:
    """How a question's query is built from its conversation. ``builds_on`` is None when the
    question is answered alone (then ``terms`` is empty and ``vector_weight`` 0)."""

    question: str
    builds_on: str | None = None  # the earlier question that named the subject (the anchor)
    context_text: str = ""  # the chain from the anchor on, whose vector is blended in
    terms: tuple[str, ...] = ()  # earlier words added to the keyword query
    vector_weight: float = 0.0
    abstain_scale: float = 1.0

    @property
    def keyword_text(self) -> str:
        """The text handed to retrieval: the question, then the added earlier words."""
        return " ".join([self.question, *self.terms]) if self.terms else self.question

    def abstain(self, params: AbstainParams) -> AbstainParams:
        """The abstention thresholds for this query. A blended vector spreads its similarity over
        the question and its context, so a sentence that answers the follow-up sits lower than
        it would under a lone question ("Which news agency quoted him?": 0.14 alone, 0.34
        blended, for the sentence naming TASS); and the conversation has already shown that
        its subject is indexed. Measured in benchmarks/followup.py on answerable and
        unanswerable follow-ups."""
        if self.abstain_scale == 1.0:
            return params
        return replace(params, min_sentence_cos=params.min_sentence_cos * self.abstain_scale,
                       min_passage_cos=params.min_passage_cos * self.abstain_scale)


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(text)


def names(text: str) -> list[str]:
    """Capitalised words that name something, lower-cased, possessives dropped, in order."""
    out: list[str] = []
    for i, tok in enumerate(_tokens(text)):
        if not tok[0].isupper():
            continue
        word = _POSSESSIVE.sub("", tok).lower()
        if not word or word in STOPWORDS or (i == 0 and word in _OPENERS):
            continue
        out.append(word)
    return list(dict.fromkeys(out))


def _topic_words(text: str) -> list[str]:
    return [w for w in dict.fromkeys(content_words(text)) if w not in _FILLER]


def points_back(question: str) -> bool:
    """Whether the question refers to something said before it (see the module docstring)."""
    if _BACK_PHRASE.search(question) or _THAT_AT_END.search(question):
        return True
    seen_name = False
    for i, tok in enumerate(_tokens(question)):
        low = _POSSESSIVE.sub("", tok).lower()
        if tok[0].isupper() and low not in STOPWORDS and not (i == 0 and low in _OPENERS):
            seen_name = True
        elif low in _BACK or (low in _PRONOUNS and not seen_name):
            return True
    return False


def stands_alone(question: str) -> bool:
    """Whether the question can be answered without its conversation."""
    if points_back(question):
        return False
    return bool(names(question)) or len(_topic_words(question)) > SHORT_QUESTION_WORDS


def plan_followup(
    question: str, earlier: Sequence[str], *, vector_weight: float = CONTEXT_VECTOR_WEIGHT,
    max_terms: int = MAX_CONTEXT_TERMS, topic_terms: bool = True, joint: bool = False,
    abstain_scale: float = FOLLOWUP_ABSTAIN_SCALE, always: bool = False,
) -> FollowUp:
    """How to query for ``question`` given the conversation's ``earlier`` questions, oldest first.

    The keyword arguments are for measuring the rule (``benchmarks/followup.py``):
    ``topic_terms=False`` adds only names, ``always`` applies the context even to a question
    that stands alone."""
    question = question.strip()
    earlier = [q.strip() for q in earlier if q and q.strip()]
    if not earlier or (stands_alone(question) and not always):
        return FollowUp(question)
    start = next((i for i in range(len(earlier) - 1, -1, -1) if stands_alone(earlier[i])), 0)
    chain = earlier[start:]
    have = {stem(w) for w in content_words(question)} | set(names(question))
    terms: list[str] = []
    recent_first = chain[::-1]
    words = [w for q in recent_first for w in names(q)]
    if topic_terms:
        words += [w for q in recent_first for w in _topic_words(q)]
    for word in words:
        if word not in terms and stem(word) not in have and word not in have:
            terms.append(word)
    return FollowUp(
        question, builds_on=chain[0], context_text=" ".join([*chain, question] if joint else chain),
        terms=tuple(terms[:max_terms]), vector_weight=vector_weight, abstain_scale=abstain_scale,
    )


def blend(qvec: np.ndarray, context_vec: np.ndarray, weight: float) -> np.ndarray:
    """``qvec + weight * context_vec``, L2-normalised (both inputs are unit vectors)."""
    mixed = np.asarray(qvec, dtype=np.float32) + np.float32(weight) * np.asarray(context_vec, np.float32)
    norm = float(np.linalg.norm(mixed))
    return mixed / norm if norm > 0 else np.asarray(qvec, dtype=np.float32)


def is_question(text: str) -> bool:
    """Whether a message reads as a question (a reply saying "thanks!" is not one)."""
    text = text.strip()
    return "?" in text or bool(_QUESTION_START.match(text))


__all__ = [
    "CONTEXT_VECTOR_WEIGHT",
    "FOLLOWUP_ABSTAIN_SCALE",
    "MAX_CONTEXT_TERMS",
    "SHORT_QUESTION_WORDS",
    "FollowUp",
    "blend",
    "is_question",
    "names",
    "plan_followup",
    "points_back",
    "stands_alone",
]
