"""The `_blocking` forms, for scripts and notebooks: they work inside a running event loop
(Jupyter's), and an interrupt stops the run they started, cleanly.

The interrupt is a real SIGINT sent to a real process, in both ways a caller can be waiting:
under `asyncio.run` (whose handler cancels the waiting task) and in a loop without that
handler, as in Jupyter, where the signal raises `KeyboardInterrupt` in the waiting thread.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import bmsync
from bmsync.names import TEMP_PREFIX
from bmsync.testing import MemoryRemote
from tests.commandline import cli_env
from tests.faultproxy import Decision, FaultProxy, Request
from tests.servers import S3TestServer

URL = "s3://memory/notes"


def test_every_blocking_form_works_inside_a_running_loop(tmp_path: Path) -> None:
    """Each runs as a notebook cell would call it: from inside a running event loop."""
    root, state, remote = tmp_path / "notes", tmp_path / "st", MemoryRemote()
    root.mkdir()
    (root / "a.md").write_text("a")
    (root / "b.md").write_text("b")

    async def cell() -> list[object]:
        results: list[object] = [
            bmsync.sync_project_blocking(root, URL, state_dir=state, remote=remote)
        ]
        (root / "b.md").unlink()
        results += [
            bmsync.sync_project_blocking(root, URL, state_dir=state, remote=remote),
            bmsync.check_project_blocking(root, URL, state_dir=state, remote=remote),
            bmsync.project_status_blocking(root, URL, state_dir=state),
            bmsync.list_remote_blocking(URL, remote=remote),
            bmsync.list_trash_blocking(URL, state_dir=state, remote=remote),
            bmsync.restore_file_blocking(root, URL, "b.md", state_dir=state, remote=remote),
            bmsync.reset_project_blocking(root, URL, state_dir=state),
        ]
        return results

    first, second, check, status, files, trash, restored, reset = asyncio.run(cell())
    assert first.uploaded == ["a.md", "b.md"] and second.deleted_remote == ["b.md"]  # type: ignore[attr-defined]
    assert check.in_sync and status.synced and status.files == 1  # type: ignore[attr-defined]
    assert [f.path for f in files.files] == ["a.md"]  # type: ignore[attr-defined]
    assert [v.path for v in trash] == ["b.md"]  # type: ignore[attr-defined]
    assert restored.restored_to == "b.md" and (root / "b.md").read_text() == "b"  # type: ignore[attr-defined]
    assert reset.set_aside is not None  # type: ignore[attr-defined]


def test_an_error_in_the_worker_is_raised_in_the_cell(tmp_path: Path) -> None:
    async def cell() -> None:
        bmsync.sync_project_blocking(tmp_path, "not-a-url", state_dir=tmp_path / "st")

    with pytest.raises(bmsync.RemoteUrlError):
        asyncio.run(cell())


CELL = """
import asyncio, sys
import bmsync

root, url, state, endpoint, how = sys.argv[1:]

def progress(event):
    if isinstance(event, bmsync.ProgressEvent):
        print("done", event.done, flush=True)

async def cell():
    return bmsync.sync_project_blocking(
        root, url, s3=bmsync.S3Config(endpoint_url=endpoint), state_dir=state, transfers=2,
        progress=progress,
    )

try:
    if how == "asyncio.run":
        asyncio.run(cell())
    else:  # as Jupyter runs a cell: a loop with Python's own SIGINT handler
        asyncio.new_event_loop().run_until_complete(cell())
    print("finished", flush=True)
except (KeyboardInterrupt, asyncio.CancelledError) as err:
    print("interrupted", type(err).__name__, flush=True)
"""

NOTES = 12


def slow_downloads(request: Request, _rng: object) -> Decision:
    return Decision(latency_s=0.4 if request.operation == "GET" else 0.0)


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT cannot be sent to a process there")
@pytest.mark.parametrize("how", ["asyncio.run", "jupyter-like loop"])
def test_an_interrupt_stops_the_run_records_it_and_releases_the_lock(
    tmp_path: Path, s3_server: S3TestServer, bucket: str, how: str
) -> None:
    for n in range(NOTES):
        s3_server.client.put_object(Bucket=bucket, Key=f"notes/n{n:02}.md", Body=f"note {n}")
    root, state, url = tmp_path / "notes", tmp_path / "state", f"s3://{bucket}/notes"
    with FaultProxy(str(s3_server.config.endpoint_url), seed=3) as proxy:
        proxy.policy = slow_downloads
        proc = subprocess.Popen(
            [sys.executable, "-c", CELL, str(root), url, str(state), proxy.endpoint_url, how],
            env=cli_env(s3_server.config, tmp_path), stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            assert proc.stdout is not None
            first = proc.stdout.readline()
            assert first.startswith("done "), first + proc.communicate(timeout=60)[1]
            proc.send_signal(signal.SIGINT)
            started = time.monotonic()
            out, err = proc.communicate(timeout=30)
            stopped_in = time.monotonic() - started
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    lines = (first + out).splitlines()
    # Both end as a Ctrl-C does: asyncio.run turns the cancel it made into KeyboardInterrupt.
    assert lines[-1] == "interrupted KeyboardInterrupt", out + err
    assert proc.returncode == 0, err
    done = [line for line in lines if line.startswith("done ")]
    assert len(done) < NOTES, "the run went on after the interrupt"
    assert stopped_in < 10, f"took {stopped_in:.1f} s to stop"
    status = bmsync.project_status_blocking(root, url, state_dir=state)
    assert status.runs[0].status == "interrupted" and status.lock is None, status
    assert not [p for p in root.rglob("*") if p.name.startswith(TEMP_PREFIX)]
    # Nothing is lost: the next run finishes the rest.
    rest = bmsync.sync_project_blocking(root, url, s3=s3_server.config, state_dir=state)
    assert rest.status == "ok" and len(list(root.glob("*.md"))) == NOTES
