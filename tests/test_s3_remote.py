"""S3Remote against real servers: every test runs on moto_server and on `rclone serve s3`
(see tests/servers.py and shared/S3-SERVERS.md for how they differ), except those marked
`moto_only`, which say why."""

from __future__ import annotations

import asyncio
import io
import os
import unicodedata
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import xxhash

from bmsync.commands.recover import list_trash
from bmsync.errors import BucketNotFoundError, RemoteAuthError
from bmsync.failures import FileActionError, LocalChanged, RemoteChanged, RemoteMissing
from bmsync.local.source import FileSource
from bmsync.remotes import RemoteLocation
from bmsync.s3 import client as s3_client
from bmsync.s3 import multipart
from bmsync.s3.client import open_s3_client
from bmsync.s3.integrity import PartDigester
from bmsync.s3.keys import normalise_etag
from bmsync.s3.remote import S3Remote, open_remote
from bmsync.types import Create, Overwrite, PutMode, RemoteMeta, Update
from tests.faultproxy import FaultProxy
from tests.servers import S3TestServer, ServerPool

PREFIX = "p"
MTIME_NS = 1_700_000_000_123_456_789
MiB = 1 << 20


@pytest.fixture
async def remote(s3_server: S3TestServer, bucket: str) -> AsyncIterator[S3Remote]:
    async with open_remote(RemoteLocation(bucket, PREFIX), s3_server.config) as opened:
        yield opened


def xxh3_of(data: bytes) -> str:
    return xxhash.xxh3_128_hexdigest(data)


async def put(
    remote: S3Remote,
    tmp_path: Path,
    relkey: str,
    data: bytes,
    *,
    mode: PutMode | None = None,
    mtime_ns: int = MTIME_NS,
    verify: bool = True,
) -> RemoteMeta:
    source = tmp_path / "upload.bin"
    source.write_bytes(data)
    scanned = FileSource(source, len(data), mtime_ns, xxh3_of(data))
    return await remote.upload(relkey, scanned, mode=mode or Overwrite(), verify=verify)


async def get(remote: S3Remote, relkey: str, *, if_match: str | None = None) -> bytes:
    sink = io.BytesIO()
    await remote.download(relkey, sink, if_match=if_match, verify=True)
    return sink.getvalue()


def put_raw(
    client: Any, bucket: str, keys: list[str], body: bytes = b"x", *, workers: int = 8
) -> None:
    """Create objects out of band, a few at a time (moto answers slowly)."""
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(lambda key: client.put_object(Bucket=bucket, Key=key, Body=body), keys))


def put_on_disk(server: S3TestServer, bucket: str, keys: list[str]) -> None:
    """Create objects in bulk through rclone's own store: it serves a folder, one file per key,
    so writing the files is creating the objects (5,000 PUTs would take most of a minute)."""
    assert server.data_dir is not None, "only rclone's server keeps its objects as files"
    for key in keys:
        path = server.data_dir / bucket / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")


# -- listing ---------------------------------------------------------------------------------


async def test_empty_prefix_lists_nothing(remote: S3Remote) -> None:
    listing = await remote.list_objects()
    assert listing.objects == {}
    assert listing.rejected == ()


async def test_listings_parse_times_with_the_fast_parser(
    s3_server: S3TestServer, bucket: str, s3_sync_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[object] = []
    real = s3_client.parse_timestamp

    def counting(value: object) -> Any:
        seen.append(value)
        return real(value)

    monkeypatch.setattr(s3_client, "parse_timestamp", counting)
    put_raw(s3_sync_client, bucket, ["p/a.md", "p/b.md"])
    async with open_remote(RemoteLocation(bucket, PREFIX), s3_server.config) as opened:
        listing = await opened.list_objects()
    assert len(seen) == 2 and all(isinstance(v, str) and v.endswith("Z") for v in seen)
    expected = s3_sync_client.head_object(Bucket=bucket, Key="p/a.md")["LastModified"]
    # HEAD's HTTP date has whole seconds; the listing may add milliseconds.
    assert listing.objects["a.md"].last_modified_ns // 10**9 == int(expected.timestamp())


async def test_listing_maps_keys_below_the_prefix(
    remote: S3Remote, s3_sync_client: Any, bucket: str
) -> None:
    # `%`, `+` and spaces check the URL-encoded listing is decoded exactly once.
    keys = ["p/a.md", "p/dir/b.md", "p/100%20 sure+.md", "p-old/c.md", "other/d.md"]
    put_raw(s3_sync_client, bucket, keys)
    listing = await remote.list_objects()
    assert sorted(listing.objects) == ["100%20 sure+.md", "a.md", "dir/b.md"]
    a = listing.objects["a.md"]
    assert a.size == 1
    assert a.etag == normalise_etag(s3_sync_client.head_object(Bucket=bucket, Key="p/a.md")["ETag"])
    assert not a.etag.startswith('"')  # moto quotes listed ETags, rclone does not
    assert a.last_modified_ns > 0
    assert a.relkey == "a.md"


async def test_whole_bucket_listing_skips_the_remote_trash(
    s3_server: S3TestServer, s3_sync_client: Any, bucket: str
) -> None:
    put_raw(s3_sync_client, bucket, ["a.md", ".bmsync-trash/p/run1/a.md"])
    async with open_remote(f"s3://{bucket}", s3_server.config) as whole:
        listing = await whole.list_objects()
    assert sorted(listing.objects) == ["a.md"]


@pytest.mark.moto_only(
    "rclone serve s3 turns a folder marker into a directory: it lists an empty one as a key "
    "without the trailing slash and then refuses PUTs below it (InternalError)"
)
async def test_folder_markers_are_skipped(
    remote: S3Remote, s3_sync_client: Any, bucket: str
) -> None:
    put_raw(s3_sync_client, bucket, ["p/", "p/dir/", "p/dir/a.md"], body=b"")
    listing = await remote.list_objects()
    assert sorted(listing.objects) == ["dir/a.md"]
    assert listing.rejected == ()


async def test_listing_paginates_past_1000_keys(s3_server_pool: ServerPool, tmp_path: Path) -> None:
    # One server is enough for the paging loop; rclone creates 1,100 objects faster than moto.
    server = s3_server_pool.get("rclone")
    bucket = server.create_bucket()
    keys = [f"p/d{i % 7}/n{i:04d}.md" for i in range(1100)]
    put_raw(server.client, bucket, keys)
    async with open_remote(f"s3://{bucket}/p", server.config) as remote:
        listing = await remote.list_objects()
    assert len(listing.objects) == 1100
    assert set(listing.objects) == {key.removeprefix("p/") for key in keys}


LISTED_BY_FOLDER_PAST = 5000
"""docs/reliability.md and `list_objects`: up to 5,000 keys page by page, beyond by folder."""


async def test_past_5000_keys_the_listing_goes_by_folder(
    s3_server_pool: ServerPool, tmp_path: Path
) -> None:
    """The default threshold, at the wire (through the fault proxy, with no faults): 5,000 keys
    are exactly 5 pages; at 5,002 (two more keys, in two folders of their own) the 5 pages are
    followed by one delimiter page of the top level and one listing of each folder the pages did
    not reach, and nothing else. A threshold of 4 pages would list the rest of `a/` by folder,
    one of 6 or more would go on page by page."""
    server = s3_server_pool.get("rclone")
    bucket = server.create_bucket()
    keys = [f"p/a/{i:04d}.md" for i in range(LISTED_BY_FOLDER_PAST)]
    put_on_disk(server, bucket, keys)

    async def listed() -> tuple[list[tuple[str, bool]], set[str]]:
        with FaultProxy(str(server.config.endpoint_url), seed=1) as proxy:
            config = replace(server.config, endpoint_url=proxy.endpoint_url)
            async with open_remote(f"s3://{bucket}/p", config) as remote:
                listing = await remote.list_objects()
            lists = [
                (r.list_prefix, "delimiter" in r.identity)
                for r in proxy.records()
                if r.operation == "LIST"
            ]
        return lists, set(listing.objects)

    lists, found = await listed()
    assert lists == [("p/", False)] * 5, lists
    assert found == {key.removeprefix("p/") for key in keys}

    keys += ["p/b/0.md", "p/c/0.md"]
    put_raw(server.client, bucket, keys[-2:])  # through the server: its folder cache sees them
    lists, found = await listed()
    assert lists[:6] == [("p/", False)] * 5 + [("p/", True)], lists
    # `a/` again after its last key listed (StartAfter: nothing left), then `b/` and `c/`.
    assert sorted(lists[6:]) == [("p/a/", False), ("p/b/", False), ("p/c/", False)], lists
    assert found == {key.removeprefix("p/") for key in keys}


async def test_control_characters_and_backslashes_are_rejected(
    remote: S3Remote, s3_sync_client: Any, bucket: str
) -> None:
    put_raw(s3_sync_client, bucket, ["p/ok.md", "p/bell\x07.md", "p/back\\slash.md"])
    listing = await remote.list_objects()
    assert sorted(listing.objects) == ["ok.md"]
    rejected = {r.key: r.reason for r in listing.rejected}
    assert set(rejected) == {"p/bell\x07.md", "p/back\\slash.md"}
    assert "U+0007" in rejected["p/bell\x07.md"]


@pytest.mark.moto_only(
    "rclone serve s3 maps keys to files and refuses '..', '.', '//' (InvalidArgument) and "
    "names longer than the file system allows, so such keys cannot exist there"
)
async def test_path_traversal_keys_are_rejected(
    remote: S3Remote, s3_sync_client: Any, bucket: str
) -> None:
    hostile = ["p/../escape.md", "p/a/../../etc.md", "p/./dot.md", "p//double.md", "p/" + "x" * 256]
    put_raw(s3_sync_client, bucket, [*hostile, "p/fine.md"])
    listing = await remote.list_objects()
    assert sorted(listing.objects) == ["fine.md"]
    assert sorted(r.key for r in listing.rejected) == sorted(hostile)


async def test_nfd_key_lists_under_its_nfc_path(
    remote: S3Remote, s3_sync_client: Any, bucket: str
) -> None:
    nfd = unicodedata.normalize("NFD", "café.md")
    put_raw(s3_sync_client, bucket, [f"p/{nfd}"])
    listing = await remote.list_objects()
    obj = listing.objects["café.md"]
    assert obj.raw_relkey == nfd
    assert obj.relkey == nfd


async def test_two_spellings_of_one_name_keep_the_nfc_key(
    remote: S3Remote, s3_sync_client: Any, bucket: str
) -> None:
    nfc, nfd = "café.md", unicodedata.normalize("NFD", "café.md")
    put_raw(s3_sync_client, bucket, [f"p/{nfd}", f"p/{nfc}"])
    listing = await remote.list_objects()
    assert listing.objects["café.md"].raw_relkey == ""
    assert [r.key for r in listing.rejected] == [f"p/{nfd}"]
    assert "normalisation" in listing.rejected[0].reason


async def test_missing_bucket_stops_the_run(s3_server: S3TestServer) -> None:
    async with open_remote("s3://bmsync-no-such-bucket/p", s3_server.config) as remote:
        with pytest.raises(BucketNotFoundError, match="bmsync-no-such-bucket"):
            await remote.list_objects()


# -- upload, head, download ------------------------------------------------------------------


async def test_upload_and_download_round_trip_with_metadata(
    remote: S3Remote, tmp_path: Path
) -> None:
    data = b"# Notes\n" * 100
    meta = await put(remote, tmp_path, "dir/a.md", data, mode=Create())
    assert (meta.size, meta.mtime_ns, meta.xxh3) == (len(data), MTIME_NS, xxh3_of(data))

    listing = await remote.list_objects()
    assert listing.objects["dir/a.md"].etag == meta.etag  # the snapshot's ETag is the listed one

    head = await remote.head("dir/a.md")
    assert head is not None
    assert (head.etag, head.size, head.mtime_ns, head.xxh3) == (
        meta.etag,
        len(data),
        MTIME_NS,
        xxh3_of(data),
    )

    sink = io.BytesIO()
    got = await remote.download("dir/a.md", sink, if_match=meta.etag, verify=True)
    assert sink.getvalue() == data
    assert (got.etag, got.mtime_ns, got.xxh3) == (meta.etag, MTIME_NS, xxh3_of(data))


async def test_empty_file_round_trips(remote: S3Remote, tmp_path: Path) -> None:
    meta = await put(remote, tmp_path, "empty.md", b"")
    assert meta.size == 0
    assert await get(remote, "empty.md") == b""


async def test_head_of_missing_object_is_none(remote: S3Remote) -> None:
    assert await remote.head("nope.md") is None


async def test_download_of_missing_object(remote: S3Remote) -> None:
    with pytest.raises(RemoteMissing, match=r"nope\.md"):
        await get(remote, "nope.md")


async def test_download_of_changed_object(remote: S3Remote, tmp_path: Path) -> None:
    old = await put(remote, tmp_path, "a.md", b"old")
    await put(remote, tmp_path, "a.md", b"new")
    sink = io.BytesIO()
    with pytest.raises(RemoteChanged):
        await remote.download("a.md", sink, if_match=old.etag, verify=True)


async def test_multipart_upload_of_24_mib_verifies(
    remote: S3Remote, tmp_path: Path, s3_sync_client: Any, bucket: str
) -> None:
    data = os.urandom(24 * MiB)
    meta = await put(remote, tmp_path, "big.bin", data, mode=Create(), verify=True)
    assert meta.size == len(data)
    # rclone answers the completion with the composite `-3` ETag but lists the whole MD5: what
    # upload returns must be what the next listing shows.
    listing = await remote.list_objects()
    assert listing.objects["big.bin"].etag == meta.etag
    head = s3_sync_client.head_object(Bucket=bucket, Key="p/big.bin")
    assert head["ContentLength"] == len(data)
    assert await get(remote, "big.bin") == data
    got = await remote.head("big.bin")
    assert got is not None
    assert (got.mtime_ns, got.xxh3) == (MTIME_NS, xxh3_of(data))


async def test_parts_go_up_several_at_once_and_no_more(
    s3_server: S3TestServer, bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Up to PARTS_IN_FLIGHT parts in flight (a long link stays busy), never more; the next
    part is read and hashed meanwhile, so memory holds PARTS_IN_MEMORY parts and no more; and
    the object is still the file, whatever order the parts finished in."""
    data = os.urandom(9 * 5 * MiB + 123)
    in_flight, most = 0, 0
    held, most_held = 0, 0
    add_part = PartDigester.add_part

    def read(digester: PartDigester, part: bytes) -> bytes:
        nonlocal held, most_held
        held += 1
        most_held = max(most_held, held)
        return add_part(digester, part)

    monkeypatch.setattr(PartDigester, "add_part", read)
    async with open_s3_client(s3_server.config) as client:
        send = client.upload_part

        async def counted(**kwargs: Any) -> Any:
            nonlocal in_flight, most, held
            in_flight += 1
            most = max(most, in_flight)
            try:
                await asyncio.sleep(0.5)  # a slow link: later parts are read meanwhile
                return await send(**kwargs)
            finally:
                in_flight -= 1
                held -= 1

        client.upload_part = counted
        remote = S3Remote(
            client, RemoteLocation(bucket, PREFIX), multipart_threshold=5 * MiB, part_bytes=5 * MiB
        )
        meta = await put(remote, tmp_path, "big.bin", data, mode=Create())
        assert meta.size == len(data)
        assert await get(remote, "big.bin") == data
    assert most == multipart.PARTS_IN_FLIGHT
    assert most_held == multipart.PARTS_IN_MEMORY == multipart.PARTS_IN_FLIGHT + 1


async def test_uploads_are_not_hashed_again_for_the_signature(
    s3_server: S3TestServer, bucket: str, tmp_path: Path
) -> None:
    """Each PUT and part carries Content-MD5 (checked by the store, and its ETag by bmsync), so
    its body is not SHA-256-signed as well, on `http://` as botocore already does on https:
    both servers take `UNSIGNED-PAYLOAD`, and the objects are the files."""
    sent: list[tuple[str, str, bool]] = []

    def seen(request: Any, event_name: str, **_: Any) -> None:
        headers = request.headers
        if "/p/" not in request.url:  # not the probe of conditional writes (an empty body)
            return
        sent.append(
            (
                event_name.rsplit(".", 1)[-1],
                headers.get("x-amz-content-sha256", b"").decode(),
                "Content-MD5" in headers,
            )
        )

    async with open_s3_client(s3_server.config) as client:
        client.meta.events.register("before-send.s3", seen)
        remote = S3Remote(
            client, RemoteLocation(bucket, PREFIX), multipart_threshold=5 * MiB, part_bytes=5 * MiB
        )
        small, large = b"a note", os.urandom(2 * 5 * MiB + 7)
        await put(remote, tmp_path, "a.md", small, mode=Create())
        await put(remote, tmp_path, "big.bin", large, mode=Create())
        assert await get(remote, "a.md") == small and await get(remote, "big.bin") == large
    bodies = [(op, sha, md5) for op, sha, md5 in sent if op in ("PutObject", "UploadPart")]
    assert {op for op, _, _ in bodies} == {"PutObject", "UploadPart"}, sent
    assert all(sha == "UNSIGNED-PAYLOAD" and md5 for _, sha, md5 in bodies), bodies


async def test_a_failed_part_fails_the_upload_with_its_own_error(
    s3_server: S3TestServer, bucket: str, tmp_path: Path
) -> None:
    """A part refused while others are in flight: the upload raises that refusal (not a group
    of errors) and nothing is stored."""
    data = os.urandom(4 * 5 * MiB)
    async with open_s3_client(s3_server.config) as client:
        send = client.upload_part

        async def third_fails(**kwargs: Any) -> Any:
            if kwargs["PartNumber"] == 3:
                raise FileActionError("part 3 refused")
            return await send(**kwargs)

        client.upload_part = third_fails
        remote = S3Remote(
            client, RemoteLocation(bucket, PREFIX), multipart_threshold=5 * MiB, part_bytes=5 * MiB
        )
        with pytest.raises(FileActionError, match="part 3 refused"):
            await put(remote, tmp_path, "big.bin", data, mode=Create())
    assert no_object_at(s3_server.client, bucket, "p/big.bin")


async def test_upload_of_a_file_that_changed_size(remote: S3Remote, tmp_path: Path) -> None:
    source = tmp_path / "a.md"
    source.write_bytes(b"longer than scanned")
    with pytest.raises(LocalChanged):
        await remote.upload(
            "a.md", FileSource(source, 3, MTIME_NS, "00"), mode=Overwrite(), verify=True
        )
    with pytest.raises(LocalChanged):
        await remote.upload(
            "b.md",
            FileSource(tmp_path / "gone.md", 3, MTIME_NS, "00"),
            mode=Overwrite(),
            verify=True,
        )
    # Same size, other bytes: the scan's hash no longer describes the file.
    source.write_bytes(b"abc")
    with pytest.raises(LocalChanged, match="content hash"):
        await remote.upload(
            "c.md",
            FileSource(source, 3, MTIME_NS, xxh3_of(b"xyz")),
            mode=Overwrite(),
            verify=True,
        )
    assert (await remote.list_objects()).objects == {}


@pytest.mark.moto_only("rclone serve s3 does not implement ListMultipartUploads")
async def test_failed_multipart_upload_is_aborted(
    s3_server: S3TestServer, s3_sync_client: Any, bucket: str, tmp_path: Path
) -> None:
    data = os.urandom(6 * MiB)
    source = tmp_path / "big.bin"
    source.write_bytes(data)
    async with open_s3_client(s3_server.config) as client:
        remote = S3Remote(
            client, RemoteLocation(bucket, PREFIX), multipart_threshold=5 * MiB, part_bytes=5 * MiB
        )
        with pytest.raises(LocalChanged):  # the hash is found wrong after the parts are sent
            await remote.upload(
                "big.bin",
                FileSource(source, len(data), MTIME_NS, xxh3_of(b"other")),
                mode=Overwrite(),
                verify=True,
            )
    assert s3_sync_client.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    assert no_object_at(s3_sync_client, bucket, "p/big.bin")


def no_object_at(client: Any, bucket: str, key: str) -> bool:
    """True when no object exists at `key`."""
    count: int = client.list_objects_v2(Bucket=bucket, Prefix=key).get("KeyCount", 0)
    return count == 0


@pytest.mark.parametrize("relkey", ["../x.md", "a//b.md", "a\\b.md", ""])
async def test_unsafe_relkey_never_reaches_the_server(remote: S3Remote, relkey: str) -> None:
    with pytest.raises(FileActionError, match="Refusing the remote key"):
        await remote.head(relkey)
    with pytest.raises(FileActionError, match="Refusing the remote key"):
        await remote.delete(relkey, if_match=None)


# -- conditional writes ----------------------------------------------------------------------


async def test_probe_finds_whether_conditions_are_enforced(
    remote: S3Remote, s3_server: S3TestServer, s3_sync_client: Any, bucket: str
) -> None:
    assert await remote.probe_conditional_writes() is s3_server.honours_conditions
    # The probe cleans up after itself.
    assert s3_sync_client.list_objects_v2(Bucket=bucket).get("KeyCount", 0) == 0


async def test_create_over_an_existing_object_is_refused(
    remote: S3Remote, s3_server: S3TestServer, tmp_path: Path
) -> None:
    await put(remote, tmp_path, "a.md", b"theirs")
    with pytest.raises(RemoteChanged):
        await put(remote, tmp_path, "a.md", b"ours", mode=Create())
    # rclone ignores If-None-Match: the probe found out and a HEAD guarded the write instead.
    assert remote.conditional_writes is s3_server.honours_conditions
    assert await get(remote, "a.md") == b"theirs"


async def test_update_of_a_changed_object_is_refused(remote: S3Remote, tmp_path: Path) -> None:
    first = await put(remote, tmp_path, "a.md", b"v1")
    second = await put(remote, tmp_path, "a.md", b"v2 by someone else")
    with pytest.raises(RemoteChanged):
        await put(remote, tmp_path, "a.md", b"v3", mode=Update(first.etag))
    third = await put(remote, tmp_path, "a.md", b"v3", mode=Update(second.etag))
    assert await get(remote, "a.md", if_match=third.etag) == b"v3"


async def test_update_of_a_deleted_object_is_refused(remote: S3Remote, tmp_path: Path) -> None:
    first = await put(remote, tmp_path, "a.md", b"v1")
    await remote.delete("a.md", if_match=None)
    with pytest.raises(RemoteChanged):
        await put(remote, tmp_path, "a.md", b"v2", mode=Update(first.etag))


async def test_multipart_create_over_an_existing_object_is_refused(
    s3_server: S3TestServer, bucket: str, tmp_path: Path
) -> None:
    location = RemoteLocation(bucket, PREFIX)
    async with open_s3_client(s3_server.config) as client:
        remote = S3Remote(client, location, multipart_threshold=5 * MiB, part_bytes=5 * MiB)
        await put(remote, tmp_path, "big.bin", b"theirs")
        with pytest.raises(RemoteChanged):
            await put(remote, tmp_path, "big.bin", os.urandom(6 * MiB), mode=Create())
        assert await get(remote, "big.bin") == b"theirs"


@pytest.mark.moto_only(
    "only moto enforces If-None-Match itself; rclone serve s3 ignores it and overwrites"
)
async def test_server_enforced_precondition_is_remote_changed(
    s3_server: S3TestServer, bucket: str, tmp_path: Path
) -> None:
    async with open_s3_client(s3_server.config) as client:
        trusting = S3Remote(client, RemoteLocation(bucket, PREFIX), conditional_writes=True)
        await put(trusting, tmp_path, "a.md", b"theirs")
        with pytest.raises(RemoteChanged):
            await put(trusting, tmp_path, "a.md", b"ours", mode=Create())
        assert await get(trusting, "a.md") == b"theirs"


# -- delete, copy, preserve -------------------------------------------------------------------


async def test_delete(remote: S3Remote, tmp_path: Path) -> None:
    meta = await put(remote, tmp_path, "a.md", b"x")
    await remote.delete("a.md", if_match=meta.etag)
    assert await remote.head("a.md") is None


async def test_delete_of_a_missing_object_is_fine(remote: S3Remote) -> None:
    await remote.delete("nope.md", if_match=None)
    await remote.delete("nope.md", if_match="0" * 32)


async def test_delete_of_a_changed_object_is_refused(remote: S3Remote, tmp_path: Path) -> None:
    old = await put(remote, tmp_path, "a.md", b"old")
    await put(remote, tmp_path, "a.md", b"new")
    with pytest.raises(RemoteChanged):
        await remote.delete("a.md", if_match=old.etag)
    assert await get(remote, "a.md") == b"new"


async def test_copy_keeps_the_metadata(
    remote: S3Remote, s3_server: S3TestServer, s3_sync_client: Any, bucket: str, tmp_path: Path
) -> None:
    data = b"content"
    meta = await put(remote, tmp_path, "a.md", data)
    copied = await remote.copy("a.md", "sub/b.md", if_match=meta.etag, mode=Create())
    assert (copied.etag, copied.size, copied.mtime_ns, copied.xxh3) == (
        meta.etag,
        len(data),
        MTIME_NS,
        xxh3_of(data),
    )
    assert (await remote.list_objects()).objects["sub/b.md"].etag == copied.etag
    raw = s3_sync_client.head_object(Bucket=bucket, Key="p/sub/b.md")["Metadata"]
    # rclone hands the keys back capitalised; bmsync reads them case-insensitively.
    expected_key = "mtime" if s3_server.name == "moto" else "Mtime"
    assert expected_key in raw
    head = await remote.head("sub/b.md")
    assert head is not None
    assert (head.mtime_ns, head.xxh3) == (MTIME_NS, xxh3_of(data))


async def test_copy_of_a_missing_or_changed_object(remote: S3Remote, tmp_path: Path) -> None:
    with pytest.raises(RemoteMissing):
        await remote.copy("nope.md", "b.md", if_match=None, mode=Create())
    await put(remote, tmp_path, "a.md", b"x")
    with pytest.raises(RemoteChanged):
        await remote.copy("a.md", "b.md", if_match="0" * 32, mode=Create())
    assert await remote.head("b.md") is None


async def test_copy_leaves_another_clients_object_at_the_destination_alone(
    remote: S3Remote, s3_sync_client: Any, bucket: str, tmp_path: Path
) -> None:
    """A move's destination must be free (`Create`): an object another client put there after
    the listing is kept, on a store that enforces conditions and on one that ignores them
    (checked just before the copy), and the copy fails as a remote change."""
    meta = await put(remote, tmp_path, "a.md", b"mine")
    s3_sync_client.put_object(Bucket=bucket, Key="p/b.md", Body=b"theirs")
    with pytest.raises(RemoteChanged, match="appeared"):
        await remote.copy("a.md", "b.md", if_match=meta.etag, mode=Create())
    assert await get(remote, "b.md") == b"theirs"
    assert await get(remote, "a.md") == b"mine"


async def test_a_copy_whose_destination_holds_its_bytes_already_is_ours(
    remote: S3Remote, tmp_path: Path
) -> None:
    """What a retry of a copy that landed finds: its own bytes at the destination."""
    meta = await put(remote, tmp_path, "a.md", b"mine")
    first = await remote.copy("a.md", "b.md", if_match=meta.etag, mode=Overwrite())
    again = await remote.copy("a.md", "b.md", if_match=meta.etag, mode=Create())
    assert (again.etag, again.size, again.xxh3) == (first.etag, first.size, first.xxh3)
    assert await get(remote, "b.md") == b"mine"


async def test_preserve_copies_into_the_trash(
    remote: S3Remote, s3_sync_client: Any, bucket: str, tmp_path: Path
) -> None:
    meta = await put(remote, tmp_path, "dir/a.md", b"keep me")
    await remote.preserve("dir/a.md", "run-1", if_match=meta.etag)
    trash_key = ".bmsync-trash/p/run-1/dir/a.md"
    kept = s3_sync_client.get_object(Bucket=bucket, Key=trash_key)
    assert kept["Body"].read() == b"keep me"
    assert {k.lower() for k in kept["Metadata"]} == {"mtime", "xxh3"}
    assert sorted((await remote.list_objects()).objects) == ["dir/a.md"]


async def test_trash_lists_and_gives_back_what_was_preserved(
    remote: S3Remote, s3_sync_client: Any, bucket: str, tmp_path: Path
) -> None:
    meta = await put(remote, tmp_path, "dir/a.md", b"keep me")
    await remote.preserve("dir/a.md", "20261123-101500-abcdef", if_match=meta.etag)
    # Not runs of this project: another project's trash below, and a stray key.
    put_raw(s3_sync_client, bucket, [".bmsync-trash/p/sub/20261123-101500-abcdef/x.md"])
    put_raw(s3_sync_client, bucket, [".bmsync-trash/p/stray.md"])
    listed = await remote.list_trash()
    assert [(t.run_id, t.relkey, t.size) for t in listed] == [
        ("20261123-101500-abcdef", "dir/a.md", 7)
    ]
    sink = io.BytesIO()
    got = await remote.download_trashed("20261123-101500-abcdef", "dir/a.md", sink)
    assert sink.getvalue() == b"keep me" and got.mtime_ns == MTIME_NS
    with pytest.raises(RemoteMissing):
        await remote.download_trashed("20261123-101500-abcdef", "gone.md", io.BytesIO())


@pytest.mark.moto_only(
    "rclone's server refuses keys with '..' segments, so it cannot hold such a trash entry"
)
async def test_hostile_trash_keys_never_become_restorable_paths(
    remote: S3Remote, s3_sync_client: Any, bucket: str, tmp_path: Path
) -> None:
    """A trash entry planted with `..` (or any key no folder can hold) is listed by the store
    layer but never offered as a version to restore, so no restore can write outside."""
    run = "20261123-101500-abcdef"
    put_raw(s3_sync_client, bucket, [f".bmsync-trash/p/{run}/../../escape.md"])
    put_raw(s3_sync_client, bucket, [f".bmsync-trash/p/{run}/ok.md"])
    assert {t.relkey for t in await remote.list_trash()} == {"../../escape.md", "ok.md"}
    versions = await list_trash(f"s3://{bucket}/{PREFIX}", state_dir=tmp_path, remote=remote)
    assert [v.path for v in versions] == ["ok.md"]


async def test_preserve_of_a_missing_object(remote: S3Remote) -> None:
    with pytest.raises(RemoteMissing):
        await remote.preserve("nope.md", "run-1", if_match=None)


async def test_a_bucket_that_never_had_an_upload_has_none_to_abort(remote: S3Remote) -> None:
    """rclone's server answers that listing with NoSuchUpload (404) until an upload begins."""
    assert await remote.abort_stale_uploads(datetime.now(UTC) + timedelta(days=1)) == 0


async def test_only_stale_uploads_below_the_prefix_are_aborted(
    remote: S3Remote, s3_sync_client: Any, bucket: str
) -> None:
    for key in ("p/big.bin", "p/dir/big.bin", "p-old/big.bin", "other/big.bin"):
        s3_sync_client.create_multipart_upload(Bucket=bucket, Key=key)

    def open_uploads() -> list[str]:
        listed = s3_sync_client.list_multipart_uploads(Bucket=bucket)
        return sorted(u["Key"] for u in listed.get("Uploads", []))

    # moto dates every upload 2010-11-10, so "older than 2000" is the bound both servers pass.
    assert await remote.abort_stale_uploads(datetime(2000, 1, 1, tzinfo=UTC)) == 0
    assert len(open_uploads()) == 4
    later = datetime.now(UTC) + timedelta(minutes=5)
    assert await remote.abort_stale_uploads(later) == 2
    assert open_uploads() == ["other/big.bin", "p-old/big.bin"]


# -- verification ----------------------------------------------------------------------------


@pytest.mark.moto_only(
    "moto ignores Content-MD5 and stores the corrupted body; rclone refuses it (BadDigest), "
    "which is a per-file failure too but does not exercise the ETag check"
)
async def test_corruption_in_transit_fails_verification(
    remote: S3Remote, s3_server: S3TestServer, bucket: str, tmp_path: Path
) -> None:
    def corrupt(request: Any, **_: Any) -> None:
        """Flip the first byte of each PUT body after signing, as a faulty proxy would."""
        if request.method == "PUT" and request.body is not None:
            body = request.body.read() if hasattr(request.body, "read") else bytes(request.body)
            request.body = io.BytesIO(b"X" + body[1:]) if body else io.BytesIO(body)

    async with open_s3_client(s3_server.config) as client:
        client.meta.events.register("before-send.s3", corrupt)
        bad = S3Remote(client, RemoteLocation(bucket, PREFIX), conditional_writes=True)
        with pytest.raises(FileActionError, match="differs from what was sent"):
            await put(bad, tmp_path, "a.md", b"precious", verify=True)


# -- headers, credentials ----------------------------------------------------------------------


async def test_extra_headers_are_sent_and_signed_on_every_request(
    s3_server: S3TestServer, bucket: str, tmp_path: Path
) -> None:
    # rclone refuses unsigned x-amz-* headers, so success there also proves they were signed.
    headers = {"X-Bmsync-Test": "yes", "x-amz-bmsync-probe": "1"}
    config = replace(s3_server.config, headers=headers)
    seen: list[tuple[str, dict[str, str]]] = []

    def record(request: Any, event_name: str, **_: Any) -> None:
        sent = {
            name.lower(): value.decode() if isinstance(value, bytes) else value
            for name, value in request.headers.items()
        }
        seen.append((event_name.rsplit(".", 1)[-1], sent))

    async with open_remote(RemoteLocation(bucket, PREFIX), config) as remote:
        remote.client.meta.events.register("before-send.s3", record)
        meta = await put(remote, tmp_path, "a.md", b"x")
        await remote.list_objects()
        await remote.head("a.md")
        await get(remote, "a.md")
        await remote.delete("a.md", if_match=meta.etag)

    operations = {name for name, _ in seen}
    assert {"PutObject", "ListObjectsV2", "HeadObject", "GetObject", "DeleteObject"} <= operations
    for name, sent in seen:
        assert sent["x-bmsync-test"] == "yes", name
        assert sent["x-amz-bmsync-probe"] == "1", name
        signed = sent["authorization"].split("SignedHeaders=")[1].split(",")[0].split(";")
        assert {"x-bmsync-test", "x-amz-bmsync-probe"} <= set(signed), name


async def test_wrong_secret_is_an_auth_error(s3_server_pool: ServerPool, tmp_path: Path) -> None:
    # moto accepts any credentials; rclone serve s3 only its --auth-key pair.
    server = s3_server_pool.get("rclone")
    bucket = server.create_bucket()
    config = replace(server.config, secret_access_key="wrong-secret-value")
    async with open_remote(RemoteLocation(bucket, PREFIX), config) as remote:
        with pytest.raises(RemoteAuthError, match="secret access key") as listed:
            await remote.list_objects()
        assert "wrong-secret-value" not in str(listed.value)
        with pytest.raises(RemoteAuthError):  # HEAD answers a bare 403, no error code
            await remote.head("a.md")
        with pytest.raises(RemoteAuthError):
            await put(remote, tmp_path, "a.md", b"x")


async def test_missing_credentials_are_an_auth_error(
    s3_server_pool: ServerPool, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    server = s3_server_pool.get("moto")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    config = replace(server.config, access_key_id=None, secret_access_key=None)
    async with open_remote("s3://any-bucket/p", config) as remote:
        with pytest.raises(RemoteAuthError, match="AWS_ACCESS_KEY_ID"):
            await remote.list_objects()
