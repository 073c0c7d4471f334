"""Folder markers (`dir_markers` / `--dir-markers`): the whole pipeline with `MemoryRemote`,
then against real servers (moto keeps markers; `rclone serve s3` cannot, and is refused before
anything changes), the adapter's marker operations, `sync_all` and the command line.

The rules are in docs/semantics.md ("Folders"); the pure planner's table and properties are in
tests/test_folders.py.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bmsync import sync_project
from bmsync.commands.all import sync_all
from bmsync.commands.transfer import mirror_project, push_project
from bmsync.engine import gather as gather_step
from bmsync.errors import ConfigError
from bmsync.failures import RemoteChanged
from bmsync.local.ignore import IgnoreRules
from bmsync.local.scan import scan_local
from bmsync.names import DATA_IN_FOLDER_KEY
from bmsync.remotes import RemoteLocation
from bmsync.report import SyncReport
from bmsync.s3.listing import ListingBuilder
from bmsync.s3.remote import S3Remote, open_remote
from bmsync.testing import MemoryRemote
from bmsync.types import FolderMarker, RejectedKey
from tests.commandline import cli_env, run_cli
from tests.servers import S3TestServer

NOW = datetime(2026, 11, 23, 10, 15, tzinfo=UTC)
EMPTY_ETAG = "d41d8cd98f00b204e9800998ecf8427e"


def write(root: Path, rel: str, text: str = "x") -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def folders(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_dir())


def markers(remote: MemoryRemote) -> list[str]:
    """The marker keys, "/" being the prefix's own."""
    return sorted(key for key in remote.objects if key.endswith("/"))


async def sync(root: Path, state: Path, remote: MemoryRemote, **kw: Any) -> SyncReport:
    kw.setdefault("dir_markers", True)
    report = await sync_project(root, remote.url, state_dir=state, remote=remote, now=NOW, **kw)
    return report


def baseline(state: Path) -> list[str]:
    (db,) = state.rglob("snapshot.db")
    with sqlite3.connect(db) as conn:
        return sorted(row[0] for row in conn.execute("SELECT path FROM folders"))


# -- two-way, in memory --------------------------------------------------------------------------


async def test_first_run_marks_every_folder_and_brings_empty_folders_both_ways(
    root: Path, state: Path
) -> None:
    write(root, "a/b/x.md")
    (root / "empty").mkdir()
    remote = MemoryRemote()
    remote.put_bytes("cloud-empty/", b"")
    remote.put_bytes("deep/c/d.md", b"d")
    report = await sync(root, state, remote)
    assert report.status == "ok", report.errors
    assert report.markers_created == ["", "a", "a/b", "deep", "deep/c", "empty"]
    assert report.folders_created == ["cloud-empty"]
    assert markers(remote) == [
        "/", "a/", "a/b/", "cloud-empty/", "deep/", "deep/c/", "empty/",
    ]  # fmt: skip
    assert folders(root) == ["a", "a/b", "cloud-empty", "deep", "deep/c", "empty"]
    assert baseline(state) == ["a", "a/b", "cloud-empty", "deep", "deep/c", "empty"]
    assert report.local_changes and all(c.path.endswith(".md") for c in report.local_changes)


async def test_a_run_with_nothing_to_do_is_still_one_listing(root: Path, state: Path) -> None:
    write(root, "a/x.md")
    (root / "empty").mkdir()
    remote = MemoryRemote()
    await sync(root, state, remote)
    remote.calls.clear()
    again = await sync(root, state, remote)
    assert not again.changed and remote.calls == ["list"]


async def test_without_dir_markers_nothing_about_folders_changes(root: Path, state: Path) -> None:
    write(root, "a/x.md")
    (root / "empty").mkdir()
    remote = MemoryRemote()
    remote.put_bytes("cloud-empty/", b"")
    report = await sync(root, state, remote, dir_markers=False)
    assert report.uploaded == ["a/x.md"] and not report.warnings
    assert markers(remote) == ["cloud-empty/"] and folders(root) == ["a", "empty"]
    assert baseline(state) == []
    remote.calls.clear()
    assert not (await sync(root, state, remote, dir_markers=False)).changed
    assert remote.calls == ["list"]


async def test_an_empty_folder_deleted_on_one_side_is_removed_on_the_other(
    root: Path, state: Path
) -> None:
    (root / "here").mkdir()
    (root / "there").mkdir()
    remote = MemoryRemote()
    await sync(root, state, remote)
    (root / "here").rmdir()
    del remote.objects["there/"]
    report = await sync(root, state, remote)
    assert report.markers_deleted == ["here"] and report.folders_removed == ["there"]
    assert markers(remote) == ["/"] and folders(root) == [] and baseline(state) == []


async def test_a_local_folder_that_holds_anything_is_never_removed(root: Path, state: Path) -> None:
    (root / "keep").mkdir()
    remote = MemoryRemote()
    await sync(root, state, remote)
    write(root, "keep/.hidden")  # ignored by basic-memory's defaults
    del remote.objects["keep/"]
    report = await sync(root, state, remote)
    assert report.status == "ok" and report.folders_removed == []
    assert report.markers_created == ["keep"] and (root / "keep/.hidden").exists()


async def test_a_folder_whose_files_were_deleted_remotely_goes_with_them(
    root: Path, state: Path
) -> None:
    write(root, "stays.md")  # else the empty-side guard rightly stops the run
    write(root, "old/a.md")
    write(root, "old/sub/b.md")
    remote = MemoryRemote()
    await sync(root, state, remote)
    for key in ("old/a.md", "old/sub/b.md", "old/", "old/sub/"):
        del remote.objects[key]
    report = await sync(root, state, remote)
    assert report.deleted_local == ["old/a.md", "old/sub/b.md"]
    assert folders(root) == [] and baseline(state) == []


async def test_a_folder_the_remote_keeps_survives_the_delete_of_its_last_file(
    root: Path, state: Path
) -> None:
    write(root, "stays.md")
    write(root, "kept/a.md")
    remote = MemoryRemote()
    await sync(root, state, remote)
    del remote.objects["kept/a.md"]  # the file goes; the folder (its marker) stays
    report = await sync(root, state, remote)
    assert report.deleted_local == ["kept/a.md"] and report.folders_removed == []
    assert folders(root) == ["kept"] and "kept/" in remote.objects
    assert not (await sync(root, state, remote)).changed


async def test_a_folder_deleted_locally_with_its_files_loses_its_markers(
    root: Path, state: Path
) -> None:
    write(root, "stays.md")
    write(root, "gone/a.md")
    (root / "gone/empty").mkdir()
    remote = MemoryRemote()
    await sync(root, state, remote)
    (root / "gone/a.md").unlink()
    (root / "gone/empty").rmdir()
    (root / "gone").rmdir()
    report = await sync(root, state, remote)
    assert report.deleted_remote == ["gone/a.md"]
    assert report.markers_deleted == ["gone", "gone/empty"] and markers(remote) == ["/"]


async def test_ignored_folders_get_no_marker_and_their_markers_are_left_alone(
    root: Path, state: Path
) -> None:
    (root / "node_modules").mkdir()
    write(root, ".obsidian/app.json", "{}")
    remote = MemoryRemote()
    remote.put_bytes("build/", b"")
    report = await sync(root, state, remote)
    assert report.markers_created == [""] and report.folders_created == []
    assert markers(remote) == ["/", "build/"] and not (root / "build").exists()


async def test_a_dry_run_lists_the_folder_changes_and_makes_none(root: Path, state: Path) -> None:
    (root / "empty").mkdir()
    remote = MemoryRemote()
    remote.put_bytes("cloud/", b"")
    report = await sync(root, state, remote, dry_run=True)
    assert report.markers_created == ["", "empty"] and report.folders_created == ["cloud"]
    assert not report.in_sync and "create markers" in report.summary()
    assert markers(remote) == ["cloud/"] and folders(root) == ["empty"]
    assert remote.calls == ["list"]


async def test_a_store_that_cannot_keep_markers_is_refused_before_anything_changes(
    root: Path, state: Path
) -> None:
    write(root, "a/x.md")
    remote = MemoryRemote(keeps_folder_markers=False)
    with pytest.raises(ConfigError, match="does not keep folder markers") as refused:
        await sync(root, state, remote)
    assert "Nothing was changed" in str(refused.value) and "--dir-markers" in str(refused.value)
    assert remote.objects == {} and remote.calls == ["list", "probe_markers"]


async def test_a_marker_that_cannot_be_written_is_reported_and_retried(
    root: Path, state: Path
) -> None:
    (root / "e").mkdir()
    remote = MemoryRemote(fail_on={"e/"})
    report = await sync(root, state, remote)
    assert report.status == "partial" and [e.path for e in report.errors] == ["e/"]
    assert baseline(state) == [], "not agreed until the marker is there"
    remote.fail_on.clear()
    report = await sync(root, state, remote)
    assert report.markers_created == ["e"] and baseline(state) == ["e"]


async def test_a_folder_that_filled_up_since_the_scan_is_not_removed(
    root: Path, state: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (root / "busy").mkdir()
    remote = MemoryRemote()
    await sync(root, state, remote)
    del remote.objects["busy/"]

    def scan_then_write(*args: Any) -> Any:
        scan = scan_local(*args)
        write(root, "busy/new.md")  # after the scan, before the removal
        return scan

    monkeypatch.setattr(gather_step, "scan_local", scan_then_write)
    report = await sync(root, state, remote)
    assert report.folders_removed == [] and (root / "busy/new.md").exists()
    assert [w.path for w in report.warnings] == ["busy/"] and baseline(state) == ["busy"]
    monkeypatch.undo()
    report = await sync(root, state, remote)
    assert report.uploaded == ["busy/new.md"] and report.markers_created == ["busy"]


# -- one-way, in memory --------------------------------------------------------------------------


async def test_push_marks_every_folder_and_removes_nothing(root: Path, state: Path) -> None:
    (root / "empty").mkdir()
    write(root, "d/a.md")
    remote = MemoryRemote()
    remote.put_bytes("cloud-only/", b"")
    remote.put_bytes("other/x.md", b"x")
    report = await push_project(
        root, remote.url, state_dir=state, remote=remote, now=NOW, dir_markers=True
    )
    assert report.status == "ok" and report.markers_created == ["", "d", "empty", "other"]
    assert "cloud-only/" in remote.objects and folders(root) == ["d", "empty"]


async def test_mirror_makes_the_markers_those_of_the_folder(root: Path, state: Path) -> None:
    (root / "empty").mkdir()
    remote = MemoryRemote()
    remote.put_bytes("stale/", b"")
    report = await mirror_project(
        root, remote.url, state_dir=state, remote=remote, now=NOW, dir_markers=True
    )
    assert report.markers_created == ["", "empty"] and report.markers_deleted == ["stale"]
    assert markers(remote) == ["/", "empty/"] and folders(root) == ["empty"]


# -- the scan and the listing ----------------------------------------------------------------------


def test_the_scan_reports_folders_and_those_holding_what_is_left_alone(root: Path) -> None:
    write(root, "a/x.md")
    (root / "a/empty").mkdir()
    write(root, "b/.hidden")
    (root / "node_modules/pkg").mkdir(parents=True)
    scan = scan_local(root, IgnoreRules((".*", "node_modules")), {})
    assert scan.folders == {"a": "a", "a/empty": "a/empty", "b": "b"}
    assert scan.holding == {"b", ""}


def test_the_listing_keeps_zero_byte_markers_apart_from_the_files() -> None:
    builder = ListingBuilder("p")
    for key, size in (
        ("p/", 0), ("p/a/", 0), ("p/a/x.md", 1), ("p/data/", 3), ("p/bad\x07/", 0),
        ("p/cafe\u0301/", 0), ("p/caf\u00e9/", 0), ("other/", 0),
    ):  # fmt: skip
        builder.add({"Key": key, "Size": size, "ETag": f'"{EMPTY_ETAG}"'})
    listing = builder.listing()
    assert list(listing.objects) == ["a/x.md"]
    assert listing.rejected == (RejectedKey("p/data/", DATA_IN_FOLDER_KEY),), "reported, kept"
    assert listing.prefix_marked
    assert listing.folders == {
        "a": FolderMarker("a", EMPTY_ETAG),
        "caf\u00e9": FolderMarker("caf\u00e9", EMPTY_ETAG),
    }
    unmarked = ListingBuilder("p")
    unmarked.add({"Key": "p/a.md", "Size": 1, "ETag": "e"})
    assert not unmarked.listing().prefix_marked and ListingBuilder("").listing().prefix_marked


# -- real servers --------------------------------------------------------------------------------


@pytest.fixture
async def remote(s3_server: S3TestServer, bucket: str) -> AsyncIterator[S3Remote]:
    async with open_remote(RemoteLocation(bucket, "p"), s3_server.config) as opened:
        yield opened


def bucket_keys(server: S3TestServer, bucket: str) -> list[str]:
    listed = server.client.list_objects_v2(Bucket=bucket)
    return sorted(o["Key"] for o in listed.get("Contents", []))


async def test_the_probe_finds_which_store_keeps_markers_and_leaves_nothing(
    remote: S3Remote, s3_server: S3TestServer, bucket: str
) -> None:
    assert await remote.keeps_markers() is (s3_server.name == "moto")
    assert bucket_keys(s3_server, bucket) == []


@pytest.mark.moto_only("rclone serve s3 cannot keep folder markers (the probe test shows it)")
async def test_markers_are_put_once_and_deleted_only_as_listed(
    remote: S3Remote, s3_server: S3TestServer, bucket: str
) -> None:
    client = s3_server.client
    client.put_object(Bucket=bucket, Key="p/data/", Body=b"not a marker")
    for folder in ("a/b", "a/b", "data", ""):
        await remote.put_marker(folder)
    assert bucket_keys(s3_server, bucket) == ["p/", "p/a/b/", "p/data/"]
    assert client.get_object(Bucket=bucket, Key="p/data/")["Body"].read() == b"not a marker"
    listing = await remote.list_objects()
    assert listing.objects == {} and listing.prefix_marked
    assert set(listing.folders) == {"a/b"}
    with pytest.raises(RemoteChanged):
        await remote.delete_marker("a/b", if_match="0" * 32)
    await remote.delete_marker("a/b", if_match=listing.folders["a/b"].etag)
    await remote.delete_marker("a/b", if_match=None)  # already gone: no error
    assert bucket_keys(s3_server, bucket) == ["p/", "p/data/"]


async def test_a_sync_keeps_the_markers_on_a_store_that_can_and_is_refused_on_one_that_cannot(
    tmp_path: Path, s3_server: S3TestServer, bucket: str
) -> None:
    root, state = tmp_path / "notes", tmp_path / "state"
    write(root, "a/x.md")
    (root / "empty").mkdir()
    url = f"s3://{bucket}/p"

    async def run() -> SyncReport:
        return await sync_project(
            root, url, s3=s3_server.config, state_dir=state, now=NOW, dir_markers=True
        )

    if s3_server.name == "rclone":
        with pytest.raises(ConfigError, match="does not keep folder markers"):
            await run()
        assert bucket_keys(s3_server, bucket) == [] and folders(root) == ["a", "empty"]
        return
    s3_server.client.put_object(Bucket=bucket, Key="p/cloud/", Body=b"")
    report = await run()
    assert report.status == "ok", report.errors
    assert report.markers_created == ["", "a", "empty"] and report.folders_created == ["cloud"]
    assert bucket_keys(s3_server, bucket) == ["p/", "p/a/", "p/a/x.md", "p/cloud/", "p/empty/"]
    assert not (await run()).changed
    (root / "empty").rmdir()
    s3_server.client.delete_object(Bucket=bucket, Key="p/cloud/")
    report = await run()
    assert report.markers_deleted == ["empty"] and report.folders_removed == ["cloud"]
    assert bucket_keys(s3_server, bucket) == ["p/", "p/a/", "p/a/x.md"]
    assert folders(root) == ["a"]


@pytest.mark.moto_only("rclone serve s3 cannot keep folder markers (the probe test shows it)")
async def test_sync_all_marks_every_project_and_its_folders(
    tmp_path: Path, s3_server: S3TestServer, bucket: str
) -> None:
    root = tmp_path / "bm"
    write(root, "research/d/a.md")
    (root / "empty-project").mkdir(parents=True)
    result = await sync_all(
        root, f"s3://{bucket}", s3=s3_server.config, state_dir=tmp_path / "state",
        dir_markers=True,
    )  # fmt: skip
    assert result.status == "ok"
    assert bucket_keys(s3_server, bucket) == [
        "empty-project/", "research/", "research/d/", "research/d/a.md",
    ]  # fmt: skip


def test_the_command_line_takes_dir_markers(
    tmp_path: Path, s3_server: S3TestServer, bucket: str
) -> None:
    root = tmp_path / "notes"
    (root / "empty").mkdir(parents=True)
    env = cli_env(s3_server.config, tmp_path)
    common = ["--endpoint-url", str(s3_server.config.endpoint_url), "--json"]
    state = ["--state-dir", str(tmp_path / "state")]
    url = f"s3://{bucket}/p"
    for command in ("sync", "push", "mirror"):
        done = run_cli(command, str(root), url, "--dir-markers", *common, *state, env=env)
        outcome = json.loads(done.stdout)
        if s3_server.name == "rclone":
            assert done.returncode == 2 and outcome["error_type"] == "ConfigError"
            continue
        assert done.returncode == 0, outcome
        created = outcome["markers_created"]
        assert created == (["", "empty"] if command == "sync" else [])
    projects = tmp_path / "bm"
    (projects / "proj" / "empty").mkdir(parents=True)
    every = ["--state-dir", str(tmp_path / "state-all")]
    done = run_cli(
        "sync-all", str(projects), f"s3://{bucket}/all", "--dir-markers", *common, *every, env=env
    )
    outcome = json.loads(done.stdout)
    assert done.returncode == (2 if s3_server.name == "rclone" else 0), outcome
    if s3_server.name == "moto":
        assert outcome["projects"]["proj"]["markers_created"] == ["", "empty"]
    pull = run_cli("pull", str(root), url, "--dir-markers", *common, *state, env=env)
    assert pull.returncode == 2 and "unrecognized arguments: --dir-markers" in pull.stderr
    assert os.path.isdir(root / "empty")
