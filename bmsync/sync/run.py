"""One run of the pipeline, start to finish: the steps in order, each in the file of its name.

    gather → (guard: empty side) → compare → plan → adopt → guards → execute → commit → report
                                                                      └── housekeeping

Everything that decides is in `plan.py`, `adopt.py` and `guards.py` (pure); this module only
hands each step's result to the next, so reading it top to bottom is reading the algorithm. The
caller (`bmsync.commands`) holds the project lock and opened the store and the remote.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bmsync.local.ignore import IgnoreRules
from bmsync.local.trash import Trash
from bmsync.options import Mode, SyncOptions
from bmsync.ports import RemoteStore, SnapshotStore
from bmsync.progress import PhaseEvent, ProgressFn, no_progress
from bmsync.report import Guard, SyncReport
from bmsync.runs import new_run_id
from bmsync.sync import commit, housekeeping, report
from bmsync.sync.adopt import adopt_kept_copies
from bmsync.sync.compare import compare_paths
from bmsync.sync.execute import Executor
from bmsync.sync.gather import Gathered, gather
from bmsync.sync.guards import conflicts_reason, empty_side_reason, max_delete_reason
from bmsync.sync.plan import Plan, paths_to_compare, plan_sync
from bmsync.types import SnapshotEntry

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Run:
    """What one run works on: the pair, its state, and how to behave."""

    root: Path
    remote: RemoteStore
    store: SnapshotStore | None
    """None only for a dry run of a project never synced (no snapshot file is made)."""
    trash_root: Path
    rules: IgnoreRules
    options: SyncOptions
    progress: ProgressFn | None = None


async def run_sync(run: Run, now: datetime | None = None) -> SyncReport:
    """Sync `run.root` with `run.remote`; a guard's abort is a report, not an exception."""
    started, now = time.monotonic(), now or datetime.now(UTC)
    options, run_id = run.options, new_run_id(now)
    result = report.start_report(run_id, dry_run=options.dry_run)
    tell = run.progress or no_progress
    dry = " (dry run)" if options.dry_run else ""
    log.debug("%s %s <-> %s: run %s%s", options.mode.value, run.root, run.remote.url, run_id, dry)
    found = await gather(run.root, run.remote, _load(run.store), run.rules, run.progress)
    trees = found.inputs
    log.debug(
        "%d local files, %d remote objects, %d in the snapshot, %d warnings",
        len(trees.local), len(trees.remote), len(trees.snapshot), len(found.warnings),
    )  # fmt: skip
    report.add_warnings(result, found.warnings)
    if reason := empty_side_reason(
        snapshot_files=len(trees.snapshot), local_files=len(trees.local),
        remote_files=len(trees.remote), local_exists=found.root_exists, options=options,
    ):  # fmt: skip
        return _logged(report.abort(result, "empty_side", reason, started))
    to_compare = paths_to_compare(trees.local, trees.remote, trees.snapshot, resync=options.resync)
    if to_compare:
        tell(PhaseEvent("comparing", len(to_compare)))
    comparisons, failed = await compare_paths(
        run.root, run.remote, to_compare, trees.local, trees.remote, concurrency=options.transfers
    )
    report.add_errors(result, failed)
    deletes_excluded = options.mode is Mode.PRUNE or options.delete_excluded
    plan = plan_sync(
        trees.local, trees.remote, trees.snapshot, comparisons,
        strategy=options.conflict, now=now, resync=options.resync, mode=options.mode,
        one_way=options.one_way, excluded=trees.excluded if deletes_excluded else None,
    )  # fmt: skip
    plan = adopt_kept_copies(plan, trees.local, trees.remote, trees.snapshot, comparisons)
    tell(PhaseEvent("planning", len(plan.actions), finished=True))
    log.debug("plan: %d actions", len(plan.actions))
    report.report_direction(plan, options, result)
    guard, reason = _plan_guard(plan, options)
    if options.dry_run:
        report.report_plan(plan, result)
    if guard is not None and reason is not None:
        return _logged(report.abort(result, guard, reason, started))
    if options.dry_run:
        return _logged(report.finish(result, started))
    assert run.store is not None, "only a dry run goes without a snapshot"
    await _carry_out(run, run.store, plan, found, result, run_id, now, started)
    return _logged(result)


def _logged(result: SyncReport) -> SyncReport:
    """How the run ended, in one line of the log (the report's repr: status and counts): INFO
    when it changed something or did not end well, DEBUG when there was nothing to do (a
    watch's poll every minute)."""
    quiet = result.status == "ok" and not result.changed
    log.log(
        logging.DEBUG if quiet else logging.INFO,
        "run %s: %r%s",
        result.run_id,
        result,
        f": {result.abort_reason}" if result.abort_reason else "",
    )
    return result


async def _carry_out(
    run: Run,
    store: SnapshotStore,
    plan: Plan,
    found: Gathered,
    result: SyncReport,
    run_id: str,
    now: datetime,
    started: float,
) -> None:
    """Execute, commit and tidy up; the history records how the run ended, even a kill."""
    await commit.begin_run(store, run_id, now)
    await housekeeping.prepare_folder(run.root, found.temp_files)
    batcher = commit.SnapshotBatcher(store.apply)
    await batcher.add(deletes=found.inputs.forgotten)
    executor = Executor(
        root=run.root, remote=run.remote, batcher=batcher, trash=Trash(run.trash_root, run_id),
        run_id=run_id, report=result, transfers=run.options.transfers,
        verify=run.options.verify, progress=run.progress,
    )  # fmt: skip
    try:
        await executor.run(plan.actions)
        retention = run.options.trash_retention_days
        await housekeeping.purge_daily(store, run.remote, run.trash_root, retention, now, result)
    except BaseException as err:
        log.info("run %s stopped (%s); recorded as interrupted", run_id, type(err).__name__)
        await commit.record_interrupted(store, report.finish(result, started))
        await housekeeping.remove_leftovers(run.root, run.rules)
        raise
    await commit.finish_run(store, report.finish(result, started))


def _plan_guard(plan: Plan, options: SyncOptions) -> tuple[Guard | None, str | None]:
    """The first guard the plan trips, with its reason: too many deletes, or (push and pull
    with `fail`) conflicts."""
    if reason := max_delete_reason(plan, options):
        return "max_delete", reason
    if reason := conflicts_reason(plan):
        return "conflicts", reason
    return None, None


async def _load(store: SnapshotStore | None) -> dict[str, SnapshotEntry]:
    return await store.load() if store is not None else {}
