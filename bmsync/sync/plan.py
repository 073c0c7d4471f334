"""The planner: one pure function from the three trees to the list of actions.

`plan_sync` is the decision table of docs/semantics.md and nothing else: no I/O, no clock (the
run's start time comes in), so Hypothesis can run it thousands of times. The only facts it cannot
derive from the trees, whether two modified versions hold the same bytes and the remote version's
mtime, come in as `Comparison`s that the edge gathers for exactly the paths `paths_to_compare`
names: usually none, so a normal run makes no HEAD requests.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import TypeVar

from bmsync.names import conflict_copy_name
from bmsync.options import ConflictStrategy, Mode
from bmsync.sync.actions import (
    Action,
    DeleteLocal,
    DeleteRemote,
    Download,
    Forget,
    Record,
    ResolveConflict,
    Upload,
)
from bmsync.sync.diff import is_touched, local_change, remote_change
from bmsync.types import (
    Change,
    Comparison,
    Create,
    LocalFile,
    RemoteObject,
    Side,
    Snapshot,
    SnapshotEntry,
    Update,
)

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


class Verdict(Enum):
    """What the decision table says to do with one path, before the details are filled in."""

    FORGET = "forget"  # gone from both sides: drop the snapshot row
    COMPARE = "compare"  # modified on both: the same bytes are recorded, else a conflict
    UPLOAD = "upload"
    DOWNLOAD = "download"
    DELETE_LOCAL = "delete-local"
    DELETE_REMOTE = "delete-remote"
    REFRESH = "refresh"  # unchanged on both: refresh the row if only the local stat moved


_A_, _N_, _U_, _C_, _D_ = (
    Change.ABSENT,
    Change.NEW,
    Change.UNCHANGED,
    Change.CHANGED,
    Change.DELETED,
)

DECISIONS: Mapping[Mode, Mapping[tuple[Change, Change], Verdict]] = {
    Mode.BISYNC: {
        # (local, remote) as each compares with the snapshot: docs/semantics.md, row by row.
        (_A_, _A_): Verdict.FORGET,  # only in a snapshot that a resync ignores
        (_A_, _N_): Verdict.DOWNLOAD,
        (_N_, _A_): Verdict.UPLOAD,
        (_N_, _N_): Verdict.COMPARE,
        (_U_, _U_): Verdict.REFRESH,
        (_U_, _C_): Verdict.DOWNLOAD,
        (_U_, _D_): Verdict.DELETE_LOCAL,
        (_C_, _U_): Verdict.UPLOAD,
        (_C_, _C_): Verdict.COMPARE,
        (_C_, _D_): Verdict.UPLOAD,  # an edit beats a delete
        (_D_, _U_): Verdict.DELETE_REMOTE,
        (_D_, _C_): Verdict.DOWNLOAD,  # an edit beats a delete
        (_D_, _D_): Verdict.FORGET,
    },
}
"""The decision table: per mode, what each pair of per-side changes means. A pair missing from
a mode's table cannot occur (a side is ABSENT or NEW exactly when the snapshot lacks the path).
The one-way workflows are further modes: rows here, not new pipelines."""


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
    mode: Mode = Mode.BISYNC,
) -> Plan:
    """Decide every path by `mode`'s table. With `resync` (and on a first run, where the
    snapshot is empty) the snapshot is ignored, which makes the plan a union: nothing can be
    deleted. Conflict copies a killed run left are adopted afterwards (`bmsync.sync.adopt`)."""
    base: Snapshot = {} if resync else snapshot
    taken: set[str] = set(local) | set(remote) | set(snapshot)
    actions: list[Action] = []
    skipped: list[str] = []
    for path in sorted(set(local) | set(remote) | set(snapshot)):
        lf, ro, snap = local.get(path), remote.get(path), base.get(path)
        verdict = DECISIONS[mode][local_change(lf, snap), remote_change(ro, snap)]
        if verdict is Verdict.COMPARE and path not in comparisons:
            skipped.append(path)  # the edge could not compare the two versions: next run
            continue
        action = _act(verdict, path, lf, ro, snap, comparisons.get(path), strategy, now, taken)
        if action is None:
            continue
        actions.append(action)
        if isinstance(action, ResolveConflict):
            taken.add(action.loser_copy)
    return Plan(tuple(actions), snapshot_size=len(snapshot), skipped=tuple(skipped))


def _act(
    verdict: Verdict,
    path: str,
    lf: LocalFile | None,
    ro: RemoteObject | None,
    snap: SnapshotEntry | None,
    comparison: Comparison | None,
    strategy: ConflictStrategy,
    now: datetime,
    taken: set[str],
) -> Action | None:
    """The action for one path's verdict (None: nothing to do)."""
    match verdict:
        case Verdict.FORGET:
            return Forget(path)
        case Verdict.COMPARE:
            assert lf is not None and ro is not None and comparison is not None
            if comparison.equal:
                return Record(_agreed(lf, ro))
            winner = choose_winner(strategy, lf, comparison)
            return ResolveConflict(path, lf, ro, winner, conflict_copy_name(path, now, taken))
        case Verdict.UPLOAD:
            assert lf is not None
            return _upload(lf, ro)
        case Verdict.DOWNLOAD:
            assert ro is not None
            return Download(path, ro, lf)
        case Verdict.DELETE_REMOTE:
            assert ro is not None
            return DeleteRemote(path, ro)
        case Verdict.DELETE_LOCAL:
            assert lf is not None
            return DeleteLocal(path, lf)
        case Verdict.REFRESH:
            assert lf is not None and ro is not None and snap is not None
            return Record(_agreed(lf, ro)) if is_touched(lf, snap) else None
