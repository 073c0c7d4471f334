"""How many transfers run at once: small files up to 4x `transfers` (capped by the client's
connection pool), large ones at `transfers` (bmsync/sync/execute.py)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from bmsync import sync_project
from bmsync.options import MAX_REQUESTS_IN_FLIGHT
from bmsync.ports import LocalSource
from bmsync.s3.client import MAX_POOL_CONNECTIONS
from bmsync.sync.execute import SMALL_BYTES, small_transfers
from bmsync.testing import MemoryRemote
from bmsync.types import PutMode, RemoteMeta

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


class SlowRemote(MemoryRemote):
    """Uploads that take a while, counting how many are in flight at the peak."""

    def __init__(self) -> None:
        super().__init__()
        self.in_flight = 0
        self.peak = 0

    async def upload(
        self, relkey: str, source: LocalSource, *, mode: PutMode, verify: bool
    ) -> RemoteMeta:
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            await asyncio.sleep(0.02)
            return await super().upload(relkey, source, mode=mode, verify=verify)
        finally:
            self.in_flight -= 1


def test_small_transfers_are_four_times_transfers_within_the_pool() -> None:
    assert MAX_POOL_CONNECTIONS == MAX_REQUESTS_IN_FLIGHT
    assert small_transfers(1) == 4
    assert small_transfers(8) == MAX_REQUESTS_IN_FLIGHT == 32
    assert small_transfers(64) == 64  # never fewer than asked for


async def _peak(tmp_path: Path, size: int, count: int, transfers: int) -> int:
    root = tmp_path / "notes"
    root.mkdir()
    for i in range(count):
        (root / f"{i:03d}.md").write_bytes(b"x" * size)
    remote = SlowRemote()
    report = await sync_project(
        root,
        "s3://memory/p",
        state_dir=tmp_path / "state",
        remote=remote,
        now=NOW,
        transfers=transfers,
    )
    assert len(report.uploaded) == count and not report.errors
    return remote.peak


async def test_small_files_go_four_times_as_wide(tmp_path: Path) -> None:
    assert await _peak(tmp_path, 100, 40, transfers=2) == 8


async def test_large_files_keep_to_transfers(tmp_path: Path) -> None:
    assert await _peak(tmp_path, SMALL_BYTES, 6, transfers=2) == 2
