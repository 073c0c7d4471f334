"""The executor: carries out a plan with bounded concurrency and records each finished action.

Order: snapshot-only actions, then deletes, then transfers, conflicts and moves (deleting first
frees names a transfer may need, e.g. a file `a` replaced by a folder `a/`), then the removal of
folders the moves emptied. A delete's emptied folders go at once, as nothing is written while
deletes run; a move's must wait for every transfer, or one could vanish between a download
finding its folder and creating its temporary file there. Each finished action's
snapshot change is queued and committed in batches; a run killed between an action and its
commit leaves a path whose two sides agree but whose snapshot row is stale, which the next run
finds equal and records without transferring anything. Per-file failures are reported and their
rows left as they were; a `BmsyncError` (an auth failure) stops the run.

Concurrency: a small file's transfer (under `SMALL_BYTES`) is one or two round trips with
little to send, so at tens of milliseconds per round trip `transfers` of them at once leave the
link idle. Small actions (deletes, moves and records included) run up to `SMALL_FACTOR` times
`transfers` at once, capped at `options.MAX_REQUESTS_IN_FLIGHT` (the client's connection pool);
large ones keep to `transfers`. Memory stays bounded: a small upload holds at most
`SMALL_BYTES` (32 MiB in all at the cap), and a large one streams (`s3/multipart.py`).

That width is bmsync's own choice, so it gives it back when the store asks: as each small
action ends, the executor reads `RemoteStore.throttled` (the store's "slow down" answers so
far), and the limit on small actions in flight follows `aimd.py`: halved on a throttle, down to
`transfers` and never below (what the user asked for), one wider per round without one, back
up to the cap. `gate.py` enforces the moving limit without cancelling an action in flight.
botocore still retries each throttled request itself; a store that never throttles leaves the
limit at the cap, as if it were fixed. A run that ends still narrowed says so in its warnings.

Runs that keep folder markers then carry out the folder plan (`run_folders`), once every file
is where it goes: empty local folders removed (children first), local folders made, markers
put and deleted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextvars import ContextVar
from pathlib import Path

from bmsync.engine import aimd
from bmsync.engine.actions import (
    Action,
    DeleteLocal,
    DeleteRemote,
    Download,
    DownloadCopy,
    Forget,
    MoveLocal,
    MoveRemote,
    Record,
    ResolveConflict,
    Settle,
    Upload,
    UploadCopy,
)
from bmsync.engine.commit import SnapshotBatcher
from bmsync.engine.folders import FolderPlan
from bmsync.engine.gate import Gate
from bmsync.engine.meter import (
    Meter,
    MeteredSink,
    MeteredSource,
    action_name,
    metered,
    planned_bytes,
)
from bmsync.errors import BmsyncError
from bmsync.failures import FileActionError, LocalWriteFailed, RemoteMissing, TransientError
from bmsync.local import ops
from bmsync.local.source import FileSource
from bmsync.local.trash import Trash
from bmsync.options import MAX_REQUESTS_IN_FLIGHT
from bmsync.ports import ByteSink, LocalSource, RemoteStore
from bmsync.progress import PhaseEvent, ProgressEvent, ProgressFn
from bmsync.report import (
    ChangeKind,
    ConflictReport,
    FileError,
    LocalChange,
    MoveReport,
    SyncReport,
)
from bmsync.types import (
    Create,
    FolderMarker,
    LocalFile,
    PutMode,
    RemoteMeta,
    RemoteObject,
    Settlement,
    Side,
    SnapshotEntry,
    Update,
)

TRANSIENT_ATTEMPTS = 3
SMALL_BYTES = 1 << 20
"""Actions moving less than this many bytes share the wider gate (see the module docstring)."""
SMALL_FACTOR = 4


def small_transfers(transfers: int) -> int:
    """How many small actions run at once next to `transfers` large ones."""
    return max(transfers, min(SMALL_FACTOR * transfers, MAX_REQUESTS_IN_FLIGHT))


log = logging.getLogger(__name__)

_meter: ContextVar[Meter | None] = ContextVar("bmsync_action_meter", default=None)
"""The bytes meter of the action the current task carries out. Each action runs in a task of
its own, so this is per action without handing a meter down through every step of it."""


def _entry(path: str, local: LocalFile, etag: str) -> SnapshotEntry:
    return SnapshotEntry(path, local.size, local.mtime_ns, local.xxh3, etag, local.ctime_ns)


class Executor:
    def __init__(
        self,
        *,
        root: Path,
        remote: RemoteStore,
        batcher: SnapshotBatcher,
        trash: Trash,
        run_id: str,
        report: SyncReport,
        transfers: int,
        verify: bool,
        progress: ProgressFn | None = None,
    ) -> None:
        self.root = root
        self.remote = remote
        self.batcher = batcher
        self.trash = trash
        self.run_id = run_id
        self.report = report
        self.verify = verify
        self.progress = progress
        self._gate = asyncio.Semaphore(transfers)
        self._width = aimd.opened(floor=transfers, cap=small_transfers(transfers))
        self._small_gate = Gate(self._width.cap)
        self._throttles_at_start = self._throttles_seen = remote.throttled
        self._done = 0
        self._total = 0
        self._emptied: set[str] = set()
        """Folders (disk paths) that local moves may have emptied, removed after the writes."""

    async def run(self, actions: Sequence[Action]) -> None:
        self._total = len(actions)
        if self.progress is not None:
            moving = sum(planned_bytes(a) for a in actions)
            self.progress(PhaseEvent("transferring", len(actions), moving))
        quiet = [a for a in actions if isinstance(a, Record | Forget | Settle)]
        deletes = [a for a in actions if isinstance(a, DeleteLocal | DeleteRemote)]
        transfers = [
            a
            for a in actions
            if not isinstance(a, Record | Forget | Settle | DeleteLocal | DeleteRemote)
        ]
        try:
            for quiet_action in quiet:
                await self._record_quietly(quiet_action)
            for phase in (deletes, transfers):
                async with asyncio.TaskGroup() as group:
                    for action in phase:
                        group.create_task(self._guarded(action))
            if self._emptied:
                await asyncio.to_thread(ops.prune_emptied, self.root, self._emptied)
        except* BmsyncError as failures:
            raise failures.exceptions[0] from None
        finally:
            await self.batcher.flush()

    async def _record_quietly(self, action: Record | Forget | Settle) -> None:
        if isinstance(action, Record):
            await self.batcher.add(upserts=[action.entry])
        elif isinstance(action, Settle):
            await self.batcher.add(settle=[action.settlement])
        else:
            await self.batcher.add(deletes=[action.path])
        self._tick(action, ok=True)

    @contextlib.asynccontextmanager
    async def _small_slot(self) -> AsyncIterator[None]:
        """A place among the small actions in flight. Its end is an event for the limiter,
        taken before the place is freed, so that a narrower limit already holds back the
        next action waiting for it."""
        async with self._small_gate:
            try:
                yield
            finally:
                throttles = self.remote.throttled
                throttled = throttles > self._throttles_seen
                self._throttles_seen = throttles
                self._width = aimd.after(self._width, throttled=throttled)
                self._small_gate.limit = self._width.limit

    def report_throttling(self) -> None:
        """A warning when the store asked to slow down and the run ended narrower than it
        began: the store may well be throttling the next run too."""
        asked = self.remote.throttled - self._throttles_at_start
        width = self._width
        if asked:
            log.info("the store asked to slow down %d times; %d small actions at once at the "
                     "end (cap %d)", asked, width.limit, width.cap)  # fmt: skip
        if asked and width.limit < width.cap:
            self.report.warnings.append(
                FileError(
                    "(throttled)",
                    f"the store asked to slow down {asked} times (botocore retries each such "
                    f"request after a pause); small transfers were down to {width.limit} at "
                    f"once by the end, from {width.cap}. If this recurs, a lower --transfers "
                    "asks less of the store",
                )
            )

    async def _guarded(self, action: Action) -> None:
        small = planned_bytes(action) < SMALL_BYTES
        async with self._small_slot() if small else self._gate:
            meter = Meter(self.progress, action) if self.progress is not None else None
            _meter.set(metered(meter))
            log.debug("%s %s", action_name(action), action.path)
            try:
                await self._perform_with_retry(action)
            except (FileActionError, OSError) as err:
                self.report.errors.append(FileError(action.path, _describe(err)))
                log.info("%s %s failed: %s", action_name(action), action.path, _describe(err))
                self._tick(action, ok=False)
                return
        self._tick(action, ok=True)

    async def _perform_with_retry(self, action: Action) -> None:
        """Start an action again after a connection cut mid-body; every step of an action is
        conditional or re-checked, so a repeat after a partial attempt is safe."""
        for attempt in range(TRANSIENT_ATTEMPTS):
            if (meter := _meter.get()) is not None:
                meter.restart()
            try:
                await self._perform(action)
                return
            except TransientError as err:
                if attempt == TRANSIENT_ATTEMPTS - 1:
                    raise
                log.debug("%s %s: %s; trying again", action_name(action), action.path, err)
                await asyncio.sleep(0.2 * 2**attempt)

    def _tick(self, action: Action, *, ok: bool) -> None:
        self._done += 1
        if self.progress is not None:
            size = planned_bytes(action)
            self.progress(
                ProgressEvent(
                    action_name(action), action.path, self._done, self._total, ok,
                    size if ok else 0, size,
                )
            )  # fmt: skip

    async def _perform(self, action: Action) -> None:
        match action:
            case Upload():
                await self._upload(action)
            case Download():
                await self._download(action)
            case DeleteLocal():
                await asyncio.to_thread(ops.delete_file, self.root, action.local, self.trash)
                await self.batcher.add(deletes=[action.path])
                self.report.deleted_local.append(action.path)
                self._changed("deleted", action.path)
            case DeleteRemote():
                await self._delete_remote(action.remote)
                await self.batcher.add(deletes=[action.path])
                self.report.deleted_remote.append(action.path)
            case ResolveConflict():
                await self._resolve(action)
            case UploadCopy():
                # Beside the remote version, at a name that must be free; no snapshot row,
                # since the two sides still differ at the path and the copy is remote only,
                # but a settlement, so the next push leaves the path alone.
                meta = await self._send(action.local, action.copy, Create())
                settled = Settlement(
                    action.path, Side.REMOTE, action.local.xxh3, action.copy, meta.etag
                )
                await self.batcher.add(settle=[settled])
                self.report.uploaded.append(action.copy)
            case DownloadCopy():
                kept, _ = await self._receive(
                    action.remote.relkey, action.copy, None, action.remote.etag
                )
                settled = Settlement(
                    action.path, Side.LOCAL, action.remote.etag, action.copy, kept.xxh3
                )
                await self.batcher.add(settle=[settled])
                self.report.downloaded.append(action.copy)
                self._changed("added", action.copy)
            case MoveRemote():
                await self._move_remote(action)
            case MoveLocal():
                moved = await asyncio.to_thread(
                    ops.rename_file, self.root, action.source, action.path
                )
                # The folders it empties go once every transfer has ended (`run`).
                self._emptied.add(action.source.os_relpath.rpartition("/")[0])
                entry = _entry(action.path, moved, action.remote.etag)
                await self.batcher.add(upserts=[entry], deletes=[action.source.path])
                self.report.moved.append(MoveReport(action.path, action.source.path, "local"))
                self._changed("moved", action.path, action.source.path)
            case Record() | Forget() | Settle():
                await self._record_quietly(action)

    async def _send(self, local: LocalFile, relkey: str, mode: PutMode) -> RemoteMeta:
        """Upload one local file as `relkey`, re-checking the file around the transfer (the
        source checks it before reading)."""
        source: LocalSource = FileSource.scanned(self.root, local)
        if (meter := _meter.get()) is not None:
            source = MeteredSource(source, meter)
        meta = await self.remote.upload(relkey, source, mode=mode, verify=self.verify)
        # Changed while being read: what was stored may be a mix; the next run sees it changed.
        # One `stat`, on the event loop: a hand-off to a thread costs more than the call.
        ops.check_unchanged(self.root, local.os_relpath, local)
        self.report.bytes_uploaded += local.size
        return meta

    async def _receive(
        self, relkey: str, target: str, replaces: LocalFile | None, etag: str
    ) -> tuple[LocalFile, RemoteMeta]:
        """Download `relkey` to the local path `target` through a temporary file."""
        writer = await _made_in_thread(ops.AtomicDownload, self.root, target)
        sink: ByteSink = writer.sink
        if (meter := _meter.get()) is not None:
            sink = MeteredSink(sink, meter)
        try:
            meta = await self.remote.download(relkey, sink, if_match=etag, verify=self.verify)
            if writer.sink.size != meta.size:
                raise FileActionError(
                    f"received {writer.sink.size} bytes, the object has {meta.size};"
                    " retried next run"
                )
            if self.verify and meta.xxh3 and meta.xxh3 != writer.sink.hasher.hexdigest():
                raise FileActionError(
                    "downloaded bytes do not match the object's xxh3 metadata; retried next run"
                )
            local = await asyncio.to_thread(
                writer.commit, meta.effective_mtime_ns, replaces, self.trash
            )
        except BaseException:
            await asyncio.to_thread(writer.abort)
            raise
        self.report.bytes_downloaded += local.size
        return local, meta

    async def _upload(self, action: Upload) -> None:
        if action.replaces is not None:
            await self._preserve(action.replaces)
        meta = await self._send(action.local, action.relkey, action.mode)
        await self.batcher.add(upserts=[_entry(action.path, action.local, meta.etag)])
        self.report.uploaded.append(action.path)

    async def _download(self, action: Download) -> None:
        target = action.replaces.os_relpath if action.replaces else action.path
        local, meta = await self._receive(
            action.remote.relkey, target, action.replaces, action.remote.etag
        )
        await self.batcher.add(upserts=[_entry(action.path, local, meta.etag)])
        self.report.downloaded.append(action.path)
        self._changed("added" if action.replaces is None else "modified", action.path)

    async def _move_remote(self, action: MoveRemote) -> None:
        """Copy the old object to the new key on the server, then delete the old one (no trash:
        its bytes live on at the new key). The new key must still be free, as for the upload
        the move stands for (an object another client put there since the listing is left
        alone), and the new local file must still be what the plan saw, or the copy is not
        recorded and the next run looks again."""
        old = action.source
        meta = await self.remote.copy(old.relkey, action.path, if_match=old.etag, mode=Create())
        await asyncio.to_thread(
            ops.check_unchanged, self.root, action.local.os_relpath, action.local
        )
        await self.remote.delete(old.relkey, if_match=old.etag)
        entry = _entry(action.path, action.local, meta.etag)
        await self.batcher.add(upserts=[entry], deletes=[old.path])
        self.report.moved.append(MoveReport(action.path, old.path, "remote"))

    async def _preserve(self, remote: RemoteObject) -> None:
        await self.remote.preserve(remote.relkey, self.run_id, if_match=remote.etag)

    async def _delete_remote(self, remote: RemoteObject) -> None:
        try:
            await self._preserve(remote)
        except RemoteMissing:
            return  # already gone: nothing to keep, nothing to delete
        await self.remote.delete(remote.relkey, if_match=remote.etag)

    async def _resolve(self, action: ResolveConflict) -> None:
        """Keep the loser beside the winner on both sides, loser first so a crash loses nothing."""
        copy = action.loser_copy
        if action.kept_at_path is Side.REMOTE:
            moved = await asyncio.to_thread(ops.rename_file, self.root, action.local, copy)
            self._changed("moved", copy, action.path)
            try:
                if action.remote_copy is not None:
                    copy_etag = action.remote_copy.etag  # a push's keep-both put it there
                else:
                    copy_etag = (await self._send(moved, copy, Create())).etag
                await self.batcher.add(upserts=[_entry(copy, moved, copy_etag)])
                # Back at the name the local file had on disk (an NFD name stays NFD).
                local, meta = await self._receive(
                    action.remote.relkey, action.local.os_relpath, None, action.remote.etag
                )
            except (FileActionError, OSError) as err:
                raise _moved_aside(action.path, copy, err) from err
            await self.batcher.add(upserts=[_entry(action.path, local, meta.etag)])
            self._changed("added", action.path)
        else:
            kept = action.kept_copy
            if kept is None:
                kept, _ = await self._receive(action.remote.relkey, copy, None, action.remote.etag)
                self._changed("added", copy)
            if not action.copy_on_remote:
                copy_meta = await self.remote.copy(
                    action.remote.relkey, copy, if_match=action.remote.etag, mode=Create()
                )
                await self.batcher.add(upserts=[_entry(copy, kept, copy_meta.etag)])
            meta = await self._send(action.local, action.remote.relkey, Update(action.remote.etag))
            await self.batcher.add(upserts=[_entry(action.path, action.local, meta.etag)])
        self.report.conflicts.append(ConflictReport(action.path, action.winner_name, copy))

    async def run_folders(self, plan: FolderPlan) -> tuple[list[str], list[str]]:
        """Carry out the folder plan; the baseline rows to record and to forget, of the folders
        whose actions all succeeded (a failed one is left for the next run to decide again).

        A local folder that holds something by now stays, and so does its marker: nothing but
        an empty folder is ever removed.
        """
        failed: set[str] = set()
        await asyncio.to_thread(self._local_folders, plan, failed)
        try:
            async with asyncio.TaskGroup() as group:
                for folder in plan.put_markers:
                    group.create_task(self._marker(folder, None, failed))
                for marker in plan.delete_markers:
                    if marker.path not in failed:
                        group.create_task(self._marker(marker.path, marker, failed))
        except* BmsyncError as failures:
            raise failures.exceptions[0] from None
        return (
            [p for p in plan.record if p not in failed],
            [p for p in plan.forget if p not in failed],
        )

    def _local_folders(self, plan: FolderPlan, failed: set[str]) -> None:
        """Blocking: the local half of the folder plan, in a worker thread."""
        for folder in plan.remove_local:
            try:
                if ops.remove_empty_folder(self.root, folder.disk_path):
                    self.report.folders_removed.append(folder.path)
                    continue
                failed.add(folder.path)
                self.report.warnings.append(
                    FileError(f"{folder.path}/", "not removed: it is no longer empty")
                )
            except (FileActionError, OSError) as err:
                self._folder_failed(folder.path, err, failed)
        for paths, reported in ((plan.make_local, True), (plan.restore_local, False)):
            for path in paths:
                try:
                    if ops.make_folder(self.root, path) and reported:
                        self.report.folders_created.append(path)
                except (FileActionError, OSError) as err:
                    self._folder_failed(path, err, failed)

    async def _marker(self, folder: str, marker: FolderMarker | None, failed: set[str]) -> None:
        """Put the marker of `folder`, or delete `marker` (only if it is still as listed)."""
        async with self._small_slot():
            try:
                if marker is None:
                    await self.remote.put_marker(folder)
                    self.report.markers_created.append(folder)
                else:
                    await self.remote.delete_marker(marker.relkey, if_match=marker.etag)
                    self.report.markers_deleted.append(folder)
            except FileActionError as err:
                self._folder_failed(folder, err, failed)

    def _folder_failed(self, folder: str, err: BaseException, failed: set[str]) -> None:
        failed.add(folder)
        self.report.errors.append(FileError(f"{folder}/", _describe(err)))

    def _changed(self, change: ChangeKind, path: str, old_path: str | None = None) -> None:
        self.report.local_changes.append(LocalChange(change, path, old_path))


async def _made_in_thread(
    make: Callable[[Path, str], ops.AtomicDownload], root: Path, target: str
) -> ops.AtomicDownload:
    """Create the download's temporary file in a worker thread. A cancel (Ctrl-C) landing
    while the thread runs would leave the file it creates behind: wait for the thread, then
    remove the file, then let the cancel go on."""
    task = asyncio.ensure_future(asyncio.to_thread(make, root, target))
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            await asyncio.to_thread((await task).abort)
        raise


def _moved_aside(path: str, copy: str, err: FileActionError | OSError) -> FileActionError:
    """A conflict that failed after the local version was renamed to its copy: the report
    must say where that version is now, not that the local file "was left as it was". Not a
    `TransientError`, so the executor does not start the conflict again from its rename."""
    why = err.reason if isinstance(err, LocalWriteFailed) else _describe(err)
    return FileActionError(
        f"{path}: {why}; the local version had already been moved to {copy}, where it stays, "
        f"so {path} holds nothing here until the next run brings the remote version"
    )


def _describe(err: BaseException) -> str:
    if isinstance(err, OSError) and err.strerror:
        where = f" ({err.filename})" if err.filename else ""
        return f"{err.strerror}{where}"
    return str(err) or type(err).__name__
