"""Per-file failures: one path could not be synced this run, and the run goes on.

Raised by the adapters (`bmsync.local`, `bmsync.s3`, any `RemoteStore`) and caught by the
executor, which reports the path and leaves its snapshot row as it was so the next run retries.
What stops a whole run is a `bmsync.errors.BmsyncError` instead.

    FileActionError     one path, this run
    ├── TransientError  a connection cut mid-body that outlasted the client's retries
    ├── RemoteChanged   a conditional request failed: the object is not what was listed
    ├── RemoteMissing   the object vanished between the listing and the request
    ├── LocalChanged    the local file changed after the scan
    └── LocalWriteFailed a download could not be written to the local disk (full, too large)
"""

from __future__ import annotations


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


class LocalWriteFailed(FileActionError):
    """A download could not be written to the local disk (ENOSPC, EFBIG, a refused rename).

    `reason` is the cause alone, so that a caller for which "the local file was left as it
    was" is not true (a conflict that already moved the local version aside) can say what is.
    """

    def __init__(self, relpath: str, reason: str, consequence: str) -> None:
        super().__init__(f"{relpath}: {reason}; {consequence}")
        self.reason = reason
