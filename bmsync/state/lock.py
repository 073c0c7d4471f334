"""One sync per project at a time, with a lock that can never go stale.

rclone bisync's lock is a file whose existence means "locked": a run killed with SIGKILL, or a
machine that lost power, leaves it behind, and every later run refuses until someone deletes it
by hand (or its `--max-lock` expiry passes). A PID file has the same flaw plus a race between
"is that pid alive?" and writing our own. bmsync instead holds an exclusive `flock` on the lock
file: the kernel releases it when the holder exits, however it exits, so a dead holder never
blocks, and taking it is one atomic call. The file itself is never deleted (deleting it while
held would let a second process lock a new file of the same name); its content (pid, host,
start time, command) only names the holder in the error.

Windows has no `flock`; there `msvcrt.locking` locks one byte far past the holder info, which
Windows also releases when the process dies. A Windows byte-range lock is mandatory (reads of a
locked range fail), which is why the locked byte is not one the holder info is written to:
`bmsync status` and a refused second run read that info while the lock is held. And on Windows
`os.kill(pid, 0)` would not ask whether a holder is alive but terminate it, so
`portable.pid_alive` asks `OpenProcess` there.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import socket
import sys
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

from bmsync.errors import ConfigError, LockedError, StateError
from bmsync.portable import BINARY, pid_alive

LOCK_FILE_MODE = 0o600
_HOLDER_MAX_BYTES = 4096

if sys.platform == "win32":
    import msvcrt

    _LOCKED_BYTE = 1 << 30  # beyond any holder info, which must stay readable to others
    # `_locking` reports a range someone else holds as EACCES (EDEADLOCK after its retries).
    _HELD_ELSEWHERE = (errno.EACCES, errno.EDEADLK)

    def _try_lock(fd: int) -> bool:
        os.lseek(fd, _LOCKED_BYTE, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError as err:
            if err.errno in _HELD_ELSEWHERE:
                return False
            raise
        return True

    def _unlock(fd: int) -> None:
        os.lseek(fd, _LOCKED_BYTE, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

    def _pwrite(fd: int, data: bytes) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, data)

    def _pread(fd: int) -> bytes:
        os.lseek(fd, 0, os.SEEK_SET)
        return os.read(fd, _HOLDER_MAX_BYTES)

else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:  # EWOULDBLOCK/EAGAIN: someone holds it
            return False
        return True

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)

    def _pwrite(fd: int, data: bytes) -> None:
        os.pwrite(fd, data, 0)

    def _pread(fd: int) -> bytes:
        return os.pread(fd, _HOLDER_MAX_BYTES, 0)


class ProjectLock:
    """`with ProjectLock(paths.lock):` (or `async with`): hold the project for one sync.

    Raises `LockedError` at once if another process holds it; never waits. Locks are per open
    file, so a second `ProjectLock` on the same path in the same process is refused too.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None
        self.taken_over_from: str | None = None
        """Set by `acquire` when the last holder died holding the lock (it left its details
        behind; a clean release erases them): a sentence naming it, for the report."""

    def acquire(self) -> None:
        if self._fd is not None:
            raise RuntimeError(f"{self.path} is already held by this ProjectLock")
        self.taken_over_from = None
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | BINARY, LOCK_FILE_MODE)
        except OSError as err:
            raise ConfigError(
                f"cannot open the lock file {self.path}: {err.strerror}; choose a writable "
                "state folder with --state-dir (state_dir in Python) or BMSYNC_STATE_DIR"
            ) from err
        try:
            locked = _try_lock(fd)
            left_behind = _pread(fd)
        except BaseException:
            os.close(fd)
            raise
        if not locked:
            os.close(fd)
            holder = _describe_holder(left_behind) or "its details are not written yet"
            raise LockedError(
                f"another bmsync sync of this project is running ({holder}); wait for it to "
                "finish, or stop it, then run again"
            )
        self._fd = fd
        if left_behind:
            previous = _describe_holder(left_behind) or "its details were cut short"
            self.taken_over_from = (
                f"the previous sync of this project ({previous}) stopped without finishing "
                "(killed, or its machine went down); this run took over its lock and picks up "
                "where it stopped"
            )
        try:
            # Truncate first: a reader may then see nothing or a prefix, never a mix with the
            # last holder's info. `_describe_holder` copes with both.
            os.ftruncate(fd, 0)
            _pwrite(fd, _holder_info())
        except BaseException as err:
            # Held but not handed to a `with`: nothing else would ever release it, and every
            # later sync in this process (a watch, basic-memory's server) would be refused as
            # "another sync is running" (issue 16: a full disk under the state folder).
            with contextlib.suppress(OSError):
                self.release()
            if isinstance(err, OSError):
                raise StateError(
                    f"cannot write to the lock file {self.path}: {err.strerror}. Nothing was "
                    "changed. Free space on that disk (or lift the limit on file sizes) and run "
                    "again, or choose another state folder with --state-dir (state_dir in "
                    "Python) or BMSYNC_STATE_DIR"
                ) from err
            raise

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            os.ftruncate(fd, 0)
            _unlock(fd)
        finally:
            os.close(fd)  # closing releases the lock even if the calls above failed

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

    async def __aenter__(self) -> ProjectLock:
        self.acquire()  # never blocks: one non-blocking syscall and a small write
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


def describe_lock(path: Path) -> str | None:
    """For `bmsync status`: who holds or last held the lock, without touching it.

    Taking the lock to find out would make a sync started at that instant fail, so this only
    reads what the holder wrote (erased by a clean release) and, on this host, asks whether
    that pid is alive. None when no sync is running and the last one finished cleanly.
    """
    try:
        with path.open("rb") as handle:
            content = handle.read(_HOLDER_MAX_BYTES)
    except FileNotFoundError:
        return None
    if not content:
        return None
    holder = _describe_holder(content) or "its details are being written"
    try:
        info = json.loads(content)
        pid, host = int(info["pid"]), info.get("host")
    except (ValueError, KeyError, TypeError):
        return f"a sync is starting or running ({holder})"
    if host != socket.gethostname():
        return f"a sync on another machine is running or stopped without finishing ({holder})"
    if pid_alive(pid):
        return f"a sync is running ({holder})"
    return (
        f"the last sync stopped without finishing ({holder}); the next run takes over its lock "
        "and picks up where it stopped"
    )


def _holder_info() -> bytes:
    info = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "since": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join(sys.argv[:3]),
    }
    return json.dumps(info).encode()


def _describe_holder(content: bytes) -> str | None:
    """Name a holder from what it wrote; None when it wrote nothing yet, or only a part."""
    try:
        info = json.loads(content)
    except ValueError:
        return None
    if not isinstance(info, dict) or "pid" not in info:
        return None
    described = f"pid {info['pid']} on {info.get('host', 'an unknown host')}"
    if info.get("since"):
        described += f", since {info['since']}"
    if info.get("command"):
        described += f": {info['command']}"
    return described
