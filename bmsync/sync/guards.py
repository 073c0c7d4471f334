"""Safety guards, checked before anything changes on either side.

Both answer with the reason to abort, or None. They exist because a sync that faithfully
propagates a catastrophe (an unmounted drive, a wrong bucket, a stray `rm -r`) is the worst
thing a sync engine can do; the user lifts them deliberately with `force`.

A reason is read by a Python caller and by a person at a terminal alike, so it names the
settings in words ("run again with force"), not as flags; the CLI adds the flags
(`bmsync.cli.GUARD_HINTS`, keyed by `SyncReport.guard`).
"""

from __future__ import annotations

from bmsync.options import Mode, SyncOptions
from bmsync.sync.actions import DeleteLocal, DeleteRemote
from bmsync.sync.plan import Plan

_SHOWN = 5


def empty_side_reason(
    *,
    snapshot_files: int,
    local_files: int,
    remote_files: int,
    local_exists: bool,
    options: SyncOptions,
) -> str | None:
    """One side empty (or the folder missing) while the snapshot says both held files; for a
    mirror, an empty folder facing a remote that holds files, snapshot or not."""
    if options.mode in (Mode.PUSH, Mode.PULL, Mode.PRUNE) or options.force:
        return None  # push and pull never delete; prune deletes only what the rules exclude
    if options.mode is Mode.MIRROR:
        if local_files == 0 and remote_files > 0:
            what = "is missing" if not local_exists else "is empty"
            return (
                f"the local folder {what}, and mirroring it would delete all {remote_files} "
                "files of the remote. If the folder is on a drive that is not mounted, mount "
                "it and run again; if you really want an empty remote, run again with force"
            )
        return None
    if options.resync or snapshot_files == 0:
        return None
    if local_files == 0 and remote_files > 0:
        what = "is missing" if not local_exists else "is empty"
        return (
            f"the local folder {what} but the last sync recorded {snapshot_files} files; "
            "syncing now would delete them from the remote. If the folder is on a drive that "
            "is not mounted, mount it and run again; if you really emptied it, run again with "
            "force"
        )
    if remote_files == 0 and local_files > 0:
        return (
            f"the remote prefix holds no objects but the last sync recorded {snapshot_files} "
            "files; syncing now would delete them locally. Check the bucket, prefix and "
            "endpoint; if the remote really was emptied, run again with force"
        )
    return None


def max_delete_reason(plan: Plan, options: SyncOptions) -> str | None:
    if options.force:
        return None
    limit = options.max_delete.limit(plan.snapshot_size)
    sides = (
        ("local folder", [a.path for a in plan.of_type(DeleteLocal)]),
        ("remote", [a.path for a in plan.of_type(DeleteRemote)]),
    )
    for side, paths in sides:
        if len(paths) > limit:
            shown = ", ".join(paths[:_SHOWN]) + (", …" if len(paths) > _SHOWN else "")
            return (
                f"{len(paths)} files would be deleted from the {side} (max-delete is "
                f"{options.max_delete}, i.e. {limit}): {shown}. Nothing was changed. Review "
                "them with a dry run; if the deletes are intended, run again with force or a "
                "higher max-delete"
            )
    return None


def conflicts_reason(plan: Plan) -> str | None:
    """Push and pull with the `fail` choice: any path that differs on both sides stops the
    whole run, so nothing at all is transferred until the user says which version to keep."""
    if not plan.unresolved:
        return None
    shown = ", ".join(plan.unresolved[:_SHOWN]) + (", …" if len(plan.unresolved) > _SHOWN else "")
    return (
        f"{len(plan.unresolved)} files differ on both sides: {shown}. Nothing was transferred. "
        "Choose which version to keep (keep-local, keep-remote, or keep-both to keep both) and "
        "run again"
    )
