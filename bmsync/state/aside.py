"""Setting a snapshot aside: moved, never deleted, so a person can still look at it.

Two reasons: a snapshot that cannot be read (`corrupt`, on `--resync`) and a project whose
baseline the user chose to forget (`reset`). Either way the next run finds no snapshot and is a
union that deletes nothing.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

from bmsync.names import first_free
from bmsync.portable import retry_while_busy


def set_aside(db: Path, reason: str) -> Path:
    """Move the file and its WAL to `<db>.<reason>-<UTC time>[-n]`, the WAL first: left
    behind, a WAL would be replayed into the fresh snapshot created at the old name. On Windows
    a moment's reader (`bmsync status`) holding a file open delays the move briefly."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    aside = Path(
        first_free(
            lambda n: f"{db}.{reason}-{stamp}" + ("" if n == 1 else f"-{n}"),
            lambda name: Path(name).exists(),
        )
    )
    for suffix in ("-wal", "-shm", ""):
        source = Path(f"{db}{suffix}")
        if source.exists():
            target = Path(f"{aside}{suffix}")
            retry_while_busy(partial(os.replace, source, target))
    return aside
