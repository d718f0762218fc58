"""Loaders: real files on disk, every supported format, and the bad files a folder may hold."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import pytest

from retrieval.errors import LoadError
from retrieval.loaders import LoadResult, load_articles, load_file, scan_articles
from retrieval.models import Article
from retrieval.textclean import fallback_title

SEEDS = Path(__file__).resolve().parent.parent / "seeds"
SEED_BORDER = SEEDS / "000_69cd93adf557b6b8.txt"
SEED_SPY = SEEDS / "004_212586e071c012b4.txt"
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"

NEWS_HTML = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Harbour Bridge Reopens After Repairs | Coastal Herald</title>
<meta property="og:title" content="Harbour Bridge Reopens After Repairs">
<meta property="og:url" content="https://herald.example.com/news/2023/03/harbour-bridge-reopens">
<meta property="og:site_name" content="Coastal Herald">
<meta name="author" content="Jane Smith">
<meta property="article:published_time" content="2023-03-14T08:30:00Z">
</head>
<body>
<header><nav><a href="/">Home</a> <a href="/news">News</a> <a href="/sport">Sport</a></nav></header>
<main>
<article>
<h1>Harbour Bridge Reopens After Repairs</h1>
<p class="byline">By Jane Smith</p>
<p>The Harbour Bridge reopened to traffic on Tuesday morning after eight months of repairs
   that cost the city council more than 40 million dollars, officials said.</p>
<p>Engineers replaced corroded steel cables and resurfaced the deck, which carries about
   60,000 vehicles a day. The mayor said the work would extend the life of the bridge by at
   least thirty years.</p>
<p>"We know the closure was hard on commuters, and we thank them for their patience," the
   mayor told reporters at the <a href="/tags/ceremony">opening ceremony</a>.</p>
<p>Ferry services that were added during the closure will continue until the end of the
   month.</p>
</article>
</main>
<footer><p>Copyright 2023 Coastal Herald. All rights reserved.</p></footer>
</body>
</html>
"""


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def by_title(result: LoadResult) -> dict[str, Article]:
    return {a.title: a for a in result.articles}


def assert_clean_paragraphs(text: str) -> None:
    assert text == text.strip()
    assert "\n\n\n" not in text
    for paragraph in text.split("\n\n"):
        assert paragraph
        assert paragraph == " ".join(paragraph.split()), repr(paragraph)


# --- seeds ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def seeds() -> dict[str, Article]:
    result = load_articles([SEEDS])
    assert result.skipped == ()
    return {Path(a.path or "").name: a for a in result.articles}


def original_url(path: Path) -> str:
    match = re.search(r"Original url:\s*<([^>]+)>", path.read_text(encoding="utf-8"))
    assert match
    return match.group(1)


def test_seed_metadata(seeds: dict[str, Article]) -> None:
    border, spy = seeds[SEED_BORDER.name], seeds[SEED_SPY.name]
    assert border.title == "Ukraine Border Service Says No Sign of Russian Troops"
    assert spy.title == "Russia Spy Agency Dismisses Claims of Ukraine Invasion Plan"
    assert border.published == "2021-11-16"
    assert spy.published == "2021-11-22"
    assert border.url == original_url(SEED_BORDER)
    assert spy.url == original_url(SEED_SPY)
    assert border.url.startswith("https://www.themoscowtimes.com/2021/11/16/")
    assert spy.author == "AFP"
    assert border.author is None
    assert border.id == border.url
    assert spy.path == str(SEED_SPY)
    assert len(border.content_hash) == 64


def test_seed_body_is_clean_text(seeds: dict[str, Article]) -> None:
    for article in seeds.values():
        for text in (article.title, article.text):
            for leftover in ("](", "**", "<http", "Related article", "Original url"):
                assert leftover not in text, (article.path, leftover)
        assert "president.gov.ua" not in article.text  # the image credit line
        assert "By AFP" not in article.text
        assert "November" not in article.text.split("\n\n")[0]  # the date line is not body
        assert_clean_paragraphs(article.text)
        assert article.text.count("\n\n") >= 10


def test_seed_body_content(seeds: dict[str, Article]) -> None:
    border, spy = seeds[SEED_BORDER.name], seeds[SEED_SPY.name]
    assert border.text.startswith("Russia is not amassing its forces on the immediate border")
    assert "the country's border service said Monday as Western leaders" in border.text
    assert border.text.endswith("\n\nAFP contributed reporting.")
    assert '“large and unusual concentrations of Russian forces"' in border.text
    assert 'to "distract" from its activities' in border.text
    assert "military activity near Ukraine, with the U.S. saying" in spy.text
    assert spy.text.startswith("Russia's SVR foreign intelligence service on Monday")
    assert spy.text.endswith("— claims Moscow denies.")


@pytest.mark.parametrize(
    ("date_line", "expected"),
    [
        ("November 16, 2021", "2021-11-16"),
        ("Nov. 16, 2021", "2021-11-16"),
        ("16 November 2021", "2021-11-16"),
        ("2021-11-16", "2021-11-16"),
        ("Tuesday, Sept. 7, 2021", "2021-09-07"),
    ],
)
def test_seed_date_formats(tmp_path: Path, date_line: str, expected: str) -> None:
    path = write(
        tmp_path / "a.txt",
        f"# Title Here\n\n{date_line}\n\nBy [Reuters](#)\n\nBody sentence one.\n\n"
        "Original url: <https://example.com/a>\n",
    )
    articles, skipped = load_file(path)
    assert skipped == []
    [article] = articles
    assert (article.title, article.published, article.author) == ("Title Here", expected, "Reuters")
    assert (article.text, article.url) == ("Body sentence one.", "https://example.com/a")


def test_plain_text_without_seed_header(tmp_path: Path) -> None:
    path = write(
        tmp_path / "notes.txt",
        "A plain note\nBy the river the town held its annual fair.\n\nSecond   paragraph\there.\n",
    )
    [article], skipped = load_file(path)
    assert skipped == []
    assert article.title == "A plain note"
    assert article.published is None and article.author is None and article.url is None
    assert article.text == ("By the river the town held its annual fair.\n\nSecond paragraph here.")
    assert article.id == "notes.txt"


def test_paragraph_join_heuristic(tmp_path: Path) -> None:
    path = write(
        tmp_path / "join.txt",
        "Title\n\nMarch 3, 2022\n\n"
        "The minister said the talks would resume on\n\nMonday, according to aides.\n\n"
        "Background\n\nThe talks began in January.\n\n"
        "He listed three demands:\n\nfirst, a ceasefire.\n\n"
        'She said: "We will not\n\n"give up," and left.\n',
    )
    [article], _ = load_file(path)
    assert article.text.split("\n\n") == [
        "The minister said the talks would resume on Monday, according to aides.",
        "Background",  # too short to be half a sentence: a subheading
        "The talks began in January.",
        "He listed three demands:",
        "first, a ceasefire.",
        'She said: "We will not "give up," and left.',
    ]


# --- Markdown ------------------------------------------------------------------------------


def test_markdown_with_front_matter(tmp_path: Path) -> None:
    write(
        tmp_path / "posts" / "harbour.md",
        "---\n"
        "title: Harbour Bridge Reopens\n"
        "url: https://example.com/harbour\n"
        "published: 2023-03-14\n"
        "source: Coastal Herald\n"
        "author: [Jane Smith, Tom Lee]\n"
        "id: herald-001\n"
        "---\n"
        "# Harbour Bridge Reopens\n\n"
        "![A photo of the bridge](bridge.jpg)\n\n"
        "The bridge **reopened** on _Tuesday_ after [eight months](https://x.example/y) of\n"
        "repairs, *officials* said.\n\n"
        "## What changed\n"
        "Engineers replaced the cables.\n\n"
        "- New lighting\n"
        "- Wider footpaths\n\n"
        "```\n"
        "cables = 48\n"
        "```\n",
    )
    result = load_articles([tmp_path])
    assert result.skipped == ()
    [article] = result.articles
    assert article.title == "Harbour Bridge Reopens"
    assert (article.url, article.published) == ("https://example.com/harbour", "2023-03-14")
    assert (article.source, article.author) == ("Coastal Herald", "Jane Smith, Tom Lee")
    assert article.id == "herald-001"
    assert article.text.split("\n\n") == [
        "The bridge reopened on Tuesday after eight months of repairs, officials said.",
        "What changed",
        "Engineers replaced the cables.",
        "New lighting",
        "Wider footpaths",
        "cables = 48",
    ]


def test_markdown_without_front_matter(tmp_path: Path) -> None:
    write(
        tmp_path / "docs" / "note.markdown",
        "Intro line before the heading.\n\n# The Real Title\n\nBody text with `code` and __bold__ "
        "words and a snake_case_name.\n",
    )
    [article] = load_articles([tmp_path]).articles
    assert article.title == "The Real Title"
    assert article.id == "docs/note.markdown"
    assert article.url is None and article.published is None
    assert article.text == (
        "Intro line before the heading.\n\n"
        "Body text with code and bold words and a snake_case_name."
    )


def test_markdown_with_broken_front_matter_is_skipped(tmp_path: Path) -> None:
    path = write(tmp_path / "bad.md", "---\ntitle: [unclosed\n---\nBody.\n")
    articles, skipped = load_file(path)
    assert articles == []
    assert "front matter" in skipped[0].reason


# --- HTML ----------------------------------------------------------------------------------


def test_html_news_page(tmp_path: Path) -> None:
    write(tmp_path / "site" / "bridge.html", NEWS_HTML)
    result = load_articles([tmp_path / "site"])
    assert result.skipped == ()
    [article] = result.articles
    assert article.title == "Harbour Bridge Reopens After Repairs"
    assert article.url == "https://herald.example.com/news/2023/03/harbour-bridge-reopens"
    assert article.id == article.url
    assert article.published == "2023-03-14"
    assert article.author == "Jane Smith"
    assert article.source == "Coastal Herald"
    paragraphs = article.text.split("\n\n")
    assert paragraphs[0].startswith("The Harbour Bridge reopened to traffic on Tuesday morning")
    assert "cost the city council more than 40 million dollars" in paragraphs[0]
    assert paragraphs[-1] == (
        "Ferry services that were added during the closure will continue until the end of "
        "the month."
    )
    assert "at the opening ceremony." in article.text
    assert "Copyright" not in article.text and "Sport" not in article.text
    assert_clean_paragraphs(article.text)


def test_html_without_text_is_skipped(tmp_path: Path) -> None:
    path = write(
        tmp_path / "empty.htm", "<html><head><title>Nothing</title></head><body></body></html>"
    )
    articles, skipped = load_file(path)
    assert articles == []
    assert [s.path for s in skipped] == [str(path)]
    assert "no article text" in skipped[0].reason


# --- JSON Lines and JSON -------------------------------------------------------------------


def test_jsonl_with_malformed_line(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    lines = [
        json.dumps(
            {
                "id": "r-1",
                "title": "First",
                "text": "One.\n\n  Two  \t words. ",
                "published": "26-FEB-1987 15:01:01.79",
                "source": "Reuters",
            }
        ),
        '{"id": "r-2", "title": "Broken", "text": ',
        json.dumps({"title": "Untitled?", "text": "No id here.", "url": "https://e.com/3"}),
        "",
        json.dumps(
            {
                "text": "No title or id. It has two sentences.",
                "published": "2021-11-16T08:30:00+03:00",
            }
        ),
        json.dumps({"id": "r-6", "title": "Blank", "text": "   \n\n "}),
        json.dumps(["not", "an", "object"]),
        json.dumps({"id": "r-1", "title": "Same id again", "text": "Dup."}),
    ]
    path = write(tmp_path / "corpus.jsonl", "\n".join(lines) + "\n")
    with caplog.at_level(logging.WARNING, logger="citebot.loaders"):
        result = load_articles([path])
    ids = [a.id for a in result.articles]
    assert ids == ["r-1", "https://e.com/3", "corpus.jsonl#5"]
    first, third, fifth = result.articles
    assert first.text == "One.\n\nTwo words."
    assert (first.published, first.source) == ("1987-02-26", "Reuters")
    assert (third.title, third.published) == ("Untitled?", None)
    assert fifth.title == "No title or id."
    assert fifth.published == "2021-11-16"
    assert [(s.line, s.path) for s in result.skipped] == [(n, str(path)) for n in (2, 6, 7, 8)]
    assert "not valid JSON" in result.skipped[0].reason
    assert "duplicate id 'r-1'" in result.skipped[3].reason
    assert f"{path}:2" in caplog.text
    assert len(caplog.records) == 4


def test_jsonl_text_is_not_markdown_cleaned(tmp_path: Path) -> None:
    text = "Costs rose 2*3*4 times; see [1].\n\nTwo halves of one\n\nsentence stay apart"
    path = write(tmp_path / "a.jsonl", json.dumps({"id": "x", "text": text}) + "\n")
    [article], _ = load_file(path)
    assert article.text == text


def test_json_list_and_single_object(tmp_path: Path) -> None:
    records = [
        {"id": "a", "title": "Alpha", "text": "Alpha text."},
        {"id": "b", "title": "No text"},
        {"title": "Gamma", "text": "Gamma text."},
    ]
    listing = write(tmp_path / "list.json", json.dumps(records, indent=2))
    single = write(tmp_path / "one.json", json.dumps({"title": "Solo", "text": "Solo text."}))
    result = load_articles([listing, single])
    assert [(a.id, a.title) for a in result.articles] == [
        ("a", "Alpha"),
        ("list.json#3", "Gamma"),
        ("one.json", "Solo"),
    ]
    [bad] = result.skipped
    assert bad.path == str(listing)
    assert bad.line == 7  # the line where the second record starts
    assert listing.read_text().splitlines()[bad.line - 1].strip() == "{"


def test_invalid_json_file_is_skipped(tmp_path: Path) -> None:
    path = write(tmp_path / "broken.json", '[{"text": "x"},')
    articles, skipped = load_file(path)
    assert articles == []
    assert "not valid JSON" in skipped[0].reason


@pytest.mark.skipif(not (SHARED / "corpora").is_dir(), reason="needs ../shared/data")
def test_shared_corpora_records_load(tmp_path: Path) -> None:
    for source in (
        SHARED / "corpora" / "bbc-news-2225.jsonl",
        SHARED / "qa/xquad-en/articles.jsonl",
    ):
        with source.open(encoding="utf-8") as f:
            head = [next(f) for _ in range(5)]
        path = write(tmp_path / source.name, "".join(head))
        result = load_articles([path])
        assert result.skipped == ()
        for line, article in zip(head, result.articles, strict=True):
            record = json.loads(line)
            assert (article.id, article.title, article.url) == (
                record["id"],
                record["title"],
                record["url"],
            )
            assert article.text.split() == record["text"].split()


# --- folders and bad files -----------------------------------------------------------------


def test_bad_files_are_skipped_and_the_rest_loads(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write(tmp_path / "b_good.txt", "Good Title\n\nGood body.\n")
    (tmp_path / "a_binary.txt").write_bytes(b"PK\x03\x04\x00\x00binary\x00junk")
    # No NUL bytes, so only the share of control characters gives it away.
    (tmp_path / "c_binary.txt").write_bytes(bytes(range(1, 256)) * 8)
    write(tmp_path / "d_empty.md", "")
    write(tmp_path / "e_blank.txt", "  \n\t\n")
    write(tmp_path / "f_url_only.txt", "Original url: https://example.com/a\n")
    write(tmp_path / "notes.pdf", "ignored: unknown extension inside a folder")
    write(tmp_path / ".hidden.txt", "Hidden\n\nNot loaded.\n")
    write(tmp_path / ".git" / "x.txt", "Hidden dir\n\nNot loaded.\n")
    with caplog.at_level(logging.WARNING, logger="citebot.loaders"):
        result = load_articles([tmp_path])
    assert [a.title for a in result.articles] == ["Good Title"]
    reasons = {Path(s.path).name: s.reason for s in result.skipped}
    assert reasons == {
        "a_binary.txt": "binary file, not text",
        "c_binary.txt": "binary file, not text",
        "d_empty.md": "empty file",
        "e_blank.txt": "empty file",
        "f_url_only.txt": "no text besides the original url",
    }
    for name in reasons:
        assert name in caplog.text
    # Files of unknown type are not passed over in silence: one line for all of them.
    assert len(caplog.records) == len(reasons) + 1
    assert caplog.records[-1].getMessage().startswith(
        f"ignored: 1 file of unknown type: {tmp_path / 'notes.pdf'} (citebot reads .txt, .md,"
    )


def test_explicit_unknown_extension_is_skipped(tmp_path: Path) -> None:
    path = write(tmp_path / "report.pdf", "not really a pdf")
    result = load_articles([path])
    assert result.articles == ()
    [skipped] = result.skipped
    assert skipped.path == str(path)
    assert "unsupported file type '.pdf'" in skipped.reason


def test_missing_path_raises(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(LoadError) as info:
        load_articles([missing])
    assert (
        str(info.value) == f"no such file or folder: {missing}; pass a file or folder of articles"
    )


def test_utf8_bom_and_crlf(tmp_path: Path) -> None:
    path = tmp_path / "bom.txt"
    path.write_bytes("\ufeffTitle\r\n\r\nMay 5, 2020\r\n\r\nBody line.\r\n".encode())
    [article], _ = load_file(path)
    assert (article.title, article.published, article.text) == ("Title", "2020-05-05", "Body line.")


def test_legacy_encodings_are_read_not_skipped(tmp_path: Path) -> None:
    title = "Caf\u00e9 owners \u2013 \u201cna\u00efve\u201d"
    body = "Rents in M\u00fcnchen rose by 12 percent, the Stra\u00dfe association said."
    (tmp_path / "cp1252.txt").write_bytes(f"{title}\n\n{body}\n".encode("cp1252"))
    (tmp_path / "utf16.txt").write_bytes(f"{title}\n\n{body}\n".encode("utf-16"))
    cyrillic = "Мэр Москвы заявил"
    page = (
        '<html><head><meta charset="windows-1251"><title>Moscow news</title></head><body>'
        f"<article><p>{cyrillic} о новых правилах для метро и автобусов в городе.</p>"
        "</article></body></html>"
    )
    (tmp_path / "page.html").write_bytes(page.encode("cp1251"))
    result = load_articles([tmp_path])
    assert result.skipped == ()
    texts = {Path(a.path or "").name: a for a in result.articles}
    for name in ("cp1252.txt", "utf16.txt"):
        assert (texts[name].title, texts[name].text) == (title, body)
    assert texts["page.html"].text.startswith(cyrillic)


def test_a_one_line_note_is_its_own_body(tmp_path: Path) -> None:
    line = "The council voted on Monday to close the Elm Street bridge for repairs."
    [article], skipped = load_file(write(tmp_path / "note.txt", line + "\n"))
    assert skipped == []
    assert (article.text, article.title) == (line, fallback_title(line))


def test_folder_walk_is_sorted_and_ids_are_relative(tmp_path: Path) -> None:
    write(tmp_path / "b.txt", "B\n\nBody b.\n")
    write(tmp_path / "a" / "z.md", "# Z\n\nBody z.\n")
    write(tmp_path / "a" / "deeper" / "y.TXT", "Y\n\nBody y.\n")
    write(tmp_path / "c.jsonl", json.dumps({"text": "Body c."}) + "\n")
    result = load_articles([str(tmp_path), tmp_path / "b.txt"])  # b.txt twice: loaded once
    assert result.skipped == ()
    assert [a.id for a in result.articles] == ["a/deeper/y.TXT", "a/z.md", "b.txt", "c.jsonl#1"]


def test_duplicate_ids_keep_the_first(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    for name in ("one.md", "two.md"):
        write(tmp_path / name, f"---\nid: same\n---\n# {name}\n\nBody.\n")
    with caplog.at_level(logging.WARNING, logger="citebot.loaders"):
        result = load_articles([tmp_path])
    assert [a.title for a in result.articles] == ["one.md"]
    [dup] = result.skipped
    assert dup.path == str(tmp_path / "two.md")
    assert "duplicate id 'same'" in dup.reason
    assert "two.md" in caplog.text


def test_ids_stable_and_hash_tracks_content(tmp_path: Path) -> None:
    path = write(tmp_path / "story.txt", "Story\n\nJune 1, 2024\n\nFirst version.\n")
    first = load_articles([tmp_path]).articles[0]
    again = load_articles([tmp_path]).articles[0]
    assert (again.id, again.content_hash) == (first.id, first.content_hash)

    path.write_text("Story\n\nJune 1, 2024\n\n\n   First   version.  \n", encoding="utf-8")
    reformatted = load_articles([tmp_path]).articles[0]
    assert reformatted.content_hash == first.content_hash  # same cleaned text

    moved = write(tmp_path / "elsewhere" / "copy.txt", path.read_text(encoding="utf-8"))
    [copy], _ = load_file(moved)
    assert copy.content_hash == first.content_hash and copy.id == "copy.txt"

    path.write_text("Story\n\nJune 1, 2024\n\nSecond version.\n", encoding="utf-8")
    edited = load_articles([path]).articles[0]
    assert edited.id == first.id
    assert edited.content_hash != first.content_hash

    path.write_text("Story\n\nJune 2, 2024\n\nSecond version.\n", encoding="utf-8")
    redated = load_articles([path]).articles[0]
    assert redated.content_hash != edited.content_hash


def test_json_from_other_tools_field_names(tmp_path: Path) -> None:
    newsapi = {
        "status": "ok",
        "totalResults": 2,
        "articles": [
            {
                "source": {"id": None, "name": "Reuters"},
                "author": "Jane Roe",
                "title": "Chip maker expands",
                "url": "https://example.com/chips",
                "publishedAt": "2024-05-02T10:15:00Z",
                "content": "The chip maker said on Thursday it would build a second plant in Arizona.",
            },
            {"source": {"id": None, "name": "AP"}, "title": "No body", "content": None},
        ],
    }
    write(tmp_path / "newsapi.json", json.dumps(newsapi))
    rows = [
        {"title": "Dam opens", "text": "The dam opened.", "domain": "example.org", "date": "2019-03-04"},
        {"id": "cnn-1", "article": "The mayor resigned on Friday after an audit.", "highlights": "x"},
        {"headline": "Rates rise", "body": "Rates rose.", "link": "https://example.net/r",
         "pubDate": "Tue, 05 Mar 2024 08:00:00 GMT"},
    ]
    write(tmp_path / "feed.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
    result = load_articles([tmp_path])
    got = {a.id: (a.title, a.url, a.published, a.source, a.author, a.text) for a in result.articles}
    assert got == {
        "feed.jsonl#1": ("Dam opens", None, "2019-03-04", "example.org", None, "The dam opened."),
        "cnn-1": ("The mayor resigned on Friday after an audit.", None, None, None, None,
                  "The mayor resigned on Friday after an audit."),
        "https://example.net/r": ("Rates rise", "https://example.net/r", "2024-03-05", None, None,
                                  "Rates rose."),
        "https://example.com/chips": ("Chip maker expands", "https://example.com/chips", "2024-05-02",
                                      "Reuters", "Jane Roe", newsapi["articles"][0]["content"]),
    }
    [skipped] = result.skipped
    assert skipped.path.endswith("newsapi.json") and skipped.reason.startswith('article 2: no "text" string')


# --- streaming scan ----------------------------------------------------------------------------


def test_scan_is_lazy_and_reports_as_it_goes(tmp_path: Path) -> None:
    write(tmp_path / "a.txt", "A\n\nFirst file.\n")
    write(tmp_path / "b.jsonl", json.dumps({"id": "b1", "text": "One."}) + "\n{broken\n"
          + json.dumps({"id": "b3", "text": "Three."}) + "\n")
    write(tmp_path / "c.txt", "C\n\nThird file.\n")
    scan = scan_articles([tmp_path])
    assert next(scan).title == "A"
    (tmp_path / "c.txt").unlink()  # read only when the scan gets there
    assert next(scan).id == "b1" and scan.skipped == []
    assert next(scan).id == "b3"
    assert [(s.line, s.reason[:14]) for s in scan.skipped] == [(2, "not valid JSON")]
    assert list(scan) == []
    assert [Path(s.path).name for s in scan.skipped] == ["b.jsonl", "c.txt"]
    assert scan.incomplete_files == {str(tmp_path / "b.jsonl"), str(tmp_path / "c.txt")}
    assert scan.unlisted_dirs == set()


def test_load_articles_carries_what_the_scan_found(tmp_path: Path) -> None:
    write(tmp_path / "a.txt", "A\n\nBody.\n")
    write(tmp_path / "x.pdf", "not an article")
    write(tmp_path / "bad.json", "[")
    result = load_articles(tmp_path)
    assert [a.title for a in result.articles] == ["A"]
    assert result.ignored == (str(tmp_path / "x.pdf"),)
    assert result.incomplete_files == frozenset({str(tmp_path / "bad.json")})


def test_json_lines_in_legacy_encodings(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    lines = [
        json.dumps({"id": "u", "text": "Plain UTF-8."}, ensure_ascii=False).encode(),
        json.dumps({"id": "w1", "text": "Un café « naïf »."}, ensure_ascii=False).encode("cp1252"),
        json.dumps({"id": "w2", "text": "Müller’s Straße."}, ensure_ascii=False).encode("cp1252"),
    ]
    (tmp_path / "mixed.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    records = [{"id": "t", "text": "Grüße aus Köln."}, {"id": "t2", "text": "Zweite Zeile."}]
    (tmp_path / "utf16.jsonl").write_bytes(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode("utf-16")
    )
    with caplog.at_level(logging.INFO, logger="citebot.loaders"):
        result = load_articles([tmp_path])
    assert {a.id: a.text for a in result.articles} == {
        "u": "Plain UTF-8.", "w1": "Un café « naïf ».", "w2": "Müller’s Straße.",
        "t": "Grüße aus Köln.", "t2": "Zweite Zeile.",
    }
    assert result.skipped == ()
    [note] = [r.getMessage() for r in caplog.records]
    assert note == (f"{tmp_path / 'mixed.jsonl'}:2 is not UTF-8; read it as Windows-1252; so are "
                    "its other lines that are not UTF-8, where they can be")


def test_many_bad_records_are_counted_not_each_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = write(tmp_path / "noisy.jsonl", "".join(f'{{"id": {i}, broken\n' for i in range(30))
                 + json.dumps({"id": "ok", "text": "Fine."}) + "\n")
    with caplog.at_level(logging.WARNING, logger="citebot.loaders"):
        result = load_articles([path])
    assert [a.id for a in result.articles] == ["ok"]
    assert len(result.skipped) == 30
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 21
    assert messages[-1] == f"skipped 10 more records of {path} (see the ones above)"
