"""A dry run is a run whose executor carries out nothing, and its report is built by the same
function as the real run's (`bmsync.engine.build_report`): so a dry run lists exactly what the real
run then does. Hypothesis makes the worlds: a synced folder, then edits, deletes, renames and
new files on either side (conflicts among them), synced in each mode; the dry run's report must
name the same uploads, downloads, deletes, moves, conflicts, folders and bytes as the real run
that follows it."""

from __future__ import annotations

import asyncio
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bmsync import mirror_project, pull_project, push_project, sync_project
from bmsync.report import SyncReport
from bmsync.testing import MemoryRemote

EXAMPLES = int(os.environ.get("BMSYNC_DRY_RUN_EXAMPLES", "40"))
URL = "s3://memory/project"
NOW = datetime(2026, 12, 8, 1, 0, tzinfo=UTC)
PATHS = ("a.md", "b.md", "d/c.md", "d/e.md", "f/g.md")
NEW_NAMES = ("n.md", "d/n.md", "m/n.md")
EDITS = ("keep", "edit", "delete", "rename")
RUNS = (
    ("sync", {}),
    ("sync", {"conflict": "keep-both"}),
    ("sync", {"conflict": "local", "dir_markers": True}),
    ("push", {"conflict": "keep-both"}),
    ("push", {"conflict": "keep-local"}),
    ("pull", {"conflict": "keep-both"}),
    ("pull", {"conflict": "keep-remote"}),
    ("mirror", {}),
)
WHAT_IT_DOES = (
    "uploaded", "downloaded", "deleted_local", "deleted_remote", "moved", "conflicts",
    "bytes_uploaded", "bytes_downloaded", "new", "destination_only", "folders_created",
    "folders_removed", "markers_created", "markers_deleted", "errors", "status", "guard",
)  # fmt: skip
COMMANDS: dict[str, Any] = {
    "sync": sync_project,
    "push": push_project,
    "pull": pull_project,
    "mirror": mirror_project,
}


def write(root: Path, rel: str, text: str, mtime_s: int) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    os.utime(path, (mtime_s, mtime_s))


def edit_local(root: Path, rel: str, edit: str, to: str) -> None:
    if edit == "edit":
        write(root, rel, f"local edit of {rel}", 2_000_000_000)
    elif edit == "delete":
        (root / rel).unlink()
    elif edit == "rename" and not (root / to).exists():
        (root / to).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).rename(root / to)


def edit_remote(remote: MemoryRemote, rel: str, edit: str, to: str) -> None:
    if edit == "edit":
        remote.put_bytes(rel, f"remote edit of {rel}".encode(), 1_900_000_000 * 10**9)
    elif edit == "delete":
        del remote.objects[rel]
    elif edit == "rename" and to not in remote.objects:
        remote.objects[to] = remote.objects.pop(rel)


async def dry_then_real(
    base: list[str],
    local_edits: list[tuple[str, str]],
    remote_edits: list[tuple[str, str]],
    new_local: list[str],
    new_remote: list[str],
    run: tuple[str, dict[str, Any]],
) -> tuple[SyncReport, SyncReport]:
    with tempfile.TemporaryDirectory() as tmp:
        root, state, remote = Path(tmp, "notes"), Path(tmp, "state"), MemoryRemote()
        root.mkdir()
        for rel in base:
            write(root, rel, f"base {rel}", 1_700_000_000)
        (root / "empty").mkdir()
        first = await sync_project(root, URL, state_dir=state, remote=remote, now=NOW)
        assert first.status == "ok", first.summary()
        for rel, (edit, to) in zip(base, local_edits, strict=False):
            edit_local(root, rel, edit, to)
        for rel, (edit, to) in zip(base, remote_edits, strict=False):
            edit_remote(remote, rel, edit, to)
        for rel in new_local:
            if not (root / rel).exists():
                write(root, rel, f"new here {rel}", 2_100_000_000)
        for rel in new_remote:
            remote.put_bytes(rel, f"new there {rel}".encode(), 2_200_000_000 * 10**9)
        command, options = run
        kw = dict(state_dir=state, remote=remote, now=NOW, **options)
        dry = await COMMANDS[command](root, URL, dry_run=True, **kw)
        real = await COMMANDS[command](root, URL, **kw)
        return dry, real


edits = st.tuples(st.sampled_from(EDITS), st.sampled_from(NEW_NAMES))


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    base=st.lists(st.sampled_from(PATHS), min_size=1, unique=True),
    local_edits=st.lists(edits, max_size=len(PATHS)),
    remote_edits=st.lists(edits, max_size=len(PATHS)),
    new_local=st.lists(st.sampled_from(NEW_NAMES), unique=True, max_size=2),
    new_remote=st.lists(st.sampled_from(NEW_NAMES), unique=True, max_size=2),
    run=st.sampled_from(RUNS),
)
def test_a_dry_run_reports_what_the_real_run_then_does(**world: Any) -> None:
    dry, real = asyncio.run(dry_then_real(**world))
    assert dry.dry_run and not real.dry_run
    if real.status == "aborted":  # a guard stops both before anything is done
        assert (dry.status, dry.guard) == (real.status, real.guard)
        return
    for field in WHAT_IT_DOES:
        assert getattr(dry, field) == getattr(real, field), (field, dry.summary(), real.summary())
