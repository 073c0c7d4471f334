"""Per-side change detection: how each side of a path compares with the snapshot.

Local content is identified by its xxh3 hash (the scanner only re-hashes when size, mtime or
ctime moved), so a touched file with the same bytes is UNCHANGED. Remote content is identified
by the ETag and size from the listing, so detecting a remote change costs no HEAD and no download.
"""

from __future__ import annotations

from bmsync.types import Change, LocalFile, RemoteObject, SnapshotEntry


def local_change(local: LocalFile | None, snap: SnapshotEntry | None) -> Change:
    if local is None:
        return Change.ABSENT if snap is None else Change.DELETED
    if snap is None:
        return Change.NEW
    if local.size == snap.size and local.xxh3 == snap.xxh3:
        return Change.UNCHANGED
    return Change.CHANGED


def remote_change(remote: RemoteObject | None, snap: SnapshotEntry | None) -> Change:
    if remote is None:
        return Change.ABSENT if snap is None else Change.DELETED
    if snap is None:
        return Change.NEW
    if remote.etag == snap.etag and remote.size == snap.size:
        return Change.UNCHANGED
    return Change.CHANGED


def is_touched(local: LocalFile, snap: SnapshotEntry) -> bool:
    """Same bytes, different stat: refresh the snapshot quietly so the next scan skips hashing."""
    stat_moved = local.mtime_ns != snap.mtime_ns or local.ctime_ns != snap.ctime_ns
    return stat_moved and local.size == snap.size and local.xxh3 == snap.xxh3
