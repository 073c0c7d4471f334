"""basic-memory's permalink of a project name: the path a new cloud project is created with,
and the key basic-memory matches project names by (`generate_permalink(a) ==
generate_permalink(b)`).

A port of `basic_memory.utils.generate_permalink` (0.24.1) for one-segment names, exact for
ASCII and CJK names. basic-memory transliterates other letters with `unidecode`, a dependency
bmsync does without: here accented Latin letters lose their accents (é → e) and the few Latin
letters Unicode does not decompose have a table (ß → ss), which is what unidecode does for them;
letters of other scripts are kept as they are instead of being romanised. The server stores the
path it is sent, and bmsync syncs with the path the server lists, so the difference only shows
in the prefix a Cyrillic- or Greek-named project gets.
"""

from __future__ import annotations

import mimetypes
import posixpath
import re
import unicodedata
from pathlib import PurePosixPath

_CJK = "\u4e00-\u9fff\u3000-\u303f\u3400-\u4dbf"
_FULLWIDTH = ("\uff00", "\uffef")
_UNDECOMPOSED_LATIN = {
    "ß": "ss", "æ": "ae", "Æ": "AE", "œ": "oe", "Œ": "OE", "ø": "o", "Ø": "O", "ł": "l",
    "Ł": "L", "đ": "d", "Đ": "D", "ð": "d", "Ð": "D", "þ": "th", "Þ": "Th", "ı": "i",
}  # fmt: skip


def permalink(name: str) -> str:
    text = unicodedata.normalize("NFC", PurePosixPath(name).as_posix())
    if mimetypes.guess_type(text)[0] is not None:
        # basic-memory drops a real file extension ("notes.md" -> "notes"), not "2.0.0".
        text = posixpath.splitext(text)[0]
    has_cjk = re.search(f"[{_CJK}{_FULLWIDTH[0]}-{_FULLWIDTH[1]}]", text) is not None
    if has_cjk:
        text = "".join(_cjk_char(ch) for ch in text)
        text = re.sub(f"([{_CJK}])([a-zA-Z0-9])", r"\1-\2", text)
        text = re.sub(f"([a-zA-Z0-9])([{_CJK}])", r"\1-\2", text)
    else:
        text = "".join(_fold(ch) for ch in text)
    text = re.sub(r"([a-z0-9])([A-Z])", r"\1-\2", text)  # camelCase -> camel-Case
    # basic-memory lowercases only ASCII in CJK names (the romanised rest is ASCII anyway).
    text = "".join(ch.lower() if ch.isascii() or not has_cjk else ch for ch in text)
    text = text.replace("_", "-").replace("'", "")
    text = re.sub(f"[^a-z0-9{_CJK}/\\-.]", _keep_letter_or_hyphen, text)
    text = re.sub(r"-+", "-", text)
    return "/".join(segment.strip("-") for segment in text.split("/"))


def _fold(ch: str) -> str:
    """An accented Latin letter without its accent; other letters unchanged."""
    if ch.isascii():
        return ch
    if ch in _UNDECOMPOSED_LATIN:
        return _UNDECOMPOSED_LATIN[ch]
    base = "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c))
    return base if base.isascii() and base else ch


def _cjk_char(ch: str) -> str:
    if re.match(f"[{_CJK}]", ch):
        return ch
    if _FULLWIDTH[0] <= ch <= _FULLWIDTH[1]:
        return ""  # fullwidth punctuation (，！？) is dropped, as basic-memory does
    return _fold(ch)


def _keep_letter_or_hyphen(match: re.Match[str]) -> str:
    ch = match.group()
    return ch if not ch.isascii() and ch.isalnum() else "-"
