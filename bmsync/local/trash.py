"""The local trash: every local file the sync deletes or overwrites is kept here first.

`<state>/<project>/trash/<run_id>/<path>`: outside the user's folder (so it never syncs) and
per run (so two runs never collide). Keeping is a hard link where possible, which is instant and
costs no space until the original is replaced; across file systems it falls back to a copy.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

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


def purge_trash(trash_root: Path, *, retention_days: float, now: float | None = None) -> int:
    """Remove run folders older than the retention; returns how many were removed."""
    if not trash_root.is_dir():
        return 0
    cutoff = (now if now is not None else time.time()) - retention_days * 86400
    removed = 0
    for run_dir in trash_root.iterdir():
        try:
            if run_dir.is_dir() and run_dir.stat().st_mtime < cutoff:
                shutil.rmtree(run_dir)
                removed += 1
        except OSError:
            continue
    return removed
