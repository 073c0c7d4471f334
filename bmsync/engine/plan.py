"""The planner: one pure function from the three trees to the list of actions.

`plan_sync` is the decision table of docs/semantics.md and nothing else: no I/O, no clock (the
run's start time comes in), so Hypothesis can run it thousands of times. The only facts it cannot
derive from the trees, whether two modified versions hold the same bytes and the remote version's
mtime, come in as `Comparison`s that the edge gathers for exactly the paths `paths_to_compare`
names: usually none, so a normal run makes no HEAD requests.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import TypeVar

from bmsync.engine.actions import (
    Action,
    DeleteLocal,
    DeleteRemote,
    Download,
    DownloadCopy,
    Forget,
    Record,
    ResolveConflict,
    Settle,
    Upload,
    UploadCopy,
)
from bmsync.engine.diff import is_touched, local_change, remote_change
from bmsync.names import MAX_KEY_BYTES, free_conflict_copy
from bmsync.options import Mode, OneWayConflict, TwoWayConflict
from bmsync.types import (
    Change,
    Comparison,
    Create,
    LocalFile,
    RemoteObject,
    Settlement,
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
    local_size: int = 0
    remote_size: int = 0
    """The files each side held (the remote's counting those the rules exclude): what a
    max-delete share is a share of when the snapshot holds nothing (a first mirror or prune)."""
    skipped: tuple[str, ...] = field(default=())
    """Paths the planner could not decide (a needed comparison was missing): left alone."""
    conflicts: tuple[str, ...] = field(default=())
    """Push and pull: paths whose two versions differ, however the policy resolved them."""
    unresolved: tuple[str, ...] = field(default=())
    """Push and pull with the `fail` policy: the conflicts, none of which may be transferred."""
    destination_only: tuple[str, ...] = field(default=())
    """Push and pull: paths only the destination holds, left as they are."""

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
    LEAVE = "leave"  # one-way modes: the destination changed, or the source deleted: no action


_A_, _N_, _U_, _C_, _D_ = (
    Change.ABSENT,
    Change.NEW,
    Change.UNCHANGED,
    Change.CHANGED,
    Change.DELETED,
)

_REACHABLE = [
    (_A_, _A_), (_A_, _N_), (_N_, _A_), (_N_, _N_),
    (_U_, _U_), (_U_, _C_), (_U_, _D_), (_C_, _U_), (_C_, _C_), (_C_, _D_),
    (_D_, _U_), (_D_, _C_), (_D_, _D_),
]  # fmt: skip
"""The pairs of per-side changes that can occur: a side is ABSENT or NEW exactly when the
snapshot lacks the path, UNCHANGED, CHANGED or DELETED exactly when it has it."""

ONE_WAY: Mapping[tuple[Change, Change], Verdict] = {
    # (source, destination). Additive: nothing is ever deleted, and a destination that changed
    # since the last sync is not overwritten by a source that did not: as careful as bisync.
    (_A_, _A_): Verdict.FORGET,
    (_A_, _N_): Verdict.LEAVE,  # only on the destination
    (_N_, _A_): Verdict.UPLOAD,  # "send": new on the source
    (_N_, _N_): Verdict.COMPARE,  # the same bytes are recorded, else a conflict
    (_U_, _U_): Verdict.REFRESH,
    (_U_, _C_): Verdict.LEAVE,  # changed on the destination only
    (_U_, _D_): Verdict.LEAVE,  # deleted on the destination: not brought back
    (_C_, _U_): Verdict.UPLOAD,
    (_C_, _C_): Verdict.COMPARE,
    (_C_, _D_): Verdict.UPLOAD,  # an edit beats a delete, as in bisync
    (_D_, _U_): Verdict.LEAVE,  # deleted on the source: never deleted on the destination
    (_D_, _C_): Verdict.LEAVE,
    (_D_, _D_): Verdict.FORGET,
}
"""Push and pull, written once from the source's point of view; `UPLOAD` means "send"."""


def _one_way(*, source_is_local: bool) -> dict[tuple[Change, Change], Verdict]:
    if source_is_local:
        return dict(ONE_WAY)
    send = {Verdict.UPLOAD: Verdict.DOWNLOAD}
    return {(local, remote): send.get(v, v) for (remote, local), v in ONE_WAY.items()}


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
    Mode.MIRROR: {
        # The folder is the truth: the remote ends identical to it, whatever changed there.
        (_A_, _A_): Verdict.FORGET,
        (_A_, _N_): Verdict.DELETE_REMOTE,
        (_N_, _A_): Verdict.UPLOAD,
        (_N_, _N_): Verdict.COMPARE,  # the same bytes are recorded, else uploaded over
        (_U_, _U_): Verdict.REFRESH,
        (_U_, _C_): Verdict.UPLOAD,
        (_U_, _D_): Verdict.UPLOAD,
        (_C_, _U_): Verdict.UPLOAD,
        (_C_, _C_): Verdict.COMPARE,
        (_C_, _D_): Verdict.UPLOAD,
        (_D_, _U_): Verdict.DELETE_REMOTE,
        (_D_, _C_): Verdict.DELETE_REMOTE,
        (_D_, _D_): Verdict.FORGET,
    },
    Mode.PUSH: _one_way(source_is_local=True),
    Mode.PULL: _one_way(source_is_local=False),
    Mode.PRUNE: dict.fromkeys(_REACHABLE, Verdict.LEAVE),
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
    settled: Collection[str] = (),
) -> list[str]:
    """Paths modified on both sides: only for these must the edge fetch a `Comparison`
    (`settled` aside: `settled_paths`, whose two versions are known to differ)."""
    base: Snapshot = {} if resync else snapshot
    return sorted(
        path
        for path in local.keys() & remote.keys()
        if local_change(local[path], base.get(path)).is_modified
        and remote_change(remote[path], base.get(path)).is_modified
        and path not in settled
    )


def settled_paths(
    local: Mapping[str, LocalFile],
    remote: Mapping[str, RemoteObject],
    settlements: Iterable[Settlement],
    *,
    mode: Mode,
    one_way: OneWayConflict,
) -> set[str]:
    """Push and pull with `keep-both`: the paths whose source version an earlier keep-both
    already put beside the destination's. Nothing is left to do there, whatever the
    destination did since (its own changes are its own, as in the `ONE_WAY` table), until the
    source's version changes: then it is a new conflict, and keeps both again."""
    if one_way is not OneWayConflict.KEEP_BOTH or mode not in (Mode.PUSH, Mode.PULL):
        return set()
    found: set[str] = set()
    for settlement in settlements:
        path = settlement.path
        if mode is Mode.PUSH and settlement.side is Side.REMOTE:
            source = local.get(path)
            if source is not None and source.xxh3 == settlement.version:
                found.add(path)
        elif mode is Mode.PULL and settlement.side is Side.LOCAL:
            incoming = remote.get(path)
            if incoming is not None and incoming.etag == settlement.version:
                found.add(path)
    return found


def choose_winner(strategy: TwoWayConflict, local: LocalFile, remote: Comparison) -> Side | None:
    """Who keeps the path. Ties go to the remote, so every client resolves a tie the same way."""
    remote_mtime = remote.remote.effective_mtime_ns
    match strategy:
        case TwoWayConflict.NEWER:
            return Side.LOCAL if local.mtime_ns > remote_mtime else Side.REMOTE
        case TwoWayConflict.OLDER:
            return Side.LOCAL if local.mtime_ns < remote_mtime else Side.REMOTE
        case TwoWayConflict.LARGER:
            return Side.LOCAL if local.size > remote.remote.size else Side.REMOTE
        case TwoWayConflict.SMALLER:
            return Side.LOCAL if local.size < remote.remote.size else Side.REMOTE
        case TwoWayConflict.LOCAL:
            return Side.LOCAL
        case TwoWayConflict.REMOTE:
            return Side.REMOTE
        case TwoWayConflict.KEEP_BOTH:
            return None


def _agreed(local: LocalFile, remote: RemoteObject) -> SnapshotEntry:
    return SnapshotEntry(
        local.path, local.size, local.mtime_ns, local.xxh3, remote.etag, local.ctime_ns
    )


def _upload(local: LocalFile, remote: RemoteObject | None) -> Upload:
    if remote is None:
        return Upload(local.path, local, Create(), local.path)
    return Upload(local.path, local, Update(remote.etag), remote.relkey, replaces=remote)


@dataclass(slots=True)
class _Context:
    """What decides a path besides its three versions: the run's settings and the names taken."""

    mode: Mode
    strategy: TwoWayConflict
    one_way: OneWayConflict
    now: datetime
    taken: set[str]
    key_room: int = MAX_KEY_BYTES
    conflicts: list[str] = field(default_factory=list)
    local: Mapping[str, LocalFile] = field(default_factory=dict)
    remote: Mapping[str, RemoteObject] = field(default_factory=dict)


def plan_sync(
    local: Mapping[str, LocalFile],
    remote: Mapping[str, RemoteObject],
    snapshot: Snapshot,
    comparisons: Mapping[str, Comparison],
    *,
    strategy: TwoWayConflict,
    now: datetime,
    resync: bool = False,
    mode: Mode = Mode.BISYNC,
    one_way: OneWayConflict = OneWayConflict.FAIL,
    excluded: Mapping[str, RemoteObject] | None = None,
    settled: Collection[str] = (),
    key_room: int = MAX_KEY_BYTES,
) -> Plan:
    """Decide every path by `mode`'s table. With `resync` (and on a first run, where the
    snapshot is empty) the snapshot is ignored, which makes the plan a union: nothing can be
    deleted. `one_way` resolves push and pull conflicts; `settled` (`settled_paths`) are
    conflicts an earlier keep-both settled, left as they are. `excluded`: remote objects the
    ignore rules exclude, deleted by PRUNE (and by MIRROR when the caller passes them).
    Conflict copies a killed run left are adopted afterwards (`bmsync.engine.adopt`).
    `key_room`: the bytes a path may take in a key below the remote's prefix, which conflict
    copies' names are cut to fit (`bmsync.names.sibling`)."""
    base: Snapshot = {} if resync else snapshot
    taken = set(local) | set(remote) | set(snapshot)
    context = _Context(mode, strategy, one_way, now, taken, key_room, local=local, remote=remote)
    actions: list[Action] = []
    skipped: list[str] = []
    destination = local if mode is Mode.PULL else remote
    destination_only: list[str] = []
    for path in sorted(set(local) | set(remote) | set(snapshot)):
        lf, ro, snap = local.get(path), remote.get(path), base.get(path)
        verdict = DECISIONS[mode][local_change(lf, snap), remote_change(ro, snap)]
        if verdict is Verdict.COMPARE and path in settled:
            continue  # both versions are kept already: nothing to do, not even a comparison
        if verdict is Verdict.COMPARE and path not in comparisons:
            skipped.append(path)  # the edge could not compare the two versions: next run
            continue
        if verdict is Verdict.LEAVE and mode is not Mode.PRUNE:
            if path in destination and (lf is None or ro is None):
                destination_only.append(path)
            continue
        action = _act(verdict, path, lf, ro, snap, comparisons.get(path), context)
        if action is not None:
            actions.append(action)
    actions += [DeleteRemote(path, obj) for path, obj in sorted((excluded or {}).items())]
    unresolved = context.conflicts if one_way is OneWayConflict.FAIL else []
    return Plan(
        tuple(actions),
        snapshot_size=len(snapshot),
        local_size=len(local),
        remote_size=len(remote) + len(excluded or {}),
        skipped=tuple(skipped),
        conflicts=tuple(context.conflicts),
        unresolved=tuple(unresolved) if mode in (Mode.PUSH, Mode.PULL) else (),
        destination_only=tuple(destination_only),
    )


def _act(
    verdict: Verdict,
    path: str,
    lf: LocalFile | None,
    ro: RemoteObject | None,
    snap: SnapshotEntry | None,
    comparison: Comparison | None,
    context: _Context,
) -> Action | None:
    """The action for one path's verdict (None: nothing to do)."""
    match verdict:
        case Verdict.FORGET:
            return Forget(path)
        case Verdict.COMPARE:
            assert lf is not None and ro is not None and comparison is not None
            if comparison.equal:
                return Record(_agreed(lf, ro))
            return _differing(path, lf, ro, comparison, context)
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
        case Verdict.LEAVE:
            return None


def _kept_before(
    path: str, lf: LocalFile, ro: RemoteObject, comparison: Comparison, context: _Context
) -> Settlement | None:
    """Push and pull with keep-both: the copy an earlier run made of the source's version
    beside the destination's, proven by the edge to hold those bytes, when that run was killed
    before it recorded the `Settlement`. Recording it now keeps the version once."""
    if context.mode is Mode.PUSH:
        for name in comparison.same_as_local:
            if (obj := context.remote.get(name)) is not None and name not in context.local:
                return Settlement(path, Side.REMOTE, lf.xxh3, name, obj.etag)
    else:
        for name in comparison.same_as_remote:
            if (kept := context.local.get(name)) is not None and name not in context.remote:
                return Settlement(path, Side.LOCAL, ro.etag, name, kept.xxh3)
    return None


def _differing(
    path: str, lf: LocalFile, ro: RemoteObject, comparison: Comparison, context: _Context
) -> Action | None:
    """Two different versions of one path: a conflict in bisync, push and pull; in a mirror
    the folder's version simply replaces the remote one (kept in the trash)."""
    if context.mode is Mode.MIRROR:
        return _upload(lf, ro)
    copy = free_conflict_copy(path, context.now, context.taken, max_path_bytes=context.key_room)
    if context.mode is Mode.BISYNC:
        context.taken.add(copy)
        winner = choose_winner(context.strategy, lf, comparison)
        return ResolveConflict(path, lf, ro, winner, copy)
    push = context.mode is Mode.PUSH
    kept_both = context.one_way is OneWayConflict.KEEP_BOTH
    if kept_both and (kept := _kept_before(path, lf, ro, comparison, context)) is not None:
        return Settle(kept)
    context.conflicts.append(path)
    match context.one_way:
        case OneWayConflict.FAIL:
            return None
        case OneWayConflict.KEEP_LOCAL:
            return _upload(lf, ro) if push else None
        case OneWayConflict.KEEP_REMOTE:
            return None if push else Download(path, ro, lf)
        case OneWayConflict.KEEP_BOTH:
            context.taken.add(copy)
            return UploadCopy(path, lf, copy) if push else DownloadCopy(path, ro, copy)
