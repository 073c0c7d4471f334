"""S3 clients kept open between runs of one process (`bmsync.s3.pool`), seen at the wire.

A process that syncs again and again (basic-memory, `watch`, `sync-all`) should pay for a
client and its connection once, not once per run; and what is kept must be closed: after
`IDLE_S`, when a run fails, and when the event loop ends. Counted through `tests/faultproxy.py`
(no faults) in front of moto_server and `rclone serve s3`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from bmsync import S3Config, SyncReport, sync_project
from bmsync.s3 import pool
from tests.faultproxy import FaultProxy
from tests.servers import S3TestServer

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def counted(s3_server: S3TestServer, proxy: FaultProxy) -> S3Config:
    return dataclasses.replace(s3_server.config, endpoint_url=proxy.endpoint_url)


@pytest.fixture
def notes(tmp_path: Path) -> Path:
    root = tmp_path / "notes"
    for i in range(20):
        (root / f"d{i % 3}").mkdir(parents=True, exist_ok=True)
        (root / f"d{i % 3}" / f"n{i}.md").write_text(f"note {i}\n")
    return root


async def _sync(notes: Path, url: str, s3: S3Config, state: Path) -> SyncReport:
    report = await sync_project(notes, url, s3=s3, state_dir=state)
    assert report.status == "ok" and not report.errors, report.errors
    return report


async def test_runs_in_one_process_share_one_client_and_its_connection(
    notes: Path, tmp_path: Path, s3_server: S3TestServer, counted: S3Config, proxy: FaultProxy
) -> None:
    url = f"s3://{s3_server.create_bucket()}/p"
    await _sync(notes, url, counted, tmp_path / "state")
    assert pool.idle_count() == 1
    async with pool.pooled_s3_client(counted) as kept:
        pass
    opened = proxy.connections_accepted
    for _ in range(3):
        report = await _sync(notes, url, counted, tmp_path / "state")
        assert not report.changed
    async with pool.pooled_s3_client(counted) as still:
        assert still is kept
    if s3_server.name == "rclone":  # moto's server closes each connection after one answer
        assert proxy.connections_accepted == opened, "a later run opened a new connection"
    assert pool.idle_count() == 1
    await pool.close_idle()
    assert pool.idle_count() == 0
    await _wait_for(lambda: proxy.connections_open == 0)


async def test_two_runs_at_once_each_have_their_own_client(counted: S3Config) -> None:
    async with pool.pooled_s3_client(counted) as first, pool.pooled_s3_client(counted) as second:
        assert first is not second
    assert pool.idle_count() == 2
    async with pool.pooled_s3_client(counted) as again:
        assert again in (first, second)
    await pool.close_idle()


async def test_a_run_that_raised_closes_its_client(
    counted: S3Config, proxy: FaultProxy, s3_server: S3TestServer
) -> None:
    bucket = s3_server.create_bucket()
    with pytest.raises(RuntimeError):
        async with pool.pooled_s3_client(counted) as client:
            await client.list_objects_v2(Bucket=bucket)
            raise RuntimeError("the run failed")
    assert pool.idle_count() == 0
    await _wait_for(lambda: proxy.connections_open == 0)


async def test_other_settings_or_aws_variables_get_another_client(
    counted: S3Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with pool.pooled_s3_client(counted) as first:
        pass
    async with pool.pooled_s3_client(dataclasses.replace(counted, region="eu-west-1")) as other:
        assert other is not first
    headed = dataclasses.replace(counted, headers={"X-Tigris-Consistent": "true"})
    async with pool.pooled_s3_client(headed) as with_headers:
        assert with_headers is not first
    assert pool.client_key(headed) == pool.client_key(
        dataclasses.replace(counted, headers={"X-Tigris-Consistent": "true"})
    )
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "2")
    async with pool.pooled_s3_client(counted) as changed_env:
        assert changed_env is not first
    monkeypatch.delenv("AWS_MAX_ATTEMPTS")
    async with pool.pooled_s3_client(counted) as same:
        assert same is first
    await pool.close_idle()


async def test_an_idle_client_is_closed_after_idle_s(
    counted: S3Config, proxy: FaultProxy, s3_server: S3TestServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pool, "IDLE_S", 0.05)
    bucket = s3_server.create_bucket()
    async with pool.pooled_s3_client(counted) as client:
        await client.list_objects_v2(Bucket=bucket)
    assert pool.idle_count() == 1
    await asyncio.sleep(0.3)
    assert pool.idle_count() == 0
    await _wait_for(lambda: proxy.connections_open == 0)


async def test_an_old_client_is_not_kept(
    counted: S3Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pool, "MAX_AGE_S", 0.0)
    async with pool.pooled_s3_client(counted):
        await asyncio.sleep(0.01)
    assert pool.idle_count() == 0
    await asyncio.sleep(0)  # let the close run


@pytest.mark.moto_only("one server is enough for how a process ends")
def test_the_end_of_asyncio_run_closes_kept_clients_without_a_warning(
    notes: Path, tmp_path: Path, s3_server: S3TestServer, proxy: FaultProxy, counted: S3Config
) -> None:
    """A script's `asyncio.run(sync_project(...))` keeps a client at the end of its run; the
    loop's end must close it and its connection, with no "Unclosed client session" warning."""
    url = f"s3://{s3_server.create_bucket()}/p"
    script = textwrap.dedent(
        f"""
        import asyncio
        from bmsync import S3Config, sync_project
        from bmsync.s3 import pool
        s3 = S3Config(endpoint_url={counted.endpoint_url!r}, region={counted.region!r},
                      access_key_id={counted.access_key_id!r},
                      secret_access_key={counted.secret_access_key!r})
        async def main():
            report = await sync_project({str(notes)!r}, {url!r}, s3=s3,
                                        state_dir={str(tmp_path / "state")!r})
            assert report.status == "ok", report
            assert pool.idle_count() == 1
        asyncio.run(main())
        import gc
        gc.collect()  # an unclosed aiohttp session warns when collected
        print("done")
        """
    )
    done = subprocess.run(
        [sys.executable, "-W", "default", "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "done"
    noise = [
        line
        for line in done.stderr.splitlines()
        if "nclosed" in line or "Error" in line or "never retrieved" in line
    ]
    assert not noise, done.stderr
    assert proxy.connections_accepted >= 1
    _wait_for_sync(lambda: proxy.connections_open == 0)


async def _wait_for(condition: Callable[[], bool], timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


def _wait_for_sync(condition: Callable[[], bool], timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)
