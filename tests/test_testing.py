"""`bmsync.testing.MemoryRemote`, the public test seam: it must refuse what the S3 remote
refuses (tests/test_s3_remote.py runs the same cases on real servers), read uploads through the
`LocalSource` checks, and record every call, housekeeping included."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bmsync import sync_project
from bmsync.digests import new_md5
from bmsync.failures import FileActionError, LocalChanged, RemoteChanged, RemoteMissing
from bmsync.local.hashing import hash_file
from bmsync.local.source import FileSource
from bmsync.names import DATA_IN_FOLDER_KEY
from bmsync.runs import new_run_id
from bmsync.testing import MemoryRemote
from bmsync.types import Create, Overwrite, PutMode, RejectedKey, RemoteMeta, Update

NOW = datetime(2026, 11, 23, 10, 15, tzinfo=UTC)
MTIME_NS = 1_700_000_000_000_000_000
STALE_ETAG = "0" * 32


@pytest.fixture
def remote() -> MemoryRemote:
    return MemoryRemote()


def scanned(path: Path, data: bytes) -> FileSource:
    """`data` written at `path` and scanned, as the executor would hand it over."""
    path.write_bytes(data)
    xxh3, size = hash_file(path)
    return FileSource(path, size, MTIME_NS, xxh3)


async def put(
    remote: MemoryRemote, tmp_path: Path, relkey: str, data: bytes, mode: PutMode | None = None
) -> RemoteMeta:
    source = scanned(tmp_path / "upload.bin", data)
    return await remote.upload(relkey, source, mode=mode or Overwrite(), verify=True)


async def get(remote: MemoryRemote, relkey: str, *, if_match: str | None = None) -> bytes:
    sink = io.BytesIO()
    await remote.download(relkey, sink, if_match=if_match, verify=True)
    return sink.getvalue()


# -- what is stored ---------------------------------------------------------------------------


async def test_etags_are_the_md5_of_the_content(remote: MemoryRemote, tmp_path: Path) -> None:
    meta = await put(remote, tmp_path, "a.md", b"content")
    assert meta.etag == new_md5(b"content").hexdigest()
    assert (meta.size, meta.mtime_ns) == (7, MTIME_NS)
    assert (await remote.list_objects()).objects["a.md"].etag == meta.etag


# -- conditions, as the S3 remote enforces them -------------------------------------------------


async def test_create_over_an_existing_object_is_refused(
    remote: MemoryRemote, tmp_path: Path
) -> None:
    await put(remote, tmp_path, "a.md", b"theirs")
    with pytest.raises(RemoteChanged):
        await put(remote, tmp_path, "a.md", b"ours", mode=Create())
    assert remote.contents() == {"a.md": b"theirs"}


async def test_update_of_a_changed_object_is_refused(remote: MemoryRemote, tmp_path: Path) -> None:
    first = await put(remote, tmp_path, "a.md", b"v1")
    second = await put(remote, tmp_path, "a.md", b"v2 by someone else")
    with pytest.raises(RemoteChanged):
        await put(remote, tmp_path, "a.md", b"v3", mode=Update(first.etag))
    third = await put(remote, tmp_path, "a.md", b"v3", mode=Update(second.etag))
    assert await get(remote, "a.md", if_match=third.etag) == b"v3"


async def test_update_of_a_deleted_object_is_refused(remote: MemoryRemote, tmp_path: Path) -> None:
    first = await put(remote, tmp_path, "a.md", b"v1")
    await remote.delete("a.md", if_match=None)
    with pytest.raises(RemoteChanged):
        await put(remote, tmp_path, "a.md", b"v2", mode=Update(first.etag))
    assert remote.contents() == {}


async def test_delete_of_a_changed_object_is_refused(remote: MemoryRemote, tmp_path: Path) -> None:
    old = await put(remote, tmp_path, "a.md", b"old")
    await put(remote, tmp_path, "a.md", b"new")
    with pytest.raises(RemoteChanged):
        await remote.delete("a.md", if_match=old.etag)
    assert remote.contents() == {"a.md": b"new"}


async def test_delete_of_a_missing_object_is_fine(remote: MemoryRemote) -> None:
    await remote.delete("nope.md", if_match=None)
    await remote.delete("nope.md", if_match=STALE_ETAG)


async def test_copy_of_a_missing_or_changed_object(remote: MemoryRemote, tmp_path: Path) -> None:
    with pytest.raises(RemoteMissing):
        await remote.copy("nope.md", "b.md", if_match=None, mode=Create())
    meta = await put(remote, tmp_path, "a.md", b"x")
    with pytest.raises(RemoteChanged):
        await remote.copy("a.md", "b.md", if_match=STALE_ETAG, mode=Create())
    assert await remote.head("b.md") is None
    copied = await remote.copy("a.md", "b.md", if_match=meta.etag, mode=Create())
    assert (copied.etag, copied.mtime_ns, copied.xxh3) == (meta.etag, MTIME_NS, meta.xxh3)


async def test_preserve_of_a_missing_or_changed_object(
    remote: MemoryRemote, tmp_path: Path
) -> None:
    run_id = new_run_id(NOW)
    with pytest.raises(RemoteMissing):
        await remote.preserve("nope.md", run_id, if_match=None)
    await put(remote, tmp_path, "a.md", b"x")
    with pytest.raises(RemoteChanged):
        await remote.preserve("a.md", run_id, if_match=STALE_ETAG)
    assert await remote.list_trash() == []


async def test_download_of_a_missing_or_changed_object(
    remote: MemoryRemote, tmp_path: Path
) -> None:
    with pytest.raises(RemoteMissing):
        await get(remote, "nope.md")
    await put(remote, tmp_path, "a.md", b"x")
    with pytest.raises(RemoteChanged):
        await get(remote, "a.md", if_match=STALE_ETAG)


# -- the local file changed since the scan: the LocalSource checks -----------------------------

STALE_FILES: dict[str, Callable[[Path], None]] = {
    "shorter": lambda path: path.write_bytes(b"abc"),
    "longer": lambda path: path.write_bytes(b"abcdef and more"),
    "gone": lambda path: path.unlink(),
    "same size, other bytes": lambda path: path.write_bytes(b"ABCDEF"),
}


@pytest.mark.parametrize("edit", STALE_FILES)
async def test_upload_of_a_file_changed_since_the_scan_stores_nothing(
    remote: MemoryRemote, tmp_path: Path, edit: str
) -> None:
    source = scanned(tmp_path / "a.md", b"abcdef")
    STALE_FILES[edit](tmp_path / "a.md")
    with pytest.raises(LocalChanged):
        await remote.upload("a.md", source, mode=Overwrite(), verify=True)
    assert remote.contents() == {}


async def test_a_changed_file_fails_before_the_condition_as_on_s3(
    remote: MemoryRemote, tmp_path: Path
) -> None:
    """The S3 remote reads the file before it sends the conditional write."""
    await put(remote, tmp_path, "a.md", b"theirs")
    source = scanned(tmp_path / "a.md", b"ours")
    (tmp_path / "a.md").write_bytes(b"ours, edited")
    with pytest.raises(LocalChanged):
        await remote.upload("a.md", source, mode=Create(), verify=True)


# -- folder markers --------------------------------------------------------------------------


async def test_markers_are_listed_apart_put_once_and_deleted_only_as_listed(
    remote: MemoryRemote,
) -> None:
    """As tests/test_dir_markers.py checks on moto for the S3 remote."""
    remote.put_bytes("data/", b"not a marker")
    for folder in ("a/b", "a/b", "data", ""):
        await remote.put_marker(folder)
    assert sorted(remote.objects) == ["/", "a/b/", "data/"]
    assert remote.objects["data/"].data == b"not a marker"
    listing = await remote.list_objects()
    assert listing.objects == {} and listing.prefix_marked
    assert listing.rejected == (RejectedKey("data/", DATA_IN_FOLDER_KEY),), "reported, kept"
    assert set(listing.folders) == {"a/b"}
    with pytest.raises(RemoteChanged):
        await remote.delete_marker("a/b", if_match=STALE_ETAG)
    await remote.delete_marker("a/b", if_match=listing.folders["a/b"].etag)
    await remote.delete_marker("a/b", if_match=None)
    assert sorted(remote.objects) == ["/", "data/"]
    with pytest.raises(FileActionError):
        await remote.put_marker("../x")


# -- the trash ----------------------------------------------------------------------------------


async def test_trash_keeps_runs_until_the_retention_purges_them(
    remote: MemoryRemote, tmp_path: Path
) -> None:
    old_run, new_run = new_run_id(NOW - timedelta(days=40)), new_run_id(NOW)
    meta = await put(remote, tmp_path, "dir/a.md", b"old version")
    await remote.preserve("dir/a.md", old_run, if_match=meta.etag)
    meta = await put(remote, tmp_path, "dir/a.md", b"new version")
    await remote.preserve("dir/a.md", new_run, if_match=meta.etag)
    listed = {(t.run_id, t.relkey, t.size) for t in await remote.list_trash()}
    assert listed == {(old_run, "dir/a.md", 11), (new_run, "dir/a.md", 11)}
    sink = io.BytesIO()
    kept = await remote.download_trashed(old_run, "dir/a.md", sink)
    assert sink.getvalue() == b"old version" and kept.mtime_ns == MTIME_NS
    assert await remote.purge_trash(NOW - timedelta(days=30)) == 1
    assert [t.run_id for t in await remote.list_trash()] == [new_run]
    with pytest.raises(RemoteMissing):
        await remote.download_trashed(old_run, "dir/a.md", io.BytesIO())


# -- what was sent ------------------------------------------------------------------------------


async def test_every_call_is_recorded(remote: MemoryRemote, tmp_path: Path) -> None:
    run_id = new_run_id(NOW)
    meta = await put(remote, tmp_path, "a.md", b"x")
    await remote.list_objects()
    await remote.head("a.md")
    await get(remote, "a.md")
    await remote.copy("a.md", "b.md", if_match=meta.etag, mode=Create())
    await remote.preserve("a.md", run_id, if_match=meta.etag)
    await remote.delete("a.md", if_match=meta.etag)
    await remote.list_trash()
    await remote.download_trashed(run_id, "a.md", io.BytesIO())
    await remote.purge_trash(NOW)
    await remote.abort_stale_uploads(NOW)
    assert remote.calls == [
        "put a.md",
        "list",
        "head a.md",
        "get a.md",
        "copy a.md b.md",
        "preserve a.md",
        "delete a.md",
        "list_trash",
        f"get_trashed {run_id}/a.md",
        "purge_trash",
        "abort_stale_uploads",
    ]


async def test_a_sync_records_its_daily_housekeeping(remote: MemoryRemote, tmp_path: Path) -> None:
    root, state = tmp_path / "notes", tmp_path / "state"
    root.mkdir()
    (root / "a.md").write_text("a")

    async def sync(now: datetime) -> list[str]:
        remote.calls.clear()
        report = await sync_project(root, remote.url, state_dir=state, remote=remote, now=now)
        assert report.status == "ok", report.errors
        return remote.calls

    first = await sync(NOW)
    assert first[-2:] == ["purge_trash", "abort_stale_uploads"]
    assert await sync(NOW + timedelta(hours=1)) == ["list"], "once a day"
    assert "purge_trash" in await sync(NOW + timedelta(days=1, hours=1))


async def test_injected_failures_are_per_file(remote: MemoryRemote, tmp_path: Path) -> None:
    remote.fail_on.add("a.md")
    with pytest.raises(FileActionError, match="injected"):
        await put(remote, tmp_path, "a.md", b"x")
    remote.put_bytes("a.md", b"x")
    with pytest.raises(FileActionError, match="injected"):
        await get(remote, "a.md")
