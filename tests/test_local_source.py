"""`FileSource`: an upload sends exactly the bytes the scan described, or nothing.

A whole-file read is one step (check, open, read, hash, close): on the event loop for a note,
in one hand-off to a thread for a larger file. Every check the multi-step read made must still
be made there: these tests pin each one, for `read_all` both ways and for the chunked read
large files use.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from unittest import mock

import pytest
import xxhash

from bmsync.failures import FileActionError, LocalChanged
from bmsync.local import source as source_module
from bmsync.local.source import FileSource
from bmsync.types import LocalFile

MTIME_NS = 1_700_000_000_123_456_789


def scan(root: Path, rel: str, data: bytes) -> LocalFile:
    path = root / rel
    path.write_bytes(data)
    os.utime(path, ns=(MTIME_NS, MTIME_NS))
    info = path.stat()
    return LocalFile(
        rel, len(data), MTIME_NS, xxhash.xxh3_128_hexdigest(data), "", info.st_ctime_ns
    )


async def read(source: FileSource, how: str) -> bytes:
    if how == "whole":
        return await source.read_all()
    if how == "whole, in a thread":  # as a file above INLINE_READ_BYTES is read
        with mock.patch.object(source_module, "INLINE_READ_BYTES", -1):
            return await source.read_all()
    return b"".join([chunk async for chunk in source.chunks(3)])


HOW = pytest.mark.parametrize("how", ["whole", "whole, in a thread", "chunks"])


@pytest.mark.parametrize("size", [0, 1, source_module.INLINE_READ_BYTES])
async def test_a_note_is_read_without_a_thread(tmp_path: Path, size: int) -> None:
    """A hand-off to a thread and back costs more than reading a note: none is made for one,
    and exactly one for a file just above the limit."""
    loop = asyncio.get_running_loop()
    data = os.urandom(size)
    small = scan(tmp_path, "small.md", data)
    large = scan(tmp_path, "large.bin", os.urandom(source_module.INLINE_READ_BYTES + 1))
    with mock.patch.object(loop, "run_in_executor", wraps=loop.run_in_executor) as handed:
        assert await FileSource.scanned(tmp_path, small).read_all() == data
        assert handed.call_count == 0
        await FileSource.scanned(tmp_path, large).read_all()
        assert handed.call_count == 1


@HOW
async def test_an_unchanged_file_is_read_whole(tmp_path: Path, how: str) -> None:
    local = scan(tmp_path, "a.md", b"hello world\n")
    assert await read(FileSource.scanned(tmp_path, local), how) == b"hello world\n"


@HOW
async def test_an_empty_file_reads_as_nothing(tmp_path: Path, how: str) -> None:
    local = scan(tmp_path, "e.md", b"")
    assert await read(FileSource.scanned(tmp_path, local), how) == b""


@HOW
async def test_a_touched_file_is_not_read(tmp_path: Path, how: str) -> None:
    """Same bytes, a new mtime: the scan's record no longer describes it; the next run will."""
    local = scan(tmp_path, "a.md", b"hello\n")
    os.utime(tmp_path / "a.md", ns=(MTIME_NS + 10**9, MTIME_NS + 10**9))
    with pytest.raises(LocalChanged, match="modified locally"):
        await read(FileSource.scanned(tmp_path, local), how)


@HOW
async def test_same_size_and_mtime_but_other_bytes_fail_the_hash(tmp_path: Path, how: str) -> None:
    local = scan(tmp_path, "a.md", b"hello\n")
    (tmp_path / "a.md").write_bytes(b"HELLO\n")
    os.utime(tmp_path / "a.md", ns=(MTIME_NS, MTIME_NS))
    with pytest.raises(LocalChanged, match="content hash differs"):
        await read(FileSource.scanned(tmp_path, local), how)


@HOW
async def test_a_file_longer_or_shorter_than_scanned_is_refused(tmp_path: Path, how: str) -> None:
    """Without the scan's record (a source made by hand), only the length and hash tell."""
    path = tmp_path / "a.md"
    path.write_bytes(b"hello world\n")
    digest = xxhash.xxh3_128_hexdigest(b"hello")
    with pytest.raises(LocalChanged, match="grew past"):
        await read(FileSource(path, 5, MTIME_NS, digest), how)
    with pytest.raises(LocalChanged, match="shorter than"):
        await read(FileSource(path, 50, MTIME_NS, digest), how)


@HOW
async def test_a_deleted_file_is_local_changed(tmp_path: Path, how: str) -> None:
    local = scan(tmp_path, "a.md", b"hello\n")
    (tmp_path / "a.md").unlink()
    with pytest.raises(LocalChanged):
        await read(FileSource.scanned(tmp_path, local), how)
    with pytest.raises(LocalChanged, match="disappeared"):
        await read(FileSource(tmp_path / "a.md", 6, MTIME_NS, local.xxh3), how)


@HOW
async def test_a_link_swapped_in_is_never_followed(tmp_path: Path, how: str) -> None:
    local = scan(tmp_path, "a.md", b"hello\n")
    outside = tmp_path / "secret"
    outside.write_bytes(b"hello\n")
    (tmp_path / "a.md").unlink()
    (tmp_path / "a.md").symlink_to(outside)
    with pytest.raises((LocalChanged, FileActionError)):
        await read(FileSource(tmp_path / "a.md", 6, MTIME_NS, local.xxh3), how)
    with pytest.raises(LocalChanged, match="link or special file"):
        await read(FileSource.scanned(tmp_path, local), how)
