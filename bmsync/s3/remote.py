"""`S3Remote`: the pipeline's `RemoteStore` on one S3 prefix, and `open_remote`.

A facade: each method hands its request to the module doing that job, on one `Bucket`
(client and location) and one `ConditionalWrites` (what this run learnt about the store's
conditions):

    listing.py     list_objects
    reads.py       head, download
    writes.py      upload (single PUT), copy, delete
    markers.py     folder markers: put, delete, and whether the store keeps them
    multipart.py   large uploads, abort_stale_uploads
    conditions.py  If-Match / If-None-Match, and checking them where the store ignores them
    existence.py   whether new keys exist, one folder listing for many (for conditions.py)
    trash.py       preserve, purge_trash, list_trash, download_trashed
    throttles.py   throttled: the store's "slow down" answers, counted
    errors.py      what each botocore and aiohttp error means (run-stopping or one file's)
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from bmsync.ports import ByteSink, LocalSource
from bmsync.remotes import RemoteLocation, S3Config, parse_remote_url
from bmsync.s3 import listing, markers, multipart, reads, trash, writes
from bmsync.s3.bucket import Bucket
from bmsync.s3.conditions import ConditionalWrites
from bmsync.s3.multipart import MULTIPART_THRESHOLD, PART_BYTES, PartSizes
from bmsync.s3.pool import pooled_s3_client
from bmsync.s3.throttles import throttle_counter
from bmsync.types import PutMode, RemoteListing, RemoteMeta, TrashedObject


@contextlib.asynccontextmanager
async def open_remote(
    remote: str | RemoteLocation, config: S3Config | None = None
) -> AsyncIterator[S3Remote]:
    """An `S3Remote` for an `s3://bucket/prefix` URL (or a parsed location), with a client
    kept open between runs of this process (`bmsync.s3.pool`)."""
    location = parse_remote_url(remote) if isinstance(remote, str) else remote
    async with pooled_s3_client(config or S3Config()) as client:
        yield S3Remote(client, location)


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
        self._parts = PartSizes(multipart_threshold, part_bytes)
        self._bucket = Bucket(client, location)
        self._conditions = ConditionalWrites(self._bucket, conditional_writes)
        self._keeps_markers: bool | None = None
        self._throttles = throttle_counter(client)
        self._throttles_before = self._throttles.count

    @property
    def location(self) -> RemoteLocation:
        return self._bucket.location

    @property
    def url(self) -> str:
        return self.location.url

    @property
    def bucket(self) -> str:
        return self._bucket.name

    @property
    def client(self) -> Any:
        """The aiobotocore client, for event hooks (tests) and requests this class lacks."""
        return self._bucket.client

    @property
    def conditional_writes(self) -> bool | None:
        """Whether the store enforces conditional writes: None until learnt (or when the probe
        failed), False once found to ignore or reject them."""
        return self._conditions.enforced

    @conditional_writes.setter
    def conditional_writes(self, enforced: bool | None) -> None:
        self._conditions.enforced = enforced

    async def probe_conditional_writes(self) -> bool | None:
        """Find out whether the store enforces `If-None-Match: *` on PUT (see `conditions`)."""
        return await self._conditions.probe()

    @property
    def throttled(self) -> int:
        """Throttled answers since this remote was made (the client's count is older: it is
        kept between runs, one run at a time)."""
        return self._throttles.count - self._throttles_before

    async def list_objects(self) -> RemoteListing:
        return await listing.list_objects(self._bucket)

    async def list_folders(self) -> list[str]:
        return await listing.list_folders(self._bucket)

    async def head(self, relkey: str) -> RemoteMeta | None:
        return await reads.head(self._bucket, relkey)

    async def download(
        self, relkey: str, sink: ByteSink, *, if_match: str | None, verify: bool
    ) -> RemoteMeta:
        return await reads.download(self._bucket, relkey, sink, if_match=if_match, verify=verify)

    async def upload(
        self, relkey: str, source: LocalSource, *, mode: PutMode, verify: bool
    ) -> RemoteMeta:
        return await writes.upload(
            self._bucket, self._conditions, self._parts, relkey, source, mode=mode, verify=verify
        )

    async def delete(self, relkey: str, *, if_match: str | None) -> None:
        await writes.delete(self._bucket, self._conditions, relkey, if_match=if_match)

    async def copy(
        self, src_relkey: str, dst_relkey: str, *, if_match: str | None, mode: PutMode
    ) -> RemoteMeta:
        return await writes.copy(
            self._bucket, self._conditions, src_relkey, dst_relkey, if_match=if_match, mode=mode
        )

    async def put_marker(self, folder: str) -> None:
        await markers.put_marker(self._bucket, self._conditions, folder)

    async def delete_marker(self, folder: str, *, if_match: str | None) -> None:
        await markers.delete_marker(self._bucket, self._conditions, folder, if_match=if_match)

    async def keeps_markers(self) -> bool:
        """Probed once per remote (`markers.probe`)."""
        if self._keeps_markers is None:
            self._keeps_markers = await markers.probe(self._bucket)
        return self._keeps_markers

    async def preserve(self, relkey: str, run_id: str, *, if_match: str | None) -> None:
        await trash.preserve(self._bucket, relkey, run_id, if_match=if_match)

    async def purge_trash(self, older_than: datetime) -> int:
        return await trash.purge_trash(self._bucket, older_than)

    async def list_trash(self) -> list[TrashedObject]:
        return await trash.list_trash(self._bucket)

    async def download_trashed(self, run_id: str, relkey: str, sink: ByteSink) -> RemoteMeta:
        return await trash.download_trashed(self._bucket, run_id, relkey, sink)

    async def abort_stale_uploads(self, older_than: datetime) -> int:
        return await multipart.abort_stale_uploads(self._bucket, older_than)
