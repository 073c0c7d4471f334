"""`MemoryRemote`: an in-memory `RemoteStore`, the test seam for the sync pipeline.

Pass it as `remote=` to `bmsync.sync_project` (or any command) to run the whole pipeline with
no server: thousands of runs a second, for unit tests, property tests and notebooks, as httpx
ships `MockTransport`. It keeps the checks `bmsync.s3.remote.S3Remote` makes, so a test passing
here does not lean on leniency a real store would not show:

- ETags are the MD5 of the content, as a single PUT's are;
- `Create` fails with `RemoteChanged` if the key exists, `Update` and `if_match` when the
  object's ETag moved (or it is gone), on upload, delete, copy, preserve and download; a
  missing object is `RemoteMissing` to copy, preserve and download, and no error to delete;
- uploads read through the `LocalSource`, so a file changed since the scan is `LocalChanged`
  and nothing is stored;
- the trash holds run folders (`<run_id>/<relkey>`), emptied by `purge_trash` for runs started
  before the cut-off.

Keys ending in `/` are folder markers, listed apart from the files as the S3 listing does;
`keeps_folder_markers=False` plays a store that cannot keep them (`rclone serve s3`).

Every call is recorded in `calls` ("list", "head a.md", "put a.md", "purge_trash", ...),
housekeeping included, so a test can assert what a run sent. `fail_on` injects per-file
failures; `put_bytes` writes as another client would; `contents` shows what is stored.
Integration tests run the same pipeline on real servers (moto, `rclone serve s3`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime

from bmsync.digests import new_md5
from bmsync.failures import FileActionError, RemoteChanged, RemoteMissing
from bmsync.names import DATA_IN_FOLDER_KEY, canonical, path_problem
from bmsync.ports import ByteSink, LocalSource
from bmsync.runs import expired_runs, trash_runs
from bmsync.types import (
    Create,
    FolderMarker,
    PutMode,
    RejectedKey,
    RemoteListing,
    RemoteMeta,
    RemoteObject,
    TrashedObject,
    Update,
)

__all__ = ["MemoryRemote", "StoredObject"]


@dataclass
class StoredObject:
    data: bytes
    metadata: dict[str, str]
    """User metadata as bmsync writes it: `mtime` (decimal seconds) and `xxh3`."""
    last_modified_ns: int

    @property
    def etag(self) -> str:
        return new_md5(self.data).hexdigest()


@dataclass
class MemoryRemote:
    objects: dict[str, StoredObject] = field(default_factory=dict)
    """By relkey, as stored (a key may be spelled in NFD; the listing shows its NFC path)."""
    trash: dict[str, StoredObject] = field(default_factory=dict)
    """By `<run_id>/<relkey>`."""
    calls: list[str] = field(default_factory=list)
    """Every request, in order."""
    fail_on: set[str] = field(default_factory=set)
    """Relkeys whose uploads/downloads fail (`dir/` for a marker), to test per-file errors."""
    keeps_folder_markers: bool = True
    """What `keeps_markers` answers: False plays a store that maps keys onto a file system."""
    throttled: int = 0
    """`RemoteStore.throttled`: nothing here throttles; a test raises it to play a store that
    asks to slow down."""

    @property
    def url(self) -> str:
        return "s3://memory/project"

    # -- helpers for tests -----------------------------------------------------------------

    def put_bytes(self, relkey: str, data: bytes, mtime_ns: int | None = None) -> None:
        """Write as another client would (no xxh3 metadata unless given)."""
        metadata = {} if mtime_ns is None else {"mtime": f"{mtime_ns / 1e9:.9f}"}
        self.objects[relkey] = StoredObject(data, metadata, time.time_ns())

    def contents(self) -> dict[str, bytes]:
        return {k: o.data for k, o in self.objects.items()}

    # -- RemoteStore ---------------------------------------------------------------------------

    async def list_objects(self) -> RemoteListing:
        self.calls.append("list")
        listed: dict[str, RemoteObject] = {}
        rejected: list[RejectedKey] = []
        folders: dict[str, FolderMarker] = {}
        prefix_marked = False
        # NFC-spelled keys first, so that of two spellings of one name the NFC one wins, as in
        # the S3 remote's listing; keys no local file could be named are rejected, not listed.
        for key in sorted(self.objects, key=lambda k: canonical(k) != k):
            obj, path = self.objects[key], canonical(key)
            if key.endswith("/"):
                folder, raw = path[:-1], (key[:-1] if path != key else "")
                if obj.data:  # not a marker, and no file either
                    rejected.append(RejectedKey(key, DATA_IN_FOLDER_KEY))
                    continue
                if not folder:
                    prefix_marked = True
                elif path_problem(folder) is None:
                    folders.setdefault(folder, FolderMarker(folder, obj.etag, raw))
                continue
            problem = "empty key" if not key else path_problem(path)
            if problem is None and path in listed:
                problem = f"same name as {listed[path].relkey!r} after Unicode normalisation (NFC)"
            if problem is not None:
                rejected.append(RejectedKey(key, problem))
                continue
            raw = key if path != key else ""
            listed[path] = RemoteObject(path, len(obj.data), obj.etag, obj.last_modified_ns, raw)
        return RemoteListing(listed, tuple(rejected), folders, prefix_marked)

    async def list_folders(self) -> list[str]:
        self.calls.append("list_folders")
        folders = {key.split("/", 1)[0] for key in self.objects if "/" in key}
        return sorted(name for name in folders if path_problem(name) is None)

    async def head(self, relkey: str) -> RemoteMeta | None:
        self.calls.append(f"head {relkey}")
        obj = self.objects.get(relkey)
        return None if obj is None else _meta(obj)

    async def upload(
        self, relkey: str, source: LocalSource, *, mode: PutMode, verify: bool
    ) -> RemoteMeta:
        self.calls.append(f"put {relkey}")
        self._inject_failure(relkey)
        # Read first, as the S3 remote does: a changed local file fails before any condition.
        data = await source.read_all()
        self._check_put(relkey, mode)
        metadata = {"mtime": f"{source.mtime_ns / 1e9:.9f}", "xxh3": source.xxh3}
        obj = StoredObject(data, metadata, time.time_ns())
        self.objects[relkey] = obj
        return _meta(obj)

    async def download(
        self, relkey: str, sink: ByteSink, *, if_match: str | None, verify: bool
    ) -> RemoteMeta:
        self.calls.append(f"get {relkey}")
        self._inject_failure(relkey)
        obj = self._existing(relkey, if_match)
        sink.write(obj.data)
        return _meta(obj)

    async def delete(self, relkey: str, *, if_match: str | None) -> None:
        self.calls.append(f"delete {relkey}")
        self._delete(relkey, if_match)

    async def copy(
        self, src_relkey: str, dst_relkey: str, *, if_match: str | None, mode: PutMode
    ) -> RemoteMeta:
        self.calls.append(f"copy {src_relkey} {dst_relkey}")
        self._inject_failure(dst_relkey)
        obj = self._existing(src_relkey, if_match)
        self._check_put(dst_relkey, mode)
        copied = StoredObject(obj.data, dict(obj.metadata), time.time_ns())
        self.objects[dst_relkey] = copied
        return _meta(copied)

    async def put_marker(self, folder: str) -> None:
        self.calls.append(f"put_marker {folder}")
        self._inject_failure(f"{folder}/")
        if folder and path_problem(canonical(folder)) is not None:
            raise FileActionError(f"{folder}/: no local folder could have this name")
        self.objects.setdefault(f"{folder}/", StoredObject(b"", {}, time.time_ns()))

    async def delete_marker(self, folder: str, *, if_match: str | None) -> None:
        self.calls.append(f"delete_marker {folder}")
        self._inject_failure(f"{folder}/")
        self._delete(f"{folder}/", if_match)

    async def keeps_markers(self) -> bool:
        self.calls.append("probe_markers")
        return self.keeps_folder_markers

    async def preserve(self, relkey: str, run_id: str, *, if_match: str | None) -> None:
        self.calls.append(f"preserve {relkey}")
        self.trash[f"{run_id}/{relkey}"] = self._existing(relkey, if_match)

    async def purge_trash(self, older_than: datetime) -> int:
        self.calls.append("purge_trash")
        expired = set(expired_runs({key.split("/", 1)[0] for key in self.trash}, older_than))
        for key in [k for k in self.trash if k.split("/", 1)[0] in expired]:
            del self.trash[key]
        return len(expired)

    async def list_trash(self) -> list[TrashedObject]:
        self.calls.append("list_trash")
        by_run: dict[str, list[tuple[str, int]]] = {}
        for key, obj in self.trash.items():
            run_id, _, relkey = key.partition("/")
            by_run.setdefault(run_id, []).append((relkey, len(obj.data)))
        return [
            TrashedObject(run_id, relkey, size)
            for run_id, _ in trash_runs(by_run)
            for relkey, size in by_run[run_id]
        ]

    async def download_trashed(self, run_id: str, relkey: str, sink: ByteSink) -> RemoteMeta:
        self.calls.append(f"get_trashed {run_id}/{relkey}")
        obj = self.trash.get(f"{run_id}/{relkey}")
        if obj is None:
            raise RemoteMissing(f"{run_id}/{relkey}: not in the trash")
        sink.write(obj.data)
        return _meta(obj)

    async def abort_stale_uploads(self, older_than: datetime) -> int:
        """No multipart uploads here: every upload is whole or absent."""
        self.calls.append("abort_stale_uploads")
        return 0

    # -- the checks ------------------------------------------------------------------------------

    def _inject_failure(self, relkey: str) -> None:
        if relkey in self.fail_on:
            raise FileActionError(f"{relkey}: injected failure")

    def _check_put(self, relkey: str, mode: PutMode) -> None:
        current = self.objects.get(relkey)
        if isinstance(mode, Create) and current is not None:
            raise RemoteChanged(f"{relkey}: an object appeared")
        if isinstance(mode, Update) and (current is None or current.etag != mode.etag):
            raise RemoteChanged(f"{relkey}: the object changed")

    def _delete(self, key: str, if_match: str | None) -> None:
        if key in self.objects:
            self._existing(key, if_match)
            del self.objects[key]

    def _existing(self, relkey: str, if_match: str | None) -> StoredObject:
        """The object, which must exist and, with `if_match`, still have that ETag."""
        obj = self.objects.get(relkey)
        if obj is None:
            raise RemoteMissing(f"{relkey}: gone")
        if if_match is not None and obj.etag != if_match:
            raise RemoteChanged(f"{relkey}: changed")
        return obj


def _meta(obj: StoredObject) -> RemoteMeta:
    mtime = obj.metadata.get("mtime")
    return RemoteMeta(
        obj.etag,
        len(obj.data),
        obj.last_modified_ns,
        round(float(mtime) * 1e9) if mtime else None,
        obj.metadata.get("xxh3"),
    )
