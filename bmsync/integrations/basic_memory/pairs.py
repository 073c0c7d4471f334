"""From basic-memory's (`SyncProject`, bucket) to the (folder, `s3://` URL, S3 settings, state
folder) every bmsync command takes.

- The key prefix is the project's cloud path without the `/app/data/` mount point
  (basic-memory's `normalize_project_path`): `/app/data/research` in bucket `b` is
  `s3://b/research`.
- The state lives where basic-memory keeps rclone's: `<config dir>/bisync-state/<project>/`
  (the config dir is `bmsync.bmhome.basic_memory_dir`, basic-memory's own rule), one bmsync
  state folder inside per remote. `bm cloud bisync-reset` and `bm project remove` find it there.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path

from bmsync.bmhome import basic_memory_dir
from bmsync.cloud.bmconfig import config_path, read_config
from bmsync.cloud.configured import configured_projects
from bmsync.cloud.projects import cloud_prefix
from bmsync.commands.run_pair import Pair
from bmsync.errors import BmsyncError
from bmsync.integrations.basic_memory.credentials import s3_config_for
from bmsync.integrations.basic_memory.values import RcloneError, SyncProject
from bmsync.remotes import S3Config


def get_project_bisync_state(project_name: str) -> Path:
    """`<basic-memory config dir>/bisync-state/<project name>`."""
    return basic_memory_dir() / "bisync-state" / project_name


def bisync_initialized(project_name: str) -> bool:
    """Whether the project's state folder holds anything (basic-memory's test). bmsync needs no
    initialization: a first sync is a union that deletes nothing."""
    state = get_project_bisync_state(project_name)
    return state.exists() and any(state.iterdir())


def get_project_remote(project: SyncProject, bucket_name: str) -> str:
    """The project as rclone names it, `<remote>:<bucket>/<prefix>` (basic-memory prints it)."""
    return f"{project.remote_name}:{bucket_name}/{_prefix(project)}"


def remote_url(project: SyncProject, bucket_name: str) -> str:
    """The project as bmsync names it: `s3://<bucket>/<prefix>`."""
    return f"s3://{bucket_name}/{_prefix(project)}"


def remote_side(project: SyncProject, bucket_name: str) -> tuple[str, S3Config]:
    """The project's `s3://` URL and S3 settings, for a command that needs no folder (ls)."""
    return remote_url(project, bucket_name), _s3(project)


def project_pair(project: SyncProject, bucket_name: str, state_dir: Path | None = None) -> Pair:
    """The pair of a project that syncs with a local folder; `RcloneError` when it has none
    (basic-memory's message)."""
    if not project.local_sync_path:
        raise RcloneError(f"Project {project.name} has no local_sync_path configured")
    return Pair(
        local_path=Path(project.local_sync_path).expanduser(),
        remote_url=remote_url(project, bucket_name),
        s3=_s3(project),
        state_dir=state_dir or get_project_bisync_state(project.name),
    )


@contextlib.contextmanager
def remote_only_pair(project: SyncProject, bucket_name: str) -> Iterator[Pair]:
    """The pair for a command that changes only the remote (prune), which basic-memory runs
    without a local folder: the project's configured folder and state when it has one, so the
    snapshot learns what was deleted; else an empty folder and state of its own, removed after."""
    folder = project.local_sync_path or _configured_folder(project.name)
    if folder:
        yield project_pair(
            SyncProject(project.name, project.path, str(folder), project.remote_name), bucket_name
        )
        return
    with tempfile.TemporaryDirectory(prefix="bmsync-prune-") as scratch:
        root = Path(scratch)
        (root / "folder").mkdir()
        url, s3 = remote_side(project, bucket_name)
        yield Pair(local_path=root / "folder", remote_url=url, s3=s3, state_dir=root / "state")


def _configured_folder(name: str) -> Path | None:
    try:
        config = read_config(config_path(), required=False)
        found = configured_projects(config)
    except BmsyncError:
        return None  # a config basic-memory itself just read; no folder is the safe answer
    return next((p.local_path for p in found if p.name == name), None)


def _prefix(project: SyncProject) -> str:
    prefix = cloud_prefix(project.path)
    if not prefix:
        raise RcloneError(
            f"Project {project.name}'s cloud path {project.path!r} is the whole bucket, which "
            "holds every other project too; bmsync syncs one project's folder only"
        )
    return prefix


def _s3(project: SyncProject) -> S3Config:
    try:
        return s3_config_for(project.remote_name)
    except BmsyncError as err:
        raise RcloneError(str(err)) from err
