"""`project_status` and `bmsync status`: a read-only look at one project's state."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bmsync import StateMismatchError, project_status, sync_project
from bmsync.state.lock import ProjectLock
from bmsync.state.paths import ProjectPaths
from bmsync.testing import MemoryRemote

NOW = datetime(2026, 11, 23, 10, 15, tzinfo=UTC)
URL = "s3://memory/project"


@pytest.fixture
def root(root: Path) -> Path:
    """conftest's empty project folder, seeded with a.md and b.md."""
    (root / "a.md").write_text("a")
    (root / "b.md").write_text("b")
    return root


def lock_path(state: Path) -> Path:
    return ProjectPaths.for_remote(state, URL).lock


async def test_never_synced_project_creates_nothing(root: Path, state: Path) -> None:
    status = await project_status(root, URL, state_dir=state)
    assert (status.synced, status.files, status.lock, status.runs) == (False, 0, None, [])
    assert "Never synced" in status.summary() and "No sync is running." in status.summary()
    assert not state.exists()


async def test_runs_newest_first_with_what_they_did(root: Path, state: Path) -> None:
    remote = MemoryRemote()
    await sync_project(root, URL, state_dir=state, remote=remote, now=NOW)
    remote.put_bytes("c.md", b"c")
    await sync_project(root, URL, state_dir=state, remote=remote, now=NOW + timedelta(hours=1))
    status = await project_status(root, URL, state_dir=state)
    assert (status.synced, status.files, status.lock) == (True, 3, None)
    assert [(r.status, r.summary["uploaded"], r.summary["downloaded"]) for r in status.runs] == [
        ("ok", 0, 1),
        ("ok", 2, 0),
    ]
    lines = status.summary().splitlines()
    assert lines[1] == "3 files in step after the last sync."
    assert lines[3] == "Recent runs, newest first:"
    assert lines[4].endswith("ok          downloaded 1") and lines[5].endswith("uploaded 2")
    assert len((await project_status(root, URL, state_dir=state, runs=1)).runs) == 1


async def test_a_running_sync_is_named(root: Path, state: Path) -> None:
    await sync_project(root, URL, state_dir=state, remote=MemoryRemote(), now=NOW)
    with ProjectLock(lock_path(state)):
        status = await project_status(root, URL, state_dir=state)
    assert status.lock is not None and status.lock.startswith("a sync is running (pid ")
    assert (await project_status(root, URL, state_dir=state)).lock is None, "released cleanly"


async def test_a_sync_that_died_holding_the_lock_is_told_apart(root: Path, state: Path) -> None:
    await sync_project(root, URL, state_dir=state, remote=MemoryRemote(), now=NOW)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    info = {"pid": dead.pid, "host": socket.gethostname(), "since": "2026-11-23T10:15:00+00:00"}
    lock_path(state).write_text(json.dumps(info))
    status = await project_status(root, URL, state_dir=state)
    assert status.lock is not None and status.lock.startswith("the last sync stopped without")
    info["host"] = "another-machine.example"
    lock_path(state).write_text(json.dumps(info))
    status = await project_status(root, URL, state_dir=state)
    assert status.lock is not None and "another machine" in status.lock


async def test_another_folder_is_refused_as_a_sync_would_be(
    root: Path, state: Path, tmp_path: Path
) -> None:
    await sync_project(root, URL, state_dir=state, remote=MemoryRemote(), now=NOW)
    with pytest.raises(StateMismatchError):
        await project_status(tmp_path / "elsewhere", URL, state_dir=state)


async def test_cli_status_json(root: Path, state: Path) -> None:
    await sync_project(root, URL, state_dir=state, remote=MemoryRemote(), now=NOW)
    done = subprocess.run(
        [sys.executable, "-m", "bmsync.cli", "status", str(root), URL, "--state-dir", str(state),
         "--json"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    shown = json.loads(done.stdout)
    assert (shown["synced"], shown["files"], shown["lock"]) == (True, 2, None)
    assert [run["status"] for run in shown["runs"]] == ["ok"]
