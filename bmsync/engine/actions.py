"""The operations a plan is made of.

Each action carries what the planner saw (the `LocalFile` / `RemoteObject`), so the executor can
check just before acting that the path still holds exactly that, and back off if it does not.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from bmsync.types import LocalFile, PutMode, RemoteObject, Settlement, Side, SnapshotEntry


@dataclass(frozen=True, slots=True)
class Upload:
    path: str
    local: LocalFile
    mode: PutMode
    relkey: str
    """The remote key below the prefix: the existing object's key, else `path`."""
    replaces: RemoteObject | None = None
    """The remote version being overwritten, kept in the remote trash first."""


@dataclass(frozen=True, slots=True)
class Download:
    path: str
    remote: RemoteObject
    replaces: LocalFile | None
    """The local version being overwritten (moved to the trash first); None: path must be free."""


@dataclass(frozen=True, slots=True)
class DeleteLocal:
    path: str
    local: LocalFile


@dataclass(frozen=True, slots=True)
class DeleteRemote:
    path: str
    remote: RemoteObject


@dataclass(frozen=True, slots=True)
class Record:
    """Both sides already agree (same content, or a touched file): update the snapshot only."""

    entry: SnapshotEntry

    @property
    def path(self) -> str:
        return self.entry.path


@dataclass(frozen=True, slots=True)
class Forget:
    """Gone from both sides (or newly ignored): drop the snapshot row, touch nothing."""

    path: str


@dataclass(frozen=True, slots=True)
class ResolveConflict:
    """Both sides changed the path differently.

    The winner's version ends at `path` on both sides, the loser's at `loser_copy` on both sides.
    With no winner (keep-both) the remote version stays at the path and the local one becomes
    the copy, exactly like a tie.
    """

    path: str
    local: LocalFile
    remote: RemoteObject
    winner: Side | None
    loser_copy: str
    kept_copy: LocalFile | None = None
    """The remote loser is already at `loser_copy` locally: an earlier run was killed after
    keeping it (see `bmsync.engine.reuse`). None: download it there."""
    copy_on_remote: bool = False
    """`loser_copy` already holds the loser remotely too (a `Record` of this plan covers it)."""
    remote_copy: RemoteObject | None = None
    """The local loser is already at `loser_copy` remotely, as this object: a push's
    keep-both put it there (see `bmsync.engine.adopt`). None: upload it there."""

    @property
    def winner_name(self) -> Literal["local", "remote"] | None:
        match self.winner:
            case Side.LOCAL:
                return "local"
            case Side.REMOTE:
                return "remote"
            case None:
                return None

    @property
    def kept_at_path(self) -> Side:
        return Side.LOCAL if self.winner is Side.LOCAL else Side.REMOTE


@dataclass(frozen=True, slots=True)
class UploadCopy:
    """Push with keep-both: the local version goes beside the remote one, at `copy` on the
    remote (which must be free); the path itself is left as it is on both sides."""

    path: str
    local: LocalFile
    copy: str


@dataclass(frozen=True, slots=True)
class DownloadCopy:
    """Pull with keep-both: the remote version comes beside the local one, at `copy` in the
    folder (which must be free); the path itself is left as it is on both sides."""

    path: str
    remote: RemoteObject
    copy: str


@dataclass(frozen=True, slots=True)
class Settle:
    """Push or pull with keep-both: the source's version is already beside the destination's
    (a run killed after making the copy, before recording it): record the `Settlement` only,
    so the version is not kept a second time."""

    settlement: Settlement

    @property
    def path(self) -> str:
        return self.settlement.path


@dataclass(frozen=True, slots=True)
class MoveRemote:
    """A local rename, done remotely by a server-side copy and a delete: nothing is uploaded.

    The local file at `path` is new and holds exactly the bytes the snapshot recorded for
    `source`, which is gone locally and unchanged remotely."""

    path: str
    local: LocalFile
    source: RemoteObject


@dataclass(frozen=True, slots=True)
class MoveLocal:
    """A remote rename, done locally by a rename: nothing is downloaded.

    The remote object at `path` is new and is exactly the version the snapshot recorded for
    `source`, which is gone remotely and unchanged locally."""

    path: str
    remote: RemoteObject
    source: LocalFile


Action = (
    Upload
    | Download
    | DeleteLocal
    | DeleteRemote
    | Record
    | Forget
    | ResolveConflict
    | UploadCopy
    | DownloadCopy
    | Settle
    | MoveRemote
    | MoveLocal
)
