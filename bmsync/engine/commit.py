"""Commit: finished actions reach the snapshot in batches, one transaction each.

A commit per action would cost a transaction per file (a first sync of 20,000 notes would spend
most of its time in fsync); one commit at the end would lose every finished action to a kill.
Batches of at most 256 rows or half a second bound both. A run killed between an action and its
commit leaves a path whose two sides agree but whose row is stale, which the next run finds
equal and records without a transfer. The run history (`begin_run` / `finish_run`) lives here
too: it is the same store, and "how did the last run end" is part of what was committed.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Sequence
from datetime import datetime
from typing import Protocol

from bmsync.ports import SnapshotStore
from bmsync.report import SyncReport
from bmsync.types import Settlement, Side, SnapshotEntry


class CommitFn(Protocol):
    """`SnapshotStore.apply`: one transaction."""

    def __call__(
        self,
        upserts: Sequence[SnapshotEntry],
        deletes: Sequence[str],
        *,
        settle: Sequence[Settlement] = (),
    ) -> Awaitable[None]: ...


class SnapshotBatcher:
    """Collects snapshot changes and commits them in batches (one transaction each)."""

    def __init__(self, commit: CommitFn, *, max_rows: int = 256, max_delay_s: float = 0.5) -> None:
        self._commit = commit
        self._upserts: dict[str, SnapshotEntry] = {}
        self._deletes: set[str] = set()
        self._settle: dict[tuple[str, Side], Settlement] = {}
        self._max_rows = max_rows
        self._max_delay_s = max_delay_s
        self._last_flush = time.monotonic()
        self._lock = asyncio.Lock()

    async def add(
        self,
        upserts: Sequence[SnapshotEntry] = (),
        deletes: Sequence[str] = (),
        settle: Sequence[Settlement] = (),
    ) -> None:
        for settlement in settle:
            self._settle[settlement.path, settlement.side] = settlement
        for entry in upserts:
            self._deletes.discard(entry.path)
            self._upserts[entry.path] = entry
        for path in deletes:
            self._upserts.pop(path, None)
            self._deletes.add(path)
        if self._due():
            await self.flush(only_if_due=True)

    def _due(self) -> bool:
        pending = len(self._upserts) + len(self._deletes) + len(self._settle)
        overdue = time.monotonic() - self._last_flush > self._max_delay_s
        return pending >= self._max_rows or (pending > 0 and overdue)

    async def flush(self, *, only_if_due: bool = False) -> None:
        async with self._lock:
            # Tasks that queued on the lock while a commit ran find their rows committed.
            if only_if_due and not self._due():
                return
            if not self._upserts and not self._deletes and not self._settle:
                return
            upserts, deletes = list(self._upserts.values()), sorted(self._deletes)
            settle = list(self._settle.values())
            self._upserts, self._deletes, self._settle = {}, set(), {}
            await self._commit(upserts, deletes, settle=settle)
            self._last_flush = time.monotonic()


async def begin_run(store: SnapshotStore, run_id: str, now: datetime) -> None:
    """Record the run as running before the first change, so a kill leaves a trace."""
    await store.begin_run(run_id, now)


async def finish_run(store: SnapshotStore, report: SyncReport) -> None:
    """Record how the run ended, with its counts."""
    await store.finish_run(_run_id(report), report.status, run_summary(report))


async def record_interrupted(store: SnapshotStore, report: SyncReport) -> None:
    """Cancelled (Ctrl-C), an auth failure, a crash: the history must not say "ok". Never
    raises, so it cannot hide why the run stopped."""
    with contextlib.suppress(Exception):
        await asyncio.shield(store.finish_run(_run_id(report), "interrupted", run_summary(report)))


def run_summary(report: SyncReport) -> dict[str, object]:
    """The counts the run history keeps (what `bmsync status` shows)."""
    return {
        "uploaded": len(report.uploaded),
        "downloaded": len(report.downloaded),
        "deleted_local": len(report.deleted_local),
        "deleted_remote": len(report.deleted_remote),
        "conflicts": len(report.conflicts),
        "moved": len(report.moved),
        "errors": len(report.errors),
        "bytes_uploaded": report.bytes_uploaded,
        "bytes_downloaded": report.bytes_downloaded,
    }


def _run_id(report: SyncReport) -> str:
    assert report.run_id is not None, "a real run's report carries its run id"
    return report.run_id
