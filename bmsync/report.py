"""`SyncReport`: what a run did (or, in a dry run, would do), for people and for programs.

Its JSON form is a contract (`bmsync sync --json`): the field names and their meaning stay.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Status = Literal["ok", "partial", "aborted"]
Guard = Literal["empty_side", "max_delete", "conflicts"]
"""The safety guards (`bmsync.sync.guards`), by the name a program can act on."""


@dataclass(frozen=True, slots=True)
class ProgressEvent:
    """Sent after each action: what was done to which path, and how far the run is."""

    action: str
    path: str
    done: int
    total: int
    ok: bool


ProgressFn = Callable[[ProgressEvent], None]


@dataclass(frozen=True, slots=True)
class MoveReport:
    """A rename carried to the other side as a rename: nothing was transferred."""

    path: str
    old_path: str
    side: Literal["local", "remote"]
    """Where the rename was done (the other side is where the user made it)."""


@dataclass(frozen=True, slots=True)
class ConflictReport:
    path: str
    winner: Literal["local", "remote"] | None
    """None when no version won (keep-both): the remote version stays at the path."""
    loser_copy: str | None


ChangeKind = Literal["added", "modified", "deleted", "moved"]


@dataclass(frozen=True, slots=True)
class LocalChange:
    """One thing a run did to the local folder, for an indexer that would otherwise rescan
    (basic-memory's watch service takes exactly these: added, modified, deleted, moved)."""

    change: ChangeKind
    path: str
    """Project-relative; for "moved", the new name."""
    old_path: str | None = None
    """For "moved": where the file was."""


@dataclass(frozen=True, slots=True)
class FileError:
    path: str
    message: str


@dataclass(slots=True)
class SyncReport:
    status: Status = "ok"
    dry_run: bool = False
    uploaded: list[str] = field(default_factory=list)
    downloaded: list[str] = field(default_factory=list)
    deleted_local: list[str] = field(default_factory=list)
    deleted_remote: list[str] = field(default_factory=list)
    conflicts: list[ConflictReport] = field(default_factory=list)
    moved: list[MoveReport] = field(default_factory=list)
    """Renames done as renames (a server-side copy remotely, a rename locally)."""
    errors: list[FileError] = field(default_factory=list)
    abort_reason: str | None = None
    bytes_uploaded: int = 0
    bytes_downloaded: int = 0
    duration_s: float = 0.0
    warnings: list[FileError] = field(default_factory=list)
    """Paths left alone on purpose (symlinks, devices, invalid remote keys): not errors."""
    run_id: str | None = None
    mode: str = "bisync"
    """Which workflow ran: bisync, push, pull, mirror or prune."""
    new: list[str] = field(default_factory=list)
    """Push, pull and mirror: the files the destination did not have (a subset of uploaded or
    downloaded)."""
    destination_only: list[str] = field(default_factory=list)
    """Push and pull: files only the destination holds, left as they are."""
    local_changes: list[LocalChange] = field(default_factory=list)
    """What the run did to the local folder, path by path (downloads, local deletes, conflict
    copies and renames), in the order it happened."""
    guard: Guard | None = None
    """Which safety guard stopped the run (status "aborted"), so a caller can say how to go
    ahead (`force`, or a higher `max_delete`) without parsing `abort_reason`; None otherwise."""
    folders_created: list[str] = field(default_factory=list)
    """With `dir_markers`: local folders made (empty folders of the remote)."""
    folders_removed: list[str] = field(default_factory=list)
    """With `dir_markers`: empty local folders removed (deleted on the remote)."""
    markers_created: list[str] = field(default_factory=list)
    """With `dir_markers`: folders given a `folder/` marker on the remote ("" is the prefix's
    own folder)."""
    markers_deleted: list[str] = field(default_factory=list)
    """With `dir_markers`: markers deleted, of folders gone from the folder and the remote."""

    @property
    def in_sync(self) -> bool:
        """Both sides agree now: the run finished without errors, and was no dry run that found
        something to do (a dry run changes nothing, so what it would do is still undone)."""
        return self.status == "ok" and not (self.dry_run and self.changed)

    @property
    def changed(self) -> bool:
        return bool(
            self.uploaded
            or self.downloaded
            or self.deleted_local
            or self.deleted_remote
            or self.conflicts
            or self.moved
            or self.folders_created
            or self.folders_removed
            or self.markers_created
            or self.markers_deleted
        )

    def finish(self, duration_s: float) -> SyncReport:
        self.duration_s = round(duration_s, 3)
        for names in (
            self.uploaded,
            self.downloaded,
            self.deleted_local,
            self.deleted_remote,
            self.new,
            self.destination_only,
            self.folders_created,
            self.folders_removed,
            self.markers_created,
            self.markers_deleted,
        ):
            names.sort()
        self.conflicts.sort(key=lambda c: c.path)
        self.moved.sort(key=lambda m: m.path)
        self.errors.sort(key=lambda e: e.path)
        if self.status != "aborted":
            self.status = "partial" if self.errors else "ok"
        return self

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def _resolution(self, conflict: ConflictReport) -> str:
        if self.mode == "bisync":
            kept = conflict.winner or "no winner; remote kept"
            return f"{kept}, other copy at {conflict.loser_copy}"
        if conflict.loser_copy is not None:
            return f"both kept, the incoming version at {conflict.loser_copy}"
        if conflict.winner is None:
            return "differs on both sides; nothing transferred"
        return f"the {conflict.winner} version kept"

    def summary(self) -> str:
        """A few lines for a terminal."""
        verb = "would " if self.dry_run else ""
        if self.status == "aborted":
            head = f"aborted: {self.abort_reason}"
        else:
            head = "dry run: nothing was changed" if self.dry_run else f"sync {self.status}"
        lines = [head]
        counts = [
            (len(self.uploaded), "upload" if self.dry_run else "uploaded"),
            (len(self.downloaded), "download" if self.dry_run else "downloaded"),
            (len(self.deleted_local), "delete locally" if self.dry_run else "deleted locally"),
            (len(self.deleted_remote), "delete remotely" if self.dry_run else "deleted remotely"),
            (len(self.moved), "would move" if self.dry_run else "moved"),
            (len(self.conflicts), "conflicts"),
            (len(self.folders_created), "create folders" if self.dry_run else "folders created"),
            (len(self.folders_removed), "remove folders" if self.dry_run else "folders removed"),
            (len(self.markers_created), "create markers" if self.dry_run else "markers created"),
            (len(self.markers_deleted), "delete markers" if self.dry_run else "markers deleted"),
        ]
        done = [f"{n} {what}" for n, what in counts if n]
        if done:
            lines.append(f"  {verb}" + ", ".join(done) if self.dry_run else "  " + ", ".join(done))
        elif self.status != "aborted":
            lines.append("  nothing to do: both sides agree")
        for conflict in self.conflicts:
            lines.append(f"  conflict {conflict.path}: {self._resolution(conflict)}")
        if self.destination_only:
            lines.append(
                f"  {len(self.destination_only)} only on the destination, left as they are: "
                + ", ".join(self.destination_only[:5])
                + (", …" if len(self.destination_only) > 5 else "")
            )
        for error in self.errors:
            lines.append(f"  error {error.path}: {error.message}")
        for warning in self.warnings:
            lines.append(f"  skipped {warning.path}: {warning.message}")
        moved = self.bytes_uploaded + self.bytes_downloaded
        if moved:
            lines.append(f"  {self.bytes_uploaded} bytes up, {self.bytes_downloaded} bytes down")
        lines.append(f"  took {self.duration_s:.2f} s")
        return "\n".join(lines)
