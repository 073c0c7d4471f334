"""Every JSON object bmsync prints is strict UTF-8 JSON, whatever the names it holds.

A local name that is not UTF-8 (Linux allows any bytes but `/` and NUL) reaches Python as a
string holding lone surrogates (`os.fsdecode`'s `surrogateescape`: the byte 0xE9 becomes
U+DCE9). `json.dumps` would write that as `"caf\\udce9.md"`, which strict parsers (Go, Rust's
serde, `jq`) reject and Python can read but not encode again. So a string holding a lone
surrogate is written escaped, in a reversible way (`original`):

- each backslash of it is doubled;
- each byte that is not UTF-8 is written as the four characters `\\xNN` (its hex value), as
  Python's `backslashreplace` does: `caf\\xe9.md`, which JSON shows as `"caf\\\\xe9.md"`;
- any other lone surrogate (a Windows name's unpaired UTF-16 unit) as `\\uNNNN`.

Strings without one, by far the most, are written exactly as `json.dumps` writes them.

The command's text output (the summary, warnings, log lines) would otherwise end in a
`UnicodeEncodeError` traceback on a terminal whose encoding is strict UTF-8 (most desktops):
`escape_unwritable` makes stdout and stderr write such a byte the same way, `\\xNN` (there a
backslash is not doubled: the text is for a person, not for reversing).
"""

from __future__ import annotations

import codecs
import io
import json
import re
import sys
from typing import Any

_SURROGATE = re.compile("[\ud800-\udfff]")
_ESCAPED_SURROGATE = re.compile(r"\\ud[89a-f]")
"""A surrogate as `json.dumps` (ASCII output) escapes it: where the slow path is needed. A name
holding the text `\\ud8...` itself matches too, which costs only the slow path."""
_ESCAPE = re.compile(r"\\(\\|x[0-9a-f]{2}|u[0-9a-f]{4})")


def dumps(data: Any) -> str:
    """`json.dumps(data)`, with every string that holds a lone surrogate escaped (module
    docstring), so the text is valid UTF-8 and valid JSON for any parser."""
    text = json.dumps(data)
    if _ESCAPED_SURROGATE.search(text) is None:
        return text
    return json.dumps(_escaped_all(data))


def escaped(text: str) -> str:
    """`text` as it is written to JSON: unchanged unless it holds a lone surrogate."""
    if _SURROGATE.search(text) is None:
        return text
    return _SURROGATE.sub(_escape_one, text.replace("\\", "\\\\"))


def original(text: str) -> str:
    """The string that `escaped` turned into `text` (for a string that was escaped: one that
    the report lists as a name that is not UTF-8); `os.fsencode` of it gives the name's bytes."""
    return _ESCAPE.sub(_unescape_one, text)


def _escape_one(found: re.Match[str]) -> str:
    return _escape_char(found.group())


def _escape_char(char: str) -> str:
    point = ord(char)
    if 0xDC80 <= point <= 0xDCFF:
        return f"\\x{point - 0xDC00:02x}"
    return f"\\u{point:04x}" if point <= 0xFFFF else f"\\U{point:08x}"


def _unescape_one(found: re.Match[str]) -> str:
    code = found.group(1)
    if code == "\\":
        return "\\"
    if code[0] == "x":
        return chr(0xDC00 + int(code[1:], 16))
    return chr(int(code[1:], 16))


def _escaped_all(data: Any) -> Any:
    if isinstance(data, str):
        return escaped(data)
    if isinstance(data, dict):
        return {_escaped_all(key): _escaped_all(value) for key, value in data.items()}
    if isinstance(data, list | tuple):
        return [_escaped_all(item) for item in data]
    return data


UNWRITABLE = "bmsync-escape"
"""The codec error handler `escape_unwritable` gives the standard streams."""


def _escape_unencodable(err: UnicodeError) -> tuple[str, int]:
    """A byte that was not UTF-8 as `\\xNN`, any other character the stream's encoding
    lacks (a legacy Windows console) as `\\uNNNN`."""
    if not isinstance(err, UnicodeEncodeError):
        raise err
    bad = err.object[err.start : err.end]
    return "".join(_escape_char(char) for char in bad), err.end


codecs.register_error(UNWRITABLE, _escape_unencodable)


def escape_unwritable() -> None:
    """Make stdout and stderr write what their encoding cannot hold as escapes instead of
    raising (module docstring). For the command line only: a library leaves its host's
    streams alone."""
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(errors=UNWRITABLE)
