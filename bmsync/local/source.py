"""`FileSource`: a scanned local file as an upload reads it (`bmsync.ports.LocalSource`).

The file may have changed between the scan and the upload, and what is stored must be what the
scan described, or the object would carry the old content's `xxh3`. So each read checks the
file against the scan: it must still be a regular file (opened with `open_regular`, which never
follows a link swapped in or blocks on a FIFO), exactly `size` bytes long, and its bytes must
hash to the scanned `xxh3`. A file that fails is `LocalChanged`, left for the next run.
Reads run off the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Iterator
from dataclasses import dataclass
from pathlib import Path

from bmsync.digests import new_hasher
from bmsync.failures import FileActionError, LocalChanged
from bmsync.local.hashing import open_regular
from bmsync.types import LocalFile


@dataclass(frozen=True, slots=True)
class FileSource:
    file: Path
    size: int
    mtime_ns: int
    xxh3: str

    @classmethod
    def scanned(cls, root: Path, local: LocalFile) -> FileSource:
        """The file the scan found at `local` below `root`."""
        return cls(root / local.os_relpath, local.size, local.mtime_ns, local.xxh3)

    @property
    def path(self) -> str:
        return str(self.file)

    async def chunks(self, chunk_bytes: int) -> AsyncGenerator[bytes, None]:
        """See `LocalSource.chunks`: `size` bytes in order, then the length and hash checks."""
        hasher = new_hasher()
        with _read_errors(self.file):
            handle = await asyncio.to_thread(open_regular, self.file)
        try:
            remaining = self.size
            while remaining > 0:
                with _read_errors(self.file):
                    data = await asyncio.to_thread(handle.read, min(chunk_bytes, remaining))
                if not data:
                    raise LocalChanged(
                        f"{self.file} is shorter than the {self.size} bytes scanned; it will be "
                        "uploaded on the next run."
                    )
                remaining -= len(data)
                hasher.update(data)
                yield data
            with _read_errors(self.file):
                more = await asyncio.to_thread(handle.read, 1)
        finally:
            handle.close()
        if more:
            raise LocalChanged(
                f"{self.file} grew past the {self.size} bytes scanned; it will be uploaded on "
                "the next run."
            )
        if hasher.hexdigest() != self.xxh3.lower():
            raise LocalChanged(
                f"{self.file} changed since the scan (its content hash differs); it will be "
                "uploaded on the next run."
            )

    async def read_all(self) -> bytes:
        """The whole content in one read (plus the one byte that tells whether it grew)."""
        return b"".join([chunk async for chunk in self.chunks(max(self.size, 1))])


@contextlib.contextmanager
def _read_errors(path: Path) -> Iterator[None]:
    """What went wrong reading one file, as a per-file failure naming it."""
    try:
        yield
    except FileNotFoundError as err:
        raise LocalChanged(f"{path} disappeared since the scan; it was not uploaded.") from err
    except OSError as err:
        raise FileActionError(f"Could not read {path}: {err.strerror or err}") from err
