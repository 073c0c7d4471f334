"""`reset_bisync_state`: bmsync's answer to `bm cloud bisync-reset NAME`.

basic-memory deleted the project's `bisync-state/<name>/` so the next rclone bisync had to
`--resync`. bmsync sets each snapshot in it aside instead (`forget_snapshot`, under the
project's lock): the next sync is a union that deletes nothing, and the trash and run history
stay readable. Nothing in the folder or the bucket is touched.
"""

from __future__ import annotations

from pathlib import Path

from bmsync.commands.blocking import run_blocking
from bmsync.integrations.basic_memory.commands import rclone_errors
from bmsync.integrations.basic_memory.pairs import get_project_bisync_state
from bmsync.project import forget_snapshot
from bmsync.state.paths import ProjectPaths


def reset_bisync_state(project_name: str) -> list[Path]:
    """Set aside every bmsync snapshot of the project; where each now is (empty: none)."""
    state = get_project_bisync_state(project_name)
    folders = sorted(p.parent for p in state.glob("*/snapshot.db")) if state.is_dir() else []
    aside = []
    with rclone_errors():
        for folder in folders:
            moved = run_blocking(forget_snapshot(ProjectPaths(folder)))
            if moved is not None:
                aside.append(moved)
    return aside
