"""One sync per project: a live holder blocks and is named, a dead one never blocks."""

from __future__ import annotations

import errno
import fcntl
import json
import os
import resource
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import bmsync.state.lock
from bmsync import sync_project
from bmsync.errors import LockedError, StateError
from bmsync.state.lock import ProjectLock
from bmsync.testing import MemoryRemote

HOLD = """
import sys, time
from pathlib import Path
from bmsync.state.lock import ProjectLock
with ProjectLock(Path(sys.argv[1])):
    print("held", flush=True)
    time.sleep(60)
"""


def hold(path: Path) -> subprocess.Popen[bytes]:
    """Another process holding the lock; it says so once it has written its details."""
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(path)], stdout=subprocess.PIPE)
    assert proc.stdout is not None and proc.stdout.readline() == b"held\n"
    return proc


def kill(proc: subprocess.Popen[bytes]) -> None:
    proc.kill()
    proc.wait()


@pytest.fixture
def raw_holder(tmp_path: Path) -> Iterator[int]:
    """An flock on the lock file taken without writing any details (a holder just starting)."""
    fd = os.open(tmp_path / "lock", os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    yield fd
    os.close(fd)


def test_live_holder_blocks_and_is_named(tmp_path: Path) -> None:
    lock = tmp_path / "lock"
    proc = hold(lock)
    try:
        with pytest.raises(LockedError) as refused, ProjectLock(lock):
            pytest.fail("acquired a lock another process holds")
        message = str(refused.value)
        assert f"pid {proc.pid} on {socket.gethostname()}, since 20" in message
        assert "another bmsync sync of this project is running" in message
        assert "wait for it to finish, or stop it" in message
        assert refused.value.exit_code == 4
    finally:
        kill(proc)


def test_holder_details_are_in_the_file_while_held(tmp_path: Path) -> None:
    lock = tmp_path / "lock"
    with ProjectLock(lock):
        info = json.loads(lock.read_bytes())
        assert info["pid"] == os.getpid() and info["host"] == socket.gethostname()
        assert "since" in info and "command" in info
        assert stat.S_IMODE(lock.stat().st_mode) == 0o600
    assert lock.read_bytes() == b"", "a clean release erases the details"


def test_holder_that_wrote_nothing_yet_still_blocks(tmp_path: Path, raw_holder: int) -> None:
    with pytest.raises(LockedError, match="details are not written yet"):
        ProjectLock(tmp_path / "lock").acquire()


def test_holder_details_cut_short_still_block(tmp_path: Path, raw_holder: int) -> None:
    os.write(raw_holder, b'{"pid": 12')
    with pytest.raises(LockedError, match="details are not written yet"):
        ProjectLock(tmp_path / "lock").acquire()


def test_killed_holder_releases_at_once_and_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lock = tmp_path / "lock"
    proc = hold(lock)
    kill(proc)  # SIGKILL: no chance to clean up
    tries: list[bool] = []
    try_lock = bmsync.state.lock._try_lock

    def counted(fd: int) -> bool:
        tries.append(try_lock(fd))
        return tries[-1]

    monkeypatch.setattr(bmsync.state.lock, "_try_lock", counted)
    with ProjectLock(lock) as taken:
        assert tries == [True], "at once: the first non-blocking try gets it, nothing waits"
        assert taken.taken_over_from is not None
        assert f"pid {proc.pid}" in taken.taken_over_from
        assert "stopped without finishing" in taken.taken_over_from
    with ProjectLock(lock) as again:
        assert again.taken_over_from is None, "a clean release leaves nothing to take over"


def test_second_lock_in_the_same_process_is_refused(tmp_path: Path) -> None:
    lock = tmp_path / "lock"
    with ProjectLock(lock), pytest.raises(LockedError, match=f"pid {os.getpid()}"):
        ProjectLock(lock).acquire()
    with ProjectLock(lock):
        pass


def test_one_lock_object_cannot_be_taken_twice(tmp_path: Path) -> None:
    lock = ProjectLock(tmp_path / "lock")
    with lock, pytest.raises(RuntimeError):
        lock.acquire()
    lock.release()  # releasing a released lock is harmless


async def test_async_context_manager(tmp_path: Path) -> None:
    async with ProjectLock(tmp_path / "lock"):
        with pytest.raises(LockedError):
            ProjectLock(tmp_path / "lock").acquire()
    ProjectLock(tmp_path / "lock").acquire()


RACE = """
import sys, time
from pathlib import Path
from bmsync.errors import LockedError
from bmsync.state.lock import ProjectLock
lock, start, release = Path(sys.argv[1]), float(sys.argv[2]), Path(sys.argv[3])
while time.time() < start:
    pass
try:
    with ProjectLock(lock):
        print("won", flush=True)
        deadline = time.time() + 30
        while not release.exists() and time.time() < deadline:
            time.sleep(0.01)
except LockedError:
    print("lost", flush=True)
"""


@pytest.mark.parametrize("racers", [2, 4])
def test_racing_processes_exactly_one_wins(tmp_path: Path, racers: int) -> None:
    """The winner holds on until every loser has given up, so a slow starter cannot win late."""
    lock, release = tmp_path / "lock", tmp_path / "release"
    start = str(time.time() + 1.0)  # spin until then, so the attempts really coincide
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", RACE, str(lock), start, str(release)], stdout=subprocess.PIPE
        )
        for _ in range(racers)
    ]
    deadline = time.monotonic() + 30
    while sum(p.poll() is not None for p in procs) < racers - 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    release.touch()
    outcomes = sorted(p.communicate(timeout=30)[0].decode().strip() for p in procs)
    assert outcomes == ["lost"] * (racers - 1) + ["won"]


# -- a lock file that cannot be written (issue 16) ---------------------------------------------


def _no_file_growth() -> None:
    """In the child: no file may grow past 0 bytes, as on a full disk, and the write fails with
    EFBIG instead of a signal (Python ignores SIGXFSZ too; said here so it cannot depend on it)."""
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)


def test_a_lock_file_that_cannot_be_written_is_a_state_error_with_json(tmp_path: Path) -> None:
    """A real failed write: the command says why, exits 2 and prints the JSON error object,
    instead of a traceback (exit 1, no JSON) after taking the lock."""
    root = tmp_path / "notes"
    root.mkdir()
    (tmp_path / "state").mkdir()  # made beforehand: only the lock's details are written here
    done = subprocess.run(
        [sys.executable, "-m", "bmsync.cli", "sync", str(root), "s3://bucket/notes", "--json",
         "--endpoint-url", "http://127.0.0.1:9", "--state-dir", str(tmp_path / "state")],
        capture_output=True, text=True, timeout=120, preexec_fn=_no_file_growth,
        env={**os.environ, "AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s"},
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    error = json.loads(done.stdout)
    assert error["error_type"] == "StateError" and error["exit_code"] == 2
    assert "cannot write to the lock file" in error["error"] and "File too large" in error["error"]


async def test_a_failed_lock_write_releases_the_lock_for_the_next_sync(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In one process (a watch, basic-memory's server): the write fails once (ENOSPC), the run
    is a state error, and the next sync takes the lock as if nothing happened."""
    root, state, remote = tmp_path / "notes", tmp_path / "state", MemoryRemote()
    root.mkdir()
    (root / "a.md").write_text("a")

    def full_disk(fd: int, data: bytes) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(bmsync.state.lock, "_pwrite", full_disk)
    with pytest.raises(StateError, match="No space left on device"):
        await sync_project(root, "s3://memory/project", remote=remote, state_dir=state)
    monkeypatch.undo()
    report = await sync_project(root, "s3://memory/project", remote=remote, state_dir=state)
    assert report.status == "ok" and report.uploaded == ["a.md"]
