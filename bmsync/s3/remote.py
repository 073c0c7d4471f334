"""`S3Remote`: the engine's `RemoteStore` on one S3 prefix.

Failures come in two kinds. Those that concern the whole remote (credentials refused, bucket
missing, and any failure to list) raise the `bmsync.errors` types and stop the run. Everything
else about one object becomes a `FileActionError` naming the key, so the engine reports it and
retries on the next run.

Conditional requests guard against writers the listing did not see: `Create` sends
`If-None-Match: *`, `Update` and `if_match` send `If-Match`. Not every store honours them, and
some ignore them silently (`rclone serve s3` writes through), which no error reveals. So before
the first conditional write of a run, `S3Remote` probes the store once (two conditional PUTs of
an empty object under `.bmsync-trash/`, then a DELETE). Where conditions are not enforced, it
checks them itself with a HEAD just before the write: a narrower guard (a race stays possible
between the HEAD and the write) but far better than none.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import email.utils
import hashlib
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

import aiohttp
from botocore.exceptions import BotoCoreError, ClientError

from bmsync.errors import BmsyncError, BucketNotFoundError, RemoteAuthError, RemoteError
from bmsync.failures import (
    FileActionError,
    LocalChanged,
    RemoteChanged,
    RemoteMissing,
    TransientError,
)
from bmsync.local.hashing import new_hasher, open_regular
from bmsync.ports import ByteSink
from bmsync.runs import run_started
from bmsync.s3.client import (
    describe_error,
    error_code,
    error_status,
    open_s3_client,
    translate_client_error,
)
from bmsync.s3.config import S3Config
from bmsync.s3.integrity import ContentDigest, PartDigester, etag_is_opaque, etag_verdict
from bmsync.s3.keys import (
    TRASH_PREFIX,
    InvalidKey,
    is_folder_marker,
    is_trash_key,
    key_for,
    list_prefix,
    normalise_etag,
    ns_to_metadata_mtime,
    quote_etag,
    read_user_metadata,
    relkey_of,
    relkey_to_path,
    trash_key,
)
from bmsync.s3.url import RemoteLocation, parse_remote_url
from bmsync.types import (
    Create,
    Overwrite,
    PutMode,
    RejectedKey,
    RemoteListing,
    RemoteMeta,
    RemoteObject,
    TrashedObject,
    Update,
)

log = logging.getLogger(__name__)

_T = TypeVar("_T")

CHUNK_BYTES = 1 << 20
MULTIPART_THRESHOLD = 16 << 20
PART_BYTES = 8 << 20

_PRECONDITION_FAILED = frozenset({"PreconditionFailed", "ConditionalRequestConflict"})
_NOT_FOUND = frozenset({"NoSuchKey", "NotFound", "404"})  # HEAD errors have no body: code "404"
_CONDITION_REJECTED = frozenset({"NotImplemented", "InvalidArgument"})
_TRANSPORT_ERRORS = (BotoCoreError, aiohttp.ClientError, asyncio.TimeoutError)

Condition = Mapping[str, str]


@contextlib.asynccontextmanager
async def open_remote(
    remote: str | RemoteLocation, config: S3Config | None = None
) -> AsyncIterator[S3Remote]:
    """An `S3Remote` for an `s3://bucket/prefix` URL (or a parsed location), with its client."""
    location = parse_remote_url(remote) if isinstance(remote, str) else remote
    async with open_s3_client(config or S3Config()) as client:
        yield S3Remote(client, location)


@dataclass(frozen=True, slots=True)
class _Stored:
    """What a write's response told us about the object it made."""

    etag: str
    last_modified_ns: int
    opaque: bool
    """The ETag is no MD5 (SSE-KMS, SSE-C): it proves nothing about the content."""


class S3Remote:
    """`RemoteStore` over one bucket prefix, on an aiobotocore client from `open_s3_client`."""

    def __init__(
        self,
        client: Any,
        location: RemoteLocation,
        *,
        conditional_writes: bool | None = None,
        multipart_threshold: int = MULTIPART_THRESHOLD,
        part_bytes: int = PART_BYTES,
    ) -> None:
        """`conditional_writes`: whether the store enforces If-Match / If-None-Match; None
        (the default) probes it before the first conditional write."""
        if part_bytes < 5 << 20 or multipart_threshold < part_bytes:
            raise ValueError("S3 parts are at least 5 MiB, and the threshold at least one part")
        self._client = client
        self.location = location
        self.conditional_writes = conditional_writes
        self._probed = conditional_writes is not None
        self._probe_lock = asyncio.Lock()
        self._multipart_threshold = multipart_threshold
        self._part_bytes = part_bytes

    @property
    def url(self) -> str:
        return self.location.url

    @property
    def bucket(self) -> str:
        return self.location.bucket

    @property
    def client(self) -> Any:
        """The aiobotocore client, for event hooks (tests) and requests this class lacks."""
        return self._client

    # -- listing -------------------------------------------------------------------------

    async def list_objects(self) -> RemoteListing:
        """Every object below the prefix (flat, paginated); any failure stops the run."""
        builder = _ListingBuilder(self.location.prefix)
        action = f"listing {self.url}"
        try:
            paginator = self._client.get_paginator("list_objects_v2")
            pages = paginator.paginate(Bucket=self.bucket, Prefix=list_prefix(self.location.prefix))
            async for page in pages:
                for entry in page.get("Contents", ()):
                    builder.add(entry)
        except (ClientError, *_TRANSPORT_ERRORS) as err:
            translated = translate_client_error(err, bucket=self.bucket, action=action)
            raise (translated or RemoteError(_listing_failed(action, err))) from err
        return builder.listing()

    # -- reads -----------------------------------------------------------------------------

    async def head(self, relkey: str) -> RemoteMeta | None:
        key = self._key(relkey)
        with self._file_errors("read the metadata of", key):
            return await self._head_key(key)

    async def download(
        self, relkey: str, sink: ByteSink, *, if_match: str | None, verify: bool
    ) -> RemoteMeta:
        """GET into `sink`. On a failure the sink may hold part of the object: discard it."""
        key = self._key(relkey)
        with self._file_errors("download", key):
            response = await self._get_object(key, if_match)
            meta = _meta_from_response(response)
            async with response["Body"] as body:
                # `If-Match` on GET is ignored by some stores (rclone); the answer's ETag is not.
                if if_match is not None and meta.etag != normalise_etag(if_match):
                    raise RemoteChanged(self._changed_message(key))
                md5, count = await _stream_into(body, sink)
            if verify:
                self._verify_download(key, response, meta, md5, count)
            return meta

    # -- writes ----------------------------------------------------------------------------

    async def upload(
        self,
        relkey: str,
        source: Path,
        *,
        size: int,
        mtime_ns: int,
        xxh3: str,
        mode: PutMode,
        verify: bool,
    ) -> RemoteMeta:
        key = self._key(relkey)
        metadata = {"mtime": ns_to_metadata_mtime(mtime_ns), "xxh3": xxh3}
        with self._file_errors("upload", key):
            try:
                if size >= self._multipart_threshold:
                    stored = await self._put_multipart(key, source, size, metadata, mode, verify)
                else:
                    stored = await self._put_single(key, source, size, metadata, mode, verify)
            except ClientError as err:
                # AWS answers `If-Match` on a key that is gone with 404, not 412.
                if isinstance(mode, Update) and _is_not_found(err):
                    raise RemoteChanged(self._changed_message(key)) from err
                if not _is_precondition_failed(err):
                    raise
                return await self._own_write_or_changed(key, xxh3, size)
            except RemoteChanged:
                return await self._own_write_or_changed(key, xxh3, size)
        return RemoteMeta(
            etag=stored.etag,
            size=size,
            last_modified_ns=stored.last_modified_ns,
            mtime_ns=mtime_ns,
            xxh3=xxh3,
        )

    async def _own_write_or_changed(self, key: str, xxh3: str, size: int) -> RemoteMeta:
        """A PUT that landed but whose answer was lost is resent by botocore's retry and then
        fails its own condition: if the object now holds what we sent, the write was ours."""
        landed = await self._head_key(key)
        if landed is None or (landed.xxh3, landed.size) != (xxh3, size):
            raise RemoteChanged(self._changed_message(key))
        return landed

    async def delete(self, relkey: str, *, if_match: str | None) -> None:
        key = self._key(relkey)
        condition = {"IfMatch": quote_etag(if_match)} if if_match is not None else {}

        async def send(cond: Condition) -> object:
            return await self._client.delete_object(Bucket=self.bucket, Key=key, **cond)

        async def check() -> None:
            if if_match is not None:
                await self._check_by_head(key, Update(if_match), missing_ok=True)

        with self._file_errors("delete", key):
            try:
                await self._send_conditionally(send, condition, check)
            except ClientError as err:
                # With If-Match, a missing key is 404 rather than the usual silent success.
                if not _is_not_found(err):
                    raise

    async def copy(self, src_relkey: str, dst_relkey: str, *, if_match: str | None) -> RemoteMeta:
        """Server-side copy with the metadata; the source's HEAD supplies mtime and xxh3."""
        src, dst = self._key(src_relkey), self._key(dst_relkey)
        with self._file_errors(f"copy {self._key_url(src)} to", dst):
            source = await self._head_key(src)
            if source is None:
                raise RemoteMissing(self._missing_message(src))
            if if_match is not None and source.etag != normalise_etag(if_match):
                raise RemoteChanged(self._changed_message(src))
            # Pin the copy to the version the HEAD described, so its metadata is the copy's.
            result = await self._copy_key(src, dst, if_match=source.etag)
        return RemoteMeta(
            etag=normalise_etag(result["ETag"]),
            size=source.size,
            last_modified_ns=_to_ns(result.get("LastModified")),
            mtime_ns=source.mtime_ns,
            xxh3=source.xxh3,
        )

    async def preserve(self, relkey: str, run_id: str, *, if_match: str | None) -> None:
        """Copy into `.bmsync-trash/<prefix>/<run_id>/<relkey>`.

        `if_match` goes out as CopySourceIfMatch, which moto and rclone ignore; that only risks
        keeping a newer version than expected, and the overwrite or delete that follows is
        conditional itself.
        """
        src = self._key(relkey)
        dst = trash_key(self.location.prefix, run_id, relkey)
        with self._file_errors("keep a trash copy of", src):
            await self._copy_key(src, dst, if_match=if_match)

    async def purge_trash(self, older_than: datetime) -> int:
        """Delete the trash of runs started before `older_than` (retention); returns how many.

        Only folders named like a run id are touched, so another project's trash below a
        bucket-root project's trash folder is never mistaken for a run.
        """
        base = trash_key(self.location.prefix, "", "") + "/"
        paginator = self._client.get_paginator("list_objects_v2")
        expired: list[str] = []
        with self._file_errors("list the trash", base):
            async for page in paginator.paginate(Bucket=self.bucket, Prefix=base, Delimiter="/"):
                for common in page.get("CommonPrefixes", []):
                    run_id = common["Prefix"][len(base) :].rstrip("/")
                    started = run_started(run_id)
                    if started is not None and started < older_than:
                        expired.append(common["Prefix"])
        for run_prefix in expired:
            with self._file_errors("empty the trash folder", run_prefix):
                async for page in paginator.paginate(Bucket=self.bucket, Prefix=run_prefix):
                    for item in page.get("Contents", []):
                        await self._client.delete_object(Bucket=self.bucket, Key=item["Key"])
        return len(expired)

    async def list_trash(self) -> list[TrashedObject]:
        base = trash_key(self.location.prefix, "", "") + "/"
        found: list[TrashedObject] = []
        paginator = self._client.get_paginator("list_objects_v2")
        with self._file_errors("list the trash", base):
            async for page in paginator.paginate(Bucket=self.bucket, Prefix=base):
                for item in page.get("Contents", ()):
                    run_id, sep, relkey = item["Key"][len(base) :].partition("/")
                    # Another project's trash (below a bucket-root project's) is not a run.
                    if sep and relkey and run_started(run_id) is not None:
                        found.append(TrashedObject(run_id, relkey, int(item.get("Size", 0))))
        return found

    async def download_trashed(self, run_id: str, relkey: str, sink: ByteSink) -> RemoteMeta:
        key = trash_key(self.location.prefix, run_id, relkey)
        with self._file_errors("download", key):
            response = await self._get_object(key, None)
            meta = _meta_from_response(response)
            async with response["Body"] as body:
                md5, count = await _stream_into(body, sink)
            self._verify_download(key, response, meta, md5, count)
            return meta

    async def abort_stale_uploads(self, older_than: datetime) -> int:
        # Any failure (a key without s3:ListBucketMultipartUploads, say) only costs storage:
        # it is a FileActionError for the caller to warn about, never a reason to stop.
        stale: list[tuple[str, str]] = []
        try:
            paginator = self._client.get_paginator("list_multipart_uploads")
            pages = paginator.paginate(Bucket=self.bucket, Prefix=list_prefix(self.location.prefix))
            async for page in pages:
                for upload in page.get("Uploads", ()):
                    initiated = upload.get("Initiated")
                    if isinstance(initiated, datetime) and initiated < older_than:
                        stale.append((upload["Key"], upload["UploadId"]))
        except ClientError as err:
            if error_code(err) == "NoSuchUpload":
                return 0  # rclone's server: its answer when no upload was ever begun
            raise self._uploads_error(err) from err
        except _TRANSPORT_ERRORS as err:
            raise self._uploads_error(err) from err
        for key, upload_id in stale:
            try:
                await self._client.abort_multipart_upload(
                    Bucket=self.bucket, Key=key, UploadId=upload_id
                )
            except ClientError as err:
                if error_code(err) != "NoSuchUpload":  # gone already: nothing to do
                    raise self._uploads_error(err) from err
            except _TRANSPORT_ERRORS as err:
                raise self._uploads_error(err) from err
        return len(stale)

    def _uploads_error(self, err: BaseException) -> FileActionError:
        return FileActionError(
            f"could not list or abort unfinished uploads below {self.url}: {describe_error(err)}"
        )

    async def probe_conditional_writes(self) -> bool | None:
        """Find out whether the store enforces `If-None-Match: *` on PUT.

        Writes and deletes an empty object under `.bmsync-trash/`. None when the probe itself
        failed (no permission there, say): conditions are then sent and trusted as they are.
        """
        key = f"{TRASH_PREFIX}/.conditional-write-probe-{uuid.uuid4().hex}"

        async def put_if_absent() -> None:
            await self._client.put_object(Bucket=self.bucket, Key=key, Body=b"", IfNoneMatch="*")

        try:
            await put_if_absent()
            try:
                await put_if_absent()
            except ClientError as err:
                if _is_precondition_failed(err):
                    return True
                raise
            return False  # the second create went through: the condition was ignored
        except ClientError as err:
            if _rejects_condition(err):
                return False
            log.debug("conditional-write probe on %s failed: %s", self.url, describe_error(err))
            return None
        except _TRANSPORT_ERRORS as err:
            log.debug("conditional-write probe on %s failed: %s", self.url, describe_error(err))
            return None
        finally:
            with contextlib.suppress(ClientError, *_TRANSPORT_ERRORS):
                await self._client.delete_object(Bucket=self.bucket, Key=key)

    # -- single and multipart PUT ------------------------------------------------------------

    async def _put_single(
        self,
        key: str,
        source: Path,
        size: int,
        metadata: dict[str, str],
        mode: PutMode,
        verify: bool,
    ) -> _Stored:
        data = await _read_whole(source, size)
        _check_content_hash(source, _data_hash(data), metadata["xxh3"])
        md5 = hashlib.md5(data, usedforsecurity=False)

        async def send(cond: Condition) -> Mapping[str, Any]:
            response: Mapping[str, Any] = await self._client.put_object(
                Bucket=self.bucket,
                Key=key,
                Body=data,
                ContentMD5=base64.b64encode(md5.digest()).decode("ascii"),
                Metadata=metadata,
                **cond,
            )
            return response

        response = await self._send_conditionally(
            send, _put_condition(mode), lambda: self._check_by_head(key, mode)
        )
        stored = _stored_from_response(response)
        if verify:
            await self._verify_upload(key, stored, ContentDigest(md5.hexdigest()), size)
        return stored

    async def _put_multipart(
        self,
        key: str,
        source: Path,
        size: int,
        metadata: dict[str, str],
        mode: PutMode,
        verify: bool,
    ) -> _Stored:
        created = await self._client.create_multipart_upload(
            Bucket=self.bucket, Key=key, Metadata=metadata
        )
        upload_id: str = created["UploadId"]
        try:
            parts, digest = await self._upload_parts(key, upload_id, source, size, metadata["xxh3"])

            async def send(cond: Condition) -> Mapping[str, Any]:
                response: Mapping[str, Any] = await self._client.complete_multipart_upload(
                    Bucket=self.bucket,
                    Key=key,
                    UploadId=upload_id,
                    MultipartUpload={"Parts": parts},
                    **cond,
                )
                return response

            # The condition is checked at completion, after the parts: the narrowest window.
            response = await self._send_conditionally(
                send, _put_condition(mode), lambda: self._check_by_head(key, mode)
            )
        except BaseException:
            await self._abort_multipart(key, upload_id)
            raise
        return await self._settle_multipart(
            key, _stored_from_response(response), digest, size, verify
        )

    async def _upload_parts(
        self, key: str, upload_id: str, source: Path, size: int, xxh3: str
    ) -> tuple[list[dict[str, Any]], ContentDigest]:
        """Send `source` in parts of `part_bytes`, in order (rclone streams parts in order and
        buffers the rest), reading one part at a time."""
        digester = PartDigester()
        content_hash = new_hasher()
        parts: list[dict[str, Any]] = []
        async with _LocalFile(source) as handle:
            remaining = size
            while remaining > 0:
                data = await handle.read(min(self._part_bytes, remaining))
                if not data:
                    raise LocalChanged(_shrank_message(source, size))
                remaining -= len(data)
                content_hash.update(data)
                part_md5 = digester.add_part(data)
                response = await self._client.upload_part(
                    Bucket=self.bucket,
                    Key=key,
                    UploadId=upload_id,
                    PartNumber=len(parts) + 1,
                    Body=data,
                    ContentMD5=base64.b64encode(part_md5).decode("ascii"),
                )
                parts.append({"ETag": response["ETag"], "PartNumber": len(parts) + 1})
            if await handle.read(1):
                raise LocalChanged(_grew_message(source, size))
        _check_content_hash(source, content_hash.hexdigest(), xxh3)
        return parts, digester.digest()

    async def _settle_multipart(
        self, key: str, stored: _Stored, digest: ContentDigest, size: int, verify: bool
    ) -> _Stored:
        """The identity listings will show for the completed upload.

        rclone answers CompleteMultipartUpload with the composite ETag but lists (and HEADs) the
        whole-content MD5, so the snapshot must take the HEAD's ETag, or the next run would see
        a remote change. The HEAD's ETag is adopted only when it is ours: same size and either
        the ETag the completion returned or one our digests prove.
        """
        head = await self._head_key(key)
        ours = (
            head is not None
            and head.size == size
            and (head.etag == stored.etag or etag_verdict(head.etag, digest) is True)
        )
        if verify:
            completed_ok = stored.opaque or etag_verdict(stored.etag, digest) is not False
            if not (ours and completed_ok):
                raise FileActionError(self._corrupt_upload_message(key))
        if head is None or not ours:
            return stored
        return _Stored(head.etag, head.last_modified_ns, stored.opaque)

    async def _abort_multipart(self, key: str, upload_id: str) -> None:
        """Best effort: an upload left open costs storage until a lifecycle rule ends it."""
        try:
            await self._client.abort_multipart_upload(
                Bucket=self.bucket, Key=key, UploadId=upload_id
            )
        except (ClientError, *_TRANSPORT_ERRORS) as err:
            log.warning(
                "could not abort the multipart upload of %s: %s",
                self._key_url(key),
                describe_error(err),
            )

    async def _verify_upload(
        self, key: str, stored: _Stored, digest: ContentDigest, size: int
    ) -> None:
        verdict = None if stored.opaque else etag_verdict(stored.etag, digest)
        if verdict is None:
            # The ETag says nothing about the bytes: settle for the stored size.
            head = await self._head_key(key)
            verdict = head is not None and head.size == size
        if not verdict:
            raise FileActionError(self._corrupt_upload_message(key))

    # -- conditional requests ------------------------------------------------------------------

    async def _send_conditionally(
        self,
        send: Callable[[Condition], Awaitable[_T]],
        condition: Condition,
        check_by_head: Callable[[], Awaitable[None]],
    ) -> _T:
        """`send(condition)`, or, where the store does not enforce conditions, check them with
        a HEAD and `send({})`. A store that rejects the condition header itself (NotImplemented,
        InvalidArgument, 501) is remembered as one that does not enforce them."""
        if condition:
            await self._learn_conditional_writes()
            if self.conditional_writes is False:
                await check_by_head()
                return await send({})
        try:
            return await send(condition)
        except ClientError as err:
            if not condition or not _rejects_condition(err):
                raise
            rejection = describe_error(err)
        # If the header was not the problem the retry fails the same way, and is raised.
        await check_by_head()
        result = await send({})
        if self.conditional_writes is not False:
            log.warning(
                "%s rejects conditional requests (%s); checking conditions with HEAD instead",
                self.url,
                rejection,
            )
            self.conditional_writes = False
        return result

    async def _learn_conditional_writes(self) -> None:
        if self._probed:
            return
        async with self._probe_lock:
            if not self._probed:
                if self.conditional_writes is None:
                    self.conditional_writes = await self.probe_conditional_writes()
                    if self.conditional_writes is False:
                        log.warning(
                            "%s ignores conditional writes; checking conditions with HEAD "
                            "before each write (a concurrent writer can still slip in between)",
                            self.url,
                        )
                self._probed = True

    async def _check_by_head(self, key: str, mode: PutMode, *, missing_ok: bool = False) -> None:
        if isinstance(mode, Overwrite):
            return
        if isinstance(mode, Create):
            if await self._key_exists(key):
                raise RemoteChanged(
                    f"{self._key_url(key)} appeared on the remote since it was listed; "
                    "left as it is, it will be looked at again on the next run."
                )
            return
        meta = await self._head_key(key)
        if meta is None:
            if not missing_ok:
                raise RemoteChanged(self._changed_message(key))
        elif meta.etag != normalise_etag(mode.etag):
            raise RemoteChanged(self._changed_message(key))

    # -- small requests --------------------------------------------------------------------------

    async def _key_exists(self, key: str) -> bool:
        """Whether `key` exists, asked as a one-key listing rather than a HEAD: a HEAD answered
        404 makes aiohttp drop the connection, so checking N new keys opened N connections (a
        first sync was several times slower); a listing answers 200 either way."""
        response = await self._client.list_objects_v2(Bucket=self.bucket, Prefix=key, MaxKeys=1)
        contents = response.get("Contents") or []
        return bool(contents) and contents[0].get("Key") == key

    async def _head_key(self, key: str) -> RemoteMeta | None:
        try:
            response = await self._client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as err:
            if _is_not_found(err):
                return None
            raise
        return _meta_from_response(response)

    async def _get_object(self, key: str, if_match: str | None) -> Mapping[str, Any]:
        condition = {"IfMatch": quote_etag(if_match)} if if_match is not None else {}
        try:
            response: Mapping[str, Any] = await self._client.get_object(
                Bucket=self.bucket, Key=key, **condition
            )
        except ClientError as err:
            if _is_not_found(err):
                raise RemoteMissing(self._missing_message(key)) from err
            raise
        return response

    async def _copy_key(self, src: str, dst: str, *, if_match: str | None) -> Mapping[str, Any]:
        condition = {"CopySourceIfMatch": quote_etag(if_match)} if if_match is not None else {}
        try:
            response = await self._client.copy_object(
                Bucket=self.bucket,
                Key=dst,
                CopySource={"Bucket": self.bucket, "Key": src},
                MetadataDirective="COPY",
                **condition,
            )
        except ClientError as err:
            if _is_not_found(err):
                raise RemoteMissing(self._missing_message(src)) from err
            raise
        result: Mapping[str, Any] = response["CopyObjectResult"]
        return result

    def _verify_download(
        self, key: str, response: Mapping[str, Any], meta: RemoteMeta, md5: str, count: int
    ) -> None:
        expected = response.get("ContentLength")
        digest_ok = (
            etag_is_opaque(response) or etag_verdict(meta.etag, ContentDigest(md5)) is not False
        )
        if (expected is not None and count != expected) or not digest_ok:
            raise FileActionError(
                f"The download of {self._key_url(key)} does not match the object's size or "
                "ETag (the transfer was corrupted or cut short); it was not used and will be "
                "retried on the next run."
            )

    # -- names and messages ------------------------------------------------------------------------

    def _key(self, relkey: str) -> str:
        """The full key, for relkeys that could be local paths only: `..` and friends never
        reach the wire (with aiohttp a `p/../x` PUT to rclone's server hangs until timeout)."""
        invalid = relkey_to_path(relkey)
        if isinstance(invalid, InvalidKey):
            raise FileActionError(
                f"Refusing the remote key {key_for(self.location.prefix, relkey)!r}: "
                f"{invalid.reason}."
            )
        return key_for(self.location.prefix, relkey)

    def _key_url(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def _changed_message(self, key: str) -> str:
        return (
            f"{self._key_url(key)} changed on the remote since it was listed, so bmsync left it "
            "alone; it will be looked at again on the next run."
        )

    def _missing_message(self, key: str) -> str:
        return (
            f"{self._key_url(key)} disappeared from the remote since it was listed; "
            "it will be looked at again on the next run."
        )

    def _corrupt_upload_message(self, key: str) -> str:
        return (
            f"The object stored at {self._key_url(key)} differs from what was sent (its ETag or "
            "size does not match the local file); it will be uploaded again on the next run."
        )

    @contextlib.contextmanager
    def _file_errors(self, action: str, key: str) -> Iterator[None]:
        """Turn what went wrong with one object into a FileActionError naming it, except what
        stops the run (credentials, missing bucket). `action` is a verb: "upload"."""
        try:
            yield
        except (FileActionError, BmsyncError):
            raise
        except ClientError as err:
            if _is_precondition_failed(err):
                raise RemoteChanged(self._changed_message(key)) from err
            raise self._file_error(err, action, key) from err
        except _TRANSPORT_ERRORS as err:
            raise self._file_error(err, action, key) from err

    def _file_error(self, err: BaseException, action: str, key: str) -> Exception:
        url = self._key_url(key)
        if isinstance(err, aiohttp.ClientPayloadError | aiohttp.ClientConnectionError):
            # A body cut off mid-stream: botocore does not retry what it already handed over.
            return TransientError(f"Could not {action} {url}: {describe_error(err)}")
        translated = translate_client_error(
            err, bucket=self.bucket, action=f"trying to {action} {url}"
        )
        if isinstance(translated, RemoteAuthError | BucketNotFoundError):
            return translated
        return FileActionError(f"Could not {action} {url}: {describe_error(err)}")


class _ListingBuilder:
    """Collects listed keys into a `RemoteListing`, rejecting what cannot be a local path."""

    def __init__(self, prefix: str) -> None:
        self._prefix = prefix
        self._objects: dict[str, RemoteObject] = {}
        self._rejected: list[RejectedKey] = []

    def add(self, entry: Mapping[str, Any]) -> None:
        key: str = entry["Key"]
        relkey = relkey_of(key, self._prefix)
        if relkey is None or relkey == "" or is_folder_marker(relkey):
            return
        if not self._prefix and is_trash_key(key):
            return
        path = relkey_to_path(relkey)
        if isinstance(path, InvalidKey):
            self._rejected.append(RejectedKey(key, path.reason))
            return
        self._keep(
            RemoteObject(
                path=path,
                size=int(entry.get("Size", 0)),
                etag=normalise_etag(entry.get("ETag", "")),
                last_modified_ns=_to_ns(entry.get("LastModified")),
                raw_relkey=relkey if relkey != path else "",
            )
        )

    def _keep(self, obj: RemoteObject) -> None:
        """Two keys spelling one NFC path (`café` in NFC and NFD) would be one local file: the
        NFC-spelled key wins (else the first listed), the other is rejected."""
        other = self._objects.get(obj.path)
        if other is None:
            self._objects[obj.path] = obj
            return
        keep, drop = (obj, other) if obj.raw_relkey == "" else (other, obj)
        self._objects[obj.path] = keep
        self._rejected.append(
            RejectedKey(
                key_for(self._prefix, drop.relkey),
                f"same name as {key_for(self._prefix, keep.relkey)!r} after Unicode "
                "normalisation (NFC); rename one of them",
            )
        )

    def listing(self) -> RemoteListing:
        return RemoteListing(objects=self._objects, rejected=tuple(self._rejected))


class _LocalFile:
    """A local file read off the event loop; read errors become per-file errors."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._handle: BinaryIO | None = None

    async def __aenter__(self) -> _LocalFile:
        with _local_read_errors(self._path):
            # Never follow a link or block on a FIFO swapped in since the scan.
            self._handle = await asyncio.to_thread(open_regular, self._path)
        return self

    async def __aexit__(self, *_: object) -> None:
        if self._handle is not None:
            self._handle.close()

    async def read(self, size: int) -> bytes:
        if self._handle is None:
            raise RuntimeError("_LocalFile.read outside `async with`")
        with _local_read_errors(self._path):
            return await asyncio.to_thread(self._handle.read, size)


@contextlib.contextmanager
def _local_read_errors(path: Path) -> Iterator[None]:
    try:
        yield
    except FileNotFoundError as err:
        raise LocalChanged(f"{path} disappeared since the scan; it was not uploaded.") from err
    except OSError as err:
        raise FileActionError(f"Could not read {path}: {err.strerror or err}") from err


async def _read_whole(path: Path, size: int) -> bytes:
    """The file's bytes, which must still be `size` long (one byte more is read to tell)."""
    async with _LocalFile(path) as handle:
        data = await handle.read(size + 1)
    if len(data) < size:
        raise LocalChanged(_shrank_message(path, size))
    if len(data) > size:
        raise LocalChanged(_grew_message(path, size))
    return data


def _data_hash(data: bytes) -> str:
    hasher = new_hasher()
    hasher.update(data)
    digest: str = hasher.hexdigest()
    return digest


def _check_content_hash(path: Path, actual: str, expected: str) -> None:
    """The `xxh3` metadata must describe the bytes sent: a file rewritten in place since the
    scan (same size) would otherwise be stored under the old content's hash, and a later
    comparison by hash would call two different contents equal."""
    if actual != expected.lower():
        raise LocalChanged(
            f"{path} changed since the scan (its content hash differs); it will be uploaded on "
            "the next run."
        )


def _shrank_message(path: Path, size: int) -> str:
    return f"{path} is shorter than the {size} bytes scanned; it will be uploaded on the next run."


def _grew_message(path: Path, size: int) -> str:
    return f"{path} grew past the {size} bytes scanned; it will be uploaded on the next run."


async def _stream_into(body: Any, sink: ByteSink) -> tuple[str, int]:
    md5 = hashlib.md5(usedforsecurity=False)
    count = 0
    while chunk := await body.read(CHUNK_BYTES):
        md5.update(chunk)
        count += len(chunk)
        sink.write(chunk)
    return md5.hexdigest(), count


def _put_condition(mode: PutMode) -> Condition:
    if isinstance(mode, Create):
        return {"IfNoneMatch": "*"}
    if isinstance(mode, Update):
        return {"IfMatch": quote_etag(mode.etag)}
    return {}


def _meta_from_response(response: Mapping[str, Any]) -> RemoteMeta:
    mtime_ns, xxh3 = read_user_metadata(response.get("Metadata") or {})
    return RemoteMeta(
        etag=normalise_etag(response.get("ETag", "")),
        size=int(response.get("ContentLength", 0)),
        last_modified_ns=_to_ns(response.get("LastModified")),
        mtime_ns=mtime_ns,
        xxh3=xxh3,
    )


def _stored_from_response(response: Mapping[str, Any]) -> _Stored:
    return _Stored(
        etag=normalise_etag(response.get("ETag", "")),
        last_modified_ns=_response_date_ns(response),
        opaque=etag_is_opaque(response),
    )


def _response_date_ns(response: Mapping[str, Any]) -> int:
    """When the server answered a PUT (its `Date`), which has no LastModified field; our own
    clock if there is no usable Date header. Only second precision, which is all S3 keeps."""
    headers = response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
    date = headers.get("date")
    if date:
        with contextlib.suppress(TypeError, ValueError):
            return _to_ns(email.utils.parsedate_to_datetime(date))
    return time.time_ns()


def _to_ns(moment: datetime | None) -> int:
    if moment is None:
        return time.time_ns()
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 10**9 + delta.microseconds * 1_000


def _is_not_found(err: ClientError) -> bool:
    return error_code(err) in _NOT_FOUND


def _is_precondition_failed(err: ClientError) -> bool:
    return error_code(err) in _PRECONDITION_FAILED or error_status(err) == 412


def _rejects_condition(err: ClientError) -> bool:
    return error_code(err) in _CONDITION_REJECTED or error_status(err) == 501


def _listing_failed(action: str, err: BaseException) -> str:
    detail = describe_error(err).rstrip(".")
    if isinstance(err, ClientError) and (
        error_status(err) >= 500 or error_code(err) in {"SlowDown", "Throttling"}
    ):
        advice = "the service is failing or throttling requests; run again in a few minutes"
    else:
        advice = "check the endpoint and the remote URL, then run again"
    return f"Failed {action}: {detail}. Without a complete listing nothing can be synced; {advice}."
