"""bmsync: three-way bidirectional sync of a folder of notes with an S3 prefix.

The public API is what `__all__` lists; every other module may change between versions.

    report = await bmsync.sync_project("~/notes", "s3://bucket/notes")
    report = bmsync.sync_project_blocking("~/notes", "s3://bucket/notes")  # scripts, Jupyter
    report  # in a notebook: a small table; at a prompt: <SyncReport ok: 3 uploaded in 0.42 s>
    check = await bmsync.check_project("~/notes", "s3://bucket/notes")  # same on both sides?
    status = await bmsync.project_status("~/notes", "s3://bucket/notes")  # runs, lock
    versions = await bmsync.list_trash("s3://bucket/notes")  # what syncs deleted or overwrote
    result = await bmsync.restore_file("~/notes", "s3://bucket/notes", "ideas/x.md")
    await bmsync.watch_project("~/notes", "s3://bucket/notes")  # sync on every change, poll

    async with bmsync.CloudClient() as cloud:  # Basic Memory Cloud: bucket, keys, projects
        mount = await bmsync.open_cloud_mount(cloud)
        for project in await bmsync.list_cloud_projects(cloud):
            await bmsync.sync_project(f"~/cloud/{project.prefix}", mount.url(project.prefix),
                                      s3=mount.s3)
"""

import importlib as _importlib
import logging as _logging
import typing as _typing

__version__ = "0.1.0"

# A library never prints unasked: warnings go nowhere until the application sets up logging.
_logging.getLogger(__name__).addHandler(_logging.NullHandler())

# Where each public name lives. Imported on first use, so `import bmsync` (and `bmsync --help`)
# stays cheap: the S3 client and the snapshot store load only when a command runs.
_LAZY = {
    "CloudClient": "bmsync.cloud.client",
    "ConfiguredProject": "bmsync.cloud.configured",
    "configured_projects": "bmsync.cloud.configured",
    "load_configured_projects": "bmsync.cloud.configured",
    "projects_from_mapping": "bmsync.cloud.configured",
    "with_cloud_prefixes": "bmsync.cloud.configured",
    "CloudMount": "bmsync.cloud.mount",
    "open_cloud_mount": "bmsync.cloud.mount",
    "CloudProject": "bmsync.cloud.projects",
    "FolderPairing": "bmsync.cloud.projects",
    "ensure_cloud_projects": "bmsync.cloud.projects",
    "list_cloud_projects": "bmsync.cloud.projects",
    "pair_folders": "bmsync.cloud.projects",
    "register_cloud_project": "bmsync.cloud.projects",
    "CheckReport": "bmsync.commands.check",
    "check_project": "bmsync.commands.check",
    "check_project_blocking": "bmsync.commands.check",
    "RestoreResult": "bmsync.commands.recover",
    "TrashedVersion": "bmsync.commands.recover",
    "list_trash": "bmsync.commands.recover",
    "restore_file": "bmsync.commands.recover",
    "list_trash_blocking": "bmsync.commands.recover",
    "restore_file_blocking": "bmsync.commands.recover",
    "ProjectStatus": "bmsync.commands.status",
    "project_status": "bmsync.commands.status",
    "project_status_blocking": "bmsync.commands.status",
    "sync_project": "bmsync.commands.run_pair",
    "sync_project_blocking": "bmsync.commands.run_pair",
    "watch_project": "bmsync.commands.watch",
    "watch_all": "bmsync.commands.watch_all",
    "watch_project_blocking": "bmsync.commands.watch",
    "BmsyncError": "bmsync.errors",
    "BucketNotFoundError": "bmsync.errors",
    "CloudAuthError": "bmsync.errors",
    "CloudError": "bmsync.errors",
    "CloudSubscriptionError": "bmsync.errors",
    "CloudUnavailableError": "bmsync.errors",
    "ConfigError": "bmsync.errors",
    "LockedError": "bmsync.errors",
    "NotInTrashError": "bmsync.errors",
    "RemoteAuthError": "bmsync.errors",
    "RemoteError": "bmsync.errors",
    "RemoteUrlError": "bmsync.errors",
    "RestoreError": "bmsync.errors",
    "StateCorruptError": "bmsync.errors",
    "StateError": "bmsync.errors",
    "StateMismatchError": "bmsync.errors",
    "StateTooNewError": "bmsync.errors",
    "ConflictReport": "bmsync.report",
    "FileError": "bmsync.report",
    "PhaseEvent": "bmsync.progress",
    "Progress": "bmsync.progress",
    "ProgressEvent": "bmsync.progress",
    "TransferEvent": "bmsync.progress",
    "SyncReport": "bmsync.report",
    "S3Config": "bmsync.remotes",
    "RunOptions": "bmsync.options",
    "sync_all": "bmsync.commands.all",
    "sync_all_blocking": "bmsync.commands.all",
    "AllReport": "bmsync.commands.all",
    "ProjectPair": "bmsync.commands.which_projects",
    "push_project": "bmsync.commands.transfer",
    "pull_project": "bmsync.commands.transfer",
    "mirror_project": "bmsync.commands.transfer",
    "prune_project": "bmsync.commands.transfer",
    "push_project_blocking": "bmsync.commands.transfer",
    "pull_project_blocking": "bmsync.commands.transfer",
    "mirror_project_blocking": "bmsync.commands.transfer",
    "prune_project_blocking": "bmsync.commands.transfer",
    "list_remote": "bmsync.commands.ls",
    "list_remote_blocking": "bmsync.commands.ls",
    "RemoteFile": "bmsync.commands.ls",
    "RemoteFiles": "bmsync.commands.ls",
    "reset_project": "bmsync.commands.reset",
    "reset_project_blocking": "bmsync.commands.reset",
    "ResetResult": "bmsync.commands.reset",
}

if _typing.TYPE_CHECKING:
    from bmsync.cloud.client import CloudClient
    from bmsync.cloud.configured import (
        ConfiguredProject,
        configured_projects,
        load_configured_projects,
        projects_from_mapping,
        with_cloud_prefixes,
    )
    from bmsync.cloud.mount import CloudMount, open_cloud_mount
    from bmsync.cloud.projects import (
        CloudProject,
        FolderPairing,
        ensure_cloud_projects,
        list_cloud_projects,
        pair_folders,
        register_cloud_project,
    )
    from bmsync.commands.all import AllReport, sync_all, sync_all_blocking
    from bmsync.commands.check import CheckReport, check_project, check_project_blocking
    from bmsync.commands.ls import RemoteFile, RemoteFiles, list_remote, list_remote_blocking
    from bmsync.commands.recover import (
        RestoreResult,
        TrashedVersion,
        list_trash,
        list_trash_blocking,
        restore_file,
        restore_file_blocking,
    )
    from bmsync.commands.reset import ResetResult, reset_project, reset_project_blocking
    from bmsync.commands.run_pair import sync_project, sync_project_blocking
    from bmsync.commands.status import ProjectStatus, project_status, project_status_blocking
    from bmsync.commands.transfer import (
        mirror_project,
        mirror_project_blocking,
        prune_project,
        prune_project_blocking,
        pull_project,
        pull_project_blocking,
        push_project,
        push_project_blocking,
    )
    from bmsync.commands.watch import watch_project, watch_project_blocking
    from bmsync.commands.watch_all import watch_all
    from bmsync.commands.which_projects import ProjectPair
    from bmsync.errors import (
        BmsyncError,
        BucketNotFoundError,
        CloudAuthError,
        CloudError,
        CloudSubscriptionError,
        CloudUnavailableError,
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
    from bmsync.options import RunOptions
    from bmsync.progress import PhaseEvent, Progress, ProgressEvent, TransferEvent
    from bmsync.remotes import S3Config
    from bmsync.report import ConflictReport, FileError, SyncReport


def __getattr__(name: str) -> _typing.Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'bmsync' has no attribute {name!r}")
    value = getattr(_importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


__all__ = [
    "AllReport",
    "BmsyncError",
    "BucketNotFoundError",
    "CheckReport",
    "CloudAuthError",
    "CloudClient",
    "CloudError",
    "CloudMount",
    "CloudProject",
    "CloudSubscriptionError",
    "CloudUnavailableError",
    "ConfigError",
    "ConfiguredProject",
    "ConflictReport",
    "FileError",
    "FolderPairing",
    "LockedError",
    "NotInTrashError",
    "PhaseEvent",
    "Progress",
    "ProgressEvent",
    "ProjectPair",
    "ProjectStatus",
    "RemoteAuthError",
    "RemoteError",
    "RemoteFile",
    "RemoteFiles",
    "RemoteUrlError",
    "ResetResult",
    "RestoreError",
    "RestoreResult",
    "RunOptions",
    "S3Config",
    "StateCorruptError",
    "StateError",
    "StateMismatchError",
    "StateTooNewError",
    "SyncReport",
    "TransferEvent",
    "TrashedVersion",
    "__version__",
    "check_project",
    "check_project_blocking",
    "configured_projects",
    "ensure_cloud_projects",
    "list_cloud_projects",
    "list_remote",
    "list_remote_blocking",
    "list_trash",
    "list_trash_blocking",
    "load_configured_projects",
    "mirror_project",
    "mirror_project_blocking",
    "open_cloud_mount",
    "pair_folders",
    "project_status",
    "project_status_blocking",
    "projects_from_mapping",
    "prune_project",
    "prune_project_blocking",
    "pull_project",
    "pull_project_blocking",
    "push_project",
    "push_project_blocking",
    "register_cloud_project",
    "reset_project",
    "reset_project_blocking",
    "restore_file",
    "restore_file_blocking",
    "sync_all",
    "sync_all_blocking",
    "sync_project",
    "sync_project_blocking",
    "watch_all",
    "watch_project",
    "watch_project_blocking",
    "with_cloud_prefixes",
]
