"""One run of the pipeline, start to finish: the steps in order, each in the file of its name.

    gather → (guard: empty side) → compare → plan → adopt → [folders] → guards → execute
                                                         → commit → report
                                                                      └── housekeeping

`[folders]` runs only with `dir_markers`: the folder plan (`folders.py`), carried out after the
files.

Everything that decides is in `plan.py`, `adopt.py` and `guards.py` (pure); this module only
hands each step's result to the next, so reading it top to bottom is reading the algorithm. The
caller (`bmsync.commands`) holds the project lock and opened the store and the remote.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bmsync.engine import commit, housekeeping
from bmsync.engine.adopt import adopt_kept_copies
from bmsync.engine.build_report import RunFacts, build_report
from bmsync.engine.compare import compare_paths
from bmsync.engine.execute import Executor
from bmsync.engine.folders import FolderPlan, plan_folders
from bmsync.engine.gather import Gathered, Inputs, gather
from bmsync.engine.guards import conflicts_reason, empty_side_reason, max_delete_reason
from bmsync.engine.moves import detect_moves
from bmsync.engine.outcomes import Outcomes, would_do
from bmsync.engine.plan import Plan, paths_to_compare, plan_sync, settled_paths
from bmsync.errors import ConfigError
from bmsync.local.ignore import IgnoreRules
from bmsync.local.trash import Trash
from bmsync.names import MAX_KEY_BYTES
from bmsync.options import Mode, OneWayConflict, SyncOptions
from bmsync.ports import RemoteStore, SnapshotStore
from bmsync.progress import PhaseEvent, ProgressFn, no_progress
from bmsync.report import FileError, Guard, SyncReport
from bmsync.runs import new_run_id
from bmsync.types import Comparison, Settlement, SnapshotEntry

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
    warnings: tuple[FileError, ...] = ()
    """Notes on the run known before it starts: the lock of a killed run taken over (`(lock)`),
    listed first among the report's warnings."""


async def run_sync(run: Run, now: datetime | None = None) -> SyncReport:
    """Sync `run.root` with `run.remote`; a guard's abort is a report, not an exception."""
    started, now = time.monotonic(), now or datetime.now(UTC)
    options, run_id = run.options, new_run_id(now)
    dry = " (dry run)" if options.dry_run else ""
    log.debug("%s %s <-> %s: run %s%s", options.mode.value, run.root, run.remote.url, run_id, dry)
    found = await gather(
        run.root, run.remote, _load(run.store), run.rules,
        load_folders=_load_folders(run.store, options), progress=run.progress,
    )  # fmt: skip
    facts = RunFacts(run_id, options, started, (*run.warnings, *found.warnings))
    if reason := _empty_side(found, options):
        return _logged(build_report(facts.aborted("empty_side", reason), None, Outcomes()))
    settlements = await run.store.load_settled() if run.store is not None else []
    settled = settled_paths(
        found.inputs.local, found.inputs.remote, settlements,
        mode=options.mode, one_way=options.one_way,
    )  # fmt: skip
    comparisons, facts = await _compare(run, found.inputs, settled, facts)
    plan, folders = _plan(
        found.inputs, comparisons, settlements, settled, options, now, _key_room(run.remote)
    )
    (run.progress or no_progress)(PhaseEvent("planning", len(plan.actions), finished=True))
    guard, reason = _plan_guard(plan, options)
    if guard is not None and reason is not None:
        facts = facts.aborted(guard, reason)
    if options.dry_run:  # a run whose executor carries out nothing: what it would do
        return _logged(build_report(facts, plan, would_do(plan, folders)))
    if facts.guard is not None:
        return _logged(build_report(facts, plan, Outcomes()))
    assert run.store is not None, "only a dry run goes without a snapshot"
    await _check_markers_kept(run, folders)
    return _logged(await _carry_out(run, run.store, plan, folders, found, facts, now))


def _key_room(remote: RemoteStore) -> int:
    """The bytes a path may take in a key below the remote's prefix (`s3://bucket/prefix`),
    which a conflict copy's name must fit in (`bmsync.names.sibling`)."""
    prefix = remote.url.partition("://")[2].partition("/")[2].strip("/")
    return MAX_KEY_BYTES - (len(f"{prefix}/".encode("utf-8", "surrogatepass")) if prefix else 0)


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


def _empty_side(found: Gathered, options: SyncOptions) -> str | None:
    trees = found.inputs
    return empty_side_reason(
        local=trees.local, remote=trees.remote, snapshot=trees.snapshot,
        local_exists=found.root_exists, options=options,
    )  # fmt: skip


async def _compare(
    run: Run, trees: Inputs, settled: set[str], facts: RunFacts
) -> tuple[dict[str, Comparison], RunFacts]:
    """Comparisons for the paths modified on both sides (settled ones aside); those that
    fail are reported (the facts returned list them)."""
    options = run.options
    to_compare = paths_to_compare(
        trees.local, trees.remote, trees.snapshot, resync=options.resync, settled=settled
    )
    if to_compare:
        (run.progress or no_progress)(PhaseEvent("comparing", len(to_compare)))
    comparisons, failed = await compare_paths(
        run.root, run.remote, to_compare, trees.local, trees.remote,
        concurrency=options.transfers, key_room=_key_room(run.remote),
        remote_copies=options.mode is Mode.PUSH and options.one_way is OneWayConflict.KEEP_BOTH,
    )  # fmt: skip
    undecided = tuple(FileError(path, why) for path, why in failed.items())
    return comparisons, dataclasses.replace(facts, undecided=undecided)


def _plan(
    trees: Inputs,
    comparisons: dict[str, Comparison],
    settlements: list[Settlement],
    settled: set[str],
    options: SyncOptions,
    now: datetime,
    key_room: int,
) -> tuple[Plan, FolderPlan]:
    """The pure part: plan (by the mode's table), adopt, moves, and the folders' plan."""
    deletes_excluded = options.mode is Mode.PRUNE or options.delete_excluded
    plan = plan_sync(
        trees.local, trees.remote, trees.snapshot, comparisons,
        strategy=options.conflict, now=now, resync=options.resync, mode=options.mode,
        one_way=options.one_way, excluded=trees.excluded if deletes_excluded else None,
        settled=settled, key_room=key_room,
    )  # fmt: skip
    plan = adopt_kept_copies(
        plan, trees.local, trees.remote, trees.snapshot, comparisons, settlements
    )
    plan = detect_moves(plan, trees.snapshot)
    if not options.dir_markers:
        return plan, FolderPlan()
    folders = plan_folders(
        trees.folders, trees.local.keys(), trees.remote.keys(), plan,
        mode=options.mode, resync=options.resync,
    )  # fmt: skip
    return plan, folders


async def _check_markers_kept(run: Run, folders: FolderPlan) -> None:
    if folders.put_markers and not await run.remote.keeps_markers():
        raise ConfigError(
            f"{run.remote.url} does not keep folder markers: it stores a `folder/` key as a "
            "file, or refuses it (a store that maps keys onto a file system, such as rclone "
            "serve s3, whose folders need no markers). Nothing was changed. Run again without "
            "--dir-markers (dir_markers=False in Python)"
        )


async def _carry_out(
    run: Run,
    store: SnapshotStore,
    plan: Plan,
    folders: FolderPlan,
    found: Gathered,
    facts: RunFacts,
    now: datetime,
) -> SyncReport:
    """Execute, commit and tidy up; the history records how the run ended, even a kill."""
    run_id, outcomes = facts.run_id, Outcomes()
    await commit.begin_run(store, run_id, now)
    await housekeeping.prepare_folder(run.root, found.temp_files)
    batcher = commit.SnapshotBatcher(store.apply)
    await batcher.add(upserts=found.inputs.respelled, deletes=found.inputs.forgotten)
    executor = Executor(
        root=run.root, remote=run.remote, batcher=batcher, trash=Trash(run.trash_root, run_id),
        run_id=run_id, outcomes=outcomes, transfers=run.options.transfers,
        verify=run.options.verify, progress=run.progress,
    )  # fmt: skip
    try:
        await executor.run(plan.actions)
        if not folders.empty:
            await store.apply_folders(*await executor.run_folders(folders))
        executor.note_throttling()
        retention = run.options.trash_retention_days
        await housekeeping.purge_daily(store, run.remote, run.trash_root, retention, now, outcomes)
    except BaseException as err:
        log.info("run %s stopped (%s); recorded as interrupted", run_id, type(err).__name__)
        await commit.record_interrupted(store, build_report(facts, plan, outcomes))
        await housekeeping.remove_leftovers(run.root, run.rules)
        raise
    result = build_report(facts, plan, outcomes)
    await commit.finish_run(store, result)
    return result


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


def _load_folders(store: SnapshotStore | None, options: SyncOptions) -> Awaitable[set[str]] | None:
    """The folder baseline, for runs that keep folder markers only (others never read it)."""
    if not options.dir_markers:
        return None
    return store.load_folders() if store is not None else _no_folders()


async def _no_folders() -> set[str]:
    return set()
