"""`SyncReport`: what a run did (or, in a dry run, would do), for people and for programs.

Its JSON form is a contract (`bmsync sync --json`): the field names and their meaning stay.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

from bmsync.display import counted, first_few, html_table, human_bytes, short_repr
from bmsync.progress import ProgressEvent, ProgressFn

__all__ = [
    "ChangeKind",
    "ConflictReport",
    "FileError",
    "Guard",
    "LocalChange",
    "MoveReport",
    "ProgressEvent",
    "ProgressFn",
    "Status",
    "SyncReport",
]

Status = Literal["ok", "partial", "aborted"]
Guard = Literal["empty_side", "max_delete", "conflicts"]
"""The safety guards (`bmsync.engine.guards`), by the name a program can act on."""


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

    @property
    def about_the_run(self) -> bool:
        """A warning about the run itself (`(lock)`, `(throttled)`), not a path left alone."""
        return self.path.startswith("(") and self.path.endswith(")")

    def warning_line(self) -> str:
        """How a person reads it as a warning: a skipped path, or a note on the run."""
        if self.about_the_run:
            return f"warning {self.path[1:-1]}: {self.message}"
        return f"skipped {self.path}: {self.message}"


def _final_status(status: Status, errors: list[FileError]) -> Status:
    """A guard's abort stays; otherwise a run with errors did part of its work."""
    if status == "aborted":
        return status
    return "partial" if errors else "ok"


def skipped_paths(warnings: list[FileError]) -> list[FileError]:
    """The warnings that are paths left alone, without the notes on the run."""
    return [w for w in warnings if not w.about_the_run]


@dataclass(frozen=True, slots=True)
class SyncReport:
    """What a run did: built once, when the run ends, from what ran (`bmsync.engine.build_report`),
    and never changed after."""

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
    """Paths left alone on purpose (symlinks, devices, invalid remote keys): not errors. A
    note on the run itself has a name in parentheses for its path: `(lock)`, the lock of a
    killed run taken over; `(throttled)`, the store asked to slow down and the run ended with
    fewer transfers at once than it began with."""
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
        """This report as a finished run's: its lists in order, its status set by its errors
        (unless a guard aborted it), and how long it took."""
        return replace(
            self,
            status=_final_status(self.status, self.errors),
            duration_s=round(duration_s, 3),
            uploaded=sorted(self.uploaded),
            downloaded=sorted(self.downloaded),
            deleted_local=sorted(self.deleted_local),
            deleted_remote=sorted(self.deleted_remote),
            new=sorted(self.new),
            destination_only=sorted(self.destination_only),
            folders_created=sorted(self.folders_created),
            folders_removed=sorted(self.folders_removed),
            markers_created=sorted(self.markers_created),
            markers_deleted=sorted(self.markers_deleted),
            conflicts=sorted(self.conflicts, key=lambda c: c.path),
            moved=sorted(self.moved, key=lambda m: m.path),
            errors=sorted(self.errors, key=lambda e: e.path),
        )

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

    def counts(self) -> list[tuple[int, str]]:
        """What the run did (a dry run: would do), as (how many, what), in the order every
        rendering shows them: the summary, the repr, the notebook and terminal tables."""
        dry = self.dry_run
        return [
            (len(self.uploaded), "upload" if dry else "uploaded"),
            (len(self.downloaded), "download" if dry else "downloaded"),
            (len(self.deleted_local), "delete locally" if dry else "deleted locally"),
            (len(self.deleted_remote), "delete remotely" if dry else "deleted remotely"),
            (len(self.moved), "move" if dry else "moved"),
            (len(self.conflicts), "conflicts"),
            (len(self.folders_created), "create folders" if dry else "folders created"),
            (len(self.folders_removed), "remove folders" if dry else "folders removed"),
            (len(self.markers_created), "create markers" if dry else "markers created"),
            (len(self.markers_deleted), "delete markers" if dry else "markers deleted"),
        ]

    @property
    def headline(self) -> str:
        """`ok`, `partial`, `dry run` or `aborted (max_delete)`: the status a person reads."""
        if self.status == "aborted":
            return f"aborted ({self.guard})" if self.guard else "aborted"
        return "dry run" if self.dry_run else self.status

    def __repr__(self) -> str:
        problems = [(len(self.errors), "errors"), (len(skipped_paths(self.warnings)), "skipped")]
        done = counted(self.counts() + problems, empty="nothing to do")
        return short_repr("SyncReport", self.headline, f"{done} in {self.duration_s:.2f} s")

    def _repr_html_(self) -> str:
        rows: list[tuple[str, object]] = [("mode", self.mode)]
        rows += [(what, number) for number, what in self.counts() if number]
        if self.bytes_uploaded or self.bytes_downloaded:
            up, down = human_bytes(self.bytes_uploaded), human_bytes(self.bytes_downloaded)
            rows.append(("bytes", f"{up} up, {down} down"))
        if self.conflicts:
            rows.append(("conflicts at", first_few([c.path for c in self.conflicts])))
        notes = [w for w in self.warnings if w.about_the_run]
        for title, problems in (
            ("errors", self.errors),
            ("skipped", skipped_paths(self.warnings)),
            ("warnings", notes),
        ):
            if problems:
                rows.append((title, f"{len(problems)}: {first_few([p.path for p in problems])}"))
        if self.abort_reason:
            rows.append(("why", self.abort_reason))
        rows.append(("took", f"{self.duration_s:.2f} s"))
        return html_table(f"SyncReport: {self.headline}", rows)

    def details(self) -> list[str]:
        """One line per conflict, error and skipped path (and the files only the destination
        holds): what a person reads below the counts."""
        lines = [f"conflict {c.path}: {self._resolution(c)}" for c in self.conflicts]
        if self.destination_only:
            lines.append(
                f"{len(self.destination_only)} only on the destination, left as they are: "
                + ", ".join(self.destination_only[:5])
                + (", …" if len(self.destination_only) > 5 else "")
            )
        lines += [f"error {error.path}: {error.message}" for error in self.errors]
        lines += [warning.warning_line() for warning in self.warnings]
        return lines

    def summary(self) -> str:
        """A few lines for a terminal."""
        verb = "would " if self.dry_run else ""
        if self.status == "aborted":
            head = f"aborted: {self.abort_reason}"
        else:
            head = "dry run: nothing was changed" if self.dry_run else f"sync {self.status}"
        lines = [head]
        done = [f"{n} {what}" for n, what in self.counts() if n]
        if done:
            lines.append(f"  {verb}" + ", ".join(done) if self.dry_run else "  " + ", ".join(done))
        elif self.status != "aborted":
            lines.append("  nothing to do: both sides agree")
        lines += [f"  {line}" for line in self.details()]
        moved = self.bytes_uploaded + self.bytes_downloaded
        if moved:
            lines.append(f"  {self.bytes_uploaded} bytes up, {self.bytes_downloaded} bytes down")
        lines.append(f"  took {self.duration_s:.2f} s")
        return "\n".join(lines)
