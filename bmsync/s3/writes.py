"""Writing objects: uploads (a single PUT here, large files through `multipart`), server-side
copies and deletes, each under the condition its caller asked for (`conditions`).

An upload stores the bytes its `LocalSource` reads, which check the local file against the
scan, with the scan's `mtime` and `xxh3` as metadata; with `verify`, the answer's ETag (or, when
the ETag proves nothing, the stored size) must show the object is what was sent.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

from bmsync.digests import new_md5
from bmsync.failures import RemoteChanged
from bmsync.ports import LocalSource
from bmsync.s3.bucket import Bucket
from bmsync.s3.conditions import Condition, ConditionalWrites, put_condition
from bmsync.s3.error_map import (
    appeared,
    changed,
    corrupt_upload,
    file_errors,
    is_not_found,
    is_precondition_failed,
    missing,
)
from bmsync.s3.integrity import ContentDigest, etag_verdict
from bmsync.s3.keys import normalise_etag, ns_to_metadata_mtime, quote_etag
from bmsync.s3.multipart import PartSizes, put_multipart
from bmsync.s3.reads import head_key
from bmsync.s3.responses import Stored, stored_from_response, to_ns
from bmsync.types import PutMode, RemoteMeta, Update


async def upload(
    bucket: Bucket,
    conditions: ConditionalWrites,
    parts: PartSizes,
    relkey: str,
    source: LocalSource,
    *,
    mode: PutMode,
    verify: bool,
) -> RemoteMeta:
    """Store `source` as `relkey` under `mode`'s condition; the new object's identity."""
    key = bucket.key(relkey)
    metadata = {"mtime": ns_to_metadata_mtime(source.mtime_ns), "xxh3": source.xxh3}
    with file_errors(bucket, "upload", key):
        try:
            if source.size >= parts.threshold:
                stored = await put_multipart(
                    bucket, conditions, parts, key, source, metadata, mode, verify
                )
            else:
                stored = await _put_single(bucket, conditions, key, source, metadata, mode, verify)
        except ClientError as err:
            # AWS answers `If-Match` on a key that is gone with 404, not 412.
            if isinstance(mode, Update) and is_not_found(err):
                raise changed(bucket.url(key)) from err
            if not is_precondition_failed(err):
                raise
            return await _own_write_or_changed(bucket, key, source)
        except RemoteChanged:
            return await _own_write_or_changed(bucket, key, source)
    return RemoteMeta(
        etag=stored.etag,
        size=source.size,
        last_modified_ns=stored.last_modified_ns,
        mtime_ns=source.mtime_ns,
        xxh3=source.xxh3,
    )


async def _own_write_or_changed(bucket: Bucket, key: str, source: LocalSource) -> RemoteMeta:
    """A PUT that landed but whose answer was lost is resent by botocore's retry and then
    fails its own condition: if the object now holds what we sent, the write was ours."""
    landed = await head_key(bucket, key)
    if landed is None or (landed.xxh3, landed.size) != (source.xxh3, source.size):
        raise changed(bucket.url(key))
    return landed


async def _put_single(
    bucket: Bucket,
    conditions: ConditionalWrites,
    key: str,
    source: LocalSource,
    metadata: dict[str, str],
    mode: PutMode,
    verify: bool,
) -> Stored:
    data = await source.read_all()
    md5 = new_md5(data)

    async def send(cond: Condition) -> Mapping[str, Any]:
        response: Mapping[str, Any] = await bucket.client.put_object(
            Bucket=bucket.name,
            Key=key,
            Body=data,
            ContentMD5=base64.b64encode(md5.digest()).decode("ascii"),
            Metadata=metadata,
            **cond,
        )
        return response

    response = await conditions.send(send, put_condition(mode), lambda: conditions.check(key, mode))
    stored = stored_from_response(response)
    if verify:
        await _verify_upload(bucket, key, stored, ContentDigest(md5.hexdigest()), source.size)
    return stored


async def _verify_upload(
    bucket: Bucket, key: str, stored: Stored, digest: ContentDigest, size: int
) -> None:
    verdict = None if stored.opaque else etag_verdict(stored.etag, digest)
    if verdict is None:
        # The ETag says nothing about the bytes: settle for the stored size.
        head = await head_key(bucket, key)
        verdict = head is not None and head.size == size
    if not verdict:
        raise corrupt_upload(bucket.url(key))


async def delete(
    bucket: Bucket, conditions: ConditionalWrites, relkey: str, *, if_match: str | None
) -> None:
    """Delete; an object already gone is no error."""
    await delete_key(bucket, conditions, bucket.key(relkey), if_match=if_match)


async def delete_key(
    bucket: Bucket, conditions: ConditionalWrites, key: str, *, if_match: str | None
) -> None:
    """`delete` of a full key (a folder marker's, which ends in `/`)."""
    condition = {"IfMatch": quote_etag(if_match)} if if_match is not None else {}

    async def send(cond: Condition) -> object:
        return await bucket.client.delete_object(Bucket=bucket.name, Key=key, **cond)

    async def check() -> None:
        if if_match is not None:
            await conditions.check(key, Update(if_match), missing_ok=True)

    with file_errors(bucket, "delete", key):
        try:
            await conditions.send(send, condition, check)
        except ClientError as err:
            # With If-Match, a missing key is 404 rather than the usual silent success.
            if not is_not_found(err):
                raise


async def copy(
    bucket: Bucket,
    conditions: ConditionalWrites,
    src_relkey: str,
    dst_relkey: str,
    *,
    if_match: str | None,
    mode: PutMode,
) -> RemoteMeta:
    """Server-side copy with the metadata; the source's HEAD supplies mtime and xxh3.

    The destination is written under `mode`'s condition: checked just before the copy (by the
    existence listing `conditions` shares with uploads, or a HEAD), and also sent with it where
    the store enforces conditions. A copy refused by its destination's condition may be a
    retry (botocore's, or the executor's after a cut connection) of one that landed: if the
    destination now holds the source's bytes (size and xxh3), it is ours.
    """
    src, dst = bucket.key(src_relkey), bucket.key(dst_relkey)
    with file_errors(bucket, f"copy {bucket.url(src)} to", dst):
        source = await head_key(bucket, src)
        if source is None:
            raise missing(bucket.url(src))
        if if_match is not None and source.etag != normalise_etag(if_match):
            raise changed(bucket.url(src))

        async def send(condition: Condition) -> Mapping[str, Any]:
            # Pinned to the version the HEAD described, so its metadata is the copy's.
            return await copy_key(bucket, src, dst, if_match=source.etag, condition=condition)

        try:
            # Checked first on every store: one that honours conditions on a PUT may ignore
            # them on a copy (moto does, silently). Where the store enforces them, the
            # condition sent with the copy closes the window the check leaves.
            await conditions.check(dst, mode)
            result = await conditions.send(send, put_condition(mode), _checked_above)
        except ClientError as err:
            if not is_precondition_failed(err):
                raise
            return await _own_copy_or_changed(bucket, src, dst, source, err)
        except RemoteChanged as err:  # checked first, on a store that ignores conditions
            return await _own_copy_or_changed(bucket, src, dst, source, err)
    return RemoteMeta(
        etag=normalise_etag(result["ETag"]),
        size=source.size,
        last_modified_ns=to_ns(result.get("LastModified")),
        mtime_ns=source.mtime_ns,
        xxh3=source.xxh3,
    )


async def _checked_above() -> None:
    """What `ConditionalWrites.send` checks before a write it sends without its condition: for
    a copy, `copy` has just checked it on every store."""


async def _own_copy_or_changed(
    bucket: Bucket, src: str, dst: str, source: RemoteMeta, err: Exception
) -> RemoteMeta:
    """A copy refused by a condition: ours all the same when the destination holds the source's
    bytes (a retry of a copy that landed), else the change that refused it."""
    landed = await head_key(bucket, dst)
    if landed is None:
        raise changed(bucket.url(src)) from err  # the source's condition failed
    if (landed.size, landed.xxh3) != (source.size, source.xxh3) or not source.xxh3:
        raise appeared(bucket.url(dst)) from err
    return RemoteMeta(
        etag=landed.etag,
        size=source.size,
        last_modified_ns=landed.last_modified_ns,
        mtime_ns=source.mtime_ns,
        xxh3=source.xxh3,
    )


async def copy_key(
    bucket: Bucket,
    src: str,
    dst: str,
    *,
    if_match: str | None,
    condition: Condition | None = None,
) -> Mapping[str, Any]:
    """CopyObject keeping the metadata; `if_match` goes out as CopySourceIfMatch, `condition`
    (`put_condition`) is the destination's."""
    source_condition = {"CopySourceIfMatch": quote_etag(if_match)} if if_match is not None else {}
    try:
        response = await bucket.client.copy_object(
            Bucket=bucket.name,
            Key=dst,
            CopySource={"Bucket": bucket.name, "Key": src},
            MetadataDirective="COPY",
            **source_condition,
            **(condition or {}),
        )
    except ClientError as err:
        if is_not_found(err):
            raise missing(bucket.url(src)) from err
        raise
    result: Mapping[str, Any] = response["CopyObjectResult"]
    return result
