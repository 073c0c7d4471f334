"""Continuous sync (`watch_project`): the timetable with a fake clock, the loop with a fake sync,
the own-writes filter on a real folder, and end to end with the real watcher and real servers.

The end-to-end tests run once per S3 server; each keeps to a few seconds by using a short
debounce and, where a poll matters, a short interval.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import bmsync
from bmsync import S3Config, SyncReport, project_status, sync_project, watch_project
from bmsync.commands.schedule import Schedule, Timing
from bmsync.commands.watch import LocalChanges, WatchedFolder, keep_in_sync
from bmsync.errors import ConfigError, LockedError, RemoteError
from bmsync.local.changes import changed_paths
from bmsync.local.ignore import IgnoreRules
from bmsync.local.scan import scan_local
from bmsync.names import TEMP_PREFIX
from bmsync.testing import MemoryRemote
from bmsync.types import SnapshotEntry
from tests.events import actions_only
from tests.faultproxy import Decision, Fault, FaultProxy, Request, always, no_faults
from tests.servers import S3TestServer

PREFIX = "notes"

# -- the timetable (pure, fake clock) ---------------------------------------------------------


def test_the_first_run_is_due_at_once() -> None:
    schedule = Schedule.starting(Timing(), now=100.0)
    assert schedule.due(100.0) == "start"


def test_a_local_change_waits_for_the_debounce() -> None:
    schedule = Schedule.starting(Timing(interval=60, debounce=1), now=0)
    schedule.succeeded(0)
    schedule.changed(10.0)
    assert schedule.due(10.9) is None
    assert schedule.due(11.0) == "local change"


def test_changes_that_never_pause_wait_at_most_twice_the_debounce() -> None:
    schedule = Schedule.starting(Timing(interval=60, debounce=1), now=0)
    schedule.succeeded(0)
    for tick in range(20):  # an autosave every half second
        schedule.changed(10.0 + tick * 0.5)
    assert schedule.due_at() == 12.0


def test_the_remote_is_polled_an_interval_after_the_last_run() -> None:
    schedule = Schedule.starting(Timing(interval=60, debounce=1), now=0)
    schedule.succeeded(5.0)
    assert schedule.due(64.9) is None
    assert schedule.due(65.0) == "poll"
    schedule.changed(30.0)
    schedule.forget_changes()  # a run for the change starts ...
    schedule.succeeded(31.0)  # ... and lists the remote too: the poll moves
    assert schedule.due_at() == 91.0


def test_failures_back_off_doubling_up_to_the_cap() -> None:
    timing = Timing(interval=60, retry_first=1, retry_max=5)
    schedule = Schedule.starting(timing, now=0)
    delays = [schedule.failed(now) for now in (0, 1, 3, 7, 12)]
    assert delays == [1, 2, 4, 5, 5]
    assert schedule.due(16.9) is None and schedule.due(17.0) == "retry"


def test_while_backing_off_neither_a_change_nor_a_poll_starts_a_run() -> None:
    schedule = Schedule.starting(Timing(interval=1, debounce=0, retry_first=8), now=0)
    schedule.failed(0)
    schedule.changed(1.0)
    assert schedule.due(7.9) is None and schedule.due(8.0) == "retry"


def test_a_run_that_works_ends_the_backoff() -> None:
    schedule = Schedule.starting(Timing(interval=60, debounce=1, retry_first=1), now=0)
    for now in (0, 1, 3):
        schedule.failed(now)
    schedule.succeeded(10)
    schedule.changed(11)
    assert schedule.due(12) == "local change"
    assert schedule.failed(20) == 1  # the count starts again


@pytest.mark.parametrize(
    "timing",
    [{"interval": 0}, {"interval": -1}, {"debounce": -0.5}, {"retry_max": 0}],
)
def test_timing_refuses_nonsense(timing: dict[str, float]) -> None:
    with pytest.raises(ConfigError):
        Timing(**timing)


# -- the loop, with a fake sync ---------------------------------------------------------------


def fake_report(**fields: Any) -> SyncReport:
    return SyncReport(run_id="r", **fields)


async def run_loop(
    sync_once: Callable[[], Awaitable[SyncReport]],
    stop_when: Callable[[list[SyncReport]], bool],
    *,
    timing: Timing,
    changes: LocalChanges | None = None,
    on_synced: Callable[[SyncReport], Any] | None = None,
) -> list[SyncReport]:
    """`keep_in_sync` until `stop_when(reports)`, with a 5 s safety limit."""
    reports: list[SyncReport] = []
    stop = asyncio.Event()

    async def record(report: SyncReport) -> None:
        reports.append(report)
        if stop_when(reports):
            stop.set()
        if on_synced is not None:
            result = on_synced(report)
            if asyncio.iscoroutine(result):
                await result

    async def always_changed(_: set[str]) -> bool:
        return True

    await asyncio.wait_for(
        keep_in_sync(
            "test",
            sync_once,
            changes or LocalChanges(),
            always_changed,
            timing=timing,
            on_synced=record,
            stop=stop,
        ),
        timeout=5,
    )
    return reports


async def test_failed_runs_are_retried_and_never_end_the_watch(
    caplog: pytest.LogCaptureFixture,
) -> None:
    failures: list[Exception] = [
        RemoteError("cannot reach the bucket"),
        LockedError("another sync holds the lock"),
        RuntimeError("a bug"),
    ]

    async def sync_once() -> SyncReport:
        if failures:
            raise failures.pop(0)
        return fake_report()

    timing = Timing(interval=60, retry_first=0.01, retry_max=0.02)
    with caplog.at_level(logging.WARNING, logger="bmsync"):
        reports = await run_loop(sync_once, lambda r: len(r) == 1, timing=timing)
    assert len(reports) == 1 and not failures
    messages = [r.getMessage() for r in caplog.records]
    assert any("cannot reach the bucket; trying again in 0.01 s" in m for m in messages)
    assert any("another sync holds the lock" in m for m in messages)
    assert any("3 failures in a row" in m for m in messages)


async def test_runs_never_overlap_while_changes_keep_arriving() -> None:
    changes = LocalChanges()
    running = overlaps = 0

    async def sync_once() -> SyncReport:
        nonlocal running, overlaps
        running += 1
        overlaps = max(overlaps, running)
        changes.add([f"edit-{time.monotonic()}.md"])  # an edit during every run
        await asyncio.sleep(0.02)
        running -= 1
        return fake_report()

    reports = await run_loop(
        sync_once, lambda r: len(r) == 4, timing=Timing(debounce=0.01), changes=changes
    )
    assert len(reports) == 4 and overlaps == 1


async def test_changes_that_were_bmsyncs_own_start_no_run() -> None:
    changes = LocalChanges()
    checked: list[set[str]] = []

    async def sync_once() -> SyncReport:
        changes.add(["downloaded.md"])  # the run's own write, seen by the watcher
        return fake_report(downloaded=["downloaded.md"])

    async def confirm(paths: set[str]) -> bool:
        checked.append(paths)
        return False

    stop = asyncio.Event()
    reports: list[SyncReport] = []
    task = asyncio.create_task(
        keep_in_sync(
            "test",
            sync_once,
            changes,
            confirm,
            timing=Timing(debounce=0.01),
            on_synced=reports.append,
            stop=stop,
        ),
    )
    for _ in range(100):
        await asyncio.sleep(0.01)
        if checked:
            break
    await asyncio.sleep(0.05)
    stop.set()
    await asyncio.wait_for(task, 5)
    assert checked == [{"downloaded.md"}] and len(reports) == 1


async def test_on_synced_may_be_async_and_a_failing_one_does_not_end_the_watch(
    caplog: pytest.LogCaptureFixture,
) -> None:
    seen: list[str] = []

    async def handle(report: SyncReport) -> None:
        seen.append(report.status)
        await asyncio.sleep(0)
        if len(seen) == 1:
            raise ValueError("the reindexer is down")

    async def sync_once() -> SyncReport:
        return fake_report()

    with caplog.at_level(logging.ERROR, logger="bmsync"):
        reports = await run_loop(
            sync_once, lambda r: len(r) == 2, timing=Timing(interval=0.01), on_synced=handle
        )
    assert len(reports) == 2 and seen == ["ok", "ok"]
    assert "on_synced callback failed" in caplog.text


async def test_stop_ends_the_watch_after_the_current_run() -> None:
    stop = asyncio.Event()
    finished: list[bool] = []

    async def sync_once() -> SyncReport:
        stop.set()
        await asyncio.sleep(0.05)
        finished.append(True)
        return fake_report()

    await asyncio.wait_for(
        keep_in_sync("test", sync_once, LocalChanges(), _never, timing=Timing(), stop=stop), 5
    )
    assert finished == [True]


async def _never(_: set[str]) -> bool:
    return False


def test_watch_refuses_options_that_would_defeat_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="force"):
        bmsync.watch_project_blocking(tmp_path, "s3://b/p", force=True)
    with pytest.raises(TypeError, match="colour"):
        bmsync.watch_project_blocking(tmp_path, "s3://b/p", colour="blue")
    with pytest.raises(ConfigError, match="interval"):
        bmsync.watch_project_blocking(tmp_path, "s3://b/p", interval=0)


# -- which reported paths are real changes ----------------------------------------------------


def snapshot_of(root: Path, rules: IgnoreRules) -> dict[str, SnapshotEntry]:
    """The snapshot a sync of the folder as it is now would leave."""
    scan = scan_local(root, rules, {})
    return {
        path: SnapshotEntry(path, f.size, f.mtime_ns, f.xxh3, "etag", f.ctime_ns)
        for path, f in scan.files.items()
    }


@pytest.fixture
def folder(tmp_path: Path) -> Iterator[tuple[Path, IgnoreRules]]:
    root = tmp_path / "notes"
    (root / "sub").mkdir(parents=True)
    (root / "a.md").write_text("a")
    (root / "sub" / "b.md").write_text("b")
    yield root, IgnoreRules.load(root, global_file=tmp_path / "none")


def test_writes_the_snapshot_describes_are_no_change(folder: tuple[Path, IgnoreRules]) -> None:
    root, rules = folder
    snapshot = snapshot_of(root, rules)
    assert changed_paths(root, ["a.md", "sub", "sub/b.md", "gone.md"], snapshot, rules) == []


def test_a_touch_is_no_change(folder: tuple[Path, IgnoreRules]) -> None:
    root, rules = folder
    snapshot = snapshot_of(root, rules)
    os.utime(root / "a.md", (1, 1))
    assert changed_paths(root, ["a.md"], snapshot, rules) == []


def test_edits_new_files_and_deletes_are_changes(folder: tuple[Path, IgnoreRules]) -> None:
    root, rules = folder
    snapshot = snapshot_of(root, rules)
    (root / "a.md").write_text("edited")
    (root / "sub" / "b.md").unlink()
    (root / "new.md").write_text("n")
    reported = ["a.md", "sub/b.md", "new.md"]
    assert changed_paths(root, reported, snapshot, rules) == ["a.md", "new.md", "sub/b.md"]


def test_a_folder_moved_away_or_in_is_a_change(
    folder: tuple[Path, IgnoreRules], tmp_path: Path
) -> None:
    root, rules = folder
    snapshot = snapshot_of(root, rules)
    (root / "sub").rename(tmp_path / "elsewhere")
    assert changed_paths(root, ["sub"], snapshot, rules) == ["sub/b.md"]
    (tmp_path / "elsewhere").rename(root / "moved-in")
    assert changed_paths(root, ["moved-in"], snapshot, rules) == ["moved-in/b.md"]


def test_ignored_and_temporary_files_are_no_change(folder: tuple[Path, IgnoreRules]) -> None:
    root, rules = folder
    snapshot = snapshot_of(root, rules)
    (root / "x.tmp").write_text("t")
    (root / f"{TEMP_PREFIX}1234-a.md").write_text("partial")
    (root / ".obsidian").mkdir()
    (root / ".obsidian" / "workspace.json").write_text("{}")
    reported = ["x.tmp", f"{TEMP_PREFIX}1234-a.md", ".obsidian", ".obsidian/workspace.json"]
    assert changed_paths(root, reported, snapshot, rules) == []


# -- end to end: the real watcher, real S3 servers --------------------------------------------


class Bucket:
    """The prefix as another client sees it."""

    def __init__(self, server: S3TestServer, bucket: str) -> None:
        self.client, self.bucket = server.client, bucket
        self.url = f"s3://{bucket}/{PREFIX}"

    def put(self, rel: str, data: str) -> None:
        self.client.put_object(Bucket=self.bucket, Key=f"{PREFIX}/{rel}", Body=data.encode())

    def tree(self) -> dict[str, bytes]:
        listed = self.client.list_objects_v2(Bucket=self.bucket, Prefix=PREFIX + "/")
        return {
            o["Key"][len(PREFIX) + 1 :]: self.client.get_object(Bucket=self.bucket, Key=o["Key"])[
                "Body"
            ].read()
            for o in listed.get("Contents", [])
        }


def local_tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def temp_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.name.startswith(TEMP_PREFIX)]


class Watching:
    """A `watch_project` task and every report it handed to `on_synced`."""

    def __init__(
        self, root: Path, url: str, state: Path, config: S3Config, delivered: set[str], **kw: Any
    ) -> None:
        self.root = root
        self.delivered = delivered
        """Every path the file watcher handed over so far (`WatchedFolder.relevant`)."""
        self.reports: list[SyncReport] = []
        self.stop = asyncio.Event()
        kw.setdefault("debounce", 0.2)
        self.task = asyncio.create_task(
            watch_project(
                root,
                url,
                s3=config,
                state_dir=state,
                on_synced=self.reports.append,
                stop=self.stop,
                **kw,
            ),
        )

    async def until(self, condition: Callable[[], bool], timeout: float = 8.0) -> float:
        """Wait until `condition()` holds; returns how long that took."""
        started = time.monotonic()
        while not condition():
            if self.task.done():
                self.task.result()  # raises what ended the watch
                pytest.fail("the watch ended by itself")
            if time.monotonic() - started > timeout:
                pytest.fail(f"not within {timeout} s; reports: {self.reports}")
            await asyncio.sleep(0.05)
        return time.monotonic() - started

    async def first_run(self) -> SyncReport:
        await self.until(lambda: bool(self.reports))
        await self.watcher_up()
        return self.reports[0]

    async def watcher_up(self) -> None:
        """Until the file watcher reports changes: write an ignored file (its event starts no
        run) until the watcher hands its path over, then remove it."""
        probe = self.root / "watcher-probe.tmp"
        for attempt in range(200):
            probe.write_text(str(attempt))
            await asyncio.sleep(0.05)
            if probe.name in self.delivered:
                probe.unlink()
                return
        pytest.fail("the file watcher reported no change")

    async def close(self) -> None:
        self.stop.set()
        await asyncio.wait_for(self.task, 10)


@pytest.fixture
def bucket_side(s3_server: S3TestServer, bucket: str) -> Bucket:
    return Bucket(s3_server, bucket)


@pytest.fixture
def watching(
    root: Path,
    tmp_path: Path,
    s3_server: S3TestServer,
    bucket_side: Bucket,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Callable[..., Watching]]:
    started: list[Watching] = []
    delivered: set[str] = set()
    relevant = WatchedFolder.relevant

    def seen(folder: WatchedFolder, disk_rel: str) -> bool:
        delivered.add(disk_rel)
        return relevant(folder, disk_rel)

    monkeypatch.setattr(WatchedFolder, "relevant", seen)

    def start(**kw: Any) -> Watching:
        kw.setdefault("config", s3_server.config)
        started.append(
            Watching(root, bucket_side.url, tmp_path / "state", delivered=delivered, **kw)
        )
        return started[-1]

    yield start
    for watch in started:
        watch.task.cancel()


async def test_a_local_edit_reaches_the_bucket_within_seconds(
    watching: Callable[..., Watching],
    root: Path,
    bucket_side: Bucket,
    caplog: pytest.LogCaptureFixture,
) -> None:
    watch = watching(interval=60, debounce=1.0)  # the default
    await watch.first_run()
    (root / "idea.md").write_text("written in an editor")
    with caplog.at_level(logging.INFO, logger="bmsync"):
        # The run's line is logged when the run ends, which is after the upload is visible.
        await watch.until(lambda: len(watch.reports) == 2, timeout=30)
    assert "idea.md" in bucket_side.tree()
    # Brought over by the file watcher's event, not by the poll a minute later.
    runs = [r.getMessage() for r in caplog.records if ": sync (" in r.getMessage()]
    assert len(runs) == 1 and "sync (local change): 1 uploaded" in runs[0], runs
    await watch.close()
    assert bucket_side.tree() == {"idea.md": b"written in an editor"}


async def test_a_remote_change_arrives_at_the_next_poll(
    watching: Callable[..., Watching], root: Path, bucket_side: Bucket
) -> None:
    watch = watching(interval=0.5)
    await watch.first_run()
    bucket_side.put("from-the-cloud.md", "hello")
    await watch.until(lambda: (root / "from-the-cloud.md").exists())
    await watch.close()
    assert (root / "from-the-cloud.md").read_text() == "hello"


async def test_neither_a_download_nor_an_ignored_file_starts_another_run(
    watching: Callable[..., Watching], root: Path, bucket_side: Bucket
) -> None:
    watch = watching(interval=60)
    await watch.first_run()
    bucket_side.put("remote.md", "r")
    bucket_side.put("deep/er/remote.md", "r")
    (root / "local.md").write_text("l")  # its run uploads this and downloads the others
    await watch.until(lambda: len(watch.reports) == 2)
    second = watch.reports[1]
    assert second.uploaded == ["local.md"]
    assert second.downloaded == ["deep/er/remote.md", "remote.md"]
    (root / "scratch.tmp").write_text("ignored")  # basic-memory's default rules skip *.tmp
    await asyncio.sleep(1.5)  # several debounces: the downloads' events come and go
    await watch.close()
    assert len(watch.reports) == 2


async def test_a_server_down_at_first_is_retried_until_it_is_up(
    watching: Callable[..., Watching],
    root: Path,
    bucket_side: Bucket,
    s3_server: S3TestServer,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")  # each attempt fails at once
    (root / "waiting.md").write_text("w")
    every = ("LIST", "HEAD", "GET", "PUT", "COPY", "DELETE", "POST")
    with FaultProxy(str(s3_server.config.endpoint_url), seed=1) as proxy:
        proxy.policy = always(Fault.RESET_BEFORE, every)  # connections refused, in effect
        config = dataclasses.replace(s3_server.config, endpoint_url=proxy.endpoint_url)
        with caplog.at_level(logging.WARNING, logger="bmsync"):
            watch = watching(interval=60, config=config)
            await watch.until(lambda: "trying again" in caplog.text)
            assert not watch.reports
            proxy.policy = no_faults
            await watch.until(lambda: bool(watch.reports))
        await watch.close()
    assert watch.reports[0].uploaded == ["waiting.md"]
    assert bucket_side.tree() == {"waiting.md": b"w"}


async def test_a_guard_abort_is_reported_and_the_watch_goes_on(
    watching: Callable[..., Watching],
    root: Path,
    bucket_side: Bucket,
    caplog: pytest.LogCaptureFixture,
) -> None:
    for n in range(4):
        (root / f"n{n}.md").write_text(str(n))
    watch = watching(interval=60, max_delete=1)
    assert len((await watch.first_run()).uploaded) == 4
    with caplog.at_level(logging.WARNING, logger="bmsync"):
        for n in range(3):
            (root / f"n{n}.md").unlink()  # a stray rm: more deletes than max-delete allows
        await watch.until(lambda: len(watch.reports) == 2)
        assert watch.reports[1].status == "aborted"
        assert "aborted" in caplog.text and "max-delete" in caplog.text
    for n in range(3):
        (root / f"n{n}.md").write_text(str(n))  # put back, as they were: no change
    (root / "new.md").write_text("the next edit")
    await watch.until(lambda: len(watch.reports) == 3)
    await watch.close()
    assert watch.reports[2].status == "ok" and watch.reports[2].uploaded == ["new.md"]
    assert not watch.reports[2].deleted_remote and len(bucket_side.tree()) == 5


def slow_downloads(request: Request, _rng: object) -> Decision:
    return Decision(latency_s=0.3 if request.operation == "GET" else 0.0)


async def test_cancelling_mid_run_leaves_no_partial_file_and_the_next_run_converges(
    root: Path, tmp_path: Path, s3_server: S3TestServer, bucket_side: Bucket
) -> None:
    for n in range(12):
        bucket_side.put(f"n{n:02}.md", f"note {n}")
    state = tmp_path / "state"
    with FaultProxy(str(s3_server.config.endpoint_url), seed=1) as proxy:
        proxy.policy = slow_downloads
        config = dataclasses.replace(s3_server.config, endpoint_url=proxy.endpoint_url)
        done = 0
        task: asyncio.Task[None] | None = None

        def cancel_after_two(_event: bmsync.ProgressEvent) -> None:
            nonlocal done
            done += 1
            if done == 2 and task is not None:
                task.cancel()  # downloads are in flight: their temporary files exist

        task = asyncio.create_task(
            watch_project(
                root,
                bucket_side.url,
                s3=config,
                state_dir=state,
                transfers=3,
                progress=actions_only(cancel_after_two),
            ),
        )
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(task, 10)
    # How many downloads finish before the cancel lands depends on the machine's load; that the
    # cancel landed mid-run is what the run's recorded status shows.
    assert len(local_tree(root)) >= 2
    assert temp_files(root) == []
    status = await project_status(root, bucket_side.url, state_dir=state)
    assert status.runs[0].status == "interrupted" and status.lock is None
    report = await sync_project(root, bucket_side.url, s3=s3_server.config, state_dir=state)
    assert report.status == "ok"
    assert local_tree(root) == bucket_side.tree() and len(bucket_side.tree()) == 12


async def test_a_watch_with_keep_both_keeps_each_version_once(tmp_path: Path) -> None:
    """Issue 16: a keep-both that made a new copy on every run never stopped under a watch.
    Three polls of a conflict: one copy on each side, and the polls after the first change
    nothing."""
    root = tmp_path / "notes"
    root.mkdir()
    (root / "x.md").write_text("mine")
    remote = MemoryRemote()
    remote.put_bytes("x.md", b"theirs")
    reports: list[SyncReport] = []
    stop = asyncio.Event()

    def seen(report: SyncReport) -> None:
        reports.append(report)
        if len(reports) == 3:
            stop.set()

    await asyncio.wait_for(
        watch_project(
            root,
            "s3://memory/p",
            interval=0.05,
            debounce=0.01,
            conflict="keep-both",
            remote=remote,
            state_dir=tmp_path / "state",
            on_synced=seen,
            stop=stop,
        ),
        60,
    )
    assert [len(r.conflicts) for r in reports] == [1, 0, 0]
    assert not any(r.changed for r in reports[1:])
    local_copies = [p.name for p in root.iterdir() if ".conflict-" in p.name]
    remote_copies = [k for k in remote.contents() if ".conflict-" in k]
    assert local_copies == remote_copies and len(local_copies) == 1
