"""The planner: one pure function from the three trees to the list of actions.

`plan_sync` is the decision table of docs/semantics.md and nothing else: no I/O, no clock (the
run's start time comes in), so Hypothesis can run it thousands of times. The only facts it cannot
derive from the trees, whether two modified versions hold the same bytes and the remote version's
mtime, come in as `Comparison`s that the edge gathers for exactly the paths `paths_to_compare`
names: usually none, so a normal run makes no HEAD requests.
"""

from __future__ import annotations

from collections.abc import Mapping, Set
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

from bmsync.engine.actions import (
    Action,
    DeleteLocal,
    DeleteRemote,
    Download,
    Forget,
    Record,
    ResolveConflict,
    Upload,
)
from bmsync.engine.diff import is_touched, local_change, remote_change
from bmsync.engine.model import (
    Change,
    Comparison,
    LocalFile,
    RemoteObject,
    Side,
    Snapshot,
    SnapshotEntry,
    split_name,
)
from bmsync.engine.options import ConflictStrategy
from bmsync.engine.ports import Create, Update
from bmsync.engine.reuse import reuse_kept_copies

_A = TypeVar("_A")


@dataclass(frozen=True, slots=True)
class Plan:
    actions: tuple[Action, ...]
    snapshot_size: int = 0
    skipped: tuple[str, ...] = field(default=())
    """Paths the planner could not decide (a needed comparison was missing): left alone."""

    def of_type(self, kind: type[_A]) -> list[_A]:
        return [a for a in self.actions if isinstance(a, kind)]

    @property
    def local_deletes(self) -> int:
        return sum(isinstance(a, DeleteLocal) for a in self.actions)

    @property
    def remote_deletes(self) -> int:
        return sum(isinstance(a, DeleteRemote) for a in self.actions)


def paths_to_compare(
    local: Mapping[str, LocalFile],
    remote: Mapping[str, RemoteObject],
    snapshot: Snapshot,
    *,
    resync: bool = False,
) -> list[str]:
    """Paths modified on both sides: only for these must the edge fetch a `Comparison`."""
    base: Snapshot = {} if resync else snapshot
    return sorted(
        path
        for path in local.keys() & remote.keys()
        if local_change(local[path], base.get(path)).is_modified
        and remote_change(remote[path], base.get(path)).is_modified
    )


def conflict_copy_name(path: str, stamp: datetime, taken: Set[str]) -> str:
    """`notes/x.md` → `notes/x.conflict-20261123-101500.md`, numbered if that is taken."""
    parent, stem, suffix = split_name(path)
    base = f"{stem}.conflict-{stamp:%Y%m%d-%H%M%S}"
    candidate = f"{parent}{base}{suffix}"
    number = 2
    while candidate in taken:
        candidate = f"{parent}{base}-{number}{suffix}"
        number += 1
    return candidate


def choose_winner(strategy: ConflictStrategy, local: LocalFile, remote: Comparison) -> Side | None:
    """Who keeps the path. Ties go to the remote, so every client resolves a tie the same way."""
    remote_mtime = remote.remote.effective_mtime_ns
    match strategy:
        case ConflictStrategy.NEWER:
            return Side.LOCAL if local.mtime_ns > remote_mtime else Side.REMOTE
        case ConflictStrategy.OLDER:
            return Side.LOCAL if local.mtime_ns < remote_mtime else Side.REMOTE
        case ConflictStrategy.LARGER:
            return Side.LOCAL if local.size > remote.remote.size else Side.REMOTE
        case ConflictStrategy.SMALLER:
            return Side.LOCAL if local.size < remote.remote.size else Side.REMOTE
        case ConflictStrategy.LOCAL:
            return Side.LOCAL
        case ConflictStrategy.REMOTE:
            return Side.REMOTE
        case ConflictStrategy.KEEP_BOTH:
            return None


def _agreed(local: LocalFile, remote: RemoteObject) -> SnapshotEntry:
    return SnapshotEntry(
        local.path, local.size, local.mtime_ns, local.xxh3, remote.etag, local.ctime_ns
    )


def _upload(local: LocalFile, remote: RemoteObject | None) -> Upload:
    if remote is None:
        return Upload(local.path, local, Create(), local.path)
    return Upload(local.path, local, Update(remote.etag), remote.relkey, replaces=remote)


def plan_sync(
    local: Mapping[str, LocalFile],
    remote: Mapping[str, RemoteObject],
    snapshot: Snapshot,
    comparisons: Mapping[str, Comparison],
    *,
    strategy: ConflictStrategy,
    now: datetime,
    resync: bool = False,
) -> Plan:
    """Decide every path. With `resync` (and on a first run, where the snapshot is empty) the
    snapshot is ignored, which makes the plan a union: nothing can be deleted."""
    base: Snapshot = {} if resync else snapshot
    taken: set[str] = set(local) | set(remote) | set(snapshot)
    actions: list[Action] = []
    skipped: list[str] = []
    for path in sorted(set(local) | set(remote) | set(snapshot)):
        action = _decide(
            path,
            local.get(path),
            remote.get(path),
            base.get(path),
            comparisons.get(path),
            strategy,
            now,
            taken,
        )
        if action is None:
            if path in local and path in remote and path not in comparisons:
                skipped.append(path)
            continue
        actions.append(action)
        if isinstance(action, ResolveConflict):
            taken.add(action.loser_copy)
    actions = reuse_kept_copies(actions, local, remote, snapshot, comparisons)
    return Plan(tuple(actions), snapshot_size=len(snapshot), skipped=tuple(skipped))


def _decide(
    path: str,
    lf: LocalFile | None,
    ro: RemoteObject | None,
    snap: SnapshotEntry | None,
    comparison: Comparison | None,
    strategy: ConflictStrategy,
    now: datetime,
    taken: set[str],
) -> Action | None:
    lc = local_change(lf, snap)
    rc = remote_change(ro, snap)

    if not lc.is_present and not rc.is_present:
        # Deleted on both sides (or gone from a resync's view): only the snapshot row remains.
        return Forget(path)

    if lc.is_modified and rc.is_modified:
        assert lf is not None and ro is not None
        if comparison is None:
            return None
        if comparison.equal:
            return Record(_agreed(lf, ro))
        winner = choose_winner(strategy, lf, comparison)
        return ResolveConflict(path, lf, ro, winner, conflict_copy_name(path, now, taken))

    if lc.is_modified:
        # Local new/changed; remote unchanged, deleted or absent: an edit beats a delete.
        assert lf is not None
        return _upload(lf, ro)

    if rc.is_modified:
        assert ro is not None
        return Download(path, ro, lf)

    if lc is Change.DELETED and rc is Change.UNCHANGED:
        assert ro is not None
        return DeleteRemote(path, ro)

    if lc is Change.UNCHANGED and rc is Change.DELETED:
        assert lf is not None
        return DeleteLocal(path, lf)

    # Unchanged on both sides.
    assert lf is not None and ro is not None and snap is not None
    if is_touched(lf, snap):
        return Record(_agreed(lf, ro))
    return None
