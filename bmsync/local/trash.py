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

from bmsync.runs import run_started

TRASH_DIR_MODE = 0o700


class Trash:
    def __init__(self, trash_root: Path, run_id: str) -> None:
        self.root = trash_root / run_id

    def _target(self, relpath: str) -> Path:
        target = self.root / relpath
        target.parent.mkdir(parents=True, exist_ok=True, mode=TRASH_DIR_MODE)
        if target.exists():
            # Two versions of one path in a run (a conflict copy, a retried action): keep both.
            stem = 2
            while (candidate := target.with_name(f"{target.name}.{stem}")).exists():
                stem += 1
            target = candidate
        return target

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


def purge_trash(trash_root: Path, *, older_than: datetime) -> int:
    """Remove the run folders of runs started before `older_than`; returns how many."""
    if not trash_root.is_dir():
        return 0
    removed = 0
    for run_dir in trash_root.iterdir():
        started = run_started(run_dir.name)
        if started is None or started >= older_than or not run_dir.is_dir():
            continue
        shutil.rmtree(run_dir, ignore_errors=True)
        removed += 1
    return removed
