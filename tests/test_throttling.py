"""Fewer requests at once while the store says "slow down", on real servers.

A first sync of some hundreds of notes through tests/faultproxy.py, in front of moto_server and
`rclone serve s3`. Every PUT of a note is held `LATENCY_S` at the proxy, as a distant store
would, so that the client's requests overlap and the proxy's count of requests in flight
(`Record.in_flight`) shows how many bmsync sends at once. The proxy answers a phase of the PUTs
with `503 SlowDown` (S3's XML error body); botocore retries each, and bmsync's executor narrows
the small transfers in flight (bmsync/engine/aimd.py). Counts of requests and of concurrency are
pinned, never times.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from bmsync import SyncReport, sync_project
from bmsync.options import MAX_REQUESTS_IN_FLIGHT
from tests.faultproxy import Fault, FaultProxy, NumberedFaults, Record, Request
from tests.servers import S3TestServer

PREFIX = "notes"
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
FILES = 300
LATENCY_S = 0.2
"""What each PUT of a note waits at the proxy: far longer than the client takes to send 32, so
that as many are in flight as bmsync lets out."""
THROTTLED_PHASE = range(65, 161)
"""The PUTs (numbered as they arrive, retries included) of which every third is throttled."""
AFTER = 64
"""The PUTs after the last throttle that must go out at most half the cap at once: the width,
halved down to `transfers` (8) during the phase, grows back by one per round of 8, 9, ...
successes, so it is under 16 for the 8 + 9 + ... + 15 = 92 that follow."""
CAP = MAX_REQUESTS_IN_FLIGHT


def note_put(request: Request) -> bool:
    return request.operation == "PUT" and request.key.startswith(f"{PREFIX}/")


def note_puts(proxy: FaultProxy) -> list[Record]:
    return [r for r in proxy.records() if r.operation == "PUT" and r.key.startswith(f"{PREFIX}/")]


async def first_sync(
    tmp_path: Path, server: S3TestServer, proxy: FaultProxy, throttled: Callable[[int], bool]
) -> SyncReport:
    """Sync `FILES` new notes through the proxy; check that every one was uploaded."""
    root = tmp_path / "notes"
    for i in range(FILES):
        path = root / f"d{i % 3}" / f"{i:04d}.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"note {i}\n")
    bucket = server.create_bucket()
    proxy.policy = NumberedFaults(Fault.SLOWDOWN, throttled, note_put, latency_s=LATENCY_S)
    report = await sync_project(
        root,
        f"s3://{bucket}/{PREFIX}",
        s3=dataclasses.replace(server.config, endpoint_url=proxy.endpoint_url),
        state_dir=tmp_path / "state",
        now=NOW,
    )
    assert report.status == "ok" and not report.errors, report.errors
    assert len(report.uploaded) == FILES
    stored = server.client.list_objects_v2(Bucket=bucket, Prefix=f"{PREFIX}/")
    assert stored["KeyCount"] == FILES
    return report


async def test_a_throttling_store_gets_fewer_requests_at_once_and_every_file(
    tmp_path: Path, s3_server: S3TestServer, proxy: FaultProxy
) -> None:
    report = await first_sync(
        tmp_path, s3_server, proxy, lambda n: n in THROTTLED_PHASE and n % 3 == 0
    )
    puts = note_puts(proxy)
    hit = [i for i, r in enumerate(puts) if r.fault is Fault.SLOWDOWN]
    assert len(hit) == len(THROTTLED_PHASE) // 3 == proxy.faults[Fault.SLOWDOWN]
    before, after = puts[: hit[0]], puts[hit[-1] + 1 : hit[-1] + 1 + AFTER]
    assert len(after) == AFTER
    peak_before = max(r.in_flight for r in before)
    peak_after = max(r.in_flight for r in after)
    print(f"PUTs in flight: up to {peak_before} before the throttling, {peak_after} after")
    assert peak_before == CAP
    assert peak_after <= CAP // 2, [r.in_flight for r in after]
    # every throttled answer reached the executor, and the run says it ended narrowed
    warning = {w.path: w.message for w in report.warnings}["(throttled)"]
    assert warning.startswith(f"the store asked to slow down {len(hit)} times"), warning


async def test_without_throttling_the_puts_in_flight_reach_the_cap_all_along(
    tmp_path: Path, s3_server: S3TestServer, proxy: FaultProxy
) -> None:
    report = await first_sync(tmp_path, s3_server, proxy, lambda _n: False)
    puts = note_puts(proxy)
    assert len(puts) == FILES
    thirds = [puts[i : i + FILES // 3] for i in range(0, FILES, FILES // 3)]
    assert [max(r.in_flight for r in third) for third in thirds] == [CAP] * 3
    assert not report.warnings
