"""Profiles, conflict strategies and the max-delete limit, resolved into one `SyncOptions`.

The three profiles are the ones Basic Memory users already know from the rclone era (SPEC-9):
`safe` keeps both versions of every conflict and allows 10 deletes, `balanced` (default) lets
the newer version win and allows 25, `fast` allows 50 and skips post-transfer verification.
An explicit `conflict` or `max_delete` overrides the profile's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from typing import Literal

from bmsync.errors import ConfigError


class Mode(Enum):
    """Which way a run syncs: the planner reads one decision table per mode."""

    BISYNC = "bisync"
    """Both ways; changes on either side reach the other, conflicts keep both versions."""
    PUSH = "push"
    """Local to remote, additive: new and changed files go up, nothing is deleted anywhere."""
    PULL = "pull"
    """Remote to local, additive: the mirror image of PUSH."""
    MIRROR = "mirror"
    """Make the remote identical to the folder: upload what differs, delete what it lacks."""
    PRUNE = "prune"
    """Only delete remote files the ignore rules exclude; nothing else."""


class OneWayConflict(Enum):
    """What push and pull do with a path that differs on both sides (basic-memory's choices)."""

    FAIL = "fail"
    """Transfer nothing at all; list the conflicts (a safety abort)."""
    KEEP_LOCAL = "keep-local"
    """The local version ends on the destination (push overwrites the remote one, into the
    trash; pull leaves the local one)."""
    KEEP_REMOTE = "keep-remote"
    """The remote version ends on the destination."""
    KEEP_BOTH = "keep-both"
    """The incoming version is put beside the destination's as `{stem}.conflict-{time}{suffix}`."""


class TwoWayConflict(Enum):
    """How a two-way sync settles a file changed on both sides (push and pull take a
    `OneWayConflict`; basic-memory's API names its own words `ConflictStrategy`)."""

    NEWER = "newer"
    OLDER = "older"
    LARGER = "larger"
    SMALLER = "smaller"
    LOCAL = "local"
    REMOTE = "remote"
    KEEP_BOTH = "keep-both"


ProfileName = Literal["safe", "balanced", "fast"]
ConflictName = Literal["newer", "older", "larger", "smaller", "local", "remote", "keep-both"]
"""The words `profile` and `conflict` accept (a `TwoWayConflict` is accepted too)."""


@dataclass(frozen=True, slots=True)
class MaxDelete:
    """A per-side delete limit: a count, or a percentage of the snapshot's files (of the
    side's own files when the snapshot holds none: `bmsync.engine.guards.max_delete_reason`)."""

    count: int | None = None
    percent: float | None = None

    def limit(self, files: int) -> int:
        if self.percent is not None:
            return int(files * self.percent / 100)
        assert self.count is not None
        return self.count

    def __str__(self) -> str:
        return f"{self.percent:g}%" if self.percent is not None else str(self.count)


@dataclass(frozen=True, slots=True)
class Profile:
    name: str
    max_delete: MaxDelete
    conflict: TwoWayConflict
    verify: bool


PROFILES: dict[str, Profile] = {
    "safe": Profile("safe", MaxDelete(count=10), TwoWayConflict.KEEP_BOTH, verify=True),
    "balanced": Profile("balanced", MaxDelete(count=25), TwoWayConflict.NEWER, verify=True),
    "fast": Profile("fast", MaxDelete(count=50), TwoWayConflict.NEWER, verify=False),
}


MAX_REQUESTS_IN_FLIGHT = 32
"""The most requests a run has in flight: the S3 client's connection pool, and the cap on small
transfers at once (a note's upload is one round trip, so `transfers` of them at once leave a
high-latency link idle; the executor runs up to 4x `transfers` of them, never more than this,
and fewer, down to `transfers`, while the store answers "slow down": `bmsync/engine/aimd.py`)."""


@dataclass(frozen=True, slots=True)
class SyncOptions:
    """Everything the planner and guards need to know about how this run should behave."""

    conflict: TwoWayConflict = TwoWayConflict.NEWER
    max_delete: MaxDelete = MaxDelete(count=25)
    verify: bool = True
    resync: bool = False
    force: bool = False
    dry_run: bool = False
    transfers: int = 8
    trash_retention_days: float = 30.0
    mode: Mode = Mode.BISYNC
    one_way: OneWayConflict = OneWayConflict.FAIL
    """Push and pull: what to do with a path that differs on both sides."""
    delete_excluded: bool = False
    """Mirror: also delete remote files the ignore rules exclude."""
    dir_markers: bool = False
    """Keep a `folder/` marker for every synced folder (TigrisFS mounts show no other), and
    sync empty folders (docs/workflows.md, "Folder markers")."""


_MAX_DELETE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(%?)\s*$")


def parse_max_delete(value: int | str) -> MaxDelete:
    """`25` or `"25"` is a count; `"50%"` is a share of the files in the snapshot."""
    if isinstance(value, bool):
        raise ConfigError(
            f"max_delete must be a count like 25 or a share like '50%', not {value!r}"
        )
    if isinstance(value, int):
        if value < 0:
            raise ConfigError(f"max_delete must not be negative (got {value})")
        return MaxDelete(count=value)
    match = _MAX_DELETE_RE.match(str(value))
    if not match:
        raise ConfigError(
            f"max_delete must be a count like 25 or a share like '50%', not {value!r}"
        )
    number, percent = match.groups()
    if percent:
        share = float(number)
        if share > 100:
            raise ConfigError(f"max_delete share must be at most 100% (got {value!r})")
        return MaxDelete(percent=share)
    if "." in number:
        raise ConfigError(f"max_delete count must be a whole number (got {value!r})")
    return MaxDelete(count=int(number))


def parse_conflict(value: str | TwoWayConflict) -> TwoWayConflict:
    if isinstance(value, TwoWayConflict):
        return value
    try:
        return TwoWayConflict(value)
    except ValueError:
        choices = ", ".join(s.value for s in TwoWayConflict)
        raise ConfigError(
            f"unknown conflict strategy {value!r}; choose one of: {choices}"
        ) from None


OneWayConflictName = Literal["fail", "keep-local", "keep-remote", "keep-cloud", "keep-both"]
"""The words push and pull accept; `keep-cloud` is basic-memory's name for `keep-remote`."""


def parse_one_way(value: str | OneWayConflict) -> OneWayConflict:
    if isinstance(value, OneWayConflict):
        return value
    try:
        return OneWayConflict("keep-remote" if value == "keep-cloud" else value)
    except ValueError:
        choices = ", ".join(c.value for c in OneWayConflict)
        raise ConfigError(
            f"unknown conflict choice {value!r} for a push or pull; choose one of: {choices} "
            "(keep-cloud is another name for keep-remote)"
        ) from None


def check_transfers(transfers: object) -> None:
    """How many transfers (or comparisons) run at once: a whole number, at least 1 (0 would
    leave every transfer waiting for a free slot forever)."""
    if not isinstance(transfers, int) or isinstance(transfers, bool) or transfers < 1:
        raise ConfigError(f"transfers must be a whole number of at least 1 (got {transfers!r})")


def resolve_options(
    *,
    profile: str = "balanced",
    conflict: str | TwoWayConflict | None = None,
    max_delete: int | str | None = None,
    resync: bool = False,
    force: bool = False,
    dry_run: bool = False,
    transfers: int = 8,
    trash_retention_days: float = 30.0,
    mode: Mode = Mode.BISYNC,
    one_way: str | OneWayConflict = OneWayConflict.FAIL,
    delete_excluded: bool = False,
    dir_markers: bool = False,
) -> SyncOptions:
    """Apply explicit settings on top of the named profile, validating each."""
    chosen = PROFILES.get(profile)
    if chosen is None:
        raise ConfigError(f"unknown profile {profile!r}; choose one of: {', '.join(PROFILES)}")
    check_transfers(transfers)
    if trash_retention_days < 0:
        raise ConfigError(f"trash retention must be at least 0 days (got {trash_retention_days})")
    return SyncOptions(
        conflict=parse_conflict(conflict) if conflict is not None else chosen.conflict,
        max_delete=parse_max_delete(max_delete) if max_delete is not None else chosen.max_delete,
        verify=chosen.verify,
        resync=resync,
        force=force,
        dry_run=dry_run,
        transfers=transfers,
        trash_retention_days=trash_retention_days,
        mode=mode,
        one_way=parse_one_way(one_way),
        delete_excluded=delete_excluded,
        dir_markers=dir_markers,
    )
