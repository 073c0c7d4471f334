"""Safety guards, checked before anything changes on either side.

Both answer with the reason to abort, or None. They exist because a sync that faithfully
propagates a catastrophe (an unmounted drive, a wrong bucket, a stray `rm -r`) is the worst
thing a sync engine can do; the user lifts them deliberately with `force`.

A reason is read by a Python caller and by a person at a terminal alike, so it names the
settings in words ("run again with force"), not as flags; the CLI adds the flags
(`bmsync.cli.runner.GUARD_HINTS`, keyed by `SyncReport.guard`).
"""

from __future__ import annotations

from collections.abc import Mapping

from bmsync.engine.actions import DeleteLocal, DeleteRemote
from bmsync.engine.plan import Plan
from bmsync.options import Mode, SyncOptions
from bmsync.types import LocalFile, RemoteObject, Snapshot

_SHOWN = 5


def empty_side_reason(
    *,
    local: Mapping[str, LocalFile],
    remote: Mapping[str, RemoteObject],
    snapshot: Snapshot,
    local_exists: bool,
    options: SyncOptions,
) -> str | None:
    """One side holds none of the files the snapshot recorded while the other holds files: a
    folder emptied or replaced (a reinstall, a wrong mount, an unmounted drive) or a wrong
    bucket. New files on the emptied side (an app's `Welcome.md`) do not count, or the 20 notes
    it replaced would be deleted everywhere (issue 16): a recorded file survives by its path, or
    by its content under another path (renaming every note is no emptying). A mirror, which
    deletes only remote files, checks the folder; and trips on an empty folder facing a remote
    that holds files even with no snapshot."""
    if options.mode in (Mode.PUSH, Mode.PULL, Mode.PRUNE) or options.force:
        return None  # push and pull never delete; prune deletes only what the rules exclude
    if options.mode is Mode.MIRROR:
        if remote and (not local or (snapshot and not _survives_locally(snapshot, local))):
            return _local_reason(snapshot, local, local_exists, len(remote), "mirroring it")
        return None
    if options.resync or not snapshot:
        return None  # a union deletes nothing
    if remote and not _survives_locally(snapshot, local):
        return _local_reason(snapshot, local, local_exists, len(remote), "syncing now")
    if local and not _survives_remotely(snapshot, remote):
        return _remote_reason(snapshot, remote)
    return None


def _survives_locally(snapshot: Snapshot, local: Mapping[str, LocalFile]) -> bool:
    """Whether the folder still holds any recorded file, at its path or (renamed) its bytes."""
    if any(path in local for path in snapshot):
        return True  # the usual case, at the first path: no index of anything
    contents = {(f.size, f.xxh3) for f in local.values()}
    return any((e.size, e.xxh3) in contents for e in snapshot.values())


def _survives_remotely(snapshot: Snapshot, remote: Mapping[str, RemoteObject]) -> bool:
    """Whether the remote still holds any recorded file, at its key or (renamed) its ETag."""
    if any(path in remote for path in snapshot):
        return True
    etags = {o.etag for o in remote.values()}
    return any(e.etag in etags for e in snapshot.values())


def _local_reason(
    snapshot: Snapshot,
    local: Mapping[str, LocalFile],
    local_exists: bool,
    remote_files: int,
    doing: str,
) -> str:
    if local:
        return (
            f"the local folder holds none of the {len(snapshot)} files the last sync recorded, "
            f"only {_new(local)}; {doing} would delete them from the remote. If the folder was "
            "emptied or replaced (a reinstall, a wrong mount, a drive that is not mounted), "
            "put the notes back or use the right folder and run again; if you really deleted "
            "them all, run again with force"
        )
    what = "is missing" if not local_exists else "is empty"
    if not snapshot:
        return (
            f"the local folder {what}, and {doing} would delete all {remote_files} files of the "
            "remote. If the folder is on a drive that is not mounted, mount it and run again; "
            "if you really want an empty remote, run again with force"
        )
    return (
        f"the local folder {what} but the last sync recorded {len(snapshot)} files; {doing} "
        "would delete them from the remote. If the folder is on a drive that is not mounted, "
        "mount it and run again; if you really emptied it, run again with force"
    )


def _remote_reason(snapshot: Snapshot, remote: Mapping[str, RemoteObject]) -> str:
    recorded = f"the last sync recorded {len(snapshot)} files"
    what = (
        f"holds none of the {len(snapshot)} files the last sync recorded, only {_new(remote)}"
        if remote
        else f"holds no objects but {recorded}"
    )
    return (
        f"the remote prefix {what}; syncing now would delete them locally. Check the bucket, "
        "prefix and endpoint; if the remote really was emptied, run again with force"
    )


def _new(files: Mapping[str, object]) -> str:
    """`1 new file (Welcome.md)`, `7 new files (a.md, b.md, …)`."""
    paths = sorted(files)
    shown = ", ".join(paths[:_SHOWN]) + (", …" if len(paths) > _SHOWN else "")
    return f"{len(paths)} new file{'' if len(paths) == 1 else 's'} ({shown})"


def max_delete_reason(plan: Plan, options: SyncOptions) -> str | None:
    """Too many deletes on one side. A share is of the snapshot's files; of a side's own files
    when the snapshot holds none (a first mirror or prune, issue 16), or any share of it would
    be 0 and one file to delete would abort."""
    if options.force:
        return None
    sides = (
        ("local folder", plan.local_size, [a.path for a in plan.of_type(DeleteLocal)]),
        ("remote", plan.remote_size, [a.path for a in plan.of_type(DeleteRemote)]),
    )
    for side, held, paths in sides:
        limit = options.max_delete.limit(plan.snapshot_size or held)
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
