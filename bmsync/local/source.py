"""`FileSource`: a scanned local file as an upload reads it (`bmsync.ports.LocalSource`).

The file may have changed between the scan and the upload, and what is stored must be what the
scan described, or the object would carry the old content's `xxh3`. So each read checks the
file against the scan: it must still be a regular file (opened with `open_regular`, which never
follows a link swapped in or blocks on a FIFO), exactly `size` bytes long, and its bytes must
hash to the scanned `xxh3`. A file that fails is `LocalChanged`, left for the next run.
A source made by `scanned` also checks, before it opens the file, that its size and mtime are
still the scan's (`ops.check_unchanged`), so a file touched since is left alone too.

Reads run off the event loop, in as few hand-offs to a thread as possible: each costs more CPU
than a note's read itself, and a first sync of notes uploads thousands of small files. A
whole-file read (`read_all`, every file below the multipart threshold) is one: check, open,
read, hash, close; a file of at most `INLINE_READ_BYTES` (most notes) is read on the event loop
itself, which stalls the loop for no longer than the hand-off would have cost. A chunked read
is one hand-off for the check and the open, then one per chunk.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from bmsync.digests import new_hasher
from bmsync.failures import FileActionError, LocalChanged
from bmsync.local.hashing import open_regular
from bmsync.local.ops import check_unchanged
from bmsync.types import LocalFile
from bmsync.workers import off_loop

INLINE_READ_BYTES = 64 << 10
"""Files up to this size are read without a thread: a `stat`, an `open` that never blocks (see
`open_regular`) and one read of a page-cached note take tens of microseconds, less than the
hand-off to a thread and back (measured: a first sync of 5,000 notes spent 5.5 % of its event
loop's time in `to_thread`)."""


@dataclass(frozen=True, slots=True)
class FileSource:
    file: Path
    size: int
    mtime_ns: int
    xxh3: str
    scan: tuple[Path, LocalFile] | None = None
    """The project root and the scan's record, when the file must still match it (`scanned`)."""

    @classmethod
    def scanned(cls, root: Path, local: LocalFile) -> FileSource:
        """The file the scan found at `local` below `root`; it must still have the scan's size
        and mtime when it is read."""
        return cls(root / local.os_relpath, local.size, local.mtime_ns, local.xxh3, (root, local))

    @property
    def path(self) -> str:
        return str(self.file)

    async def chunks(self, chunk_bytes: int) -> AsyncGenerator[bytes, None]:
        """See `LocalSource.chunks`: `size` bytes in order, then the length and hash checks."""
        hasher = new_hasher()
        handle = await off_loop(self._open)
        try:
            remaining = self.size
            while remaining > 0:
                with _read_errors(self.file):
                    data = await off_loop(handle.read, min(chunk_bytes, remaining))
                if not data:
                    raise self._shorter()
                remaining -= len(data)
                hasher.update(data)
                yield data
            with _read_errors(self.file):
                more = await off_loop(handle.read, 1)
        finally:
            handle.close()
        self._check_end(more, hasher.hexdigest())

    async def read_all(self) -> bytes:
        """The whole content, read and checked in one hand-off to a thread (none for a file of
        at most `INLINE_READ_BYTES`)."""
        if self.size <= INLINE_READ_BYTES:
            return self._read_all()
        return await asyncio.to_thread(self._read_all)

    def _open(self) -> BinaryIO:
        if self.scan is not None:
            root, local = self.scan
            check_unchanged(root, local.os_relpath, local)
        with _read_errors(self.file):
            return open_regular(self.file)

    def _read_all(self) -> bytes:
        with self._open() as handle, _read_errors(self.file):
            parts, remaining = [], self.size
            while remaining > 0:
                data = handle.read(remaining)
                if not data:
                    raise self._shorter()
                parts.append(data)
                remaining -= len(data)
            more = handle.read(1)
        content = b"".join(parts)
        hasher = new_hasher()
        hasher.update(content)
        self._check_end(more, hasher.hexdigest())
        return content

    def _shorter(self) -> LocalChanged:
        return LocalChanged(
            f"{self.file} is shorter than the {self.size} bytes scanned; it will be uploaded on "
            "the next run."
        )

    def _check_end(self, more: bytes, digest: str) -> None:
        """After `size` bytes: the file must end there, and they must be the scanned ones."""
        if more:
            raise LocalChanged(
                f"{self.file} grew past the {self.size} bytes scanned; it will be uploaded on "
                "the next run."
            )
        if digest != self.xxh3.lower():
            raise LocalChanged(
                f"{self.file} changed since the scan (its content hash differs); it will be "
                "uploaded on the next run."
            )


@contextlib.contextmanager
def _read_errors(path: Path) -> Iterator[None]:
    """What went wrong reading one file, as a per-file failure naming it."""
    try:
        yield
    except FileNotFoundError as err:
        raise LocalChanged(f"{path} disappeared since the scan; it was not uploaded.") from err
    except OSError as err:
        raise FileActionError(f"Could not read {path}: {err.strerror or err}") from err
