"""One sync run of one project, start to finish: the steps strung together.

    lock → open snapshot → scan local ∥ list remote → compare the few doubly-modified paths
    → plan → guards → execute (recording as it goes) → report

Everything that decides is in `plan.py` and `guards.py`; this module only gathers inputs and
hands them on, so reading it top to bottom is reading the algorithm.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bmsync.engine.actions import (
    DeleteLocal,
    DeleteRemote,
    Download,
    ResolveConflict,
    Upload,
)
from bmsync.engine.compare import compare_paths
from bmsync.engine.execute import Executor, ProgressFn, SnapshotBatcher
from bmsync.engine.guards import empty_side_reason, max_delete_reason
from bmsync.engine.model import LocalFile, RemoteObject, Snapshot, SnapshotEntry
from bmsync.engine.options import SyncOptions
from bmsync.engine.plan import Plan, paths_to_compare, plan_sync
from bmsync.engine.ports import FileActionError, RemoteStore
from bmsync.engine.runs import new_run_id
from bmsync.errors import ConfigError
from bmsync.local import ops
from bmsync.local.casefs import case_twins, is_case_insensitive, unsyncable_twins
from bmsync.local.ignore import IgnoreRules
from bmsync.local.scan import LocalScan, scan_local
from bmsync.local.trash import Trash, purge_trash
from bmsync.report import ConflictReport, FileError, SyncReport
from bmsync.state.store import SnapshotStore

STALE_UPLOAD_AGE = timedelta(days=1)
"""A multipart upload begun this long ago belongs to a killed run (a run never lasts a day)."""


@dataclass(frozen=True, slots=True)
class Inputs:
    """The three trees, restricted to the paths this run may touch."""

    local: dict[str, LocalFile]
    remote: dict[str, RemoteObject]
    snapshot: dict[str, SnapshotEntry]
    forgotten: list[str]
    """Snapshot rows of newly ignored paths: dropped without touching either side."""
    shadowed: list[str]
    """Remote paths below a local folder that was skipped (unreadable, a symlink): left alone."""


def restrict(
    scan: LocalScan,
    listing: Mapping[str, RemoteObject],
    snapshot: Snapshot,
    rules: IgnoreRules,
    untouchable: set[str],
) -> Inputs:
    """Drop ignored paths from all three trees, and leave paths that could not be read alone.

    A path the scanner could not read must not look deleted, or its remote copy would go.
    """
    scanned = scan.files.keys()  # the scanner kept only paths the rules do not ignore

    def ignored(path: str) -> bool:
        return path not in scanned and rules.is_ignored(path)

    forgotten = [p for p in snapshot if ignored(p)]
    hidden = set(forgotten) | untouchable

    def shadowed(path: str) -> bool:
        # An unreadable folder or a symlinked one hides its whole subtree, on both sides.
        return bool(untouchable) and any(parent in untouchable for parent in _parents(path))

    def visible(path: str) -> bool:
        return path not in hidden and not shadowed(path)

    return Inputs(
        local={p: f for p, f in scan.files.items() if visible(p)},
        remote={p: o for p, o in listing.items() if visible(p) and not ignored(p)},
        snapshot={p: e for p, e in snapshot.items() if visible(p)},
        forgotten=forgotten,
        shadowed=sorted(p for p in listing if shadowed(p)),
    )


def _parents(path: str) -> list[str]:
    parts = path.split("/")
    return ["/".join(parts[:i]) for i in range(1, len(parts))]


def report_plan(plan: Plan, report: SyncReport) -> None:
    """A dry run's report: what the run would do."""
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


async def read_trees(
    root: Path,
    root_exists: bool,
    remote: RemoteStore,
    snapshot: Snapshot,
    rules: IgnoreRules,
    warnings: list[FileError],
) -> tuple[LocalScan, Inputs]:
    """Scan the folder and list the prefix at once, and restrict both (with the snapshot) to
    what this run may touch; each path left alone, and why, goes to `warnings`."""
    empty = LocalScan()
    scan_task = asyncio.to_thread(scan_local, root, rules, snapshot) if root_exists else None
    listing_task = remote.list_objects()
    if scan_task is not None:
        scan, listing = await asyncio.gather(scan_task, listing_task)
    else:
        scan, listing = empty, await listing_task

    for problem in scan.problems:
        warnings.append(FileError(problem.path, problem.message))
    for rejected in listing.rejected:
        warnings.append(FileError(rejected.key, rejected.reason))
    untouchable = {p.path for p in scan.problems}
    twins = case_twins(set(scan.files) | set(listing.objects))
    if twins and root_exists and await asyncio.to_thread(is_case_insensitive, root):
        for path, why in unsyncable_twins(twins, set(scan.files)).items():
            warnings.append(FileError(path, why))
            untouchable.add(path)
    inputs = restrict(scan, listing.objects, snapshot, rules, untouchable)
    skipped_why = {p.path: p.message for p in scan.problems}
    for path in inputs.shadowed:
        parent = next(d for d in _parents(path) if d in untouchable)
        why = skipped_why.get(parent, "skipped")
        warnings.append(FileError(path, f"left alone: local folder {parent} is skipped ({why})"))
    return scan, inputs


async def run_sync(
    *,
    root: Path,
    remote: RemoteStore,
    store: SnapshotStore | None,
    trash_root: Path,
    rules: IgnoreRules,
    options: SyncOptions,
    progress: ProgressFn | None = None,
    now: datetime | None = None,
) -> SyncReport:
    """Sync `root` with `remote`. `store` is None only for a dry run with no snapshot yet.

    The caller holds the project lock and opened the store; this function owns the rest.
    """
    started = time.monotonic()
    now = now or datetime.now(UTC)
    run_id = new_run_id(now)
    report = SyncReport(dry_run=options.dry_run, run_id=run_id)

    snapshot: dict[str, SnapshotEntry] = await store.load() if store is not None else {}
    root_exists = _folder_exists(root)

    scan, inputs = await read_trees(root, root_exists, remote, snapshot, rules, report.warnings)

    reason = empty_side_reason(
        snapshot_files=len(inputs.snapshot),
        local_files=len(inputs.local),
        remote_files=len(inputs.remote),
        local_exists=root_exists,
        options=options,
    )
    if reason is not None:
        return _abort(report, reason, started)

    to_compare = paths_to_compare(
        inputs.local, inputs.remote, inputs.snapshot, resync=options.resync
    )
    comparisons, failed = await compare_paths(
        root, remote, to_compare, inputs.local, inputs.remote, concurrency=options.transfers
    )
    for path, message in failed.items():
        report.errors.append(FileError(path, message))

    plan = plan_sync(
        inputs.local,
        inputs.remote,
        inputs.snapshot,
        comparisons,
        strategy=options.conflict,
        now=now,
        resync=options.resync,
    )
    reason = max_delete_reason(plan, options)
    if reason is not None:
        if options.dry_run:
            report_plan(plan, report)
        return _abort(report, reason, started)

    if options.dry_run:
        report_plan(plan, report)
        return report.finish(time.monotonic() - started)

    assert store is not None
    await store.begin_run(run_id, now)
    await asyncio.to_thread(_prepare_folder, root, scan.temp_files)
    batcher = SnapshotBatcher(store.apply)
    await batcher.add(deletes=inputs.forgotten)
    executor = Executor(
        root=root,
        remote=remote,
        batcher=batcher,
        trash=Trash(trash_root, run_id),
        run_id=run_id,
        report=report,
        transfers=options.transfers,
        verify=options.verify,
        progress=progress,
    )
    try:
        await executor.run(plan.actions)
        await _purge_trash_daily(store, remote, trash_root, options, now, report)
    except BaseException:
        # Cancelled (Ctrl-C), an auth failure, a crash: the history must not say "ok". The
        # snapshot already holds every finished action, so the next run simply carries on.
        report.finish(time.monotonic() - started)
        with contextlib.suppress(Exception):  # never hide why the run stopped
            await asyncio.shield(store.finish_run(run_id, "interrupted", _summary(report)))
        raise
    report.finish(time.monotonic() - started)
    await store.finish_run(run_id, report.status, _summary(report))
    return report


async def _purge_trash_daily(
    store: SnapshotStore,
    remote: RemoteStore,
    trash_root: Path,
    options: SyncOptions,
    now: datetime,
    report: SyncReport,
) -> None:
    """Empty trash older than the retention and abort uploads a killed run left unfinished, at
    most once a day so a quiet run stays one listing. A failure here costs nothing but space,
    so it is a warning, not an error."""
    last = await store.get_meta("trash_purged_at")
    if last is not None and now - datetime.fromisoformat(last) < timedelta(days=1):
        return
    cutoff = now - timedelta(days=options.trash_retention_days)
    await asyncio.to_thread(purge_trash, trash_root, older_than=cutoff)
    try:
        await remote.purge_trash(cutoff)
    except FileActionError as err:
        report.warnings.append(FileError(".bmsync-trash", f"could not empty old trash: {err}"))
        return
    try:
        await remote.abort_stale_uploads(now - STALE_UPLOAD_AGE)
    except FileActionError as err:  # tried again tomorrow, not on every run
        report.warnings.append(FileError(".", str(err)))
    await store.set_meta("trash_purged_at", now.isoformat())


def _folder_exists(root: Path) -> bool:
    if root.exists() and not root.is_dir():
        raise ConfigError(f"{root} exists but is not a folder; pass the project's folder")
    return root.is_dir()


def _prepare_folder(root: Path, temp_files: list[str]) -> None:
    """Create a missing project folder (first run) and remove temporary files of a killed run."""
    root.mkdir(parents=True, exist_ok=True)
    ops.remove_temp_files(root, temp_files)


def _abort(report: SyncReport, reason: str, started: float) -> SyncReport:
    report.status = "aborted"
    report.abort_reason = reason
    return report.finish(time.monotonic() - started)


def _summary(report: SyncReport) -> dict[str, object]:
    return {
        "uploaded": len(report.uploaded),
        "downloaded": len(report.downloaded),
        "deleted_local": len(report.deleted_local),
        "deleted_remote": len(report.deleted_remote),
        "conflicts": len(report.conflicts),
        "errors": len(report.errors),
        "bytes_uploaded": report.bytes_uploaded,
        "bytes_downloaded": report.bytes_downloaded,
    }
