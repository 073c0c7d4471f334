"""Push, pull, mirror and prune against real S3 servers (each test runs on moto and rclone).

Each is a mode of the one pipeline; these tests check the promises the workflows make
(docs/workflows.md) on real parts: what reaches which side, what is never deleted, what a
conflict does under each choice, the guards, the trash, and that a two-way sync afterwards
finds nothing to do where both sides agree.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import bmsync
from bmsync.commands.transfer import mirror_project, prune_project, pull_project, push_project
from bmsync.options import OneWayConflictName
from bmsync.state.paths import ProjectPaths
from tests.servers import S3TestServer

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
PREFIX = "notes"


class World:
    """A folder, a bucket prefix seen from outside bmsync, and the options every call takes."""

    def __init__(self, tmp_path: Path, server: S3TestServer, bucket: str) -> None:
        self.root = tmp_path / "notes"
        self.root.mkdir()
        self.client, self.bucket = server.client, bucket
        self.url = f"s3://{bucket}/{PREFIX}"
        self.opts: dict[str, object] = {"s3": server.config, "state_dir": tmp_path / "state"}

    def write(self, rel: str, text: str) -> None:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)

    def local(self) -> dict[str, str]:
        return {
            p.relative_to(self.root).as_posix(): p.read_text()
            for p in sorted(self.root.rglob("*"))
            if p.is_file()
        }

    def put(self, rel: str, text: str) -> None:
        self.client.put_object(Bucket=self.bucket, Key=f"{PREFIX}/{rel}", Body=text.encode())

    def remote(self, prefix: str = PREFIX) -> dict[str, str]:
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=prefix + "/"
        )
        keys = sorted(o["Key"] for page in pages for o in page.get("Contents", []))
        return {
            key[len(prefix) + 1 :]: self.client.get_object(Bucket=self.bucket, Key=key)["Body"]
            .read()
            .decode()
            for key in keys
        }

    def trash(self) -> dict[str, str]:
        found = self.remote(f".bmsync-trash/{PREFIX}")
        return {key.split("/", 1)[1]: text for key, text in found.items()}

    async def sync(self) -> bmsync.SyncReport:
        return await bmsync.sync_project(self.root, self.url, now=NOW, **self.opts)  # type: ignore[arg-type]

    async def sync_with(self, *, conflict: str, now: datetime) -> bmsync.SyncReport:
        return await bmsync.sync_project(
            self.root,
            self.url,
            conflict=conflict,
            now=now,
            **self.opts,  # type: ignore[arg-type]
        )


@pytest.fixture
def world(tmp_path: Path, s3_server: S3TestServer, bucket: str) -> World:
    return World(tmp_path, s3_server, bucket)


# -- push and pull -------------------------------------------------------------------------------


async def test_push_sends_new_and_changed_files_and_deletes_nothing(world: World) -> None:
    world.write("a.md", "a")
    world.write("d/b.md", "b")
    world.put("cloud-only.md", "c")
    report = await push_project(world.root, world.url, **world.opts)  # type: ignore[arg-type]
    assert report.status == "ok" and report.mode == "push"
    assert report.uploaded == report.new == ["a.md", "d/b.md"]
    assert report.destination_only == ["cloud-only.md"]
    assert world.remote() == {"a.md": "a", "d/b.md": "b", "cloud-only.md": "c"}
    assert world.local() == {"a.md": "a", "d/b.md": "b"}, "a push never writes locally"
    (world.root / "a.md").unlink()
    world.write("d/b.md", "b2")
    again = await push_project(world.root, world.url, **world.opts)  # type: ignore[arg-type]
    assert again.uploaded == ["d/b.md"] and again.new == [] and again.deleted_remote == []
    assert world.remote()["a.md"] == "a", "deleted locally, never deleted by a push"


async def test_after_a_push_a_two_way_sync_finds_nothing_to_do_where_both_agree(
    world: World,
) -> None:
    world.write("a.md", "a")
    world.put("same.md", "s")
    world.write("same.md", "s")
    await push_project(world.root, world.url, **world.opts)  # type: ignore[arg-type]
    report = await world.sync()
    assert report.uploaded == [] and report.deleted_remote == [] and report.conflicts == []


async def test_a_push_never_overwrites_a_change_made_only_in_the_cloud(world: World) -> None:
    world.write("a.md", "v1")
    await world.sync()
    world.put("a.md", "edited in the cloud")
    report = await push_project(world.root, world.url, **world.opts)  # type: ignore[arg-type]
    assert report.uploaded == [] and report.conflicts == []
    assert world.remote()["a.md"] == "edited in the cloud"


async def test_a_conflict_with_fail_transfers_nothing_at_all(world: World) -> None:
    world.write("a.md", "local")
    world.write("new.md", "new")
    world.put("a.md", "cloud")
    report = await push_project(world.root, world.url, **world.opts)  # type: ignore[arg-type]
    assert report.status == "aborted" and "differ on both sides" in (report.abort_reason or "")
    assert [(c.path, c.winner, c.loser_copy) for c in report.conflicts] == [("a.md", None, None)]
    assert world.remote() == {"a.md": "cloud"}, "not even the new file went up"


@pytest.mark.parametrize(
    ("choice", "cloud_after", "trashed"),
    [
        ("keep-local", {"a.md": "local"}, {"a.md": "cloud"}),
        ("keep-remote", {"a.md": "cloud"}, {}),
        ("keep-cloud", {"a.md": "cloud"}, {}),
        ("keep-both", {"a.md": "cloud", "a.conflict-20261130-120000.md": "local"}, {}),
    ],
)
async def test_push_conflict_choices(
    world: World, choice: OneWayConflictName, cloud_after: dict[str, str], trashed: dict[str, str]
) -> None:
    world.write("a.md", "local")
    world.put("a.md", "cloud")
    report = await push_project(
        world.root,
        world.url,
        conflict=choice,
        now=NOW,
        **world.opts,  # type: ignore[arg-type]
    )
    assert report.status == "ok", report.summary()
    assert world.remote() == cloud_after
    assert world.local() == {"a.md": "local"}
    assert set(world.trash().values()) == set(trashed.values())
    assert [c.path for c in report.conflicts] == ["a.md"]


@pytest.mark.parametrize(
    ("choice", "local_after"),
    [
        ("keep-remote", {"a.md": "cloud"}),
        ("keep-local", {"a.md": "local"}),
        ("keep-both", {"a.md": "local", "a.conflict-20261130-120000.md": "cloud"}),
    ],
)
async def test_pull_conflict_choices(
    world: World, choice: OneWayConflictName, local_after: dict[str, str]
) -> None:
    world.write("a.md", "local")
    world.put("a.md", "cloud")
    world.put("d/new.md", "n")
    report = await pull_project(
        world.root,
        world.url,
        conflict=choice,
        now=NOW,
        **world.opts,  # type: ignore[arg-type]
    )
    assert report.status == "ok", report.summary()
    assert world.local() == local_after | {"d/new.md": "n"}
    assert world.remote() == {"a.md": "cloud", "d/new.md": "n"}, "a pull never writes remotely"
    assert "d/new.md" in report.new


async def test_a_dry_run_push_is_the_transfer_plan(world: World) -> None:
    world.write("a.md", "a")
    world.write("b.md", "local")
    world.put("b.md", "cloud")
    world.put("c.md", "c")
    plan = await push_project(
        world.root,
        world.url,
        dry_run=True,
        conflict="keep-both",
        **world.opts,  # type: ignore[arg-type]
    )
    assert (plan.new, [c.path for c in plan.conflicts], plan.destination_only) == (
        ["a.md"],
        ["b.md"],
        ["c.md"],
    )
    assert world.remote() == {"b.md": "cloud", "c.md": "c"}


# -- mirror --------------------------------------------------------------------------------------


async def test_mirror_makes_the_cloud_identical_and_keeps_what_it_deletes(world: World) -> None:
    world.write("a.md", "a")
    world.write("b.md", "local b")
    world.put("b.md", "cloud b")
    world.put("extra.md", "x")
    report = await mirror_project(world.root, world.url, **world.opts)  # type: ignore[arg-type]
    assert report.status == "ok", report.summary()
    assert world.remote() == world.local() == {"a.md": "a", "b.md": "local b"}
    assert report.deleted_remote == ["extra.md"]
    assert set(world.trash().values()) == {"x", "cloud b"}, "deleted and overwritten: in the trash"
    assert (await world.sync()).changed is False


async def test_mirror_stops_at_max_delete(world: World) -> None:
    world.write("keep.md", "k")
    for i in range(4):
        world.put(f"old{i}.md", "o")
    report = await mirror_project(
        world.root,
        world.url,
        max_delete=3,
        **world.opts,  # type: ignore[arg-type]
    )
    assert report.status == "aborted" and "max-delete" in (report.abort_reason or "")
    assert len(world.remote()) == 4, "nothing changed"
    forced = await mirror_project(
        world.root,
        world.url,
        max_delete=3,
        force=True,
        **world.opts,  # type: ignore[arg-type]
    )
    assert forced.status == "ok" and world.remote() == {"keep.md": "k"}


async def test_mirror_of_an_empty_folder_is_refused_unless_forced(world: World) -> None:
    world.put("a.md", "a")
    report = await mirror_project(world.root, world.url, **world.opts)  # type: ignore[arg-type]
    assert report.status == "aborted" and "empty" in (report.abort_reason or "")
    assert world.remote() == {"a.md": "a"}


async def test_mirror_deletes_excluded_files_only_when_asked(world: World) -> None:
    world.write("a.md", "a")
    world.write("x.tmp", "local tmp")
    world.put("y.tmp", "cloud tmp")
    ignore = {"ignore": ["*.tmp"]}
    await mirror_project(world.root, world.url, **ignore, **world.opts)  # type: ignore[arg-type]
    assert world.remote() == {"a.md": "a", "y.tmp": "cloud tmp"}, "excluded: left alone"
    report = await mirror_project(
        world.root,
        world.url,
        delete_excluded=True,
        **ignore,
        **world.opts,  # type: ignore[arg-type]
    )
    assert report.deleted_remote == ["y.tmp"] and world.remote() == {"a.md": "a"}


# -- prune ---------------------------------------------------------------------------------------


async def test_prune_lists_then_deletes_exactly_what_the_rules_exclude(world: World) -> None:
    world.write("a.md", "a")
    world.write("big.pdf", "pdf")
    await world.sync()
    ignore = {"ignore": ["*.pdf"]}  # added to .bmignore after the file was uploaded
    preview = await prune_project(world.root, world.url, **ignore, **world.opts)  # type: ignore[arg-type]
    assert preview.dry_run and preview.deleted_remote == ["big.pdf"]
    assert "big.pdf" in world.remote()
    done = await prune_project(
        world.root,
        world.url,
        yes=True,
        **ignore,
        **world.opts,  # type: ignore[arg-type]
    )
    assert done.deleted_remote == ["big.pdf"] and world.remote() == {"a.md": "a"}
    assert world.local() == {"a.md": "a", "big.pdf": "pdf"}, "the local file stays"
    assert world.trash() == {"big.pdf": "pdf"}
    after = await bmsync.sync_project(world.root, world.url, ignore=["*.pdf"], **world.opts)  # type: ignore[arg-type]
    assert not after.changed


# -- keep-both settles a conflict once ----------------------------------------------------------


def conflict_copies(files: dict[str, str]) -> dict[str, str]:
    return {name: text for name, text in files.items() if ".conflict-" in name}


@pytest.mark.parametrize("command", ["push", "pull", "sync"])
async def test_keep_both_keeps_each_version_once_however_often_it_runs(
    world: World, command: str
) -> None:
    """Three runs (a minute apart, so each would pick a new copy name) keep the incoming
    version once; the run after finds nothing to do."""
    world.write("a.md", "local")
    world.put("a.md", "cloud")
    reports = []
    for minute in range(4):
        now = NOW + timedelta(minutes=minute)
        if command == "sync":
            run = world.sync_with(conflict="keep-both", now=now)
        else:
            move = push_project if command == "push" else pull_project
            run = move(world.root, world.url, conflict="keep-both", now=now, **world.opts)  # type: ignore[arg-type]
        reports.append(await run)
    first, last = reports[0], reports[-1]
    assert first.status == "ok" and len(first.conflicts) == 1, first.summary()
    copy = first.conflicts[0].loser_copy
    expected_local = {"push": {}, "pull": {copy: "cloud"}, "sync": {copy: "local"}}
    expected_remote = {"push": {copy: "local"}, "pull": {}, "sync": {copy: "local"}}
    assert conflict_copies(world.local()) == expected_local[command]
    assert conflict_copies(world.remote()) == expected_remote[command]
    for later in reports[1:]:
        assert later.status == "ok" and not later.changed, later.summary()
        assert later.conflicts == [] and later.uploaded == later.downloaded == []
    assert last.errors == []


@pytest.mark.parametrize("winner", ["local", "remote"])
async def test_a_sync_after_push_keep_both_keeps_no_second_copy_of_the_local_version(
    world: World, winner: str
) -> None:
    world.write("a.md", "local")
    world.put("a.md", "cloud")
    pushed = await push_project(
        world.root,
        world.url,
        conflict="keep-both",
        now=NOW,
        **world.opts,  # type: ignore[arg-type]
    )
    copy = pushed.conflicts[0].loser_copy
    assert copy is not None
    report = await world.sync_with(conflict=winner, now=NOW + timedelta(minutes=1))
    assert report.status == "ok", report.summary()
    assert world.local() == world.remote()
    copies = conflict_copies(world.local())
    assert sorted(copies.values()) == (["cloud", "local"] if winner == "local" else ["local"])
    assert copies[copy] == "local"
    assert not (await world.sync()).changed


@pytest.mark.parametrize("command", ["push", "pull"])
async def test_keep_both_killed_before_recording_its_settlement_keeps_the_version_once(
    world: World, command: str
) -> None:
    """A run killed after its copy landed and before the settlement was committed (simulated
    by dropping the recorded settlement): the next run finds the copy holding the source's
    version (proven by MD5 or xxh3), records the settlement and makes no second copy."""
    move = push_project if command == "push" else pull_project
    world.write("a.md", "local")
    world.put("a.md", "cloud")
    first = await move(world.root, world.url, conflict="keep-both", now=NOW, **world.opts)  # type: ignore[arg-type]
    copy = first.conflicts[0].loser_copy
    db = ProjectPaths.for_remote(world.opts["state_dir"], world.url).db  # type: ignore[arg-type]
    with closing(sqlite3.connect(db)) as conn, conn:
        assert conn.execute("DELETE FROM settled").rowcount == 1
    later = NOW + timedelta(minutes=1)
    again = await move(world.root, world.url, conflict="keep-both", now=later, **world.opts)  # type: ignore[arg-type]
    assert again.status == "ok" and not again.changed and again.conflicts == [], again.summary()
    destination = world.remote() if command == "push" else world.local()
    assert conflict_copies(destination) == {copy: "local" if command == "push" else "cloud"}
    last = await move(world.root, world.url, conflict="keep-both", now=later, **world.opts)  # type: ignore[arg-type]
    assert not last.changed and last.conflicts == []
