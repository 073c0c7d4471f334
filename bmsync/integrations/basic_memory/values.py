"""The value types of basic-memory 0.24's `rclone_commands` and `transfer`, field for field.

basic-memory builds `SyncProject`s, reads `TransferPlan`s and catches `RcloneError`; keeping the
same names, fields and defaults is what lets it switch to bmsync by changing one import. They
are redefined here rather than imported because basic-memory needs Python 3.12 and bmsync runs
on 3.11; the drop-in CLI (`cli.py`) puts these very classes into basic-memory's modules, so one
class of each is in play.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from bmsync.names import conflict_copies

TransferDirection = Literal["push", "pull"]
"""push = local -> cloud, pull = cloud -> local."""

ConflictStrategy = Literal["fail", "keep-local", "keep-cloud", "keep-both"]
"""What push and pull do with a file that differs on both sides; `fail` transfers nothing."""

RunFunc = Callable[..., Any]
"""basic-memory's seam for running rclone (`subprocess.run`): accepted, never called."""
IsInstalledFunc = Callable[[], bool]
"""basic-memory's seam for finding rclone: accepted, never called."""


class RcloneError(Exception):
    """What basic-memory catches from its sync calls; here it carries bmsync's message (what
    happened and what to do), the name kept so basic-memory's `except RcloneError` still
    works."""


@dataclass
class SyncProject:
    """A cloud project as basic-memory's sync commands see it.

    `path` is the project's cloud path (`/app/data/research` or `research`); `remote_name` the
    rclone remote `bm cloud setup` wrote for the project's workspace, where bmsync reads the S3
    keys when the host registered none (`credentials.py`).
    """

    name: str
    path: str
    local_sync_path: str | None = None
    remote_name: str = "basic-memory-cloud"


@dataclass
class TransferPlan:
    """How local and cloud differ for a push or pull, paths relative to the project.

    With bmsync's baseline, `conflicts` are only files changed on both sides since the last
    sync (or, before any sync, present on both with different content); a file changed only on
    the source side is an update, not a conflict, and is in no list.
    """

    new: list[str] = field(default_factory=list)
    """Only on the source: brought over."""
    conflicts: list[str] = field(default_factory=list)
    """Differ on both sides."""
    dest_only: list[str] = field(default_factory=list)
    """Only on the destination: left untouched."""
    errors: list[str] = field(default_factory=list)
    """Could not be compared."""


def conflict_copy_name(rel_path: str, suffix: str) -> str:
    """`notes/x.md` -> `notes/x.conflict-<suffix>.md` (basic-memory's `transfer` rule and
    name), bmsync's own rule for a conflict copy (`bmsync.names.conflict_copies`) with
    basic-memory's arguments."""
    return conflict_copies(rel_path, suffix)(1)


def strategy_overwrites_dest(direction: TransferDirection, strategy: ConflictStrategy) -> bool:
    """Whether the source's version replaces the destination's (keep-local on push,
    keep-cloud on pull)."""
    if strategy == "keep-cloud":
        return direction == "pull"
    if strategy == "keep-local":
        return direction == "push"
    return False
