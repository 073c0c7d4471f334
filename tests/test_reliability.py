"""Reliability guarantees owned by the engine: trash retention, lock takeover, secrets."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bmsync import RemoteAuthError, S3Config, sync_project
from bmsync.local.trash import purge_trash
from bmsync.runs import new_run_id, run_started
from bmsync.state.paths import ProjectPaths
from bmsync.testing import MemoryRemote
from tests.servers import S3TestServer

NOW = datetime(2026, 11, 23, 10, 15, tzinfo=UTC)


def test_run_ids_encode_their_start() -> None:
    run_id = new_run_id(NOW)
    assert run_started(run_id) == NOW.replace(microsecond=0)
    assert run_started("not-a-run") is None


def test_purge_removes_only_expired_run_folders(tmp_path: Path) -> None:
    old, fresh = new_run_id(NOW - timedelta(days=31)), new_run_id(NOW - timedelta(days=2))
    for name in (old, fresh, "keep-me"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "x.md").write_text("x")
    assert purge_trash(tmp_path, older_than=NOW - timedelta(days=30)) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([fresh, "keep-me"])


async def test_trash_retention_on_both_sides(tmp_path: Path) -> None:
    root, state, remote = tmp_path / "notes", tmp_path / "state", MemoryRemote()
    root.mkdir()
    (root / "a.md").write_text("a")
    (root / "keep.md").write_text("k")
    url = "s3://memory/project"
    first = NOW - timedelta(days=40)
    await sync_project(root, url, state_dir=state, remote=remote, now=first)
    remote.put_bytes("a.md", b"remote edit")
    # Overwrites a.md locally (kept in the local trash) 40 days ago.
    await sync_project(root, url, state_dir=state, remote=remote, now=first + timedelta(hours=1))
    (root / "a.md").unlink()
    # Deletes a.md remotely (kept in the remote trash), 39 days ago.
    await sync_project(root, url, state_dir=state, remote=remote, now=first + timedelta(days=1))
    trash = ProjectPaths.for_remote(state, url).trash
    assert any(trash.iterdir()) and remote.trash
    await sync_project(root, url, state_dir=state, remote=remote, now=NOW)
    assert not any(trash.iterdir()) and not remote.trash, "both trashes emptied after 30 days"


async def test_trash_and_state_are_user_only(tmp_path: Path) -> None:
    root, state, remote = tmp_path / "notes", tmp_path / "state", MemoryRemote()
    root.mkdir()
    (root / "a.md").write_text("a")
    await sync_project(root, "s3://memory/p", state_dir=state, remote=remote, now=NOW)
    remote.put_bytes("a.md", b"new")
    await sync_project(root, "s3://memory/p", state_dir=state, remote=remote, now=NOW)
    paths = ProjectPaths.for_remote(state, "s3://memory/p")
    for folder in [paths.root, paths.trash, *[p for p in paths.trash.rglob("*") if p.is_dir()]]:
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
    assert stat.S_IMODE(paths.db.stat().st_mode) == 0o600
    assert stat.S_IMODE(paths.lock.stat().st_mode) == 0o600


HOLD_AND_DIE = """
import sys
from pathlib import Path
from bmsync.state.lock import ProjectLock
lock = ProjectLock(Path(sys.argv[1]))
lock.acquire()
print("held", flush=True)
import time; time.sleep(60)
"""


async def test_lock_of_a_killed_run_is_taken_over_with_a_warning(tmp_path: Path) -> None:
    root, state = tmp_path / "notes", tmp_path / "state"
    root.mkdir()
    paths = ProjectPaths.for_remote(state, "s3://memory/p")
    paths.ensure()
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD_AND_DIE, str(paths.lock)], stdout=subprocess.PIPE
    )
    assert proc.stdout is not None and proc.stdout.readline() == b"held\n"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    report = await sync_project(root, "s3://memory/p", state_dir=state, remote=MemoryRemote())
    assert report.status == "ok"
    assert report.warnings[0].path == "(lock)" and f"pid {proc.pid}" in report.warnings[0].message
    again = await sync_project(root, "s3://memory/p", state_dir=state, remote=MemoryRemote())
    assert not again.warnings, "a cleanly finished run leaves nothing to take over"


SECRET = "s3cr3t-VALUE-that-must-never-leak"


async def test_credentials_never_reach_reports_state_or_errors(
    tmp_path: Path, s3_server: S3TestServer, bucket: str
) -> None:
    """moto accepts any secret: sync with a recognisable one and look for it everywhere."""
    root, state = tmp_path / "notes", tmp_path / "state"
    root.mkdir()
    (root / "a.md").write_text("a")
    good = s3_server.config
    if s3_server.name == "rclone":
        # rclone checks credentials: a wrong secret must fail without showing it.
        bad = S3Config(
            endpoint_url=good.endpoint_url, region=good.region,
            access_key_id=good.access_key_id, secret_access_key=SECRET,
        )  # fmt: skip
        with pytest.raises(RemoteAuthError) as failure:
            await sync_project(root, f"s3://{bucket}/p", s3=bad, state_dir=state)
        assert SECRET not in str(failure.value) and SECRET not in repr(failure.value)
        assert "credentials" in str(failure.value).lower() or "secret" in str(failure.value).lower()
        assert SECRET not in repr(bad)
        return
    config = S3Config(
        endpoint_url=good.endpoint_url, region=good.region,
        access_key_id="AKIDEXAMPLE", secret_access_key=SECRET, session_token=SECRET + "-token",
    )  # fmt: skip
    report = await sync_project(root, f"s3://{bucket}/p", s3=config, state_dir=state)
    assert report.status == "ok"
    assert SECRET not in json.dumps(report.to_dict()) and SECRET not in repr(config)
    for path in state.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path


def test_cli_without_credentials_says_what_to_do(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        HOME=str(tmp_path), AWS_CONFIG_FILE="/dev/null", AWS_SHARED_CREDENTIALS_FILE="/dev/null"
    )
    done = subprocess.run(
        [sys.executable, "-m", "bmsync.cli", "sync", str(tmp_path / "n"), "s3://b/p",
         "--endpoint-url", "http://127.0.0.1:9", "--state-dir", str(tmp_path / "st")],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "AWS_ACCESS_KEY_ID" in done.stderr


def test_case_twins_keep_the_local_one() -> None:
    from bmsync.local.casefs import case_twins, unsyncable_twins

    groups = case_twins(["Note.md", "note.md", "NOTE.md", "other.md", "a/B.md", "a/b.md"])
    assert sorted(groups) == [["NOTE.md", "Note.md", "note.md"], ["a/B.md", "a/b.md"]]
    left = unsyncable_twins(groups, {"note.md"})
    assert set(left) == {"NOTE.md", "Note.md", "a/b.md"}
    assert "only by letter case" in left["Note.md"]


async def test_case_twins_on_a_case_insensitive_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Linux folders are case-sensitive; pretend this one is not, as on macOS."""
    monkeypatch.setattr("bmsync.engine.gather.is_case_insensitive", lambda root: True)
    root, remote = tmp_path / "notes", MemoryRemote()
    root.mkdir()
    (root / "Note.md").write_text("local")
    remote.put_bytes("note.md", b"remote twin")
    remote.put_bytes("x/A.md", b"a1")
    remote.put_bytes("x/a.md", b"a2")
    report = await sync_project(root, "s3://memory/p", state_dir=tmp_path / "st", remote=remote)
    assert report.uploaded == ["Note.md"] and report.downloaded == ["x/A.md"]
    assert sorted(w.path for w in report.warnings) == ["note.md", "x/a.md"]
    assert (root / "Note.md").read_text() == "local"
    assert remote.contents()["note.md"] == b"remote twin", "nothing lost on either side"
