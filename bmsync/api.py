"""`sync_project`: the one call basic-memory, tests and notebooks make.

It validates the arguments, takes the project lock, opens the snapshot and the S3 client, and
hands over to `engine.sync.run_sync`. A safety abort comes back as a report with status
"aborted" (nothing was changed); configuration, state, auth and lock problems are raised as the
`bmsync.errors` types, each with a message saying what to do.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from collections.abc import AsyncIterator, Coroutine, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from bmsync.engine.execute import ProgressFn
from bmsync.engine.options import resolve_options
from bmsync.engine.ports import RemoteStore
from bmsync.engine.sync import run_sync
from bmsync.local.ignore import IgnoreRules
from bmsync.report import FileError, SyncReport
from bmsync.s3.config import S3Config
from bmsync.s3.remote import open_remote
from bmsync.s3.url import parse_remote_url
from bmsync.state.lock import ProjectLock
from bmsync.state.paths import ProjectPaths
from bmsync.state.store import SnapshotStore

_T = TypeVar("_T")


async def sync_project(
    local_path: str | os.PathLike[str],
    remote_url: str,
    *,
    s3: S3Config | None = None,
    state_dir: str | os.PathLike[str] | None = None,
    profile: str = "balanced",
    conflict: str | None = None,
    max_delete: int | str | None = None,
    dry_run: bool = False,
    resync: bool = False,
    force: bool = False,
    ignore: Sequence[str] = (),
    transfers: int = 8,
    progress: ProgressFn | None = None,
    trash_retention_days: float = 30.0,
    ignore_files: Sequence[str | os.PathLike[str]] = (),
    remote: RemoteStore | None = None,
    now: datetime | None = None,
) -> SyncReport:
    """Bring `local_path` and `remote_url` (`s3://bucket/prefix`) in step, both ways.

    `remote` replaces the S3 client (a test seam); `now` fixes the run's clock (conflict-copy
    names). See README.md for the rest.
    """
    options = resolve_options(
        profile=profile,
        conflict=conflict,
        max_delete=max_delete,
        resync=resync,
        force=force,
        dry_run=dry_run,
        transfers=transfers,
        trash_retention_days=trash_retention_days,
    )
    location = parse_remote_url(remote_url)
    root, rules, paths = resolve_project(local_path, location.url, state_dir, ignore, ignore_files)
    paths.ensure()  # the state folder, created user-only
    db_exists = paths.db.exists()
    with ProjectLock(paths.lock) as lock:
        async with (
            _open_store(paths.db, db_exists, root, location.url, options.dry_run, resync) as store,
            remote_for(remote, location, s3) as opened,
        ):
            report = await run_sync(
                root=root,
                remote=opened,
                store=store,
                trash_root=paths.trash,
                rules=rules,
                options=options,
                progress=progress,
                now=now,
            )
    if lock.taken_over_from:
        report.warnings.insert(0, FileError("(lock)", lock.taken_over_from))
    return report


def project_root(local_path: str | os.PathLike[str]) -> Path:
    """The folder as the snapshot is bound to it: absolute, `~` expanded, links not resolved."""
    return Path(os.path.abspath(Path(local_path).expanduser()))


def resolve_project(
    local_path: str | os.PathLike[str],
    remote_url: str,
    state_dir: str | os.PathLike[str] | None,
    ignore: Sequence[str],
    ignore_files: Sequence[str | os.PathLike[str]],
) -> tuple[Path, IgnoreRules, ProjectPaths]:
    """The blocking set-up shared by sync and check: the absolute folder, the ignore rules and
    the state paths (nothing is created)."""
    root = project_root(local_path)
    rules = IgnoreRules.load(
        root, extra_patterns=ignore, ignore_files=[Path(p) for p in ignore_files]
    )
    return root, rules, ProjectPaths.resolve(state_dir, remote_url)


@contextlib.asynccontextmanager
async def _open_store(
    db: Path, db_exists: bool, root: Path, remote_url: str, dry_run: bool, resync: bool
) -> AsyncIterator[SnapshotStore | None]:
    """A dry run on a project never synced leaves no snapshot file behind."""
    if dry_run and not db_exists:
        yield None
        return
    store = await SnapshotStore.open(
        db, local_root=str(root), remote_url=remote_url, repair=resync and not dry_run
    )
    try:
        yield store
    finally:
        await store.close()


@contextlib.asynccontextmanager
async def remote_for(
    given: RemoteStore | None, location: Any, config: S3Config | None
) -> AsyncIterator[RemoteStore]:
    """`given` as it is (a test seam), else an S3 client for `location`, closed on exit."""
    if given is not None:
        yield given
        return
    async with open_remote(location, config or S3Config()) as opened:
        yield opened


def sync_project_blocking(*args: Any, **kwargs: Any) -> SyncReport:
    """`sync_project` for scripts, and for Jupyter, where an event loop is already running."""
    return _run_blocking(sync_project(*args, **kwargs))


def _run_blocking(coro: Coroutine[Any, Any, _T]) -> _T:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    # A loop runs in this thread (Jupyter): run ours in a worker thread and wait for it.
    result: list[_T] = []
    failure: list[BaseException] = []

    def worker() -> None:
        try:
            result.append(asyncio.run(coro))
        except BaseException as err:  # re-raised in the caller's thread
            failure.append(err)

    thread = threading.Thread(target=worker, name="bmsync-sync")
    thread.start()
    thread.join()
    if failure:
        raise failure[0]
    return result[0]
