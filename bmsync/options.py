"""The options a run takes, defined once (`RunOptions`), and the `SyncOptions` they resolve to.

`RunOptions` is the one list of what a caller may say about how a run behaves (profile,
conflicts, the delete limit, dry run, ...): its fields' names, types, defaults and meanings.
`TAKES` says which of them each command takes. The public functions (`sync_project`,
`push_project`, ..., `watch_all`) take those as keywords under the same names, types and
defaults (tests/test_options.py checks each signature against this module, so they cannot
drift); each also takes them whole (`options=RunOptions(...)`), which is how the CLI, having
built one `RunOptions` from its arguments, passes them. Adding an option is a field here and
its use (in `resolve` if the pipeline reads it); to offer it as a keyword as well, its name in
`TAKES` and a parameter in each function `TAKES` lists it for (the test names any missed); on
the command line, its entry in `bmsync.cli.parser.RUN_OPTIONS` and its name where a
subcommand adds it.

The three profiles are the ones Basic Memory users already know from the rclone era (SPEC-9):
`safe` keeps both versions of every conflict and allows 10 deletes, `balanced` (default) lets
the newer version win and allows 25, `fast` allows 50 and skips post-transfer verification.
An explicit `conflict` or `max_delete` overrides the profile's.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from enum import Enum
from typing import Any, Literal

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
    mode: Mode = Mode.BISYNC,
    one_way: str | OneWayConflict = OneWayConflict.FAIL,
    **given: Any,
) -> SyncOptions:
    """`RunOptions(**given).resolve(mode, one_way)`: the options named as keywords."""
    return RunOptions(**given).resolve(mode, one_way)


@dataclass(frozen=True, slots=True, kw_only=True)
class RunOptions:
    """How a run behaves, as a caller says it (`resolve` validates it into a `SyncOptions`).

    Each public function takes the fields `TAKES` names for it as keyword arguments of the same
    name, type and default; where the folder and the remote are (`s3`, `state_dir`, `ignore`,
    ...) is `bmsync.commands.run_pair.Pair`'s, and callbacks are each function's own."""

    profile: ProfileName = "balanced"
    """`safe`, `balanced` or `fast`: the delete limit, the conflict rule and whether each
    transfer is checked afterwards, unless `conflict` or `max_delete` says otherwise."""
    conflict: ConflictName | None = None
    """How a two-way sync settles a file changed differently on both sides (default: the
    profile's). Push and pull take a `conflict` of their own (`OneWayConflictName`)."""
    max_delete: int | str | None = None
    """Per-side delete limit: a count (`25`) or a share of the files (`"50%"`); default: the
    profile's."""
    dry_run: bool = False
    """Plan and report, change nothing."""
    resync: bool = False
    """Ignore (and, if damaged, rebuild) the snapshot: a union that deletes nothing."""
    force: bool = False
    """Lift the safety guards (max-delete; an empty side facing a full one)."""
    transfers: int = 8
    """How many transfers run at once (at least 1)."""
    trash_retention_days: float = 30.0
    """How long trashed versions are kept before a run empties them."""
    dir_markers: bool = False
    """Keep a `folder/` marker for every folder and sync empty folders (TigrisFS mounts)."""
    delete_excluded: bool = False
    """Mirror: also delete remote files the ignore rules exclude."""

    @classmethod
    def given(cls, command: str, arguments: Mapping[str, Any]) -> RunOptions:
        """The options `command` takes, picked by name from its `arguments` (a function's
        `locals()`, an argparse namespace's `vars()`); the others keep their defaults. A
        function's `options` argument, if given, is the options whole: then none may be given
        as a keyword too (which would win is not obvious)."""
        picked = {name: arguments[name] for name in TAKES[command] if name in arguments}
        whole = arguments.get("options")
        if whole is None:
            return cls(**picked)
        if not isinstance(whole, RunOptions):
            raise ConfigError(f"options must be a bmsync.RunOptions, not {whole!r}")
        both = [name for name, value in picked.items() if value != _DEFAULTS[name]]
        if both:
            raise ConfigError(
                f"{', '.join(both)} given both as a keyword and in options; give each once"
            )
        return whole

    def keywords(self, command: str) -> dict[str, Any]:
        """The options `command` takes, as the keyword arguments of its function."""
        return {name: getattr(self, name) for name in TAKES[command]}

    def resolve(
        self, mode: Mode = Mode.BISYNC, one_way: str | OneWayConflict = OneWayConflict.FAIL
    ) -> SyncOptions:
        """Validate each setting, and apply the explicit ones on top of the named profile."""
        chosen = PROFILES.get(self.profile)
        if chosen is None:
            raise ConfigError(
                f"unknown profile {self.profile!r}; choose one of: {', '.join(PROFILES)}"
            )
        check_transfers(self.transfers)
        if self.trash_retention_days < 0:
            raise ConfigError(
                f"trash retention must be at least 0 days (got {self.trash_retention_days})"
            )
        conflict, max_delete = self.conflict, self.max_delete
        return SyncOptions(
            conflict=parse_conflict(conflict) if conflict is not None else chosen.conflict,
            max_delete=parse_max_delete(max_delete)
            if max_delete is not None
            else chosen.max_delete,
            verify=chosen.verify,
            resync=self.resync,
            force=self.force,
            dry_run=self.dry_run,
            transfers=self.transfers,
            trash_retention_days=self.trash_retention_days,
            mode=mode,
            one_way=parse_one_way(one_way),
            delete_excluded=self.delete_excluded,
            dir_markers=self.dir_markers,
        )


_DEFAULTS = {f.name: f.default for f in fields(RunOptions)}

_TWO_WAY = (
    "profile", "conflict", "max_delete", "dry_run", "resync", "force", "transfers",
    "trash_retention_days", "dir_markers",
)  # fmt: skip
TAKES: dict[str, tuple[str, ...]] = {
    "sync": _TWO_WAY,
    "watch": _TWO_WAY,  # a watch refuses dry_run, resync and force, saying why
    "sync-all": (
        "profile",
        "conflict",
        "max_delete",
        "dry_run",
        "force",
        "transfers",
        "dir_markers",
    ),
    "watch-all": _TWO_WAY,
    "push": ("dry_run", "transfers", "dir_markers"),
    "pull": ("dry_run", "transfers"),
    "mirror": ("delete_excluded", "max_delete", "force", "dry_run", "transfers", "dir_markers"),
    "prune": ("max_delete", "force", "transfers"),
}
"""Which `RunOptions` each command takes (push and pull also take their own `conflict`, prune
its `yes`, which is `dry_run`'s opposite)."""
