"""The executor: carries out a plan with bounded concurrency and records each finished action.

Order: snapshot-only actions, then deletes, then transfers, conflicts and moves (deleting first
frees names a transfer may need, e.g. a file `a` replaced by a folder `a/`), then the removal of
folders the moves emptied. A delete's emptied folders go at once, as nothing is written while
deletes run; a move's must wait for every transfer, or one could vanish between a download
finding its folder and creating its temporary file there. Each finished action's
snapshot change is queued and committed in batches; a run killed between an action and its
commit leaves a path whose two sides agree but whose snapshot row is stale, which the next run
finds equal and records without transferring anything. Per-file failures are recorded and their
rows left as they were; a `BmsyncError` (an auth failure) stops the run.

What ran goes to the run's `Outcomes` (`outcomes.py`) and nowhere else: each action done or
failed with the bytes it moved, and each change to the local folder as it happens; the report
is built from them (`build_report.py`). How many actions run at once is `lanes.py`'s; runs that keep
folder markers then carry out the folder plan (`execute_folders.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from pathlib import Path

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
from bmsync.engine.execute_folders import FolderExecutor
from bmsync.engine.folders import FolderPlan
from bmsync.engine.lanes import Lanes
from bmsync.engine.meter import (
    Meter,
    MeteredSink,
    MeteredSource,
    action_name,
    metered,
    planned_bytes,
)
from bmsync.engine.outcomes import Outcome, Outcomes, describe
from bmsync.errors import BmsyncError
from bmsync.failures import FileActionError, LocalWriteFailed, RemoteMissing, TransientError
from bmsync.local import ops
from bmsync.local.source import FileSource
from bmsync.local.trash import Trash
from bmsync.ports import ByteSink, LocalSource, RemoteStore
from bmsync.progress import PhaseEvent, ProgressEvent, ProgressFn
from bmsync.types import (
    Create,
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
        outcomes: Outcomes,
        transfers: int,
        verify: bool,
        progress: ProgressFn | None = None,
    ) -> None:
        self.root = root
        self.remote = remote
        self.batcher = batcher
        self.trash = trash
        self.run_id = run_id
        self.outcomes = outcomes
        self.verify = verify
        self.progress = progress
        self.lanes = Lanes(remote, transfers)
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

    async def run_folders(self, plan: FolderPlan) -> tuple[list[str], list[str]]:
        """Carry out the folder plan; the baseline rows to record and to forget."""
        return await FolderExecutor(self.root, self.remote, self.lanes, self.outcomes).run(plan)

    def note_throttling(self) -> None:
        """Add the run's throttling warning, if the store narrowed it (`lanes.py`)."""
        if (note := self.lanes.throttling_note()) is not None:
            self.outcomes.warnings.append(note)

    async def _record_quietly(self, action: Record | Forget | Settle) -> None:
        await self._record(action)
        self.outcomes.actions.append(Outcome(action))
        self._tick(action, ok=True)

    async def _record(self, action: Record | Forget | Settle) -> None:
        if isinstance(action, Record):
            await self.batcher.add(upserts=[action.entry])
        elif isinstance(action, Settle):
            await self.batcher.add(settle=[action.settlement])
        else:
            await self.batcher.add(deletes=[action.path])

    async def _guarded(self, action: Action) -> None:
        size = planned_bytes(action)
        outcome = Outcome(action)
        async with self.lanes.slot(size):
            meter = Meter(self.progress, action) if self.progress is not None else None
            _meter.set(metered(meter))
            log.debug("%s %s", action_name(action), action.path)
            try:
                await self._perform_with_retry(action, outcome)
            except (FileActionError, OSError) as err:
                outcome.error = describe(err)
                self.outcomes.actions.append(outcome)
                log.info("%s %s failed: %s", action_name(action), action.path, outcome.error)
                self._tick(action, ok=False)
                return
        self.outcomes.actions.append(outcome)
        self._tick(action, ok=True)

    async def _perform_with_retry(self, action: Action, outcome: Outcome) -> None:
        """Start an action again after a connection cut mid-body; every step of an action is
        conditional or re-checked, so a repeat after a partial attempt is safe."""
        for attempt in range(TRANSIENT_ATTEMPTS):
            if (meter := _meter.get()) is not None:
                meter.restart()
            try:
                await self._perform(action, outcome)
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

    async def _perform(self, action: Action, outcome: Outcome) -> None:
        match action:
            case Upload():
                await self._upload(action, outcome)
            case Download():
                await self._download(action, outcome)
            case DeleteLocal():
                await asyncio.to_thread(ops.delete_file, self.root, action.local, self.trash)
                await self.batcher.add(deletes=[action.path])
                self.outcomes.changed("deleted", action.path)
            case DeleteRemote():
                await self._delete_remote(action.remote)
                await self.batcher.add(deletes=[action.path])
            case ResolveConflict():
                await self._resolve(action, outcome)
            case UploadCopy():
                # Beside the remote version, at a name that must be free; no snapshot row,
                # since the two sides still differ at the path and the copy is remote only,
                # but a settlement, so the next push leaves the path alone.
                meta = await self._send(action.local, action.copy, Create(), outcome)
                settled = Settlement(
                    action.path, Side.REMOTE, action.local.xxh3, action.copy, meta.etag
                )
                await self.batcher.add(settle=[settled])
            case DownloadCopy():
                kept, _ = await self._receive(
                    action.remote.relkey, action.copy, None, action.remote.etag, outcome
                )
                settled = Settlement(
                    action.path, Side.LOCAL, action.remote.etag, action.copy, kept.xxh3
                )
                await self.batcher.add(settle=[settled])
                self.outcomes.changed("added", action.copy)
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
                self.outcomes.changed("moved", action.path, action.source.path)
            case Record() | Forget() | Settle():
                await self._record(action)

    async def _send(
        self, local: LocalFile, relkey: str, mode: PutMode, outcome: Outcome
    ) -> RemoteMeta:
        """Upload one local file as `relkey`, re-checking the file around the transfer (the
        source checks it before reading)."""
        source: LocalSource = FileSource.scanned(self.root, local)
        if (meter := _meter.get()) is not None:
            source = MeteredSource(source, meter)
        meta = await self.remote.upload(relkey, source, mode=mode, verify=self.verify)
        # Changed while being read: what was stored may be a mix; the next run sees it changed.
        # One `stat`, on the event loop: a hand-off to a thread costs more than the call.
        ops.check_unchanged(self.root, local.os_relpath, local)
        outcome.sent += local.size
        return meta

    async def _receive(
        self, relkey: str, target: str, replaces: LocalFile | None, etag: str, outcome: Outcome
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
        outcome.received += local.size
        return local, meta

    async def _upload(self, action: Upload, outcome: Outcome) -> None:
        if action.replaces is not None:
            await self._preserve(action.replaces)
        meta = await self._send(action.local, action.relkey, action.mode, outcome)
        await self.batcher.add(upserts=[_entry(action.path, action.local, meta.etag)])

    async def _download(self, action: Download, outcome: Outcome) -> None:
        target = action.replaces.os_relpath if action.replaces else action.path
        local, meta = await self._receive(
            action.remote.relkey, target, action.replaces, action.remote.etag, outcome
        )
        await self.batcher.add(upserts=[_entry(action.path, local, meta.etag)])
        self.outcomes.changed("added" if action.replaces is None else "modified", action.path)

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

    async def _preserve(self, remote: RemoteObject) -> None:
        await self.remote.preserve(remote.relkey, self.run_id, if_match=remote.etag)

    async def _delete_remote(self, remote: RemoteObject) -> None:
        try:
            await self._preserve(remote)
        except RemoteMissing:
            return  # already gone: nothing to keep, nothing to delete
        await self.remote.delete(remote.relkey, if_match=remote.etag)

    async def _resolve(self, action: ResolveConflict, outcome: Outcome) -> None:
        """Keep the loser beside the winner on both sides, loser first so a crash loses nothing."""
        copy, changed = action.loser_copy, self.outcomes.changed
        if action.kept_at_path is Side.REMOTE:
            moved = await asyncio.to_thread(ops.rename_file, self.root, action.local, copy)
            changed("moved", copy, action.path)
            try:
                if action.remote_copy is not None:
                    copy_etag = action.remote_copy.etag  # a push's keep-both put it there
                else:
                    copy_etag = (await self._send(moved, copy, Create(), outcome)).etag
                await self.batcher.add(upserts=[_entry(copy, moved, copy_etag)])
                # Back at the name the local file had on disk (an NFD name stays NFD).
                local, meta = await self._receive(
                    action.remote.relkey, action.local.os_relpath, None, action.remote.etag,
                    outcome,
                )  # fmt: skip
            except (FileActionError, OSError) as err:
                raise _moved_aside(action.path, copy, err) from err
            await self.batcher.add(upserts=[_entry(action.path, local, meta.etag)])
            changed("added", action.path)
            return
        kept = action.kept_copy
        if kept is None:
            kept, _ = await self._receive(
                action.remote.relkey, copy, None, action.remote.etag, outcome
            )
            changed("added", copy)
        if not action.copy_on_remote:
            copy_meta = await self.remote.copy(
                action.remote.relkey, copy, if_match=action.remote.etag, mode=Create()
            )
            await self.batcher.add(upserts=[_entry(copy, kept, copy_meta.etag)])
        meta = await self._send(
            action.local, action.remote.relkey, Update(action.remote.etag), outcome
        )
        await self.batcher.add(upserts=[_entry(action.path, action.local, meta.etag)])


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
    why = err.reason if isinstance(err, LocalWriteFailed) else describe(err)
    return FileActionError(
        f"{path}: {why}; the local version had already been moved to {copy}, where it stays, "
        f"so {path} holds nothing here until the next run brings the remote version"
    )
