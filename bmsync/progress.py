"""Progress of a run, as typed events a UI can render (a terminal's live bars, a notebook widget).

A run sends them to the `progress` callback of every syncing command, in this order:

    PhaseEvent("scanning")  PhaseEvent("listing")            both start at once
    PhaseEvent("listing", count=objects, finished=True)      in either order
    PhaseEvent("scanning", count=files, finished=True)
    PhaseEvent("comparing", count=paths)                     only when some need a request
    PhaseEvent("planning", count=actions, finished=True)
    PhaseEvent("transferring", count=actions, bytes=bytes)   not in a dry run or an abort
    ProgressEvent(...) per finished action, TransferEvent(...) while a large file moves

Events are cheap: one per phase, one per action, and for a file of at least `LARGE_FILE` bytes
one per `LARGE_FILE` moved, never one per chunk. A callback runs on the run's event loop and
must return quickly; one that raises stops the run like an error would.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

Phase = Literal["scanning", "listing", "comparing", "planning", "transferring"]

ActionName = Literal[
    "upload", "download", "delete-local", "delete-remote", "conflict", "move", "record"
]
"""What an action does, as a word: `record` only updates the snapshot (both sides already
agree, or a path is gone from both), `conflict` keeps both versions of a path."""

LARGE_FILE = 1 << 20
"""A transfer of at least this many bytes reports its bytes as they move, every this many."""


@dataclass(frozen=True, slots=True)
class PhaseEvent:
    """A step of the run started or ended, with what it counted."""

    phase: Phase
    count: int = 0
    """scanning: local files found; listing: remote objects listed; comparing: paths whose
    content must be compared with a request; planning and transferring: actions to carry
    out (snapshot-only ones included)."""
    bytes: int = 0
    """transferring: the bytes the uploads and downloads will move."""
    finished: bool = False
    """Whether `count` is final (scanning and listing send a start and a finished event)."""


@dataclass(frozen=True, slots=True)
class ProgressEvent:
    """An action finished: what was done to which path, and how far the run is."""

    action: ActionName
    path: str
    done: int
    """Actions finished so far, this one included."""
    total: int
    """Actions in the run."""
    ok: bool
    """False: it failed, and the report's `errors` say why."""
    bytes_done: int = 0
    """Bytes this action moved: `bytes_total` when it succeeded, 0 when it failed."""
    bytes_total: int = 0
    """Bytes it was to move (a conflict both downloads and uploads)."""


@dataclass(frozen=True, slots=True)
class TransferEvent:
    """A large file is moving: the bytes of its action moved so far."""

    action: ActionName
    path: str
    bytes_done: int
    bytes_total: int


Progress = PhaseEvent | ProgressEvent | TransferEvent
"""Any event a run sends to its `progress` callback."""

ProgressFn = Callable[[Progress], None]


def no_progress(_event: Progress) -> None:
    """The callback of a caller that asked for no progress: steps call one without checking."""
