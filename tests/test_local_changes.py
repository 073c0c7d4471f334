"""What a run did to the local folder, path by path (`SyncReport.local_changes`), handed to an
indexer through `on_synced` so basic-memory can reindex those files instead of rescanning."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import bmsync
from bmsync.report import LocalChange, SyncReport
from bmsync.testing import MemoryRemote

URL = "s3://memory/p"
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


async def test_each_local_change_is_listed_and_handed_on(tmp_path: Path) -> None:
    root, state, remote = tmp_path / "notes", tmp_path / "state", MemoryRemote()
    root.mkdir()
    for name in ("keep.md", "edit.md", "gone.md", "both.md"):
        (root / name).write_text(name)
    await bmsync.sync_project(root, URL, state_dir=state, remote=remote)
    remote.put_bytes("new.md", b"new")
    remote.put_bytes("edit.md", b"edited remotely")
    del remote.objects["gone.md"]
    remote.put_bytes("both.md", b"remote version", mtime_ns=2_000_000_000_000_000_000)
    (root / "both.md").write_text("local version")
    seen: list[SyncReport] = []
    report = await bmsync.sync_project(
        root, URL, state_dir=state, remote=remote, now=NOW, on_synced=seen.append
    )
    assert seen == [report]
    copy = "both.conflict-20261130-120000.md"
    assert sorted(report.local_changes, key=lambda c: (c.path, c.change)) == [
        LocalChange("moved", copy, "both.md"),
        LocalChange("added", "both.md"),
        LocalChange("modified", "edit.md"),
        LocalChange("deleted", "gone.md"),
        LocalChange("added", "new.md"),
    ]
    assert report.to_dict()["local_changes"][0].keys() == {"change", "path", "old_path"}
    quiet = await bmsync.sync_project(root, URL, state_dir=state, remote=remote)
    assert quiet.local_changes == [], "an upload changes nothing locally"
