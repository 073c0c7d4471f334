"""Multipart uploads: large files sent in parts, and the unfinished uploads a killed run left.

Parts are read from the `LocalSource` in order, and up to `PARTS_IN_FLIGHT` are sent at once,
while the next part is read and hashed: memory holds at most `PARTS_IN_MEMORY` parts (8 MiB
each) per large upload, and the parts' MD5s are computed in a worker thread, in order. The
source checks the file's length and hash after the last part, so a file changed since the scan
fails before the upload is completed, and an upload that fails is aborted. A run killed
mid-upload leaves its parts stored (and billed) until aborted, which `abort_stale_uploads` does
for uploads begun long before any live run.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from bmsync.ports import LocalSource
from bmsync.s3.bucket import Bucket
from bmsync.s3.conditions import Condition, ConditionalWrites, put_condition
from bmsync.s3.error_map import (
    TRANSPORT_ERRORS,
    corrupt_upload,
    describe_error,
    error_code,
    uploads_error,
)
from bmsync.s3.integrity import ContentDigest, PartDigester, etag_verdict
from bmsync.s3.keys import list_prefix
from bmsync.s3.reads import head_key
from bmsync.s3.responses import Stored, stored_from_response
from bmsync.types import PutMode
from bmsync.workers import off_loop, own_thread

log = logging.getLogger(__name__)

MULTIPART_THRESHOLD = 16 << 20
PART_BYTES = 8 << 20
PARTS_IN_FLIGHT = 2
"""Parts of one upload sent at once: one stream of a few MiB in flight leaves a long link idle
between parts (a round trip each, and TCP's slow start again on every part)."""
PARTS_IN_MEMORY = PARTS_IN_FLIGHT + 1
"""Parts of one upload held at once: those in flight and the next, read and hashed meanwhile
(two MD5s of 8 MiB and the read took 20-50 ms here, during which a freed connection would
otherwise wait)."""


@dataclass(frozen=True, slots=True)
class PartSizes:
    """Files of `threshold` bytes or more go up in parts of `part_bytes` (the last shorter)."""

    threshold: int = MULTIPART_THRESHOLD
    part_bytes: int = PART_BYTES

    def __post_init__(self) -> None:
        if self.part_bytes < 5 << 20 or self.threshold < self.part_bytes:
            raise ValueError("S3 parts are at least 5 MiB, and the threshold at least one part")


async def put_multipart(
    bucket: Bucket,
    conditions: ConditionalWrites,
    sizes: PartSizes,
    key: str,
    source: LocalSource,
    metadata: dict[str, str],
    mode: PutMode,
    verify: bool,
) -> Stored:
    created = await bucket.client.create_multipart_upload(
        Bucket=bucket.name, Key=key, Metadata=metadata
    )
    upload_id: str = created["UploadId"]
    try:
        with own_thread("bmsync-upload"):  # reads and digests: one memory arena (`workers`)
            parts, digest = await _upload_parts(bucket, key, upload_id, source, sizes.part_bytes)

        async def send(cond: Condition) -> Mapping[str, Any]:
            response: Mapping[str, Any] = await bucket.client.complete_multipart_upload(
                Bucket=bucket.name,
                Key=key,
                UploadId=upload_id,
                MultipartUpload={"Parts": parts},
                **cond,
            )
            return response

        # The condition is checked at completion, after the parts: the narrowest window.
        response = await conditions.send(
            send, put_condition(mode), lambda: conditions.check(key, mode)
        )
    except BaseException:
        await _abort(bucket, key, upload_id)
        raise
    return await _settle(bucket, key, stored_from_response(response), digest, source.size, verify)


async def _upload_parts(
    bucket: Bucket, key: str, upload_id: str, source: LocalSource, part_bytes: int
) -> tuple[list[dict[str, Any]], ContentDigest]:
    """Send `source` in parts of `part_bytes`, read in order, up to `PARTS_IN_FLIGHT` sent at
    once; a part is read only when there is room for it, so memory holds at most
    `PARTS_IN_MEMORY`."""
    digester = PartDigester()
    etags: dict[int, str] = {}
    room = asyncio.Semaphore(PARTS_IN_MEMORY)
    sending = asyncio.Semaphore(PARTS_IN_FLIGHT)

    async def send(number: int, data: bytes, md5: bytes) -> None:
        try:
            async with sending:
                response = await bucket.client.upload_part(
                    Bucket=bucket.name,
                    Key=key,
                    UploadId=upload_id,
                    PartNumber=number,
                    Body=data,
                    ContentMD5=base64.b64encode(md5).decode("ascii"),
                )
            etags[number] = response["ETag"]
        finally:
            room.release()

    try:
        async with (
            asyncio.TaskGroup() as group,
            contextlib.aclosing(source.chunks(part_bytes)) as chunks,
        ):
            number = 0
            while True:
                await room.acquire()
                try:
                    data = await anext(chunks)
                except StopAsyncIteration:
                    room.release()
                    break
                # Two MD5s of a whole part (tens of milliseconds): off the event loop, and in
                # order, as the whole file's digest needs.
                md5 = await off_loop(digester.add_part, data)
                number += 1
                group.create_task(send(number, data, md5))
    except BaseExceptionGroup as failed:
        raise failed.exceptions[0] from None  # the first failure, as a plain upload raises it
    parts = [{"ETag": etags[n], "PartNumber": n} for n in sorted(etags)]
    return parts, digester.digest()


async def _settle(
    bucket: Bucket, key: str, stored: Stored, digest: ContentDigest, size: int, verify: bool
) -> Stored:
    """The identity listings will show for the completed upload.

    rclone answers CompleteMultipartUpload with the composite ETag but lists (and HEADs) the
    whole-content MD5, so the snapshot must take the HEAD's ETag, or the next run would see
    a remote change. The HEAD's ETag is adopted only when it is ours: same size and either
    the ETag the completion returned or one our digests prove.
    """
    head = await head_key(bucket, key)
    ours = (
        head is not None
        and head.size == size
        and (head.etag == stored.etag or etag_verdict(head.etag, digest) is True)
    )
    if verify:
        completed_ok = stored.opaque or etag_verdict(stored.etag, digest) is not False
        if not (ours and completed_ok):
            raise corrupt_upload(bucket.url(key))
    if head is None or not ours:
        return stored
    return Stored(head.etag, head.last_modified_ns, stored.opaque)


async def _abort(bucket: Bucket, key: str, upload_id: str) -> None:
    """Best effort: an upload left open costs storage until a lifecycle rule ends it."""
    try:
        await bucket.client.abort_multipart_upload(Bucket=bucket.name, Key=key, UploadId=upload_id)
    except (ClientError, *TRANSPORT_ERRORS) as err:
        log.warning(
            "could not abort the multipart upload of %s: %s", bucket.url(key), describe_error(err)
        )


async def abort_stale_uploads(bucket: Bucket, older_than: datetime) -> int:
    """Abort the uploads below the prefix begun before `older_than`; returns how many.

    Any failure (a key without s3:ListBucketMultipartUploads, say) only costs storage: it is a
    FileActionError for the caller to warn about, never a reason to stop.
    """
    stale: list[tuple[str, str]] = []
    try:
        paginator = bucket.client.get_paginator("list_multipart_uploads")
        pages = paginator.paginate(Bucket=bucket.name, Prefix=list_prefix(bucket.prefix))
        async for page in pages:
            for upload in page.get("Uploads", ()):
                initiated = upload.get("Initiated")
                if isinstance(initiated, datetime) and initiated < older_than:
                    stale.append((upload["Key"], upload["UploadId"]))
    except ClientError as err:
        if error_code(err) == "NoSuchUpload":
            return 0  # rclone's server: its answer when no upload was ever begun
        raise uploads_error(bucket, err) from err
    except TRANSPORT_ERRORS as err:
        raise uploads_error(bucket, err) from err
    for key, upload_id in stale:
        try:
            await bucket.client.abort_multipart_upload(
                Bucket=bucket.name, Key=key, UploadId=upload_id
            )
        except ClientError as err:
            if error_code(err) != "NoSuchUpload":  # gone already: nothing to do
                raise uploads_error(bucket, err) from err
        except TRANSPORT_ERRORS as err:
            raise uploads_error(bucket, err) from err
    return len(stale)
