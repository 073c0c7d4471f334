"""bmsync's temporary files in the user's folder: named after their owner, removed only when
the run that wrote them is provably over.

A download is written to `.bmsync-tmp-<host tag>.<pid>-<random>-<name>` beside its target and
renamed over it. Two runs can write into one folder at once (one folder synced to two
prefixes: two state folders, two locks), so a temporary file a scan finds may be another live
run's download, and removing it would fail that download. One is removed only when it is a
leftover (`is_leftover`):
- this process made it and no longer writes it (`claim`/`release` track the ones it writes);
- another process on this machine made it (its host tag is this machine's), and that process
  has ended: a killed run's file goes at the next run;
- or nothing has changed it for a day (a run never lasts a day): a name an older bmsync wrote
  (no owner in it), a file another machine wrote into a shared folder, or a process id reused
  since (docs/reliability.md).
"""

from __future__ import annotations

import os
import random
import socket
import threading
import time
import zlib
from pathlib import Path

from bmsync.names import temp_name, temp_owner
from bmsync.portable import pid_alive

HOST_TAG = f"{zlib.crc32(socket.gethostname().encode('utf-8', 'surrogatepass')):08x}"
"""This machine in a temporary file's name: a process id means something only on its host."""

STALE_AFTER_S = 24 * 3600.0
"""A temporary file unchanged this long belongs to no live run, whoever made it."""

_writing: set[str] = set()
_writing_guard = threading.Lock()

_TOKENS = random.Random()
"""Seeded once from the OS: `secrets.token_hex` asks the kernel for every token (0.1 ms here,
once per downloaded file), and a temporary name needs to be unlikely to collide, not secret.
`O_EXCL` makes a collision an error, never an overwrite. Reseeded in a forked child, which
would otherwise draw its parent's sequence."""
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_TOKENS.seed)


def new_temp_name(name: str) -> str:
    """A fresh temporary name for `name`, owned by this process on this machine."""
    return temp_name(name, f"{HOST_TAG}.{os.getpid()}-{_TOKENS.getrandbits(32):08x}")


def claim(path: Path) -> None:
    """Record that this process is about to write `path`; call before creating it. By name,
    which a random part makes unique, however the folder is spelled."""
    with _writing_guard:
        _writing.add(path.name)


def release(path: Path) -> None:
    """`path` is renamed into place or removed: no longer this process's to write."""
    with _writing_guard:
        _writing.discard(path.name)


def is_leftover(path: Path, *, now: float | None = None) -> bool:
    """Whether the temporary file at `path` belongs to a run that is over (module docstring).
    False when it is gone or cannot be examined: never remove what is not proven stale."""
    try:
        info = os.stat(path, follow_symlinks=False)
    except OSError:
        return False
    # The latest of the two: a download sets the file's mtime to the remote one's just before
    # its rename, which also moves the change time (the creation time, on Windows) to now.
    changed = max(info.st_mtime, info.st_ctime)
    if (time.time() if now is None else now) - changed > STALE_AFTER_S:
        return True
    owner = temp_owner(path.name)
    if owner is None or owner[0] != HOST_TAG:
        return False
    pid = owner[1]
    if pid == os.getpid():
        with _writing_guard:
            return path.name not in _writing
    return not pid_alive(pid)
