"""Gather: the three trees a run compares, restricted to the paths it may touch.

The S3 listing goes out first and runs while the snapshot is loaded and the folder scanned (the
scan needs the snapshot, to reuse the hash of every file whose stat did not move). Then every
path the run must leave alone is dropped from all three trees:
- ignored paths (the scanner never reports them; listed objects and snapshot rows are filtered
  here, and a snapshot row of a newly ignored path is *forgotten*, touching neither side);
- paths the scanner could not read, and everything below a folder it skipped: such a path must
  not look deleted, or its remote copy would go;
- on a case-insensitive folder, all but one of each group of case twins. Two kinds of group
  are no twins: a local file under a folder the bucket spells in another case is matched to
  that key, and a file renamed by letter case alone goes on under both names, for the
  planner to make a move of (`local/casefs.py`).
Each of them is reported as a warning saying why. The folders (for runs that keep folder
markers) are restricted the same way.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TypeVar

from bmsync.engine.folders import FolderTrees, parents
from bmsync.errors import ConfigError
from bmsync.local.casefs import (
    case_twins,
    folders_as_listed,
    is_case_insensitive,
    unsyncable_twins,
)
from bmsync.local.ignore import IgnoreRules
from bmsync.local.scan import LocalScan, scan_local
from bmsync.ports import RemoteStore
from bmsync.progress import PhaseEvent, ProgressFn, no_progress
from bmsync.report import FileError
from bmsync.types import LocalFile, RemoteListing, RemoteObject, Snapshot, SnapshotEntry

_A = TypeVar("_A")
_B = TypeVar("_B")


@dataclass(frozen=True, slots=True)
class Inputs:
    """The three trees, restricted to the paths this run may touch."""

    local: dict[str, LocalFile]
    remote: dict[str, RemoteObject]
    snapshot: dict[str, SnapshotEntry]
    forgotten: list[str]
    """Snapshot rows of newly ignored paths: dropped without touching either side (and the
    old rows of `respelled` ones)."""
    shadowed: list[str]
    """Remote paths below a local folder that was skipped (unreadable, a symlink): left alone."""
    excluded: dict[str, RemoteObject] = field(default_factory=dict)
    """Remote objects the ignore rules exclude: invisible to a sync, deleted only by a prune
    or a mirror told to delete excluded files."""
    folders: FolderTrees = field(default_factory=FolderTrees)
    """The folders, gathered only for runs that keep folder markers."""
    respelled: list[SnapshotEntry] = field(default_factory=list)
    """Snapshot rows now under the path their file is matched as (a folder the bucket spells
    in another case, on a case-insensitive folder): written in place of the old rows, which
    are in `forgotten`."""


@dataclass(slots=True)
class Gathered:
    """What the gather step hands on: the restricted trees and what else it learnt."""

    inputs: Inputs
    root_exists: bool
    temp_files: list[str] = field(default_factory=list)
    """bmsync temporary files a killed run left in the folder, to be removed."""
    warnings: list[FileError] = field(default_factory=list)
    """Every path left alone, and why."""


async def gather(
    root: Path,
    remote: RemoteStore,
    load_snapshot: Awaitable[dict[str, SnapshotEntry]],
    rules: IgnoreRules,
    load_folders: Awaitable[set[str]] | None = None,
    progress: ProgressFn | None = None,
) -> Gathered:
    """List the prefix while loading the snapshot and scanning the folder; restrict all three.
    `load_folders`, the folder baseline, is given by runs that keep folder markers; `progress`
    hears when the scan and the listing start and what each found."""
    tell = progress or no_progress
    root_exists = await asyncio.to_thread(folder_exists, root)

    async def load_and_scan() -> tuple[dict[str, SnapshotEntry], set[str], LocalScan]:
        tell(PhaseEvent("scanning"))
        snapshot = await load_snapshot
        baseline = await load_folders if load_folders is not None else set()
        scan = LocalScan()
        if root_exists:
            scan = await asyncio.to_thread(scan_local, root, rules, snapshot)
        tell(PhaseEvent("scanning", len(scan.files), finished=True))
        return snapshot, baseline, scan

    async def list_prefix() -> RemoteListing:
        tell(PhaseEvent("listing"))
        listing = await remote.list_objects()
        tell(PhaseEvent("listing", len(listing.objects), finished=True))
        return listing

    listing, (snapshot, baseline, scan) = await _both(list_prefix(), load_and_scan())
    gathered = Gathered(Inputs({}, {}, {}, [], []), root_exists, scan.temp_files)
    inputs, untouchable = await _restrict_all(root, scan, listing, snapshot, rules, gathered)
    if load_folders is not None:
        inputs = replace(
            inputs, folders=restrict_folders(scan, listing, baseline, rules, untouchable)
        )
    gathered.inputs = inputs
    return gathered


async def _both(first: Awaitable[_A], second: Awaitable[_B]) -> tuple[_A, _B]:
    """Await both at once; when one fails the other is cancelled, and the error is the
    failure itself (not an ExceptionGroup), so a caller catches `RemoteAuthError` as usual."""
    one, two = asyncio.ensure_future(first), asyncio.ensure_future(second)
    try:
        await asyncio.gather(one, two)
    except BaseException:
        one.cancel()
        two.cancel()
        await asyncio.gather(one, two, return_exceptions=True)
        raise
    return one.result(), two.result()


async def _restrict_all(
    root: Path,
    scan: LocalScan,
    listing: RemoteListing,
    snapshot: Snapshot,
    rules: IgnoreRules,
    gathered: Gathered,
) -> tuple[Inputs, set[str]]:
    """The restricted trees, and the paths left alone (each reported)."""
    warnings = gathered.warnings
    for problem in scan.problems:
        warnings.append(FileError(problem.path, problem.message))
    for rejected in listing.rejected:
        warnings.append(FileError(rejected.key, rejected.reason))
    untouchable = {p.path for p in scan.problems}
    for reserved in _reserved_in_use(listing.reserved, scan, snapshot):
        warnings.append(FileError(reserved, RESERVED_NAME))
        untouchable.add(reserved)
    twins = case_twins(set(scan.files) | set(listing.objects))
    respelled: dict[str, SnapshotEntry] = {}
    if twins and gathered.root_exists and await asyncio.to_thread(is_case_insensitive, root):
        spelled = folders_as_listed(twins, scan.files.keys(), listing.objects.keys())
        if spelled:
            scan.files = _matched_as(scan.files, spelled)
            respelled = {
                old: replace(snapshot[old], path=new)
                for old, new in spelled.items()
                if old in snapshot and new not in snapshot
            }
            snapshot = {p: e for p, e in snapshot.items() if p not in respelled}
            snapshot.update((entry.path, entry) for entry in respelled.values())
            twins = case_twins(set(scan.files) | set(listing.objects))
        left = unsyncable_twins(twins, scan.files.keys(), listing.objects.keys(), snapshot.keys())
        for path, why in left.items():
            warnings.append(FileError(path, why))
            untouchable.add(path)
    inputs = restrict(scan, listing.objects, snapshot, rules, untouchable)
    if respelled:
        forgotten = inputs.forgotten + list(respelled)
        inputs = replace(inputs, forgotten=forgotten, respelled=list(respelled.values()))
    skipped_why = {p.path: p.message for p in scan.problems}
    for path in inputs.shadowed:
        parent = next(d for d in parents(path) if d in untouchable)
        why = skipped_why.get(parent, "skipped")
        warnings.append(FileError(path, f"left alone: local folder {parent} is skipped ({why})"))
    return inputs, untouchable


def _matched_as(files: dict[str, LocalFile], spelled: dict[str, str]) -> dict[str, LocalFile]:
    """The scan's files with some of them matched under another path; each keeps its name on
    disk (`disk_path`), which every local step uses."""
    matched: dict[str, LocalFile] = {}
    for path, file in files.items():
        new = spelled.get(path)
        if new is None:
            matched[path] = file
        else:
            matched[new] = replace(file, path=new, disk_path=file.os_relpath)
    return matched


RESERVED_NAME = (
    "bmsync keeps the remote trash under this name at the top of a bucket synced whole, so "
    "this local path is not synced and nothing in it is touched on either side; rename it to "
    "sync it"
)


def _reserved_in_use(reserved: Sequence[str], scan: LocalScan, snapshot: Snapshot) -> list[str]:
    """The names the store keeps for itself (`RemoteListing.reserved`) that a local file or
    folder has, or the snapshot holds (a run before this rule uploaded such a file into the
    trash): visible on neither side, and reported. Uploading one would put it in the trash,
    outside every listing, and the next run would take it for deleted remotely."""
    return [
        name
        for name in reserved
        if name in scan.files
        or name in scan.folders
        or any(path == name or path.startswith(name + "/") for path in snapshot)
    ]


def restrict(
    scan: LocalScan,
    listing: Mapping[str, RemoteObject],
    snapshot: Snapshot,
    rules: IgnoreRules,
    untouchable: set[str],
) -> Inputs:
    """Drop ignored paths from all three trees, and leave paths that could not be read alone.

    A path the scanner could not read must not look deleted, or its remote copy would go.
    """
    scanned = scan.files.keys()  # the scanner kept only paths the rules do not ignore

    def ignored(path: str) -> bool:
        return path not in scanned and rules.is_ignored(path)

    forgotten = [p for p in snapshot if ignored(p)]
    hidden = set(forgotten) | untouchable

    def shadowed(path: str) -> bool:
        # An unreadable folder or a symlinked one hides its whole subtree, on both sides.
        return bool(untouchable) and any(parent in untouchable for parent in parents(path))

    def visible(path: str) -> bool:
        return path not in hidden and not shadowed(path)

    return Inputs(
        local={p: f for p, f in scan.files.items() if visible(p)},
        remote={p: o for p, o in listing.items() if visible(p) and not ignored(p)},
        snapshot={p: e for p, e in snapshot.items() if visible(p)},
        forgotten=forgotten,
        shadowed=sorted(p for p in listing if shadowed(p)),
        excluded={
            p: o
            for p, o in listing.items()
            if ignored(p) and p not in untouchable and not shadowed(p)
        },
    )


def restrict_folders(
    scan: LocalScan,
    listing: RemoteListing,
    baseline: set[str],
    rules: IgnoreRules,
    untouchable: set[str],
) -> FolderTrees:
    """The folders a run keeping markers may touch: not ignored, not a skipped path or below
    one. A folder holding a skipped path holds something, so it is never removed."""

    def visible(path: str) -> bool:
        return path not in untouchable and not any(p in untouchable for p in parents(path))

    def ignored(path: str) -> bool:
        return rules.is_ignored_dir(path)

    holding = set(scan.holding)
    holding.update(path.rpartition("/")[0] for path in untouchable)
    return FolderTrees(
        local={p: disk for p, disk in scan.folders.items() if visible(p)},
        holding=frozenset(holding - {""}),
        markers={p: m for p, m in listing.folders.items() if visible(p) and not ignored(p)},
        baseline=frozenset(p for p in baseline if visible(p) and not ignored(p)),
        prefix_marked=listing.prefix_marked,
        forgotten=frozenset(p for p in baseline if ignored(p)),
    )


def folder_exists(root: Path) -> bool:
    """Whether the project folder exists; a file in its place is a configuration error."""
    if root.exists() and not root.is_dir():
        raise ConfigError(f"{root} exists but is not a folder; pass the project's folder")
    return root.is_dir()
