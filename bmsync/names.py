"""Names: which paths can be synced, their one canonical form, and the names bmsync makes.

A path is synced only if both sides can hold it: a local file system and an S3 key. One rule,
`segment_problem`, decides that for the scanner (a local name) and for the listing (a key), so
no name can be uploaded and then be missing from every listing, which the next run would take
for a remote delete. Every name is compared in NFC: macOS hands out NFD, Linux and S3 keep
whatever bytes they are given.

On Windows the rule is stricter, because a Windows folder cannot hold every name a Linux or
macOS one can (`windows_name_problem`): device names (`CON`, `NUL.md`, ...), the characters
`<>:"|?*`, and a trailing dot or space. The stricter rule applies only on Windows, to local
names and keys alike, so such a key is reported there and never written (`notes/a:b.md` would
otherwise land in a drive-relative path or an alternate data stream, `x.` on top of `x`), while
Linux and macOS keep syncing notes named `Why?.md` or `Meeting: Monday.md`
(docs/platforms.md).

The names bmsync itself makes beside a file (conflict copies, restored versions, numbered trash
entries, a snapshot set aside) are all "the first free one" of a numbered series: `first_free`.
"""

from __future__ import annotations

import bisect
import re
import sys
import unicodedata
from collections.abc import Callable, Sequence, Set
from datetime import datetime

TEMP_PREFIX = ".bmsync-tmp-"
"""Downloads land in `<folder>/.bmsync-tmp-<owner>-<random>-<name>` first (`temp_name`)."""

_TEMP_FORM = re.compile(
    r"\.bmsync-tmp-(?:(?P<host>[0-9a-f]{8})\.(?P<pid>[0-9]{1,10})-)?[0-9a-f]{8}-", re.ASCII
)
"""A temporary file's name, exactly: the owner (a host tag and a process id) and 8 random hex
digits. Names from before the owner was written (`.bmsync-tmp-<8 hex>-<name>`) still match."""

MAX_NAME_BYTES = 255
"""The longest name segment (NAME_MAX on Linux and macOS; APFS and ext4 count UTF-8 bytes)."""

MAX_KEY_BYTES = 1024
"""The longest S3 object key in UTF-8 bytes, the prefix included."""

ON_WINDOWS = sys.platform == "win32"
"""Whether this process applies Windows' name rules; every rule below takes `windows=` so the
Windows branch is tested on any machine."""

_UNSYNCABLE = re.compile(r"[\x00-\x1f\x7f\\]")
_UNDECODABLE = re.compile(r"[\udc80-\udcff]")
_WINDOWS_RESERVED_CHAR = re.compile(r'[<>:"|?*]')
# What Windows opens as a device in any folder, with any extension (`nul.md`, `CON .txt`).
# The superscript digits count as digits there. As in CPython's `ntpath.isreserved` (3.13).
_WINDOWS_DEVICES = frozenset(
    {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"}
    | {f"{port}{digit}" for port in ("COM", "LPT") for digit in "123456789\xb9\xb2\xb3"}
)


DATA_IN_FOLDER_KEY = (
    "a key ending in '/' that holds data: no file can have this name, so it is not synced "
    "(and nothing is deleted); copy it to a key without the trailing '/' to sync it"
)
"""Why a key such as `a/` holding bytes is skipped: a folder marker holds none."""


def canonical(relpath: str) -> str:
    return unicodedata.normalize("NFC", relpath)


def is_internal(name: str) -> bool:
    """Whether a file named `name` is one of bmsync's temporary files, never synced whatever
    the ignore rules say. Only names of exactly that form: a user's `.bmsync-tmp-mine.md` is
    a note like any other. The same rule hides a local file and a remote key; folders are
    never bmsync's own."""
    return name.startswith(TEMP_PREFIX) and _TEMP_FORM.match(name) is not None


def temp_owner(name: str) -> tuple[str, int] | None:
    """The host tag and process id a temporary file's name records; None when it records
    none (an older bmsync's name) or is not a temporary file's name."""
    found = _TEMP_FORM.match(name)
    if found is None or found["host"] is None:
        return None
    return found["host"], int(found["pid"])


def segment_problem(segment: str, *, windows: bool = ON_WINDOWS) -> str | None:
    """Why one file or folder name (a path segment) cannot be synced, or None when it can.

    Checked for every entry of every scan and every listed key, so it is one regular
    expression in the common case (two on Windows).
    """
    if segment in ("", ".", ".."):
        return (
            "empty path segment (a leading '/', trailing '/' or '//')"
            if segment == ""
            else f"'{segment}' path segment"
        )
    if _UNDECODABLE.search(segment):
        return "the name is not valid UTF-8, so it cannot be an S3 key; rename it"
    bad = _UNSYNCABLE.search(segment)
    if bad is not None:
        char = bad.group()
        # A backslash is a path separator on Windows, and a way to smuggle `..\` past a check.
        what = "a backslash" if char == "\\" else f"control character U+{ord(char):04X}"
        return f"{what} in the name, which the remote side refuses; rename it"
    if len(canonical(segment).encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES:
        return f"the name is longer than {MAX_NAME_BYTES} bytes in NFC; rename it"
    return windows_name_problem(segment) if windows else None


def windows_name_problem(segment: str) -> str | None:
    """Why a Windows folder cannot hold `segment` (a name `segment_problem` already allows
    elsewhere), or None. https://learn.microsoft.com/windows/win32/fileio/naming-a-file"""
    if segment[-1] in ". ":
        # Windows drops a trailing dot or space when it opens a path: `x.` would be `x`.
        return "the name ends with a dot or a space, which Windows drops; rename it"
    bad = _WINDOWS_RESERVED_CHAR.search(segment)
    if bad is not None:
        # `:` also names an NTFS stream (`x.md:hidden`), or a drive (`c:x.md`).
        return f"'{bad.group()}' in the name, which a Windows folder cannot hold; rename it"
    device = segment.partition(".")[0].rstrip(" ")
    if device.upper() in _WINDOWS_DEVICES:
        return (
            f"'{device}' is a device name on Windows (CON, PRN, AUX, NUL, COM1-9, LPT1-9, with "
            "any extension), which a Windows folder cannot hold; rename it"
        )
    return None


def path_problem(path: str, *, windows: bool = ON_WINDOWS) -> str | None:
    """`segment_problem` of the first segment of `path` that has one."""
    for segment in path.split("/"):
        problem = segment_problem(segment, windows=windows)
        if problem is not None:
            return problem
    return None


def temp_name(name: str, token: str) -> str:
    """The temporary file a download of `name` is written to before it is renamed over it:
    `.bmsync-tmp-<token>-<name>`, `token` being `<host tag>.<pid>-<8 hex>` (`_TEMP_FORM`),
    with as much of `name` as fits in the 255 bytes a name may have (UTF-8 on Linux and macOS;
    NTFS counts UTF-16 units, never more than UTF-8 bytes)."""
    head = f"{TEMP_PREFIX}{token}-"
    room = MAX_NAME_BYTES - len(head.encode())
    return head + name.encode("utf-8", "surrogatepass")[:room].decode("utf-8", "ignore")


def split_name(path: str) -> tuple[str, str, str]:
    """`notes/x.md` → (`notes/`, `x`, `.md`): the parts a sibling name (a conflict copy, a
    restored version) is built from; the folder keeps its trailing slash, or is empty."""
    folder, _, name = path.rpartition("/")
    dot = name.rfind(".")
    stem, suffix = (name[:dot], name[dot:]) if 0 < dot < len(name) - 1 else (name, "")
    return (f"{folder}/" if folder else ""), stem, suffix


def first_free(name: Callable[[int], str], taken: Callable[[str], bool]) -> str:
    """`name(1)`, `name(2)`, …: the first that is not `taken`."""
    number = 1
    while taken(candidate := name(number)):
        number += 1
    return candidate


def sibling(path: str, tag: str, *, max_path_bytes: int = MAX_KEY_BYTES) -> Callable[[int], str]:
    """The numbered series `notes/x.<tag>.md`, `notes/x.<tag>-2.md`, … beside `path`.

    Each name fits where `path` does: its last segment in `MAX_NAME_BYTES`, the whole path in
    `max_path_bytes` (the room a key has below the remote's prefix). A stem too long for the
    tag is cut by characters, never inside a UTF-8 sequence (`x…x.<tag>.md`); a suffix too long
    to keep is cut with the stem. Without this a conflict on a 237-byte name (78 CJK characters
    and `.md`) wanted a 262-byte copy, which could not exist, and failed on every run (issue 16).
    """
    parent, stem, suffix = split_name(path)
    room = _room(parent, max_path_bytes)

    def name(n: int) -> str:
        tail = f".{tag}{'' if n == 1 else f'-{n}'}"
        kept = _cut(stem, room - _utf8_len(tail + suffix))
        if kept:
            candidate = f"{parent}{kept}{tail}{suffix}"
            if candidate != path:
                return candidate
            kept = kept[:-1]  # `x.<tag>.md` cut down to itself: one character fewer
            if kept:
                return f"{parent}{kept}{tail}{suffix}"
        # The suffix leaves no room for a stem: keep as much of the whole name as fits.
        return f"{parent}{_cut(stem + suffix, room - _utf8_len(tail))}{tail}"

    return name


def numbered_name(name: str, number: int) -> str:
    """`name` for 1, else `name.<number>`: the further versions of one path a run keeps in its
    trash (`bmsync.local.trash`), `name` cut by whole characters so the whole fits in
    `MAX_NAME_BYTES` (`bmsync.commands.recover` finds the name it was cut from)."""
    if number == 1:
        return name
    tail = f".{number}"
    return _cut(name, MAX_NAME_BYTES - len(tail)) + tail


def _room(parent: str, max_path_bytes: int) -> int:
    """The bytes a name in `parent` may take."""
    return min(MAX_NAME_BYTES, max_path_bytes - _utf8_len(parent))


def _utf8_len(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


def _cut(text: str, room: int) -> str:
    """The longest start of `text` of at most `room` UTF-8 bytes, whole characters only."""
    if _utf8_len(text) <= room:
        return text
    return text.encode("utf-8", "surrogatepass")[: max(room, 0)].decode("utf-8", "ignore")


_CONFLICT_TAG = re.compile(r"\.conflict-(\d{8}-\d{6})(?:-(\d+))?")


def conflict_copies(
    path: str, stamp: str, *, max_path_bytes: int = MAX_KEY_BYTES
) -> Callable[[int], str]:
    """The names a conflict copy of `path` made at `stamp` takes, by number: 1 is
    `notes/x.conflict-<stamp>.md`, n is `notes/x.conflict-<stamp>-n.md`, cut to fit. The one
    rule for a conflict copy's name, bmsync's (`free_conflict_copy`) and basic-memory's
    (`integrations.basic_memory.conflict_copy_name`, which takes the stamp as text)."""
    return sibling(path, f"conflict-{stamp}", max_path_bytes=max_path_bytes)


def free_conflict_copy(
    path: str, stamp: datetime, taken: Set[str], *, max_path_bytes: int = MAX_KEY_BYTES
) -> str:
    """`notes/x.md` → `notes/x.conflict-20261123-101500.md`, numbered if that is taken."""
    copies = conflict_copies(path, f"{stamp:%Y%m%d-%H%M%S}", max_path_bytes=max_path_bytes)
    return first_free(copies, taken.__contains__)


def copy_names(
    path: str, names: Sequence[str], *, max_path_bytes: int = MAX_KEY_BYTES
) -> list[str]:
    """The names among `names` (sorted) that `free_conflict_copy` could have given a copy of
    `path` (shortened ones included), oldest first.

    A candidate is rebuilt from the time and number in its name and must come out the same, so
    nothing else matches. Only names that start as every copy's name does are looked at: the
    stem as far as the copy numbered 999,999 keeps it."""
    parent, stem, suffix = split_name(path)
    longest_tail = ".conflict-00000000-000000-999999" + suffix
    kept = _cut(stem, _room(parent, max_path_bytes) - _utf8_len(longest_tail))
    start = f"{parent}{kept}"
    if kept == stem:
        start += ".conflict-"  # the usual case: no name is cut, so only this path's copies
    found: list[tuple[str, int, str]] = []
    at = bisect.bisect_left(names, start)
    while at < len(names) and names[at].startswith(start):
        name = names[at]
        for tag in _CONFLICT_TAG.finditer(name, len(parent)):
            number = int(tag.group(2) or 1)
            rebuilt = conflict_copies(path, tag.group(1), max_path_bytes=max_path_bytes)
            if rebuilt(number) == name:
                found.append((tag.group(1), number, name))
                break
        at += 1
    return [name for _, _, name in sorted(found)]
