"""Changes to the local folder, each safe against crashes and against the user's own edits.

- Nothing is written outside the project folder: every parent of a target must be a real
  folder inside the root, never a symlink.
- A user path never holds a partial file: downloads go to a temporary file in the same folder,
  are fsynced, get their mtime, and are renamed into place.
- Just before a file is replaced or deleted it is re-checked against what the plan saw (size,
  mtime and, when those match, the content); if the user changed it since the scan it is left
  for the next run (Syncthing's "modified but not rescanned").
- What is replaced or deleted goes to the trash first.
- A write that fails (disk full, file too large, a path too long for Windows, a target another
  program holds open on Windows) is a per-file error naming the path; the temporary file is
  removed and the old version stays where it was.

The calls that behave differently on Windows go through `bmsync.portable`.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

from bmsync.digests import new_hasher
from bmsync.failures import FileActionError, LocalChanged, LocalWriteFailed
from bmsync.local import temps
from bmsync.local.files import file_of_stat
from bmsync.local.hashing import hash_file
from bmsync.local.trash import Trash
from bmsync.names import canonical
from bmsync.portable import (
    BINARY,
    LONG_PATHS_ADVICE,
    MAX_PATH,
    fsync_folder,
    is_link,
    path_length_problem,
    refusal,
    retry_while_busy,
)
from bmsync.types import LocalFile, storable_ns


def _disk(root: Path, relpath: str) -> Path:
    return root.joinpath(*relpath.split("/"))


def check_unchanged(root: Path, relpath: str, expected: LocalFile | None) -> None:
    """Raise `LocalChanged` unless `relpath` still is what the plan saw (or still absent).

    Size and mtime only: cheap enough to run before and after every upload (which checks the
    content hash of what it sends itself). Before destroying a version use
    `check_before_replacing`, which also compares the content.
    """
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
    if stat.S_ISDIR(info.st_mode):
        raise _folder_in_the_way(relpath)
    if expected is None:
        raise LocalChanged(f"{relpath}: created locally during the sync; left for the next run")
    if not stat.S_ISREG(info.st_mode):
        raise LocalChanged(
            f"{relpath}: replaced by a link or special file during the sync; left alone"
        )
    if info.st_size != expected.size or storable_ns(info.st_mtime_ns) != expected.mtime_ns:
        raise LocalChanged(f"{relpath}: modified locally during the sync; left for the next run")


def check_before_replacing(root: Path, relpath: str, expected: LocalFile | None) -> None:
    """The last check before a local file is overwritten or deleted.

    Its folders must still be real folders inside `root` (one swapped for a symlink since the
    scan would make the delete or rename act outside the project), and it must still be what
    the plan saw. Size and mtime can miss an edit: timestamps as coarse as 2 s (FAT, some
    network mounts) or a tool that restores them (`cp -p`, `rsync -t`) leave both unchanged, so
    when they match the content is hashed too. One read of a file about to be replaced is
    cheap next to overwriting an edit.
    """
    check_real_parents(root, relpath)
    check_unchanged(root, relpath, expected)
    if expected is None:
        return
    try:
        digest, _ = hash_file(_disk(root, relpath))
    except OSError as err:
        raise FileActionError(
            f"{relpath}: cannot read the local file to check it: {err.strerror}"
        ) from err
    if digest != expected.xxh3:
        raise LocalChanged(
            f"{relpath}: modified locally during the sync (same size and time, other content);"
            " left for the next run"
        )


def check_real_parents(root: Path, relpath: str) -> None:
    """Every folder between `root` and `relpath` must exist and be a real folder, not a link."""
    folder = root
    for part in relpath.split("/")[:-1]:
        folder = folder / part
        try:
            info = os.lstat(folder)
        except OSError as err:
            raise FileActionError(
                f"{relpath}: cannot check folder {folder}: {err.strerror}"
            ) from err
        _require_real_folder(root, relpath, folder, info)


def _require_real_folder(root: Path, relpath: str, folder: Path, info: os.stat_result) -> None:
    if is_link(info):
        raise FileActionError(
            f"{relpath}: {folder} is a symbolic link or junction; bmsync never writes through links"
        )
    if not stat.S_ISDIR(info.st_mode):
        raise FileActionError(
            f"{relpath}: a file named {folder.relative_to(root)} is in the way of this folder;"
            " rename one of them"
        )


def on_disk(root: Path, relpath: str) -> str:
    """`relpath` with each of its folders that exists spelled as it is on disk; nothing is
    created. A target of the sync is in NFC, the folder macOS wrote may be in NFD: a write
    must go into that folder, not into a second one beside it (docs/semantics.md)."""
    parts = relpath.split("/")
    return "/".join([*_disk_names(root, parts[:-1]), parts[-1]])


def _disk_names(root: Path, parts: list[str]) -> list[str]:
    folder, names = root, []
    for part in parts:
        name = _disk_name(folder, part)
        names.append(name)
        folder = folder / name
    return names


def _disk_name(folder: Path, name: str) -> str:
    """`name`, or the entry of `folder` that is `name` in another Unicode normalisation.

    One `lstat` when `name` is there as spelled; a listing of `folder` only when it is not
    and could be spelled otherwise (an ASCII name has one spelling).
    """
    if name.isascii() or os.path.lexists(folder / name):
        return name
    wanted = canonical(name)
    try:
        with os.scandir(folder) as entries:
            spelled = sorted(e.name for e in entries if canonical(e.name) == wanted)
    except OSError:
        return name  # the folder itself is missing: `name` is made as given
    return spelled[0] if spelled else name


def prepare_parent(root: Path, relpath: str, *, max_path: int | None = MAX_PATH) -> str:
    """Create the target's folders, or find them as spelled on disk (`on_disk`); refuse
    symlinked or file parents so no write leaves `root`, and a path longer than `max_path`
    allows (Windows without long paths) before anything is created. Returns the target's
    relative path on disk."""
    parts = relpath.split("/")
    _check_length(relpath, _disk(root, relpath), folder=False, max_path=max_path)
    folders = _make_folders(root, relpath, parts[:-1], max_path=max_path)
    return "/".join([*folders, parts[-1]])


def make_folder(root: Path, relpath: str, *, max_path: int | None = MAX_PATH) -> bool:
    """Create the folder `relpath` and its parents, each a real folder inside `root` (an
    existing one as spelled on disk); whether anything was created (False: it was there)."""
    existed = os.path.isdir(root.joinpath(*_disk_names(root, relpath.split("/"))))
    _make_folders(root, relpath, relpath.split("/"), max_path=max_path)
    return not existed


def _make_folders(root: Path, relpath: str, parts: list[str], *, max_path: int | None) -> list[str]:
    """Make each folder of `parts` below `root` that is missing; the names on disk."""
    folder, names = root, []
    for part in parts:
        name = _disk_name(folder, part)
        names.append(name)
        folder = folder / name
        try:
            info = os.lstat(folder)
        except FileNotFoundError:
            _check_length(relpath, folder, folder=True, max_path=max_path)
            try:
                os.mkdir(folder)
            except FileExistsError:
                pass
            except OSError as err:
                raise FileActionError(
                    f"{relpath}: cannot create folder {folder}: {err.strerror}"
                ) from err
            info = os.lstat(folder)
        _require_real_folder(root, relpath, folder, info)
    return names


def remove_empty_folder(root: Path, relpath: str) -> bool:
    """Remove the folder `relpath` if it is empty (or already gone); False when it holds
    something, which is then left as it is. Never through a link."""
    folder = _disk(root, relpath)
    try:
        info = os.lstat(folder)
    except FileNotFoundError:
        return True  # gone already (a delete of its last file pruned it)
    check_real_parents(root, relpath)
    if is_link(info) or not stat.S_ISDIR(info.st_mode):
        raise FileActionError(f"{relpath}: no longer a folder (a file or link is there now)")
    try:
        os.rmdir(folder)
    except OSError as err:
        if err.errno in (errno.ENOTEMPTY, errno.EEXIST):
            return False
        raise FileActionError(f"{relpath}: cannot remove the folder: {err.strerror}") from err
    fsync_folder(folder.parent)
    return True


def _check_length(relpath: str, path: Path, *, folder: bool, max_path: int | None) -> None:
    problem = path_length_problem(str(path), folder=folder, max_path=max_path)
    if problem is not None:
        raise FileActionError(
            f"{relpath}: cannot be written here: {problem}; {LONG_PATHS_ADVICE}, or sync into a "
            "folder with a shorter path"
        )


def _folder_in_the_way(relpath: str) -> FileActionError:
    """A remote `a` beside a remote `a/b.md`: one local name cannot be both."""
    return FileActionError(
        f"{relpath}: a local folder has this name, so the file cannot be written here;"
        " rename one of them"
    )


LEFT_AS_IT_WAS = "the local file was left as it was; retried next run"


def _write_failed(relpath: str, err: OSError) -> LocalWriteFailed:
    reason = f"could not write the download to the local disk ({err.strerror or err})"
    return LocalWriteFailed(relpath, reason, LEFT_AS_IT_WAS)


class HashingFile:
    """The download sink: writes to the temporary file and hashes what it writes.

    A failed write (ENOSPC, EFBIG) is raised as a `FileActionError` naming the local path, so
    the report says which file could not be written and why, whatever remote streamed it.
    """

    def __init__(self, handle: BinaryIO, relpath: str = "") -> None:
        self.handle = handle
        self.relpath = relpath
        self.hasher = new_hasher()
        self.size = 0

    def write(self, data: bytes) -> None:
        try:
            self.handle.write(data)
        except OSError as err:
            raise _write_failed(self.relpath, err) from err
        self.hasher.update(data)
        self.size += len(data)

    def finish(self) -> None:
        """Flush and fsync: a full disk may only show here, when buffered bytes reach it."""
        try:
            self.handle.flush()
            os.fsync(self.handle.fileno())
            self.handle.close()
        except OSError as err:
            raise _write_failed(self.relpath, err) from err


class AtomicDownload:
    """A temporary file next to the target, renamed over it by `commit`."""

    def __init__(self, root: Path, relpath: str, *, max_path: int | None = MAX_PATH) -> None:
        self.root = root
        self.relpath = prepare_parent(root, relpath, max_path=max_path)
        """The target on disk: `relpath` in the folders as they are spelled there."""
        self.target = _disk(root, self.relpath)
        with contextlib.suppress(OSError):
            # Refused before any byte is fetched; `commit` checks again in case one appears.
            if stat.S_ISDIR(os.lstat(self.target).st_mode):
                raise _folder_in_the_way(relpath)
        self.temp = self.target.with_name(temps.new_temp_name(self.target.name))
        if path_length_problem(str(self.temp), folder=False, max_path=max_path):
            # Near Windows' path limit: the temporary name without the target's still fits.
            self.temp = self.target.with_name(temps.new_temp_name(""))
        _check_length(relpath, self.temp, folder=False, max_path=max_path)
        temps.claim(self.temp)  # before it exists: no other run may take it for a leftover
        try:
            fd = os.open(self.temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | BINARY, 0o644)
        except OSError as err:
            temps.release(self.temp)
            raise FileActionError(f"{relpath}: cannot create a file here: {err.strerror}") from err
        self.sink = HashingFile(os.fdopen(fd, "wb"), relpath)

    def commit(self, mtime_ns: int, replaces: LocalFile | None, trash: Trash) -> LocalFile:
        """fsync, set the mtime, re-check the target, keep the old version, rename into place."""
        self.sink.finish()
        os.utime(self.temp, ns=(mtime_ns, mtime_ns))
        check_before_replacing(self.root, self.relpath, replaces)
        if replaces is not None:
            trash.keep_copy(self.target, self.relpath)
            _keep_mode(self.target, self.temp)
        try:
            retry_while_busy(lambda: os.replace(self.temp, self.target))
        except OSError as err:
            reason = f"the download could not replace the local file: {refusal(err)}"
            raise LocalWriteFailed(self.relpath, reason, LEFT_AS_IT_WAS) from err
        temps.release(self.temp)
        fsync_folder(self.target.parent)
        info = os.stat(self.target, follow_symlinks=False)
        path = canonical(self.relpath)
        disk_path = self.relpath if self.relpath != path else ""
        digest = self.sink.hasher.hexdigest()
        return file_of_stat(path, info, digest, disk_path)

    def commit_new(self, mtime_ns: int) -> None:
        """fsync, set the mtime, and put the file at the target only if nothing is there
        (`move_without_replacing`). Used by restores, which must never overwrite."""
        self.sink.finish()
        os.utime(self.temp, ns=(mtime_ns, mtime_ns))
        if not move_without_replacing(self.temp, self.target):
            raise FileActionError(f"{self.relpath}: a file appeared there; nothing was replaced")
        temps.release(self.temp)

    def abort(self) -> None:
        with contextlib.suppress(OSError):
            self.sink.handle.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.temp)
        temps.release(self.temp)


def _keep_mode(target: Path, temp: Path) -> None:
    """Give the new version the mode bits the file had: a note the user made read-only (or
    executable, or private) stays so when the other side's edit replaces it. POSIX renames
    over a read-only file (the folder's permission is what counts); Windows refuses to, and
    `refusal` says why."""
    os.chmod(temp, stat.S_IMODE(os.stat(target, follow_symlinks=False).st_mode))


def delete_file(root: Path, local: LocalFile, trash: Trash) -> None:
    check_before_replacing(root, local.os_relpath, local)
    path = _disk(root, local.os_relpath)
    trash.move_in(path, local.path)
    prune_empty_parents(root, path.parent)


def rename_file(root: Path, local: LocalFile, new_relpath: str) -> LocalFile:
    """Move a file to a free name without ever replacing what might be there.

    Nothing is destroyed, so size and mtime suffice (the upload of the copy checks the content),
    but the source's folders must be real: a rename through a link would pull in a file from
    outside the project.
    """
    check_real_parents(root, local.os_relpath)
    check_unchanged(root, local.os_relpath, local)
    source = _disk(root, local.os_relpath)
    disk_relpath = prepare_parent(root, new_relpath)
    target = _disk(root, disk_relpath)
    try:
        moved = move_without_replacing(source, target)
    except OSError as err:
        raise FileActionError(
            f"{local.path}: could not be renamed to {new_relpath}: {refusal(err)}; the conflict "
            "will be retried"
        ) from err
    if not moved:
        raise FileActionError(f"{new_relpath}: already exists; the conflict will be retried")
    # The rename moved the ctime; leaving it unknown (0) makes the next scan re-read this one
    # file rather than trust a stat taken after a moment in which it could have been edited.
    disk_path = disk_relpath if disk_relpath != new_relpath else ""
    return LocalFile(canonical(new_relpath), local.size, local.mtime_ns, local.xxh3, disk_path)


def move_without_replacing(source: Path, target: Path) -> bool:
    """Move `source` to `target` unless something is there already (False: nothing moved).

    A hard link is the atomic "create, never replace" (NTFS has them too); on file systems
    without hard links (FAT, exFAT, some network mounts) the target is checked just before a
    rename, which on Windows never replaces anyway. If the source cannot be removed after the
    link (Windows: another program has it open), the link is undone, so the file is never left
    under both names.

    On a case-insensitive folder (macOS, Windows) `note.md` is "there" when `Note.md` is: a
    rename by letter case alone finds the target taken by the source itself, and is a plain
    rename.
    """
    if _same_file_by_another_case(source, target):
        retry_while_busy(lambda: os.rename(source, target))
        fsync_folder(target.parent)
        # Two hard links differing by case on a case-sensitive folder: the rename did nothing.
        return source.name not in os.listdir(source.parent)
    try:
        os.link(source, target, follow_symlinks=False)
    except FileExistsError:
        return False
    except OSError:
        if os.path.lexists(target):
            return False
        try:
            retry_while_busy(lambda: os.rename(source, target))
        except FileExistsError:  # Windows: one appeared since the check
            return False
    else:
        try:
            retry_while_busy(lambda: os.unlink(source))
        except OSError:
            os.unlink(target)
            raise
    fsync_folder(target.parent)
    return True


def _same_file_by_another_case(source: Path, target: Path) -> bool:
    """Whether `target` differs from `source` by letter case alone and the folder finds the
    source under it: `target` is there, its own spelling is not listed, the source's is.

    By the listing, not by inode numbers: FAT has none, and some drivers number each name
    looked up anew. Listed under its own spelling, `target` is a file of its own (a folder
    that tells case apart), never replaced.
    """
    if source == target or str(source).casefold() != str(target).casefold():
        return False
    if not os.path.lexists(target):
        return False
    try:
        names = os.listdir(target.parent)
    except OSError:
        return False
    return target.name not in names and source.name in names


def prune_emptied(root: Path, relfolders: Iterable[str]) -> None:
    """Remove each of these folders (relative disk paths) and its parents while they are
    empty, up to (not including) the root.

    The executor calls this for the folders its moves left behind only once every transfer of
    the run has ended: a folder removed while a download into it has found it but not yet
    created its temporary file would fail that download ("cannot create a file here").
    """
    for relfolder in sorted(relfolders, key=lambda f: -f.count("/")):
        if relfolder:
            prune_empty_parents(root, _disk(root, relfolder))


def prune_empty_parents(root: Path, folder: Path) -> None:
    """Remove folders the sync emptied, up to (not including) the root."""
    while folder != root and root in folder.parents:
        try:
            os.rmdir(folder)
        except OSError:
            return
        folder = folder.parent


def remove_temp_files(root: Path, relpaths: list[str]) -> None:
    """Remove those of bmsync's temporary files that a finished or killed run left; another
    live run's are its own (`temps.is_leftover`)."""
    for relpath in relpaths:
        path = _disk(root, relpath)
        if temps.is_leftover(path):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
