"""Bytes to text for article files: which encoding, and whether the bytes are text at all.

In order:

1. a byte-order mark decides (UTF-32, UTF-16);
2. bytes with NUL or more than 2% of other control characters are binary, not text;
3. valid UTF-8 is UTF-8 (nearly all files);
4. an HTML page's declared charset is used when it decodes the bytes into clean text. A
   declared name that is not a text encoding (``base64``, ``rot13``, ``zlib``, ``undefined``:
   ``codecs.lookup`` knows them all) or that does not decode the bytes is set aside with a
   note; one that decodes them into a mess ("CafИ" from Latin text declared ``koi8-r``) gives
   way to a reading that is clearly cleaner, with a note;
5. otherwise Windows-1252 (then Latin-1) when that reads as Western text: the usual encoding
   of older Western news archives, and the detector's weak spot. Of 2,444 samples of English
   news re-encoded in Windows-1252, charset-normalizer's best guess read 370 differently (it
   picks cp1250, cp775, cp852 for short English: "naïve" comes out "naďve"); this order reads
   all of them exactly;
6. otherwise charset-normalizer's best guess, where it decides well: text in Cyrillic, Greek
   or Japanese legacy encodings, which reads as a mess of accented Latin letters in
   Windows-1252;
7. otherwise the bytes are not text, and the file is skipped: no sample of random bytes of 24
   bytes or more read as text (2,000 of each size to 256 bytes, 200 of 4 KB); of 16 bytes, 1 in
   2,000 did, of 4 bytes 6% (valid UTF-8 or Windows-1252 by chance).

"Clean" and "mess" are charset-normalizer's mess ratio (``charset_normalizer.md.mess_ratio``):
the share of characters that are implausible in context (symbols inside words, mixed scripts,
stray accents). The figures are in ``benchmarks/RESULTS.md`` (Loading limits,
``python benchmarks/loading_limits.py``) and the cases in ``tests/test_decoding.py``.
"""

from __future__ import annotations

import codecs
import re
import unicodedata
from dataclasses import dataclass

# C0 controls that text files do not contain (tab, newlines and form feed are fine); random
# bytes hold about 12% of them, so a few percent means the file is not text in any encoding.
_CONTROL = bytes(b for b in range(32) if b not in b"\t\n\r\f")
_MAX_CONTROL_SHARE = 0.02
# Controls, unassigned and private-use code points: a quarter of random UTF-16, none of text.
_NOT_TEXT_CATEGORIES = frozenset({"Cc", "Cn", "Co", "Cs"})
# A reading whose mess ratio (around its non-ASCII characters) is at or over this is not text.
_MESSY = 0.2
# By this much a reading must be cleaner than the declared one to overrule the declaration.
_CLEARLY_CLEANER = 0.05
# Western text: under a quarter of its letters outside ASCII (English news: at most 1.3%,
# French about 4%), and almost no C1 control characters.
_MAX_NON_ASCII_LETTERS = 0.25
_MAX_NON_ASCII = 0.3  # of all characters; random bytes: half
_MAX_C1_SHARE = 0.01
# The detector's guesses on fewer bytes are noise: it names an encoding for 4 random bytes out
# of 5, and a short legacy text may come out in the wrong script.
_MIN_DETECT_BYTES = 64
# ASCII, letters, digits, spaces and punctuation: nearly all of any text; random bytes decoded
# with a legacy code page hold symbols and C1 controls too.
_MIN_TEXT_SHARE = 0.85
# Mess is measured on at most this many characters, from the start, middle and end.
_SAMPLE_CHARS = 3 * 8192

_META_CHARSET = re.compile(
    rb"""<meta[^>]{0,200}?charset\s*=\s*["']?([A-Za-z0-9_.:-]{1,40})""", re.I
)
_XML_ENCODING = re.compile(rb"""^\s*<\?xml[^>]{0,200}?encoding\s*=\s*["']([A-Za-z0-9_.:-]{1,40})""")
_LETTER = re.compile(r"[^\W\d_]")
_NON_ASCII_LETTER = re.compile(r"[^\W\d_\x00-\x7f]")
_C1 = re.compile("[\x80-\x9f]")
_NON_ASCII = re.compile(r"[^\x00-\x7f]+")
_CONTEXT = 24  # characters either side of a non-ASCII run
_NON_ASCII_WORDS = re.compile(r"(?:\S+\s+)?\S*[^\x00-\x7f]+\S*(?:\s+\S+)?")
# Labels that mean Windows-1252, as browsers read them (the WHATWG Encoding Standard): pages
# that declare Latin-1 are nearly always Windows-1252 with curly quotes in 0x91-0x9F.
_WINDOWS_1252_LABELS = frozenset({"cp1252", "latin-1", "iso8859-1", "ascii"})
_MESS_CHARS = 8192


class NotTextError(ValueError):
    """The bytes are not text in any encoding citebot can tell; the message says what they are."""


@dataclass(frozen=True, slots=True)
class Decoded:
    text: str
    encoding: str  # a Python codec name, e.g. "utf-8", "cp1252"
    note: str | None = None  # what was decided, when it is worth a line in the log
    warn: bool = False  # whether the note is a warning (a guess, or a declaration overruled)


def declared_charset(data: bytes) -> str | None:
    """The charset an HTML page declares (``<meta charset>``, or an XML declaration)."""
    head = data[:4096]
    m = _META_CHARSET.search(head) or _XML_ENCODING.search(head)
    return m.group(1).decode("ascii") if m else None


def looks_binary(data: bytes) -> bool:
    """NUL bytes, or more control characters than any text holds."""
    return b"\x00" in data or len(data.translate(None, _CONTROL)) < len(data) * (1 - _MAX_CONTROL_SHARE)


def decode_bytes(data: bytes, declared: str | None = None) -> Decoded:
    """``data`` as text, by the rules of the module docstring; raises ``NotTextError``."""
    if data.startswith((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")):
        return _by_bom(data, "utf-32")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return _by_bom(data, "utf-16")
    if looks_binary(data):
        raise NotTextError("binary file, not text")
    try:
        return Decoded(data.decode("utf-8-sig"), "utf-8")  # drops the BOM some editors write
    except UnicodeDecodeError:
        pass
    declared_note = None
    if declared:
        decoded, declared_note = _try_declared(data, declared)
        if decoded is not None:
            return decoded
    western = _western(data)
    if western is not None:
        note = declared_note or f"is not UTF-8; read it as {_name(western.encoding)}"
        return Decoded(western.text, western.encoding, note, warn=declared_note is not None)
    detected = _detected(data)
    if detected is not None:
        lead = f"{declared_note}; " if declared_note else "is not UTF-8; "
        note = f"{lead}read it as {detected.encoding} (detected; re-save it as UTF-8 if that is wrong)"
        return Decoded(detected.text, detected.encoding, note, warn=True)
    if declared_note:
        raise NotTextError(f"{declared_note}, and no other encoding reads it as text")
    raise NotTextError("not text in any encoding citebot can tell (binary data?); save text as UTF-8")


def _by_bom(data: bytes, codec: str) -> Decoded:
    try:
        text = data.decode(codec)
    except UnicodeDecodeError as exc:
        raise NotTextError(f"damaged {codec.upper()} text; re-save it as UTF-8") from exc
    sample = _sample(text)
    odd = sum(1 for ch in sample if unicodedata.category(ch) in _NOT_TEXT_CATEGORIES and ch not in "\t\n\r\f")
    if odd > len(sample) * _MAX_CONTROL_SHARE:  # random bytes after a byte-order mark
        raise NotTextError("binary file, not text")
    return Decoded(text, codec)


def _try_declared(data: bytes, declared: str) -> tuple[Decoded | None, str | None]:
    """The declared reading when it holds up, else ``(None, why not)``."""
    try:
        codec = codecs.lookup(declared).name
    except LookupError:
        return None, f"declares charset {declared!r}, which is not an encoding"
    if codec in _WINDOWS_1252_LABELS:
        western = _western(data)
        if western is not None:
            return Decoded(western.text, western.encoding,
                           f"is not UTF-8; read it as {_name(western.encoding)}, as it declares"), None
    try:
        text = data.decode(codec)  # bytes.decode refuses base64, rot13, zlib: not text encodings
    except UnicodeDecodeError:
        return None, f"declares charset {declared!r}, but its bytes are not {codec}"
    except (LookupError, UnicodeError, ValueError, TypeError):
        return None, f"declares charset {declared!r}, which is not a text encoding"
    declared_reading = Decoded(text, codec, f"is not UTF-8; read it as {codec}, as it declares")
    mess = _word_mess(text)
    if mess < _CLEARLY_CLEANER:
        return declared_reading, None
    # The declaration gives way only to a reading of the same bytes that is clearly cleaner:
    # Latin text declared windows-1251 reads 0.09 ("Cafй"), as Windows-1252 0.0.
    for other in (_western(data), _detected(data)):
        if other is not None and other.encoding != codec and (
            _word_mess(other.text) + _CLEARLY_CLEANER <= mess
        ):
            return None, f"declares charset {declared!r}, but its text reads as {_name(other.encoding)}"
    return declared_reading, None


def _western(data: bytes) -> Decoded | None:
    for codec in ("cp1252", "latin-1"):
        try:
            text = data.decode(codec)
        except UnicodeDecodeError:
            continue
        sample = _sample(text)
        letters = len(_LETTER.findall(sample))
        if (
            len(_NON_ASCII_LETTER.findall(sample)) <= letters * _MAX_NON_ASCII_LETTERS
            and sum(len(m) for m in _NON_ASCII.findall(sample)) <= len(sample) * _MAX_NON_ASCII
            and len(_C1.findall(sample)) <= len(sample) * _MAX_C1_SHARE
            and _reads_as_text(text)
        ):
            return Decoded(text, codec)
    return None


def _detected(data: bytes) -> Decoded | None:
    if len(data) < _MIN_DETECT_BYTES:
        return None
    from charset_normalizer import from_bytes  # only for the rare file that needs a guess

    best = from_bytes(data).best()
    if best is None or best.encoding.startswith(("utf_16", "utf_32")):  # no BOM, no NUL: not those
        return None
    try:
        text = data.decode(best.encoding)
    except (UnicodeDecodeError, LookupError):
        return None
    return Decoded(text, best.encoding) if _reads_as_text(text) else None


def _reads_as_text(text: str) -> bool:
    # ASCII counts as plain: the markup of a small HTML page is a tenth of it in "<", ">", "=".
    sample = _sample(text)
    plain = sum(1 for ch in sample if ch < "\x7f" or unicodedata.category(ch)[0] in "LNPZ")
    return plain >= len(sample) * _MIN_TEXT_SHARE and _mess(text) < _MESSY


def _mess(text: str) -> float:
    """charset-normalizer's mess ratio of the text around its non-ASCII characters (a few words
    either side): tolerant of the odd symbol in real text, for accepting a reading.

    Only non-ASCII characters tell encodings apart: measured over a whole page, ASCII markup and
    prose dilute any mess to a ratio that looks clean.
    """
    from charset_normalizer.md import mess_ratio

    sample = _sample(text)
    pieces: list[str] = []
    size, end = 0, -1
    for m in _NON_ASCII.finditer(sample):
        start = max(m.start() - _CONTEXT, end, 0)
        if start >= m.end() + _CONTEXT:
            continue
        end = m.end() + _CONTEXT
        pieces.append(sample[start:end])
        size += end - start
        if size >= _MESS_CHARS:
            break
    return float(mess_ratio(" ".join(pieces), 1.0)) if pieces else 0.0


def _word_mess(text: str) -> float:
    """The mess ratio of the words holding non-ASCII characters, with one word either side:
    sensitive ("Cafй", "“naпve”", "StraЯe" read 0.19 where the English reads 0), for telling
    whether a declared charset is wrong. A word of real English text now and then reads messy
    ("N.C. – The": 0.3), so this only ever compares two readings of the same bytes."""
    from charset_normalizer.md import mess_ratio

    pieces: list[str] = []
    size = 0
    for m in _NON_ASCII_WORDS.finditer(_sample(text)):
        pieces.append(m.group())
        size += len(m.group()) + 1
        if size >= _MESS_CHARS:
            break
    return float(mess_ratio(" ".join(pieces), 1.0)) if pieces else 0.0


def _sample(text: str) -> str:
    if len(text) <= _SAMPLE_CHARS:
        return text
    part = _SAMPLE_CHARS // 3
    middle = len(text) // 2 - part // 2
    return text[:part] + text[middle : middle + part] + text[-part:]


def _name(codec: str) -> str:
    return {"cp1252": "Windows-1252", "latin-1": "Latin-1", "iso8859-1": "Latin-1"}.get(codec, codec)
