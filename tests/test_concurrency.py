"""How many transfers run at once: small files up to 4x `transfers` (capped by the client's
connection pool), fewer while the store throttles (bmsync/engine/aimd.py), large ones at
`transfers` (bmsync/engine/lanes.py)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from bmsync import SyncReport, sync_project
from bmsync.engine.lanes import SMALL_BYTES, small_transfers
from bmsync.options import MAX_REQUESTS_IN_FLIGHT
from bmsync.ports import LocalSource
from bmsync.s3.client import MAX_POOL_CONNECTIONS
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


# -- fewer at once while the store throttles (bmsync/engine/aimd.py, gate.py) ---------------------


class ThrottlingRemote(SlowRemote):
    """`SlowRemote` whose uploads numbered `throttled_uploads` (in the order they start) are
    answered "slow down" once, as a store would, and retried: `throttled` grows as each
    starts. `starts` keeps how many uploads were in flight as each one started."""

    def __init__(self, throttled_uploads: range) -> None:
        super().__init__()
        self.throttled_uploads = throttled_uploads
        self.starts: list[int] = []

    async def upload(
        self, relkey: str, source: LocalSource, *, mode: PutMode, verify: bool
    ) -> RemoteMeta:
        self.starts.append(self.in_flight + 1)
        if len(self.starts) in self.throttled_uploads:
            self.throttled += 1
        return await super().upload(relkey, source, mode=mode, verify=verify)


async def _sync_small(tmp_path: Path, remote: MemoryRemote, count: int) -> SyncReport:
    root = tmp_path / "notes"
    root.mkdir()
    for i in range(count):
        (root / f"{i:03d}.md").write_text(f"note {i}\n")
    report = await sync_project(
        root, "s3://memory/p", state_dir=tmp_path / "state", remote=remote, now=NOW
    )
    assert len(report.uploaded) == count and not report.errors
    return report


async def test_throttling_halves_the_small_transfers_in_flight(tmp_path: Path) -> None:
    """Uploads 64 to 127 are throttled: the first 64 run up to 32 at once, as before; from the
    throttles on, the width halves down to `transfers` (8), and the 64 uploads that follow
    start with at most 16 in flight (it grows back by one per round: 8 uploads, then 9, ...,
    so it is under 16 for the next 8 + 9 + ... + 15 = 92)."""
    remote = ThrottlingRemote(range(64, 128))
    report = await _sync_small(tmp_path, remote, 400)
    assert max(remote.starts[:64]) == MAX_REQUESTS_IN_FLIGHT
    assert max(remote.starts[128:192]) <= MAX_REQUESTS_IN_FLIGHT // 2, remote.starts[128:192]
    warnings = {w.path: w.message for w in report.warnings}
    assert warnings["(throttled)"].startswith("the store asked to slow down 64 times"), warnings


async def test_without_throttling_small_transfers_stay_at_the_cap(tmp_path: Path) -> None:
    remote = ThrottlingRemote(range(0))
    report = await _sync_small(tmp_path, remote, 400)
    quarters = [remote.starts[i : i + 100] for i in range(0, 400, 100)]
    assert [max(q) for q in quarters] == [MAX_REQUESTS_IN_FLIGHT] * 4  # all along, not once
    assert not report.warnings


async def test_a_run_back_at_the_cap_by_its_end_warns_of_nothing(tmp_path: Path) -> None:
    """Two throttles at the start, answering one round: the width halves once (16), then
    grows back to the cap within 32 + 16 + 17 + ... + 31 = 408 uploads, well before the
    700th. botocore's retries dealt with it: nothing is left for the user to do."""
    remote = ThrottlingRemote(range(1, 3))
    report = await _sync_small(tmp_path, remote, 700)
    assert max(remote.starts[:32]) == MAX_REQUESTS_IN_FLIGHT
    assert max(remote.starts[32:64]) <= MAX_REQUESTS_IN_FLIGHT // 2  # halved once
    assert max(remote.starts[-100:]) == MAX_REQUESTS_IN_FLIGHT
    assert not report.warnings
