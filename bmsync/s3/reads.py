"""Reading objects: HEAD, and GET streamed into a sink and checked against the object's size
and ETag."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

from bmsync.digests import new_md5
from bmsync.ports import ByteSink
from bmsync.s3.bucket import Bucket
from bmsync.s3.error_map import changed, corrupt_download, file_errors, is_not_found, missing
from bmsync.s3.integrity import ContentDigest, etag_is_opaque, etag_verdict
from bmsync.s3.keys import normalise_etag, quote_etag
from bmsync.s3.responses import meta_from_response
from bmsync.types import RemoteMeta

CHUNK_BYTES = 1 << 20
OFF_LOOP_BYTES = 256 << 10
"""Chunks at least this large are hashed and written off the event loop."""


async def head(bucket: Bucket, relkey: str) -> RemoteMeta | None:
    key = bucket.key(relkey)
    with file_errors(bucket, "read the metadata of", key):
        return await head_key(bucket, key)


async def head_key(bucket: Bucket, key: str) -> RemoteMeta | None:
    """The object's identity and metadata; None when there is none. Errors are the caller's."""
    try:
        response = await bucket.client.head_object(Bucket=bucket.name, Key=key)
    except ClientError as err:
        if is_not_found(err):
            return None
        raise
    return meta_from_response(response)


async def download(
    bucket: Bucket, relkey: str, sink: ByteSink, *, if_match: str | None, verify: bool
) -> RemoteMeta:
    return await download_key(bucket, bucket.key(relkey), sink, if_match=if_match, verify=verify)


async def download_key(
    bucket: Bucket, key: str, sink: ByteSink, *, if_match: str | None, verify: bool
) -> RemoteMeta:
    """GET `key` into `sink`. On a failure the sink may hold part of the object: discard it."""
    with file_errors(bucket, "download", key):
        response = await _get_object(bucket, key, if_match)
        meta = meta_from_response(response)
        async with response["Body"] as body:
            # `If-Match` on GET is ignored by some stores (rclone); the answer's ETag is not.
            if if_match is not None and meta.etag != normalise_etag(if_match):
                raise changed(bucket.url(key))
            md5, count = await _stream_into(body, sink)
        if verify:
            _verify_download(bucket, key, response, meta, md5, count)
        return meta


async def _get_object(bucket: Bucket, key: str, if_match: str | None) -> Mapping[str, Any]:
    condition = {"IfMatch": quote_etag(if_match)} if if_match is not None else {}
    try:
        response: Mapping[str, Any] = await bucket.client.get_object(
            Bucket=bucket.name, Key=key, **condition
        )
    except ClientError as err:
        if is_not_found(err):
            raise missing(bucket.url(key)) from err
        raise
    return response


async def _stream_into(body: Any, sink: ByteSink) -> tuple[str, int]:
    """Copy the body into `sink` a chunk at a time (memory: one chunk per download). A large
    chunk is hashed and written in a worker thread: MD5 and the sink's write and xxh3 of 1 MiB
    take milliseconds, which on the event loop would stall every other transfer's requests."""
    md5 = new_md5()
    count = 0

    def absorb(chunk: bytes) -> None:
        md5.update(chunk)
        sink.write(chunk)

    while chunk := await body.read(CHUNK_BYTES):
        count += len(chunk)
        if len(chunk) >= OFF_LOOP_BYTES:
            await asyncio.to_thread(absorb, chunk)
        else:
            absorb(chunk)
    return md5.hexdigest(), count


def _verify_download(
    bucket: Bucket, key: str, response: Mapping[str, Any], meta: RemoteMeta, md5: str, count: int
) -> None:
    expected = response.get("ContentLength")
    digest_ok = etag_is_opaque(response) or etag_verdict(meta.etag, ContentDigest(md5)) is not False
    if (expected is not None and count != expected) or not digest_ok:
        raise corrupt_download(bucket.url(key))
