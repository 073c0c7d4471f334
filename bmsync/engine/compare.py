"""Cross-side equality for the few paths modified on both sides.

Cheapest evidence first: the object's `xxh3` metadata (written by bmsync) against the local
hash; for objects written by other tools, the local MD5 against a single-part ETag; only when
neither decides (a multipart upload by another tool) are the bytes read and hashed. This is
also how a run that was killed after transferring a file but before recording it finds both
sides equal and simply records them (Unison's "copied but not recorded" case).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

import xxhash

from bmsync.engine.model import Comparison, LocalFile, RemoteObject
from bmsync.engine.ports import FileActionError, RemoteStore
from bmsync.local.hashing import md5_file

_MD5_ETAG = re.compile(r"^[0-9a-f]{32}$")


class _HashSink:
    def __init__(self) -> None:
        self.hasher = xxhash.xxh3_128()

    def write(self, data: bytes) -> None:
        self.hasher.update(data)


async def compare_path(
    root: Path, remote: RemoteStore, local: LocalFile, listed: RemoteObject
) -> Comparison | None:
    """None when the object vanished since the listing (the next run sees the new state)."""
    meta = await remote.head(listed.relkey)
    if meta is None:
        return None
    if meta.size != local.size:
        return Comparison(False, meta)
    if meta.xxh3:
        return Comparison(meta.xxh3 == local.xxh3, meta)
    etag = meta.etag.lower()
    if _MD5_ETAG.match(etag):
        md5 = await asyncio.to_thread(md5_file, root / local.os_relpath)
        return Comparison(md5 == etag, meta)
    sink = _HashSink()
    fetched = await remote.download(listed.relkey, sink, if_match=meta.etag, verify=False)
    return Comparison(sink.hasher.hexdigest() == local.xxh3, fetched)


async def compare_paths(
    root: Path,
    remote: RemoteStore,
    paths: Iterable[str],
    local: Mapping[str, LocalFile],
    listing: Mapping[str, RemoteObject],
    *,
    concurrency: int,
) -> tuple[dict[str, Comparison], dict[str, str]]:
    """Comparisons by path, and the paths that could not be compared with the reason."""
    gate = asyncio.Semaphore(concurrency)
    found: dict[str, Comparison] = {}
    failed: dict[str, str] = {}

    async def one(path: str) -> None:
        async with gate:
            try:
                result = await compare_path(root, remote, local[path], listing[path])
            except (FileActionError, OSError) as err:
                failed[path] = f"could not compare the two versions: {err}"
                return
        if result is None:
            failed[path] = "the remote object vanished during the sync; next run"
        else:
            found[path] = result

    await asyncio.gather(*(one(path) for path in paths))
    return found, failed
