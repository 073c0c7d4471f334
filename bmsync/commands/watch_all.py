"""`watch_all`: every project of a root folder kept in sync, continuously (`sync-all --watch`).

The projects are found as `sync_all` finds them (every top-level folder of the root or of the
bucket prefix). One file watcher on the root serves them all (each watcher holds a thread for
good): a changed path goes to the project its first segment names. Each project then has its
own loop (`keep_in_sync`: debounce, remote polling, backoff, one run at a time), and at most
`projects_concurrency` projects sync at once. A project failing never stops another; the guards
apply to each.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Sequence

from bmsync.commands.all import ProjectProgressFn
from bmsync.commands.run_pair import sync_project
from bmsync.commands.schedule import Timing
from bmsync.commands.watch import (
    LocalChanges,
    WatchedFolder,
    check_watch_options,
    feed_changes,
    keep_in_sync,
)
from bmsync.commands.which_projects import CloudSource, find_projects
from bmsync.options import ConflictName, ProfileName, RunOptions
from bmsync.project import PathArg, Project, open_project, project_root
from bmsync.remotes import S3Config
from bmsync.report import SyncReport


async def watch_all(
    root: PathArg | None,
    remote_url: str | None = None,
    *,
    cloud: CloudSource | None = None,
    config_file: PathArg | None = None,
    use_config: bool = False,
    interval: float = 60.0,
    debounce: float = 1.0,
    projects_concurrency: int = 2,
    on_synced: Callable[[str, SyncReport], object] | None = None,
    stop: asyncio.Event | None = None,
    s3: S3Config | None = None,
    state_dir: PathArg | None = None,
    ignore: Sequence[str] = (),
    progress: ProjectProgressFn | None = None,
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
    """Keep every project of `root` and `remote_url` in sync until `stop` is set (or the task
    is cancelled); see the module docstring. `on_synced(name, report)` after each run,
    `progress(name, event)` with each run's progress events (`bmsync.progress`); the options
    are `watch_project`'s, given to every run of every project."""
    chosen = check_watch_options(RunOptions.given("watch-all", locals()))
    timing = Timing(interval=interval, debounce=debounce)
    pairs = (
        await find_projects(
            root, remote_url, s3=s3, cloud=cloud, config_file=config_file, use_config=use_config
        )
    ).pairs
    folder = await asyncio.to_thread(project_root, root) if root is not None else None
    gate = asyncio.Semaphore(projects_concurrency)
    inboxes: dict[str, tuple[LocalChanges, WatchedFolder]] = {}
    for pair in pairs:

        async def reopen(local: PathArg = pair.local, url: str = pair.remote_url) -> Project:
            return await open_project(local, url, state_dir, ignore)

        inboxes[pair.name] = (LocalChanges(), WatchedFolder(await reopen(), reopen))

    def route(paths: list[str]) -> None:
        for path in paths:
            name, _, rest = path.partition("/")
            inbox = inboxes.get(name) if name in routed else None
            if inbox is not None and rest and inbox[1].relevant(rest):
                inbox[0].add([rest])

    def deliver_to(name: str) -> Callable[[list[str]], None]:
        changes, watched = inboxes[name]
        return lambda paths: changes.add(filter(watched.relevant, paths))

    # Projects directly below the root share one watcher; any other (a configured project
    # elsewhere) has its own.
    routed = {p.name for p in pairs if folder is not None and p.local == folder / p.name}
    halt = asyncio.Event()
    async with asyncio.TaskGroup() as group:
        if routed and folder is not None:
            group.create_task(feed_changes(folder, route, halt, timing))
        for pair in pairs:
            if pair.name not in routed:
                group.create_task(feed_changes(pair.local, deliver_to(pair.name), halt, timing))
        try:
            async with asyncio.TaskGroup() as projects:
                for pair in pairs:
                    changes, watched = inboxes[pair.name]

                    async def sync_once(
                        local: PathArg = pair.local,
                        url: str = pair.remote_url,
                        given: S3Config | None = pair.s3,
                        watched: WatchedFolder = watched,
                        name: str = pair.name,
                    ) -> SyncReport:
                        told = functools.partial(progress, name) if progress else None
                        async with gate:
                            report = await sync_project(
                                local, url, s3=s3 if given is None else given,
                                state_dir=state_dir, ignore=ignore, progress=told,
                                options=chosen,
                            )  # fmt: skip
                        await watched.reload()
                        return report

                    def synced(report: SyncReport, name: str = pair.name) -> None:
                        if on_synced is not None:
                            on_synced(name, report)

                    projects.create_task(
                        keep_in_sync(
                            pair.name,
                            sync_once,
                            changes,
                            watched.confirm,
                            timing=timing,
                            on_synced=synced,
                            stop=stop,
                        )
                    )
        finally:
            halt.set()
