"""The whole engine (scan, snapshot, plan, guards, executor) against the in-memory remote.

Fast checks of every table row end to end; the same scenarios run against real S3 servers in
test_integration.py.
"""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import unicodedata
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bmsync import sync_project
from bmsync.engine.compare import compare_paths
from bmsync.failures import FileActionError
from bmsync.local import scan as engine_scan
from bmsync.local.ignore import IgnoreRules
from bmsync.local.scan import LocalScan, scan_local
from bmsync.local.temps import HOST_TAG
from bmsync.names import DATA_IN_FOLDER_KEY, TEMP_PREFIX, temp_name
from bmsync.report import SyncReport
from bmsync.testing import MemoryRemote
from bmsync.types import SnapshotEntry

NOW = datetime(2026, 11, 23, 10, 15, tzinfo=UTC)


@pytest.fixture
def remote() -> MemoryRemote:
    return MemoryRemote()


def write(root: Path, rel: str, text: str, mtime_s: float | None = None) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    if mtime_s is not None:
        os.utime(path, (mtime_s, mtime_s))
    return path


def tree(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): p.read_text()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def remote_tree(remote: MemoryRemote) -> dict[str, str]:
    return {k: v.decode() for k, v in remote.contents().items()}


async def sync(root: Path, state: Path, remote: MemoryRemote, **kw: Any) -> SyncReport:
    return await sync_project(
        root, "s3://memory/project", state_dir=state, remote=remote, now=NOW, **kw
    )


async def test_first_run_is_a_union_and_second_run_is_a_no_op(
    root: Path, state: Path, remote: MemoryRemote
) -> None:
    write(root, "local.md", "L")
    write(root, "both.md", "same")
    remote.put_bytes("remote.md", b"R")
    remote.put_bytes("both.md", b"same")
    report = await sync(root, state, remote)
    assert report.status == "ok"
    assert report.uploaded == ["local.md"] and report.downloaded == ["remote.md"]
    assert (
        tree(root) == remote_tree(remote) == {"both.md": "same", "local.md": "L", "remote.md": "R"}
    )
    remote.calls.clear()
    again = await sync(root, state, remote)
    assert not again.changed and again.status == "ok"
    assert remote.calls == ["list"], "an unchanged tree costs one listing: no HEAD, no GET"


async def test_empty_local_folder_on_first_run_is_fine(
    state: Path, tmp_path: Path, remote: MemoryRemote
) -> None:
    missing = tmp_path / "new-folder"
    remote.put_bytes("a.md", b"A")
    report = await sync(missing, state, remote)
    assert report.status == "ok" and tree(missing) == {"a.md": "A"}


async def test_first_run_with_both_sides_empty(
    root: Path, state: Path, remote: MemoryRemote
) -> None:
    report = await sync(root, state, remote)
    assert report.status == "ok" and not report.changed


async def test_local_edit_uploads_and_remote_edit_downloads(
    root: Path, state: Path, remote: MemoryRemote
) -> None:
    write(root, "a.md", "v1")
    write(root, "b.md", "v1")
    await sync(root, state, remote)
    write(root, "a.md", "v2 local")
    remote.put_bytes("b.md", b"v2 remote")
    report = await sync(root, state, remote)
    assert report.uploaded == ["a.md"] and report.downloaded == ["b.md"]
    assert tree(root) == remote_tree(remote) == {"a.md": "v2 local", "b.md": "v2 remote"}
    trashed = [p.read_text() for p in (state).rglob("trash/*/b.md")]
    assert trashed == ["v1"], "the overwritten local version is kept in the trash"
    assert [v.data for k, v in remote.trash.items() if k.endswith("a.md")] == [b"v1"]


async def test_deletes_propagate_both_ways_and_are_recoverable(
    root: Path, state: Path, remote: MemoryRemote
) -> None:
    write(root, "gone-locally.md", "x")
    write(root, "sub/gone-remotely.md", "y")
    await sync(root, state, remote)
    (root / "gone-locally.md").unlink()
    del remote.objects["sub/gone-remotely.md"]
    report = await sync(root, state, remote)
    assert report.deleted_remote == ["gone-locally.md"]
    assert report.deleted_local == ["sub/gone-remotely.md"]
    assert tree(root) == remote_tree(remote) == {}
    assert not (root / "sub").exists(), "a folder the sync emptied is removed"
    assert [p.read_text() for p in state.rglob("trash/*/sub/gone-remotely.md")] == ["y"]
    assert any(k.endswith("gone-locally.md") for k in remote.trash)


async def test_deleted_on_both_sides_is_forgotten(
    root: Path, state: Path, remote: MemoryRemote
) -> None:
    write(root, "a.md", "x")
    await sync(root, state, remote)
    (root / "a.md").unlink()
    del remote.objects["a.md"]
    report = await sync(root, state, remote)
    assert report.status == "ok" and not report.changed
    write(root, "a.md", "back")
    assert (await sync(root, state, remote)).uploaded == ["a.md"]


async def test_edit_beats_delete_both_ways(root: Path, state: Path, remote: MemoryRemote) -> None:
    write(root, "edited-locally.md", "1")
    write(root, "edited-remotely.md", "1")
    await sync(root, state, remote)
    write(root, "edited-locally.md", "2")
    del remote.objects["edited-locally.md"]
    remote.put_bytes("edited-remotely.md", b"2")
    (root / "edited-remotely.md").unlink()
    report = await sync(root, state, remote)
    assert report.uploaded == ["edited-locally.md"] and report.downloaded == ["edited-remotely.md"]
    assert (
        tree(root) == remote_tree(remote) == {"edited-locally.md": "2", "edited-remotely.md": "2"}
    )


async def test_touched_file_is_not_a_change(root: Path, state: Path, remote: MemoryRemote) -> None:
    path = write(root, "a.md", "same", mtime_s=1_700_000_000)
    await sync(root, state, remote)
    os.utime(path, (1_800_000_000, 1_800_000_000))
    remote.calls.clear()
    report = await sync(root, state, remote)
    assert not report.changed and remote.calls == ["list"]


def scan_with(root: Path, snapshot: dict[str, SnapshotEntry]) -> LocalScan:
    return scan_local(root, IgnoreRules(()), snapshot)


def test_scan_reuses_the_hash_only_while_size_mtime_and_ctime_hold(root: Path) -> None:
    path = write(root, "a.md", "one", mtime_s=1_700_000_000)
    first = scan_with(root, {})
    seen = first.files["a.md"]
    assert first.hashed == 1 and seen.ctime_ns == path.stat().st_ctime_ns
    known = {"a.md": SnapshotEntry("a.md", seen.size, seen.mtime_ns, seen.xxh3, "e", seen.ctime_ns)}
    assert scan_with(root, known).hashed == 0
    path.write_text("two")  # same size; the mtime is put back the way `cp -p` would
    os.utime(path, ns=(seen.mtime_ns, seen.mtime_ns))
    again = scan_with(root, known)
    assert again.hashed == 1 and again.files["a.md"].xxh3 != seen.xxh3
    unknown = {"a.md": SnapshotEntry("a.md", seen.size, seen.mtime_ns, seen.xxh3, "e", 0)}
    assert scan_with(root, unknown).hashed == 1, "rows from schema 1 (ctime 0) are re-read once"


async def test_edit_restoring_size_and_mtime_is_uploaded(
    root: Path, state: Path, remote: MemoryRemote
) -> None:
    path = write(root, "a.md", "one", mtime_s=1_700_000_000)
    await sync(root, state, remote)
    path.write_text("two")
    os.utime(path, (1_700_000_000, 1_700_000_000))
    report = await sync(root, state, remote)
    assert report.uploaded == ["a.md"] and remote_tree(remote) == {"a.md": "two"}


async def test_chmod_is_not_a_change_and_is_read_only_once(
    root: Path, state: Path, remote: MemoryRemote, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(root, "a.md", "same", mtime_s=1_700_000_000)
    await sync(root, state, remote)
    path.chmod(0o600)  # moves the ctime, not the content
    reads: list[str] = []
    real = engine_scan.hash_file

    def counting(target: Path) -> tuple[str, int]:
        reads.append(target.name)
        return real(target)

    monkeypatch.setattr(engine_scan, "hash_file", counting)
    remote.calls.clear()
    assert not (await sync(root, state, remote)).changed and remote.calls == ["list"]
    assert not (await sync(root, state, remote)).changed
    assert reads == ["a.md"], "the new ctime was recorded quietly after one read"


async def test_same_edit_on_both_sides_is_recorded_without_transfer(
    root: Path, state: Path, remote: MemoryRemote
) -> None:
    write(root, "a.md", "1")
    await sync(root, state, remote)
    write(root, "a.md", "2")
    remote.put_bytes("a.md", b"2")
    remote.calls.clear()
    report = await sync(root, state, remote)
    assert not report.changed and report.status == "ok"
    assert not any(c.startswith(("put", "get")) for c in remote.calls)


async def test_conflict_newer_local_wins_and_loser_kept_on_both_sides(
    root: Path, state: Path, remote: MemoryRemote
) -> None:
    write(root, "n/x.md", "base")
    await sync(root, state, remote)
    remote.put_bytes("n/x.md", b"remote edit", mtime_ns=1_000_000_000_000_000_000)
    write(root, "n/x.md", "local edit", mtime_s=2_000_000_000)
    report = await sync(root, state, remote)
    copy = "n/x.conflict-20261123-101500.md"
    assert [(c.path, c.winner, c.loser_copy) for c in report.conflicts] == [
        ("n/x.md", "local", copy)
    ]
    assert tree(root) == remote_tree(remote) == {"n/x.md": "local edit", copy: "remote edit"}
    assert not (await sync(root, state, remote)).changed


async def test_conflict_interrupted_after_keeping_the_loser_keeps_it_once(
    root: Path, state: Path, remote: MemoryRemote, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The run stops after downloading the remote loser to its copy (as a kill would); the
    next run, an hour later, finishes that conflict with the same copy instead of a second."""
    write(root, "n/x.md", "base")
    await sync(root, state, remote)
    remote.put_bytes("n/x.md", b"remote edit", mtime_ns=1_000_000_000_000_000_000)
    write(root, "n/x.md", "local edit", mtime_s=2_000_000_000)
    real_copy = remote.copy

    async def broken_copy(*args: Any, **kwargs: Any) -> Any:
        raise FileActionError("injected: the run stops here")

    monkeypatch.setattr(remote, "copy", broken_copy)
    assert [e.path for e in (await sync(root, state, remote)).errors] == ["n/x.md"]
    copy = "n/x.conflict-20261123-101500.md"
    assert tree(root) == {"n/x.md": "local edit", copy: "remote edit"}
    monkeypatch.setattr(remote, "copy", real_copy)
    report = await sync_project(
        root, "s3://memory/project", state_dir=state, remote=remote, now=NOW + timedelta(hours=1)
    )
    assert [(c.path, c.winner, c.loser_copy) for c in report.conflicts] == [
        ("n/x.md", "local", copy)
    ]
    assert tree(root) == remote_tree(remote) == {"n/x.md": "local edit", copy: "remote edit"}
    assert not (await sync(root, state, remote)).changed


@pytest.mark.parametrize("with_xxh3", [True, False], ids=["xxh3-metadata", "md5-etag"])
async def test_comparison_names_the_copies_holding_the_remote_version(
    root: Path, remote: MemoryRemote, with_xxh3: bool
) -> None:
    texts = {
        "n/x.md": "local edit",
        "n/x.conflict-20261122-090000.md": "remote edit",  # the one
        "n/x.conflict-20261122-090000-2.md": "remote edix",  # same size, other bytes
        "n/x.conflict-old.md": "remote edit",  # not a conflict-copy name
        "n/y.conflict-20261122-090000.md": "remote edit",  # a copy of another file
        "x.conflict-20261122-090000.md": "remote edit",  # another folder
    }
    for rel, text in texts.items():
        write(root, rel, text)
    local = scan_with(root, {}).files
    remote.put_bytes("n/x.md", b"remote edit")
    if with_xxh3:
        xxh3 = local["n/x.conflict-20261122-090000.md"].xxh3
        remote.objects["n/x.md"].metadata["xxh3"] = xxh3
    listing = (await remote.list_objects()).objects
    found, failed = await compare_paths(root, remote, ["n/x.md"], local, listing, concurrency=2)
    assert not failed and not found["n/x.md"].equal
    assert found["n/x.md"].same_as_remote == ("n/x.conflict-20261122-090000.md",)


async def test_conflict_newer_remote_wins(root: Path, state: Path, remote: MemoryRemote) -> None:
    write(root, "x.md", "base")
    await sync(root, state, remote)
    write(root, "x.md", "local edit", mtime_s=1_000_000_000)
    remote.put_bytes("x.md", b"remote edit", mtime_ns=2_000_000_000_000_000_000)
    report = await sync(root, state, remote)
    copy = "x.conflict-20261123-101500.md"
    assert [(c.winner, c.loser_copy) for c in report.conflicts] == [("remote", copy)]
    assert tree(root) == remote_tree(remote) == {"x.md": "remote edit", copy: "local edit"}


async def test_first_run_conflict_keep_both_with_safe_profile(
    root: Path, state: Path, remote: MemoryRemote
) -> None:
    write(root, "x.md", "mine", mtime_s=2_000_000_000)
    remote.put_bytes("x.md", b"theirs", mtime_ns=1_000_000_000_000_000_000)
    report = await sync(root, state, remote, profile="safe")
    assert [(c.winner, c.loser_copy) for c in report.conflicts] == [
        (None, "x.conflict-20261123-101500.md")
    ]
    assert (
        tree(root)
        == remote_tree(remote)
        == {"x.md": "theirs", "x.conflict-20261123-101500.md": "mine"}
    )


async def test_max_delete_aborts_before_any_change(
    root: Path, state: Path, remote: MemoryRemote
) -> None:
    for i in range(5):
        write(root, f"f{i}.md", str(i))
    await sync(root, state, remote)
    for i in range(4):
        (root / f"f{i}.md").unlink()
    write(root, "new.md", "new")
    report = await sync(root, state, remote, max_delete=3)
    assert report.status == "aborted" and "max-delete" in (report.abort_reason or "")
    assert report.guard == "max_delete"
    assert len(remote.objects) == 5 and "new.md" not in remote.objects
    assert (await sync(root, state, remote, max_delete="80%")).deleted_remote == [
        f"f{i}.md" for i in range(4)
    ]


async def test_max_delete_force_lifts_the_limit(
    root: Path, state: Path, remote: MemoryRemote
) -> None:
    for i in range(3):
        write(root, f"f{i}.md", str(i))
    await sync(root, state, remote)
    for i in range(2):
        del remote.objects[f"f{i}.md"]
    assert (await sync(root, state, remote, max_delete=1)).status == "aborted"
    report = await sync(root, state, remote, max_delete=1, force=True)
    assert report.deleted_local == ["f0.md", "f1.md"]


async def test_empty_local_folder_aborts_unless_forced(
    root: Path, state: Path, remote: MemoryRemote
) -> None:
    write(root, "a.md", "x")
    await sync(root, state, remote)
    (root / "a.md").unlink()
    report = await sync(root, state, remote)
    assert report.status == "aborted" and "local folder is empty" in (report.abort_reason or "")
    assert report.guard == "empty_side"
    assert "a.md" in remote.objects
    assert (await sync(root, state, remote, force=True)).deleted_remote == ["a.md"]


async def test_missing_local_folder_aborts(root: Path, state: Path, remote: MemoryRemote) -> None:
    write(root, "a.md", "x")
    await sync(root, state, remote)
    (root / "a.md").unlink()
    root.rmdir()
    report = await sync(root, state, remote)
    assert report.status == "aborted" and "missing" in (report.abort_reason or "")
    assert not root.exists()


async def test_empty_remote_aborts_unless_forced(
    root: Path, state: Path, remote: MemoryRemote
) -> None:
    write(root, "a.md", "x")
    await sync(root, state, remote)
    remote.objects.clear()
    report = await sync(root, state, remote)
    assert report.status == "aborted" and "remote prefix holds no objects" in (
        report.abort_reason or ""
    )
    assert report.guard == "empty_side"
    assert tree(root) == {"a.md": "x"}


async def test_dry_run_changes_nothing(root: Path, state: Path, remote: MemoryRemote) -> None:
    write(root, "a.md", "x")
    remote.put_bytes("b.md", b"y")
    report = await sync(root, state, remote, dry_run=True)
    assert report.dry_run and report.uploaded == ["a.md"] and report.downloaded == ["b.md"]
    assert tree(root) == {"a.md": "x"} and remote_tree(remote) == {"b.md": "y"}
    assert not list(state.rglob("snapshot.db")), "a dry run on a new project writes no snapshot"
    await sync(root, state, remote)
    write(root, "c.md", "z")
    report = await sync(root, state, remote, dry_run=True)
    assert report.uploaded == ["c.md"] and "c.md" not in remote.objects
    assert (await sync(root, state, remote)).uploaded == ["c.md"], "the snapshot was not touched"


async def test_ignored_paths_are_invisible_on_both_sides(
    root: Path, state: Path, remote: MemoryRemote
) -> None:
    write(root, ".obsidian/workspace.json", "{}")
    write(root, "memory.db", "db")
    write(root, "node_modules/x/index.js", "js")
    write(root, "note.md", "n")
    remote.put_bytes(".git/config", b"c")
    report = await sync(root, state, remote)
    assert report.uploaded == ["note.md"] and report.downloaded == []
    assert ".git/config" in remote.objects and not (root / ".git").exists()


async def test_newly_ignored_path_leaves_snapshot_without_deletes(
    root: Path, state: Path, remote: MemoryRemote
) -> None:
    write(root, "drafts/a.md", "a")
    write(root, "b.md", "b")
    await sync(root, state, remote)
    report = await sync(root, state, remote, ignore=["drafts/"])
    assert not report.changed and "drafts/a.md" in remote.objects
    (root / "drafts" / "a.md").unlink()
    # Ignored now, so its deletion is not propagated either; un-ignoring it re-downloads it.
    assert not (await sync(root, state, remote, ignore=["drafts/"])).changed
    assert (await sync(root, state, remote)).downloaded == ["drafts/a.md"]


@pytest.mark.parametrize(
    "rules",
    [("drafts/", "!drafts/keep.md"), ("*", "!*/", "!*.md"), ("*", "!*.md"), ("*.txt", "!notes/")],
)
async def test_rules_arriving_between_runs_delete_nothing(
    root: Path, state: Path, remote: MemoryRemote, rules: tuple[str, ...]
) -> None:
    """A negation cannot make a path visible on one side only (issue 16): the scan skips
    `drafts/`, so the listing must not see `drafts/keep.md` either, or it looks deleted."""
    for path in ("drafts/keep.md", "drafts/x.md", "notes/a.md", "notes/b.txt", "top.md"):
        write(root, path, path)
    await sync(root, state, remote)
    synced = tree(root)
    write(root, ".gitignore", "\n".join(rules) + "\n")
    for _ in range(2):
        report = await sync(root, state, remote)
        assert report.status == "ok" and not report.deleted_local and not report.deleted_remote
        assert tree(root) == {**synced, ".gitignore": "\n".join(rules) + "\n"}
        assert remote_tree(remote) == synced
    assert (await sync(root, state, remote)).uploaded == [], "nothing new to see"


@pytest.mark.parametrize(
    ("rules", "seen"),
    [(("*", "!*/", "!*.md"), ["notes/a.md", "top.md"]), (("*", "!*.md"), ["top.md"])],
)
async def test_first_run_under_a_markdown_only_rule_sees_the_same_on_both_sides(
    root: Path, state: Path, remote: MemoryRemote, rules: tuple[str, ...], seen: list[str]
) -> None:
    """A note the rules hide is neither downloaded nor deleted; one they show is downloaded
    and then stays (it was re-downloaded, then deleted remotely, on every run)."""
    for path in ("notes/a.md", "notes/b.txt", "top.md"):
        remote.put_bytes(path, path.encode())
    assert (await sync(root, state, remote, ignore=list(rules))).downloaded == seen
    again = await sync(root, state, remote, ignore=list(rules))
    assert not again.changed and sorted(remote_tree(remote)) == [
        "notes/a.md",
        "notes/b.txt",
        "top.md",
    ]
    assert sorted(tree(root)) == seen


async def test_gitignore_of_the_project_applies(
    root: Path, state: Path, remote: MemoryRemote
) -> None:
    write(root, ".gitignore", "secret*.md\n")
    write(root, "secret-plan.md", "s")
    write(root, "ok.md", "o")
    assert (await sync(root, state, remote)).uploaded == ["ok.md"]


async def test_per_file_failure_is_reported_and_retried(
    root: Path, state: Path, remote: MemoryRemote
) -> None:
    write(root, "good.md", "g")
    write(root, "bad.md", "b")
    remote.fail_on.add("bad.md")
    report = await sync(root, state, remote)
    assert report.status == "partial" and report.uploaded == ["good.md"]
    assert [e.path for e in report.errors] == ["bad.md"]
    remote.fail_on.clear()
    assert (await sync(root, state, remote)).uploaded == ["bad.md"]


async def test_nfd_local_name_syncs_as_nfc_key(
    root: Path, state: Path, remote: MemoryRemote
) -> None:
    nfd = unicodedata.normalize("NFD", "café.md")
    (root / nfd).write_text("c")
    await sync(root, state, remote)
    assert list(remote.objects) == ["café.md"]
    remote.put_bytes("café.md", b"new")
    assert (await sync(root, state, remote)).downloaded == ["café.md"]
    assert os.listdir(root) == [nfd], "the download replaced the NFD file, no twin appeared"


async def test_stale_temp_files_are_removed(root: Path, state: Path, remote: MemoryRemote) -> None:
    """A temporary file whose process has ended is a killed run's: removed
    (tests/test_own_names.py: whose are left alone)."""
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                           capture_output=True, text=True, check=True)  # fmt: skip
    leftover = temp_name("x.md", f"{HOST_TAG}.{int(ended.stdout)}-0badcafe")
    write(root, "a.md", "a")
    write(root, f"sub/{leftover}", "partial")
    await sync(root, state, remote, ignore=["!.*"])
    assert not (root / "sub" / leftover).exists()
    assert list(remote.objects) == ["a.md"]


async def test_a_key_ending_in_a_slash_that_holds_data_is_reported_and_kept(
    root: Path, state: Path, remote: MemoryRemote
) -> None:
    remote.put_bytes("a/", b"data no file can hold")
    write(root, "note.md", "n")
    report = await sync(root, state, remote)
    assert report.uploaded == ["note.md"] and report.status == "ok"
    assert [(w.path, w.message) for w in report.warnings] == [("a/", DATA_IN_FOLDER_KEY)]
    assert remote.objects["a/"].data == b"data no file can hold" and not (root / "a").exists()


async def test_symlink_is_reported_not_followed(
    root: Path, state: Path, remote: MemoryRemote, tmp_path: Path
) -> None:
    outside = write(tmp_path, "outside.md", "secret")
    (root / "link.md").symlink_to(outside)
    report = await sync(root, state, remote)
    assert report.uploaded == [] and [w.path for w in report.warnings] == ["link.md"]


async def test_state_is_bound_to_its_folder(
    root: Path, state: Path, remote: MemoryRemote, tmp_path: Path
) -> None:
    from bmsync.errors import StateMismatchError

    write(root, "a.md", "a")
    await sync(root, state, remote)
    other = tmp_path / "other"
    other.mkdir()
    with pytest.raises(StateMismatchError):
        await sync(other, state, remote)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="finds the file of an fd in /proc")
async def test_a_full_disk_during_a_conflict_says_where_the_local_version_is(
    root: Path, state: Path, remote: MemoryRemote, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The remote version wins, so the local one is renamed to the copy first; then the disk
    fills up (ENOSPC when the download's temporary file is flushed). The report must not say
    the local file was left as it was: it names the copy that holds it, and the next run, with
    room again, converges."""
    write(root, "x.md", "base")
    await sync(root, state, remote)
    write(root, "x.md", "local edit", mtime_s=1_000_000_000)
    remote.put_bytes("x.md", b"remote edit", mtime_ns=2_000_000_000_000_000_000)
    real_fsync = os.fsync

    def full_for_downloads(fd: int) -> None:
        if TEMP_PREFIX in os.readlink(f"/proc/self/fd/{fd}"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", full_for_downloads)
    report = await sync(root, state, remote)
    monkeypatch.setattr(os, "fsync", real_fsync)
    copy = "x.conflict-20261123-101500.md"
    [error] = report.errors
    assert error.path == "x.md"
    assert "No space left on device" in error.message and copy in error.message
    assert "left as it was" not in error.message
    assert tree(root) == {copy: "local edit"}, "the local version is where the report says"
    again = await sync(root, state, remote)
    assert again.errors == [] and again.conflicts == []
    assert tree(root) == remote_tree(remote) == {"x.md": "remote edit", copy: "local edit"}
