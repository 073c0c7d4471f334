"""`run_pair`, one run on one (folder, remote) pair that every syncing command goes through, and
`sync_project`, its two-way use: the one call basic-memory, tests and notebooks make.

It validates the arguments, opens the project (lock, snapshot, S3 client) and runs the
pipeline (`bmsync.engine.run`). A safety abort comes back as a report with status "aborted"
(nothing was changed); configuration, state, auth and lock problems are raised as the
`bmsync.errors` types, each with a message saying what to do.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from bmsync.commands.blocking import blocking
from bmsync.engine.run import Run, run_sync
from bmsync.options import ConflictName, ProfileName, RunOptions, SyncOptions
from bmsync.ports import RemoteStore
from bmsync.progress import ProgressFn
from bmsync.project import PathArg, locked, open_project, open_store, remote_for
from bmsync.remotes import S3Config
from bmsync.report import FileError, SyncReport


async def sync_project(
    local_path: PathArg,
    remote_url: str,
    *,
    s3: S3Config | None = None,
    state_dir: PathArg | None = None,
    profile: ProfileName = "balanced",
    conflict: ConflictName | None = None,
    max_delete: int | str | None = None,
    dry_run: bool = False,
    resync: bool = False,
    force: bool = False,
    ignore: Sequence[str] = (),
    transfers: int = 8,
    progress: ProgressFn | None = None,
    trash_retention_days: float = 30.0,
    ignore_files: Sequence[PathArg] = (),
    remote: RemoteStore | None = None,
    now: datetime | None = None,
    on_synced: SyncedFn | None = None,
    dir_markers: bool = False,
    options: RunOptions | None = None,
) -> SyncReport:
    """Bring `local_path` and `remote_url` (`s3://bucket/prefix`) in step, both ways.

    `remote` replaces the S3 client (a test seam, e.g. `bmsync.testing.MemoryRemote`); `now`
    fixes the run's clock (conflict-copy names); `on_synced(report)` is called with the report
    when the run ends (its `local_changes` say what to reindex); `dir_markers` keeps a
    `folder/` marker for every folder and syncs empty folders (for TigrisFS mounts);
    `options` gives the options (`bmsync.RunOptions`) whole instead. See README.md for the rest.
    """
    resolved = RunOptions.given("sync", locals()).resolve()
    pair = Pair.given(locals())
    return await run_pair(pair, resolved, progress=progress, now=now, on_synced=on_synced)


SyncedFn = Callable[[SyncReport], object]
"""Called with each run's report as it ends (an indexer hands `local_changes` on)."""


@dataclass(frozen=True, slots=True)
class Pair:
    """The (folder, remote) pair a command runs on, as the caller gave it."""

    local_path: PathArg
    remote_url: str
    s3: S3Config | None = None
    state_dir: PathArg | None = None
    ignore: Sequence[str] = ()
    ignore_files: Sequence[PathArg] = ()
    remote: RemoteStore | None = None

    @classmethod
    def given(cls, arguments: Mapping[str, Any]) -> Pair:
        """The pair a command's `arguments` (its `locals()`) name, picked by field name: the
        commands' parameters of the same names are held to these fields by
        tests/test_options.py."""
        return cls(**{f.name: arguments[f.name] for f in fields(cls) if f.name in arguments})


async def run_pair(
    pair: Pair,
    options: SyncOptions,
    *,
    progress: ProgressFn | None = None,
    now: datetime | None = None,
    on_synced: SyncedFn | None = None,
) -> SyncReport:
    """One run of the pipeline on `pair` in `options.mode`: what every syncing command does
    (two-way, push, pull, mirror, prune) once its options are resolved."""
    project = await open_project(
        pair.local_path, pair.remote_url, pair.state_dir, pair.ignore, pair.ignore_files
    )
    async with (
        locked(project, dry_run=options.dry_run) as lock,
        open_store(project, dry_run=options.dry_run, repair=options.resync) as store,
        remote_for(pair.remote, project.location, pair.s3) as opened,
    ):
        took_over = lock.taken_over_from
        run = Run(
            project.root, opened, store, project.paths.trash, project.rules, options, progress,
            warnings=(FileError("(lock)", took_over),) if took_over else (),
        )  # fmt: skip
        report = await run_sync(run, now)
    if on_synced is not None:
        on_synced(report)
    return report


sync_project_blocking = blocking(sync_project)
"""`sync_project` for scripts, and for Jupyter, where an event loop is already running."""
