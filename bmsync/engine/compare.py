"""Cross-side equality for the few paths modified on both sides.

Cheapest evidence first. A small local file whose MD5 is the listed single-part ETag is equal
with no request at all: the common case when a pair synced by another tool (rclone bisync) is
adopted, where a HEAD per file cost most of the run (100,000 notes: 183 s on loopback). Else a
HEAD: the object's `xxh3` metadata (written by bmsync) against the local hash; for objects
written by other tools, the local MD5 against a single-part ETag; only when neither decides (a
multipart upload by another tool) are the bytes read and hashed. Versions that differ always
get their HEAD: its modification time decides the `newer`/`older` strategies. This is
also how a run that was killed after transferring a file but before recording it finds both
sides equal and simply records them (Unison's "copied but not recorded" case).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path

from bmsync.digests import EtagShape, etag_shape, new_hasher
from bmsync.failures import FileActionError
from bmsync.local.hashing import md5_file
from bmsync.names import MAX_KEY_BYTES, copy_names
from bmsync.ports import RemoteStore
from bmsync.types import Comparison, LocalFile, RemoteMeta, RemoteObject


class _HashSink:
    def __init__(self) -> None:
        self.hasher = new_hasher()

    def write(self, data: bytes) -> None:
        self.hasher.update(data)


async def compare_path(
    root: Path,
    remote: RemoteStore,
    local: LocalFile,
    listed: RemoteObject,
    copies: Sequence[LocalFile] = (),
) -> Comparison | None:
    """None when the object vanished since the listing (the next run sees the new state).

    `copies`: local conflict copies of this path; those holding the remote version's bytes
    are named in the answer when the two versions differ.
    """
    local_md5 = await _md5_first(root, local, listed)
    if local_md5 is not None and local_md5 == listed.etag.lower():
        return Comparison(True, _listed_meta(listed))
    meta = await remote.head(listed.relkey)
    if meta is None:
        return None
    if meta.xxh3:
        equal = meta.size == local.size and meta.xxh3 == local.xxh3
        same = [c.path for c in copies if (c.size, c.xxh3) == (meta.size, meta.xxh3)]
        return Comparison(equal, meta, () if equal else tuple(same))
    etag = meta.etag.lower()
    if etag_shape(etag) is EtagShape.MD5:
        if meta.size == local.size and local_md5 is None:
            local_md5 = await _local_md5(root, local)
        equal = meta.size == local.size and local_md5 == etag
        same = [] if equal else [c.path for c in copies if await _md5_matches(root, c, etag)]
        return Comparison(equal, meta, tuple(same))
    if meta.size != local.size and not copies:
        return Comparison(False, meta)
    sink = _HashSink()
    fetched = await remote.download(listed.relkey, sink, if_match=meta.etag, verify=False)
    digest = sink.hasher.hexdigest()
    equal = meta.size == local.size and digest == local.xxh3
    same = [c.path for c in copies if (c.size, c.xxh3) == (fetched.size, digest)]
    return Comparison(equal, fetched, () if equal else tuple(same))


MD5_FIRST_BYTES = 8 << 20
"""Up to this size the local MD5 is tried before any request (reading a note is cheaper than a
round trip); a larger file is hashed only when the HEAD leaves no cheaper evidence."""


async def _md5_first(root: Path, local: LocalFile, listed: RemoteObject) -> str | None:
    """The local file's MD5 when it is worth reading before any request (a small file listed
    with a single-part ETag of its size); None otherwise. Kept for the HEAD's ETag if needed."""
    small = listed.size == local.size <= MD5_FIRST_BYTES
    if small and etag_shape(listed.etag.lower()) is EtagShape.MD5:
        return await _local_md5(root, local)
    return None


def _listed_meta(listed: RemoteObject) -> RemoteMeta:
    """What the listing itself says of the object (no user metadata: none was fetched)."""
    return RemoteMeta(listed.etag, listed.size, listed.last_modified_ns, None, None)


async def _md5_matches(root: Path, local: LocalFile, etag: str) -> bool:
    return await _local_md5(root, local) == etag


async def _local_md5(root: Path, local: LocalFile) -> str:
    digest: str = await asyncio.to_thread(md5_file, root / local.os_relpath)
    return digest


async def _holding_local(
    root: Path, remote: RemoteStore, local: LocalFile, copies: Sequence[RemoteObject]
) -> list[str]:
    """The remote copies proven to hold `local`'s bytes: MD5 against a single-part ETag (no
    request), else the `xxh3` metadata of a HEAD."""
    same: list[str] = []
    for copy in copies:
        etag = copy.etag.lower()
        if etag_shape(etag) is EtagShape.MD5:
            if await _md5_matches(root, local, etag):
                same.append(copy.path)
            continue
        meta = await remote.head(copy.relkey)
        if meta is not None and (meta.size, meta.xxh3) == (local.size, local.xxh3):
            same.append(copy.path)
    return same


async def compare_paths(
    root: Path,
    remote: RemoteStore,
    paths: Iterable[str],
    local: Mapping[str, LocalFile],
    listing: Mapping[str, RemoteObject],
    *,
    concurrency: int,
    key_room: int = MAX_KEY_BYTES,
    remote_copies: bool = False,
) -> tuple[dict[str, Comparison], dict[str, str]]:
    """Comparisons by path, and the paths that could not be compared with the reason;
    `key_room` is the planner's (`plan_sync`), so the copies it would name are recognised.
    `remote_copies` (a push with keep-both): also name the remote conflict copies that hold
    the local version (`Comparison.same_as_local`)."""
    gate = asyncio.Semaphore(concurrency)
    found: dict[str, Comparison] = {}
    failed: dict[str, str] = {}
    paths = list(paths)
    names = sorted(local) if paths else []  # most runs compare nothing: skip the sort
    keys = sorted(listing) if paths and remote_copies else []

    async def one(path: str) -> None:
        listed = listing[path]
        copies = [
            local[name]
            for name in copy_names(path, names, max_path_bytes=key_room)
            if local[name].size == listed.size
        ]
        async with gate:
            try:
                result = await compare_path(root, remote, local[path], listed, copies)
                mine = local[path]
                if result is not None and not result.equal and keys:
                    candidates = [
                        listing[name]
                        for name in copy_names(path, keys, max_path_bytes=key_room)
                        if listing[name].size == mine.size
                    ]
                    same = await _holding_local(root, remote, mine, candidates)
                    result = replace(result, same_as_local=tuple(same))
            except (FileActionError, OSError) as err:
                failed[path] = f"could not compare the two versions: {err}"
                return
        if result is None:
            failed[path] = "the remote object vanished during the sync; next run"
        else:
            found[path] = result

    await asyncio.gather(*(one(path) for path in paths))
    return found, failed
