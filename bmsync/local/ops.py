"""Changes to the local folder, each safe against crashes and against the user's own edits.

- Nothing is written outside the project folder: every parent of a target must be a real
  folder inside the root, never a symlink.
- A user path never holds a partial file: downloads go to a temporary file in the same folder,
  are fsynced, get their mtime, and are renamed into place.
- Just before a file is replaced or deleted it is re-checked against what the plan saw (size and
  mtime); if the user touched it since the scan it is left for the next run (Syncthing's
  "modified but not rescanned").
- What is replaced or deleted goes to the trash first.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from pathlib import Path
from typing import BinaryIO

import xxhash

from bmsync.engine.model import LocalFile
from bmsync.engine.ports import FileActionError, LocalChanged
from bmsync.local.names import TEMP_PREFIX, canonical
from bmsync.local.trash import Trash


def _disk(root: Path, relpath: str) -> Path:
    return root.joinpath(*relpath.split("/"))


def check_unchanged(root: Path, relpath: str, expected: LocalFile | None) -> None:
    """Raise `LocalChanged` unless `relpath` still is what the plan saw (or still absent)."""
    try:
        info = os.stat(_disk(root, relpath), follow_symlinks=False)
    except FileNotFoundError:
        if expected is None:
            return
        raise LocalChanged(
            f"{relpath}: deleted locally during the sync; left for the next run"
        ) from None
    except OSError as err:
        raise FileActionError(f"{relpath}: cannot check the local file: {err.strerror}") from err
    if expected is None:
        raise LocalChanged(f"{relpath}: created locally during the sync; left for the next run")
    if info.st_size != expected.size or info.st_mtime_ns != expected.mtime_ns:
        raise LocalChanged(f"{relpath}: modified locally during the sync; left for the next run")


def prepare_parent(root: Path, relpath: str) -> Path:
    """Create the target's folders; refuse symlinked or file parents so no write leaves `root`."""
    parts = relpath.split("/")
    folder = root
    for part in parts[:-1]:
        folder = folder / part
        try:
            info = os.lstat(folder)
        except FileNotFoundError:
            try:
                os.mkdir(folder)
            except FileExistsError:
                pass
            except OSError as err:
                raise FileActionError(
                    f"{relpath}: cannot create folder {folder}: {err.strerror}"
                ) from err
            info = os.lstat(folder)
        if stat.S_ISLNK(info.st_mode):
            raise FileActionError(
                f"{relpath}: {folder} is a symbolic link; bmsync never writes through links"
            )
        if not stat.S_ISDIR(info.st_mode):
            raise FileActionError(
                f"{relpath}: a file named {folder.relative_to(root)} is in the way of this folder;"
                " rename one of them"
            )
    return folder / parts[-1]


class HashingFile:
    """The download sink: writes to the temporary file and hashes what it writes."""

    def __init__(self, handle: BinaryIO) -> None:
        self.handle = handle
        self.hasher = xxhash.xxh3_128()
        self.size = 0

    def write(self, data: bytes) -> None:
        self.handle.write(data)
        self.hasher.update(data)
        self.size += len(data)


class AtomicDownload:
    """A temporary file next to the target, renamed over it by `commit`."""

    def __init__(self, root: Path, relpath: str) -> None:
        self.root = root
        self.relpath = relpath
        self.target = prepare_parent(root, relpath)
        name = f"{TEMP_PREFIX}{secrets.token_hex(4)}-{self.target.name}"[:200]
        self.temp = self.target.with_name(name)
        try:
            fd = os.open(self.temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except OSError as err:
            raise FileActionError(f"{relpath}: cannot create a file here: {err.strerror}") from err
        self.sink = HashingFile(os.fdopen(fd, "wb"))

    def commit(self, mtime_ns: int, replaces: LocalFile | None, trash: Trash) -> LocalFile:
        """fsync, set the mtime, re-check the target, keep the old version, rename into place."""
        handle = self.sink.handle
        handle.flush()
        os.fsync(handle.fileno())
        handle.close()
        os.utime(self.temp, ns=(mtime_ns, mtime_ns))
        check_unchanged(self.root, self.relpath, replaces)
        if replaces is not None:
            trash.keep_copy(self.target, self.relpath)
        os.replace(self.temp, self.target)
        _fsync_dir(self.target.parent)
        info = os.stat(self.target, follow_symlinks=False)
        path = canonical(self.relpath)
        disk_path = self.relpath if self.relpath != path else ""
        digest = self.sink.hasher.hexdigest()
        return LocalFile(path, info.st_size, info.st_mtime_ns, digest, disk_path)

    def abort(self) -> None:
        with contextlib.suppress(OSError):
            self.sink.handle.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.temp)


def delete_file(root: Path, local: LocalFile, trash: Trash) -> None:
    check_unchanged(root, local.os_relpath, local)
    path = _disk(root, local.os_relpath)
    trash.move_in(path, local.path)
    prune_empty_parents(root, path.parent)


def rename_file(root: Path, local: LocalFile, new_relpath: str) -> LocalFile:
    """Move a file to a free name without ever replacing what might be there."""
    check_unchanged(root, local.os_relpath, local)
    source = _disk(root, local.os_relpath)
    target = prepare_parent(root, new_relpath)
    try:
        os.link(source, target, follow_symlinks=False)
        os.unlink(source)
    except FileExistsError as err:
        raise FileActionError(
            f"{new_relpath}: already exists; the conflict will be retried"
        ) from err
    except OSError:
        # No hard links on this file system (exFAT, some network mounts): check, then rename.
        if os.path.lexists(target):
            raise FileActionError(f"{new_relpath}: already exists; retried next run") from None
        os.rename(source, target)
    _fsync_dir(target.parent)
    return LocalFile(new_relpath, local.size, local.mtime_ns, local.xxh3)


def prune_empty_parents(root: Path, folder: Path) -> None:
    """Remove folders the sync emptied, up to (not including) the root."""
    while folder != root and root in folder.parents:
        try:
            os.rmdir(folder)
        except OSError:
            return
        folder = folder.parent


def remove_temp_files(root: Path, relpaths: list[str]) -> None:
    for relpath in relpaths:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(_disk(root, relpath))


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
