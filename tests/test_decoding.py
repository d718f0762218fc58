"""Bytes to text: which encoding, and whether it is text at all, on real and random bytes."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from conftest import SEEDS, shared_file

from retrieval.decoding import NotTextError, declared_charset, decode_bytes
from retrieval.front_matter import FrontMatterError, split_front_matter
from retrieval.jsonsafe import JSONTooDeepError, json_depth_exceeds, loads_bounded
from retrieval.limits import LoadLimits
from retrieval.loaders import load_articles

RUSSIAN = ("Мэр Москвы заявил о новых правилах для метро и автобусов в городе. Власти ожидают, "
           "что изменения вступят в силу в следующем месяце.")
GREEK = ("Η κυβέρνηση ανακοίνωσε νέα μέτρα για τις μεταφορές στην Αθήνα. Οι αλλαγές θα ισχύσουν "
         "από τον επόμενο μήνα.")
JAPANESE = "東京都は新しい交通規則を発表しました。変更は来月から適用されます。"
# Short English and French with the letters a detector confuses with Central European ones.
WESTERN = [
    "A naïve plan, the café owner said.",
    "Le maire a jugé le projet « naïf » et coûteux, a-t-il déclaré à l’AFP.",
    "Müller’s “Straße” plan — dismissed by officials — cost €2 million.",
]


def _page(body: str, charset: str | None = None) -> str:
    meta = f'<meta charset="{charset}">' if charset else ""
    return (f"<html><head>{meta}<title>T</title></head><body><article><p>{body}</p>"
            f"<p>{'More plain text in a second paragraph of the page. ' * 10}</p></article></body></html>")


def _news_with_accents(limit: int) -> list[str]:
    path = shared_file("corpora/news-archive.jsonl")
    texts = []
    with path.open(encoding="utf-8") as f:
        for line in f:
            text = json.loads(line)["text"]
            if any(ord(ch) > 127 for ch in text):
                texts.append(text)
                if len(texts) == limit:
                    return texts
    return texts


@pytest.mark.parametrize("encoding", ["cp1252", "latin-1", "utf-16"])
def test_real_news_re_encoded_reads_back_exactly(encoding: str) -> None:
    checked = 0
    for text in _news_with_accents(250):
        if encoding == "latin-1":  # what a Latin-1 archive holds: no curly quotes or dashes
            text = text.translate(str.maketrans("‘’“”–—…", "''\"\"--_"))
        for sample in (text[:100], text[:300], text):  # short samples trip detectors up
            try:
                data = sample.encode(encoding)
            except UnicodeEncodeError:
                continue
            if encoding != "utf-16" and all(b < 128 for b in data):
                continue
            assert decode_bytes(data).text == sample
            checked += 1
    assert checked >= (15 if encoding == "latin-1" else 300)


@pytest.mark.parametrize("text", WESTERN)
def test_short_western_text_stays_windows_1252(text: str) -> None:
    # charset-normalizer alone reads these as cp1250: "naïve" comes out "naďve".
    decoded = decode_bytes(text.encode("cp1252"))
    assert (decoded.text, decoded.encoding) == (text, "cp1252")
    assert decoded.note == "is not UTF-8; read it as Windows-1252" and not decoded.warn


@pytest.mark.parametrize(("text", "encoding"), [
    (RUSSIAN, "cp1251"), (RUSSIAN, "koi8_r"), (GREEK, "cp1253"), (JAPANESE, "shift_jis"),
    (JAPANESE, "euc_jp"),
])
def test_undeclared_legacy_text_is_detected(text: str, encoding: str) -> None:
    # In a page, and as a bare text file that starts with non-ASCII (no markup around it).
    for form in (_page(text), f"{text}\n\n{text}\n", f"<html><body><p>{text}</p></body></html>"):
        decoded = decode_bytes(form.encode(encoding))
        assert text in decoded.text, form[:40]
        assert decoded.warn and "(detected; re-save it as UTF-8 if that is wrong)" in (decoded.note or "")


@pytest.mark.parametrize("size", [24, 32, 64, 256, 4096])
def test_random_bytes_are_not_text(size: int) -> None:
    rng = random.Random(size)
    for _ in range(200):
        with pytest.raises(NotTextError):
            decode_bytes(bytes(rng.getrandbits(8) for _ in range(size)))


@pytest.mark.parametrize(("charset", "note"), [
    ("base64", "declares charset 'base64', which is not a text encoding"),
    ("rot13", "declares charset 'rot13', which is not a text encoding"),
    ("zlib", "declares charset 'zlib', which is not a text encoding"),
    ("hex", "declares charset 'hex', which is not a text encoding"),
    ("undefined", "declares charset 'undefined', which is not a text encoding"),
    ("no-such-charset", "declares charset 'no-such-charset', which is not an encoding"),
    ("koi8-r", "declares charset 'koi8-r', but its text reads as Windows-1252"),
    ("windows-1251", "declares charset 'windows-1251', but its text reads as Windows-1252"),
    ("iso-8859-5", "declares charset 'iso-8859-5', but its text reads as Windows-1252"),
    ("shift_jis", "declares charset 'shift_jis', but its bytes are not shift_jis"),
])
def test_a_wrong_declared_charset_gives_way_with_a_note(charset: str, note: str) -> None:
    data = _page(WESTERN[2], charset).encode("cp1252")
    assert declared_charset(data) == charset
    decoded = decode_bytes(data, declared_charset(data))
    assert WESTERN[2] in decoded.text
    assert (decoded.note, decoded.warn) == (note, True)


POLISH = "Zażółć gęślą jaźń: władze miasta ogłosiły nowe zasady dla kierowców."
MIXED = "The Kremlin said the talks would resume on Monday; Москва denied it."


@pytest.mark.parametrize(("text", "charset"), [
    (RUSSIAN, "windows-1251"), (RUSSIAN, "koi8-r"), (GREEK, "iso-8859-7"), (JAPANESE, "shift_jis"),
    (POLISH, "iso-8859-2"), (POLISH, "windows-1250"), (MIXED, "windows-1251"), (MIXED, "koi8-r"),
])
def test_a_declared_charset_that_reads_cleanly_is_kept(text: str, charset: str) -> None:
    data = _page(text, charset).encode(charset)
    decoded = decode_bytes(data, declared_charset(data))
    assert text in decoded.text
    assert not decoded.warn and decoded.note and decoded.note.endswith("as it declares")


def test_a_declaration_that_is_as_plausible_wins() -> None:
    # "naïve" in Windows-1252 bytes reads "naďve" in windows-1250: a Czech letter, no mess to
    # tell the two apart, so the page's own declaration decides.
    data = _page(WESTERN[0], "windows-1250").encode("cp1252")
    decoded = decode_bytes(data, "windows-1250")
    assert decoded.encoding == "cp1250" and "A naďve plan" in decoded.text
    # Pages that declare Latin-1 are read as Windows-1252, as browsers do: 0x93 is a quote.
    latin = decode_bytes(_page(WESTERN[2], "iso-8859-1").encode("cp1252"), "iso-8859-1")
    assert WESTERN[2] in latin.text and not latin.warn


def test_binary_and_byte_order_marks() -> None:
    assert decode_bytes("Grüße".encode("utf-16")).text == "Grüße"
    assert decode_bytes("Grüße".encode("utf-32")).text == "Grüße"
    assert decode_bytes("\ufeffGrüße".encode()).text == "Grüße"
    for data in (b"PK\x03\x04\x00\x00", bytes(range(1, 32)) * 4, b"\xff\xfe\x00\xd8"):
        with pytest.raises(NotTextError):
            decode_bytes(data)


def test_legacy_files_on_disk(tmp_path: Path) -> None:
    (tmp_path / "ru.txt").write_bytes(f"Новости\n\n{RUSSIAN}\n".encode("cp1251"))
    (tmp_path / "fr.md").write_bytes(f"# Titre\n\n{WESTERN[1]}\n".encode("cp1252"))
    (tmp_path / "seed.txt").write_bytes((SEEDS / "000_69cd93adf557b6b8.txt").read_text(
        encoding="utf-8").encode("cp1252", "replace"))
    result = load_articles([tmp_path])
    texts = {Path(a.path or "").name: a.text for a in result.articles}
    assert texts["ru.txt"] == RUSSIAN and texts["fr.md"] == WESTERN[1]
    assert "Russia is not amassing its forces" in texts["seed.txt"]


# --- front matter and JSON ---------------------------------------------------------------------


def test_front_matter_within_bounds_loads() -> None:
    meta, body = split_front_matter("---\ntitle: Hi\nauthor: [Jane, Tom]\n---\n# Body\n")
    assert (meta, body) == ({"title": "Hi", "author": ["Jane", "Tom"]}, "# Body")
    meta, _ = split_front_matter("---\nd: &d {source: AP}\npost:\n  <<: *d\n  title: T\n---\nB\n")
    assert meta["post"] == {"source": "AP", "title": "T"}
    assert split_front_matter("No front matter\n") == ({}, "No front matter\n")
    assert split_front_matter('{\n"title": "J"\n}\nBody\n')[0] == {"title": "J"}


@pytest.mark.parametrize(("doc", "message"), [
    ("---\na: &a [*a]\n---\nB\n", "expands to more than 10,000 values"),  # a recursive alias
    ("---\na: &a [x, x, x, x]\nb: &b [*a, *a, *a, *a]\nc: &c [*b, *b, *b, *b]\n"
     "d: &d [*c, *c, *c, *c]\ne: &e [*d, *d, *d, *d]\nf: &f [*e, *e, *e, *e]\ng: [*f, *f, *f]\n---\nB\n",
     "expands to more than 10,000 values"),
    ("---\ntitle: " + "[" * 30_000 + "]" * 30_000 + "\n---\nB\n", "front matter is nested deeper than 64"),
    ("---\n" + "".join(" " * i + f"k{i}:\n" for i in range(360)) + "\n---\nB\n",
     "front matter is over 65,536 bytes"),  # block nesting: 64 KB only reach 355 levels
    ("---\ntitle: " + "x" * 70_000 + "\n---\nB\n", "front matter is over 65,536 bytes"),
    ("{\n" + '"a": ' + "[" * 100 + "]" * 100 + "\n}\nB\n", "nested deeper than 64 levels"),
])
def test_front_matter_beyond_bounds_is_refused(doc: str, message: str) -> None:
    with pytest.raises((FrontMatterError, JSONTooDeepError), match=message.replace("(", r"\(")):
        split_front_matter(doc)


def test_front_matter_nested_past_the_recursion_limit_is_refused() -> None:
    doc = "---\n" + "".join(" " * i + f"k{i}:\n" for i in range(900)) + "\n---\nB\n"
    with pytest.raises(FrontMatterError, match="front matter is nested too deeply"):
        split_front_matter(doc, LoadLimits(max_front_matter_bytes=2**20))


def test_json_depth_is_counted_outside_strings() -> None:
    assert loads_bounded('{"a": "[[[[[[[[[[", "b": [[1]]}', 3) == {"a": "[[[[[[[[[[", "b": [[1]]}
    assert not json_depth_exceeds('{"a": "\\"[[[[[[[[[[\\"", "b": [1]}', 2)
    assert json_depth_exceeds("[[[1]]]", 2) and not json_depth_exceeds("[[[1]]]", 3)
    with pytest.raises(JSONTooDeepError):
        loads_bounded("[" * 100_000 + "]" * 100_000, LoadLimits().max_json_depth)
