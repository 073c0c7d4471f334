"""`watch_project`: keep a folder and a prefix in sync for as long as it runs.

A sync at the start; then a local change (watchfiles) starts a debounced sync, the remote is
polled every `interval` seconds, and a failed run is retried with backoff; the rules are in
`bmsync.commands.schedule`, which is pure. Three pieces do the I/O, each usable on its own:

- `feed_changes`: one file watcher, handing relevant paths to a `LocalChanges` inbox;
- `keep_in_sync`: one project's loop: waits for its `Schedule`, checks that pending local
  changes are real (`bmsync.local.changes`: bmsync's own downloads are not), runs one sync at a
  time, logs, calls `on_synced`, and never ends on a failed run;
- `watch_project`: one of each for a (folder, remote) pair, sharing one S3 client.

Every run is an ordinary `sync_project` run: the lock, the guards (an abort is reported, never
forced) and the snapshot apply as always. Cancelling the watch cancels the running sync, which
interrupts its transfers (each writes through a temporary file, removed on the way out), records
the run as interrupted, releases the lock and re-raises `CancelledError`; `stop` instead ends
the watch after the current run, and `watch_project` then returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import os
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from pathlib import Path

from bmsync.commands.blocking import blocking
from bmsync.commands.run_pair import sync_project
from bmsync.commands.schedule import Schedule, Timing, Trigger
from bmsync.display import counted
from bmsync.errors import BmsyncError, ConfigError
from bmsync.local.changes import changed_paths
from bmsync.names import canonical
from bmsync.options import ConflictName, ProfileName, RunOptions
from bmsync.ports import RemoteStore
from bmsync.progress import ProgressFn
from bmsync.project import PathArg, Project, open_project, read_snapshot, remote_for
from bmsync.remotes import S3Config
from bmsync.report import SyncReport

log = logging.getLogger(__name__)

OnSynced = Callable[[SyncReport], Awaitable[None] | None]
"""Called with each run's report (an aborted run's too); it may be a coroutine function."""

PROJECT_IGNORE_FILE = ".gitignore"
"""The ignore file inside the folder: hidden by the default rules, but editing it changes what
syncs, so it starts a run."""

_REFUSED = {
    "force": "a watch would push an accidental mass delete at once; run `bmsync sync --force` "
    "once for the change you mean, then watch",
    "dry_run": "a watch that changes nothing has nothing to watch for; use `bmsync sync "
    "--dry-run` or `check_project`",
    "resync": "run `bmsync sync --resync` once, then watch",
}


class LocalChanges:
    """The paths (relative to the folder, as on disk) a watcher reported and no run has taken
    yet; `arrived` is set by each report, so a project's loop wakes up for it."""

    def __init__(self) -> None:
        self._paths: set[str] = set()
        self.arrived = asyncio.Event()

    def add(self, paths: Iterable[str]) -> None:
        before = len(self._paths)
        self._paths.update(paths)
        if len(self._paths) > before:
            self.arrived.set()

    def take(self) -> set[str]:
        paths, self._paths = self._paths, set()
        self.arrived.clear()
        return paths


async def keep_in_sync(
    name: str,
    sync_once: Callable[[], Awaitable[SyncReport]],
    changes: LocalChanges,
    confirm: Callable[[set[str]], Awaitable[bool]],
    *,
    timing: Timing,
    on_synced: OnSynced | None = None,
    stop: asyncio.Event | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """Run `sync_once` whenever the project's `Schedule` says, one run at a time, until `stop`.

    `confirm(paths)` tells whether pending local changes are real (False: they were bmsync's
    own writes, and no run starts). A run that raises is logged and retried with backoff; the
    loop ends only by `stop` or cancellation. `name` is the project in log messages.
    """
    schedule = Schedule.starting(timing, clock())
    while True:
        await _wait(schedule.due_at() - clock(), changes.arrived, stop)
        if stop is not None and stop.is_set():
            return
        now = clock()
        if changes.arrived.is_set():
            changes.arrived.clear()
            schedule.changed(now)
        trigger = schedule.due(now)
        if trigger is None:
            continue
        pending = changes.take()
        schedule.forget_changes()
        if trigger == "local change" and not await _really_changed(name, confirm, pending):
            continue
        await _run_once(name, trigger, sync_once, schedule, on_synced, clock)


async def _wait(seconds: float, *events: asyncio.Event | None) -> None:
    """Sleep `seconds`, or less if one of `events` is (or gets) set."""
    waiters = [asyncio.ensure_future(event.wait()) for event in events if event is not None]
    try:
        await asyncio.wait(waiters, timeout=max(0.0, seconds), return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()


async def _really_changed(
    name: str, confirm: Callable[[set[str]], Awaitable[bool]], pending: set[str]
) -> bool:
    try:
        return await confirm(pending)
    except Exception:  # cannot tell (e.g. no snapshot yet): a run finds out
        log.debug("%s: could not check the local changes; syncing", name, exc_info=True)
        return True


async def _run_once(
    name: str,
    trigger: Trigger,
    sync_once: Callable[[], Awaitable[SyncReport]],
    schedule: Schedule,
    on_synced: OnSynced | None,
    clock: Callable[[], float],
) -> None:
    try:
        report = await sync_once()
    except Exception as err:  # a watch outlives a network outage, a lock, a bad state file
        delay = schedule.failed(clock())
        _log_failure(name, trigger, err, delay, schedule.failures)
        return
    schedule.succeeded(clock())
    _log_report(name, trigger, report)
    if on_synced is None:
        return
    try:
        result = on_synced(report)
        if inspect.isawaitable(result):
            await result
    except Exception:
        log.exception("%s: the on_synced callback failed; the watch goes on", name)


def _log_failure(name: str, trigger: Trigger, err: Exception, delay: float, count: int) -> None:
    again = f"trying again in {delay:g} s" + (f" ({count} failures in a row)" if count > 1 else "")
    if isinstance(err, BmsyncError):
        log.warning("%s: sync (%s) failed: %s; %s", name, trigger, err, again)
    else:
        log.warning("%s: sync (%s) failed; %s", name, trigger, again, exc_info=err)


def _log_report(name: str, trigger: Trigger, report: SyncReport) -> None:
    if report.status == "aborted":
        log.warning("%s: sync (%s) aborted: %s", name, trigger, report.abort_reason)
        return
    done = counted(report.counts(), empty="no change")
    if report.errors:
        first = report.errors[0]
        log.warning(
            "%s: sync (%s): %s; %d files failed (%s: %s, ...), retried next run",
            name, trigger, done, len(report.errors), first.path, first.message,
        )  # fmt: skip
    elif report.changed:
        log.info("%s: sync (%s): %s", name, trigger, done)
    else:
        log.debug("%s: sync (%s): no change", name, trigger)


async def feed_changes(
    root: Path,
    deliver: Callable[[list[str]], None],
    halt: asyncio.Event,
    timing: Timing,
) -> None:
    """Watch `root` and `deliver` each batch of changed paths (relative to `root`, POSIX, as on
    disk), until `halt` is set. `deliver` picks the relevant ones and hands them to a project's
    `LocalChanges` (or, watching a folder of projects, routes them by their first segment).
    A watcher that fails (the folder is missing, too many watches) is started again with
    backoff; meanwhile the polls still bring local edits over."""
    from watchfiles import awatch

    real = await asyncio.to_thread(os.path.realpath, root)  # FSEvents reports /private/var
    roots = tuple(dict.fromkeys((str(root), real)))
    failures = 0
    while not halt.is_set():
        try:
            async for batch in awatch(
                root, watch_filter=None, stop_event=halt, step=50,
                debounce=max(50, min(1600, int(timing.debounce * 1000))),
                ignore_permission_denied=True,
            ):  # fmt: skip
                failures = 0
                found = (_relative(roots, path) for _, path in batch)
                deliver([rel for rel in found if rel is not None])
        except Exception as err:
            failures += 1
            delay = timing.backoff(failures)
            exists = await asyncio.to_thread(root.is_dir)
            level = logging.WARNING if exists else logging.DEBUG  # a missing folder: the sync says
            log.log(level, "cannot watch %s (%s); trying again in %g s", root, err, delay)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(halt.wait(), delay)


def _relative(roots: Sequence[str], path: str) -> str | None:
    """`path` below one of `roots`, POSIX, as on disk; None for a root itself or elsewhere."""
    for root in roots:
        if path.startswith(root + os.sep):
            return path[len(root) + 1 :].replace(os.sep, "/")
    return None


class WatchedFolder:
    """What the watch knows of the folder between runs: its ignore rules, reloaded after each
    run (so an edited `.gitignore` applies), and whether reported paths are real changes."""

    def __init__(self, project: Project, reopen: Callable[[], Awaitable[Project]]) -> None:
        self.project = project
        self._reopen = reopen

    def relevant(self, disk_rel: str) -> bool:
        return disk_rel == PROJECT_IGNORE_FILE or not self.project.rules.is_ignored(
            canonical(disk_rel)
        )

    async def confirm(self, paths: set[str]) -> bool:
        if PROJECT_IGNORE_FILE in paths:
            return True
        project = self.project
        snapshot = await read_snapshot(project)
        found = await asyncio.to_thread(changed_paths, project.root, paths, snapshot, project.rules)
        log.debug("%s: local changes %s", project.url, found[:20] or "none (bmsync's own)")
        return bool(found)

    async def reload(self) -> None:
        try:
            self.project = await self._reopen()
        except ConfigError as err:  # the next run reports it; keep filtering with the old rules
            log.debug("%s: ignore rules not reloaded: %s", self.project.url, err)


async def watch_project(
    local_path: PathArg,
    remote_url: str,
    *,
    interval: float = 60.0,
    debounce: float = 1.0,
    on_synced: OnSynced | None = None,
    stop: asyncio.Event | None = None,
    s3: S3Config | None = None,
    state_dir: PathArg | None = None,
    ignore: Sequence[str] = (),
    ignore_files: Sequence[PathArg] = (),
    remote: RemoteStore | None = None,
    progress: ProgressFn | None = None,
    profile: ProfileName = "balanced",
    conflict: ConflictName | None = None,
    max_delete: int | str | None = None,
    dry_run: bool = False,
    resync: bool = False,
    force: bool = False,
    transfers: int = 8,
    trash_retention_days: float = 30.0,
    dir_markers: bool = False,
    options: RunOptions | None = None,
) -> None:
    """Sync `local_path` with `remote_url` now, then after each local change (within about
    `2 * debounce` seconds) and every `interval` seconds, until `stop` is set (then it returns
    after the current run) or the task is cancelled (Ctrl-C: the running sync stops, leaving no
    partial file, and `CancelledError` is raised).

    `on_synced(report)` is called after each run. The options (`bmsync.RunOptions`, as
    keywords or whole as `options`) and `progress` are `sync_project`'s, given to every run;
    `force`, `dry_run` and `resync` are refused. Failed runs are logged under the `bmsync`
    logger and retried; argument and configuration errors are raised at once.
    """
    timing = Timing(interval=interval, debounce=debounce)
    given = check_watch_options(RunOptions.given("watch", locals()))

    async def reopen() -> Project:
        return await open_project(local_path, remote_url, state_dir, ignore, ignore_files)

    folder = WatchedFolder(await reopen(), reopen)
    project = folder.project
    async with remote_for(remote, project.location, s3) as opened:

        async def sync_once() -> SyncReport:
            report = await sync_project(
                local_path, remote_url, s3=s3, state_dir=state_dir, ignore=ignore,
                ignore_files=ignore_files, remote=opened, progress=progress, options=given,
            )  # fmt: skip
            await folder.reload()
            return report

        changes, halt = LocalChanges(), asyncio.Event()
        async with asyncio.TaskGroup() as group:
            group.create_task(
                feed_changes(
                    project.root,
                    lambda paths: changes.add(filter(folder.relevant, paths)),
                    halt,
                    timing,
                )
            )
            try:
                await keep_in_sync(
                    project.url, sync_once, changes, folder.confirm,
                    timing=timing, on_synced=on_synced, stop=stop,
                )  # fmt: skip
            finally:
                # The watcher's thread checks this every 50 ms; a cancel alone would wait
                # for its next timeout (seconds).
                halt.set()


def check_watch_options(options: RunOptions) -> RunOptions:
    """Refuse, at once rather than at the first run, what a watch must not pass on."""
    for name, why in _REFUSED.items():
        if getattr(options, name):
            raise ConfigError(f"watch does not take {name}: {why}")
    return options


watch_project_blocking = blocking(watch_project)
"""`watch_project` for scripts: runs until Ctrl-C (which raises `KeyboardInterrupt`)."""
