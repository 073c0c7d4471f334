"""Folders: the pure planning step of runs that keep folder markers (`dir_markers`).

S3 has no folders, only keys; a folder shows as the common prefix of the keys below it, and an
empty one only through a zero-byte `folder/` marker. TigrisFS mounts (`bm cloud mount`) show
only the folders that have a marker. So with `dir_markers` a run keeps a marker for every
folder that holds synced files, removes the markers of folders that are gone, and syncs empty
folders both ways, three-way like the files (docs/semantics.md, "Folders"):

| local \\ remote | absent | new | unchanged | deleted |
|---|---|---|---|---|
| absent | - | keep (create locally) | | |
| new | keep (marker) | keep | | |
| unchanged | | | keep | remove, unless it holds something |
| deleted | | | remove, unless it holds something | forget |

"New" is present and not in the baseline (the folders both sides held when they last agreed),
"deleted" in the baseline and gone; with no baseline (a first run, a resync) every folder is new,
so nothing is removed. A folder *holds something* when a file is below it on either side once
the file plan is done, or the local folder holds anything the sync leaves alone (ignored files,
links, unreadable entries): such a folder is kept on both sides, and so is every folder above
a kept one. The one-way modes write only their destination: push and mirror keep a marker for
every folder of the folder (mirror also removes the other markers), pull makes the remote's
folders locally; none removes a local folder.

On the remote a folder is present when it has a marker or a key below it. The prefix's own
folder gets a marker too (so a mount of the bucket shows the project), and keeps it.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field

from bmsync.engine.actions import (
    DeleteLocal,
    DeleteRemote,
    Download,
    DownloadCopy,
    MoveLocal,
    MoveRemote,
    ResolveConflict,
    Upload,
    UploadCopy,
)
from bmsync.engine.plan import Plan
from bmsync.options import Mode
from bmsync.types import FolderMarker


@dataclass(frozen=True, slots=True)
class FolderTrees:
    """The folders of the three trees, restricted like the files (ignored and skipped folders
    left out)."""

    local: Mapping[str, str] = field(default_factory=dict)
    """Every local folder below the root: NFC path → its relative path on disk."""
    holding: frozenset[str] = frozenset()
    """Local folders holding something the sync leaves alone: never removed."""
    markers: Mapping[str, FolderMarker] = field(default_factory=dict)
    baseline: frozenset[str] = frozenset()
    prefix_marked: bool = True
    forgotten: frozenset[str] = frozenset()
    """Baseline rows of folders the ignore rules now exclude: dropped, touching neither side."""


@dataclass(frozen=True, slots=True)
class LocalFolder:
    path: str
    disk_path: str


@dataclass(frozen=True, slots=True)
class FolderPlan:
    """What to do to folders once the file actions are done, and what the baseline records."""

    put_markers: tuple[str, ...] = ()
    """Folders to give a marker ("" is the prefix's own folder)."""
    delete_markers: tuple[FolderMarker, ...] = ()
    make_local: tuple[str, ...] = ()
    """Local folders to create, parents first."""
    restore_local: tuple[str, ...] = ()
    """Kept local folders that a local delete of this run may empty and prune: made again if
    they went (no report: they were there before the run)."""
    remove_local: tuple[LocalFolder, ...] = ()
    """Empty local folders to remove, children first; one that holds something stays."""
    record: tuple[str, ...] = ()
    """Folders both sides hold afterwards that the baseline lacks; each recorded only if its
    own actions succeed."""
    forget: tuple[str, ...] = ()
    """Baseline rows of folders neither side holds afterwards."""

    @property
    def empty(self) -> bool:
        return not (
            self.put_markers
            or self.delete_markers
            or self.make_local
            or self.restore_local
            or self.remove_local
            or self.record
            or self.forget
        )


@dataclass(frozen=True, slots=True)
class FilesAfter:
    """The files each side holds once a file plan's actions are done (all succeeding)."""

    local: frozenset[str]
    remote: frozenset[str]
    deleted_local: frozenset[str]
    """Local files the plan deletes: their emptied folders are pruned as they go."""


def files_after(plan: Plan, local: Collection[str], remote: Collection[str]) -> FilesAfter:
    local_after, remote_after, deleted = set(local), set(remote), set()
    for action in plan.actions:
        match action:
            case Upload():
                remote_after.add(action.path)
            case Download():
                local_after.add(action.path)
            case DeleteLocal():
                local_after.discard(action.path)
                deleted.add(action.path)
            case DeleteRemote():
                remote_after.discard(action.path)
            case ResolveConflict():
                local_after.update((action.path, action.loser_copy))
                remote_after.update((action.path, action.loser_copy))
            case UploadCopy():
                remote_after.add(action.copy)
            case DownloadCopy():
                local_after.add(action.copy)
            case MoveRemote():
                remote_after.discard(action.source.path)
                remote_after.add(action.path)
            case MoveLocal():
                local_after.discard(action.source.path)
                local_after.add(action.path)
                deleted.add(action.source.path)  # its emptied folder is pruned like a delete's
    return FilesAfter(frozenset(local_after), frozenset(remote_after), frozenset(deleted))


def parents(path: str) -> list[str]:
    """The folders above `path`, outermost first (`a/b/c.md` → `a`, `a/b`)."""
    parts = path.split("/")
    return ["/".join(parts[:i]) for i in range(1, len(parts))]


def folders_of(paths: Iterable[str]) -> set[str]:
    """Every folder above any of `paths`."""
    found: set[str] = set()
    for path in paths:
        found.update(parents(path))
    return found


def with_parents(folders: Iterable[str]) -> set[str]:
    """`folders` and every folder above them (the root, "", left out)."""
    closed = {folder for folder in folders if folder}
    return closed | folders_of(closed)


@dataclass(frozen=True, slots=True)
class _Sides:
    """Which sides a mode adds folders to and removes them from."""

    add_remote: bool
    remove_remote: bool
    add_local: bool
    remove_local: bool


_SIDES: Mapping[Mode, _Sides] = {
    Mode.BISYNC: _Sides(add_remote=True, remove_remote=True, add_local=True, remove_local=True),
    Mode.PUSH: _Sides(add_remote=True, remove_remote=False, add_local=False, remove_local=False),
    Mode.MIRROR: _Sides(add_remote=True, remove_remote=True, add_local=False, remove_local=False),
    Mode.PULL: _Sides(add_remote=False, remove_remote=False, add_local=True, remove_local=False),
}


def keeps_both_ways(local: bool, remote: bool, in_baseline: bool) -> bool:
    """The two-way table (module docstring): present on both sides, or new on one side, is
    kept; in the baseline and gone from one side is removed (unless it holds something)."""
    if local and remote:
        return True
    return (local or remote) and not in_baseline


def plan_folders(
    trees: FolderTrees,
    local_files: Collection[str],
    remote_files: Collection[str],
    plan: Plan,
    *,
    mode: Mode,
    resync: bool = False,
) -> FolderPlan:
    """Decide every folder after the file plan `plan` (see the module docstring)."""
    sides = _SIDES.get(mode)
    if sides is None:
        return FolderPlan()  # prune touches no folder
    base = frozenset() if resync else trees.baseline
    after = files_after(plan, local_files, remote_files)
    local_now = set(trees.local)
    remote_now = with_parents(trees.markers) | folders_of(remote_files)
    held_local = folders_of(after.local) | with_parents(trees.holding)
    held_remote = folders_of(after.remote)
    if mode is Mode.BISYNC:
        present = local_now | remote_now | base
        kept = {p for p in present if keeps_both_ways(p in local_now, p in remote_now, p in base)}
        local_want = remote_want = with_parents(kept | held_local | held_remote)
    else:
        source = remote_now if mode is Mode.PULL else local_now
        local_want = with_parents(local_now | source | held_local)
        remote_want = with_parents(source | held_remote)
        if not sides.remove_remote:
            remote_want |= remote_now
    local_final = local_want if sides.add_local else local_now
    remote_final = remote_want if sides.add_remote else remote_now
    puts = sorted(remote_want - trees.markers.keys()) if sides.add_remote else []
    if sides.add_remote and not trees.prefix_marked:
        puts.insert(0, "")
    gone_remote = sorted(trees.markers.keys() - remote_want) if sides.remove_remote else []
    gone_local = sorted(local_now - local_want) if sides.remove_local else []
    pruned = (local_want & local_now & folders_of(after.deleted_local)) - held_local
    return FolderPlan(
        put_markers=tuple(puts),
        delete_markers=tuple(trees.markers[p] for p in gone_remote),
        make_local=tuple(sorted(local_want - local_now)) if sides.add_local else (),
        restore_local=tuple(sorted(pruned)) if sides.add_local else (),
        remove_local=tuple(
            LocalFolder(p, trees.local[p]) for p in sorted(gone_local, key=_children_first)
        ),
        record=tuple(sorted((local_final & remote_final) - trees.baseline)),
        forget=tuple(sorted((trees.baseline - local_final - remote_final) | trees.forgotten)),
    )


def _children_first(path: str) -> tuple[int, str]:
    return -path.count("/"), path
