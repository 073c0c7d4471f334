"""The local trash: every local file the sync deletes or overwrites is kept here first.

`<state>/<project>/trash/<run_id>/<path>`: outside the user's folder (so it never syncs) and
per run (so two runs never collide). Keeping is a hard link where possible, which is instant and
costs no space until the original is replaced; across file systems it falls back to a copy.
"""

from __future__ import annotations

import os
import shutil
from datetime import datetime
from pathlib import Path

from bmsync.names import first_free
from bmsync.runs import trash_runs

TRASH_DIR_MODE = 0o700


class Trash:
    def __init__(self, trash_root: Path, run_id: str) -> None:
        self.root = trash_root / run_id

    def _target(self, relpath: str) -> Path:
        target = self.root / relpath
        target.parent.mkdir(parents=True, exist_ok=True, mode=TRASH_DIR_MODE)

        # Two versions of one path in a run (a conflict copy, a retried action): keep both, the
        # second as `name.2` (`bmsync.commands.recover` reads the number back).
        def numbered(n: int) -> str:
            return target.name if n == 1 else f"{target.name}.{n}"

        return target.with_name(first_free(numbered, lambda name: (target.parent / name).exists()))

    def keep_copy(self, source: Path, relpath: str) -> Path:
        """Keep the current content of `source` (which stays in place)."""
        target = self._target(relpath)
        try:
            os.link(source, target, follow_symlinks=False)
        except OSError:
            shutil.copy2(source, target, follow_symlinks=False)
        return target

    def move_in(self, source: Path, relpath: str) -> Path:
        """Take `source` out of the user's folder into the trash (the delete itself)."""
        target = self._target(relpath)
        try:
            os.rename(source, target)
        except OSError:
            shutil.copy2(source, target, follow_symlinks=False)
            os.unlink(source)
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
