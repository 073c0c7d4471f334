"""Getting deleted and overwritten versions back: `list_trash` and `restore_file`.

Against the in-memory remote; the same calls run on real servers in test_integration.py and
tests/test_s3_remote.py."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bmsync import NotInTrashError, S3Config, list_trash, restore_file, sync_project
from bmsync.commands.recover import TrashSide
from bmsync.failures import FileActionError
from bmsync.local import ops
from bmsync.testing import MemoryRemote

NOW = datetime(2026, 11, 23, 10, 15, tzinfo=UTC)
URL = "s3://memory/project"


class Project:
    def __init__(self, tmp_path: Path) -> None:
        self.root, self.state, self.remote = tmp_path / "notes", tmp_path / "state", MemoryRemote()
        self.root.mkdir()
        self.write("keep.md", "keeps both sides non-empty, so the empty-side guard stays quiet")

    def write(self, rel: str, text: str, mtime_s: int = 1_700_000_000) -> None:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        os.utime(path, (mtime_s, mtime_s))

    def read(self, rel: str) -> str:
        return (self.root / rel).read_text()

    async def sync(self, now: datetime = NOW) -> None:
        report = await sync_project(
            self.root, URL, state_dir=self.state, remote=self.remote, now=now
        )
        assert report.status == "ok", report.errors

    async def trash(self) -> list[tuple[str, str, str, int]]:
        versions = await list_trash(URL, state_dir=self.state, remote=self.remote)
        return [(v.path, v.side, v.run_id[:15], v.number) for v in versions]

    async def restore(
        self, path: str, run_id: str | None = None, side: TrashSide | None = None
    ) -> str:
        result = await restore_file(
            self.root, URL, path, run_id=run_id, side=side, state_dir=self.state, remote=self.remote
        )
        return result.restored_to


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return Project(tmp_path)


async def test_a_file_deleted_by_a_sync_comes_back_and_syncs_again(project: Project) -> None:
    project.write("ideas/x.md", "precious")
    await project.sync()
    del project.remote.objects["ideas/x.md"]  # another client deleted it
    await project.sync(NOW + timedelta(hours=1))
    assert not (project.root / "ideas/x.md").exists()
    assert await project.trash() == [("ideas/x.md", "local", "20261123-111500", 1)]
    assert await project.restore("ideas/x.md") == "ideas/x.md"
    assert project.read("ideas/x.md") == "precious"
    assert (project.root / "ideas/x.md").stat().st_mtime == 1_700_000_000, "mtime kept"
    await project.sync(NOW + timedelta(hours=2))
    assert project.remote.contents()["ideas/x.md"] == b"precious"


async def test_an_overwritten_version_is_restored_beside_the_current_one(project: Project) -> None:
    project.write("x.md", "mine")
    await project.sync()
    project.remote.put_bytes("x.md", b"theirs")
    await project.sync(NOW + timedelta(hours=1))
    assert project.read("x.md") == "theirs"
    restored = await project.restore("./x.md")
    assert restored == "x.restored-20261123-111500.md"
    assert project.read(restored) == "mine" and project.read("x.md") == "theirs"
    assert await project.restore("x.md") == "x.restored-20261123-111500-2.md"


async def test_a_remote_version_comes_from_the_remote_trash(project: Project) -> None:
    project.write("a.md", "old remote")
    await project.sync()
    (project.root / "a.md").unlink()
    await project.sync(NOW + timedelta(minutes=5))  # deletes it remotely, keeping a trash copy
    assert await project.trash() == [("a.md", "remote", "20261123-102000", 1)]
    assert await project.restore("a.md", side="remote") == "a.md"
    assert project.read("a.md") == "old remote"
    assert (project.root / "a.md").stat().st_mtime == 1_700_000_000, "mtime from metadata"


async def test_newest_run_first_and_run_selection(project: Project) -> None:
    project.write("a.md", "v1")
    await project.sync()
    for hour, text in ((1, b"v2"), (2, b"v3")):
        project.remote.put_bytes("a.md", text)
        await project.sync(NOW + timedelta(hours=hour))
    listed = await project.trash()
    assert [(side, run) for _, side, run, _ in listed] == [
        ("local", "20261123-121500"),
        ("local", "20261123-111500"),
    ]
    versions = await list_trash(URL, state_dir=project.state, remote=project.remote)
    newest = await project.restore("a.md")
    oldest = await project.restore("a.md", run_id=versions[1].run_id)
    assert (project.read(newest), project.read(oldest)) == ("v2", "v1")


async def test_second_version_of_a_path_in_one_run_is_numbered(project: Project) -> None:
    project.write("a.md", "first")
    await project.sync()
    run_dir = next((project.state).rglob("trash")) / "20261123-101500-abcdef"
    run_dir.mkdir(parents=True)
    (run_dir / "a.md").write_text("kept first")
    (run_dir / "a.md.2").write_text("kept second")
    (run_dir / "notes.2").write_text("a file really named notes.2")
    listed = {(p, n) for p, _, _, n in await project.trash()}
    assert listed == {("a.md", 1), ("a.md", 2), ("notes.2", 1)}
    assert project.read(await project.restore("a.md")) == "kept second", "the later one first"


async def test_nothing_in_the_trash_says_what_to_do(project: Project) -> None:
    project.write("a.md", "x")
    await project.sync()
    with pytest.raises(NotInTrashError, match="run 'bmsync trash' to see what it holds"):
        await project.restore("a.md")
    for hostile in ("../outside.md", "/etc/passwd", "a/../../b.md", "bad\\name.md"):
        with pytest.raises(NotInTrashError, match="not a project-relative path"):
            await project.restore(hostile)
    assert sorted(p.name for p in project.root.parent.iterdir()) == ["notes", "state"]
    assert sorted(p.name for p in project.root.iterdir()) == ["a.md", "keep.md"]


async def test_wrong_run_names_the_runs_that_hold_the_path(project: Project) -> None:
    project.write("a.md", "v1")
    await project.sync()
    project.remote.put_bytes("a.md", b"v2")
    await project.sync(NOW + timedelta(hours=1))
    with pytest.raises(NotInTrashError, match=r"the trash holds it from: 20261123-111500-"):
        await project.restore("a.md", run_id="20200101-000000-000000")


async def test_the_local_trash_works_offline(project: Project) -> None:
    project.write("x.md", "mine")
    await project.sync()
    project.remote.put_bytes("x.md", b"theirs")
    await project.sync(NOW + timedelta(hours=1))
    offline = S3Config(endpoint_url="http://127.0.0.1:9", region="us-east-1")  # nothing listens
    listed = await list_trash(URL, side="local", s3=offline, state_dir=project.state)
    assert [(v.path, v.side) for v in listed] == [("x.md", "local")]
    result = await restore_file(
        project.root, URL, "x.md", side="local", s3=offline, state_dir=project.state
    )
    assert project.read(result.restored_to) == "mine"


async def test_empty_trash_lists_nothing(project: Project) -> None:
    assert await project.trash() == []


def test_commit_new_never_replaces_a_file_that_appeared(tmp_path: Path) -> None:
    writer = ops.AtomicDownload(tmp_path, "a.md")
    writer.sink.write(b"restored")
    (tmp_path / "a.md").write_text("appeared meanwhile")
    with pytest.raises(FileActionError, match="a file appeared there; nothing was replaced"):
        writer.commit_new(1_700_000_000_000_000_000)
    writer.abort()
    assert (tmp_path / "a.md").read_text() == "appeared meanwhile"
    assert [p.name for p in tmp_path.iterdir()] == ["a.md"], "no temporary file left"
