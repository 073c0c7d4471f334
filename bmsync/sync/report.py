"""Report: the one place a `SyncReport` is filled in from what a run decided.

A real run's report is filled as actions finish (the executor appends each path it synced), so
that a run stopped halfway reports exactly what it did; a dry run's is filled here from the
plan. Either way `finish` sorts the lists, sets the status and the duration.
"""

from __future__ import annotations

import time

from bmsync.report import ConflictReport, FileError, Guard, SyncReport
from bmsync.sync.actions import DeleteLocal, DeleteRemote, Download, ResolveConflict, Upload
from bmsync.sync.plan import Plan


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
    report.bytes_uploaded = sum(a.local.size for a in plan.of_type(Upload))
    report.bytes_downloaded = sum(a.remote.size for a in plan.of_type(Download))


def abort(report: SyncReport, guard: Guard, reason: str, started: float) -> SyncReport:
    """A safety guard stopped the run before anything changed."""
    report.status = "aborted"
    report.guard = guard
    report.abort_reason = reason
    return finish(report, started)


def finish(report: SyncReport, started: float) -> SyncReport:
    return report.finish(time.monotonic() - started)
