"""gitignore patterns, compiled to say whether a pattern matches one path itself.

Git decides a path level by level: a folder that a pattern excludes is never looked into, so
nothing below it can be re-included, and the last pattern that matches a path itself (not a
folder above it) wins. `ignore.IgnoreRules` applies that walk; this module answers the one
question it asks at each level, "does this pattern match this file (or folder) itself?", the
way git's `wildmatch` does (`*` and `?` stop at `/`, `**` between slashes crosses them, a pattern
with no inner `/` matches the last segment at any depth, a trailing `/` only matches folders).

Matching is split into runs of patterns of one polarity: within a run only "does any match"
matters, which one alternation of expressions answers in one search (about 35 default
patterns, checked for every entry of a 20,000-file scan). A rule set with no `!` is one run.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

_POSIX_CLASSES = {
    "alnum": "a-zA-Z0-9", "alpha": "a-zA-Z", "blank": " \\t", "cntrl": "\\x00-\\x1f\\x7f",
    "digit": "0-9", "graph": "!-~", "lower": "a-z", "print": " -~",
    "punct": "!-/:-@\\[-`{-~", "space": " \\t\\n\\r\\f\\v", "upper": "A-Z",
    "xdigit": "0-9A-Fa-f",
}  # fmt: skip

_NEVER = "(?!)"


@dataclass(frozen=True, slots=True)
class Pattern:
    """One gitignore line: `expression` is matched in full against the whole path when
    `anchored`, else against its last segment."""

    text: str
    negated: bool
    folders_only: bool
    anchored: bool
    expression: str


def parse(line: str) -> Pattern | None:
    """The pattern on one line of a gitignore file, or None for a blank line or a comment."""
    text = _trim_trailing_spaces(line.rstrip("\r\n"))
    if not text or text.startswith("#"):
        return None
    negated = text.startswith("!")
    body = text[1:] if negated else text
    folders_only = body.endswith("/")
    if folders_only:
        body = body[:-1]
    anchored = "/" in body
    body = body.removeprefix("/")
    if not body:
        return None
    return Pattern(text, negated, folders_only, anchored, _translate(body))


def literal(path: str) -> str:
    """`path` as the body of a pattern matching that path alone (prefix `/` to anchor it)."""
    escaped = "".join(f"\\{ch}" if ch in "\\[]!*#?" else ch for ch in path)
    return escaped[:-1] + "\\ " if escaped.endswith(" ") else escaped


class Matcher:
    """Which patterns of a list match a path itself; the last one that does decides."""

    def __init__(self, lines: Iterable[str]) -> None:
        patterns = [p for p in map(parse, lines) if p is not None]
        self.patterns = tuple(patterns)
        self.negates = any(p.negated for p in patterns)
        runs: list[list[Pattern]] = []
        for pattern in patterns:
            if runs and runs[-1][0].negated == pattern.negated:
                runs[-1].append(pattern)
            else:
                runs.append([pattern])
        # Last run first: the first run holding a match is the one whose last match wins.
        self._runs = [_Run(run) for run in reversed(runs)]

    def excludes(self, path: str, name: str, *, folder: bool) -> bool:
        """Whether the last pattern matching `path` itself (`name` is its last segment) is an
        exclusion; False when none matches."""
        for run in self._runs:
            if run.matches(path, name, folder):
                return not run.negated
        return False


class _Run:
    """Consecutive patterns of one polarity, joined into one expression per kind of match."""

    def __init__(self, patterns: list[Pattern]) -> None:
        self.negated = patterns[0].negated
        files = [p for p in patterns if not p.folders_only]
        self._file_path = _join(p.expression for p in files if p.anchored)
        self._file_name = _join(p.expression for p in files if not p.anchored)
        self._folder_path = _join(p.expression for p in patterns if p.anchored)
        self._folder_name = _join(p.expression for p in patterns if not p.anchored)

    def matches(self, path: str, name: str, folder: bool) -> bool:
        by_path, by_name = (
            (self._folder_path, self._folder_name) if folder else (self._file_path, self._file_name)
        )
        return bool(
            (by_name is not None and by_name.fullmatch(name))
            or (by_path is not None and by_path.fullmatch(path))
        )


def _join(expressions: Iterable[str]) -> re.Pattern[str] | None:
    joined = "|".join(f"(?:{e})" for e in expressions)
    return re.compile(joined, re.DOTALL) if joined else None


def _trim_trailing_spaces(text: str) -> str:
    """Trailing spaces go, unless escaped with a backslash (as git does)."""
    end = len(text)
    while end > 0 and text[end - 1] == " ":
        backslashes = len(text[: end - 1]) - len(text[: end - 1].rstrip("\\"))
        if backslashes % 2:
            break
        end -= 1
    return text[:end]


def _translate(body: str) -> str:
    """The expression matching what the wildmatch pattern `body` matches."""
    out: list[str] = []
    i, n = 0, len(body)
    while i < n:
        char = body[i]
        if char == "*":
            stars = i
            while i < n and body[i] == "*":
                i += 1
            at_start = stars == 0 or body[stars - 1] == "/"
            if i - stars >= 2 and at_start and (i == n or body[i] == "/"):
                if i == n:
                    out.append(".*")  # `a/**`: everything inside
                else:
                    out.append("(?:.*/)?")  # `**/`: any number of folders, none included
                    i += 1
            else:
                out.append("[^/]*")
            continue
        if char == "?":
            out.append("[^/]")
        elif char == "[":
            bracket, i = _bracket(body, i)
            if bracket is None:
                return _NEVER  # git's wildmatch gives up on an unclosed bracket
            out.append(bracket)
            continue
        elif char == "\\":
            if i + 1 == n:
                return _NEVER  # a trailing backslash matches nothing
            i += 1
            out.append(re.escape(body[i]))
        else:
            out.append(re.escape(char))
        i += 1
    return "".join(out)


def _bracket(body: str, start: int) -> tuple[str | None, int]:
    """The character class starting at `body[start] == "["` and the index after it; None when
    it is not closed or names an unknown class. A class never matches `/`."""
    i, n = start + 1, len(body)
    negated = i < n and body[i] in "!^"
    if negated:
        i += 1
    items: list[str] = []
    first = True
    while i < n and (body[i] != "]" or first):
        first = False
        if body.startswith("[:", i):
            close = body.find("]", i + 2)
            if close < 0:
                return None, n
            if body[close - 1] == ":" and close - 1 >= i + 2:  # else `[` is one character
                if body[i + 2 : close - 1] not in _POSIX_CLASSES:
                    return None, n
                items.append(_POSIX_CLASSES[body[i + 2 : close - 1]])
                i = close + 1
                continue
        low, i = _class_char(body, i)
        if low is None:
            return None, n
        if i + 1 < n and body[i] == "-" and body[i + 1] != "]":
            high, i = _class_char(body, i + 1)
            if high is None:
                return None, n
            # As in wildmatch, the low end matches even when the range is empty.
            low_to_high = f"-{re.escape(high)}" if low <= high else ""
            items.append(re.escape(low) + low_to_high)
        else:
            items.append(re.escape(low))
    if i >= n:
        return None, n
    inside = "".join(items)
    if negated:
        return f"[^{inside}/]", i + 1
    return (f"(?!/)[{inside}]" if inside else _NEVER), i + 1


def _class_char(body: str, i: int) -> tuple[str | None, int]:
    if body[i] == "\\":
        if i + 1 >= len(body):
            return None, i + 1
        return body[i + 1], i + 2
    return body[i], i + 1
