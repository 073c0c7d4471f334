"""A pure in-memory `RemoteStore` for fast engine unit tests.

Integration tests use real S3 servers (tests/servers.py); this stand-in exists so the engine's
own logic (executor ordering, crash recovery, guards) can be tested thousands of times quickly.
It behaves like a strict S3: MD5 ETags, honoured conditional requests.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from bmsync.failures import FileActionError, RemoteChanged, RemoteMissing
from bmsync.names import canonical
from bmsync.ports import ByteSink
from bmsync.runs import run_started
from bmsync.types import (
    Create,
    PutMode,
    RemoteListing,
    RemoteMeta,
    RemoteObject,
    TrashedObject,
    Update,
)


@dataclass
class StoredObject:
    data: bytes
    metadata: dict[str, str]
    last_modified_ns: int

    @property
    def etag(self) -> str:
        return hashlib.md5(self.data).hexdigest()


@dataclass
class MemoryRemote:
    objects: dict[str, StoredObject] = field(default_factory=dict)
    trash: dict[str, StoredObject] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    fail_on: set[str] = field(default_factory=set)
    """Relkeys whose uploads/downloads fail, to test per-file error handling."""

    @property
    def url(self) -> str:
        return "s3://memory/project"

    def put_bytes(self, relkey: str, data: bytes, mtime_ns: int | None = None) -> None:
        """Write as another client would (no xxh3 metadata unless given)."""
        metadata = {} if mtime_ns is None else {"mtime": f"{mtime_ns / 1e9:.9f}"}
        self.objects[relkey] = StoredObject(data, metadata, time.time_ns())

    def _meta(self, obj: StoredObject) -> RemoteMeta:
        mtime = obj.metadata.get("mtime")
        return RemoteMeta(
            obj.etag,
            len(obj.data),
            obj.last_modified_ns,
            round(float(mtime) * 1e9) if mtime else None,
            obj.metadata.get("xxh3"),
        )

    async def list_objects(self) -> RemoteListing:
        self.calls.append("list")
        return RemoteListing(
            {
                canonical(k): RemoteObject(
                    canonical(k),
                    len(o.data),
                    o.etag,
                    o.last_modified_ns,
                    raw_relkey=k if canonical(k) != k else "",
                )
                for k, o in self.objects.items()
            }
        )

    async def head(self, relkey: str) -> RemoteMeta | None:
        self.calls.append(f"head {relkey}")
        obj = self.objects.get(relkey)
        return None if obj is None else self._meta(obj)

    def _check(self, relkey: str, mode: PutMode) -> None:
        current = self.objects.get(relkey)
        if isinstance(mode, Create) and current is not None:
            raise RemoteChanged(f"{relkey}: an object appeared")
        if isinstance(mode, Update) and (current is None or current.etag != mode.etag):
            raise RemoteChanged(f"{relkey}: the object changed")

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
        self.calls.append(f"put {relkey}")
        if relkey in self.fail_on:
            raise FileActionError(f"{relkey}: injected failure")
        self._check(relkey, mode)
        data = source.read_bytes()
        obj = StoredObject(data, {"mtime": f"{mtime_ns / 1e9:.9f}", "xxh3": xxh3}, time.time_ns())
        self.objects[relkey] = obj
        return self._meta(obj)

    async def download(
        self, relkey: str, sink: ByteSink, *, if_match: str | None, verify: bool
    ) -> RemoteMeta:
        self.calls.append(f"get {relkey}")
        if relkey in self.fail_on:
            raise FileActionError(f"{relkey}: injected failure")
        obj = self.objects.get(relkey)
        if obj is None:
            raise RemoteMissing(f"{relkey}: gone")
        if if_match is not None and obj.etag != if_match:
            raise RemoteChanged(f"{relkey}: changed")
        sink.write(obj.data)
        return self._meta(obj)

    async def delete(self, relkey: str, *, if_match: str | None) -> None:
        self.calls.append(f"delete {relkey}")
        obj = self.objects.get(relkey)
        if obj is None:
            return
        if if_match is not None and obj.etag != if_match:
            raise RemoteChanged(f"{relkey}: changed")
        del self.objects[relkey]

    async def copy(self, src_relkey: str, dst_relkey: str, *, if_match: str | None) -> RemoteMeta:
        self.calls.append(f"copy {src_relkey} {dst_relkey}")
        obj = self.objects.get(src_relkey)
        if obj is None:
            raise RemoteMissing(f"{src_relkey}: gone")
        if if_match is not None and obj.etag != if_match:
            raise RemoteChanged(f"{src_relkey}: changed")
        copied = StoredObject(obj.data, dict(obj.metadata), time.time_ns())
        self.objects[dst_relkey] = copied
        return self._meta(copied)

    async def preserve(self, relkey: str, run_id: str, *, if_match: str | None) -> None:
        self.calls.append(f"preserve {relkey}")
        obj = self.objects.get(relkey)
        if obj is None:
            raise RemoteMissing(f"{relkey}: gone")
        if if_match is not None and obj.etag != if_match:
            raise RemoteChanged(f"{relkey}: changed")
        self.trash[f"{run_id}/{relkey}"] = obj

    async def purge_trash(self, older_than: datetime) -> int:
        expired = {
            key.split("/", 1)[0]
            for key in self.trash
            if (started := run_started(key.split("/", 1)[0])) is not None and started < older_than
        }
        for key in [k for k in self.trash if k.split("/", 1)[0] in expired]:
            del self.trash[key]
        return len(expired)

    async def list_trash(self) -> list[TrashedObject]:
        return [
            TrashedObject(key.split("/", 1)[0], key.split("/", 1)[1], len(obj.data))
            for key, obj in self.trash.items()
        ]

    async def download_trashed(self, run_id: str, relkey: str, sink: ByteSink) -> RemoteMeta:
        obj = self.trash.get(f"{run_id}/{relkey}")
        if obj is None:
            raise RemoteMissing(f"{run_id}/{relkey}: not in the trash")
        sink.write(obj.data)
        return self._meta(obj)

    async def abort_stale_uploads(self, older_than: datetime) -> int:
        """No multipart uploads here: every upload is whole or absent."""
        return 0

    def contents(self) -> dict[str, bytes]:
        return {k: o.data for k, o in self.objects.items()}
