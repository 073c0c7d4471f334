"""The one-way workflows: push, pull, mirror and prune, each a mode of the one pipeline.

They are what basic-memory runs through rclone today (`bm cloud push|pull`, `bm cloud sync`,
`bm cloud prune`), with what makes bmsync safe kept: the ignore rules on both sides, the trash
before any delete or overwrite, conditional writes, per-file errors contained, and a snapshot
that afterwards agrees with both sides wherever they are equal, so a later two-way sync sees no
change there.

- `push_project` / `pull_project`: additive and git-style. New and changed files go from the
  source to the destination; nothing is deleted; a path changed only on the destination since
  the last sync is left alone; a path that differs on both sides is a conflict, handled by
  `conflict` (`fail`: nothing at all is transferred, the report lists the conflicts and says
  "aborted").
- `mirror_project`: make the remote identical to the folder (`rclone sync`), under the
  max-delete guard rclone never had; `delete_excluded` also deletes remote files the ignore
  rules exclude.
- `dir_markers` (push and mirror): keep a `folder/` marker for every folder of the folder, so
  a TigrisFS mount shows them, empty ones included; mirror also deletes the other markers.
  Pull needs none: it writes nothing to the remote.
- Each also takes its options whole, `options=bmsync.RunOptions(...)` (`bmsync.options`).
- `prune_project`: delete the remote files the ignore rules exclude (files added to
  `.bmignore` after they were uploaded), and nothing else; without `yes` it only lists them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime

from bmsync.commands.blocking import blocking
from bmsync.commands.run_pair import Pair, SyncedFn, run_pair
from bmsync.options import Mode, OneWayConflictName, RunOptions
from bmsync.ports import RemoteStore
from bmsync.progress import ProgressFn
from bmsync.project import PathArg
from bmsync.remotes import S3Config
from bmsync.report import SyncReport


async def push_project(
    local_path: PathArg,
    remote_url: str,
    *,
    conflict: OneWayConflictName = "fail",
    dry_run: bool = False,
    s3: S3Config | None = None,
    state_dir: PathArg | None = None,
    ignore: Sequence[str] = (),
    ignore_files: Sequence[PathArg] = (),
    transfers: int = 8,
    progress: ProgressFn | None = None,
    remote: RemoteStore | None = None,
    now: datetime | None = None,
    on_synced: SyncedFn | None = None,
    dir_markers: bool = False,
    options: RunOptions | None = None,
) -> SyncReport:
    """Copy new and changed local files to the remote; delete nothing (module docstring)."""
    resolved = RunOptions.given("push", locals()).resolve(Mode.PUSH, one_way=conflict)
    pair = Pair.given(locals())
    return await run_pair(pair, resolved, progress=progress, now=now, on_synced=on_synced)


async def pull_project(
    local_path: PathArg,
    remote_url: str,
    *,
    conflict: OneWayConflictName = "fail",
    dry_run: bool = False,
    s3: S3Config | None = None,
    state_dir: PathArg | None = None,
    ignore: Sequence[str] = (),
    ignore_files: Sequence[PathArg] = (),
    transfers: int = 8,
    progress: ProgressFn | None = None,
    remote: RemoteStore | None = None,
    now: datetime | None = None,
    on_synced: SyncedFn | None = None,
    options: RunOptions | None = None,
) -> SyncReport:
    """Copy new and changed remote files into the folder; delete nothing (module docstring)."""
    resolved = RunOptions.given("pull", locals()).resolve(Mode.PULL, one_way=conflict)
    pair = Pair.given(locals())
    return await run_pair(pair, resolved, progress=progress, now=now, on_synced=on_synced)


async def mirror_project(
    local_path: PathArg,
    remote_url: str,
    *,
    delete_excluded: bool = False,
    max_delete: int | str | None = None,
    force: bool = False,
    dry_run: bool = False,
    s3: S3Config | None = None,
    state_dir: PathArg | None = None,
    ignore: Sequence[str] = (),
    ignore_files: Sequence[PathArg] = (),
    transfers: int = 8,
    progress: ProgressFn | None = None,
    remote: RemoteStore | None = None,
    now: datetime | None = None,
    on_synced: SyncedFn | None = None,
    dir_markers: bool = False,
    options: RunOptions | None = None,
) -> SyncReport:
    """Make the remote identical to the folder (module docstring)."""
    resolved = RunOptions.given("mirror", locals()).resolve(Mode.MIRROR)
    pair = Pair.given(locals())
    return await run_pair(pair, resolved, progress=progress, now=now, on_synced=on_synced)


async def prune_project(
    local_path: PathArg,
    remote_url: str,
    *,
    yes: bool = False,
    max_delete: int | str | None = None,
    force: bool = False,
    s3: S3Config | None = None,
    state_dir: PathArg | None = None,
    ignore: Sequence[str] = (),
    ignore_files: Sequence[PathArg] = (),
    transfers: int = 8,
    progress: ProgressFn | None = None,
    remote: RemoteStore | None = None,
    now: datetime | None = None,
    on_synced: SyncedFn | None = None,
    options: RunOptions | None = None,
) -> SyncReport:
    """List the remote files the pair's ignore rules exclude (`deleted_remote` of a dry run);
    with `yes`, delete exactly those, each only if it is still the listed version, into the
    remote trash."""
    given = RunOptions.given("prune", locals())
    resolved = dataclasses.replace(given, dry_run=not yes).resolve(Mode.PRUNE)
    pair = Pair.given(locals())
    return await run_pair(pair, resolved, progress=progress, now=now, on_synced=on_synced)


push_project_blocking = blocking(push_project)
pull_project_blocking = blocking(pull_project)
mirror_project_blocking = blocking(mirror_project)
prune_project_blocking = blocking(prune_project)
