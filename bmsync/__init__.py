"""bmsync: three-way bidirectional sync of a folder of notes with an S3 prefix.

The public API is what `__all__` lists; every other module may change between versions.

    report = await bmsync.sync_project("~/notes", "s3://bucket/notes")
    report = bmsync.sync_project_blocking("~/notes", "s3://bucket/notes")  # scripts, Jupyter
    check = await bmsync.check_project("~/notes", "s3://bucket/notes")  # same on both sides?
    status = await bmsync.project_status("~/notes", "s3://bucket/notes")  # runs, lock
    versions = await bmsync.list_trash("s3://bucket/notes")  # what syncs deleted or overwrote
    result = await bmsync.restore_file("~/notes", "s3://bucket/notes", "ideas/x.md")
"""

from bmsync.api import sync_project, sync_project_blocking
from bmsync.check import CheckReport, check_project
from bmsync.engine.execute import ProgressEvent
from bmsync.errors import (
    BmsyncError,
    BucketNotFoundError,
    ConfigError,
    LockedError,
    NotInTrashError,
    RemoteAuthError,
    RemoteError,
    RemoteUrlError,
    RestoreError,
    StateCorruptError,
    StateError,
    StateMismatchError,
    StateTooNewError,
)
from bmsync.recover import RestoreResult, TrashedVersion, list_trash, restore_file
from bmsync.report import ConflictReport, FileError, SyncReport
from bmsync.s3.config import S3Config
from bmsync.status import ProjectStatus, project_status

__version__ = "0.1.0"

__all__ = [
    "BmsyncError",
    "BucketNotFoundError",
    "CheckReport",
    "ConfigError",
    "ConflictReport",
    "FileError",
    "LockedError",
    "NotInTrashError",
    "ProgressEvent",
    "ProjectStatus",
    "RemoteAuthError",
    "RemoteError",
    "RemoteUrlError",
    "RestoreError",
    "RestoreResult",
    "S3Config",
    "StateCorruptError",
    "StateError",
    "StateMismatchError",
    "StateTooNewError",
    "SyncReport",
    "TrashedVersion",
    "__version__",
    "check_project",
    "list_trash",
    "project_status",
    "restore_file",
    "sync_project",
    "sync_project_blocking",
]
