"""One sync per project: a live holder blocks with its name, a dead one never does."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from bmsync.errors import LockedError
from bmsync.state.lock import ProjectLock

HOLD = """
import sys, time
from pathlib import Path
from bmsync.state.lock import ProjectLock
with ProjectLock(Path(sys.argv[1])):
    print("held", flush=True)
    time.sleep(60)
"""


def hold(path: Path) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(path)], stdout=subprocess.PIPE)
    assert proc.stdout is not None and proc.stdout.readline() == b"held\n"
    return proc


def test_live_holder_blocks_with_its_pid(tmp_path: Path) -> None:
    lock = tmp_path / "lock"
    proc = hold(lock)
    try:
        with pytest.raises(LockedError, match=f"pid {proc.pid}"), ProjectLock(lock):
            pass
    finally:
        proc.kill()
        proc.wait()


def test_killed_holder_releases_at_once(tmp_path: Path) -> None:
    lock = tmp_path / "lock"
    proc = hold(lock)
    proc.kill()
    proc.wait()
    started = time.monotonic()
    with ProjectLock(lock):
        assert time.monotonic() - started < 1


def test_lock_is_reentrant_after_release(tmp_path: Path) -> None:
    lock = tmp_path / "lock"
    with ProjectLock(lock):
        pass
    with ProjectLock(lock):
        pass


RACE = """
import sys, time
from pathlib import Path
from bmsync.errors import LockedError
from bmsync.state.lock import ProjectLock
deadline = float(sys.argv[2])
while time.time() < deadline:
    pass
try:
    with ProjectLock(Path(sys.argv[1])):
        print("won", flush=True)
        time.sleep(1.5)
except LockedError:
    print("lost", flush=True)
"""


def test_racing_processes_exactly_one_wins(tmp_path: Path) -> None:
    lock = tmp_path / "lock"
    start = str(time.time() + 1.0)
    procs = [
        subprocess.Popen([sys.executable, "-c", RACE, str(lock), start], stdout=subprocess.PIPE)
        for _ in range(4)
    ]
    outcomes = sorted(p.communicate()[0].decode().strip() for p in procs)
    assert outcomes == ["lost", "lost", "lost", "won"]
