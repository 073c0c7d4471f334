"""The seams between the sync pipeline and the outside world, public for implementers.

The pipeline talks to a bucket only through `RemoteStore` and to its saved state only through
`SnapshotStore`, so the same pipeline runs against a real server (`bmsync.s3.remote.S3Remote`),
the in-memory `bmsync.testing.MemoryRemote`, or a new kind of remote (WebDAV, a folder): one
adapter behind these protocols. A method that fails for one path raises a
`bmsync.failures.FileActionError`; one that fails for the whole remote raises a
`bmsync.errors.BmsyncError`.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Iterable, Mapping
from datetime import datetime
from typing import Protocol

from bmsync.types import (
    PutMode,
    RemoteListing,
    RemoteMeta,
    Settlement,
    SnapshotEntry,
    TrashedObject,
)


class ByteSink(Protocol):
    def write(self, data: bytes, /) -> object: ...


class LocalSource(Protocol):
    """A local file as the scan saw it, handed to `RemoteStore.upload` to read.

    The file may have changed since the scan, so its reads check it against what was scanned:
    one that is shorter or longer than `size`, gone, or whose bytes do not hash to `xxh3`
    raises `bmsync.failures.LocalChanged` instead of being stored under the old content's
    identity (a later comparison by hash would otherwise call two different contents equal).
    Every remote reads through it, so every remote gets the same checks. Implemented by
    `bmsync.local.source.FileSource`.
    """

    @property
    def path(self) -> str:
        """Where the file is, for messages."""
        ...

    @property
    def size(self) -> int: ...

    @property
    def mtime_ns(self) -> int: ...

    @property
    def xxh3(self) -> str:
        """The xxh3-128 hex digest of the content the scan read."""
        ...

    def chunks(self, chunk_bytes: int) -> AsyncGenerator[bytes, None]:
        """The content in order, in chunks of at most `chunk_bytes`, read off the event loop.

        Raises `LocalChanged` where the file ends early, and after the last chunk (before the
        iteration ends) when it goes on past `size` or its bytes do not hash to `xxh3`: a
        caller sending each chunk as it comes must not finish the write until the iteration
        has ended. Close it (`contextlib.aclosing`) when stopping early.
        """
        ...

    async def read_all(self) -> bytes:
        """The whole content, checked like `chunks`."""
        ...


class RemoteStore(Protocol):
    """One S3 prefix, addressed by project-relative keys (`relkey`)."""

    @property
    def url(self) -> str:
        """`s3://bucket/prefix`, for messages."""
        ...

    @property
    def throttled(self) -> int:
        """How many of this remote's requests the store has answered "slow down" (HTTP 503
        SlowDown, 429, a throttling error code) since the remote was opened, retried or not;
        it only ever grows. The executor reads it as each small action ends, and runs fewer of
        them at once while it grows (`bmsync.engine.aimd`). A store that never throttles says 0.
        """
        ...

    async def list_objects(self) -> RemoteListing: ...

    async def list_folders(self) -> list[str]:
        """The names of the folders directly below the prefix (the projects of a bucket that
        holds one per top-level folder); the remote trash is not one."""
        ...

    async def head(self, relkey: str) -> RemoteMeta | None:
        """None when there is no such object."""
        ...

    async def upload(
        self, relkey: str, source: LocalSource, *, mode: PutMode, verify: bool
    ) -> RemoteMeta:
        """Store `source` with its `mtime` and `xxh3` as metadata; return the new object's
        identity.

        Raises `LocalChanged` when the source's reads find the file changed since the scan (and
        stores nothing), `RemoteChanged` when `mode`'s condition fails, `FileActionError` when
        `verify` finds that the stored object is not what was sent.
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

    async def copy(
        self, src_relkey: str, dst_relkey: str, *, if_match: str | None, mode: PutMode
    ) -> RemoteMeta:
        """Server-side copy keeping the metadata; returns the new object's identity.

        `if_match` is the source's condition, `mode` the destination's, as for an upload (a
        move's destination must be free: `Create`): `RemoteChanged` when either fails."""
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

    async def put_marker(self, folder: str) -> None:
        """Create the zero-byte marker `folder/` (for `""`, the prefix's own `prefix/`) unless
        one is there: conditional (`Create`) where the store allows, and a marker that appeared
        meanwhile is no error, since markers hold no data and a lost race costs nothing."""
        ...

    async def delete_marker(self, folder: str, *, if_match: str | None) -> None:
        """Delete the marker `folder/`; one already gone is no error, one rewritten since it
        was listed (`if_match`) is `RemoteChanged`."""
        ...

    async def keeps_markers(self) -> bool:
        """Whether the store keeps `folder/` markers as such. A store that maps keys onto a
        file system (`rclone serve s3`) turns one into an empty file, or refuses it and then
        lists the folder's files wrongly, so a run must write none there."""
        ...

    async def abort_stale_uploads(self, older_than: datetime) -> int:
        """Abort multipart uploads below the prefix begun before `older_than`; returns how many.

        A run killed mid-upload leaves its parts stored (and billed) until aborted; a run never
        lasts long enough for an upload begun a day ago to be alive.
        """
        ...


class SnapshotStore(Protocol):
    """What both sides of one project held when they last agreed, and the run history.

    Implemented by `bmsync.state.store.SqliteSnapshotStore`. `apply` is one transaction: all of
    it lands or none, which is what makes a killed run safe to continue.
    """

    async def load(self) -> dict[str, SnapshotEntry]: ...

    async def apply(
        self,
        upserts: Iterable[SnapshotEntry],
        deletes: Iterable[str],
        *,
        settle: Iterable[Settlement] = (),
    ) -> None:
        """Upsert and delete rows and record settlements, in one transaction; a row written or
        deleted for a path drops that path's settlements."""
        ...

    async def load_settled(self) -> list[Settlement]:
        """The push and pull conflicts that `keep-both` settled (`bmsync.types.Settlement`)."""
        ...

    async def load_folders(self) -> set[str]:
        """The folders both sides held when they last agreed (kept only by runs with
        `dir_markers`): the baseline that tells a folder deleted on one side from one new on
        the other."""
        ...

    async def apply_folders(self, agreed: Iterable[str], gone: Iterable[str]) -> None:
        """Add `agreed` to the folder baseline and drop `gone`, in one transaction."""
        ...

    async def get_meta(self, key: str) -> str | None: ...

    async def set_meta(self, key: str, value: str) -> None: ...

    async def begin_run(self, run_id: str, started_at: datetime) -> None: ...

    async def finish_run(self, run_id: str, status: str, summary: Mapping[str, object]) -> None: ...
