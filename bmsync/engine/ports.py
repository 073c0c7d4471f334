"""The seams between the engine and the outside world.

The engine talks to S3 only through `RemoteStore`, so the same engine runs against a real server
(`bmsync.s3.remote.S3Remote`) or an in-memory stand-in in unit tests. Per-file failures are the
`FileActionError` family: the executor catches them, reports them and leaves that path's snapshot
row as it was so the next run retries.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

from bmsync.engine.model import RemoteMeta, RemoteObject


class FileActionError(Exception):
    """One path could not be synced this run; the run goes on."""


class TransientError(FileActionError):
    """A network failure that outlasted the client's retries mid-transfer; worth one more try."""


class RemoteChanged(FileActionError):
    """The object is no longer what the listing showed (a conditional request failed)."""


class RemoteMissing(FileActionError):
    """The object vanished between the listing and the request."""


class LocalChanged(FileActionError):
    """The local file changed after the scan; it is left for the next run."""


@dataclass(frozen=True, slots=True)
class Create:
    """Write only if no object exists at the key (`If-None-Match: *`)."""


@dataclass(frozen=True, slots=True)
class Update:
    """Write only if the object still has this ETag (`If-Match`)."""

    etag: str


@dataclass(frozen=True, slots=True)
class Overwrite:
    """Write whatever is there."""


PutMode = Create | Update | Overwrite


@dataclass(frozen=True, slots=True)
class RejectedKey:
    """A listed key that cannot be a local path (`..`, control characters, …)."""

    key: str
    reason: str


@dataclass(frozen=True, slots=True)
class RemoteListing:
    objects: dict[str, RemoteObject]
    """By NFC path relative to the prefix; folder markers (keys ending in `/`) are left out."""
    rejected: Sequence[RejectedKey] = ()


@dataclass(frozen=True, slots=True)
class TrashedObject:
    """One version in the remote trash: what run `run_id` deleted or overwrote at `relkey`."""

    run_id: str
    relkey: str
    size: int


class ByteSink(Protocol):
    def write(self, data: bytes, /) -> object: ...


class RemoteStore(Protocol):
    """One S3 prefix, addressed by project-relative keys (`relkey`)."""

    @property
    def url(self) -> str:
        """`s3://bucket/prefix`, for messages."""
        ...

    async def list_objects(self) -> RemoteListing: ...

    async def head(self, relkey: str) -> RemoteMeta | None:
        """None when there is no such object."""
        ...

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
        """Store `source` with metadata `mtime` and `xxh3`; return the new object's identity.

        Raises `RemoteChanged` when `mode`'s condition fails, `FileActionError` when `verify` finds
        that the stored object is not what was sent.
        """
        ...

    async def download(
        self, relkey: str, sink: ByteSink, *, if_match: str | None, verify: bool
    ) -> RemoteMeta:
        """Stream the object into `sink`; the returned meta comes from the GET's headers."""
        ...

    async def delete(self, relkey: str, *, if_match: str | None) -> None:
        """Delete; an already missing object is not an error."""
        ...

    async def copy(self, src_relkey: str, dst_relkey: str, *, if_match: str | None) -> RemoteMeta:
        """Server-side copy keeping the metadata; returns the new object's identity."""
        ...

    async def preserve(self, relkey: str, run_id: str, *, if_match: str | None) -> None:
        """Copy the object into the remote trash before the sync deletes or overwrites it.

        The trash lives outside the synced prefix (`.bmsync-trash/<prefix>/<run_id>/<relkey>` in
        the same bucket), so it never syncs back; `RemoteMissing` when there is nothing to keep.
        """
        ...

    async def purge_trash(self, older_than: datetime) -> int:
        """Delete the remote trash of runs started before `older_than`; returns how many runs."""
        ...

    async def list_trash(self) -> list[TrashedObject]:
        """Every version in this prefix's remote trash (any order)."""
        ...

    async def download_trashed(self, run_id: str, relkey: str, sink: ByteSink) -> RemoteMeta:
        """GET one trashed version into `sink` (`RemoteMissing` if the retention removed it)."""
        ...

    async def abort_stale_uploads(self, older_than: datetime) -> int:
        """Abort multipart uploads below the prefix begun before `older_than`; returns how many.

        A run killed mid-upload leaves its parts stored (and billed) until aborted; a run never
        lasts long enough for an upload begun a day ago to be alive.
        """
        ...
