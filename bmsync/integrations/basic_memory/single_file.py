"""`project_copy_file`: one file copied to a new name on the other side, never over a file.

rclone's `project_transfer` used it for keep-both; bmsync's push and pull write those copies
themselves, so basic-memory's own commands never reach this. It stays for callers of the API:
an upload that fails if the key exists (`Create`), or a download that is put in place only if
nothing is at the path. The next sync sees the copy as a new file and brings it to the other
side.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from bmsync.commands.run_pair import Pair
from bmsync.integrations.basic_memory.values import TransferDirection
from bmsync.local.hashing import hash_file
from bmsync.local.ops import AtomicDownload
from bmsync.local.source import FileSource
from bmsync.project import remote_for
from bmsync.remotes import parse_remote_url
from bmsync.types import Create, storable_ns


async def copy_one_file(
    pair: Pair, direction: TransferDirection, source: str, dest: str, *, dry_run: bool
) -> str:
    """Copy `source` (project-relative, on the source side) to `dest` on the other; returns a
    line saying what was done. `FileActionError` when `dest` exists or the copy fails."""
    verb = "would copy" if dry_run else "copied"
    arrow = "local -> cloud" if direction == "push" else "cloud -> local"
    if dry_run:
        return f"{verb} {source} to {dest} ({arrow})"
    folder = Path(pair.local_path)
    async with remote_for(None, parse_remote_url(pair.remote_url), pair.s3) as remote:
        if direction == "push":
            file = folder / source
            digest, size = await asyncio.to_thread(hash_file, file)
            mtime_ns = storable_ns((await asyncio.to_thread(os.stat, file)).st_mtime_ns)
            upload = FileSource(file, size, mtime_ns, digest)
            await remote.upload(dest, upload, mode=Create(), verify=True)
        else:
            await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
            writer = await asyncio.to_thread(AtomicDownload, folder, dest)
            try:
                meta = await remote.download(source, writer.sink, if_match=None, verify=True)
                await asyncio.to_thread(writer.commit_new, meta.effective_mtime_ns)
            except BaseException:
                await asyncio.to_thread(writer.abort)
                raise
    return f"{verb} {source} to {dest} ({arrow})"
