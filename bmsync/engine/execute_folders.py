"""Carrying out the folder plan (`folders.py`), for runs that keep folder markers, once every
file is where it goes: empty local folders removed (children first), local folders made,
markers put and deleted. Each result goes to the run's `Outcomes`.

A local folder that holds something by now stays, and so does its marker: nothing but an empty
folder is ever removed. A folder whose action failed keeps its baseline row as it was, so the
next run decides it again.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path

from bmsync.engine.folders import FolderPlan
from bmsync.engine.lanes import Lanes
from bmsync.engine.outcomes import Outcomes, describe
from bmsync.errors import BmsyncError
from bmsync.failures import FileActionError
from bmsync.local import ops
from bmsync.ports import RemoteStore
from bmsync.report import FileError
from bmsync.types import FolderMarker


@dataclass(slots=True)
class FolderExecutor:
    root: Path
    remote: RemoteStore
    lanes: Lanes
    outcomes: Outcomes
    failed: set[str] = field(default_factory=set)
    """Folders one of whose actions failed."""

    async def run(self, plan: FolderPlan) -> tuple[list[str], list[str]]:
        """Carry out `plan`; the baseline rows to record and to forget, of the folders whose
        actions all succeeded."""
        await asyncio.to_thread(self._local_folders, plan)
        try:
            async with asyncio.TaskGroup() as group:
                for folder in plan.put_markers:
                    group.create_task(self._marker(folder, None))
                for marker in plan.delete_markers:
                    if marker.path not in self.failed:
                        group.create_task(self._marker(marker.path, marker))
        except* BmsyncError as failures:
            raise failures.exceptions[0] from None
        return (
            [p for p in plan.record if p not in self.failed],
            [p for p in plan.forget if p not in self.failed],
        )

    def _local_folders(self, plan: FolderPlan) -> None:
        """Blocking: the local half of the folder plan, in a worker thread."""
        for folder in plan.remove_local:
            try:
                if ops.remove_empty_folder(self.root, folder.disk_path):
                    self.outcomes.folders_removed.append(folder.path)
                    continue
                self.failed.add(folder.path)
                self.outcomes.warnings.append(
                    FileError(f"{folder.path}/", "not removed: it is no longer empty")
                )
            except (FileActionError, OSError) as err:
                self._failed(folder.path, err)
        for paths, reported in ((plan.make_local, True), (plan.restore_local, False)):
            for path in paths:
                try:
                    if ops.make_folder(self.root, path) and reported:
                        self.outcomes.folders_created.append(path)
                except (FileActionError, OSError) as err:
                    self._failed(path, err)

    async def _marker(self, folder: str, marker: FolderMarker | None) -> None:
        """Put the marker of `folder`, or delete `marker` (only if it is still as listed)."""
        async with self.lanes.small_slot():
            try:
                if marker is None:
                    await self.remote.put_marker(folder)
                    self.outcomes.markers_created.append(folder)
                else:
                    await self.remote.delete_marker(marker.relkey, if_match=marker.etag)
                    self.outcomes.markers_deleted.append(folder)
            except FileActionError as err:
                self._failed(folder, err)

    def _failed(self, folder: str, err: BaseException) -> None:
        self.failed.add(folder)
        self.outcomes.errors.append(FileError(f"{folder}/", describe(err)))
