"""Pure translations between S3 keys and metadata and bmsync's paths and values.

S3 keys are opaque strings: `a//b`, `../x`, `x\\y` and two Unicode spellings of `café` are all
distinct objects. A local folder cannot hold every one of them, so a key that could not be a
safe, unique project-relative path is *rejected* (reported, never synced) rather than mangled.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from bmsync.names import canonical, path_problem
from bmsync.remotes import TRASH_PREFIX
from bmsync.types import NS_MAX, NS_MIN

_NS_PER_S = 10**9
# rclone writes `mtime` as decimal seconds, and so does s3fs-fuse (whole seconds). No exponent,
# no sign other than a leading minus: rclone's own parser (swift.floatStringToNs) accepts no more.
_MTIME = re.compile(r"^-?(?:\d+\.?\d*|\.\d+)$")
_MTIME_MAX_CHARS = 40


@dataclass(frozen=True, slots=True)
class InvalidKey:
    """Why a key below the prefix cannot be a local path."""

    reason: str


def is_folder_marker(relkey: str) -> bool:
    """A zero-byte `a/b/` object some tools create to show an empty folder; not a file."""
    return relkey.endswith("/")


def relkey_to_path(relkey: str) -> str | InvalidKey:
    """The NFC project path for `relkey`, or why it cannot be one (`bmsync.names`' rule, the
    one the scanner applies to local names)."""
    if relkey == "":
        return InvalidKey("empty key")
    path = canonical(relkey)
    problem = path_problem(path)
    return path if problem is None else InvalidKey(problem)


def key_for(prefix: str, relkey: str) -> str:
    return f"{prefix}/{relkey}" if prefix else relkey


def list_prefix(prefix: str) -> str:
    """What to pass as ListObjectsV2 `Prefix`: `notes/` must not also list `notes-old/`."""
    return f"{prefix}/" if prefix else ""


def relkey_of(key: str, prefix: str) -> str | None:
    """The key below `prefix`, or None when the key is outside it."""
    start = list_prefix(prefix)
    return key[len(start) :] if key.startswith(start) else None


def is_trash_key(key: str) -> bool:
    return key == TRASH_PREFIX or key.startswith(TRASH_PREFIX + "/")


def trash_key(prefix: str, run_id: str, relkey: str) -> str:
    """`.bmsync-trash/<prefix>/<run_id>/<relkey>`: outside the synced prefix, so never synced."""
    return "/".join(part for part in (TRASH_PREFIX, prefix, run_id, relkey) if part)


def metadata_mtime_to_ns(value: str) -> int | None:
    """Parse rclone's `mtime` metadata (e.g. "1700000000.123456789") to ns since the epoch.

    Decimal, never float: a float holds ~16 significant digits, and a nanosecond timestamp needs
    19. Digits past the ninth decimal are dropped, as rclone does. None for anything unparseable
    or outside int64 ns (year 1678-2262), so a stray value falls back to LastModified.
    """
    text = value.strip()
    if len(text) > _MTIME_MAX_CHARS or not _MTIME.match(text):
        return None
    try:
        ns = int(Decimal(text).scaleb(9))  # int() truncates toward zero, like rclone
    except (InvalidOperation, ValueError):
        return None
    return ns if NS_MIN <= ns <= NS_MAX else None


def ns_to_metadata_mtime(ns: int) -> str:
    """Format ns the way rclone does (swift.TimeToFloatString): seconds, point, up to nine
    decimals with trailing zeros trimmed, so "1700000000" and "1700000000.1" are both valid."""
    if ns < 0:
        return "-" + ns_to_metadata_mtime(-ns)
    seconds, fraction = divmod(ns, _NS_PER_S)
    decimals = f"{fraction:09d}".rstrip("0")
    return f"{seconds}.{decimals}" if decimals else str(seconds)


def normalise_etag(etag: str) -> str:
    """ETags without quotes: moto and AWS quote them, rclone's server lists them bare."""
    return etag.strip().strip('"')


def quote_etag(etag: str) -> str:
    """`If-Match` takes an HTTP entity tag, which is quoted."""
    return f'"{normalise_etag(etag)}"'


def read_user_metadata(meta: Mapping[str, str]) -> tuple[int | None, str | None]:
    """(mtime_ns, xxh3) from user metadata, keys matched case-insensitively: rclone's server
    answers with capitalised keys (`Mtime`, `Xxh3`) whatever case was sent."""
    lowered = {key.lower(): value for key, value in meta.items()}
    raw_mtime = lowered.get("mtime")
    mtime_ns = metadata_mtime_to_ns(raw_mtime) if raw_mtime is not None else None
    xxh3 = lowered.get("xxh3")
    if xxh3 is not None:
        xxh3 = xxh3.strip().lower()
        if not xxh3 or any(ch not in "0123456789abcdef" for ch in xxh3):
            xxh3 = None
    return mtime_ns, xxh3
