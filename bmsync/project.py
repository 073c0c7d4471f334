"""A project: one (local folder, remote prefix, state folder) pair, as every command opens it.

Every command (sync, check, status, trash, restore, and the workflows to come) starts the same
way: make the folder absolute, parse the remote URL, load the ignore rules, find the state
folder; then, as it needs them, take the lock, open the snapshot, open the S3 client. That is
all here, once, and it is the way a command reaches the state folder (lock, snapshot, run
history, setting a snapshot aside) and the remote: `commands/` imports no adapter but through
this module, save the exceptions the import contract states. The blocking parts run in a
worker thread, so a caller's event loop (a notebook, basic-memory's server) never stalls on a
slow disk.

The S3 client (aiobotocore) and the snapshot store (SQLAlchemy) are imported only when opened,
so `bmsync --help` and `import bmsync` load neither.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from bmsync.errors import ConfigError, StateCorruptError
from bmsync.local.ignore import IgnoreRules
from bmsync.ports import RemoteStore, SnapshotStore
from bmsync.remotes import RemoteLocation, S3Config, parse_remote_url
from bmsync.state.aside import set_aside
from bmsync.state.lock import ProjectLock, describe_lock
from bmsync.state.paths import ProjectPaths, default_state_dir
from bmsync.types import RunRecord, SnapshotEntry

PathArg = str | os.PathLike[str]


@dataclass(frozen=True, slots=True)
class Project:
    root: Path
    """The folder as the snapshot is bound to it: absolute, `~` expanded, links not resolved."""
    location: RemoteLocation
    paths: ProjectPaths
    rules: IgnoreRules

    @property
    def url(self) -> str:
        return self.location.url


def project_root(local_path: PathArg) -> Path:
    """The folder as the snapshot is bound to it: absolute, `~` expanded, links not resolved."""
    return Path(os.path.abspath(Path(local_path).expanduser()))


def patterns(value: object, name: str) -> list[str]:
    """A list of patterns or paths from a caller: a lone string is refused, because iterating
    it would make every character a pattern (`"*.tmp"` would ignore every file with a `*`)."""
    if isinstance(value, str | bytes | os.PathLike):
        raise ConfigError(f"{name} takes a list, not a single value: {name}=[{value!r}]")
    try:
        items = list(value)  # type: ignore[call-overload]
    except TypeError:
        raise ConfigError(f"{name} takes a list of strings, not {value!r}") from None
    for item in items:
        if not isinstance(item, str | os.PathLike):
            raise ConfigError(f"{name} takes a list of strings, not one holding {item!r}")
    return [os.fspath(item) for item in items]


def resolve_project(
    local_path: PathArg,
    remote_url: str,
    state_dir: PathArg | None,
    ignore: Sequence[str] = (),
    ignore_files: Sequence[PathArg] = (),
) -> Project:
    """The blocking set-up shared by every command (nothing is created)."""
    location = parse_remote_url(remote_url)
    root = project_root(local_path)
    rules = IgnoreRules.load(
        root,
        extra_patterns=patterns(ignore, "ignore"),
        ignore_files=[Path(p) for p in patterns(ignore_files, "ignore_files")],
    )
    paths = ProjectPaths.resolve(state_dir, location.url)
    check_folder(root, paths)
    return Project(root, location, paths, rules)


MOUNT_FOLDER = "basic-memory-cloud"
"""Where `bm cloud mount` mounts the bucket, below the home folder (SPEC-9)."""


def check_folder(root: Path, paths: ProjectPaths) -> None:
    """Refuse folders a sync must never run on (SPEC-9's mount and bisync isolation)."""
    mount = Path.home() / MOUNT_FOLDER
    if _within(root, mount):
        raise ConfigError(
            f"{root} is the Basic Memory Cloud mount ({mount}) or inside it: a mounted folder "
            "already is the bucket, and syncing it with the bucket would copy every file onto "
            "itself. Sync a folder of your own (e.g. ~/basic-memory/<project>) instead"
        )
    state = paths.state_dir
    for kept in (paths.root, default_state_dir()):
        if _within(root, kept):
            raise ConfigError(
                f"{root} is inside bmsync's state folder {kept}, which holds snapshots and "
                "trash: sync a folder of your own, or choose another state folder (state_dir)"
            )
    if _within(state, root):
        raise ConfigError(
            f"bmsync's state folder {state} is inside the project folder {root}: the snapshot "
            "and the trash would be synced as notes. Choose a state folder outside the project "
            "(state_dir)"
        )


def _within(path: Path, folder: Path) -> bool:
    """Whether `path` is `folder` or below it, links followed (a symlinked way in counts)."""
    real, base = Path(os.path.realpath(path)), Path(os.path.realpath(folder))
    return real == base or base in real.parents


async def open_project(
    local_path: PathArg,
    remote_url: str,
    state_dir: PathArg | None,
    ignore: Sequence[str] = (),
    ignore_files: Sequence[PathArg] = (),
) -> Project:
    """`resolve_project` off the event loop."""
    return await asyncio.to_thread(
        resolve_project, local_path, remote_url, state_dir, ignore, ignore_files
    )


async def state_paths(state_dir: PathArg | None, location: RemoteLocation) -> ProjectPaths:
    """The state folder of a remote, for a command that needs no local folder (`list_trash`)
    or only reads (`project_status`): found, not created."""
    return await asyncio.to_thread(ProjectPaths.resolve, state_dir, location.url)


async def lock_holder(paths: ProjectPaths) -> str | None:
    """Who holds or last held the project's lock, read without taking it (`describe_lock`)."""
    return await asyncio.to_thread(describe_lock, paths.lock)


async def forget_snapshot(paths: ProjectPaths) -> Path | None:
    """Under the project's lock, set its snapshot aside; where it now is, None when there was
    none. For a caller that knows the state folder but not the pair."""
    async with lock_state(paths):
        db = paths.db
        return await asyncio.to_thread(lambda: set_aside(db, "reset") if db.exists() else None)


def locked(
    project: Project, *, dry_run: bool = False
) -> contextlib.AbstractAsyncContextManager[ProjectLock]:
    """Hold the project's lock (creating its state folder, user-only); `LockedError` at once
    when another process holds it. A dry run of a project never synced holds nothing and makes
    nothing: there is no state to protect, and a dry run writes nothing anywhere."""
    return lock_state(project.paths, dry_run=dry_run)


@contextlib.asynccontextmanager
async def lock_state(paths: ProjectPaths, *, dry_run: bool = False) -> AsyncIterator[ProjectLock]:
    """`locked` for a state folder found without its pair (basic-memory's `bisync-reset NAME`
    knows only the project's name)."""
    if dry_run and not await asyncio.to_thread(paths.root.exists):
        yield ProjectLock(paths.lock)  # not taken: nothing to hold, nothing to make
        return
    await asyncio.to_thread(paths.ensure)
    lock = ProjectLock(paths.lock)
    lock.acquire()  # one non-blocking syscall: in a thread, a cancel could leak the held lock
    try:
        yield lock
    finally:
        lock.release()


@contextlib.asynccontextmanager
async def open_store(
    project: Project, *, dry_run: bool = False, repair: bool = False
) -> AsyncIterator[SnapshotStore | None]:
    """The project's snapshot, created if missing; None for a dry run of a project never
    synced, which leaves no snapshot file behind, and for a dry run of a resync of a corrupt
    one, which leaves it as it is."""
    from bmsync.state.store import SqliteSnapshotStore

    if dry_run and not await asyncio.to_thread(project.paths.db.exists):
        yield None
        return
    try:
        store = await SqliteSnapshotStore.open(
            project.paths.db,
            local_root=str(project.root),
            remote_url=project.url,
            repair=repair and not dry_run,
        )
    except StateCorruptError:
        if not (dry_run and repair):
            raise
        # A dry run of a resync: the plan is the union a resync runs once it has set the file
        # aside, which only the real run does.
        yield None
        return
    try:
        yield store
    finally:
        await store.close()


async def read_snapshot(project: Project) -> dict[str, SnapshotEntry]:
    """The snapshot as it is, for read-only commands: empty when there is none (nothing made)."""
    from bmsync.state.store import SqliteSnapshotStore

    if not await asyncio.to_thread(project.paths.db.exists):
        return {}
    async with await SqliteSnapshotStore.open(
        project.paths.db, local_root=str(project.root), remote_url=project.url
    ) as store:
        return await store.load()


async def run_history(
    paths: ProjectPaths, root: str, url: str, runs: int
) -> tuple[int, list[RunRecord]] | None:
    """The snapshot's file count and its `runs` most recent runs, newest first, read without
    changing it; None when there is no snapshot (nothing made)."""
    from bmsync.state.store import SqliteSnapshotStore

    if not await asyncio.to_thread(paths.db.exists):
        return None
    async with await SqliteSnapshotStore.open(paths.db, local_root=root, remote_url=url) as store:
        return await store.count_files(), await store.last_runs(runs)


@contextlib.asynccontextmanager
async def remote_for(
    given: RemoteStore | None, location: RemoteLocation, config: S3Config | None
) -> AsyncIterator[RemoteStore]:
    """`given` as it is (a test seam), else an S3 client for `location`, closed on exit."""
    if given is not None:
        yield given
        return
    from bmsync.s3.remote import open_remote

    async with open_remote(location, config or S3Config()) as opened:
        yield opened
