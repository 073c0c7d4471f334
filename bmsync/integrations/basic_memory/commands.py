"""basic-memory 0.24's `rclone_commands` operations, each one bmsync command.

Same names, parameters, defaults and return values; `run=`, `is_installed=`, `version=`,
`filter_path=` and `is_initialized=` are accepted and ignored (no rclone is run; the ignore
rules are `.bmignore` read as gitignore, with the folder's `.gitignore`). Where rclone fell
short the bmsync semantics apply:

- `project_bisync` needs no `resync` on a first run (a union that deletes nothing), and its
  max-delete of 25 is a count of files (rclone read `--max-delete=25` as a percentage);
- push, pull and the mirror keep the snapshot, so a later bisync knows what they did, and a
  file changed only on the source since the last sync is an update, not a conflict;
- every delete and overwrite goes to the trash first, on both sides.

A bmsync error (credentials, a locked project, a snapshot of another folder) is raised as
`RcloneError` with bmsync's message, where basic-memory catches it. A run that a safety guard
stopped, or that ended with per-file errors, prints why and returns False, as a failed rclone
run did.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Coroutine, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from bmsync.commands.blocking import run_blocking
from bmsync.commands.check import check_project
from bmsync.commands.ls import list_remote
from bmsync.commands.run_pair import Pair, sync_project
from bmsync.commands.transfer import mirror_project, prune_project, pull_project, push_project
from bmsync.errors import BmsyncError
from bmsync.failures import FileActionError
from bmsync.integrations.basic_memory import output
from bmsync.integrations.basic_memory.pairs import (
    bisync_initialized,
    project_pair,
    remote_only_pair,
    remote_side,
)
from bmsync.integrations.basic_memory.single_file import copy_one_file
from bmsync.integrations.basic_memory.values import (
    ConflictStrategy,
    IsInstalledFunc,
    RcloneError,
    RunFunc,
    SyncProject,
    TransferDirection,
    TransferPlan,
)
from bmsync.local.ignore import IgnoreRules
from bmsync.options import OneWayConflictName
from bmsync.report import SyncReport

_T = TypeVar("_T")
_SUFFIX_FORMAT = "%Y%m%d-%H%M%S"


def project_sync(
    project: SyncProject,
    bucket_name: str,
    dry_run: bool = False,
    verbose: bool = False,
    *,
    run: RunFunc | None = None,
    is_installed: IsInstalledFunc | None = None,
    filter_path: Path | None = None,
    force: bool = False,
) -> bool:
    """One-way mirror, local -> cloud (`mirror_project`): the cloud made identical to the
    folder, files `.bmignore` excludes deleted from it too; the max-delete guard (25 files)
    applies unless `force`."""
    pair = project_pair(project, bucket_name)
    report = _call(
        mirror_project(
            pair.local_path, pair.remote_url, delete_excluded=True, force=force, dry_run=dry_run,
            s3=pair.s3, state_dir=pair.state_dir,
        )
    )  # fmt: skip
    return _shown(report, verbose)


def project_bisync(
    project: SyncProject,
    bucket_name: str,
    dry_run: bool = False,
    resync: bool = False,
    verbose: bool = False,
    *,
    run: RunFunc | None = None,
    is_installed: IsInstalledFunc | None = None,
    version: tuple[int, int, int] | None = None,
    filter_path: Path | None = None,
    state_path: Path | None = None,
    is_initialized: Callable[[str], bool] = bisync_initialized,
    force: bool = False,
) -> bool:
    """Two-way sync (`sync_project`, the balanced profile: the newer version wins a conflict
    and the other is kept beside it, at most 25 deletes per side unless `force`). `resync`
    forgets nothing but trusts no snapshot: a union that deletes nothing, as a first run is.
    `state_path` replaces the project's state folder."""
    pair = project_pair(project, bucket_name, state_path)
    report = _call(
        sync_project(
            pair.local_path, pair.remote_url, s3=pair.s3, state_dir=pair.state_dir,
            profile="balanced", dry_run=dry_run, resync=resync, force=force,
        )
    )  # fmt: skip
    return _shown(report, verbose)


def project_check(
    project: SyncProject,
    bucket_name: str,
    one_way: bool = False,
    *,
    run: RunFunc | None = None,
    is_installed: IsInstalledFunc | None = None,
    filter_path: Path | None = None,
) -> bool:
    """Whether both sides hold the same files (`check_project`; `one_way`: only what the cloud
    lacks or holds differently counts). Changes nothing; prints the differences."""
    pair = project_pair(project, bucket_name)
    found = _call(
        check_project(
            pair.local_path, pair.remote_url, s3=pair.s3, state_dir=pair.state_dir, one_way=one_way
        )
    )
    if not found.in_sync:
        output.show_lines(found.summary().splitlines())
    return found.in_sync


def project_ls(
    project: SyncProject,
    bucket_name: str,
    path: str | None = None,
    *,
    run: RunFunc | None = None,
    is_installed: IsInstalledFunc | None = None,
) -> list[str]:
    """The project's cloud files (`list_remote`), as `rclone ls` printed them: the size right
    aligned in 9 columns, then the path relative to the project (to `path` when given)."""
    url, s3 = remote_side(project, bucket_name)
    found = _call(list_remote(url, path, s3=s3))
    wanted = path.strip("/") if path else ""
    lines = []
    for file in found.files:
        if not wanted:
            shown = file.path
        elif file.path == wanted:  # a file named by `path`: rclone shows its name
            shown = file.path.rsplit("/", 1)[-1]
        else:
            shown = file.path.removeprefix(wanted + "/")
        lines.append(f"{file.size:9d} {shown}")
    return lines


def project_diff(
    project: SyncProject,
    bucket_name: str,
    direction: TransferDirection,
    *,
    run: RunFunc | None = None,
    is_installed: IsInstalledFunc | None = None,
    filter_path: Path | None = None,
) -> TransferPlan:
    """What a push or pull would do, transferring nothing (a dry run of `push_project` /
    `pull_project`)."""
    pair = project_pair(project, bucket_name)
    report = _call(_one_way(pair, direction, "fail", dry_run=True))
    if report.status == "aborted" and report.guard != "conflicts":
        raise RcloneError(f"Failed to compare {project.name} with cloud: {report.abort_reason}")
    return TransferPlan(
        new=list(report.new),
        conflicts=[c.path for c in report.conflicts],
        dest_only=list(report.destination_only),
        errors=[e.path for e in report.errors],
    )


def project_copy(
    project: SyncProject,
    bucket_name: str,
    direction: TransferDirection,
    *,
    overwrite: bool,
    dry_run: bool = False,
    verbose: bool = False,
    run: RunFunc | None = None,
    is_installed: IsInstalledFunc | None = None,
    filter_path: Path | None = None,
) -> bool:
    """Additive transfer, never deleting: with `overwrite` the source's version wins a
    conflict, without it the destination's stays."""
    source_wins: ConflictStrategy = "keep-local" if direction == "push" else "keep-cloud"
    destination_wins: ConflictStrategy = "keep-cloud" if direction == "push" else "keep-local"
    pair = project_pair(project, bucket_name)
    strategy = source_wins if overwrite else destination_wins
    report = _call(_one_way(pair, direction, strategy, dry_run=dry_run))
    return _shown(report, verbose)


def project_copy_file(
    project: SyncProject,
    bucket_name: str,
    direction: TransferDirection,
    source_rel_path: str,
    dest_rel_path: str,
    *,
    dry_run: bool = False,
    verbose: bool = False,
    run: RunFunc | None = None,
    is_installed: IsInstalledFunc | None = None,
) -> bool:
    """Copy one file to another name on the other side, never over an existing file
    (`single_file.py`); False, with the reason printed, when it could not."""
    pair = project_pair(project, bucket_name)
    try:
        done = _call(
            copy_one_file(pair, direction, source_rel_path, dest_rel_path, dry_run=dry_run)
        )
    except (FileActionError, OSError) as err:
        output.show_lines([f"could not copy {source_rel_path} to {dest_rel_path}: {err}"])
        return False
    if verbose or dry_run:
        output.show_lines([done])
    return True


def project_transfer(
    project: SyncProject,
    bucket_name: str,
    direction: TransferDirection,
    plan: TransferPlan,
    *,
    strategy: ConflictStrategy = "fail",
    conflict_suffix: str = "",
    dry_run: bool = False,
    verbose: bool = False,
    run: RunFunc | None = None,
    is_installed: IsInstalledFunc | None = None,
    filter_path: Path | None = None,
) -> bool:
    """Push or pull with `strategy` for the files that differ on both sides (`keep-both` puts
    the incoming version beside the destination's as `name.conflict-<conflict_suffix>.md`).

    The plan is not replayed: the push or pull decides again from both sides as they are now,
    so a file that changed since `project_diff` is never overwritten on the plan's word; with
    `fail`, a conflict that appeared since transfers nothing and returns False."""
    pair = project_pair(project, bucket_name)
    report = _call(
        _one_way(pair, direction, strategy, dry_run=dry_run, now=_suffix_time(conflict_suffix))
    )
    return _shown(report, verbose)


def project_prune_preview(
    project: SyncProject,
    bucket_name: str,
    *,
    run: RunFunc | None = None,
    is_installed: IsInstalledFunc | None = None,
    filter_path: Path | None = None,
) -> list[str]:
    """The cloud files `.bmignore` excludes (a dry run of `prune_project`)."""
    with remote_only_pair(project, bucket_name) as pair:
        report = _call(_prune(pair, yes=False))
    if report.status == "aborted":
        raise RcloneError(
            f"Failed to list ignored cloud files for {project.name}: {report.abort_reason}"
        )
    return list(report.deleted_remote)


def project_prune(
    project: SyncProject,
    bucket_name: str,
    matches: Sequence[str],
    *,
    verbose: bool = False,
    run: RunFunc | None = None,
    is_installed: IsInstalledFunc | None = None,
) -> bool:
    """Delete from the cloud exactly the `matches` the user confirmed, into the remote trash:
    files ignored or uploaded since the preview are kept (each is un-ignored for this run), and
    a file is deleted only while it is still the version listed."""
    if not matches:
        return True
    confirmed = set(matches)
    with remote_only_pair(project, bucket_name) as pair:
        now = _call(_prune(pair, yes=False))
        keep = [path for path in now.deleted_remote if path not in confirmed]
        report = _call(_prune(pair, yes=True, keep=keep, limit=len(confirmed)))
    return _shown(report, verbose)


def _one_way(
    pair: Pair,
    direction: TransferDirection,
    strategy: ConflictStrategy,
    *,
    dry_run: bool,
    now: datetime | None = None,
) -> Coroutine[Any, Any, SyncReport]:
    command = push_project if direction == "push" else pull_project
    conflict: OneWayConflictName = strategy
    return command(
        pair.local_path, pair.remote_url, conflict=conflict, dry_run=dry_run, s3=pair.s3,
        state_dir=pair.state_dir, now=now,
    )  # fmt: skip


def _prune(
    pair: Pair, *, yes: bool, keep: Sequence[str] = (), limit: int | None = None
) -> Coroutine[Any, Any, SyncReport]:
    shown = IgnoreRules.load(Path(pair.local_path)).showing(keep) if keep else []
    return prune_project(
        pair.local_path, pair.remote_url, yes=yes, max_delete=limit, s3=pair.s3,
        state_dir=pair.state_dir, ignore=shown,
    )  # fmt: skip


def _suffix_time(suffix: str) -> datetime | None:
    """basic-memory's conflict suffix (local time, `%Y%m%d-%H%M%S`) as the run's clock, so the
    conflict copies bmsync names carry exactly that suffix; None for any other suffix."""
    try:
        return datetime.strptime(suffix, _SUFFIX_FORMAT).astimezone()
    except ValueError:
        return None


def _shown(report: SyncReport, verbose: bool) -> bool:
    output.show(report, verbose=verbose)
    return report.status == "ok"


def _call(coro: Coroutine[Any, Any, _T]) -> _T:
    with rclone_errors():
        return run_blocking(coro)


@contextlib.contextmanager
def rclone_errors() -> Iterator[None]:
    """bmsync's errors as the `RcloneError` basic-memory catches, with bmsync's message."""
    try:
        yield
    except BmsyncError as err:
        raise RcloneError(str(err)) from err
