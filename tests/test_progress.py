"""Progress as typed events (`bmsync.progress`), and what a run writes to the `bmsync` log.

What a UI can rely on: the phases in order with their counts, one event per finished action
with the action as a plain word and its bytes, and byte events while a large file moves, never
one per chunk.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import pytest

import bmsync
from bmsync.progress import LARGE_FILE, PhaseEvent, ProgressEvent, TransferEvent
from bmsync.testing import MemoryRemote
from tests.servers import S3TestServer

URL = "s3://memory/notes"


def sync(root: Path, state: Path, remote: MemoryRemote, heard: list[bmsync.Progress]) -> None:
    bmsync.sync_project_blocking(root, URL, state_dir=state, remote=remote, progress=heard.append)


def test_a_first_sync_tells_each_phase_with_its_counts_then_each_action(tmp_path: Path) -> None:
    root, remote = tmp_path / "notes", MemoryRemote()
    root.mkdir()
    (root / "a.md").write_text("aaa")
    (root / "b.md").write_text("bb")
    remote.put_bytes("c.md", b"c")
    heard: list[bmsync.Progress] = []
    sync(root, tmp_path / "st", remote, heard)
    phases = [(e.phase, e.count, e.bytes, e.finished) for e in heard if isinstance(e, PhaseEvent)]
    # The scan and the listing run at once: each starts, then ends, in either order.
    assert sorted(phases[:4]) == [
        ("listing", 0, 0, False),
        ("listing", 1, 0, True),
        ("scanning", 0, 0, False),
        ("scanning", 2, 0, True),
    ]
    for phase in ("listing", "scanning"):
        assert [p[3] for p in phases[:4] if p[0] == phase] == [False, True]
    assert phases[4:] == [("planning", 3, 0, True), ("transferring", 3, 3 + 2 + 1, False)]
    transferring = next(i for i, e in enumerate(heard) if getattr(e, "phase", "") == "transferring")
    actions = heard[transferring + 1 :]
    assert all(isinstance(e, ProgressEvent) for e in actions)
    assert sorted((e.action, e.path, e.bytes_done, e.bytes_total) for e in actions) == [  # type: ignore[union-attr]
        ("download", "c.md", 1, 1),
        ("upload", "a.md", 3, 3),
        ("upload", "b.md", 2, 2),
    ]
    assert [e.done for e in actions] == [1, 2, 3]  # type: ignore[union-attr]


def test_each_action_is_a_plain_word(tmp_path: Path) -> None:
    root, state, remote = tmp_path / "notes", tmp_path / "st", MemoryRemote()
    root.mkdir()
    for name in ("up", "down", "gone-here", "gone-there", "both", "touched", "keep"):
        (root / f"{name}.md").write_text(name)
    sync(root, state, remote, [])
    (root / "up.md").write_text("up, edited here")
    remote.put_bytes("down.md", b"down, edited there")
    (root / "gone-here.md").unlink()
    del remote.objects["gone-there.md"]
    (root / "both.md").write_text("both, edited here")
    remote.put_bytes("both.md", b"both, edited there")
    later = time.time() + 60
    os.utime(root / "touched.md", (later, later))  # the same bytes: only the snapshot changes
    heard: list[bmsync.Progress] = []
    sync(root, state, remote, heard)
    words = {e.path: e.action for e in heard if isinstance(e, ProgressEvent)}
    assert words == {
        "up.md": "upload",
        "down.md": "download",
        "gone-here.md": "delete-remote",
        "gone-there.md": "delete-local",
        "both.md": "conflict",
        "touched.md": "record",
    }
    comparing = [e for e in heard if isinstance(e, PhaseEvent) and e.phase == "comparing"]
    assert [e.count for e in comparing] == [1], "both.md is compared by content first"


def test_a_large_download_reports_its_bytes_every_mib_and_a_small_one_never(
    tmp_path: Path, s3_server: S3TestServer, bucket: str
) -> None:
    size = 3 * LARGE_FILE + 12345
    s3_server.client.put_object(Bucket=bucket, Key="notes/big.bin", Body=os.urandom(size))
    s3_server.client.put_object(Bucket=bucket, Key="notes/small.md", Body=b"small")
    heard: list[bmsync.Progress] = []
    report = bmsync.sync_project_blocking(
        tmp_path / "notes", f"s3://{bucket}/notes", s3=s3_server.config,
        state_dir=tmp_path / "st", progress=heard.append,
    )  # fmt: skip
    assert report.status == "ok" and sorted(report.downloaded) == ["big.bin", "small.md"]
    moving = [e for e in heard if isinstance(e, TransferEvent)]
    assert {(e.action, e.path, e.bytes_total) for e in moving} == {("download", "big.bin", size)}
    done = [e.bytes_done for e in moving]
    assert done == sorted(done) and 1 <= len(done) <= 3 and done[-1] <= size, done
    assert all(b >= (i + 1) * LARGE_FILE for i, b in enumerate(done)), "one per MiB at most"
    finished = {e.path: e for e in heard if isinstance(e, ProgressEvent)}
    assert (finished["big.bin"].bytes_done, finished["big.bin"].bytes_total) == (size, size)


def test_a_failed_action_moved_no_bytes(tmp_path: Path) -> None:
    root, remote = tmp_path / "notes", MemoryRemote()
    (root / "x.md").mkdir(parents=True)  # a folder where the remote file must go
    remote.put_bytes("x.md", b"remote x")
    heard: list[bmsync.Progress] = []
    sync(root, tmp_path / "st", remote, heard)
    (failed,) = [e for e in heard if isinstance(e, ProgressEvent)]
    assert (failed.action, failed.ok, failed.bytes_done, failed.bytes_total) == (
        "download",
        False,
        0,
        8,
    )


def test_a_run_logs_what_it_does(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    root, remote = tmp_path / "notes", MemoryRemote()
    root.mkdir()
    (root / "a.md").write_text("a")
    with caplog.at_level(logging.DEBUG, logger="bmsync"):
        report = bmsync.sync_project_blocking(root, URL, state_dir=tmp_path / "st", remote=remote)
    said = [(r.name, r.levelno, r.getMessage()) for r in caplog.records]
    assert (
        "bmsync.engine.run",
        logging.DEBUG,
        f"bisync {root} <-> {remote.url}: run {report.run_id}",
    ) in said
    assert ("bmsync.engine.execute", logging.DEBUG, "upload a.md") in said
    ended = f"run {report.run_id}: <SyncReport ok: 1 uploaded in {report.duration_s:.2f} s>"
    assert ("bmsync.engine.run", logging.INFO, ended) in said
    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger="bmsync"):
        again = bmsync.sync_project_blocking(root, URL, state_dir=tmp_path / "st", remote=remote)
    nothing = f"run {again.run_id}: <SyncReport ok: nothing to do in {again.duration_s:.2f} s>"
    assert [(r.levelno, r.getMessage()) for r in caplog.records if "SyncReport" in r.message] == [
        (logging.DEBUG, nothing)
    ], "a run with nothing to do is no news (a watch polls every minute)"
