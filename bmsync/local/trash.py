"""The local trash: every local file the sync deletes or overwrites is kept here first.

`<state>/<project>/trash/<run_id>/<path>`: outside the user's folder (so it never syncs) and
per run (so two runs never collide). Keeping is a hard link where possible, which is instant and
costs no space until the original is replaced; across file systems, or on one without hard
links (FAT, exFAT), it falls back to a copy. A trash path too long for Windows, or a file another
program holds open there, is a per-file error: the file stays where it is.
"""

from __future__ import annotations

import os
import shutil
from datetime import datetime
from functools import partial
from pathlib import Path

from bmsync.failures import FileActionError
from bmsync.names import first_free, numbered_name
from bmsync.portable import (
    LONG_PATHS_ADVICE,
    MAX_PATH,
    is_cross_device,
    path_length_problem,
    refusal,
    retry_while_busy,
)
from bmsync.runs import trash_runs

TRASH_DIR_MODE = 0o700


class Trash:
    def __init__(self, trash_root: Path, run_id: str, *, max_path: int | None = MAX_PATH) -> None:
        self.root = trash_root / run_id
        self.max_path = max_path

    def _target(self, relpath: str) -> Path:
        target = self.root / relpath
        # Room for the `.n` of a second version too.
        problem = path_length_problem(f"{target}.99", folder=False, max_path=self.max_path)
        if problem is not None:
            raise FileActionError(
                f"{relpath}: left as it was, because it cannot be kept in the trash first: in "
                f"{self.root}, {problem}; {LONG_PATHS_ADVICE}, or choose a state folder with a "
                "shorter path (--state-dir)"
            )
        target.parent.mkdir(parents=True, exist_ok=True, mode=TRASH_DIR_MODE)

        # Two versions of one path in a run (a conflict copy, a retried action): keep both, the
        # second as `name.2` (`bmsync.commands.recover` reads the number back).
        numbered = partial(numbered_name, target.name)
        return target.with_name(first_free(numbered, lambda name: (target.parent / name).exists()))

    def keep_copy(self, source: Path, relpath: str) -> Path:
        """Keep the current content of `source` (which stays in place)."""
        target = self._target(relpath)
        try:
            os.link(source, target, follow_symlinks=False)
        except OSError:
            try:
                shutil.copy2(source, target, follow_symlinks=False)
            except OSError as err:
                raise FileActionError(
                    f"{relpath}: left as it was, because it could not be kept in the trash "
                    f"first: {refusal(err)}; retried next run"
                ) from err
        return target

    def move_in(self, source: Path, relpath: str) -> Path:
        """Take `source` out of the user's folder into the trash (the delete itself)."""
        target = self._target(relpath)
        try:
            try:
                retry_while_busy(lambda: os.rename(source, target))
            except OSError as err:
                if not is_cross_device(err):
                    raise
                # The state folder is on another volume: copy, then remove the original.
                shutil.copy2(source, target, follow_symlinks=False)
                try:
                    retry_while_busy(lambda: os.unlink(source))
                except OSError:
                    os.unlink(target)
                    raise
        except OSError as err:
            raise FileActionError(
                f"{relpath}: could not be deleted (moved to the trash): {refusal(err)}; "
                "retried next run"
            ) from err
        return target


def run_folders(trash_root: Path) -> list[tuple[Path, datetime]]:
    """The trash's run folders, each with its run's start (none when there is no trash)."""
    if not trash_root.is_dir():
        return []
    folders = {entry.name: entry for entry in trash_root.iterdir() if entry.is_dir()}
    return [(folders[name], started) for name, started in trash_runs(folders)]


def purge_trash(trash_root: Path, *, older_than: datetime) -> int:
    """Remove the run folders of runs started before `older_than`; returns how many."""
    expired = [folder for folder, started in run_folders(trash_root) if started < older_than]
    for folder in expired:
        shutil.rmtree(folder, ignore_errors=True)
    return len(expired)
