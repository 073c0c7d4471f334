"""bmsync's own names: only names of exactly bmsync's form are internal, on both sides, and a
temporary file is removed only once the run that writes it is over (issue 16).

A user's `.bmsync-tmp-mine.md` was removed as a leftover, a folder `.bmsync-tmp-dir/` was
skipped by the scan while the listing saw its files (so their remote copies were deleted), and
two runs writing into one folder (one folder synced to two prefixes) removed each other's
downloads in flight.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bmsync import SyncReport, sync_project
from bmsync.local import ops, temps
from bmsync.local.ignore import IgnoreRules
from bmsync.local.trash import Trash
from bmsync.names import is_internal, temp_name
from bmsync.ports import ByteSink
from bmsync.testing import MemoryRemote
from bmsync.types import RemoteMeta

NOW = datetime(2026, 11, 23, 10, 15, tzinfo=UTC)


@pytest.fixture
def root(root: Path) -> Path:
    """conftest's project folder, with rules that hide nothing (an empty global `.bmignore`
    replaces the defaults, which hide every dotfile), so bmsync's names alone decide."""
    config = Path(os.environ["BASIC_MEMORY_CONFIG_DIR"])
    config.mkdir(parents=True, exist_ok=True)
    (config / ".bmignore").write_text("")
    return root


async def sync(root: Path, remote: MemoryRemote, state: str = "state", **kw: Any) -> SyncReport:
    return await sync_project(
        root, "s3://memory/p", state_dir=root.parent / state, remote=remote, now=NOW, **kw
    )


def write(root: Path, rel: str, text: str = "x") -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def dead_pid() -> int:
    """The id of a process that has ended (reuse this soon is all but impossible)."""
    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                           capture_output=True, text=True, check=True)  # fmt: skip
    return int(child.stdout)


def temp_of(pid: int, name: str = "x.md", host: str = temps.HOST_TAG) -> str:
    return temp_name(name, f"{host}.{pid}-0badcafe")


def test_only_names_of_bmsyncs_exact_form_are_internal() -> None:
    assert is_internal(temp_of(123)) and is_internal(temps.new_temp_name("x.md"))
    assert is_internal(temps.new_temp_name("")), "a name cut for Windows' path limit"
    assert is_internal(".bmsync-tmp-0badcafe-x.md"), "an older bmsync's name, with no owner"
    for name in (".bmsync-tmp-mine.md", ".bmsync-tmp-dir", ".bmsync-tmp-", ".bmsync-tmp-0BADCAFE-x",
                 ".bmsync-tmp-0badcafe", "x.bmsync-tmp-0badcafe-x.md"):  # fmt: skip
        assert not is_internal(name), name


async def test_a_users_file_named_like_a_temporary_file_syncs(root: Path) -> None:
    remote = MemoryRemote()
    write(root, ".bmsync-tmp-mine.md", "mine")
    write(root, "sub/.bmsync-tmp-notes.md", "notes")
    report = await sync(root, remote)
    assert report.uploaded == [".bmsync-tmp-mine.md", "sub/.bmsync-tmp-notes.md"]
    assert (root / ".bmsync-tmp-mine.md").read_text() == "mine", "never removed as a leftover"


async def test_a_folder_named_like_a_temporary_file_syncs_on_both_sides(root: Path) -> None:
    """The scan skipped it while the listing saw its files: downloaded, then deleted remotely."""
    remote = MemoryRemote()
    remote.put_bytes(".bmsync-tmp-dir/theirs.md", b"theirs")
    write(root, ".bmsync-tmp-dir/mine.md", "mine")
    first = await sync(root, remote)
    assert (first.uploaded, first.downloaded) == (
        [".bmsync-tmp-dir/mine.md"],
        [".bmsync-tmp-dir/theirs.md"],
    )
    again = await sync(root, remote)
    assert not again.changed
    assert sorted(remote.objects) == [".bmsync-tmp-dir/mine.md", ".bmsync-tmp-dir/theirs.md"]


async def test_a_temporary_name_is_hidden_on_both_sides(root: Path) -> None:
    remote = MemoryRemote()
    remote.put_bytes(f"sub/{temp_of(dead_pid())}", b"someone's partial download")
    write(root, "a.md")
    report = await sync(root, remote)
    assert report.uploaded == ["a.md"] and report.downloaded == [] and not report.warnings
    rules = IgnoreRules(())
    assert rules.is_ignored(f"sub/{temp_of(1)}") and not rules.is_ignored_dir(temp_of(1))


def test_which_temporary_files_are_leftovers(tmp_path: Path) -> None:
    dead, alive = dead_pid(), os.getppid()
    mine = tmp_path / temps.new_temp_name("x.md")
    temps.claim(mine)
    done = tmp_path / temps.new_temp_name("y.md")
    cases = {
        tmp_path / temp_of(dead): True,  # a killed run's
        tmp_path / temp_of(alive): False,  # a live run's, in another process
        mine: False,  # this process writes it
        done: True,  # this process made it and is done with it
        tmp_path / temp_of(dead, host="00000000"): False,  # another machine's: by age only
        tmp_path / ".bmsync-tmp-0badcafe-x.md": False,  # an older bmsync's: by age only
    }
    for path in cases:
        path.write_text("partial")
    try:
        assert {p.name: temps.is_leftover(p) for p in cases} == {
            p.name: v for p, v in cases.items()
        }
        a_day_on = time.time() + temps.STALE_AFTER_S + 60
        assert all(temps.is_leftover(p, now=a_day_on) for p in cases), "a run never lasts a day"
        assert not temps.is_leftover(tmp_path / "gone"), "nothing to remove"
    finally:
        temps.release(mine)


async def test_a_live_download_in_the_folder_survives_another_run(root: Path) -> None:
    """One folder synced to two prefixes at once: the second run's scan finds the first's
    download in flight, which is not its to remove (it removed it: "No such file")."""
    writer = ops.AtomicDownload(root, "notes/in-flight.md")
    writer.sink.write(b"half of it")
    other = MemoryRemote()
    other.put_bytes("theirs.md", b"t")
    report = await sync(root, other, state="other-state")
    assert report.status == "ok" and writer.temp.exists()
    assert report.downloaded == ["theirs.md"] and report.uploaded == []
    writer.sink.write(b", and the rest")
    writer.commit(1_700_000_000 * 10**9, None, Trash(root.parent / "trash", "run"))
    assert (root / "notes/in-flight.md").read_bytes() == b"half of it, and the rest"


async def test_a_killed_runs_leftovers_go_a_live_ones_stay(root: Path) -> None:
    """Another process's download is left alone while it runs and removed once it is gone."""
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from pathlib import Path; from bmsync.local import ops; "
         "w = ops.AtomicDownload(Path(sys.argv[1]), 'sub/x.md'); print(w.temp.name, flush=True); "
         "time.sleep(600)", str(root)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None
        temp = root / "sub" / holder.stdout.readline().strip()
        assert temp.exists()
        write(root, "a.md")
        remote = MemoryRemote()
        assert (await sync(root, remote)).status == "ok"
        assert temp.exists(), "a live run's download"
    finally:
        holder.kill()
        holder.wait()
    assert (await sync(root, remote)).status == "ok"
    assert not temp.exists(), "a killed run's leftover"
    assert list(remote.objects) == ["a.md"]


class Stalled(MemoryRemote):
    """Holds every download until `gate` opens (its temporary file already made)."""

    gate: asyncio.Event

    async def download(
        self, relkey: str, sink: ByteSink, *, if_match: str | None, verify: bool
    ) -> RemoteMeta:
        await self.gate.wait()
        return await super().download(relkey, sink, if_match=if_match, verify=verify)


async def test_one_folder_synced_to_two_prefixes_at_once(root: Path) -> None:
    """Two runs into one folder (two state folders, two locks): the second scans and tidies
    while the first's downloads are in flight, and must leave them alone (it removed them, and
    the first run reported "No such file or directory" for each)."""
    first, second = Stalled(), MemoryRemote()
    first.gate = asyncio.Event()
    for i in range(5):
        first.put_bytes(f"one/{i}.md", b"1")
        second.put_bytes(f"two/{i}.md", b"2")
    running = asyncio.ensure_future(sync(root, first, state="state-one"))
    async with asyncio.timeout(120):  # a guard against hanging, not a measure
        while len(list(root.rglob(".bmsync-tmp-*"))) < 5:
            await asyncio.sleep(0.01)
    other = await sync(root, second, state="state-two")
    assert other.errors == [] and len(other.downloaded) == 5
    first.gate.set()
    report = await running
    assert report.errors == [] and len(report.downloaded) == 5
    assert not list(root.rglob(".bmsync-tmp-*"))
