"""The report of a run, built in one place from what ran: `build_report(facts, plan, outcomes)`.

A real run's outcomes are what its executor did (`outcomes.py`), recorded as each action
finished, so a run stopped halfway reports exactly what it did; a dry run's are what the same
plan would do (`outcomes.would_do`). One function turns either into the `SyncReport`, so a dry
run lists exactly the uploads, downloads, deletes, moves and conflicts the real run then
carries out. The plan adds what it alone knows (a one-way run's new files, the files only the
destination holds, conflicts it left); `RunFacts` what the run knew before executing (its id,
its options, the paths it skipped, the comparisons that failed, the guard that stopped it).
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from typing import Literal

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
from bmsync.engine.outcomes import Outcomes
from bmsync.engine.plan import Plan
from bmsync.options import Mode, OneWayConflict, SyncOptions
from bmsync.report import ConflictReport, FileError, Guard, MoveReport, SyncReport


@dataclass(frozen=True, slots=True)
class RunFacts:
    """What a run's report says besides what was carried out."""

    run_id: str
    options: SyncOptions
    started: float
    """`time.monotonic()` at the start, for the duration."""
    warnings: tuple[FileError, ...] = ()
    """Known before executing: the lock of a killed run taken over, paths left alone."""
    undecided: tuple[FileError, ...] = ()
    """Paths whose comparison failed: left for the next run."""
    guard: Guard | None = None
    abort_reason: str | None = None

    def aborted(self, guard: Guard, reason: str) -> RunFacts:
        """These facts, with the safety guard that stopped the run before anything changed."""
        return dataclasses.replace(self, guard=guard, abort_reason=reason)


@dataclass(slots=True)
class _Done:
    """The report's lists of what was done, filled from the outcomes."""

    uploaded: list[str] = field(default_factory=list)
    downloaded: list[str] = field(default_factory=list)
    deleted_local: list[str] = field(default_factory=list)
    deleted_remote: list[str] = field(default_factory=list)
    conflicts: list[ConflictReport] = field(default_factory=list)
    moved: list[MoveReport] = field(default_factory=list)
    errors: list[FileError] = field(default_factory=list)


def build_report(facts: RunFacts, plan: Plan | None, outcomes: Outcomes) -> SyncReport:
    """The finished report of a run (`plan` None: stopped before planning)."""
    done = _tally(outcomes)
    options = facts.options
    new, destination_only = _direction(plan, options.mode)
    conflicts = _planned_conflicts(plan, options.one_way) + done.conflicts
    report = SyncReport(
        status="aborted" if facts.guard is not None else "ok",
        dry_run=options.dry_run,
        uploaded=done.uploaded,
        downloaded=done.downloaded,
        deleted_local=done.deleted_local,
        deleted_remote=done.deleted_remote,
        conflicts=conflicts,
        moved=done.moved,
        errors=[*facts.undecided, *done.errors, *outcomes.errors],
        abort_reason=facts.abort_reason,
        bytes_uploaded=sum(outcome.sent for outcome in outcomes.actions),
        bytes_downloaded=sum(outcome.received for outcome in outcomes.actions),
        warnings=[*facts.warnings, *outcomes.warnings],
        run_id=facts.run_id,
        mode=options.mode.value,
        new=new,
        destination_only=destination_only,
        local_changes=list(outcomes.local_changes),
        guard=facts.guard,
        folders_created=list(outcomes.folders_created),
        folders_removed=list(outcomes.folders_removed),
        markers_created=list(outcomes.markers_created),
        markers_deleted=list(outcomes.markers_deleted),
    )
    return report.finish(time.monotonic() - facts.started)


def _tally(outcomes: Outcomes) -> _Done:
    """What the outcomes did, by the report's lists: each action done in its list, each
    failed one an error at its path."""
    done = _Done()
    for outcome in outcomes.actions:
        action = outcome.action
        if outcome.error is not None:
            done.errors.append(FileError(action.path, outcome.error))
            continue
        match action:
            case Upload():
                done.uploaded.append(action.path)
            case UploadCopy():
                done.uploaded.append(action.copy)
            case Download():
                done.downloaded.append(action.path)
            case DownloadCopy():
                done.downloaded.append(action.copy)
            case DeleteLocal():
                done.deleted_local.append(action.path)
            case DeleteRemote():
                done.deleted_remote.append(action.path)
            case ResolveConflict():
                conflict = ConflictReport(action.path, action.winner_name, action.loser_copy)
                done.conflicts.append(conflict)
            case MoveRemote():
                done.moved.append(MoveReport(action.path, action.source.path, "remote"))
            case MoveLocal():
                done.moved.append(MoveReport(action.path, action.source.path, "local"))
            case _:
                pass  # a snapshot-only action: nothing to report
    return done


def _direction(plan: Plan | None, mode: Mode) -> tuple[list[str], list[str]]:
    """A one-way run's files new to the destination, and those only the destination holds
    (basic-memory's transfer plan), from the plan whether or not they were carried out."""
    if plan is None:
        return [], []
    new: list[str] = []
    if mode is Mode.PULL:
        new = [a.path for a in plan.of_type(Download) if a.replaces is None]
    elif mode in (Mode.PUSH, Mode.MIRROR):
        new = [a.path for a in plan.of_type(Upload) if a.replaces is None]
    return new, list(plan.destination_only)


def _planned_conflicts(plan: Plan | None, one_way: OneWayConflict) -> list[ConflictReport]:
    """A one-way run's conflicts, with how the user's choice resolves each."""
    if plan is None or not plan.conflicts:
        return []
    copies = {a.path: a.copy for a in plan.actions if isinstance(a, UploadCopy | DownloadCopy)}
    winner = _ONE_WAY_WINNERS[one_way]
    return [ConflictReport(path, winner, copies.get(path)) for path in plan.conflicts]


_ONE_WAY_WINNERS: dict[OneWayConflict, Literal["local", "remote"] | None] = {
    OneWayConflict.FAIL: None,
    OneWayConflict.KEEP_LOCAL: "local",
    OneWayConflict.KEEP_REMOTE: "remote",
    OneWayConflict.KEEP_BOTH: None,
}
