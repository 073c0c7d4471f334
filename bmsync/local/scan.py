"""Scan the local folder into `LocalFile`s, hashing only what may have changed.

A file whose size, mtime and ctime equal the snapshot's keeps the snapshot's hash: an unchanged tree
costs one `stat` per file and no reads. Symlinks (and Windows junctions) are never followed (a
link could lead out of the project); they, FIFOs, sockets, devices and names the remote side or
this platform cannot hold are reported, not synced.

Every reported path is left alone by the engine on both sides, and so is every snapshot path
below it: a folder that could not be listed, or that became a symlink, must not make the files
it held look deleted, or their remote copies would be deleted too.
"""

from __future__ import annotations

import bisect
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from bmsync.local.files import file_of_stat
from bmsync.local.hashing import hash_file
from bmsync.local.ignore import IgnoreRules
from bmsync.names import canonical, is_internal, segment_problem
from bmsync.portable import is_link
from bmsync.types import LocalFile, SnapshotEntry, storable_ns


@dataclass(frozen=True, slots=True)
class ScanProblem:
    path: str
    message: str


@dataclass(slots=True)
class LocalScan:
    files: dict[str, LocalFile] = field(default_factory=dict)
    problems: list[ScanProblem] = field(default_factory=list)
    folders: dict[str, str] = field(default_factory=dict)
    """Every folder walked below the root: NFC path → its relative path on disk."""
    holding: set[str] = field(default_factory=set)
    """Folders ("" for the root) holding an entry the sync leaves alone (ignored, a link, a
    special file, unreadable): never empty, whatever the sync does to the rest."""
    temp_files: list[str] = field(default_factory=list)
    """bmsync temporary files (relative disk paths): a killed run's are removed, a live one's
    (another run writing into this folder) are left to it."""
    hashed: int = 0
    """How many files had to be read (the rest kept the snapshot's hash)."""


def scan_local(root: Path, rules: IgnoreRules, snapshot: Mapping[str, SnapshotEntry]) -> LocalScan:
    """Walk `root` (which must exist) without following links; blocking, run it in a thread."""
    scan = LocalScan()
    _walk(root, "", rules, snapshot, scan)
    _shield_snapshot_below_problems(scan, snapshot)
    return scan


def scan_path(
    root: Path, disk_rel: str, rules: IgnoreRules, snapshot: Mapping[str, SnapshotEntry]
) -> LocalScan:
    """What `scan_local` would find at one path below `root`: the file there, or everything in
    the folder there; nothing when the path is missing, ignored, or neither file nor folder.

    For a file watcher's reports (`bmsync.local.changes`): checking a few reported paths must
    not cost a walk of the whole folder. Blocking.
    """
    scan = LocalScan()
    path = canonical(disk_rel)
    try:
        info = os.lstat(root / disk_rel)
    except OSError:  # gone, or unreachable: the next full scan says which
        return scan
    if is_link(info):
        return scan  # never followed; the sync's full scan reports it
    if stat.S_ISDIR(info.st_mode):
        if not rules.is_ignored_dir(path):
            _walk(root, disk_rel, rules, snapshot, scan)
    elif (
        stat.S_ISREG(info.st_mode)
        and not rules.is_ignored(path)
        and _syncable_name(disk_rel.rsplit("/", 1)[-1], path, scan)
    ):
        _add_file(root, disk_rel, path, info, snapshot.get(path), scan)
    return scan


def find_temp_files(root: Path, rules: IgnoreRules) -> list[str]:
    """bmsync's temporary files below `root` (relative disk paths), found by name alone, for
    tidying up after a run that stopped part-way, where a full scan would cost too much."""
    found: list[str] = []
    for folder, dirs, files in os.walk(root):
        rel = os.path.relpath(folder, root).replace(os.sep, "/")
        prefix = "" if rel == "." else rel + "/"
        # Downloads never go into ignored folders, which may be large (node_modules, .git), nor
        # through links: `os.walk` follows Windows junctions, which `islink` does not see.
        dirs[:] = [
            d
            for d in dirs
            if not rules.is_ignored_dir(canonical(prefix + d))
            and not _is_link_or_gone(os.path.join(folder, d))
        ]
        found += [prefix + name for name in files if is_internal(name)]
    return found


def _is_link_or_gone(path: str) -> bool:
    try:
        return is_link(os.lstat(path))
    except OSError:
        return True


def _walk(
    root: Path,
    rel_dir: str,
    rules: IgnoreRules,
    snapshot: Mapping[str, SnapshotEntry],
    scan: LocalScan,
) -> None:
    folder = root / rel_dir if rel_dir else root
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError as err:
        where = canonical(rel_dir) if rel_dir else "."
        scan.problems.append(ScanProblem(where, f"cannot list folder: {err.strerror}"))
        return
    for entry in entries:
        if not _visit(root, rel_dir, entry, rules, snapshot, scan):
            scan.holding.add(canonical(rel_dir))


def _visit(
    root: Path,
    rel_dir: str,
    entry: os.DirEntry[str],
    rules: IgnoreRules,
    snapshot: Mapping[str, SnapshotEntry],
    scan: LocalScan,
) -> bool:
    """Scan one entry; False when the sync leaves it alone (so its folder is never empty)."""
    disk_rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
    if is_internal(entry.name) and entry.is_file(follow_symlinks=False):
        scan.temp_files.append(disk_rel)  # removed once its run is over (`local.temps`)
        return True
    path = canonical(disk_rel)
    try:
        info = entry.stat(follow_symlinks=False)
    except OSError as err:
        scan.problems.append(ScanProblem(path, f"cannot stat: {err.strerror}"))
        return False
    mode = info.st_mode
    if stat.S_ISDIR(mode) and not is_link(info):
        if rules.is_ignored_dir(path) or not _syncable_name(entry.name, path, scan):
            return False
        scan.folders[path] = disk_rel
        _walk(root, disk_rel, rules, snapshot, scan)
        return True
    if rules.is_ignored(path):
        return False
    if is_link(info):
        scan.problems.append(ScanProblem(path, _link_problem(info)))
        return False
    if not stat.S_ISREG(mode):
        scan.problems.append(ScanProblem(path, "not a regular file (FIFO, socket or device)"))
        return False
    if not _syncable_name(entry.name, path, scan):
        return False
    if path in scan.files:
        scan.problems.append(
            ScanProblem(path, "two local names differ only by Unicode normalisation")
        )
        return False
    _add_file(root, disk_rel, path, info, snapshot.get(path), scan)
    return path in scan.files


def _link_problem(info: os.stat_result) -> str:
    if stat.S_ISLNK(info.st_mode):
        return "symbolic link: not followed, not synced"
    return "junction (a link to another folder): not followed, not synced"


def _syncable_name(name: str, path: str, scan: LocalScan) -> bool:
    problem = segment_problem(name)
    if problem is not None:
        scan.problems.append(ScanProblem(path, problem))
    return problem is None


def _add_file(
    root: Path,
    disk_rel: str,
    path: str,
    info: os.stat_result,
    snap: SnapshotEntry | None,
    scan: LocalScan,
) -> None:
    disk_path = disk_rel if disk_rel != path else ""
    if snap is not None and _same_stat(snap, info):
        scan.files[path] = file_of_stat(path, info, snap.xxh3, disk_path)
        return
    try:
        digest, size = hash_file(root / disk_rel)
        after = os.stat(root / disk_rel, follow_symlinks=False)
    except OSError as err:
        scan.problems.append(ScanProblem(path, f"cannot read: {err.strerror}"))
        return
    scan.hashed += 1
    if size != after.st_size or after.st_mtime_ns != info.st_mtime_ns:
        scan.problems.append(ScanProblem(path, "changed while it was being read; next run"))
        return
    scan.files[path] = file_of_stat(path, after, digest, disk_path)


def _same_stat(snap: SnapshotEntry, info: os.stat_result) -> bool:
    """Whether the snapshot's hash still describes the file without reading it.

    Size and mtime alone miss an edit by a tool that restores the mtime (`cp -p`, `rsync -t`,
    `touch -r`) or one within a coarse timestamp's tick; the inode change time cannot be set by
    tools and moves on every write, so it catches those. It also moves on chmod, a hard link or
    a rename, which costs one read of that file and is then refreshed in the snapshot.
    """
    return (
        snap.size == info.st_size
        and snap.mtime_ns == storable_ns(info.st_mtime_ns)
        and snap.ctime_ns == storable_ns(info.st_ctime_ns)
    )


def _shield_snapshot_below_problems(scan: LocalScan, snapshot: Mapping[str, SnapshotEntry]) -> None:
    """Report the snapshot's files below each problem path as problems too.

    The engine leaves problem paths alone; without this, `private/a.md` under an unreadable
    `private/` (or under a folder replaced by a symlink) would look deleted locally and be
    deleted remotely. The root itself is not shielded: a root that cannot be listed makes the
    local side look empty, which the empty-side guard already stops.
    """
    reported = {p.path for p in scan.problems}
    folders = sorted(reported - {"."})
    if not folders or not snapshot:
        return
    known = sorted(snapshot)
    for folder in folders:
        start = folder + "/"
        at = bisect.bisect_left(known, start)
        while at < len(known) and known[at].startswith(start):
            if known[at] not in reported:
                reported.add(known[at])
                scan.problems.append(ScanProblem(known[at], f"inside {folder}, which was skipped"))
            at += 1
