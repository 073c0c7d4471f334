"""SIGKILL `bmsync sync` (the real command, `python -m bmsync.cli`) at many moments of large runs.

The reliability goal: a run killed at any point (mid-upload, mid-download, mid-rename,
mid-commit) leaves both sides and the snapshot such that the next run converges; every version
current on either side when the killed run began is afterwards at its path, in a conflict copy or
in a trash; no temporary file remains; a second run does nothing.

The test works in rounds. Round 0 is a first run (no snapshot: a union with first-run conflicts);
each later round changes a few hundred paths against the synced state, both ways: new files,
edits (downloads over existing files), deletes on each side, conflicts, edit-versus-delete, the
same edit on both sides, and a ~20 MiB file (multipart upload, or a large download over an
existing file). Each round then starts the command five times and SIGKILLs it, without a
completed run in between, aiming each kill in turn (`KILL_SCHEDULE`; `tests/killing.py` reads
the progress lines the command prints to its terminal, a pseudo-terminal here):

- three after a random share (5 % to 70 %) of the run's actions, plus a few ms; when the round
  uploads the big file, the first instead a moment after its multipart upload began;
- one a random moment after the command took the project lock: while the snapshot opens, the
  folder is scanned, the prefix listed, or the plan made;
- one as soon as the command reports its last action, in the final snapshot commit.

Where each kill landed is counted from the actions finished when the command died, and the test
fails unless enough landed where they aimed (`check_kills_landed`): a budget that killed
nothing mid-run would otherwise pass having proved nothing.

After every kill: the snapshot passes SQLite's integrity check and opens with bmsync; no version
current when that run began is lost; no user path on either side holds a partial file. After the
round, a clean run must exit 0, make the folder equal to the prefix, leave no `.bmsync-tmp-*` file,
lose nothing current at the start of the round, and reach the state the changes call for (edits
kept, deletes propagated, conflict winner at the path and loser in a copy); a second run is a
no-op.

It runs on both servers: `rclone serve s3` ignores conditional writes, moto_server enforces
them (`If-Match`/`If-None-Match`, as AWS and Tigris do), so bmsync takes its other write path
there, and a kill can land between a conditional write and its answer.

Knobs: `BMSYNC_KILL_POINTS` (20 kills, 5 per round), `BMSYNC_KILL_FILES` (240: the size of a
round), `BMSYNC_KILL_SEED` (printed; fixed when `CI` is set, random otherwise),
`BMSYNC_KILL_SERVER` (`rclone,moto`: the servers, comma-separated). Longer, on demand:

    BMSYNC_KILL_POINTS=100 BMSYNC_KILL_FILES=600 \
        .venv/bin/python -m pytest tests/test_kill_loop.py -s

Figures are printed and written to `tests/.figures/kill_loop-<server>.json`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import random
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from bmsync import S3Config
from bmsync.remotes import parse_remote_url
from bmsync.state.paths import ProjectPaths
from bmsync.state.store import SqliteSnapshotStore
from tests.killing import ProgressTerminal, killed
from tests.model import (
    Bucket,
    Inventory,
    Ledger,
    choose_seed,
    describe,
    find_losses,
    is_conflict_copy_of,
    snapshot_integrity,
    take_inventory,
    temp_files,
    tree_difference,
    unknown_contents,
    write_figures,
)
from tests.servers import ServerPool

KILL_POINTS = int(os.environ.get("BMSYNC_KILL_POINTS", "20"))
FILES = int(os.environ.get("BMSYNC_KILL_FILES", "240"))
SERVERS = tuple(os.environ.get("BMSYNC_KILL_SERVER", "rclone,moto").split(","))
KILLS_PER_ROUND = 5
CI_SEED = 4_2026_11_23
PREFIX = "kill/notes"
BIG = "0-big/blob.bin"
"""Sorted first, so its transfer starts as soon as the transfer phase does."""
BIG_BYTES = 20 << 20
PROFILES = ("balanced", "safe", "fast", "balanced")
TRANSFERS = (8, 16, 4, 8)
RUN_TIMEOUT_S = 300.0
KILL_SCHEDULE = ("actions", "actions", "actions", "after-lock", "after-last")
"""Where the kills of a round aim, in order. The kill after the last action comes last: the run
it hits may finish before it lands, which leaves a later kill of the round nothing to do."""


@dataclass
class Figures:
    seed: int = 0
    seed_origin: str = ""
    server: str = ""
    rounds: int = 0
    big_upload_rounds: int = 0
    kill_points: int = 0
    killed: int = 0
    killed_after_lock_before_actions: int = 0
    killed_mid_actions: int = 0
    killed_after_last_action: int = 0
    runs_finished_before_kill: int = 0
    killed_mid_multipart_upload: int = 0
    multipart_uploads_left_open: int = 0
    actions_planned_per_round: list[int] = field(default_factory=list)
    files_at_end: int = 0
    versions_checked: int = 0
    losses: int = 0
    duplicate_conflict_copies: int = 0
    seconds_in_bmsync: float = 0.0
    """Wall time of the `bmsync sync` processes (interpreter start-up included)."""
    duration_s: float = 0.0


@dataclass(frozen=True)
class Conflict:
    local: bytes
    remote: bytes
    winner: str
    """"local" or "remote": the side whose version must end at the path."""


@dataclass
class Expectation:
    """The state a round's changes call for once synced: exact for most paths, and for each
    conflict which version keeps the path (the other must be in a copy)."""

    files: dict[str, bytes]
    conflicts: dict[str, Conflict] = field(default_factory=dict)
    big_upload: bool = False
    """The round writes the big file locally: the run makes a multipart upload."""


class Clock:
    """Unique, increasing mtimes (ns), a month in the past so that an object written without
    `mtime` metadata (LastModified: now) is newer than every local edit."""

    def __init__(self) -> None:
        self._ns = (int(time.time()) - 30 * 86400) * 1_000_000_000

    def tick(self) -> int:
        self._ns += 1_000_000_007
        return self._ns


class World:
    """One folder, its state dir and the bucket prefix, plus the means to change both sides."""

    def __init__(self, tmp: Path, bucket: Bucket, config: S3Config, rng: random.Random) -> None:
        self.root = tmp / "notes"
        self.state = tmp / "state"
        self.bucket = bucket
        self.config = config
        self.rng = rng
        self.clock = Clock()
        self.root.mkdir()
        self.url = parse_remote_url(bucket.url).url
        self.paths = ProjectPaths.for_remote(self.state, self.url)
        self.env = dict(os.environ)
        self.env.update(
            AWS_ACCESS_KEY_ID=config.access_key_id or "",
            AWS_SECRET_ACCESS_KEY=config.secret_access_key or "",
            AWS_DEFAULT_REGION=config.region or "us-east-1",
            BASIC_MEMORY_CONFIG_DIR=str(tmp / "bm-config"),
        )

    @property
    def ledger(self) -> Ledger:
        return self.bucket.ledger

    def write_local(self, rel: str, data: bytes, mtime_ns: int | None = None) -> None:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(self.ledger.add(data))
        mtime = mtime_ns if mtime_ns is not None else self.clock.tick()
        os.utime(path, ns=(mtime, mtime))

    def put_remote(self, rel: str, data: bytes, mtime_ns: int | None = None) -> None:
        self.bucket.put(rel, data, mtime_ns / 1e9 if mtime_ns is not None else None)

    def note(self, label: str) -> bytes:
        """A small Markdown note, 40 to 400 bytes, never written before."""
        return self.ledger.new(label, self.rng.randrange(0, 360))

    def big(self, label: str) -> bytes:
        head = self.ledger.new(label)
        return self.ledger.add(head + self.rng.randbytes(BIG_BYTES - len(head)))

    def inventory(self) -> Inventory:
        return take_inventory(self.root, self.state, self.bucket)

    def command(self, profile: str, transfers: int, *extra: str) -> list[str]:
        return [
            sys.executable,
            "-m",
            "bmsync.cli",
            "sync",
            str(self.root),
            self.bucket.url,
            "--endpoint-url",
            str(self.config.endpoint_url),
            "--state-dir",
            str(self.state),
            "--max-delete",
            "100%",
            "--profile",
            profile,
            "--transfers",
            str(transfers),
            *extra,
        ]

    def open_uploads(self) -> set[str]:
        """Multipart uploads begun and neither completed nor aborted (a kill leaves them)."""
        try:
            listed = self.bucket.client.list_multipart_uploads(Bucket=self.bucket.name)
        except ClientError as err:
            # rclone's server answers NoSuchUpload when there is none to list.
            if err.response.get("Error", {}).get("Code") == "NoSuchUpload":
                return set()
            raise
        return {upload["UploadId"] for upload in listed.get("Uploads", ())}


# -- changes -------------------------------------------------------------------------------------


def set_local(world: World, files: dict[str, bytes], rel: str, data: bytes) -> None:
    """Write a local file and expect its content at `rel` once synced."""
    world.write_local(rel, data)
    files[rel] = data


def set_remote(
    world: World, files: dict[str, bytes], rel: str, data: bytes, mtime_ns: int | None
) -> None:
    """Put an object and expect its content at `rel` once synced."""
    world.put_remote(rel, data, mtime_ns)
    files[rel] = data


def first_run_changes(world: World, n: int) -> Expectation:
    """Round 0, no snapshot yet: files on each side only, the same file on both, first-run
    conflicts (the newer mtime wins), and the big file."""
    files: dict[str, bytes] = {}
    conflicts: dict[str, Conflict] = {}
    for i in range(n // 2):
        rel = f"r0/local/{i:04d}.md"
        world.write_local(rel, data := world.note(rel))
        files[rel] = data
        rel = f"r0/remote/{i:04d}.md"
        world.put_remote(rel, data := world.note(rel), world.clock.tick())
        files[rel] = data
    for i in range(10):
        rel = f"r0/same/{i:02d}.md"
        data = world.note(rel)
        world.write_local(rel, data)
        world.put_remote(rel, data)
        files[rel] = data
    for i in range(10):
        rel = f"r0/conflict/{i:02d}.md"
        conflicts[rel] = _conflict(world, rel, local_newer=i % 2 == 0, keep_both=False)
    world.write_local(BIG, data := world.big(BIG))
    files[BIG] = data
    return Expectation(files, conflicts, big_upload=True)


def _conflict(world: World, rel: str, *, local_newer: bool, keep_both: bool) -> Conflict:
    older, newer = world.clock.tick(), world.clock.tick()
    local, remote = world.note(f"{rel} local"), world.note(f"{rel} remote")
    world.write_local(rel, local, newer if local_newer else older)
    world.put_remote(rel, remote, older if local_newer else newer)
    winner = "local" if local_newer and not keep_both else "remote"
    return Conflict(local, remote, winner)


def round_changes(world: World, round_no: int, synced: dict[str, bytes], n: int) -> Expectation:
    """A few hundred changes against the synced state `synced`, on both sides."""
    rng = world.rng
    files = dict(synced)
    conflicts: dict[str, Conflict] = {}
    pool = sorted(p for p in synced if p != BIG)
    rng.shuffle(pool)
    sizes = {
        "edit_local": n // 8,
        "edit_remote": n // 8,
        "delete_local": n // 12,
        "delete_remote": n // 12,
        "conflict": n // 20,
        "edit_local_delete_remote": 3,
        "delete_local_edit_remote": 3,
        "same_edit": 3,
    }
    chosen: dict[str, list[str]] = {}
    for kind, count in sizes.items():
        chosen[kind], pool = pool[:count], pool[count:]
    keep_both = PROFILES[round_no % len(PROFILES)] == "safe"
    for rel in chosen["edit_local"]:
        set_local(world, files, rel, world.note(rel))
    for rel in chosen["edit_remote"]:
        mtime = world.clock.tick() if rng.random() < 0.7 else None
        set_remote(world, files, rel, world.note(rel), mtime)
    for rel in chosen["delete_local"]:
        (world.root / rel).unlink()
        del files[rel]
    for rel in chosen["delete_remote"]:
        world.bucket.delete(rel)
        del files[rel]
    for i, rel in enumerate(chosen["conflict"]):
        conflicts[rel] = _conflict(world, rel, local_newer=i % 2 == 0, keep_both=keep_both)
        del files[rel]
    for rel in chosen["edit_local_delete_remote"]:
        set_local(world, files, rel, world.note(rel))
        world.bucket.delete(rel)
    for rel in chosen["delete_local_edit_remote"]:
        (world.root / rel).unlink()
        set_remote(world, files, rel, world.note(rel), world.clock.tick())
    for rel in chosen["same_edit"]:
        data = files[rel] = world.note(rel)
        mtime = world.clock.tick()
        world.write_local(rel, data, mtime)
        world.put_remote(rel, data, mtime)
    for i in range(n // 4):
        rel = f"r{round_no}/local-new/{i:04d}.md"
        set_local(world, files, rel, world.note(rel))
        rel = f"r{round_no}/remote-new/{i:04d}.md"
        set_remote(world, files, rel, world.note(rel), world.clock.tick())
    # The big file: a download over it, a multipart upload over it, a delete, a new upload.
    big_upload = False
    match round_no % 4:
        case 1 if BIG in files:
            set_remote(world, files, BIG, world.big(BIG), world.clock.tick())
        case 3 if BIG in files:
            world.bucket.delete(BIG)
            del files[BIG]
        case _:  # round 2 edits it locally; later rounds re-create it
            set_local(world, files, BIG, world.big(BIG))
            big_upload = True
    return Expectation(files, conflicts, big_upload)


# -- running and killing the command -----------------------------------------------------------


@dataclass
class KillOutcome:
    mode: str
    killed: bool
    events: int
    total: int
    returncode: int


def _read_lock_pid(lock: Path) -> int | None:
    try:
        info = json.loads(lock.read_text() or "{}")
    except (OSError, ValueError):
        return None
    pid = info.get("pid") if isinstance(info, dict) else None
    return pid if isinstance(pid, int) else None


def kill_mode(kill: int, uploads_big: bool) -> str:
    """Where the `kill`-th kill of a round aims: the first waits for the round's multipart upload
    when it makes one, then `KILL_SCHEDULE` in order."""
    if kill == 0 and uploads_big:
        return "multipart"
    return KILL_SCHEDULE[kill % len(KILL_SCHEDULE)]


def run_and_kill(world: World, argv: list[str], rng: random.Random, mode: str) -> KillOutcome:
    """Start the command with a pseudo-terminal as stderr (so it prints its progress) and SIGKILL
    it: after a random share of its actions, 5 % to 70 % (mode "actions"; the progress it reads
    lags the run, so a later aim lands after the last action too often); as soon as it reports
    its last action, in the final snapshot commit (mode "after-last"); a random delay after it
    took the project lock (mode "after-lock"); or a random delay after it began a multipart
    upload (mode "multipart"; the big file is 3 parts). The outcome counts the actions finished
    when the command died."""
    uploads_before = world.open_uploads() if mode == "multipart" else set()
    share, extra_s = rng.uniform(0.05, 0.7), rng.uniform(0, 0.02)
    delay_s = rng.uniform(0, 0.3) if mode == "after-lock" else rng.uniform(0, 0.05)
    next_poll = 0.0
    kill_at: float | None = None
    deadline = time.monotonic() + RUN_TIMEOUT_S
    with ProgressTerminal(argv, world.env) as command:
        while command.running:
            now = time.monotonic()
            assert now < deadline, "bmsync sync did not finish in time"
            if kill_at is not None and now >= kill_at:
                break
            aiming_at_lock = kill_at is None and mode == "after-lock"
            if aiming_at_lock and _read_lock_pid(world.paths.lock) == command.proc.pid:
                kill_at = now + delay_s
            if kill_at is None and mode == "multipart" and now >= next_poll:
                next_poll = now + 0.02
                if world.open_uploads() - uploads_before:
                    kill_at = now + delay_s
            command.read(0.005)
            if kill_at is None and command.total and mode in ("actions", "after-last"):
                target = max(1, math.ceil(share * command.total))
                if mode == "after-last":
                    target, extra_s = command.total, 0.0
                if command.events >= target:
                    kill_at = time.monotonic() + extra_s
        returncode = command.kill()
        return KillOutcome(mode, killed(returncode), command.events, command.total, returncode)


def run_to_completion(world: World, profile: str, transfers: int) -> dict[str, Any]:
    done = subprocess.run(
        world.command(profile, transfers, "--json"),
        env=world.env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
    )
    assert done.returncode == 0, f"exit {done.returncode}: {done.stdout}\n{done.stderr}"
    report: dict[str, Any] = json.loads(done.stdout)
    return report


def snapshot_opens(world: World) -> None:
    """SQLite's integrity check, then bmsync's own open and load (with its schema checks)."""
    db = world.paths.db
    if not db.exists():
        return  # killed before the first run created it: nothing to open yet
    assert snapshot_integrity(db) == "ok"

    async def open_and_load() -> None:
        store = await SqliteSnapshotStore.open(db, local_root=str(world.root), remote_url=world.url)
        try:
            await store.load()
        finally:
            await store.close()

    asyncio.run(open_and_load())


# -- checks ----------------------------------------------------------------------------------------


def check_expected(tree: dict[str, bytes], expected: Expectation) -> int:
    """The converged tree is what the changes call for. Returns the number of duplicate conflict
    copies (a conflict redone after a kill may keep the loser twice: wasteful, not a loss)."""
    problems: list[str] = []
    for rel, data in expected.files.items():
        found = tree.get(rel, b"(absent)")
        if found != data:
            problems.append(f"{rel}: expected {data[:40]!r}, found {found[:40]!r}")
    copies_of: dict[str, list[str]] = {rel: [] for rel in expected.conflicts}
    for rel in tree.keys() - expected.files.keys() - expected.conflicts.keys():
        owner = next((p for p in expected.conflicts if is_conflict_copy_of(rel, p)), None)
        if owner is None:
            problems.append(f"{rel}: not expected at all")
        else:
            copies_of[owner].append(rel)
    duplicates = 0
    for rel, conflict in expected.conflicts.items():
        winner, loser = (
            (conflict.local, conflict.remote)
            if conflict.winner == "local"
            else (conflict.remote, conflict.local)
        )
        if tree.get(rel) != winner:
            problems.append(f"{rel}: the {conflict.winner} version should keep the path")
        if not any(tree[c] == loser for c in copies_of[rel]):
            problems.append(f"{rel}: the losing version is in no conflict copy ({copies_of[rel]})")
        duplicates += max(0, len(copies_of[rel]) - 1)
    assert not problems, f"{len(problems)} paths differ from the expected outcome: " + describe(
        problems
    )
    return duplicates


@contextlib.contextmanager
def report_figures(figures: Figures, capsys: pytest.CaptureFixture[str]) -> Iterator[None]:
    started = time.monotonic()
    try:
        yield
    finally:
        figures.duration_s = round(time.monotonic() - started, 1)
        figures.seconds_in_bmsync = round(figures.seconds_in_bmsync, 1)
        path = write_figures(f"kill_loop-{figures.server}", asdict(figures))
        with capsys.disabled():
            shown = ", ".join(f"{k} {v}" for k, v in asdict(figures).items())
            print(f"\nkill-loop figures ({path}): {shown}")


def kill_repeatedly(
    world: World, kills: int, profile: str, transfers: int, figures: Figures, *, uploads_big: bool
) -> int:
    """`kills` runs in a row, each SIGKILLed, each checked; when the round uploads the big file,
    the first kill waits for its multipart upload to begin. Returns the most actions a run
    reported planning (the round's size as bmsync saw it)."""
    before = world.inventory()
    planned = 0
    for kill in range(kills):
        uploads_before = world.open_uploads()
        started = time.monotonic()
        mode = kill_mode(kill, uploads_big)
        outcome = run_and_kill(world, world.command(profile, transfers), world.rng, mode)
        figures.seconds_in_bmsync += time.monotonic() - started
        figures.kill_points += 1
        planned = max(planned, outcome.total)
        if not outcome.killed:
            assert outcome.returncode == 0, f"a run exited {outcome.returncode}"
            figures.runs_finished_before_kill += 1
        else:
            figures.killed += 1
            if outcome.events == 0:
                figures.killed_after_lock_before_actions += 1
            elif outcome.events < outcome.total:
                figures.killed_mid_actions += 1
            else:
                figures.killed_after_last_action += 1
            if world.open_uploads() - uploads_before:
                figures.killed_mid_multipart_upload += 1
        snapshot_opens(world)
        after = world.inventory()
        where = f"kill {figures.kill_points} ({outcome})"
        figures.versions_checked += len(before.local) + len(before.remote)
        losses = find_losses(before, after)
        figures.losses += len(losses)
        assert not losses, f"{where} lost {describe(losses)}"
        partial = unknown_contents(world.ledger, {"local": after.local, "remote": after.remote})
        assert not partial, f"{where} left partial files: {describe(partial)}"
        before = after
    return planned


def finish_round(
    world: World,
    start: Inventory,
    expected: Expectation,
    profile: str,
    transfers: int,
    figures: Figures,
) -> dict[str, bytes]:
    """A clean run converges to the expected state without losing anything current at the
    start of the round; a second run is a no-op. Returns the synced tree."""
    started = time.monotonic()
    report = run_to_completion(world, profile, transfers)
    figures.seconds_in_bmsync += time.monotonic() - started
    assert report["status"] == "ok" and not report["errors"], report
    final = world.inventory()
    figures.versions_checked += len(start.local) + len(start.remote)
    losses = find_losses(start, final)
    figures.losses += len(losses)
    assert not losses, f"round {figures.rounds} lost {describe(losses)}"
    assert not temp_files(world.root), temp_files(world.root)
    assert final.local == final.remote, tree_difference(final.local, final.remote)
    figures.duplicate_conflict_copies += check_expected(final.local, expected)
    started = time.monotonic()
    again = run_to_completion(world, profile, transfers)
    figures.seconds_in_bmsync += time.monotonic() - started
    changes = ("uploaded", "downloaded", "deleted_local", "deleted_remote", "conflicts")
    assert not any(again[k] for k in changes), f"the second run was not a no-op: {again}"
    return final.local


def check_kills_landed(figures: Figures) -> None:
    """Enough kills landed where `KILL_SCHEDULE` aimed them, for this budget: at least two per
    round between the first and the last action (three aim there); once the budget has a whole
    round, at least one before the first action and one after the last; and one inside a
    multipart upload when a round made one."""
    assert figures.killed_mid_actions >= 2 * figures.rounds, figures
    if figures.kill_points >= KILLS_PER_ROUND:
        assert figures.killed_after_lock_before_actions >= 1, figures
        assert figures.killed_after_last_action >= 1, figures
    if figures.big_upload_rounds:
        assert figures.killed_mid_multipart_upload >= 1, figures


@pytest.mark.parametrize("server_name", SERVERS)
def test_sigkill_at_random_moments_then_converge(
    server_name: str,
    s3_server_pool: ServerPool,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    seed, origin = choose_seed("BMSYNC_KILL_SEED", CI_SEED)
    figures = Figures(seed=seed, seed_origin=origin, server=server_name)
    with capsys.disabled():
        print(
            f"\nkill loop: seed {seed} ({origin}), {KILL_POINTS} kill points, rounds of {FILES} "
            f"files on {server_name}; reproduce with BMSYNC_KILL_SEED={seed}"
        )
    monkeypatch.setenv("BASIC_MEMORY_CONFIG_DIR", str(tmp_path / "bm-config"))
    server = s3_server_pool.get(server_name)
    bucket = Bucket(server.client, server.create_bucket(), PREFIX, Ledger())
    world = World(tmp_path, bucket, server.config, random.Random(seed))
    rounds = max(1, math.ceil(KILL_POINTS / KILLS_PER_ROUND))
    synced: dict[str, bytes] = {}
    with report_figures(figures, capsys):
        for round_no in range(rounds):
            profile = PROFILES[round_no % len(PROFILES)]
            transfers = TRANSFERS[round_no % len(TRANSFERS)]
            if round_no == 0:
                expected = first_run_changes(world, FILES)
            else:
                expected = round_changes(world, round_no, synced, FILES)
            start = world.inventory()
            kills = min(KILLS_PER_ROUND, KILL_POINTS - figures.kill_points)
            planned = kill_repeatedly(
                world, kills, profile, transfers, figures, uploads_big=expected.big_upload
            )
            figures.actions_planned_per_round.append(planned)
            synced = finish_round(world, start, expected, profile, transfers, figures)
            figures.rounds += 1
            figures.big_upload_rounds += expected.big_upload
        figures.files_at_end = len(synced)
        figures.multipart_uploads_left_open = len(world.open_uploads())
        check_kills_landed(figures)
