"""End to end against real S3 servers (moto_server and `rclone serve s3` on 127.0.0.1).

Every test runs once per server (the `s3_server` fixture); a test that needs a behaviour only one
server has is marked and says why.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
import time
import unicodedata
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest.mock import ANY

import pytest

from bmsync import S3Config, SyncReport, mirror_project, prune_project, sync_project
from bmsync.engine.gather import RESERVED_NAME
from bmsync.errors import StateCorruptError
from bmsync.state.paths import ProjectPaths
from bmsync.types import NS_MAX
from tests.commandline import cli_env, run_cli
from tests.killing import ProgressTerminal, killed
from tests.servers import S3TestServer

NOW = datetime(2026, 11, 23, 10, 15, tzinfo=UTC)
PREFIX = "research"


class Side:
    """One bucket prefix seen from outside bmsync: another client, the cloud app, a person."""

    def __init__(self, server: S3TestServer, bucket: str) -> None:
        self.client = server.client
        self.bucket = bucket
        self.url = f"s3://{bucket}/{PREFIX}"

    def put(self, rel: str, data: bytes | str, mtime_s: float | None = None) -> None:
        body = data.encode() if isinstance(data, str) else data
        extra: dict[str, Any] = {}
        if mtime_s is not None:
            extra["Metadata"] = {"mtime": f"{mtime_s:.9f}"}
        self.client.put_object(Bucket=self.bucket, Key=f"{PREFIX}/{rel}", Body=body, **extra)

    def delete(self, rel: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=f"{PREFIX}/{rel}")

    def keys(self, prefix: str = PREFIX + "/") -> list[str]:
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=prefix
        )
        return sorted(o["Key"] for page in pages for o in page.get("Contents", []))

    def tree(self) -> dict[str, bytes]:
        out = {}
        for key in self.keys():
            body = self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
            out[key[len(PREFIX) + 1 :]] = body
        return out

    def head(self, rel: str) -> dict[str, Any]:
        result: dict[str, Any] = self.client.head_object(Bucket=self.bucket, Key=f"{PREFIX}/{rel}")
        return result


@pytest.fixture
def remote(s3_server: S3TestServer, bucket: str) -> Side:
    return Side(s3_server, bucket)


def write(root: Path, rel: str, data: bytes | str, mtime_s: float | None = None) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    path.write_bytes(data)
    if mtime_s is not None:
        os.utime(path, (mtime_s, mtime_s))
    return path


def tree(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


class Client:
    """One machine running bmsync: its folder and its state dir."""

    def __init__(self, root: Path, state: Path, config: S3Config, url: str) -> None:
        self.root, self.state, self.config, self.url = root, state, config, url

    async def sync(self, **kw: Any) -> SyncReport:
        kw.setdefault("now", NOW)
        return await sync_project(self.root, self.url, s3=self.config, state_dir=self.state, **kw)


@pytest.fixture
def client(root: Path, tmp_path: Path, s3_server: S3TestServer, remote: Side) -> Client:
    return Client(root, tmp_path / "state", s3_server.config, remote.url)


async def test_every_table_row_end_to_end(client: Client, remote: Side, root: Path) -> None:
    write(root, "keep.md", "k")
    write(root, "edit-local.md", "1")
    write(root, "edit-remote.md", "1")
    write(root, "del-local.md", "1")
    write(root, "del-remote.md", "1")
    write(root, "del-both.md", "1")
    write(root, "edit-vs-del.md", "1")
    write(root, "del-vs-edit.md", "1")
    write(root, "same-edit.md", "1")
    first = await client.sync()
    assert first.status == "ok" and len(first.uploaded) == 9
    assert tree(root) == remote.tree()

    write(root, "edit-local.md", "2")
    remote.put("edit-remote.md", "2")
    (root / "del-local.md").unlink()
    remote.delete("del-remote.md")
    (root / "del-both.md").unlink()
    remote.delete("del-both.md")
    write(root, "edit-vs-del.md", "2")
    remote.delete("edit-vs-del.md")
    (root / "del-vs-edit.md").unlink()
    remote.put("del-vs-edit.md", "2")
    write(root, "same-edit.md", "2")
    remote.put("same-edit.md", "2")
    write(root, "new-local.md", "n")
    remote.put("new-remote.md", "n")
    report = await client.sync()
    assert report.status == "ok", report.errors
    assert report.uploaded == ["edit-local.md", "edit-vs-del.md", "new-local.md"]
    assert report.downloaded == ["del-vs-edit.md", "edit-remote.md", "new-remote.md"]
    assert report.deleted_local == ["del-remote.md"]
    assert report.deleted_remote == ["del-local.md"]
    assert report.conflicts == []
    assert tree(root) == remote.tree()
    assert tree(root)["same-edit.md"] == b"2"
    again = await client.sync()
    assert not again.changed and again.status == "ok"
    # The deleted remote object was kept in the remote trash, outside the prefix.
    assert any(k.endswith("/del-local.md") for k in remote.keys(".bmsync-trash/"))


async def test_mtime_travels_as_rclone_metadata(client: Client, remote: Side, root: Path) -> None:
    write(root, "a.md", "a", mtime_s=1_700_000_000.5)
    await client.sync()
    meta = {k.lower(): v for k, v in remote.head("a.md")["Metadata"].items()}
    assert float(meta["mtime"]) == pytest.approx(1_700_000_000.5)
    assert len(meta["xxh3"]) == 32
    remote.put("b.md", "b", mtime_s=1_600_000_000.25)
    await client.sync()
    assert (root / "b.md").stat().st_mtime == pytest.approx(1_600_000_000.25)


async def test_touched_file_transfers_nothing(client: Client, root: Path) -> None:
    path = write(root, "a.md", "a", mtime_s=1_700_000_000)
    await client.sync()
    os.utime(path, (1_800_000_000, 1_800_000_000))
    report = await client.sync()
    assert not report.changed and report.bytes_uploaded == 0


async def test_crlf_only_edits_are_changes_both_ways(
    client: Client, remote: Side, root: Path
) -> None:
    """Line endings are bytes like any other: a file whose only change is LF to CRLF (an editor
    on Windows, `unix2dos`) is synced as a change and arrives unaltered, from either side; even
    when the size and the mtime stay what they were."""
    lf = "# Note\n\nline one\nline two\n"
    write(root, "local.md", lf, mtime_s=1_700_000_000)
    write(root, "remote.md", lf, mtime_s=1_700_000_000)
    write(root, "same-size.md", "a\n\nb\n\n", mtime_s=1_700_000_000)
    await client.sync()
    write(root, "local.md", lf.replace("\n", "\r\n"), mtime_s=1_700_000_000)
    remote.put("remote.md", lf.replace("\n", "\r\n"))
    write(root, "same-size.md", "a\r\nb\r\n", mtime_s=1_700_000_000)  # 6 bytes, as before
    report = await client.sync()
    assert (report.uploaded, report.downloaded) == (["local.md", "same-size.md"], ["remote.md"])
    expected = {
        "local.md": lf.replace("\n", "\r\n").encode(),
        "remote.md": lf.replace("\n", "\r\n").encode(),
        "same-size.md": b"a\r\nb\r\n",
    }
    assert tree(root) == remote.tree() == expected
    assert not (await client.sync()).changed


async def test_conflict_newer_wins_loser_kept_on_both_sides(
    client: Client, remote: Side, root: Path
) -> None:
    write(root, "n/x.md", "base")
    await client.sync()
    remote.put("n/x.md", "remote", mtime_s=1_000_000_000)
    write(root, "n/x.md", "local", mtime_s=2_000_000_000)
    report = await client.sync()
    copy = "n/x.conflict-20261123-101500.md"
    assert [(c.path, c.winner, c.loser_copy) for c in report.conflicts] == [
        ("n/x.md", "local", copy)
    ]
    assert tree(root) == remote.tree() == {"n/x.md": b"local", copy: b"remote"}
    assert not (await client.sync()).changed

    remote.put("n/x.md", "remote newer", mtime_s=3_000_000_000)
    write(root, "n/x.md", "local older", mtime_s=2_500_000_000)
    report = await client.sync(now=datetime(2026, 11, 24, tzinfo=UTC))
    copy2 = "n/x.conflict-20261124-000000.md"
    assert [(c.winner, c.loser_copy) for c in report.conflicts] == [("remote", copy2)]
    assert tree(root) == remote.tree()
    assert tree(root)["n/x.md"] == b"remote newer" and tree(root)[copy2] == b"local older"


async def test_first_run_conflict_safe_profile_keeps_both(
    client: Client, remote: Side, root: Path
) -> None:
    write(root, "x.md", "mine")
    remote.put("x.md", "theirs")
    report = await client.sync(profile="safe")
    assert [(c.winner, c.loser_copy) for c in report.conflicts] == [
        (None, "x.conflict-20261123-101500.md")
    ]
    assert tree(root) == remote.tree()
    assert tree(root) == {"x.md": b"theirs", "x.conflict-20261123-101500.md": b"mine"}


async def test_guards_abort_without_changes(client: Client, remote: Side, root: Path) -> None:
    for i in range(6):
        write(root, f"f{i}.md", str(i))
    await client.sync()
    for i in range(6):
        remote.delete(f"f{i}.md")
    report = await client.sync()
    assert report.status == "aborted" and "remote prefix holds no objects" in str(
        report.abort_reason
    )
    remote.put("f0.md", "0")
    report = await client.sync(max_delete=3)
    assert report.status == "aborted" and "max-delete" in str(report.abort_reason)
    assert len(tree(root)) == 6
    assert (await client.sync(max_delete="100%")).deleted_local == [f"f{i}.md" for i in range(1, 6)]


async def test_emptied_folder_with_a_new_file_trips_the_guard_in_every_deleting_mode(
    client: Client, remote: Side, root: Path
) -> None:
    """Issue 16: the folder removed and made again, an app's `Welcome.md` in it: sync and
    mirror stop (20 deletes would pass max-delete 25), prune deletes nothing it should not,
    force lifts the guard."""
    notes = {f"note{i}.md": f"note {i}".encode() for i in range(20)}
    for rel, data in notes.items():
        write(root, rel, data)
    await client.sync()
    shutil.rmtree(root)
    write(root, "Welcome.md", "welcome")
    report = await client.sync()
    assert (report.status, report.guard) == ("aborted", "empty_side")
    assert "holds none of the 20 files" in str(report.abort_reason)
    mirrored = await mirror_project(root, client.url, s3=client.config, state_dir=client.state)
    assert (mirrored.status, mirrored.guard) == ("aborted", "empty_side")
    pruned = await prune_project(
        root, client.url, yes=True, s3=client.config, state_dir=client.state
    )
    assert pruned.status == "ok" and pruned.deleted_remote == []
    assert remote.tree() == notes
    forced = await client.sync(force=True)
    assert sorted(forced.deleted_remote) == sorted(notes) and forced.uploaded == ["Welcome.md"]


async def test_emptied_remote_with_a_new_object_trips_the_guard(
    client: Client, remote: Side, root: Path
) -> None:
    for i in range(20):
        write(root, f"note{i}.md", f"note {i}")
    await client.sync()
    for i in range(20):
        remote.delete(f"note{i}.md")
    remote.put("Welcome.md", "welcome")
    report = await client.sync()
    assert (report.status, report.guard) == ("aborted", "empty_side")
    assert "remote prefix holds none of the 20 files" in str(report.abort_reason)
    assert len(tree(root)) == 20 and remote.keys() == [f"{PREFIX}/Welcome.md"]


async def test_first_mirror_takes_a_max_delete_share_of_the_remote(
    client: Client, remote: Side, root: Path
) -> None:
    """Issue 16: with no snapshot, 50% was a share of nothing (0), so one remote-only file
    aborted a first mirror; it is a share of what the remote holds."""
    for i in range(9):
        write(root, f"f{i}.md", str(i))
        remote.put(f"f{i}.md", str(i))
    remote.put("old.md", "old")
    report = await mirror_project(
        root, client.url, max_delete="50%", s3=client.config, state_dir=client.state
    )
    assert report.status == "ok" and report.deleted_remote == ["old.md"]
    assert remote.tree() == tree(root)


async def test_filters_and_folder_markers(
    client: Client, remote: Side, root: Path, s3_server: S3TestServer
) -> None:
    write(root, ".obsidian/app.json", "{}")
    write(root, "memory.db", "x")
    write(root, "note.md", "n")
    remote.put(".hidden.md", "h")
    if s3_server.name == "moto":  # rclone's server turns marker keys into real folders
        remote.client.put_object(Bucket=remote.bucket, Key=f"{PREFIX}/folder/", Body=b"")
    report = await client.sync()
    assert report.uploaded == ["note.md"] and report.downloaded == []
    assert not (root / ".hidden.md").exists() and not (root / "folder").exists()


def global_bmignore(text: str) -> Path:
    """Write the global `.bmignore` where basic-memory keeps it: `$BASIC_MEMORY_CONFIG_DIR`
    (every test points that at a folder of its own, tests/conftest.py)."""
    path = Path(os.environ["BASIC_MEMORY_CONFIG_DIR"]) / ".bmignore"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


async def test_global_bmignore_is_obeyed_on_both_sides(
    client: Client, remote: Side, root: Path
) -> None:
    """Paths the global `.bmignore` names are never uploaded, downloaded or deleted, even paths
    synced before the rule was written; and the file replaces basic-memory's defaults, so a
    dotfile it does not name syncs."""
    write(root, "a.md", "a")
    write(root, "drafts/mine.md", "synced before the rule")
    remote.put("drafts/theirs.md", "synced before the rule too")
    assert (await client.sync()).status == "ok"
    global_bmignore("# mine\ndrafts/\n*.secret\n")
    (root / "drafts/mine.md").unlink()  # would delete the remote copy, were it not ignored
    remote.delete("drafts/theirs.md")  # would delete the local copy
    write(root, "drafts/new.md", "local draft")
    write(root, "keys.secret", "local secret")
    remote.put("drafts/cloud.md", "remote draft")
    remote.put("cloud.secret", "remote secret")
    write(root, ".hidden.md", "a dotfile: ignored only by the defaults")
    remote.put("a.md", "a, edited remotely")
    report = await client.sync()
    assert report.status == "ok", report.errors
    assert (report.uploaded, report.downloaded) == ([".hidden.md"], ["a.md"])
    assert report.deleted_local == report.deleted_remote == []
    assert tree(root) == {
        ".hidden.md": b"a dotfile: ignored only by the defaults",
        "a.md": b"a, edited remotely",
        "drafts/new.md": b"local draft",
        "drafts/theirs.md": b"synced before the rule too",
        "keys.secret": b"local secret",
    }
    assert remote.tree() == {
        ".hidden.md": b"a dotfile: ignored only by the defaults",
        "a.md": b"a, edited remotely",
        "cloud.secret": b"remote secret",
        "drafts/cloud.md": b"remote draft",
        "drafts/mine.md": b"synced before the rule",
    }
    assert not (await client.sync()).changed


async def test_global_bmignore_in_the_home_folder_without_a_config_dir(
    client: Client, root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without `BASIC_MEMORY_CONFIG_DIR`, basic-memory's file is `~/.basic-memory/.bmignore`."""
    monkeypatch.delenv("BASIC_MEMORY_CONFIG_DIR")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    write(tmp_path / "home", ".basic-memory/.bmignore", "*.draft.md\n")
    write(root, "a.md", "a")
    write(root, "b.draft.md", "a draft")
    write(root, ".hidden.md", "a dotfile")
    report = await client.sync()
    assert sorted(report.uploaded) == [".hidden.md", "a.md"]


async def test_without_a_global_bmignore_basic_memorys_defaults_apply(
    client: Client, remote: Side, root: Path
) -> None:
    """The config folder exists but holds no `.bmignore`: basic-memory's built-in patterns
    hide editor, database, build and temporary files on both sides."""
    Path(os.environ["BASIC_MEMORY_CONFIG_DIR"]).mkdir(parents=True)
    local_only = {
        ".obsidian/workspace.json": b"{}",
        "memory.db": b"sqlite",
        "node_modules/m.md": b"m",
        "draft.tmp": b"t",
        "note.md~": b"backup",
    }
    remote_only = {".DS_Store": b"d", "notes.swp": b"s", "build/out.md": b"o", "dist/x.md": b"x"}
    for rel, data in local_only.items():
        write(root, rel, data)
    for rel, data in remote_only.items():
        remote.put(rel, data)
    write(root, "a.md", "a")
    remote.put("b.md", "b")
    report = await client.sync()
    assert (report.uploaded, report.downloaded) == (["a.md"], ["b.md"])
    synced = {"a.md": b"a", "b.md": b"b"}
    assert tree(root) == local_only | synced
    assert remote.tree() == remote_only | synced


UNICODE_NAMES = [
    "日本語/ノート.md",
    "emoji 🚀 notes.md",
    "spaces and (parens) & #hash.md",
    "deep/a/b/c/d/e.md",
    "percent%20name.md",
    "plus+equals=.md",
]


async def test_unicode_and_odd_names_round_trip(client: Client, remote: Side, root: Path) -> None:
    for i, name in enumerate(UNICODE_NAMES):
        write(root, name, f"local {i}")
    remote.put("remote/ünïcödé.md", "r")
    nfd = unicodedata.normalize("NFD", "café.md")
    write(root, nfd, "nfd")
    report = await client.sync()
    assert report.status == "ok", report.errors
    expected = {name: f"local {i}".encode() for i, name in enumerate(UNICODE_NAMES)}
    expected["remote/ünïcödé.md"] = b"r"
    expected["café.md"] = b"nfd"
    assert remote.tree() == expected
    assert not (await client.sync()).changed


async def test_24_mib_file_both_ways(client: Client, remote: Side, root: Path) -> None:
    big = os.urandom(24 << 20)
    write(root, "big/up.bin", big)
    report = await client.sync()
    assert report.uploaded == ["big/up.bin"] and report.bytes_uploaded == len(big)
    remote.put("big/down.bin", big[::-1])
    report = await client.sync()
    assert report.downloaded == ["big/down.bin"], report.errors
    assert (root / "big/down.bin").read_bytes() == big[::-1]
    assert remote.tree()["big/up.bin"] == big
    assert not (await client.sync()).changed


async def test_dry_run_changes_nothing(client: Client, remote: Side, root: Path) -> None:
    write(root, "a.md", "a")
    remote.put("b.md", "b")
    report = await client.sync(dry_run=True)
    assert report.uploaded == ["a.md"] and report.downloaded == ["b.md"]
    assert remote.keys() == [f"{PREFIX}/b.md"] and tree(root) == {"a.md": b"a"}
    assert (await client.sync()).uploaded == ["a.md"]


def whole_tree(top: Path) -> dict[str, tuple[int, bytes | None]]:
    """Every entry below `top`: a folder as (0, None), a file as (mtime, bytes)."""
    found: dict[str, tuple[int, bytes | None]] = {}
    for path in sorted(top.rglob("*")):
        rel = path.relative_to(top).as_posix()
        found[rel] = (0, None) if path.is_dir() else (path.stat().st_mtime_ns, path.read_bytes())
    return found


async def test_dry_run_of_a_pair_never_synced_writes_nothing_anywhere(
    client: Client, remote: Side, root: Path, tmp_path: Path
) -> None:
    """Issue 16: it made the state folder, the lock file and the trash folder."""
    write(root, "a.md", "a")
    remote.put("b.md", "b")
    before, keys = whole_tree(tmp_path), remote.keys()
    report = await client.sync(dry_run=True)
    assert report.uploaded == ["a.md"] and report.downloaded == ["b.md"]
    assert whole_tree(tmp_path) == before and remote.keys() == keys
    assert not client.state.exists()


def snapshot_db(client: Client) -> Path:
    return ProjectPaths.resolve(client.state, client.url).db


async def test_a_zero_byte_snapshot_is_corrupt_and_nothing_comes_back(
    client: Client, remote: Side, root: Path
) -> None:
    """Issue 16: an emptied snapshot was taken for a first run, whose union brought back every
    file deleted since. It is a corrupt snapshot, reported with the same advice and path."""
    write(root, "a.md", "a")
    write(root, "gone.md", "gone")
    await client.sync()
    (root / "gone.md").unlink()
    db = snapshot_db(client)
    db.write_bytes(b"")
    Path(f"{db}-wal").unlink(missing_ok=True)
    with pytest.raises(
        StateCorruptError, match=rf"the snapshot {re.escape(str(db))} is not a"
    ) as err:
        await client.sync()
    assert "--resync" in str(err.value)
    assert tree(root) == {"a.md": b"a"} and db.read_bytes() == b""


async def test_dry_run_of_a_resync_on_a_corrupt_snapshot_plans_it_and_changes_nothing(
    client: Client, remote: Side, root: Path, tmp_path: Path
) -> None:
    """Issue 16: it said "run again with --resync" to a run given resync=True."""
    write(root, "a.md", "a")
    await client.sync()
    write(root, "new.md", "new")
    remote.put("b.md", "b")
    snapshot_db(client).write_bytes(b"\x00garbage" * 512)

    def unchanged() -> dict[str, tuple[int, bytes | None]]:
        # A dry run of a synced project holds its lock like any run: it writes its details in
        # the lock file and erases them, so only that file's time moves.
        found = whole_tree(tmp_path).items()
        return {rel: (0 if rel.endswith("/lock") else t, data) for rel, (t, data) in found}

    before, keys = unchanged(), remote.keys()
    report = await client.sync(dry_run=True, resync=True)
    assert report.status == "ok" and report.dry_run
    assert report.uploaded == ["new.md"] and report.downloaded == ["b.md"]
    assert unchanged() == before and remote.keys() == keys
    done = await client.sync(resync=True)
    assert done.uploaded == ["new.md"] and done.downloaded == ["b.md"]


async def test_two_clients_share_a_prefix(
    tmp_path: Path, s3_server: S3TestServer, remote: Side
) -> None:
    one = Client(tmp_path / "one", tmp_path / "state-one", s3_server.config, remote.url)
    two = Client(tmp_path / "two", tmp_path / "state-two", s3_server.config, remote.url)
    write(one.root, "from-one.md", "1")
    await one.sync()
    write(two.root, "from-two.md", "2")
    await two.sync()
    await one.sync()
    assert tree(one.root) == tree(two.root) == remote.tree()
    write(one.root, "shared.md", "edited by one", mtime_s=2_000_000_000)
    await one.sync()
    (two.root / "from-one.md").unlink()
    report = await two.sync()
    assert report.downloaded == ["shared.md"] and report.deleted_remote == ["from-one.md"]
    report = await one.sync()
    assert report.deleted_local == ["from-one.md"]
    assert tree(one.root) == tree(two.root) == remote.tree()
    # Both edit the same note: each client keeps a consistent view, nothing is lost.
    write(one.root, "shared.md", "one again", mtime_s=2_100_000_000)
    write(two.root, "shared.md", "two again", mtime_s=2_200_000_000)
    await one.sync()
    report = await two.sync()
    assert [c.winner for c in report.conflicts] == ["local"]
    await one.sync()
    assert tree(one.root) == tree(two.root) == remote.tree()
    contents = set(tree(one.root).values())
    assert {b"one again", b"two again"} <= contents


async def test_cli_json_and_exit_codes(
    tmp_path: Path, s3_server: S3TestServer, remote: Side, root: Path
) -> None:
    env = cli_env(s3_server.config, tmp_path)
    base = [str(root), remote.url, "--endpoint-url", str(s3_server.config.endpoint_url)]
    base += ["--state-dir", str(tmp_path / "st"), "--json"]
    write(root, "a.md", "a")
    write(root, "c.md", "c")
    done = run_cli("sync", *base, env=env)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["status"] == "ok" and report["uploaded"] == ["a.md", "c.md"]
    assert set(report) >= {
        "status", "dry_run", "uploaded", "downloaded", "deleted_local", "deleted_remote",
        "conflicts", "errors", "abort_reason", "bytes_uploaded", "bytes_downloaded", "duration_s",
    }  # fmt: skip
    # c.md is still there, so the folder is not emptied: the max-delete guard, not the
    # empty-side one, is what stops the run, and the CLI names the flags that would lift it.
    write(root, "b.md", "b")
    (root / "a.md").unlink()
    done = run_cli("sync", *base, "--max-delete", "0", env=env)
    assert done.returncode == 3 and json.loads(done.stdout)["status"] == "aborted"
    aborted = json.loads(done.stdout)
    assert aborted["guard"] == "max_delete", aborted["abort_reason"]
    assert aborted["abort_reason"].startswith("1 files would be deleted from the remote")
    assert "--max-delete" in done.stderr and "--force" in done.stderr
    assert remote.keys() == [f"{PREFIX}/a.md", f"{PREFIX}/c.md"], "an aborted run uploads nothing"
    done = run_cli("sync", *base, "--max-delete", "lots", env=env)
    assert done.returncode == 2 and "max_delete" in json.loads(done.stdout)["abort_reason"]
    done = run_cli("sync", str(root), "not-a-url", env=env)
    assert done.returncode == 2 and "s3://" in done.stderr


FAR_FUTURE = {2300: datetime(2300, 1, 1, tzinfo=UTC), 2446: datetime(2446, 1, 1, tzinfo=UTC)}


@pytest.mark.parametrize("year", sorted(FAR_FUTURE))
def test_a_file_dated_past_2262_syncs_and_the_next_run_does_nothing(
    year: int, tmp_path: Path, s3_server: S3TestServer, remote: Side, root: Path
) -> None:
    """Issue 16: a time the snapshot cannot store (past 2262; ext4 keeps them to 2446) made the
    snapshot write raise OverflowError after the upload, on every run, with a traceback and no
    JSON. It is clamped to 2262-04-11 (`bmsync.types.storable_ns`): the file syncs, the next run
    does nothing, a remote edit still comes down."""
    far = FAR_FUTURE[year].timestamp()
    write(root, "far.md", "far", mtime_s=far)
    write(root, "old.md", "old", mtime_s=datetime(1950, 1, 1, tzinfo=UTC).timestamp())
    write(root, "now.md", "now")
    env = cli_env(s3_server.config, tmp_path)
    args = ["sync", str(root), remote.url, "--endpoint-url", str(s3_server.config.endpoint_url)]
    args += ["--state-dir", str(tmp_path / "st"), "--json"]
    first = run_cli(*args, env=env)
    assert first.returncode == 0, first.stdout + first.stderr
    assert sorted(json.loads(first.stdout)["uploaded"]) == ["far.md", "now.md", "old.md"]
    again = run_cli(*args, env=env)
    assert again.returncode == 0, again.stdout + again.stderr
    report = json.loads(again.stdout)
    assert report["status"] == "ok" and report["uploaded"] == report["errors"] == []
    assert (root / "far.md").stat().st_mtime == far, "bmsync never changes a local time"
    remote.put("far.md", "edited")
    pulled = json.loads(run_cli(*args, env=env).stdout)
    assert pulled["downloaded"] == ["far.md"] and tree(root) == remote.tree()


async def test_a_remote_object_dated_past_2262_downloads_once(
    client: Client, remote: Side, root: Path, s3_server: S3TestServer
) -> None:
    """`rclone serve s3` stores an upload's `mtime` as the served file's time and lists that as
    its Last-Modified: 2446 on ext4, past what `mtime` metadata is read as (int64 ns), so the
    listing's time is the one a download sets. It is clamped, and the next run does nothing."""
    if s3_server.data_dir is None:
        pytest.skip("moto stamps Last-Modified itself; only rclone serves a file's own time")
    served = s3_server.data_dir / remote.bucket / PREFIX / "far.md"
    served.parent.mkdir()
    served.write_text("far")
    os.utime(served, (FAR_FUTURE[2446].timestamp(),) * 2)
    listed = remote.client.list_objects_v2(Bucket=remote.bucket)["Contents"]
    assert listed[0]["LastModified"].year == 2446
    first = await client.sync()
    assert first.status == "ok" and first.downloaded == ["far.md"], first.errors
    assert (root / "far.md").stat().st_mtime_ns == NS_MAX
    again = await client.sync()
    assert again.status == "ok" and not again.changed and again.errors == []


KILL_FILES = 300


async def test_a_clean_first_run_has_nothing_to_warn_about(client: Client) -> None:
    """The first run also does the daily trash and upload cleanup; on a fresh bucket neither
    may produce a warning (rclone's server answers the upload listing with a 404)."""
    write(client.root, "a.md", "a")
    report = await client.sync()
    assert report.status == "ok" and report.warnings == [] and report.uploaded == ["a.md"]


async def test_upload_left_open_by_a_killed_run_is_aborted_a_day_later(
    client: Client, remote: Side
) -> None:
    """A run killed mid multipart upload leaves billed parts; the daily cleanup aborts them."""
    s3 = remote.client
    s3.create_multipart_upload(Bucket=remote.bucket, Key=f"{PREFIX}/big.bin")
    s3.create_multipart_upload(Bucket=remote.bucket, Key="another-project/big.bin")
    write(client.root, "a.md", "a")
    report = await client.sync(now=datetime.now(UTC) + timedelta(days=2))
    assert report.status == "ok" and report.uploaded == ["a.md"]
    listed = s3.list_multipart_uploads(Bucket=remote.bucket).get("Uploads", [])
    assert [u["Key"] for u in listed] == ["another-project/big.bin"]


CLI = Callable[..., "subprocess.CompletedProcess[str]"]


@pytest.fixture
def cli(client: Client, s3_server: S3TestServer) -> CLI:
    """`bmsync ARGS... --endpoint-url … --state-dir …` as a subprocess, with the server's keys."""
    env = dict(os.environ)
    env.update(
        AWS_ACCESS_KEY_ID=s3_server.config.access_key_id or "",
        AWS_SECRET_ACCESS_KEY=s3_server.config.secret_access_key or "",
        AWS_DEFAULT_REGION="us-east-1",
    )
    s3 = ["--endpoint-url", str(s3_server.config.endpoint_url), "--state-dir", str(client.state)]

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "bmsync.cli", *args, *s3],
            capture_output=True, text=True, env=env, timeout=120, check=False,
        )  # fmt: skip

    return run


def test_cli_trash_and_restore(client: Client, remote: Side, cli: CLI) -> None:
    """A version deleted remotely by a sync is listed by `bmsync trash` and brought back by
    `bmsync restore` from the bucket's trash; the next sync puts it back remotely."""
    write(client.root, "keep.md", "k")
    write(client.root, "ideas/x.md", "precious", mtime_s=1_700_000_000)

    def bmsync(*args: str) -> subprocess.CompletedProcess[str]:
        return cli(*args, "--json")

    assert bmsync("sync", str(client.root), remote.url).returncode == 0
    (client.root / "ideas/x.md").unlink()
    assert bmsync("sync", str(client.root), remote.url).returncode == 0
    assert "ideas/x.md" not in remote.tree()
    listed = bmsync("trash", remote.url)
    assert listed.returncode == 0, listed.stderr
    versions = json.loads(listed.stdout)["versions"]
    assert [(v["path"], v["side"], v["size"]) for v in versions] == [("ideas/x.md", "remote", 8)]
    restored = bmsync("restore", str(client.root), remote.url, "ideas/x.md")
    assert restored.returncode == 0, restored.stderr
    assert json.loads(restored.stdout)["restored_to"] == "ideas/x.md"
    assert (client.root / "ideas/x.md").read_bytes() == b"precious"
    assert (client.root / "ideas/x.md").stat().st_mtime == 1_700_000_000
    missing = bmsync("restore", str(client.root), remote.url, "never-there.md")
    assert missing.returncode == 2 and "bmsync trash" in json.loads(missing.stdout)["error"]
    assert bmsync("sync", str(client.root), remote.url).returncode == 0
    assert remote.tree()["ideas/x.md"] == b"precious"


def test_cli_check(client: Client, remote: Side, cli: CLI) -> None:
    """`bmsync check` exits 0 when both sides agree and 1, listing what differs, when not."""
    write(client.root, "a.md", "a")
    write(client.root, "b.md", "b")

    def bmsync(*args: str) -> subprocess.CompletedProcess[str]:
        return cli(args[0], str(client.root), remote.url, *args[1:])

    assert bmsync("sync").returncode == 0
    agreed = bmsync("check", "--json")
    assert agreed.returncode == 0, agreed.stderr
    assert json.loads(agreed.stdout)["in_sync"] and json.loads(agreed.stdout)["compared"] == 0
    remote.put("b.md", "changed in the cloud")
    full = bmsync("check", "--full", "--json")
    assert full.returncode == 1, full.stderr
    found = json.loads(full.stdout)
    assert (found["different"], found["same"], found["compared"]) == (["b.md"], 1, 2)
    assert "NOT in sync" in bmsync("check").stdout


async def test_a_local_trash_folder_at_a_bucket_root_is_reported_not_synced(
    s3_server: S3TestServer, bucket: str, root: Path, tmp_path: Path
) -> None:
    """A whole bucket keeps its remote trash in `.bmsync-trash/`: a local folder of that name
    was uploaded into the trash, missing from the next listing, and trashed locally as deleted
    remotely. It is now synced on neither side, and reported (issue 16)."""
    global_bmignore("")  # no defaults: dotfiles are visible
    write(root, ".bmsync-trash/mine.md", "mine")
    write(root, "note.md", "n")

    async def sync() -> SyncReport:
        return await sync_project(
            root, f"s3://{bucket}", s3=s3_server.config, state_dir=tmp_path / "state", now=NOW
        )

    first = await sync()
    assert first.status == "ok" and first.uploaded == ["note.md"]
    assert [(w.path, w.message) for w in first.warnings] == [(".bmsync-trash", RESERVED_NAME)]
    again = await sync()
    assert not again.changed and [w.path for w in again.warnings] == [".bmsync-trash"]
    assert tree(root) == {".bmsync-trash/mine.md": b"mine", "note.md": b"n"}
    listed = s3_server.client.list_objects_v2(Bucket=bucket).get("Contents", [])
    assert [o["Key"] for o in listed] == ["note.md"]


def test_a_negation_under_an_ignored_folder_deletes_nothing(
    client: Client, remote: Side, cli: CLI
) -> None:
    """`drafts/` then `!drafts/keep.md` arriving after a sync: the scan does not walk into
    `drafts/`, so `drafts/keep.md` is hidden on the remote side too (as in git) and stays on
    both sides; it deleted the bucket copy, and `check` called that in sync (issue 16)."""
    notes = {"a.md": b"a", "drafts/keep.md": b"keep", "drafts/x.md": b"x"}
    for path, data in notes.items():
        write(client.root, path, data)

    def bmsync(*args: str) -> subprocess.CompletedProcess[str]:
        return cli(args[0], str(client.root), remote.url, *args[1:], "--json")

    assert bmsync("sync").returncode == 0
    write(client.root, ".gitignore", "drafts/\n!drafts/keep.md\n")
    for _ in range(2):
        run = bmsync("sync")
        assert run.returncode == 0, run.stdout + run.stderr
        assert not json.loads(run.stdout)["deleted_remote"]
        assert remote.tree() == notes and tree(client.root) == {**notes, ".gitignore": ANY}
    checked = bmsync("check", "--full")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert json.loads(checked.stdout)["compared"] == 1, "a.md alone is visible"
    write(client.root, ".gitignore", "drafts/*\n!drafts/keep.md\n")
    again = bmsync("sync")
    assert again.returncode == 0, again.stdout + again.stderr
    found = json.loads(again.stdout)
    assert found["uploaded"] == found["downloaded"] == [], "visible again, equal on both sides"
    assert remote.tree() == notes


@pytest.mark.slow
async def test_sigkill_mid_run_then_rerun_converges(
    tmp_path: Path, s3_server: S3TestServer, remote: Side, root: Path
) -> None:
    """Kill `bmsync sync` three times in a row, a fifth, two fifths and three fifths into each
    run's actions (read from its progress on a terminal, `tests/killing.py`); at least two
    kills must land mid-run; the next run converges, no loss."""
    env = cli_env(s3_server.config, tmp_path)
    state = str(tmp_path / "st")
    args = ["sync", str(root), remote.url, "--endpoint-url", str(s3_server.config.endpoint_url)]
    args += ["--state-dir", state, "--max-delete", "100%"]
    for i in range(KILL_FILES):
        write(root, f"local/{i:04d}.md", f"local note {i}\n" * 20)
        remote.put(f"remote/{i:04d}.md", f"remote note {i}\n" * 20)
    expected = {
        **tree(root),
        **{f"remote/{i:04d}.md": f"remote note {i}\n".encode() * 20 for i in range(KILL_FILES)},
    }
    landed = []
    # Aimed at shares of the run's actions, read from its live progress (redrawn ten times a
    # second): on a quiet machine a run can finish its last fifth between two redraws, so the
    # aims stay clear of the end and at least two of the three must land mid-run.
    for share in (0.2, 0.4, 0.6):
        with ProgressTerminal([sys.executable, "-m", "bmsync.cli", *args], env) as command:
            deadline = time.monotonic() + 120
            while command.running and command.events < max(1, share * command.total):
                assert time.monotonic() < deadline, "bmsync sync did not finish in time"
                command.read(0.01)
            returncode = command.kill()
            landed.append((returncode, command.events, command.total))
    assert all(killed(code) for code, _, _ in landed), landed
    assert sum(0 < done < total for _, done, total in landed) >= 2, landed
    done = run_cli(*args, "--json", env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert not list(root.rglob(".bmsync-tmp-*")), "no temporary file outlives a completed run"
    assert tree(root) == remote.tree() == expected
    again = json.loads(run_cli(*args, "--json", env=env).stdout)
    assert again["uploaded"] == again["downloaded"] == again["conflicts"] == []


@pytest.mark.parametrize("mode", [0o444, 0o600, 0o755])
async def test_a_download_over_a_file_keeps_its_mode(
    client: Client, remote: Side, root: Path, mode: int
) -> None:
    """A read-only note stays read-only (a private one private, an executable one executable)
    when the other side's edit replaces it."""
    write(root, "a.md", "mine")
    await client.sync()
    os.chmod(root / "a.md", mode)
    remote.put("a.md", "edited elsewhere")
    report = await client.sync()
    assert report.downloaded == ["a.md"], report.summary()
    assert (root / "a.md").read_text() == "edited elsewhere"
    assert stat.S_IMODE((root / "a.md").stat().st_mode) == mode
    assert not (await client.sync()).changed
