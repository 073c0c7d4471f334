"""Local path names: one canonical (NFC, POSIX) form for every file name.

macOS hands out NFD names; Linux and S3 keep whatever bytes they are given. Comparing NFC forms
keeps an `é` typed on a Mac from becoming a second file next to the same name typed elsewhere.
"""

from __future__ import annotations

import re
import unicodedata

TEMP_PREFIX = ".bmsync-tmp-"
"""Downloads land in `<folder>/.bmsync-tmp-*` first; such names are never synced."""

MAX_NAME_BYTES = 255
"""The longest name segment a remote key may have (`bmsync.s3.keys.MAX_COMPONENT_BYTES`)."""

_UNSYNCABLE = re.compile(r"[\x00-\x1f\x7f\\]")
_UNDECODABLE = re.compile(r"[\udc80-\udcff]")


def canonical(relpath: str) -> str:
    return unicodedata.normalize("NFC", relpath)


def is_internal(name: str) -> bool:
    """bmsync's own temporary files, which must never be synced whatever the ignore rules say."""
    return name.startswith(TEMP_PREFIX)


def name_problem(name: str) -> str | None:
    """Why one local file or folder name cannot be synced, or None when it can.

    The remote side refuses to list keys with control characters, backslashes or segments over
    255 bytes (`bmsync.s3.keys.relkey_to_path`). A local name like that would be uploaded, then
    missing from every listing, so the next run would see it "deleted remotely" and delete the
    local file. The two rules must agree; tests/test_hostile.py checks that they do. A name that
    is not UTF-8 (Linux allows any bytes) cannot be a key at all. Checked per name, with one
    regular expression, because it runs for every entry of every scan.
    """
    if _UNDECODABLE.search(name):
        return "the name is not valid UTF-8, so it cannot be an S3 key; rename it"
    bad = _UNSYNCABLE.search(name)
    if bad is not None:
        char = bad.group()
        what = "a backslash" if char == "\\" else f"control character U+{ord(char):04X}"
        return f"{what} in the name, which the remote side refuses; rename it"
    if len(canonical(name).encode("utf-8")) > MAX_NAME_BYTES:
        return f"the name is longer than {MAX_NAME_BYTES} bytes in NFC; rename it"
    return None
