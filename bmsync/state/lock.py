"""One sync per project at a time, with no lock file that can ever go stale.

rclone bisync's lock is a file whose existence means "locked": a killed run leaves it behind and
every later run refuses until someone deletes it by hand. bmsync holds an exclusive `flock` on
the lock file instead. The kernel releases it when the holder exits, however it exits (SIGKILL
included), so a dead holder never blocks; taking it is one atomic call, not check-then-write.
The file's content (pid, host, start time) is only there to name the holder in the error.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import socket
import sys
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

from bmsync.errors import ConfigError, LockedError


class ProjectLock:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> None:
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as err:
            raise ConfigError(f"cannot open the lock file {self.path}: {err.strerror}") from err
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            holder = _read_holder(fd)
            os.close(fd)
            if err.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise LockedError(
                    f"another bmsync sync of this project is running ({holder}); wait for it "
                    "to finish, or stop it, then run again"
                ) from None
            raise ConfigError(f"cannot lock {self.path}: {err.strerror}") from err
        info = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "since": datetime.now(UTC).isoformat(timespec="seconds"),
            "command": " ".join(sys.argv[:3]),
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is None:
            return
        try:
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> ProjectLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


def _read_holder(fd: int) -> str:
    try:
        info = json.loads(os.pread(fd, 4096, 0) or b"{}")
    except (OSError, ValueError):
        info = {}
    if not isinstance(info, dict) or "pid" not in info:
        return "holder unknown: it is just starting"
    return f"pid {info.get('pid')} on {info.get('host')}, since {info.get('since')}"
