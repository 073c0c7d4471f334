"""The SQLite snapshot: round trips, one-transaction batches, binding, corruption, versions."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bmsync.engine.model import SnapshotEntry
from bmsync.errors import StateCorruptError, StateMismatchError, StateTooNewError
from bmsync.state.paths import ProjectPaths, project_key
from bmsync.state.store import SnapshotStore

ROOT, URL = "/home/u/notes", "s3://bucket/notes"


def entry(i: int) -> SnapshotEntry:
    return SnapshotEntry(f"dir/{i}.md", i, 1_700_000_000_000_000_000 + i, f"h{i}", f"e{i}")


async def open_store(db: Path, **kw: object) -> SnapshotStore:
    return await SnapshotStore.open(db, local_root=ROOT, remote_url=URL, **kw)  # type: ignore[arg-type]


async def test_round_trip_and_one_transaction_apply(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    async with await open_store(db) as store:
        assert await store.load() == {}
        await store.apply([entry(1), entry(2)], [])
        await store.apply([SnapshotEntry("dir/1.md", 9, 9, "h9", "e9")], ["dir/2.md"])
    async with await open_store(db) as store:
        assert await store.load() == {"dir/1.md": SnapshotEntry("dir/1.md", 9, 9, "h9", "e9")}


async def test_file_is_user_only(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    async with await open_store(db):
        pass
    assert stat.S_IMODE(db.stat().st_mode) == 0o600


async def test_bound_to_its_folder_and_remote(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    async with await open_store(db):
        pass
    with pytest.raises(StateMismatchError, match="belongs to /home/u/notes"):
        await SnapshotStore.open(db, local_root="/elsewhere", remote_url=URL)


async def test_garbage_file_is_reported_and_repair_sets_it_aside(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    db.write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(StateCorruptError, match="--resync"):
        await open_store(db)
    assert db.read_bytes().startswith(b"this is not"), "nothing is replaced without repair"
    async with await open_store(db, repair=True) as store:
        assert await store.load() == {}
    assert list(tmp_path.glob("s.db.corrupt-*"))


async def test_truncated_snapshot_is_reported(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    async with await open_store(db) as store:
        await store.apply([entry(i) for i in range(2000)], [])
    for suffix in ("-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    data = db.read_bytes()
    db.write_bytes(data[: len(data) // 2])
    with pytest.raises(StateCorruptError):
        store = await open_store(db)
        await store.load()


async def test_foreign_sqlite_file_is_reported(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    with sqlite3.connect(db) as conn:
        conn.execute("create table other(x)")
    with pytest.raises(StateCorruptError):
        await open_store(db)


async def test_newer_schema_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    async with await open_store(db):
        pass
    with sqlite3.connect(db) as conn:
        conn.execute("update meta set value='99' where key='schema_version'")
    with pytest.raises(StateTooNewError, match="newer bmsync"):
        await open_store(db)


async def test_runs_are_recorded(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    async with await open_store(tmp_path / "s.db") as store:
        await store.begin_run("r1", datetime.now(UTC))
        await store.finish_run("r1", "ok", {"uploaded": 3})
        (run,) = await store.last_runs()
    assert run.id == "r1" and run.status == "ok" and run.summary == {"uploaded": 3}


async def test_load_100k_rows_timing(tmp_path: Path) -> None:
    async with await open_store(tmp_path / "s.db") as store:
        started = time.perf_counter()
        await store.apply([entry(i) for i in range(100_000)], [])
        applied = time.perf_counter() - started
        started = time.perf_counter()
        rows = await store.load()
        loaded = time.perf_counter() - started
    assert len(rows) == 100_000
    print(f"apply 100k rows: {applied:.2f} s, load 100k rows: {loaded:.2f} s")


KILL_SCRIPT = """
import asyncio, sys
from bmsync.engine.model import SnapshotEntry
from bmsync.state.store import SnapshotStore
async def main():
    store = await SnapshotStore.open(__import__("pathlib").Path(sys.argv[1]),
                                     local_root="/r", remote_url="s3://b/p")
    batch = 0
    while True:
        rows = [SnapshotEntry(f"b{batch}/{i}", batch, 0, "h", "e") for i in range(200)]
        await store.apply(rows, [])
        print(batch, flush=True)
        batch += 1
asyncio.run(main())
"""


async def test_sigkill_mid_commit_leaves_whole_batches(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    for delay in (0.4, 0.7, 1.1):
        proc = subprocess.Popen(
            [sys.executable, "-c", KILL_SCRIPT, str(db)], stdout=subprocess.PIPE
        )
        time.sleep(delay)
        proc.kill()
        proc.wait()
        store = await SnapshotStore.open(db, local_root="/r", remote_url="s3://b/p")
        rows = await store.load()
        await store.close()
        per_batch: dict[str, int] = {}
        for path in rows:
            per_batch[path.split("/")[0]] = per_batch.get(path.split("/")[0], 0) + 1
        assert all(n == 200 for n in per_batch.values()), "a batch landed partly"


def test_project_paths(tmp_path: Path) -> None:
    key = project_key("s3://bucket/some/research notes")
    assert key.startswith("research_notes-") and len(key.split("-")[-1]) == 10
    assert project_key("s3://a/x") != project_key("s3://b/x")
    paths = ProjectPaths.for_remote(tmp_path / "state", "s3://bucket/notes")
    paths.ensure()
    assert stat.S_IMODE(os.stat(paths.root).st_mode) == 0o700
    assert paths.trash.is_dir() and paths.db.parent == paths.root
