"""Moves: a renamed file (or a renamed folder of them) travels as a rename, not as a delete
and a new upload or download.

Renaming a folder of 100 notes in Obsidian looks, to a three-way diff, like 100 deletes and 100
new files: the plain plan would re-upload every byte, and the 100 deletes would trip the
max-delete guard although nothing is lost. This pass, pure like the planner, pairs each delete
with a new file of exactly the bytes the snapshot recorded for the deleted path, on the same
side:
- a local rename (`DeleteRemote` of the old path, an `Upload` creating the new one, the new
  local file's xxh3 and size those of the old path's snapshot row) becomes `MoveRemote`: a
  server-side copy and a delete, nothing uploaded;
- a remote rename (`DeleteLocal` of the old path, a `Download` creating the new one, the new
  object's ETag and size those of the old path's row) becomes `MoveLocal`: a local rename.
Only unambiguous pairs move: when several deleted paths held the same content, or several new
files hold it, they are left as deletes and transfers. A move is no delete: the guard does not
count it.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import replace
from typing import TypeVar

from bmsync.engine.actions import (
    Action,
    DeleteLocal,
    DeleteRemote,
    Download,
    MoveLocal,
    MoveRemote,
    Upload,
)
from bmsync.engine.plan import Plan
from bmsync.types import Create, Snapshot, SnapshotEntry

_D = TypeVar("_D", DeleteLocal, DeleteRemote)
_N = TypeVar("_N", Upload, Download)


def detect_moves(plan: Plan, snapshot: Snapshot) -> Plan:
    """`plan` with each unambiguous rename turned into a move (see the module docstring)."""
    deletes_remote = plan.of_type(DeleteRemote)
    deletes_local = plan.of_type(DeleteLocal)
    if not deletes_remote and not deletes_local:
        return plan  # the usual case: no index of anything
    remote_moves = _pairs(
        deletes_remote,
        [a for a in plan.of_type(Upload) if isinstance(a.mode, Create) and a.replaces is None],
        lambda d: _renamed_locally(snapshot.get(d.path), d.remote.etag),
        lambda n: (n.local.size, n.local.xxh3),
    )
    local_moves = _pairs(
        deletes_local,
        [a for a in plan.of_type(Download) if a.replaces is None],
        lambda d: _renamed_remotely(snapshot.get(d.path), d.local.xxh3),
        lambda n: (n.remote.size, n.remote.etag),
    )
    if not remote_moves and not local_moves:
        return plan
    gone = {id(d) for d, _ in remote_moves} | {id(d) for d, _ in local_moves}
    replaced: dict[int, Action] = {}
    for old_remote, upload in remote_moves:
        replaced[id(upload)] = MoveRemote(upload.path, upload.local, old_remote.remote)
    for old_local, download in local_moves:
        replaced[id(download)] = MoveLocal(download.path, download.remote, old_local.local)
    actions = tuple(replaced.get(id(a), a) for a in plan.actions if id(a) not in gone)
    return replace(plan, actions=actions)


def _renamed_locally(entry: SnapshotEntry | None, remote_etag: str) -> Hashable:
    """What a path renamed locally held (size, xxh3), if the remote still has that version
    (the one a server-side copy moves); else None."""
    if entry is None or entry.etag != remote_etag:
        return None
    return (entry.size, entry.xxh3)


def _renamed_remotely(entry: SnapshotEntry | None, local_xxh3: str) -> Hashable:
    """What a path renamed remotely held (size, ETag), if the local file still has that
    version (the one a local rename moves); else None."""
    if entry is None or entry.xxh3 != local_xxh3:
        return None
    return (entry.size, entry.etag)


def _pairs(
    deletes: Sequence[_D],
    news: Sequence[_N],
    delete_key: Callable[[_D], Hashable],
    new_key: Callable[[_N], Hashable],
) -> list[tuple[_D, _N]]:
    """Deletes and new files with the same content, where that content is unique on both."""
    by_delete = _unique(deletes, delete_key)
    by_new = _unique(news, new_key)
    return [(by_delete[k], by_new[k]) for k in by_delete.keys() & by_new.keys() if k is not None]


_T = TypeVar("_T")


def _unique(items: Sequence[_T], key: Callable[[_T], Hashable]) -> dict[Hashable, _T]:
    """By key, the items whose key no other item shares."""
    found: dict[Hashable, _T] = {}
    twice: set[Hashable] = set()
    for item in items:
        k = key(item)
        if k in found:
            twice.add(k)
        found[k] = item
    return {k: v for k, v in found.items() if k not in twice}
