"""The Discord renderer as pure functions: every limit, intact links, mentions off."""

from __future__ import annotations

import random
import re

import discord
import pytest

from bot import render_discord as render
from bot.render_discord import (
    answer_embed,
    cite_embed,
    clip,
    embed_length,
    embed_problems,
    error_message,
    escape_md,
    sources_pages,
)
from retrieval.errors import InputError
from retrieval.models import Answer, ArticleInfo, Match, Quote, Source

URL = "https://www.themoscowtimes.com/2021/11/16/ukraine-border-service-says-no-sign-of-russian-troops-a75572"
# A complete masked link: escaped text in brackets, then a URL without spaces or parentheses.
LINK = re.compile(r"\[((?:\\.|[^\\\[\]])*)\]\((https?://[^\s()<>]+)\)")


def sentences(n: int, words: int = 12, seed: int = 0) -> str:
    rng = random.Random(seed)
    vocab = ["troops", "border", "Kremlin", "NATO", "said", "Monday", "officials", "(really)",
             "[sic]", "*bold*", "_under_", "@everyone", "<@123>", "`code`", "a|b", "~strike~"]
    return " ".join(" ".join(rng.choice(vocab) for _ in range(words)).capitalize() + "."
                    for _ in range(n))


def quote(n: int, text: str, title: str = "Title", url: str | None = URL) -> Quote:
    return Quote(n=n, text=text, article_id=f"a{n}", title=title, url=url, published="2021-11-16",
                 start=0, end=len(text), score=0.9)


def source(n: int, title: str = "Title", url: str | None = URL) -> Source:
    return Source(n=n, article_id=f"a{n}", title=title, url=url, published="2021-11-16")


def answer(quotes: list[Quote], sources: list[Source], question: str = "What happened?") -> Answer:
    return Answer(question=question, answered=True, quotes=tuple(quotes), sources=tuple(sources))


def all_text(embed: discord.Embed) -> str:
    d = embed.to_dict()
    parts = [d.get("title", ""), d.get("description", "")]
    parts += [f"{f['name']}\n{f['value']}" for f in d.get("fields", [])]
    parts.append(d.get("footer", {}).get("text", ""))
    return "\n".join(parts)


def assert_sendable(embed: discord.Embed) -> None:
    assert embed_problems(embed) == []
    assert embed_length(embed) == len(embed) <= render.EMBED_TOTAL_LIMIT  # discord.py agrees


def assert_links_intact(text: str) -> None:
    """No half links: once complete links are removed, no ``](`` and no bare link opener."""
    rest = LINK.sub("", text)
    assert not re.search(r"(?<!\\)\]\(", rest), rest
    for m in LINK.finditer(text):
        assert m.group(1).strip(), m.group(0)


# -- answers ------------------------------------------------------------------------------
def test_answer_quotes_and_numbered_sources() -> None:
    ans = answer([quote(1, "Russia is not amassing its forces."), quote(2, "The SVR said so.")],
                 [source(1, "Border"), source(2, "Spy agency", "https://example.com/b")])
    embed = answer_embed(ans)
    assert_sendable(embed)
    assert embed.description == "> Russia is not amassing its forces. [1]\n\n> The SVR said so. [2]"
    assert embed.fields[0].name == "Sources"
    assert embed.fields[0].value == (f"**[1]** [Border]({URL}) · 2021-11-16\n"
                                     "**[2]** [Spy agency](https://example.com/b) · 2021-11-16")
    assert embed.title == "What happened?"


def test_very_long_quotes_are_cut_at_a_sentence() -> None:
    long = sentences(400, seed=1)
    assert len(long) > 3 * render.DESCRIPTION_LIMIT
    embed = answer_embed(answer([quote(1, long), quote(1, long)], [source(1)]))
    assert_sendable(embed)
    desc = embed.description or ""
    assert desc.startswith("> ") and desc.endswith(" … [1]")
    assert desc.removesuffix(" … [1]").endswith(".")  # the cut falls after a sentence
    assert_links_intact(all_text(embed))


def test_one_sentence_longer_than_the_description_is_cut_at_a_word() -> None:
    embed = answer_embed(answer([quote(1, "word " * 2000)], [source(1)]))
    assert_sendable(embed)
    assert (embed.description or "").endswith("word … [1]")


def test_long_question_and_titles() -> None:
    title = "A headline ] with (brackets) [and](http://evil.example) *stars* " * 20
    ans = answer([quote(1, "Short quote.", title)], [source(1, title)], question="Why? " * 300)
    embed = answer_embed(ans)
    assert_sendable(embed)
    assert len(embed.title or "") <= render.TITLE_LIMIT
    value = embed.fields[0].value or ""
    assert_links_intact(value)
    (m,) = LINK.finditer(value)
    assert m.group(2) == URL  # the link goes to the article, not to the title's fake link


@pytest.mark.parametrize("count", [25, 30, 60])
def test_many_sources_stay_within_every_limit(count: int) -> None:
    quotes = [quote(i, sentences(3, seed=i), f"Article {i} ] ) " + "x" * 150,
                    f"https://example.com/{i}/" + "p" * 300) for i in range(1, count + 1)]
    sources = [source(i, q.title, q.url) for i, q in enumerate(quotes, 1)]
    embed = answer_embed(answer(quotes, sources))
    assert_sendable(embed)
    text = all_text(embed)
    assert_links_intact(text)
    shown = {int(n) for n in re.findall(r" \[(\d+)\](?:\n|$)", embed.description or "")}
    listed = {int(n) for n in re.findall(r"\*\*\[(\d+)\]\*\*", text)}
    assert shown and shown == listed  # every number quoted has its source, and no others
    assert f"Showing {len(shown)} of {count} quotes" in (embed.footer.text or "")


def test_titles_with_brackets_and_parentheses_keep_links_whole() -> None:
    title = "Putin [says] (again): ]] )) [x](y) \\ end"
    embed = answer_embed(answer([quote(1, "Q.")], [source(1, title, "https://ex.com/a_(b)")]))
    value = embed.fields[0].value or ""
    assert_links_intact(value)
    (m,) = LINK.finditer(value)
    assert m.group(2) == "https://ex.com/a_%28b%29"
    assert re.sub(r"\\(.)", r"\1", m.group(1)) == title


def test_no_url_or_unsafe_url_is_a_plain_title() -> None:
    for url in (None, "", "javascript:alert(1)", "ftp://x.example/f", "https://x/" + "a" * 600):
        embed = answer_embed(answer([quote(1, "Q.", url=url)], [source(1, "Plain", url)]))
        assert embed.fields[0].value == "**[1]** Plain · 2021-11-16"


def test_quote_text_is_escaped_and_pings_no_one() -> None:
    text = "@everyone **look** at [this](https://evil.example) <@123> `now`."
    embed = answer_embed(answer([quote(1, text)], [source(1)]))
    desc = embed.description or ""
    assert "@everyone" in desc  # shown as written; ALLOWED_MENTIONS keeps it silent
    assert "\\*\\*look\\*\\*" in desc and "\\[this\\]\\(https://evil.example\\)" in desc
    assert_links_intact(desc)
    assert LINK.search(desc) is None
    sent = render.ALLOWED_MENTIONS.to_dict()
    assert sent["parse"] == [] and "users" not in sent and "roles" not in sent
    assert not sent.get("replied_user")


def test_weak_answers_say_so_in_text_and_embed() -> None:
    from dataclasses import replace

    from bot.textout import WEAK_NOTE, render_answer

    strong = answer([quote(1, "Russia is not amassing its forces.")], [source(1, "Border")])
    weak = replace(strong, weak=True)
    assert WEAK_NOTE not in render_answer(strong)
    assert render_answer(weak).startswith(WEAK_NOTE)
    assert render_answer(weak).endswith(render_answer(strong))  # the quotes and sources stay
    plain, loose = answer_embed(strong), answer_embed(weak)
    assert_sendable(loose)
    assert loose.footer.text and loose.footer.text.startswith(WEAK_NOTE)
    assert plain.footer.text and WEAK_NOTE not in plain.footer.text
    assert loose.colour != plain.colour
    assert loose.description == plain.description


def test_no_answer_embed_says_not_covered_and_points_to_closest() -> None:
    ans = Answer("Who won the 2018 FIFA World Cup?", False,
                 closest=(source(1, "Border"), source(2, "Spy", None)))
    embed = answer_embed(ans)
    assert_sendable(embed)
    desc = embed.description or ""
    assert desc.startswith(render.NOT_COVERED)
    assert f"[Border]({URL})" in desc and "• Spy · 2021-11-16" in desc
    assert not embed.fields
    bare = answer_embed(Answer("Anything?", False))
    assert bare.description == render.NOT_COVERED


def test_random_answers_always_fit() -> None:
    rng = random.Random(7)
    for trial in range(40):
        n = rng.randint(1, 12)
        quotes = [quote(rng.randint(1, n), sentences(rng.randint(1, 60), seed=trial * 100 + i),
                        "T" * rng.randint(1, 400), rng.choice([URL, None, URL + "(x)"]))
                  for i in range(rng.randint(1, 15))]
        sources = [source(i, "Title ] (" * rng.randint(1, 60), rng.choice([URL, None]))
                   for i in range(1, n + 1)]
        embed = answer_embed(answer(quotes, sources, question="q" * rng.randint(1, 2000)))
        assert_sendable(embed)
        assert_links_intact(all_text(embed))


# -- citations ----------------------------------------------------------------------------
def match(text: str, verbatim: bool, title: str = "Title", score: float = 1.0) -> Match:
    return Match(text=text, article_id="a", title=title, url=URL, published="2021-11-16",
                 start=0, end=len(text), score=score, verbatim=verbatim)


def test_cite_marks_verbatim_and_paraphrase() -> None:
    embed = cite_embed("did they say it?", [match("They said it.", True),
                                            match("It was said.", False, score=0.8123)])
    assert_sendable(embed)
    desc = embed.description or ""
    assert f"**[1]** **Verbatim** in [Title]({URL}) · 2021-11-16" in desc
    assert "**[2]** **Paraphrase** (similarity 0.81)" in desc
    assert desc.startswith("> They said it.\n")
    assert_links_intact(desc)


def test_cite_without_matches() -> None:
    embed = cite_embed("nothing", [])
    assert embed.description == render.NO_MATCH


def test_cite_with_long_query_and_matches_fits() -> None:
    matches = [match(sentences(80, seed=i), i % 2 == 0, "Long ] title ) " * 30) for i in range(12)]
    embed = cite_embed("q " * 3000, matches)
    assert_sendable(embed)
    assert_links_intact(all_text(embed))
    assert "Showing" in (embed.footer.text or "")


# -- sources ------------------------------------------------------------------------------
def info(i: int, title: str | None = None, url: str | None = URL) -> ArticleInfo:
    return ArticleInfo(id=f"a{i}", title=title or f"Article {i}", url=url,
                       published=f"2021-11-{i % 28 + 1:02d}", source=None, passages=3)


def test_sources_are_paged_with_dates_and_links() -> None:
    pages = sources_pages([info(i) for i in range(1, 31)], per_page=10)
    assert len(pages) == 3
    for k, page in enumerate(pages, 1):
        assert_sendable(page)
        assert page.footer.text == f"Page {k} of 3"
        assert page.title == "Indexed articles (30)"
    text = "\n".join(p.description or "" for p in pages)
    assert [int(n) for n in re.findall(r"\*\*(\d+)\.\*\*", text)] == list(range(1, 31))
    assert f"[Article 1]({URL}) · 2021-11-02" in text
    assert_links_intact(text)


def test_long_sources_split_by_length_too() -> None:
    items = [info(i, "T ] ( " * 100, "https://example.com/" + "x" * 480) for i in range(40)]
    pages = sources_pages(items, per_page=100)
    assert len(pages) > 1
    for page in pages:
        assert_sendable(page)
        assert_links_intact(page.description or "")
    assert sum(len(LINK.findall(p.description or "")) for p in pages) == 40


def test_one_page_has_no_footer_and_empty_index_says_so() -> None:
    (page,) = sources_pages([info(1)], per_page=10)
    assert page.footer.text is None
    (empty,) = sources_pages([])
    assert empty.description == render.NO_ARTICLES


# -- texts --------------------------------------------------------------------------------
def test_clip_prefers_sentences_then_words_and_never_splits_an_escape() -> None:
    assert clip("One. Two three. Four", 17) == "One. Two three. …"
    assert clip("alpha beta gamma", 13) == "alpha beta …"
    assert clip("x" * 50, 10) == "xxxxxxxx …"
    cut = clip("*" * 50, 11, escape_md)
    assert cut == "\\*" * 4 + " …" and len(cut) <= 11
    assert clip("short", 10, escape_md) == "short"


def test_messages_fit_and_say_the_right_thing() -> None:
    assert len(render.clip_content("x " * 5000)) <= render.CONTENT_LIMIT
    assert "too long" in error_message(InputError("the question is too long; shorten it"))
    generic = error_message(RuntimeError("/secret/path leaked"))
    assert "secret" not in generic and "went wrong" in generic
    assert render.cooldown_message(2.1) == "You're asking quickly; try again in 3s."
    assert render.cooldown_message(0.01) == "You're asking quickly; try again in 1s."
    assert len(render.help_message("x" * 5000)) <= render.CONTENT_LIMIT


# -- follow-ups, threads, buttons' messages -----------------------------------------------
def test_a_follow_up_says_which_question_it_built_on_within_every_limit() -> None:
    earlier = "What did Kremlin spokesman Dmitry Peskov tell reporters about troop movements?"
    ans = Answer(question="What else did he say?", answered=True,
                 quotes=(quote(1, sentences(2)),), sources=(source(1),), followup_of=earlier)
    embed = answer_embed(ans)
    assert embed.author.name == render.followup_note(earlier) == f"Following up on: {earlier}"
    assert_sendable(embed)
    assert answer_embed(answer([quote(1, "x.")], [source(1)])).author.name is None
    # A very long earlier question, and the most the embed can hold, still fit.
    huge = Answer(question="q" * 1000, answered=True,
                  quotes=tuple(quote(i, sentences(40, seed=i)) for i in range(1, 4)),
                  sources=tuple(source(i, title="T" * 300) for i in range(1, 4)),
                  followup_of="x " * 600)
    embed = answer_embed(huge)
    assert_sendable(embed)
    assert len(embed.author.name or "") <= render.AUTHOR_NAME_LIMIT
    not_covered = Answer(question="What else?", answered=False, followup_of=earlier)
    assert answer_embed(not_covered).author.name == render.followup_note(earlier)


def test_thread_names_and_starters() -> None:
    assert render.thread_name("What did\nPeskov say?") == "What did Peskov say?"
    long = render.thread_name("why " * 100)
    assert 0 < len(long) <= render.THREAD_NAME_LIMIT == 100
    assert render.thread_name("   ") == "Question"
    starter = render.thread_starter("Is *this* @everyone " + "word " * 600)
    assert len(starter) <= render.CONTENT_LIMIT and starter.startswith("**Q:** Is \\*this\\*")
    assert starter.endswith("The answer is in the thread.")


def test_button_replies() -> None:
    assert render.vote_ack("recorded", True).startswith("Thanks, your 👍")
    assert "👎" in render.vote_ack("changed", False)
    assert render.vote_ack("unchanged", True) == "You already gave this answer a 👍."
    assert render.shared_by("<@42>") == "Shared by <@42>"
    assert "citebot discord --sync" in render.out_of_date_message()
    for text in (render.vote_gone(), render.already_shared(), render.nothing_to_share(),
                 render.out_of_date_message(), render.send_failed_message()):
        assert 0 < len(text) <= render.CONTENT_LIMIT


def test_a_refused_answer_says_what_discord_said() -> None:
    class Response:
        status, reason = 403, "Forbidden"

    exc = discord.Forbidden(Response(), {"message": "Missing Permissions", "code": 50013})  # type: ignore[arg-type]
    text = render.send_failed_message(exc)
    assert "Discord said: Missing Permissions" in text and "permissions" in text
    assert "Discord said" not in render.send_failed_message(None)
