"""On-disk names: every local write goes into the folders as they are spelled on disk.

macOS writes names in NFD; keys and the sync's paths are NFC. A file keeps its on-disk name
(test_engine's `test_nfd_local_name_syncs_as_nfc_key`); so must a folder, or a file added under
it on the other side (a download, a conflict copy, a move's target, a restored version, a
folder of a marker) would land in a second, NFC-named folder beside it. Linux keeps names as
given, so an NFD folder made here stands for the one macOS would have.
"""

from __future__ import annotations

import os
import unicodedata
from pathlib import Path
from typing import Any

import pytest

from bmsync import SyncReport, restore_file, sync_project
from bmsync.testing import MemoryRemote
from tests.servers import S3TestServer

NFC = "Café"
NFD = unicodedata.normalize("NFD", NFC)
assert NFD != NFC


def tree(root: Path) -> list[str]:
    """Every path below `root` as spelled on disk, folders included."""
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*"))


def on_disk(*parts: str) -> str:
    return "/".join(parts)


class Pair:
    """A folder holding `<NFD>/a.md`, synced to a prefix of a real server."""

    def __init__(self, tmp_path: Path, s3_server: S3TestServer, bucket: str) -> None:
        self.root, self.state = tmp_path / "notes", tmp_path / "state"
        self.server, self.bucket, self.url = s3_server, bucket, f"s3://{bucket}/kb"
        (self.root / NFD).mkdir(parents=True)
        (self.root / NFD / "a.md").write_text("a, as first synced")
        (self.root / "top.md").write_text("top")

    async def sync(self, **kw: Any) -> SyncReport:
        report = await sync_project(
            self.root, self.url, state_dir=self.state, s3=self.server.config, **kw
        )
        assert report.status == "ok", report.summary()
        return report

    def put(self, key: str, body: bytes) -> None:
        self.server.client.put_object(Bucket=self.bucket, Key=f"kb/{key}", Body=body)

    def rename(self, old: str, new: str) -> None:
        source = {"Bucket": self.bucket, "Key": f"kb/{old}"}
        self.server.client.copy_object(Bucket=self.bucket, Key=f"kb/{new}", CopySource=source)
        self.server.client.delete_object(Bucket=self.bucket, Key=f"kb/{old}")


@pytest.fixture
def pair(tmp_path: Path, s3_server: S3TestServer, bucket: str) -> Pair:
    return Pair(tmp_path, s3_server, bucket)


async def test_remote_files_land_in_the_nfd_folder(pair: Pair) -> None:
    """A new key and a rename into the NFC name of the folder, and a new folder below it."""
    await pair.sync()
    pair.put(f"{NFC}/new.md", b"new")
    pair.put(f"{NFC}/sub/deep.md", b"deep")
    pair.rename("top.md", f"{NFC}/top.md")
    report = await pair.sync()
    assert [m.path for m in report.moved] == [f"{NFC}/top.md"]
    assert tree(pair.root) == [
        NFD, on_disk(NFD, "a.md"), on_disk(NFD, "new.md"), on_disk(NFD, "sub"),
        on_disk(NFD, "sub", "deep.md"), on_disk(NFD, "top.md"),
    ]  # fmt: skip
    assert not (await pair.sync()).changed


@pytest.mark.parametrize("conflict", ["local", "remote"])
async def test_a_conflict_copy_lands_in_the_nfd_folder(pair: Pair, conflict: str) -> None:
    """Whichever version stays at the path, the other is kept beside it, in the same folder."""
    await pair.sync()
    (pair.root / NFD / "a.md").write_text("a, edited here")
    pair.put(f"{NFC}/a.md", b"a, edited there")
    report = await pair.sync(conflict=conflict)
    assert len(report.conflicts) == 1
    assert sorted(os.listdir(pair.root)) == sorted([NFD, "top.md"])
    (copy,) = [name for name in os.listdir(pair.root / NFD) if ".conflict-" in name]
    kept = {(pair.root / NFD / name).read_text() for name in ("a.md", copy)}
    assert kept == {"a, edited here", "a, edited there"}
    assert not (await pair.sync()).changed


async def test_a_restored_file_lands_in_the_nfd_folder(tmp_path: Path) -> None:
    root, state, remote = tmp_path / "notes", tmp_path / "state", MemoryRemote()
    (root / NFD).mkdir(parents=True)
    (root / NFD / "a.md").write_text("a")
    (root / NFD / "b.md").write_text("b")
    await sync_project(root, remote.url, state_dir=state, remote=remote)
    del remote.objects[f"{NFC}/b.md"]  # another client deleted it
    await sync_project(root, remote.url, state_dir=state, remote=remote)
    assert tree(root) == [NFD, on_disk(NFD, "a.md")]
    result = await restore_file(root, remote.url, f"{NFC}/b.md", state_dir=state, remote=remote)
    assert result.restored_to == f"{NFC}/b.md"
    assert tree(root) == [NFD, on_disk(NFD, "a.md"), on_disk(NFD, "b.md")]


async def test_a_folder_marker_makes_its_folder_in_the_nfd_folder(tmp_path: Path) -> None:
    root, state, remote = tmp_path / "notes", tmp_path / "state", MemoryRemote()
    (root / NFD).mkdir(parents=True)
    (root / NFD / "a.md").write_text("a")
    await sync_project(root, remote.url, state_dir=state, remote=remote, dir_markers=True)
    remote.put_bytes(f"{NFC}/empty/", b"")
    report = await sync_project(root, remote.url, state_dir=state, remote=remote, dir_markers=True)
    assert report.folders_created == [f"{NFC}/empty"]
    assert tree(root) == [NFD, on_disk(NFD, "a.md"), on_disk(NFD, "empty")]
