"""Renames travel as renames (`bmsync.engine.moves`): nothing re-sent, no delete counted."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

import bmsync
from bmsync.engine.actions import DeleteLocal, DeleteRemote, Download, MoveLocal, MoveRemote, Upload
from bmsync.engine.moves import detect_moves
from bmsync.engine.plan import Plan
from bmsync.local import ops
from bmsync.progress import PhaseEvent, ProgressEvent
from bmsync.s3.remote import open_remote
from bmsync.types import Create, LocalFile, RemoteObject, SnapshotEntry
from tests.servers import S3TestServer

ROW = SnapshotEntry("old.md", 5, 1, "h1", "e1")


def test_a_local_rename_becomes_a_remote_move() -> None:
    new = LocalFile("new.md", 5, 2, "h1")
    plan = Plan(
        (
            DeleteRemote("old.md", RemoteObject("old.md", 5, "e1", 1)),
            Upload("new.md", new, Create(), "new.md"),
        )
    )
    (move,) = detect_moves(plan, {"old.md": ROW}).actions
    assert isinstance(move, MoveRemote) and (move.path, move.source.path) == ("new.md", "old.md")


def test_a_remote_rename_becomes_a_local_move() -> None:
    old_local = LocalFile("old.md", 5, 1, "h1")
    plan = Plan(
        (
            DeleteLocal("old.md", old_local),
            Download("new.md", RemoteObject("new.md", 5, "e1", 2), None),
        )
    )
    (move,) = detect_moves(plan, {"old.md": ROW}).actions
    assert isinstance(move, MoveLocal) and move.source is old_local


def test_ambiguous_or_different_content_is_left_alone() -> None:
    a = LocalFile("a.md", 5, 2, "h1")
    b = LocalFile("b.md", 5, 2, "h1")
    delete = DeleteRemote("old.md", RemoteObject("old.md", 5, "e1", 1))
    twins = Plan((delete, Upload("a.md", a, Create(), "a.md"), Upload("b.md", b, Create(), "b.md")))
    assert detect_moves(twins, {"old.md": ROW}) == twins
    other = Plan((delete, Upload("c.md", LocalFile("c.md", 5, 2, "h2"), Create(), "c.md")))
    assert detect_moves(other, {"old.md": ROW}) == other


async def test_renaming_a_folder_of_100_notes_copies_on_the_server_and_deletes_nothing_counted(
    tmp_path: Path, s3_server: S3TestServer, bucket: str
) -> None:
    root, state, url = tmp_path / "notes", tmp_path / "state", f"s3://{bucket}/kb"
    (root / "old").mkdir(parents=True)
    for i in range(100):
        (root / "old" / f"n{i:03}.md").write_text(f"note {i} " * 20)
    await bmsync.sync_project(root, url, state_dir=state, s3=s3_server.config)
    (root / "old").rename(root / "new")
    sent: list[str] = []
    async with open_remote(url, s3_server.config) as remote:
        remote.client.meta.events.register(
            "before-call.s3", lambda model, **_: sent.append(model.name)
        )
        report = await bmsync.sync_project(root, url, state_dir=state, remote=remote)
    assert report.status == "ok", report.summary()
    assert len(report.moved) == 100 and report.uploaded == [] and report.bytes_uploaded == 0
    assert report.deleted_remote == [], "a move is no delete: max-delete (25) did not stop it"
    # The only PUTs are the once-per-client probe of conditional writes (empty objects).
    assert sent.count("PutObject") <= 2 and sent.count("CopyObject") == 100
    listed = s3_server.client.list_objects_v2(Bucket=bucket, Prefix="kb/")
    assert sorted(o["Key"] for o in listed["Contents"])[:2] == ["kb/new/n000.md", "kb/new/n001.md"]
    assert len(listed["Contents"]) == 100
    assert not (await bmsync.sync_project(root, url, state_dir=state, s3=s3_server.config)).changed


async def test_a_rename_made_in_the_bucket_is_a_local_rename(
    tmp_path: Path, s3_server: S3TestServer, bucket: str
) -> None:
    root, state, url = tmp_path / "notes", tmp_path / "state", f"s3://{bucket}/kb"
    root.mkdir()
    (root / "a.md").write_text("content of a")
    await bmsync.sync_project(root, url, state_dir=state, s3=s3_server.config)
    client: Any = s3_server.client
    client.copy_object(
        Bucket=bucket, Key="kb/b.md", CopySource={"Bucket": bucket, "Key": "kb/a.md"}
    )
    client.delete_object(Bucket=bucket, Key="kb/a.md")
    report = await bmsync.sync_project(root, url, state_dir=state, s3=s3_server.config)
    assert [(m.path, m.old_path, m.side) for m in report.moved] == [("b.md", "a.md", "local")]
    assert report.downloaded == [] and report.bytes_downloaded == 0
    assert [p.name for p in root.iterdir()] == ["b.md"]
    assert (root / "b.md").read_text() == "content of a"
    assert [(c.change, c.path, c.old_path) for c in report.local_changes] == [
        ("moved", "b.md", "a.md")
    ]


def test_no_move_when_the_other_side_changed_the_old_file() -> None:
    """A mirror deletes a remote file the user also edited remotely; its bytes are not the
    renamed local file's, so they must not be moved to the new name."""
    new = LocalFile("new.md", 5, 2, "h1")
    edited = DeleteRemote("old.md", RemoteObject("old.md", 5, "e-edited", 1))
    plan = Plan((edited, Upload("new.md", new, Create(), "new.md")))
    assert detect_moves(plan, {"old.md": ROW}) == plan


async def test_a_folder_renamed_in_the_bucket_leaves_no_empty_folder_behind(
    tmp_path: Path, s3_server: S3TestServer, bucket: str
) -> None:
    root, state, url = tmp_path / "notes", tmp_path / "state", f"s3://{bucket}/kb"
    (root / "old").mkdir(parents=True)
    (root / "old" / "a.md").write_text("a")
    await bmsync.sync_project(root, url, state_dir=state, s3=s3_server.config)
    client: Any = s3_server.client
    client.copy_object(
        Bucket=bucket, Key="kb/new/a.md", CopySource={"Bucket": bucket, "Key": "kb/old/a.md"}
    )
    client.delete_object(Bucket=bucket, Key="kb/old/a.md")
    report = await bmsync.sync_project(root, url, state_dir=state, s3=s3_server.config)
    assert [m.side for m in report.moved] == ["local"]
    assert sorted(p.relative_to(root).as_posix() for p in root.rglob("*")) == ["new", "new/a.md"]


async def test_a_move_leaves_an_object_another_client_put_at_its_destination(
    tmp_path: Path, s3_server: S3TestServer, bucket: str
) -> None:
    """Between the listing and the copy, another client puts an object at the new name: the
    move keeps it (on a store that enforces conditions and on one that ignores them), reports
    the path, and deletes nothing; the next run sees both versions and keeps both."""
    root, state, url = tmp_path / "notes", tmp_path / "state", f"s3://{bucket}/kb"
    root.mkdir()
    (root / "old.md").write_text("mine " * 20)
    await bmsync.sync_project(root, url, state_dir=state, s3=s3_server.config)
    (root / "old.md").rename(root / "new.md")

    def another_client_writes(event: Any) -> None:
        if isinstance(event, PhaseEvent) and event.phase == "transferring":
            s3_server.client.put_object(Bucket=bucket, Key="kb/new.md", Body=b"theirs")

    report = await bmsync.sync_project(
        root, url, state_dir=state, s3=s3_server.config, progress=another_client_writes
    )
    assert report.status != "ok" and [e.path for e in report.errors] == ["new.md"]
    assert report.moved == [] and report.deleted_remote == []
    body = s3_server.client.get_object(Bucket=bucket, Key="kb/new.md")["Body"].read()
    assert body == b"theirs", "the other client's object was overwritten"
    assert s3_server.client.head_object(Bucket=bucket, Key="kb/old.md")["ContentLength"] == 100
    again = await bmsync.sync_project(root, url, state_dir=state, s3=s3_server.config)
    assert again.status == "ok" and len(again.conflicts) == 1, again.summary()


async def test_a_rename_that_empties_a_folder_never_removes_it_under_a_download(
    tmp_path: Path, s3_server: S3TestServer, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bucket renames `d/old.md` out of `d/` and adds `d/new.md`: the local move empties
    `d/` while the download into it runs. Played at its worst moment: the download finds (or
    makes) `d/`, then the move runs and the download waits until the move has finished, all
    of it, before it creates its temporary file in `d/`. The folder must still be there:
    emptied folders go only once every write of the run is done."""
    root, state, url = tmp_path / "notes", tmp_path / "state", f"s3://{bucket}/kb"
    (root / "d").mkdir(parents=True)
    (root / "d" / "old.md").write_text("old")
    await bmsync.sync_project(root, url, state_dir=state, s3=s3_server.config)
    client: Any = s3_server.client
    client.copy_object(
        Bucket=bucket, Key="kb/e.md", CopySource={"Bucket": bucket, "Key": "kb/d/old.md"}
    )
    client.delete_object(Bucket=bucket, Key="kb/d/old.md")
    client.put_object(Bucket=bucket, Key="kb/d/new.md", Body=b"new")
    found, moved = threading.Event(), threading.Event()
    rename_file, prepare_parent = ops.rename_file, ops.prepare_parent

    def move_once_the_download_found_its_folder(*args: Any) -> LocalFile:
        assert found.wait(timeout=60), "the download never looked for its folder"
        return rename_file(*args)

    def find_the_folder_then_wait_for_the_move(root: Path, relpath: str, **kw: Any) -> str:
        disk_relpath = prepare_parent(root, relpath, **kw)
        if relpath == "d/new.md":
            found.set()
            assert moved.wait(timeout=60), "the move never finished"
        return disk_relpath

    def the_move_finished(event: Any) -> None:
        if isinstance(event, ProgressEvent) and event.path == "e.md":
            moved.set()

    monkeypatch.setattr(ops, "rename_file", move_once_the_download_found_its_folder)
    monkeypatch.setattr(ops, "prepare_parent", find_the_folder_then_wait_for_the_move)
    report = await bmsync.sync_project(
        root, url, state_dir=state, s3=s3_server.config, progress=the_move_finished
    )
    assert report.status == "ok", report.summary()
    assert [m.path for m in report.moved] == ["e.md"] and report.downloaded == ["d/new.md"]
    assert sorted(p.relative_to(root).as_posix() for p in root.rglob("*")) == [
        "d", "d/new.md", "e.md",
    ]  # fmt: skip


async def test_a_rename_that_empties_a_folder_still_removes_it(
    tmp_path: Path, s3_server: S3TestServer, bucket: str
) -> None:
    """Emptied folders go after the transfers, nested ones included."""
    root, state, url = tmp_path / "notes", tmp_path / "state", f"s3://{bucket}/kb"
    (root / "a" / "b").mkdir(parents=True)
    (root / "a" / "b" / "x.md").write_text("x")
    (root / "keep").mkdir()
    (root / "keep" / "y.md").write_text("y")
    await bmsync.sync_project(root, url, state_dir=state, s3=s3_server.config)
    client: Any = s3_server.client
    for old, new in (("a/b/x.md", "x.md"), ("keep/y.md", "keep/z.md")):
        client.copy_object(
            Bucket=bucket, Key=f"kb/{new}", CopySource={"Bucket": bucket, "Key": f"kb/{old}"}
        )
        client.delete_object(Bucket=bucket, Key=f"kb/{old}")
    report = await bmsync.sync_project(root, url, state_dir=state, s3=s3_server.config)
    assert len(report.moved) == 2, report.summary()
    assert sorted(p.relative_to(root).as_posix() for p in root.rglob("*")) == [
        "keep", "keep/z.md", "x.md",
    ]  # fmt: skip
