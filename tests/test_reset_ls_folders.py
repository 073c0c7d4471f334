"""`reset_project`, `list_remote`, and the folders a sync refuses (SPEC-9's isolation)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import bmsync
from bmsync.commands.ls import list_remote
from bmsync.commands.reset import reset_project
from bmsync.errors import ConfigError, LockedError
from bmsync.state.lock import ProjectLock
from bmsync.state.paths import ProjectPaths
from bmsync.testing import MemoryRemote
from tests.servers import S3TestServer

URL = "s3://memory/p"


@pytest.fixture
def root(root: Path) -> Path:
    """conftest's empty project folder, seeded with a.md and b.md."""
    (root / "a.md").write_text("a")
    (root / "b.md").write_text("b")
    return root


# -- reset ---------------------------------------------------------------------------------------


async def test_after_a_reset_the_next_sync_is_a_union_that_deletes_nothing(
    root: Path, state: Path
) -> None:
    remote = MemoryRemote()
    await bmsync.sync_project(root, URL, state_dir=state, remote=remote)
    (root / "a.md").unlink()  # a bisync would now delete a.md remotely
    result = await reset_project(root, URL, state_dir=state)
    assert result.set_aside is not None and Path(result.set_aside).exists()
    assert ".reset-" in result.set_aside
    report = await bmsync.sync_project(root, URL, state_dir=state, remote=remote)
    assert report.deleted_remote == [] and report.downloaded == ["a.md"]
    assert sorted(remote.contents()) == ["a.md", "b.md"]


async def test_reset_of_a_pair_never_synced_says_so(root: Path, state: Path) -> None:
    result = await reset_project(root, URL, state_dir=state)
    assert result.set_aside is None and "already a union" in result.summary()


async def test_reset_refuses_while_a_sync_holds_the_project(root: Path, state: Path) -> None:
    await bmsync.sync_project(root, URL, state_dir=state, remote=MemoryRemote())
    paths = ProjectPaths.resolve(state, URL)
    with ProjectLock(paths.lock), pytest.raises(LockedError):
        await reset_project(root, URL, state_dir=state)
    assert paths.db.exists(), "nothing was set aside"


# -- ls ------------------------------------------------------------------------------------------


async def test_ls_lists_size_time_and_etag_of_every_file(
    root: Path, state: Path, s3_server: S3TestServer, bucket: str
) -> None:
    s3 = s3_server.config
    url = f"s3://{bucket}/notes"
    (root / "d").mkdir()
    (root / "d" / "c.md").write_text("ccc")
    await bmsync.sync_project(root, url, state_dir=state, s3=s3)
    s3_server.client.put_object(Bucket=bucket, Key="notes/bad\\name.md", Body=b"x")
    listed = await list_remote(url, s3=s3)
    assert [(f.path, f.size) for f in listed.files] == [("a.md", 1), ("b.md", 1), ("d/c.md", 3)]
    assert all(len(f.etag) == 32 and f.mtime.tzinfo is not None for f in listed.files)
    assert [w.path for w in listed.warnings] == ["notes/bad\\name.md"]
    as_json = listed.to_dict()
    assert set(as_json["files"][0]) == {"path", "size", "mtime", "etag"}  # type: ignore[index]
    only_d = await list_remote(url, "d/", s3=s3)
    assert [f.path for f in only_d.files] == ["d/c.md"]
    one = await list_remote(url, "a.md", s3=s3)
    assert [f.path for f in one.files] == ["a.md"]


# -- folders a sync refuses ----------------------------------------------------------------------


async def test_the_cloud_mount_folder_is_refused(
    tmp_path: Path, state: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    mounted = tmp_path / "basic-memory-cloud" / "research"
    mounted.mkdir(parents=True)
    (mounted / "a.md").write_text("a")
    remote = MemoryRemote()
    for folder in (mounted.parent, mounted):
        with pytest.raises(ConfigError, match="mount"):
            await bmsync.sync_project(folder, URL, state_dir=state, remote=remote)
    assert remote.contents() == {}


async def test_a_folder_inside_a_state_folder_is_refused(
    tmp_path: Path, state: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    own = ProjectPaths.resolve(state, URL).root / "trash" / "notes"
    own.mkdir(parents=True)
    with pytest.raises(ConfigError, match="inside bmsync's state folder"):
        await bmsync.sync_project(own, URL, state_dir=state, remote=MemoryRemote())
    monkeypatch.delenv("BMSYNC_STATE_DIR", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    default = tmp_path / ".basic-memory" / "bisync-state" / "notes"
    default.mkdir(parents=True)
    with pytest.raises(ConfigError, match="inside bmsync's state folder"):
        await bmsync.sync_project(default, URL, state_dir=state, remote=MemoryRemote())


async def test_a_state_folder_inside_the_project_is_refused(root: Path) -> None:
    with pytest.raises(ConfigError, match="would be synced as notes"):
        await bmsync.sync_project(root, URL, state_dir=root / ".state", remote=MemoryRemote())
    assert not (root / ".state").exists()


async def test_a_symlinked_way_into_the_mount_is_refused_too(
    tmp_path: Path, state: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "basic-memory-cloud").mkdir()
    link = tmp_path / "elsewhere"
    os.symlink(tmp_path / "basic-memory-cloud", link)
    with pytest.raises(ConfigError, match="mount"):
        await bmsync.sync_project(link, URL, state_dir=state, remote=MemoryRemote())
