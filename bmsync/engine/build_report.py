"""Building the report: the one place a `SyncReport` is filled in from what a run decided.

A real run's report is filled as actions finish (the executor appends each path it synced), so
that a run stopped halfway reports exactly what it did; a dry run's is filled here from the
plan. Either way `finish` sorts the lists, sets the status and the duration.
"""

from __future__ import annotations

import time
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
from bmsync.engine.folders import FolderPlan
from bmsync.engine.plan import Plan
from bmsync.options import Mode, OneWayConflict, SyncOptions
from bmsync.report import ConflictReport, FileError, Guard, MoveReport, SyncReport


def start_report(run_id: str, *, dry_run: bool) -> SyncReport:
    """The empty report of run `run_id`."""
    return SyncReport(dry_run=dry_run, run_id=run_id)


def add_warnings(report: SyncReport, warnings: list[FileError]) -> None:
    report.warnings.extend(warnings)


def add_errors(report: SyncReport, failed: dict[str, str]) -> None:
    """Paths that could not be decided this run (a comparison failed): left for the next."""
    report.errors.extend(FileError(path, message) for path, message in failed.items())


def report_plan(plan: Plan, report: SyncReport) -> None:
    """A dry run's report (or an aborted one's): what the run would do."""
    report.uploaded += [a.path for a in plan.of_type(Upload)]
    report.downloaded += [a.path for a in plan.of_type(Download)]
    report.deleted_local += [a.path for a in plan.of_type(DeleteLocal)]
    report.deleted_remote += [a.path for a in plan.of_type(DeleteRemote)]
    for conflict in plan.of_type(ResolveConflict):
        report.conflicts.append(
            ConflictReport(conflict.path, conflict.winner_name, conflict.loser_copy)
        )
    report.moved += [MoveReport(a.path, a.source.path, "remote") for a in plan.of_type(MoveRemote)]
    report.moved += [MoveReport(a.path, a.source.path, "local") for a in plan.of_type(MoveLocal)]
    report.bytes_uploaded = sum(a.local.size for a in plan.of_type(Upload))
    report.bytes_downloaded = sum(a.remote.size for a in plan.of_type(Download))


def report_folders(plan: FolderPlan, report: SyncReport) -> None:
    """What a dry run would do to folders and markers (a real run reports as it goes)."""
    report.folders_created += plan.make_local
    report.folders_removed += [folder.path for folder in plan.remove_local]
    report.markers_created += plan.put_markers
    report.markers_deleted += [marker.path for marker in plan.delete_markers]


def abort(report: SyncReport, guard: Guard, reason: str, started: float) -> SyncReport:
    """A safety guard stopped the run before anything changed."""
    report.status = "aborted"
    report.guard = guard
    report.abort_reason = reason
    return finish(report, started)


def finish(report: SyncReport, started: float) -> SyncReport:
    return report.finish(time.monotonic() - started)


def report_direction(plan: Plan, options: SyncOptions, report: SyncReport) -> None:
    """What a one-way run's report adds (basic-memory's transfer plan): the mode, the files new
    to the destination, those only the destination holds, and every conflict with how the
    user's choice resolves it."""
    report.mode = options.mode.value
    if options.mode is Mode.PULL:
        report.new = [a.path for a in plan.of_type(Download) if a.replaces is None]
    elif options.mode in (Mode.PUSH, Mode.MIRROR):
        report.new = [a.path for a in plan.of_type(Upload) if a.replaces is None]
    report.destination_only = list(plan.destination_only)
    copies = {a.path: a.copy for a in plan.actions if isinstance(a, UploadCopy | DownloadCopy)}
    winner = _ONE_WAY_WINNERS[options.one_way]
    for path in plan.conflicts:
        report.conflicts.append(ConflictReport(path, winner, copies.get(path)))


_ONE_WAY_WINNERS: dict[OneWayConflict, Literal["local", "remote"] | None] = {
    OneWayConflict.FAIL: None,
    OneWayConflict.KEEP_LOCAL: "local",
    OneWayConflict.KEEP_REMOTE: "remote",
    OneWayConflict.KEEP_BOTH: None,
}
