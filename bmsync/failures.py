"""Per-file failures: one path could not be synced this run, and the run goes on.

Raised by the adapters (`bmsync.local`, `bmsync.s3`, any `RemoteStore`) and caught by the
executor, which reports the path and leaves its snapshot row as it was so the next run retries.
What stops a whole run is a `bmsync.errors.BmsyncError` instead.

    FileActionError     one path, this run
    ├── TransientError  a connection cut mid-body that outlasted the client's retries
    ├── RemoteChanged   a conditional request failed: the object is not what was listed
    ├── RemoteMissing   the object vanished between the listing and the request
    └── LocalChanged    the local file changed after the scan
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
