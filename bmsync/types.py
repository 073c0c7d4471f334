"""The value types the sync engine passes between its steps.

Three trees meet in the planner: a `LocalFile` per file of the local scan, a `RemoteObject` per
object of the S3 listing, and a `SnapshotEntry` per path both sides agreed on after the last
successful sync. All are frozen so the pure core can share them without copying, and all paths
are project-relative POSIX strings in NFC (see `bmsync.names`). A `RunRecord` is one run of the
history the snapshot keeps, as `project_status` shows it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum

NS_MIN = -(2**63)
NS_MAX = 2**63 - 1
"""The times the snapshot can store: nanoseconds since the epoch in SQLite's 64-bit INTEGER,
1677-09-21 to 2262-04-11 (the range S3 `mtime` metadata is read in, too)."""


def storable_ns(ns: int) -> int:
    """A file time clamped into `NS_MIN`..`NS_MAX`. ext4 keeps times to 2446 (and back to
    1901), and archives and broken clocks make them; kept as they were, such a file uploaded and
    then failed the snapshot write (OverflowError) on every run (issue 16). Every stat time
    becomes a `LocalFile`'s through this, so the scanned, the stored and the re-checked time are
    one number and the next run finds nothing to do. Two times past 2262 are one time to
    bmsync; an edit still moves the inode change time, which the scan compares too."""
    return NS_MIN if ns < NS_MIN else NS_MAX if ns > NS_MAX else ns


@dataclass(frozen=True, slots=True)
class LocalFile:
    """One regular file of the local folder, as the scanner saw it."""

    path: str
    size: int
    mtime_ns: int
    xxh3: str
    """xxh3-128 hex digest; taken from the snapshot when size and mtime are unchanged."""
    disk_path: str = ""
    """The name on disk relative to the root when it differs from `path` (an NFD name)."""
    ctime_ns: int = 0
    """The inode change time: moves on every write even when a tool restores size and mtime."""

    @property
    def os_relpath(self) -> str:
        return self.disk_path or self.path


@dataclass(frozen=True, slots=True)
class RemoteObject:
    """One object of the S3 listing (ListObjectsV2 only: no metadata, no HEAD)."""

    path: str
    size: int
    etag: str
    """Unquoted: rclone's server lists ETags bare, moto and AWS quote them."""
    last_modified_ns: int
    raw_relkey: str = ""
    """The key below the prefix when it differs from `path` (an NFD key); empty otherwise."""

    @property
    def relkey(self) -> str:
        return self.raw_relkey or self.path


@dataclass(frozen=True, slots=True)
class RemoteMeta:
    """What a HEAD (or a GET's headers) adds to a listing entry: the user metadata."""

    etag: str
    size: int
    last_modified_ns: int
    mtime_ns: int | None
    """From user metadata `mtime` (rclone's key), when present and parseable."""
    xxh3: str | None
    """From user metadata `xxh3`, written by bmsync on upload."""

    @property
    def effective_mtime_ns(self) -> int:
        return self.mtime_ns if self.mtime_ns is not None else self.last_modified_ns


@dataclass(frozen=True, slots=True)
class SnapshotEntry:
    """What both sides held at `path` when they last agreed.

    Local identity is (size, mtime_ns, xxh3); remote identity is the ETag. The content size is the
    same on both sides by construction. `ctime_ns` (0 when unknown) only decides whether the
    scanner may reuse `xxh3` without reading the file.
    """

    path: str
    size: int
    mtime_ns: int
    xxh3: str
    etag: str
    ctime_ns: int = 0


Snapshot = Mapping[str, SnapshotEntry]


class Change(Enum):
    """How one side of a path compares with the snapshot."""

    ABSENT = "absent"  # not on this side, not in the snapshot
    NEW = "new"  # on this side, not in the snapshot
    UNCHANGED = "unchanged"
    CHANGED = "changed"
    DELETED = "deleted"  # in the snapshot, gone from this side

    @property
    def is_present(self) -> bool:
        return self in (Change.NEW, Change.UNCHANGED, Change.CHANGED)

    @property
    def is_modified(self) -> bool:
        """New or changed: this side holds content the snapshot does not know."""
        return self in (Change.NEW, Change.CHANGED)


class Side(Enum):
    LOCAL = "local"
    REMOTE = "remote"


@dataclass(frozen=True, slots=True)
class Settlement:
    """A push or pull conflict that `keep-both` settled: the source's version was put beside
    the destination's, at `copy`, and the path itself was left differing on purpose.

    Kept in the state so the next push or pull meeting the same source version finds nothing to
    do, however often it runs (it would otherwise keep that version once more under a new time
    stamp); a snapshot row of the path supersedes it. A two-way sync still settles the path for
    real, and uses `copy` to keep the destination's loser there rather than a second time."""

    path: str
    side: Side
    """Where the copy went: `LOCAL` for a pull, `REMOTE` for a push."""
    version: str
    """The source version that was kept: the remote ETag (pull) or the local xxh3 (push)."""
    copy: str
    copy_version: str
    """The copy as it was written: its local xxh3 (pull) or its remote ETag (push)."""


@dataclass(frozen=True, slots=True)
class Comparison:
    """The edge's answer for a path modified on both sides: same bytes or not, and when the
    remote version was last modified (for the `newer`/`older` strategies)."""

    equal: bool
    remote: RemoteMeta
    same_as_remote: tuple[str, ...] = ()
    """Local conflict copies of this path proven to hold the remote version's bytes: what a
    run killed mid-conflict left behind (`bmsync.engine.reuse`)."""
    same_as_local: tuple[str, ...] = ()
    """Remote conflict copies of this path proven to hold the local version's bytes (asked
    for by a push with keep-both only): what a push killed before it recorded its
    `Settlement` left behind."""


@dataclass(frozen=True, slots=True)
class RejectedKey:
    """A listed key that cannot be a local path (`..`, control characters, …)."""

    key: str
    reason: str


@dataclass(frozen=True, slots=True)
class FolderMarker:
    """A zero-byte `folder/` object: how S3 tools, and TigrisFS mounts (which show only the
    folders that have one), know a folder, empty or not."""

    path: str
    """The folder's NFC path relative to the prefix, without the trailing `/`."""
    etag: str
    raw_relkey: str = ""
    """The folder's key below the prefix (without the `/`) when it differs from `path`."""

    @property
    def relkey(self) -> str:
        return self.raw_relkey or self.path


@dataclass(frozen=True, slots=True)
class RemoteListing:
    objects: dict[str, RemoteObject]
    """By NFC path relative to the prefix; folder markers (keys ending in `/`) are left out."""
    rejected: Sequence[RejectedKey] = ()
    folders: Mapping[str, FolderMarker] = field(default_factory=dict)
    """The zero-byte folder markers below the prefix, by folder path; ones whose name no local
    folder could have are left out, as are keys ending in `/` that hold data."""
    prefix_marked: bool = True
    """Whether the prefix's own folder has its marker (`prefix/`); a whole bucket needs none."""
    reserved: Sequence[str] = ()
    """Top-level names below the prefix the store keeps for itself (`.bmsync-trash` when the
    prefix is a whole bucket): left out of the listing, and synced on neither side."""


@dataclass(frozen=True, slots=True)
class TrashedObject:
    """One version in the remote trash: what run `run_id` deleted or overwrote at `relkey`."""

    run_id: str
    relkey: str
    size: int


@dataclass(frozen=True, slots=True)
class Create:
    """Write only if no object exists at the key (`If-None-Match: *`)."""


@dataclass(frozen=True, slots=True)
class Update:
    """Write only if the object still has this ETag (`If-Match`)."""

    etag: str


@dataclass(frozen=True, slots=True)
class Overwrite:
    """Write whatever is there."""


PutMode = Create | Update | Overwrite


@dataclass(frozen=True, slots=True)
class RunRecord:
    """One row of the run history; `status` is `RUNNING` for a run that never finished."""

    id: str
    started_at: datetime
    finished_at: datetime | None
    status: str
    summary: dict[str, object]
