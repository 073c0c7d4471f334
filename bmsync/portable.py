"""The file-system calls whose behaviour differs on Windows, each with one portable path.

bmsync's local safety rests on promises POSIX makes and Windows keeps differently
(docs/platforms.md):

- Bytes stay bytes. Windows' C runtime opens a descriptor in *text* mode unless told
  `O_BINARY`: a write would turn `\\n` into `\\r\\n` and a read would stop at the first Ctrl-Z.
  Every `os.open` of file content adds `BINARY`.
- A rename replaces its target at once. Windows refuses while another program (an editor, a
  virus scanner, the search indexer) holds the target open, and never replaces a read-only
  file: `retry_while_busy`, then `refusal` says which of these it is likely to be.
- fsyncing a folder makes a rename in it durable. Windows cannot open a folder as a file
  descriptor, and NTFS logs renames in its own journal: `fsync_folder` skips it there.
- A link is what `lstat` calls `S_ISLNK`. Windows also has junctions, which `lstat` calls
  folders: `is_link` sees both.
- Mode bits keep other users out. On Windows they only set the read-only flag, and the access
  list inherited from the user's profile is what keeps others out: `make_private` leaves files
  alone there.
- A path may be as long as its names allow. Windows refuses paths from 260 characters on unless
  long paths are enabled: `MAX_PATH` and `path_length_problem`.
- The same folder has one spelling. Windows paths ignore case: `same_folder`.

Every choice takes `windows=` (or the limit) as a parameter, so the Windows branch is tested
on Linux too. Nothing here imports bmsync.

It sits at the bottom rather than in the one adapter that uses it because two do: `local/`
(the notes) and `state/` (the snapshot, the lock, the trash folders), which the import contract
keeps apart; each of these rules must exist once for both.
"""

from __future__ import annotations

import errno
import ntpath
import os
import stat
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

ON_WINDOWS = sys.platform == "win32"

BINARY: int = getattr(os, "O_BINARY", 0)
"""Add to the flags of every `os.open` of file content (0 outside Windows)."""

BUSY_RETRY_DELAYS = (0.05, 0.1, 0.2, 0.4, 0.8)
"""Pauses between attempts while Windows reports a file in use: about 1.5 s in all, enough for
a virus scanner or an indexer to let go, short enough for a file held open by an editor."""

WINDOWS_MAX_PATH = 260
"""MAX_PATH: the longest path the Windows API takes without long paths, counting its NUL."""

_FOLDER_ROOM = 12
"""A folder's path must leave room for an 8.3 name (CreateDirectory: MAX_PATH minus 12)."""

_NAME_SURROGATE = 0x20000000
"""IsReparseTagNameSurrogate: a reparse point that stands for another path (symbolic link,
junction, mount point), unlike OneDrive's files-on-demand or deduplicated files."""


def retry_while_busy(
    call: Callable[[], T],
    *,
    windows: bool = ON_WINDOWS,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """`call()`, tried again for about 1.5 s while Windows refuses it with a PermissionError
    (a sharing violation: another program has the file open, usually only for a moment).

    Elsewhere a PermissionError means what it says and is raised at once. Blocking: run it in a
    worker thread.
    """
    if windows:
        for delay in BUSY_RETRY_DELAYS:
            try:
                return call()
            except PermissionError:
                sleep(delay)
    return call()


def refusal(err: OSError, *, windows: bool = ON_WINDOWS) -> str:
    """What a refused rename, replace or delete most likely means, and what to do about it."""
    if windows and isinstance(err, PermissionError):
        return (
            "Windows reports it in use or read-only: close the program that has it open (or "
            "clear its read-only flag)"
        )
    return str(err.strerror or err)


_ERROR_NOT_SAME_DEVICE = 17


def is_cross_device(err: OSError) -> bool:
    """Whether a rename failed only because source and target are on different volumes (the
    state folder on C:, the notes on D:), so a copy and a delete must do instead."""
    return err.errno == errno.EXDEV or getattr(err, "winerror", None) == _ERROR_NOT_SAME_DEVICE


def fsync_folder(folder: Path, *, windows: bool = ON_WINDOWS) -> None:
    """Make a rename or creation in `folder` durable, where the OS allows it (not Windows)."""
    if windows:
        return
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems (network mounts) refuse fsync on a folder
    finally:
        os.close(fd)


def is_link(info: os.stat_result) -> bool:
    """Whether an `lstat` result is a link bmsync must never follow nor write through: a
    symbolic link anywhere, and on Windows any name surrogate (a junction, which `lstat`
    reports as a folder and anyone can make without rights, or a mount point)."""
    return stat.S_ISLNK(info.st_mode) or bool(getattr(info, "st_reparse_tag", 0) & _NAME_SURROGATE)


def make_private(path: Path, mode: int, *, windows: bool = ON_WINDOWS) -> None:
    """`chmod` to `mode` (user-only); nothing on Windows, where mode bits only toggle the
    read-only flag and the inherited access list already keeps a user's folders private."""
    if not windows:
        os.chmod(path, mode)


def same_folder(a: str, b: str, *, windows: bool = ON_WINDOWS) -> bool:
    """Whether two absolute paths spell the same folder: on Windows letter case and `/` versus
    `\\` do not matter (`c:\\Notes` is `C:/notes`); elsewhere the strings must be equal."""
    return ntpath.normcase(a) == ntpath.normcase(b) if windows else a == b


def _max_path() -> int | None:
    if sys.platform == "win32":
        import ctypes

        try:
            # True when both the registry allows long paths and the executable's manifest asks
            # for them (python.exe's does); exported since Windows 10 1607.
            enabled = ctypes.WinDLL("ntdll").RtlAreLongPathsEnabled
        except (OSError, AttributeError):
            return WINDOWS_MAX_PATH
        enabled.restype = ctypes.c_ubyte
        enabled.argtypes = []
        return None if enabled() else WINDOWS_MAX_PATH
    return None


MAX_PATH: int | None = _max_path()
"""The longest path this process can use, counting a NUL, in UTF-16 code units: 260 on Windows
without long paths; None where only the 255-byte limit on each name applies."""


def path_length_problem(path: str, *, folder: bool, max_path: int | None = MAX_PATH) -> str | None:
    """Why the local file (or folder) `path` cannot be created under `max_path`, or None."""
    if max_path is None:
        return None
    allowed = max_path - 1 - (_FOLDER_ROOM if folder else 0)
    length = len(path.encode("utf-16-le", "surrogatepass")) // 2
    if length <= allowed:
        return None
    what = "folder" if folder else "file"
    return f"the {what} path would be {length} characters, more than the {allowed} Windows allows"


LONG_PATHS_ADVICE = "enable long paths (Windows 10 1607 or newer: the LongPathsEnabled setting)"
"""What to do about a `path_length_problem`, before the caller's "or use a shorter folder"."""


if sys.platform == "win32":
    import ctypes
    from ctypes import wintypes

    _kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
    _kernel32.OpenProcess.restype = wintypes.HANDLE
    _kernel32.OpenProcess.argtypes = [wintypes.DWORD, wintypes.BOOL, wintypes.DWORD]
    _kernel32.GetExitCodeProcess.restype = wintypes.BOOL
    _kernel32.GetExitCodeProcess.argtypes = [wintypes.HANDLE, ctypes.POINTER(wintypes.DWORD)]
    _kernel32.CloseHandle.argtypes = [wintypes.HANDLE]
    _PROCESS_QUERY_LIMITED_INFORMATION = 0x1000
    _ERROR_ACCESS_DENIED = 5
    _STILL_ACTIVE = 259

    def pid_alive(pid: int) -> bool:
        """Whether process `pid` runs on this machine, asked without touching it: on Windows
        `os.kill(pid, 0)` would terminate it, so this asks `OpenProcess`. Type-checked
        (`mypy --platform win32`), not run, here."""
        handle = _kernel32.OpenProcess(_PROCESS_QUERY_LIMITED_INFORMATION, False, pid)
        if not handle:
            # No such process, or one we may not query (which exists).
            return bool(ctypes.get_last_error() == _ERROR_ACCESS_DENIED)
        try:
            code = wintypes.DWORD()
            if not _kernel32.GetExitCodeProcess(handle, ctypes.byref(code)):
                return True
            return code.value == _STILL_ACTIVE
        finally:
            _kernel32.CloseHandle(handle)

else:

    def pid_alive(pid: int) -> bool:
        """Whether process `pid` runs on this machine (signal 0 only asks)."""
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except OSError:
            return True  # exists, owned by someone else
        return True
