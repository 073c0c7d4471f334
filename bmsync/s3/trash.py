"""The remote trash: what a run overwrote or deleted, kept in the same bucket.

A run keeps each version it is about to replace or delete at
`.bmsync-trash/<prefix>/<run_id>/<relkey>`, outside the synced prefix so it never syncs back.
The folders below `.bmsync-trash/<prefix>/` are runs; only those named like a run id count,
so another project's trash (below a bucket-root project's trash folder) is never mistaken for
one. Retention empties the runs started before a cut-off.
"""

from __future__ import annotations

from datetime import datetime

from bmsync.ports import ByteSink
from bmsync.runs import expired_runs, trash_runs
from bmsync.s3.bucket import Bucket
from bmsync.s3.error_map import file_errors
from bmsync.s3.keys import trash_key
from bmsync.s3.reads import download_key
from bmsync.s3.writes import copy_key
from bmsync.types import RemoteMeta, TrashedObject


async def preserve(bucket: Bucket, relkey: str, run_id: str, *, if_match: str | None) -> None:
    """Copy into `.bmsync-trash/<prefix>/<run_id>/<relkey>`.

    `if_match` goes out as CopySourceIfMatch, which moto and rclone ignore; that only risks
    keeping a newer version than expected, and the overwrite or delete that follows is
    conditional itself.
    """
    src = bucket.key(relkey)
    dst = trash_key(bucket.prefix, run_id, relkey)
    with file_errors(bucket, "keep a trash copy of", src):
        await copy_key(bucket, src, dst, if_match=if_match)


async def purge_trash(bucket: Bucket, older_than: datetime) -> int:
    """Delete the trash of runs started before `older_than` (retention); returns how many."""
    base = _trash_base(bucket)
    paginator = bucket.client.get_paginator("list_objects_v2")
    folders: list[str] = []
    with file_errors(bucket, "list the trash", base):
        async for page in paginator.paginate(Bucket=bucket.name, Prefix=base, Delimiter="/"):
            folders += [
                c["Prefix"][len(base) :].rstrip("/") for c in page.get("CommonPrefixes", [])
            ]
    expired = [f"{base}{run_id}/" for run_id in expired_runs(folders, older_than)]
    for run_prefix in expired:
        with file_errors(bucket, "empty the trash folder", run_prefix):
            async for page in paginator.paginate(Bucket=bucket.name, Prefix=run_prefix):
                for item in page.get("Contents", []):
                    await bucket.client.delete_object(Bucket=bucket.name, Key=item["Key"])
    return len(expired)


async def list_trash(bucket: Bucket) -> list[TrashedObject]:
    """Every version kept in this prefix's trash, by run."""
    base = _trash_base(bucket)
    by_run: dict[str, list[TrashedObject]] = {}
    paginator = bucket.client.get_paginator("list_objects_v2")
    with file_errors(bucket, "list the trash", base):
        async for page in paginator.paginate(Bucket=bucket.name, Prefix=base):
            for item in page.get("Contents", ()):
                run_id, sep, relkey = item["Key"][len(base) :].partition("/")
                if sep and relkey:
                    trashed = TrashedObject(run_id, relkey, int(item.get("Size", 0)))
                    by_run.setdefault(run_id, []).append(trashed)
    # Another project's trash (below a bucket-root project's) is not a run.
    return [item for run_id, _ in trash_runs(by_run) for item in by_run[run_id]]


async def download_trashed(bucket: Bucket, run_id: str, relkey: str, sink: ByteSink) -> RemoteMeta:
    """GET one kept version into `sink`, always verified."""
    key = trash_key(bucket.prefix, run_id, relkey)
    return await download_key(bucket, key, sink, if_match=None, verify=True)


def _trash_base(bucket: Bucket) -> str:
    """`.bmsync-trash/<prefix>/`: the folder whose subfolders are this project's runs."""
    return trash_key(bucket.prefix, "", "") + "/"
