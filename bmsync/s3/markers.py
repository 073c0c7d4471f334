"""Folder markers: the zero-byte `folder/` objects that show a folder to S3 tools, and the only
folders a TigrisFS mount (`bm cloud mount`) shows.

Markers hold no data, so creating one is conditional only to leave alone whatever another
client put there (`If-None-Match: *`, or a one-key listing first where the store ignores
conditions), and a marker that appeared meanwhile is no error. Before the first marker of a
run is written, `probe` finds out whether the store keeps markers at all: `rclone serve s3`
maps keys onto a file system, where `a/` becomes an empty file `a`, or, when `a/` already holds
files, the PUT fails and the folder's files then vanish from its listings, which the next run
would take for remote deletes.
"""

from __future__ import annotations

import contextlib
import logging
import uuid

from botocore.exceptions import ClientError

from bmsync.failures import FileActionError, RemoteChanged
from bmsync.remotes import TRASH_PREFIX
from bmsync.s3.bucket import Bucket
from bmsync.s3.conditions import Condition, ConditionalWrites, put_condition
from bmsync.s3.error_map import (
    TRANSPORT_ERRORS,
    describe_error,
    file_errors,
    is_precondition_failed,
)
from bmsync.s3.keys import list_prefix
from bmsync.s3.writes import delete_key
from bmsync.types import Create

log = logging.getLogger(__name__)


def marker_key(bucket: Bucket, folder: str) -> str:
    """`prefix/folder/`; for `""` the prefix's own marker `prefix/` (a whole bucket has none)."""
    if folder:
        return bucket.key(folder) + "/"
    if not bucket.prefix:
        raise FileActionError(f"{bucket.location.url} is a whole bucket, which has no marker")
    return list_prefix(bucket.prefix)


async def put_marker(bucket: Bucket, conditions: ConditionalWrites, folder: str) -> None:
    """Create the marker unless something is at its key already."""
    key = marker_key(bucket, folder)

    async def send(cond: Condition) -> object:
        return await bucket.client.put_object(Bucket=bucket.name, Key=key, Body=b"", **cond)

    async def check_first() -> None:
        await conditions.check(key, Create())

    with contextlib.suppress(RemoteChanged), file_errors(bucket, "create the folder marker", key):
        try:
            await conditions.send(send, put_condition(Create()), check_first)
        except ClientError as err:
            if not is_precondition_failed(err):
                raise


async def delete_marker(
    bucket: Bucket, conditions: ConditionalWrites, folder: str, *, if_match: str | None
) -> None:
    await delete_key(bucket, conditions, marker_key(bucket, folder), if_match=if_match)


async def probe(bucket: Bucket) -> bool:
    """Whether the store lists a marker back as a key ending in `/`.

    Writes and deletes one marker under `.bmsync-trash/`, outside every synced prefix. When
    the probe itself fails (no permission there, say) the store is trusted to keep markers, as
    S3 does; the markers' own writes then report what goes wrong.
    """
    client, name = bucket.client, bucket.name
    key = f"{TRASH_PREFIX}/.folder-marker-probe-{uuid.uuid4().hex}/"
    try:
        await client.put_object(Bucket=name, Key=key, Body=b"")
        listed = await client.list_objects_v2(Bucket=name, Prefix=key[:-1], MaxKeys=2)
        return any(entry.get("Key") == key for entry in listed.get("Contents") or ())
    except (ClientError, *TRANSPORT_ERRORS) as err:
        log.debug("folder-marker probe on %s failed: %s", bucket.location.url, describe_error(err))
        return True
    finally:
        for leftover in (key, key[:-1]):
            with contextlib.suppress(ClientError, *TRANSPORT_ERRORS):
                await client.delete_object(Bucket=name, Key=leftover)
