"""bmsync: three-way bidirectional sync of a folder of notes with an S3 prefix.

The public API is what `__all__` lists; every other module may change between versions.

    report = await bmsync.sync_project("~/notes", "s3://bucket/notes")
    report = bmsync.sync_project_blocking("~/notes", "s3://bucket/notes")  # scripts, Jupyter
"""

from bmsync.api import sync_project, sync_project_blocking
from bmsync.engine.execute import ProgressEvent
from bmsync.errors import (
    BmsyncError,
    BucketNotFoundError,
    ConfigError,
    LockedError,
    RemoteAuthError,
    RemoteError,
    RemoteUrlError,
    StateCorruptError,
    StateError,
    StateMismatchError,
    StateTooNewError,
)
from bmsync.report import ConflictReport, FileError, SyncReport
from bmsync.s3.config import S3Config

__version__ = "0.1.0"

__all__ = [
    "BmsyncError",
    "BucketNotFoundError",
    "ConfigError",
    "ConflictReport",
    "FileError",
    "LockedError",
    "ProgressEvent",
    "RemoteAuthError",
    "RemoteError",
    "RemoteUrlError",
    "S3Config",
    "StateCorruptError",
    "StateError",
    "StateMismatchError",
    "StateTooNewError",
    "SyncReport",
    "__version__",
    "sync_project",
    "sync_project_blocking",
]
