"""The folder planner (`bmsync/engine/folders.py`), pure: one test per row of the folder table in
docs/semantics.md, the one-way modes, and Hypothesis properties over random folder trees.

The properties are the promises of "Folders" in docs/semantics.md:

- a first run or a resync removes no folder and no marker;
- after a two-way run both sides hold the same folders, each with its marker;
- every folder above a remote file has a marker after any run that writes markers;
- planning again after applying finds nothing to do;
- a local folder that holds anything, or a folder new on one side, is never removed;
- push never removes anything, mirror and push never touch the folder, pull never the remote.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from bmsync.engine.actions import DeleteLocal, Upload
from bmsync.engine.folders import (
    FolderPlan,
    FolderTrees,
    LocalFolder,
    files_after,
    folders_of,
    plan_folders,
    with_parents,
)
from bmsync.engine.plan import Plan, paths_to_compare, plan_sync
from bmsync.options import Mode, TwoWayConflict
from bmsync.types import (
    Comparison,
    Create,
    FolderMarker,
    LocalFile,
    RemoteMeta,
    RemoteObject,
    SnapshotEntry,
)

EMPTY_ETAG = "d41d8cd98f00b204e9800998ecf8427e"
NOW = datetime(2026, 11, 23, 10, 15, tzinfo=UTC)
NO_FILE_ACTIONS = Plan(())


def folder_trees(
    local: set[str] | None = None,
    markers: set[str] | None = None,
    baseline: set[str] | None = None,
    holding: set[str] | None = None,
    prefix_marked: bool = True,
) -> FolderTrees:
    return FolderTrees(
        local={p: p for p in local or set()},
        holding=frozenset(holding or set()),
        markers={p: FolderMarker(p, EMPTY_ETAG) for p in markers or set()},
        baseline=frozenset(baseline or set()),
        prefix_marked=prefix_marked,
    )


def plan(
    trees: FolderTrees,
    local_files: set[str] | None = None,
    remote_files: set[str] | None = None,
    files: Plan = NO_FILE_ACTIONS,
    mode: Mode = Mode.BISYNC,
    resync: bool = False,
) -> FolderPlan:
    return plan_folders(
        trees, local_files or set(), remote_files or set(), files, mode=mode, resync=resync
    )


def marker(path: str) -> FolderMarker:
    return FolderMarker(path, EMPTY_ETAG)


# -- the two-way table, row by row -------------------------------------------------------------


def test_folder_new_locally_gets_a_marker() -> None:
    assert plan(folder_trees(local={"e"})) == FolderPlan(put_markers=("e",), record=("e",))


def test_marker_only_remote_folder_is_made_locally() -> None:
    assert plan(folder_trees(markers={"m"})) == FolderPlan(make_local=("m",), record=("m",))


def test_folder_on_both_sides_is_recorded_once() -> None:
    assert plan(folder_trees(local={"a"}, markers={"a"})) == FolderPlan(record=("a",))
    assert plan(folder_trees(local={"a"}, markers={"a"}, baseline={"a"})).empty


def test_folder_deleted_remotely_is_removed_locally() -> None:
    assert plan(folder_trees(local={"a"}, baseline={"a"})) == FolderPlan(
        remove_local=(LocalFolder("a", "a"),), forget=("a",)
    )


def test_folder_deleted_locally_loses_its_marker() -> None:
    assert plan(folder_trees(markers={"a"}, baseline={"a"})) == FolderPlan(
        delete_markers=(marker("a"),), forget=("a",)
    )


def test_folder_deleted_on_both_sides_is_forgotten() -> None:
    assert plan(folder_trees(baseline={"a"})) == FolderPlan(forget=("a",))


def test_folder_deleted_remotely_that_holds_a_file_is_kept_and_marked_again() -> None:
    trees = folder_trees(local={"a"}, baseline={"a"})
    assert plan(trees, local_files={"a/new.md"}) == FolderPlan(put_markers=("a",))


def test_folder_deleted_remotely_that_holds_ignored_files_is_kept() -> None:
    trees = folder_trees(local={"a", "a/b"}, baseline={"a", "a/b"}, holding={"a/b"})
    assert plan(trees) == FolderPlan(put_markers=("a", "a/b"))


def test_folder_above_a_new_folder_is_kept_though_deleted_on_the_other_side() -> None:
    trees = folder_trees(local={"a", "a/new"}, baseline={"a"})
    assert plan(trees) == FolderPlan(put_markers=("a", "a/new"), record=("a/new",))


def test_remote_folder_deleted_locally_is_made_again_while_remote_files_stay() -> None:
    trees = folder_trees(markers={"a"}, baseline={"a"})
    assert plan(trees, remote_files={"a/x.md"}) == FolderPlan(make_local=("a",))


def test_folder_holding_files_gets_its_missing_marker() -> None:
    trees = folder_trees(local={"a", "a/b"}, baseline={"a", "a/b"}, markers={"a"})
    both = {"a/b/x.md"}
    assert plan(trees, both, both) == FolderPlan(put_markers=("a/b",))


def test_removals_go_children_first() -> None:
    trees = folder_trees(local={"a", "a/b", "a/b/c", "z"}, baseline={"a", "a/b", "a/b/c", "z"})
    assert [f.path for f in plan(trees).remove_local] == ["a/b/c", "a/b", "a", "z"]


def test_the_prefix_gets_its_own_marker_and_keeps_it() -> None:
    assert plan(folder_trees(prefix_marked=False)) == FolderPlan(put_markers=("",))
    assert plan(folder_trees(prefix_marked=True)).empty


def test_first_run_and_resync_remove_nothing() -> None:
    first = plan(folder_trees(local={"l"}, markers={"r"}))
    resync = plan(folder_trees(local={"l"}, markers={"r"}, baseline={"l", "r"}), resync=True)
    assert first == FolderPlan(put_markers=("l",), make_local=("r",), record=("l", "r"))
    assert resync == FolderPlan(put_markers=("l",), make_local=("r",))


def test_a_folder_a_local_delete_empties_is_made_again_if_it_stays() -> None:
    # The remote deleted a/x.md but kept a/ (its marker): deleting the file locally prunes the
    # emptied folder, so the executor makes it again.
    local = LocalFile("a/x.md", 1, 1, "h")
    files = Plan((DeleteLocal("a/x.md", local),))
    trees = folder_trees(local={"a"}, markers={"a"}, baseline={"a"})
    assert plan(trees, {"a/x.md"}, set(), files) == FolderPlan(restore_local=("a",))


def test_files_after_follows_the_file_plan() -> None:
    local = LocalFile("new/x.md", 1, 1, "h")
    files = Plan((Upload("new/x.md", local, Create(), "new/x.md"),))
    after = files_after(files, {"new/x.md"}, set())
    assert after.remote == {"new/x.md"} and after.local == {"new/x.md"}
    trees = folder_trees(local={"new"})
    assert plan(trees, {"new/x.md"}, set(), files).put_markers == ("new",)


# -- the one-way modes -----------------------------------------------------------------------------


def test_push_marks_the_folders_of_the_folder_and_removes_nothing() -> None:
    trees = folder_trees(local={"l"}, markers={"gone"}, baseline={"gone", "l2"})
    pushed = plan(trees, remote_files={"only-remote/x.md"}, mode=Mode.PUSH)
    # `gone` was deleted locally: push leaves its marker (and its row); l2 left both sides.
    assert pushed == FolderPlan(put_markers=("l", "only-remote"), record=("l",), forget=("l2",))


def test_mirror_makes_the_markers_those_of_the_folder() -> None:
    trees = folder_trees(local={"l"}, markers={"stale"}, baseline={"stale"})
    assert plan(trees, mode=Mode.MIRROR) == FolderPlan(
        put_markers=("l",), delete_markers=(marker("stale"),), record=("l",), forget=("stale",)
    )


def test_pull_makes_the_remote_folders_locally_and_writes_no_marker() -> None:
    trees = folder_trees(local={"l"}, markers={"m"}, baseline={"l"}, prefix_marked=False)
    assert plan(trees, mode=Mode.PULL) == FolderPlan(make_local=("m",), record=("m",))


def test_prune_touches_no_folder() -> None:
    assert plan(folder_trees(local={"l"}, markers={"m"}, prefix_marked=False), mode=Mode.PRUNE) == (
        FolderPlan()
    )


# -- properties --------------------------------------------------------------------------------

FOLDERS = ["a", "a/b", "c", "c/d"]
FILES = ["a/x.md", "a/b/y.md", "c/z.md", "top.md"]
WRITING_MARKERS = (Mode.BISYNC, Mode.PUSH, Mode.MIRROR)


@dataclass
class World:
    local_files: set[str]
    remote_files: set[str]
    snapshot_files: set[str]
    trees: FolderTrees


@st.composite
def worlds(draw: st.DrawFn) -> World:
    local_files = draw(st.sets(st.sampled_from(FILES)))
    remote_files = draw(st.sets(st.sampled_from(FILES)))
    local = with_parents(draw(st.sets(st.sampled_from(FOLDERS)))) | folders_of(local_files)
    return World(
        local_files,
        remote_files,
        draw(st.sets(st.sampled_from(FILES))),
        FolderTrees(
            local={p: p for p in local},
            holding=frozenset(draw(st.sets(st.sampled_from(sorted(local) or [""])))) - {""},
            markers={p: marker(p) for p in draw(st.sets(st.sampled_from(FOLDERS)))},
            baseline=frozenset(draw(st.sets(st.sampled_from(FOLDERS)))),
            prefix_marked=draw(st.booleans()),
        ),
    )


def file_plan(world: World, mode: Mode, resync: bool) -> Plan:
    """The real file planner on the world's files (every file holds the same bytes)."""
    local = {p: LocalFile(p, 1, 1, "h") for p in world.local_files}
    remote = {p: RemoteObject(p, 1, "e", 1) for p in world.remote_files}
    snapshot = {p: SnapshotEntry(p, 1, 1, "h", "e") for p in world.snapshot_files}
    equal = Comparison(True, RemoteMeta("e", 1, 1, 1, "h"))
    comparisons = {p: equal for p in paths_to_compare(local, remote, snapshot, resync=resync)}
    return plan_sync(
        local, remote, snapshot, comparisons,
        strategy=TwoWayConflict.NEWER, now=NOW, resync=resync, mode=mode,
    )  # fmt: skip


def remote_folders(markers: set[str], remote_files: set[str]) -> set[str]:
    return with_parents(markers) | folders_of(remote_files)


def apply(world: World, files: Plan, folders: FolderPlan) -> World:
    """Both sides and the baseline after the executor carried out both plans."""
    after = files_after(files, world.local_files, world.remote_files)
    removed = {f.path for f in folders.remove_local}
    local = (set(world.trees.local) - removed) | set(folders.make_local) | folders_of(after.local)
    markers = (set(world.trees.markers) - {m.path for m in folders.delete_markers}) | (
        set(folders.put_markers) - {""}
    )
    baseline = (world.trees.baseline | set(folders.record)) - set(folders.forget)
    return World(
        set(after.local),
        set(after.remote),
        world.snapshot_files,
        FolderTrees(
            local={p: p for p in local},
            holding=world.trees.holding - removed,
            markers={p: marker(p) for p in markers},
            baseline=frozenset(baseline),
            prefix_marked=world.trees.prefix_marked or "" in folders.put_markers,
        ),
    )


def run(world: World, mode: Mode, resync: bool = False) -> tuple[FolderPlan, World]:
    files = file_plan(world, mode, resync)
    folders = plan(
        world.trees, world.local_files, world.remote_files, files, mode=mode, resync=resync
    )
    return folders, apply(world, files, folders)


modes = st.sampled_from([Mode.BISYNC, Mode.PUSH, Mode.PULL, Mode.MIRROR])


@settings(max_examples=500, deadline=None)
@given(worlds(), modes, st.booleans())
def test_first_run_and_resync_never_remove_a_folder(world: World, mode: Mode, resync: bool) -> None:
    if not resync:  # a first run: no baseline, no snapshot
        world.snapshot_files = set()
        world.trees = FolderTrees(world.trees.local, world.trees.holding, world.trees.markers)
    folders, _ = run(world, mode, resync)
    assert not folders.remove_local
    # A mirror makes the remote the folder's copy, baseline or not.
    assert not folders.delete_markers or mode is Mode.MIRROR


@settings(max_examples=500, deadline=None)
@given(worlds(), st.booleans())
def test_after_a_two_way_run_both_sides_hold_the_same_folders_each_marked(
    world: World, resync: bool
) -> None:
    _, after = run(world, Mode.BISYNC, resync)
    markers = set(after.trees.markers)
    assert set(after.trees.local) == remote_folders(markers, after.remote_files) == markers
    assert after.trees.baseline == markers and after.trees.prefix_marked


@settings(max_examples=500, deadline=None)
@given(worlds(), st.sampled_from(WRITING_MARKERS), st.booleans())
def test_every_folder_above_a_remote_file_has_a_marker_afterwards(
    world: World, mode: Mode, resync: bool
) -> None:
    _, after = run(world, mode, resync)
    assert folders_of(after.remote_files) <= set(after.trees.markers)
    assert after.trees.prefix_marked
    if mode is Mode.MIRROR:
        assert set(after.trees.markers) == set(after.trees.local) | folders_of(after.remote_files)


@settings(max_examples=500, deadline=None)
@given(worlds(), modes, st.booleans())
def test_replanning_after_applying_finds_nothing_to_do(
    world: World, mode: Mode, resync: bool
) -> None:
    _, after = run(world, mode, resync)
    again = plan(after.trees, after.local_files, after.remote_files, NO_FILE_ACTIONS, mode=mode)
    assert again.empty, again


@settings(max_examples=500, deadline=None)
@given(worlds(), modes)
def test_a_folder_that_holds_anything_or_is_new_is_never_removed(world: World, mode: Mode) -> None:
    files = file_plan(world, mode, resync=False)
    folders = plan(world.trees, world.local_files, world.remote_files, files, mode=mode)
    after = files_after(files, world.local_files, world.remote_files)
    removed = {f.path for f in folders.remove_local}
    assert not removed & (folders_of(after.local) | with_parents(world.trees.holding))
    assert not removed & (set(world.trees.local) - world.trees.baseline)
    unmarked = {m.path for m in folders.delete_markers}
    assert not unmarked & folders_of(after.remote)
    assert not unmarked & (set(world.trees.markers) - world.trees.baseline) or mode is Mode.MIRROR


@settings(max_examples=500, deadline=None)
@given(worlds(), st.sampled_from([Mode.PUSH, Mode.PULL, Mode.MIRROR]))
def test_one_way_modes_write_only_their_destination(world: World, mode: Mode) -> None:
    folders, _ = run(world, mode)
    assert not folders.remove_local
    if mode is Mode.PULL:
        assert not folders.put_markers and not folders.delete_markers
    else:
        assert not folders.make_local and not folders.restore_local
    if mode is Mode.PUSH:
        assert not folders.delete_markers
