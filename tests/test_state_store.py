"""The SQLite snapshot: round trips, one-transaction batches, binding, damage, versions, crashes."""

from __future__ import annotations

import asyncio
import os
import random
import sqlite3
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

import bmsync.state.store
from bmsync.errors import StateCorruptError, StateError, StateMismatchError, StateTooNewError
from bmsync.state.store import RUNNING, SqliteSnapshotStore
from bmsync.types import Settlement, Side, SnapshotEntry
from tests.model import choose_seed

ROOT, URL = "/home/u/notes", "s3://bucket/notes"


def entry(i: int, version: int = 0) -> SnapshotEntry:
    return SnapshotEntry(
        f"dir/{i:06d}.md",
        i + version,
        1_700_000_000_123_456_789 + i,  # beyond 2**53: stored exactly, not as a float
        f"{i:032x}",
        f"{i + version:032x}",
        1_700_000_001_000_000_000 + i,
    )


async def open_store(db: Path, *, repair: bool = False) -> SqliteSnapshotStore:
    return await SqliteSnapshotStore.open(db, local_root=ROOT, remote_url=URL, repair=repair)


async def make_store(db: Path, entries: list[SnapshotEntry]) -> None:
    async with await open_store(db) as store:
        await store.apply(entries, [])


@contextmanager
def raw_sqlite(db: Path) -> Iterator[sqlite3.Connection]:
    """A plain sqlite3 connection, committed and closed on exit (the `with` of sqlite3 does not
    close, and an open connection would keep its WAL alive)."""
    with closing(sqlite3.connect(db)) as conn, conn:
        yield conn


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "snapshot.db"


@pytest.fixture
def open_umask() -> Iterator[None]:
    """A permissive umask, so file modes come from bmsync and not from the environment."""
    previous = os.umask(0)
    yield
    os.umask(previous)


# -- round trips and batches ---------------------------------------------------------------


async def test_new_snapshot_is_empty(db: Path) -> None:
    async with await open_store(db) as store:
        assert await store.load() == {}
        assert store.set_aside is None


async def test_entries_round_trip_exactly(db: Path) -> None:
    odd = SnapshotEntry("ünï/cödé — 日本.md", 0, -1, "", '"quoted"-etag')
    entries = [entry(i) for i in range(50)] + [odd]
    await make_store(db, entries)
    async with await open_store(db) as store:
        assert await store.load() == {e.path: e for e in entries}


async def test_apply_upserts_and_deletes(db: Path) -> None:
    async with await open_store(db) as store:
        await store.apply([entry(1), entry(2), entry(3)], [])
        await store.apply([entry(1, version=7), entry(4)], ["dir/000002.md", "never/there.md"])
        assert await store.load() == {e.path: e for e in (entry(1, 7), entry(3), entry(4))}


async def test_apply_is_one_transaction(db: Path) -> None:
    """A failure in the deletes, after the upserts ran, leaves nothing of the batch behind."""
    async with await open_store(db) as store:
        await store.apply([entry(1), entry(2)], [])
        gone: list[Any] = ["dir/000002.md", object()]  # SQLite cannot bind the second one
        with pytest.raises(StateError):
            await store.apply([entry(1, version=5), entry(3)], gone)
        assert await store.load() == {e.path: e for e in (entry(1), entry(2))}
        await store.apply([entry(3)], [])  # the store is still usable
        assert len(await store.load()) == 3


async def test_path_both_upserted_and_deleted_is_refused(db: Path) -> None:
    async with await open_store(db) as store:
        with pytest.raises(ValueError, match=r"dir/000001\.md"):
            await store.apply([entry(1)], ["dir/000001.md"])


async def test_a_cancelled_step_finishes_first_and_leaves_nothing_running(db: Path) -> None:
    """A cancel (what Ctrl-C does to a run) that arrives mid-transaction waits for it: the rows
    land, the store stays usable and closes, and no task is left behind for `asyncio.run` to
    wait on (a cancel inside SQLAlchemy used to orphan one that could wait forever)."""
    store = await open_store(db)
    step = asyncio.create_task(store.apply([entry(i) for i in range(2000)], []))
    await asyncio.sleep(0.001)  # inside the transaction, waiting on aiosqlite's thread
    assert not step.done()
    step.cancel()
    with pytest.raises(asyncio.CancelledError):
        await step
    assert len(await store.load()) == 2000, "the transaction was finished, not abandoned"
    await asyncio.wait_for(store.close(), 10)
    left = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    assert left == [], left


async def test_concurrent_tasks_share_the_store(db: Path) -> None:
    async with await open_store(db) as store:
        await asyncio.gather(*(store.apply([entry(i)], []) for i in range(20)), store.load())
        assert len(await store.load()) == 20


async def test_timings_100k_rows(db: Path) -> None:
    """Printed, not asserted (run with -s): the numbers the engine's design relies on."""
    async with await open_store(db) as store:
        started = time.perf_counter()
        await store.apply([entry(i) for i in range(100_000)], [])
        apply_100k = time.perf_counter() - started
        started = time.perf_counter()
        await store.apply([entry(i, version=1) for i in range(0, 100_000, 100)], [])
        apply_1k = time.perf_counter() - started
        started = time.perf_counter()
        for i in range(20):
            await store.apply([entry(i, version=2)], [])
        one_row = (time.perf_counter() - started) / 20
    started = time.perf_counter()
    store = await open_store(db)
    reopen = time.perf_counter() - started
    async with store:
        started = time.perf_counter()
        rows = await store.load()
        load_100k = time.perf_counter() - started
    assert len(rows) == 100_000
    print(
        f"\nsnapshot timings: apply 100k rows {apply_100k:.2f} s, apply 1k rows into 100k "
        f"{apply_1k * 1000:.0f} ms, one-row commit {one_row * 1000:.1f} ms, open+quick_check "
        f"of 100k {reopen * 1000:.0f} ms, load 100k rows {load_100k:.2f} s"
    )


# -- meta and runs -------------------------------------------------------------------------


async def test_meta_values_persist(db: Path) -> None:
    async with await open_store(db) as store:
        assert await store.get_meta("trash_purged_at") is None
        await store.set_meta("trash_purged_at", "2026-11-23T10:15:00+00:00")
        await store.set_meta("trash_purged_at", "2026-11-24T10:15:00+00:00")
    async with await open_store(db) as store:
        assert await store.get_meta("trash_purged_at") == "2026-11-24T10:15:00+00:00"
        assert await store.get_meta("remote_url") == URL


async def test_binding_meta_cannot_be_changed(db: Path) -> None:
    async with await open_store(db) as store:
        for key in ("schema_version", "local_root", "remote_url", "created_at"):
            with pytest.raises(ValueError):
                await store.set_meta(key, "x")


async def test_runs_are_recorded_newest_first(db: Path) -> None:
    first = datetime(2026, 11, 23, 10, 15, tzinfo=UTC)
    second = datetime(2026, 11, 23, 12, 0, tzinfo=timezone(timedelta(hours=2)))  # 10:00 UTC
    third = datetime(2026, 11, 23, 11, 0, tzinfo=UTC)
    async with await open_store(db) as store:
        await store.begin_run("r1", first)
        await store.begin_run("r2", second)
        await store.finish_run("r1", "ok", {"uploaded": 3}, finished_at=first + timedelta(1))
        await store.begin_run("r3", third)
        with pytest.raises(ValueError, match="no run 'nope'"):
            await store.finish_run("nope", "ok", {})
    async with await open_store(db) as store:
        runs = await store.last_runs()
        latest = await store.last_runs(1)
    assert [r.id for r in runs] == ["r3", "r1", "r2"], "ordered by start time, across zones"
    assert latest == runs[:1] and latest[0].status == RUNNING and latest[0].finished_at is None
    r1 = runs[1]
    assert (r1.status, r1.summary, r1.started_at) == ("ok", {"uploaded": 3}, first)
    assert r1.finished_at == first + timedelta(1)


async def test_run_history_is_bounded(db: Path) -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    async with await open_store(db) as store:
        for i in range(205):
            await store.begin_run(f"r{i:03d}", start + timedelta(minutes=i))
        runs = await store.last_runs(1000)
    assert len(runs) == 200 and runs[-1].id == "r005"


# -- files on disk -------------------------------------------------------------------------


async def test_snapshot_and_its_wal_are_user_only(db: Path, open_umask: None) -> None:
    async with await open_store(db) as store:
        await store.apply([entry(1)], [])
        for name in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
            assert mode(name) == 0o600, name


async def test_existing_snapshot_is_tightened_to_user_only(db: Path) -> None:
    await make_store(db, [])
    db.chmod(0o644)
    async with await open_store(db):
        assert mode(db) == 0o600


async def test_snapshot_is_in_wal_mode_with_full_sync(db: Path) -> None:
    await make_store(db, [entry(1)])
    with raw_sqlite(db) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)


# -- binding and versions ------------------------------------------------------------------


async def test_other_local_folder_is_refused_with_both_pairs(db: Path) -> None:
    await make_store(db, [entry(1)])
    with pytest.raises(StateMismatchError) as refused:
        await SqliteSnapshotStore.open(db, local_root="/elsewhere", remote_url=URL, repair=True)
    message = str(refused.value)
    assert f"belongs to local folder {ROOT} and remote {URL}" in message
    assert f"this sync is of /elsewhere with {URL}" in message
    assert "different --state-dir" in message and f"delete the state folder {db.parent}" in message
    async with await open_store(db) as store:
        assert len(await store.load()) == 1, "a refused open changes nothing"


async def test_other_remote_is_refused(db: Path) -> None:
    await make_store(db, [])
    with pytest.raises(StateMismatchError, match="s3://other/notes"):
        await SqliteSnapshotStore.open(db, local_root=ROOT, remote_url="s3://other/notes")


async def test_newer_schema_is_refused_and_left_alone(db: Path) -> None:
    await make_store(db, [entry(1)])
    with raw_sqlite(db) as conn:
        conn.execute("UPDATE meta SET value='3' WHERE key='schema_version'")
        conn.execute("DROP TABLE runs")  # a newer schema may look different in any way
    before = db.read_bytes()
    with pytest.raises(StateTooNewError) as refused:
        await open_store(db, repair=True)
    assert f"{db} was written by a newer bmsync (schema 3" in str(refused.value)
    assert "upgrade bmsync, or use a different --state-dir" in str(refused.value)
    assert db.read_bytes() == before and not list(db.parent.glob("*.corrupt-*"))


SCHEMA_1 = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE files (path TEXT PRIMARY KEY, size INTEGER NOT NULL, mtime_ns BIGINT NOT NULL,
    xxh3 TEXT NOT NULL, etag TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE runs (id TEXT PRIMARY KEY, started_at TEXT NOT NULL, finished_at TEXT,
    status TEXT NOT NULL, summary TEXT NOT NULL);
"""


async def test_schema_1_snapshot_is_upgraded_in_place(db: Path) -> None:
    """Rows from before ctime was kept read as ctime 0 (unknown), so each file is re-read once."""
    with raw_sqlite(db) as conn:
        conn.executescript(SCHEMA_1)
        conn.executemany(
            "INSERT INTO meta VALUES (?, ?)",
            [("schema_version", "1"), ("local_root", ROOT), ("remote_url", URL),
             ("created_at", "2026-01-01T00:00:00+00:00")],
        )  # fmt: skip
        conn.execute("INSERT INTO files VALUES ('a.md', 3, 17, 'h', 'e')")
    async with await open_store(db) as store:
        assert await store.load() == {"a.md": SnapshotEntry("a.md", 3, 17, "h", "e", 0)}
        await store.apply([entry(1)], [])
    async with await open_store(db) as store:
        assert (await store.load())[entry(1).path] == entry(1)
    with raw_sqlite(db) as conn:
        version = conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
    assert version == ("2",)


async def test_folder_baseline_round_trips(db: Path) -> None:
    async with await open_store(db) as store:
        assert await store.load_folders() == set()
        await store.apply_folders(["a", "a/b", "c"], [])
        await store.apply_folders(["a"], ["c", "never-there"])
    async with await open_store(db) as store:
        assert await store.load_folders() == {"a", "a/b"}


async def test_a_snapshot_without_the_folders_table_gets_it_in_place(db: Path) -> None:
    """Files written before folder markers (schema 2 without `folders`) open as they are and
    gain the table; the version stays 2, so a bmsync without folder markers still opens the
    file (it ignores the extra table)."""
    await make_store(db, [entry(1)])
    with raw_sqlite(db) as conn:
        conn.execute("DROP TABLE folders")
    async with await open_store(db) as store:
        assert await store.load() == {entry(1).path: entry(1)}
        assert await store.load_folders() == set()
        await store.apply_folders(["a"], [])
    with raw_sqlite(db) as conn:
        version = conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        assert version == ("2",)
        assert conn.execute("SELECT path FROM folders").fetchall() == [("a",)]


async def test_settlements_round_trip_until_a_row_of_their_path_supersedes_them(db: Path) -> None:
    pulled = Settlement("a.md", Side.LOCAL, "etag-r", "a.conflict-1.md", "xxh3-r")
    pushed = Settlement("a.md", Side.REMOTE, "xxh3-l", "a.conflict-2.md", "etag-l")
    other = Settlement("b.md", Side.LOCAL, "etag-b", "b.conflict-1.md", "xxh3-b")
    async with await open_store(db) as store:
        assert await store.load_settled() == []
        await store.apply([], [], settle=[pulled, other])
        again = Settlement("a.md", Side.LOCAL, "etag-r2", "a.conflict-3.md", "xxh3-r2")
        await store.apply([], [], settle=[again, pushed])
    async with await open_store(db) as store:
        assert sorted(await store.load_settled(), key=str) == sorted(
            [again, pushed, other], key=str
        ), "one per path and side, the newest"
        await store.apply([entry(1)], ["b.md"])
        assert sorted(await store.load_settled(), key=str) == sorted([again, pushed], key=str)
        settled_row = SnapshotEntry("a.md", 1, 1, "h", "e")
        await store.apply([settled_row], [])
        assert await store.load_settled() == []


async def test_a_snapshot_without_the_settled_table_gets_it_in_place(db: Path) -> None:
    await make_store(db, [entry(1)])
    with raw_sqlite(db) as conn:
        conn.execute("DROP TABLE settled")
    async with await open_store(db) as store:
        assert await store.load_settled() == []
        await store.apply([], [], settle=[Settlement("a", Side.LOCAL, "e", "c", "h")])
    with raw_sqlite(db) as conn:
        assert conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone() == (
            "2",
        )


# -- damaged files -------------------------------------------------------------------------


def assert_reported_and_untouched(err: StateCorruptError, db: Path, before: bytes) -> None:
    message = str(err)
    assert str(db) in message and "--resync" in message and "nothing is lost" in message
    assert db.read_bytes() == before, "nothing is replaced without repair"
    assert not list(db.parent.glob("*.corrupt-*"))


async def test_garbage_file_is_reported(db: Path) -> None:
    db.write_bytes(b"this is not sqlite at all\n" * 200)
    with pytest.raises(StateCorruptError) as refused:
        await open_store(db)
    assert_reported_and_untouched(refused.value, db, b"this is not sqlite at all\n" * 200)


async def test_truncated_snapshot_is_reported(db: Path) -> None:
    await make_store(db, [entry(i) for i in range(5000)])
    assert not Path(f"{db}-wal").exists(), "closing folds the WAL into the file"
    db.write_bytes(db.read_bytes()[: db.stat().st_size // 2])
    with pytest.raises(StateCorruptError) as refused:
        await open_store(db)
    assert_reported_and_untouched(refused.value, db, db.read_bytes())


async def test_foreign_sqlite_file_is_reported(db: Path) -> None:
    with raw_sqlite(db) as conn:
        conn.execute("CREATE TABLE other(x)")
    with pytest.raises(StateCorruptError, match=r"tables \(other\) but no bmsync meta"):
        await open_store(db)


async def test_missing_table_is_reported(db: Path) -> None:
    await make_store(db, [])
    with raw_sqlite(db) as conn:
        conn.execute("DROP TABLE files")
    with pytest.raises(StateCorruptError, match="table files is missing"):
        await open_store(db)


async def test_missing_binding_is_reported(db: Path) -> None:
    await make_store(db, [])
    with raw_sqlite(db) as conn:
        conn.execute("DELETE FROM meta WHERE key='local_root'")
    with pytest.raises(StateCorruptError, match="meta lacks local_root"):
        await open_store(db)


async def test_failing_integrity_check_is_reported(db: Path) -> None:
    await make_store(db, [entry(i) for i in range(2000)])
    with raw_sqlite(db) as conn:
        page = conn.execute("SELECT rootpage FROM sqlite_master WHERE name='files'").fetchone()[0]
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    with db.open("r+b") as f:  # an invalid page type for the table's root page
        f.seek((page - 1) * page_size)
        f.write(b"\xff")
    with pytest.raises(StateCorruptError, match="--resync"):
        await open_store(db)


async def test_zero_length_file_is_a_corrupt_snapshot(db: Path) -> None:
    """Issue 16: taken for a snapshot never made, an emptied file made the next run a first
    run, which brought back every file deleted since. A snapshot is made beside its name and
    renamed into place whole, so no creation leaves this: it is damage, reported like any."""
    db.touch()
    with pytest.raises(StateCorruptError, match=r"the file is empty.*--resync"):
        await open_store(db)
    assert db.read_bytes() == b"", "nothing was changed"
    async with await open_store(db, repair=True) as store:
        assert await store.load() == {} and store.set_aside is not None


async def test_a_sqlite_file_without_tables_is_a_corrupt_snapshot(db: Path) -> None:
    with raw_sqlite(db) as conn:
        conn.execute("PRAGMA user_version=7")
    with pytest.raises(StateCorruptError, match="holds no tables"):
        await open_store(db)


async def test_a_creation_cut_short_leaves_no_snapshot(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Killed (here: failing) while the tables are made, the name holds nothing, so the next
    open makes the snapshot afresh, as for a project never synced."""

    def cut_short(*args: object) -> None:
        raise OSError("cut short")

    monkeypatch.setattr(bmsync.state.store, "create_tables", cut_short)
    with pytest.raises(OSError, match="cut short"):
        await open_store(db)
    assert not db.exists()
    monkeypatch.undo()
    async with await open_store(db) as store:
        assert await store.load() == {}
        await store.apply([entry(1)], [])
    assert not Path(f"{db}.new").exists()


async def test_damage_found_while_running_is_a_corrupt_error(db: Path) -> None:
    await make_store(db, [entry(i) for i in range(50_000)])
    store = await open_store(db)
    try:
        size = db.stat().st_size
        with db.open("r+b") as f:  # past the header, over most of the table's pages
            f.seek(4096 * 4)
            f.write(os.urandom(size // 2))
        with pytest.raises(StateCorruptError, match="--resync"):
            await store.load()
    finally:
        await store.close()


async def test_repair_sets_the_file_aside_and_starts_afresh(db: Path) -> None:
    garbage = b"\x00garbage" * 512
    db.write_bytes(garbage)
    async with await open_store(db, repair=True) as store:
        assert await store.load() == {}
        await store.apply([entry(1)], [])
        aside = store.set_aside
    assert aside is not None and aside.name.startswith("snapshot.db.corrupt-")
    assert aside.read_bytes() == garbage
    async with await open_store(db) as store:
        assert await store.load() == {entry(1).path: entry(1)}


async def test_set_aside_file_keeps_what_its_wal_held(db: Path) -> None:
    """A foreign file left by a crash with changes still in its WAL: they are kept, not lost."""
    with raw_sqlite(db) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA wal_autocheckpoint=0")
        conn.execute("CREATE TABLE other(x)")
        conn.execute("INSERT INTO other VALUES ('only in the wal')")
        conn.commit()
        crashed = {suffix: Path(f"{db}{suffix}").read_bytes() for suffix in ("", "-wal")}
    assert b"only in the wal" not in crashed[""] and b"only in the wal" in crashed["-wal"]
    for suffix, content in crashed.items():
        Path(f"{db}{suffix}").write_bytes(content)
    async with await open_store(db, repair=True) as store:
        aside = store.set_aside
    assert aside is not None
    with raw_sqlite(aside) as conn:
        assert conn.execute("SELECT x FROM other").fetchall() == [("only in the wal",)]


async def test_repairs_in_the_same_second_keep_both_files(db: Path) -> None:
    for content in (b"first garbage" * 100, b"second garbage" * 100):
        db.write_bytes(content)
        await (await open_store(db, repair=True)).close()
    kept = sorted(p.read_bytes()[:6] for p in db.parent.glob("snapshot.db.corrupt-*"))
    assert kept == [b"first ", b"second"]


# -- crash safety --------------------------------------------------------------------------

KILL_LOOP = """
import asyncio, sys
from pathlib import Path
from bmsync.types import Settlement, Side, SnapshotEntry
from bmsync.state.store import SqliteSnapshotStore

async def main():
    store = await SqliteSnapshotStore.open(Path(sys.argv[1]), local_root="/r", remote_url="s3://b/p")
    batch = sum(1 for path in await store.load() if path.startswith("done/"))
    print("ready", flush=True)
    while True:
        # Batch n rewrites every shared row to n, adds done/n, and replaces last/n-1 by last/n.
        rows = [SnapshotEntry(f"shared/{i}", batch, batch, "h", "e") for i in range(300)]
        rows.append(SnapshotEntry(f"done/{batch:06d}", batch, 0, "h", "e"))
        rows.append(SnapshotEntry(f"last/{batch}", batch, 0, "h", "e"))
        await store.apply(rows, [f"last/{batch - 1}"] if batch else [])
        print(batch, flush=True)
        batch += 1

asyncio.run(main())
"""


def check_whole_batches(snapshot: dict[str, SnapshotEntry], committed: int) -> int:
    """The snapshot holds batches 0..k-1 exactly, each whole; returns k."""
    done = sorted(int(p.split("/")[1]) for p in snapshot if p.startswith("done/"))
    k = len(done)
    assert done == list(range(k)), "the batches are a prefix"
    assert k > committed, f"batch {committed} returned from apply but is missing"
    if k:
        assert {e.size for p, e in snapshot.items() if p.startswith("shared/")} == {k - 1}
        assert [p for p in snapshot if p.startswith("last/")] == [f"last/{k - 1}"]
        assert len(snapshot) == 300 + k + 1
    else:
        assert snapshot == {}
    return k


STORE_KILLS = int(os.environ.get("BMSYNC_STORE_KILLS", "10"))
STORE_SEED = 20261123


async def time_to_ready(db: Path) -> float:
    """How long the kill loop's process takes to start and create a snapshot: what a kill
    during start-up aims within."""
    started = time.monotonic()
    proc = start_kill_loop(db)
    assert proc.stdout is not None
    assert await asyncio.to_thread(proc.stdout.readline) == b"ready\n"
    took = time.monotonic() - started
    proc.kill()
    proc.communicate()
    return took


def start_kill_loop(db: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", KILL_LOOP, str(db)],
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])},
    )


@pytest.mark.slow
async def test_sigkill_at_any_moment_leaves_a_prefix_of_whole_batches(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every fourth kill lands while the process starts, opens or creates the snapshot (a
    random share of the start-up time measured first); the others once the process committed
    one to five batches of its own, within the next. Both kinds must have landed.

    `BMSYNC_STORE_KILLS` (10) kills, seeded by `BMSYNC_STORE_SEED` (a fixed default)."""
    seed, origin = choose_seed("BMSYNC_STORE_SEED", STORE_SEED, random_outside_ci=False)
    shown = f"seed {seed} ({origin}), {STORE_KILLS} kills; replay with BMSYNC_STORE_SEED={seed}"
    with capsys.disabled():
        print(f"\nsnapshot kill loop: {shown}")
    rng = random.Random(seed)
    ready_s = await time_to_ready(db.with_name("warm-up.db"))
    committed = -1
    landed = {"during start-up": 0, "mid-loop": 0}
    for attempt in range(STORE_KILLS):
        proc = start_kill_loop(db)
        assert proc.stdout is not None
        lines: list[bytes] = []
        if attempt % 4 == 0:
            await asyncio.sleep(rng.uniform(0.2, 0.8) * ready_s)
        else:
            for _ in range(1 + rng.randint(1, 5)):  # "ready", then its batches
                lines.append((await asyncio.to_thread(proc.stdout.readline)).strip())
            assert lines[0] == b"ready" and all(line.isdigit() for line in lines[1:]), lines
            await asyncio.sleep(rng.uniform(0.0, 0.02))
        proc.kill()
        out, _ = proc.communicate()
        lines += out.split()
        batches_done = [int(line) for line in lines if line.isdigit()]
        committed = max([committed, *batches_done])
        if b"ready" not in lines:
            landed["during start-up"] += 1
        elif batches_done:
            landed["mid-loop"] += 1
        async with await SqliteSnapshotStore.open(
            db, local_root="/r", remote_url="s3://b/p"
        ) as store:
            batches = check_whole_batches(await store.load(), committed)
        print(f"seed {seed}: {batches} batches after kill {attempt}")
    assert committed >= 0, f"no batch was ever committed (seed {seed})"
    planned_start_up = len(range(0, STORE_KILLS, 4))
    assert landed["mid-loop"] >= STORE_KILLS - planned_start_up, landed
    assert landed["during start-up"] >= min(1, planned_start_up), landed
