"""Hashing local files (with the hashers of `bmsync.digests`), opened so a swapped-in link or
FIFO is never followed: xxh3-128 identifies content, MD5 only compares with an S3 ETag."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import BinaryIO

from bmsync.digests import new_hasher, new_md5

CHUNK = 1 << 20

_OPEN_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_NONBLOCK", 0)
    | getattr(os, "O_CLOEXEC", 0)
)


def open_regular(path: Path) -> BinaryIO:
    """Open `path` for reading only if it is still a regular file.

    Between the scan's `stat` and this read the name may have become a symlink (which could lead
    out of the project) or a FIFO (whose `open` would block the run forever), so the open never
    follows a final link, never blocks, and the opened file is checked with `fstat`.
    """
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except OSError as err:
        if err.errno == errno.ELOOP:
            raise OSError(err.errno, "it is now a symbolic link, which is never followed") from err
        raise
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "it is no longer a regular file (FIFO, socket or device?)")
    except BaseException:
        os.close(fd)
        raise
    return os.fdopen(fd, "rb")


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
