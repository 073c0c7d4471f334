"""Hashing local files (with the hashers of `bmsync.digests`), opened so a swapped-in link or
FIFO is never followed, on every platform: xxh3-128 identifies content, MD5 only compares with
an S3 ETag."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import BinaryIO

from bmsync.digests import new_hasher, new_md5
from bmsync.portable import BINARY, is_link

CHUNK = 1 << 20

HAS_O_NOFOLLOW = hasattr(os, "O_NOFOLLOW")
"""POSIX refuses to open a final symlink when told; Windows has no such flag (nor FIFOs)."""

_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) | BINARY


def open_regular(path: Path, *, nofollow_flag: bool = HAS_O_NOFOLLOW) -> BinaryIO:
    """Open `path` for reading only if it is still a regular file.

    Between the scan's `stat` and this read the name may have become a symlink (which could lead
    out of the project) or a FIFO (whose `open` would block the run forever), so the open never
    follows a final link, never blocks, and the opened file is checked with `fstat`. Without
    `O_NOFOLLOW` (Windows; `nofollow_flag=False` tests that branch anywhere) the name is
    `lstat`ed first and the opened file must be the very file seen there (`_same_file`): a
    link swapped in before the `lstat` is seen by it, one swapped in after it makes the open
    reach another file.
    """
    seen = None if nofollow_flag else os.lstat(path)
    if seen is not None and is_link(seen):
        raise OSError(errno.ELOOP, "it is now a symbolic link, which is never followed")
    flags = _OPEN_FLAGS | (getattr(os, "O_NOFOLLOW", 0) if nofollow_flag else 0)
    try:
        fd = os.open(path, flags)
    except OSError as err:
        if err.errno == errno.ELOOP:
            raise OSError(err.errno, "it is now a symbolic link, which is never followed") from err
        raise
    try:
        opened = os.fstat(fd)
        if not stat.S_ISREG(opened.st_mode):
            raise OSError(errno.EINVAL, "it is no longer a regular file (FIFO, socket or device?)")
        if seen is not None and not _same_file(seen, opened):
            raise OSError(errno.ELOOP, "it was replaced while being opened (by a link?)")
    except BaseException:
        os.close(fd)
        raise
    return os.fdopen(fd, "rb")


def _same_file(seen: os.stat_result, opened: os.stat_result) -> bool:
    """By file id alone: Windows may give a volume's serial in 32 bits from one call and 64 from
    another, and some file systems (network shares) have no file ids at all (0): those pass."""
    return seen.st_ino == opened.st_ino or not (seen.st_ino and opened.st_ino)


def hash_file(path: Path) -> tuple[str, int]:
    """The xxh3-128 hex digest and the number of bytes read."""
    hasher = new_hasher()
    size = 0
    with open_regular(path) as handle:
        while chunk := handle.read(CHUNK):
            hasher.update(chunk)
            size += len(chunk)
    return hasher.hexdigest(), size


def md5_file(path: Path) -> str:
    digest = new_md5()
    with open_regular(path) as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
