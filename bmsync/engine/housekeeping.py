"""Housekeeping: what a run tidies besides syncing, before and after the actions.

Before: a missing project folder is created (a first run into an empty place) and temporary
files a killed run left are removed; a run that stops part-way removes its own at once. After,
at most once a day so a quiet run stays one listing: trash older than the retention is emptied
on both sides, and multipart uploads a killed run left open (stored, and billed, until aborted)
are aborted. A failure after the actions costs
nothing but space, so it is a warning, never an error.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime, timedelta
from pathlib import Path

from bmsync.engine.outcomes import Outcomes
from bmsync.failures import FileActionError
from bmsync.local import ops
from bmsync.local.ignore import IgnoreRules
from bmsync.local.scan import find_temp_files
from bmsync.local.trash import purge_trash
from bmsync.ports import RemoteStore, SnapshotStore
from bmsync.report import FileError

STALE_UPLOAD_AGE = timedelta(days=1)
"""A multipart upload begun this long ago belongs to a killed run (a run never lasts a day)."""

PURGED_AT = "trash_purged_at"
"""The snapshot's meta key holding when the trash was last emptied."""


async def prepare_folder(root: Path, temp_files: list[str]) -> None:
    """Create a missing project folder (first run) and remove temporary files of a killed run."""

    def prepare() -> None:
        root.mkdir(parents=True, exist_ok=True)
        ops.remove_temp_files(root, temp_files)

    await asyncio.to_thread(prepare)


async def remove_leftovers(root: Path, rules: IgnoreRules) -> None:
    """After a run stopped part-way (Ctrl-C, an auth failure), remove its temporary files.

    Each download removes its own on the way out; this catches the one whose temporary file a
    worker thread was creating at the moment of a cancel, which the cancelled coroutine never
    got to know about. Never raises, so it cannot hide why the run stopped.
    """

    def remove() -> None:
        ops.remove_temp_files(root, find_temp_files(root, rules))

    with contextlib.suppress(Exception):
        await asyncio.to_thread(remove)


async def purge_daily(
    store: SnapshotStore,
    remote: RemoteStore,
    trash_root: Path,
    retention_days: float,
    now: datetime,
    outcomes: Outcomes,
) -> None:
    """Empty old trash on both sides and abort stale uploads, once a day; a failure is a
    warning among the run's outcomes."""
    last = await store.get_meta(PURGED_AT)
    if last is not None and now - datetime.fromisoformat(last) < timedelta(days=1):
        return
    cutoff = now - timedelta(days=retention_days)
    await asyncio.to_thread(purge_trash, trash_root, older_than=cutoff)
    try:
        await remote.purge_trash(cutoff)
    except FileActionError as err:
        outcomes.warnings.append(FileError(".bmsync-trash", f"could not empty old trash: {err}"))
        return
    try:
        await remote.abort_stale_uploads(now - STALE_UPLOAD_AGE)
    except FileActionError as err:  # tried again tomorrow, not on every run
        outcomes.warnings.append(FileError(".", str(err)))
    await store.set_meta(PURGED_AT, now.isoformat())
