"""What "nothing lost" means, as code: shared by the model-based test and the SIGKILL loop.

A *version* is one content at one path on one side (the local folder or the remote prefix). The
reliability goal is that every version current on either side when a run starts is, after the
run, still reachable: at its path on some side, in a conflict copy next to the path, or in a
trash (`<state>/<project>/trash/<run>/<path>[.N]` locally, `.bmsync-trash/<prefix>/<run>/<relkey>`
in the bucket). `find_losses` checks exactly that between two `Inventory`s, taken before and after
a run (completed, interrupted or killed).

The checker never trusts bmsync to tell it what happened: it reads the folder, the state dir and
a listing of the whole bucket itself. Object bytes come from a `Ledger` of every content the test
ever wrote, looked up by the listing's ETag (an MD5 on both test servers for single-part objects),
so an inventory costs one listing rather than a GET per object; an ETag the ledger does not know
(a multipart upload) is fetched once and cached.

`forecast_guards` is an independent oracle for the safety guards: from the snapshot rows (read
with plain sqlite3), the folder and the listing it predicts which paths the run must delete on
each side and whether the empty-side guard must fire, following the decision table of
docs/semantics.md rather than calling the planner.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import random
import re
import sqlite3
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import xxhash

TEMP_PREFIX = ".bmsync-tmp-"
REMOTE_TRASH = ".bmsync-trash"
FIGURES_DIR = Path(__file__).resolve().parent / ".figures"

_NUMBERED = re.compile(r"^(?P<base>.+)\.(?P<n>\d+)$")


def md5_hex(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def xxh3_hex(data: bytes) -> str:
    """The content hash bmsync's snapshot stores (xxh3-128, hex)."""
    return xxhash.xxh3_128(data).hexdigest()


class Ledger:
    """Every content the tests wrote, by MD5.

    It lets an inventory name an object's bytes from the listing's ETag alone, and it is the
    reference for "no partial file": any file at a user path, on either side, must hold a content
    from this ledger, never a truncated or mixed one.
    """

    def __init__(self) -> None:
        self._by_md5: dict[str, bytes] = {}
        self._serial = itertools.count(1)

    def add(self, data: bytes) -> bytes:
        self._by_md5[md5_hex(data)] = data
        return data

    def new(self, label: str, filler: int = 0) -> bytes:
        """A content never written before (a unique serial), `filler` bytes longer than usual.

        The serial has a fixed width, so two versions often have the same size: a change must
        then be found by its hash, not by its size.
        """
        return self.add(f"{label} v{next(self._serial):05d}\n{'~' * filler}".encode())

    def knows(self, data: bytes) -> bool:
        return md5_hex(data) in self._by_md5

    def by_etag(self, etag: str) -> bytes | None:
        return self._by_md5.get(etag.strip('"').lower())

    def __len__(self) -> int:
        return len(self._by_md5)


class Bucket:
    """One bucket, seen from outside bmsync with a plain botocore client: another writer, and
    the inspector the checks use."""

    def __init__(self, client: Any, name: str, prefix: str, ledger: Ledger) -> None:
        self.client = client
        self.name = name
        self.prefix = prefix.strip("/")
        self.ledger = ledger
        self._fetched: dict[tuple[str, int], bytes] = {}

    @property
    def url(self) -> str:
        return f"s3://{self.name}/{self.prefix}"

    def key(self, rel: str) -> str:
        return f"{self.prefix}/{rel}"

    def put(self, rel: str, data: bytes, mtime_s: float | None = None) -> None:
        """Write as another tool would: plain PutObject, `mtime` metadata only if given."""
        self.ledger.add(data)
        extra: dict[str, Any] = {}
        if mtime_s is not None:
            extra["Metadata"] = {"mtime": f"{mtime_s:.9f}"}
        self.client.put_object(Bucket=self.name, Key=self.key(rel), Body=data, **extra)

    def delete(self, rel: str) -> None:
        self.client.delete_object(Bucket=self.name, Key=self.key(rel))

    def listing(self) -> dict[str, tuple[str, int]]:
        """Every key of the bucket (prefix and trash alike): key -> (unquoted ETag, size)."""
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.name)
        return {
            entry["Key"]: (entry["ETag"].strip('"'), int(entry["Size"]))
            for page in pages
            for entry in page.get("Contents", ())
        }

    def tree(self) -> dict[str, bytes]:
        """The prefix's user objects: relkey -> bytes."""
        start = self.prefix + "/"
        return {
            key[len(start) :]: self.read(key, etag, size)
            for key, (etag, size) in sorted(self.listing().items())
            if key.startswith(start) and is_user_path(key[len(start) :])
        }

    def read(self, key: str, etag: str, size: int) -> bytes:
        known = self.ledger.by_etag(etag)
        if known is not None and len(known) == size:
            return known
        cached = self._fetched.get((etag, size))
        if cached is None:
            cached = self.client.get_object(Bucket=self.name, Key=key)["Body"].read()
            self._fetched[(etag, size)] = cached
        return cached


def is_user_path(rel: str) -> bool:
    """What the sync sees with the default ignore rules: no component starts with a dot
    (`.*` is one of basic-memory's defaults, and bmsync's temporary files start with one)."""
    return not any(part.startswith(".") for part in rel.split("/"))


def local_tree(root: Path) -> dict[str, bytes]:
    """The folder's user files (NFC names are used throughout, so disk name == path)."""
    if not root.is_dir():
        return {}
    out: dict[str, bytes] = {}
    for path in root.rglob("*"):
        rel = path.relative_to(root).as_posix()
        if path.is_file() and not path.is_symlink() and is_user_path(rel):
            out[rel] = path.read_bytes()
    return dict(sorted(out.items()))


def local_mtimes(root: Path) -> dict[str, int]:
    if not root.is_dir():
        return {}
    return {
        path.relative_to(root).as_posix(): path.stat().st_mtime_ns
        for path in root.rglob("*")
        if path.is_file() and is_user_path(path.relative_to(root).as_posix())
    }


def temp_files(root: Path) -> list[str]:
    """bmsync's `.bmsync-tmp-*` files anywhere in the folder (none may outlive a finished run)."""
    if not root.is_dir():
        return []
    return sorted(p.relative_to(root).as_posix() for p in root.rglob(f"{TEMP_PREFIX}*"))


def local_trash(state_dir: Path) -> dict[str, bytes]:
    """Every file of every project's local trash in `state_dir`: "<run>/<relpath>" -> bytes."""
    out: dict[str, bytes] = {}
    for trash in state_dir.glob("*/trash"):
        for path in trash.rglob("*"):
            if path.is_file():
                out[path.relative_to(trash).as_posix()] = path.read_bytes()
    return out


def trash_paths(entry: str) -> set[str]:
    """The paths a trash entry "<run>/<relpath>" may hold a version of: the relpath, and without
    a `.N` suffix (the trash numbers a second version of one path in one run)."""
    _run, _, rel = entry.partition("/")
    paths = {rel}
    numbered = _NUMBERED.match(rel)
    if numbered is not None:
        paths.add(numbered.group("base"))
    return paths


def is_conflict_copy_of(candidate: str, path: str) -> bool:
    """`{stem}.conflict-YYYYMMDD-HHMMSS[-N]{suffix}` in the same folder as `path`."""
    pure, other = PurePosixPath(path), PurePosixPath(candidate)
    if pure.parent != other.parent:
        return False
    suffix = pure.suffix
    stem = pure.name[: len(pure.name) - len(suffix)] if suffix else pure.name
    pattern = re.escape(stem) + r"\.conflict-\d{8}-\d{6}(?:-\d+)?" + re.escape(suffix)
    return re.fullmatch(pattern, other.name) is not None


def is_conflict_copy(name: str) -> bool:
    return re.search(r"\.conflict-\d{8}-\d{6}(?:-\d+)?(?:\.[^./]*)?$", name) is not None


@dataclass(frozen=True)
class Inventory:
    """Everything one client and the bucket hold at one moment, read from outside bmsync."""

    local: dict[str, bytes]
    remote: dict[str, bytes]
    local_trash: dict[str, bytes]
    """"<run>/<relpath>[.N]" -> bytes, from this client's state dir."""
    remote_trash: dict[str, bytes]
    """"<run>/<relkey>" -> bytes, from `.bmsync-trash/<prefix>/`."""
    remote_etags: dict[str, tuple[str, int]]
    local_mtimes: dict[str, int] = field(default_factory=dict)


def take_inventory(root: Path, state_dir: Path, bucket: Bucket) -> Inventory:
    listing = bucket.listing()
    in_prefix = bucket.prefix + "/"
    in_trash = f"{REMOTE_TRASH}/{bucket.prefix}/"
    remote: dict[str, bytes] = {}
    etags: dict[str, tuple[str, int]] = {}
    trash: dict[str, bytes] = {}
    for key, (etag, size) in sorted(listing.items()):
        if key.startswith(in_prefix):
            rel = key[len(in_prefix) :]
            if is_user_path(rel):
                remote[rel] = bucket.read(key, etag, size)
                etags[rel] = (etag, size)
        elif key.startswith(in_trash):
            trash[key[len(in_trash) :]] = bucket.read(key, etag, size)
    return Inventory(
        local=local_tree(root),
        remote=remote,
        local_trash=local_trash(state_dir),
        remote_trash=trash,
        remote_etags=etags,
        local_mtimes=local_mtimes(root),
    )


@dataclass(frozen=True)
class Loss:
    side: str
    path: str
    content: bytes

    def __str__(self) -> str:
        return f"{self.side} {self.path!r} holding {self.content[:60]!r}"


def find_losses(before: Inventory, after: Inventory) -> list[Loss]:
    """Versions current on either side in `before` that `after` keeps nowhere.

    Kept means: at the same path on either side, in a conflict copy of the path on either side,
    in a trash entry for the path that the run(s) between the two inventories created, or at
    the new name of a rename that synced: a path both sides hold those bytes at afterwards, one
    side held them at already before (the user's `mv`, carried to the other side as a move,
    which keeps no trash entry since nothing is gone). Contents are compared byte for byte.
    """
    trashed: dict[str, set[bytes]] = defaultdict(set)
    for entries, old in (
        (after.local_trash, before.local_trash),
        (after.remote_trash, before.remote_trash),
    ):
        for entry, data in entries.items():
            if entry not in old:
                for path in trash_paths(entry):
                    trashed[path].add(data)
    copies: dict[str, set[bytes]] = defaultdict(set)
    for tree in (after.local, after.remote):
        for name, data in tree.items():
            if is_conflict_copy(name):
                copies[name].add(data)

    renamed_to = {
        data
        for name, data in after.local.items()
        if after.remote.get(name) == data
        and data in (before.local.get(name), before.remote.get(name))
    }

    def kept(path: str, data: bytes) -> bool:
        if after.local.get(path) == data or after.remote.get(path) == data:
            return True
        if data in trashed.get(path, ()) or data in renamed_to:
            return True
        return any(
            data in contents and is_conflict_copy_of(name, path)
            for name, contents in copies.items()
        )

    losses = [
        Loss(side, path, data)
        for side, tree in (("local", before.local), ("remote", before.remote))
        for path, data in tree.items()
        if not kept(path, data)
    ]
    return losses


def unknown_contents(ledger: Ledger, trees: Mapping[str, Mapping[str, bytes]]) -> list[str]:
    """User paths holding bytes the tests never wrote (a partial or mixed file), as
    "<tree name> <path>"."""
    return [
        f"{name} {path}"
        for name, tree in trees.items()
        for path, data in tree.items()
        if not ledger.knows(data)
    ]


# -- the guard oracle -------------------------------------------------------------------------


@dataclass(frozen=True)
class SnapshotRow:
    size: int
    mtime_ns: int
    xxh3: str
    etag: str


def read_snapshot(db: Path) -> dict[str, SnapshotRow]:
    """The snapshot's file rows, read with plain sqlite3 (no bmsync code involved).

    A missing file, or one without tables (which bmsync reports as corrupt; a killed creation
    leaves no file, since bmsync renames a made snapshot into place), reads as no rows.
    """
    if not db.exists():
        return {}
    conn = sqlite3.connect(db)
    try:
        tables = conn.execute("SELECT name FROM sqlite_master WHERE type='table'").fetchall()
        if ("files",) not in tables:
            return {}
        rows = conn.execute("SELECT path, size, mtime_ns, xxh3, etag FROM files").fetchall()
    finally:
        conn.close()
    return {path: SnapshotRow(size, mtime, xxh3, etag) for path, size, mtime, xxh3, etag in rows}


def snapshot_integrity(db: Path) -> str:
    conn = sqlite3.connect(db)
    try:
        verdict: str = conn.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        conn.close()
    return verdict


@dataclass(frozen=True)
class GuardForecast:
    """What the decision table says a run must do about deletes, before it runs."""

    local_deletes: frozenset[str]
    remote_deletes: frozenset[str]
    empty_side: bool
    snapshot_size: int

    def limit(self, max_delete: int | str) -> int:
        if isinstance(max_delete, str) and max_delete.endswith("%"):
            return int(self.snapshot_size * float(max_delete[:-1]) / 100)
        return int(max_delete)

    def over_limit(self, max_delete: int | str) -> bool:
        limit = self.limit(max_delete)
        return len(self.local_deletes) > limit or len(self.remote_deletes) > limit

    def aborts(self, max_delete: int | str, *, force: bool = False) -> bool:
        return not force and (self.empty_side or self.over_limit(max_delete))


def forecast_guards(snapshot: Mapping[str, SnapshotRow], inventory: Inventory) -> GuardForecast:
    """Delete the remote copy: gone locally, unchanged remotely (ETag and size as recorded).
    Delete the local copy: unchanged locally (size and xxh3 as recorded), gone remotely.
    Empty side: the snapshot holds files and one side holds none of them (by path or content)
    while the other holds files."""
    local, remote = inventory.local, inventory.remote_etags

    def local_as_recorded(path: str) -> bool:
        row = snapshot.get(path)
        data = local.get(path)
        return (
            row is not None
            and data is not None
            and (len(data), xxh3_hex(data)) == (row.size, row.xxh3)
        )

    def remote_as_recorded(path: str) -> bool:
        row = snapshot.get(path)
        return row is not None and remote.get(path) == (row.etag, row.size)

    remote_deletes = frozenset(p for p in snapshot if p not in local and remote_as_recorded(p))
    local_deletes = frozenset(p for p in snapshot if p not in remote and local_as_recorded(p))
    # Empty side: one side holds none of the recorded files (at its path, or its bytes under
    # another path) while the other holds files; new files on the emptied side do not count.
    local_kept = any(
        p in local or any((len(d), xxh3_hex(d)) == (row.size, row.xxh3) for d in local.values())
        for p, row in snapshot.items()
    )
    remote_kept = any(
        p in remote or any(etag == row.etag for etag, _ in remote.values())
        for p, row in snapshot.items()
    )
    empty = bool(snapshot) and (
        (bool(remote) and not local_kept) or (bool(local) and not remote_kept)
    )

    # Renames travel as moves, which are no deletes (`bmsync/engine/moves.py`): a remote delete
    # whose snapshot row (size, xxh3) is exactly one new local file's, that content unique on
    # both sides, is a server-side move; likewise a local delete and one new remote object of
    # the row's (size, ETag) a local rename. New: on one side only, and not as recorded there.
    new_local = [q for q in local if q not in remote and not local_as_recorded(q)]
    new_remote = [q for q in remote if q not in local and not remote_as_recorded(q)]
    remote_moves = _moved(
        remote_deletes,
        {p: (snapshot[p].size, snapshot[p].xxh3) for p in remote_deletes},
        {q: (len(local[q]), xxh3_hex(local[q])) for q in new_local},
    )
    local_moves = _moved(
        local_deletes,
        {p: (snapshot[p].size, snapshot[p].etag) for p in local_deletes},
        {q: (remote[q][1], remote[q][0]) for q in new_remote},
    )
    return GuardForecast(
        local_deletes - local_moves, remote_deletes - remote_moves, empty, len(snapshot)
    )


def _moved(
    deleted: frozenset[str], old: Mapping[str, object], new: Mapping[str, object]
) -> frozenset[str]:
    """The deleted paths whose content is exactly one new path's, unique among both."""
    old_counts = Counter(old.values())
    new_counts = Counter(new.values())
    return frozenset(
        path for path in deleted if old_counts[old[path]] == 1 and new_counts[old[path]] == 1
    )


# -- seeds and figures ------------------------------------------------------------------------


def choose_seed(env_var: str, default: int, *, random_outside_ci: bool = True) -> tuple[int, str]:
    """The seed to run with, and where it came from; the caller prints both with the way to
    replay it. `env_var` when set (an integer replays a run, `random` draws a fresh seed); else
    `default` under CI, so a CI failure reproduces; outside CI a fresh random seed when
    `random_outside_ci` (so local runs explore), else `default` again."""
    given = os.environ.get(env_var, "")
    if given == "random":
        return random.SystemRandom().randrange(2**32), f"random, as {env_var} asks"
    if given:
        return int(given), f"from {env_var}"
    if os.environ.get("CI"):
        return default, "fixed CI default"
    if not random_outside_ci:
        return default, "fixed default"
    return random.SystemRandom().randrange(2**32), "random"


def write_figures(name: str, figures: Mapping[str, object]) -> Path:
    """`tests/.figures/<name>.json`; the folder ignores itself so the figures are never
    committed by accident."""
    FIGURES_DIR.mkdir(exist_ok=True)
    ignore = FIGURES_DIR / ".gitignore"
    if not ignore.exists():
        ignore.write_text("*\n")
    path = FIGURES_DIR / f"{name}.json"
    path.write_text(json.dumps(figures, indent=2, sort_keys=True) + "\n")
    return path


def tree_difference(local: Mapping[str, bytes], remote: Mapping[str, bytes]) -> str:
    differing = sorted(p for p in local.keys() & remote.keys() if local[p] != remote[p])
    return (
        f"local only {sorted(local.keys() - remote.keys())}, "
        f"remote only {sorted(remote.keys() - local.keys())}, differing {differing}"
    )


def describe(items: Iterable[object], limit: int = 10) -> str:
    shown = [str(item) for item in itertools.islice(items, limit + 1)]
    more = ", …" if len(shown) > limit else ""
    return ", ".join(shown[:limit]) + more
