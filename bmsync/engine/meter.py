"""What the executor tells a `progress` callback: each action as a word, its bytes, and the
bytes of a large file as they move (`bmsync.progress` has the events and their order).

The bytes of a large transfer are counted where they pass: the download's sink and the upload's
source are wrapped (`MeteredSink`, `MeteredSource`) only when there is a callback and the file
is large, so a run without a UI, or of small notes, pays nothing.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import assert_never

from bmsync.engine.actions import (
    Action,
    DeleteLocal,
    DeleteRemote,
    Download,
    DownloadCopy,
    Forget,
    MoveLocal,
    MoveRemote,
    Record,
    ResolveConflict,
    Settle,
    Upload,
    UploadCopy,
)
from bmsync.ports import ByteSink, LocalSource
from bmsync.progress import LARGE_FILE, ActionName, ProgressFn, TransferEvent
from bmsync.types import Side


def action_name(action: Action) -> ActionName:
    """The word a UI shows for an action (never its class name, which may change)."""
    match action:
        case Upload() | UploadCopy():
            return "upload"
        case Download() | DownloadCopy():
            return "download"
        case DeleteLocal():
            return "delete-local"
        case DeleteRemote():
            return "delete-remote"
        case ResolveConflict():
            return "conflict"
        case Record() | Forget() | Settle():
            return "record"
        case MoveRemote() | MoveLocal():
            return "move"
        case _:
            assert_never(action)


def planned_bytes(action: Action) -> int:
    """The bytes an action moves, both ways together, as `Executor._perform` carries it out."""
    sent, received = transfer_bytes(action)
    return sent + received


def transfer_bytes(action: Action) -> tuple[int, int]:
    """The bytes an action sends and receives, as `Executor._perform` carries it out (what a
    dry run reports it would move)."""
    match action:
        case Upload() | UploadCopy():
            return action.local.size, 0
        case Download() | DownloadCopy():
            return 0, action.remote.size
        case ResolveConflict() if action.kept_at_path is Side.REMOTE:
            # The local loser up to its copy (unless a push's keep-both put it there), the
            # remote winner down.
            return (action.local.size if action.remote_copy is None else 0), action.remote.size
        case ResolveConflict():  # the remote loser down to its copy, unless kept already
            return action.local.size, (action.remote.size if action.kept_copy is None else 0)
        case (
            DeleteLocal()
            | DeleteRemote()
            | Record()
            | Forget()
            | Settle()
            | MoveRemote()
            | MoveLocal()
        ):
            return 0, 0  # a move copies on the server or renames locally: no bytes travel
        case _:
            assert_never(action)


class Meter:
    """The bytes one action moved so far; sends a `TransferEvent` each `LARGE_FILE` bytes."""

    def __init__(self, progress: ProgressFn, action: Action) -> None:
        self._progress = progress
        self._name = action_name(action)
        self._path = action.path
        self.total = planned_bytes(action)
        self._done = 0
        self._next = LARGE_FILE

    def restart(self) -> None:
        """A retried attempt moves the bytes again."""
        self._done, self._next = 0, LARGE_FILE

    def add(self, size: int) -> None:
        self._done += size
        if self._done >= self._next:
            self._next = (self._done // LARGE_FILE + 1) * LARGE_FILE
            done = min(self._done, self.total)
            self._progress(TransferEvent(self._name, self._path, done, self.total))


@dataclass(frozen=True, slots=True)
class MeteredSink:
    """A download's sink that counts what it is given."""

    sink: ByteSink
    meter: Meter

    def write(self, data: bytes, /) -> object:
        written = self.sink.write(data)
        self.meter.add(len(data))
        return written


@dataclass(frozen=True, slots=True)
class MeteredSource:
    """An upload's source that counts each chunk once it is sent."""

    source: LocalSource
    meter: Meter

    @property
    def path(self) -> str:
        return self.source.path

    @property
    def size(self) -> int:
        return self.source.size

    @property
    def mtime_ns(self) -> int:
        return self.source.mtime_ns

    @property
    def xxh3(self) -> str:
        return self.source.xxh3

    async def chunks(self, chunk_bytes: int) -> AsyncGenerator[bytes, None]:
        # Closed with this generator, so a caller stopping early closes the file's reads too.
        async with contextlib.aclosing(self.source.chunks(chunk_bytes)) as chunks:
            async for chunk in chunks:
                yield chunk
                # Asked for the next one: this one is sent (a part of a multipart upload).
                self.meter.add(len(chunk))

    async def read_all(self) -> bytes:
        """Uncounted: one request sends it all, and the action's end counts it."""
        return await self.source.read_all()


def metered(meter: Meter | None) -> Meter | None:
    """The meter, when its action is large enough to report its bytes as they move."""
    return meter if meter is not None and meter.total >= LARGE_FILE else None
