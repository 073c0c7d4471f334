"""`check_project` / `bmsync check`: are both sides the same? Read-only, against the in-memory
remote (tests/test_integration.py runs `bmsync check` on both real servers)."""

from __future__ import annotations

import contextlib
import os
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bmsync import check_project, sync_project
from bmsync.commands.check import sort_paths
from bmsync.state.paths import ProjectPaths
from bmsync.testing import MemoryRemote
from bmsync.types import LocalFile, RemoteObject, SnapshotEntry

NOW = datetime(2026, 11, 23, 10, 15, tzinfo=UTC)
URL = "s3://memory/project"


@pytest.fixture
def root(root: Path) -> Path:
    """conftest's empty project folder, seeded with a.md, b.md and d/c.md."""
    for rel in ("a.md", "b.md", "d/c.md"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(f"content of {rel}")
    return root


def rows(state: Path) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    db = ProjectPaths.for_remote(state, URL).db
    with contextlib.closing(sqlite3.connect(db)) as conn:
        files = conn.execute("SELECT * FROM files ORDER BY path").fetchall()
        runs = conn.execute("SELECT * FROM runs ORDER BY id").fetchall()
    return files, runs


def tree(root: Path) -> dict[str, tuple[bytes, int]]:
    return {
        p.relative_to(root).as_posix(): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


async def test_a_never_synced_pair_is_compared_file_by_file(root: Path, state: Path) -> None:
    remote = MemoryRemote()
    for rel in ("a.md", "b.md", "d/c.md"):
        remote.put_bytes(rel, f"content of {rel}".encode())
    report = await check_project(root, URL, state_dir=state, remote=remote)
    assert report.in_sync and (report.same, report.compared) == (3, 3)
    assert not state.exists(), "a check creates no state"


async def test_after_a_sync_the_snapshot_proves_it_with_one_listing(
    root: Path, state: Path
) -> None:
    remote = MemoryRemote()
    await sync_project(root, URL, state_dir=state, remote=remote, now=NOW)
    remote.calls.clear()
    report = await check_project(root, URL, state_dir=state, remote=remote)
    assert report.in_sync and (report.same, report.compared) == (3, 0)
    assert remote.calls == ["list"]
    full = await check_project(root, URL, state_dir=state, remote=remote, full=True)
    assert full.in_sync and (full.same, full.compared) == (3, 3), "--full trusts no snapshot"


async def test_differences_are_listed_and_nothing_is_changed(root: Path, state: Path) -> None:
    remote = MemoryRemote()
    await sync_project(root, URL, state_dir=state, remote=remote, now=NOW)
    (root / "a.md").write_text("edited locally")
    (root / "new-local.md").write_text("only here")
    remote.put_bytes("new-remote.md", b"only there")
    remote.put_bytes("d/c.md", b"edited remotely")
    remote.put_bytes("b.md", b"content of b.md")  # rewritten by another tool, same bytes
    before_local, before_remote = tree(root), remote.contents()
    snapshot_before = rows(state)
    report = await check_project(root, URL, state_dir=state, remote=remote)
    assert not report.in_sync
    assert report.only_local == ["new-local.md"] and report.only_remote == ["new-remote.md"]
    assert report.different == ["a.md", "d/c.md"] and report.same == 1
    assert tree(root) == before_local and remote.contents() == before_remote
    assert rows(state) == snapshot_before, "neither the snapshot nor the run history changed"
    assert "NOT in sync" in report.summary() and "only local (1): new-local.md" in report.summary()


async def test_ignored_and_unreadable_paths_are_left_out(root: Path, state: Path) -> None:
    remote = MemoryRemote()
    await sync_project(root, URL, state_dir=state, remote=remote, now=NOW)
    (root / ".obsidian").mkdir()
    (root / ".obsidian" / "workspace.json").write_text("{}")  # ignored by default rules
    os.symlink("/etc/hostname", root / "link.md")
    report = await check_project(root, URL, state_dir=state, remote=remote)
    assert report.in_sync
    assert [w.path for w in report.warnings] == ["link.md"]


def test_sort_paths_trusts_only_what_the_snapshot_proves() -> None:
    def lf(path: str, h: str) -> LocalFile:
        return LocalFile(path, 1, 5, h)

    def ro(path: str, e: str) -> RemoteObject:
        return RemoteObject(path, 1, e, 5)

    local = {"same": lf("same", "h1"), "edited": lf("edited", "h9"), "new": lf("new", "h3")}
    local["local-only"] = lf("local-only", "h4")
    remote = {"same": ro("same", "e1"), "edited": ro("edited", "e2"), "new": ro("new", "e3")}
    remote["remote-only"] = ro("remote-only", "e5")
    snapshot = {
        "same": SnapshotEntry("same", 1, 5, "h1", "e1"),
        "edited": SnapshotEntry("edited", 1, 5, "h2", "e2"),
    }
    assert sort_paths(local, remote, snapshot, full=False) == (
        ["local-only"],
        ["remote-only"],
        1,
        ["edited", "new"],
    )
    assert sort_paths(local, remote, snapshot, full=True)[2:] == (0, ["edited", "new", "same"])
