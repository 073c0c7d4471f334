"""Hypothesis properties of the pure planner over random three-tree states.

A state is three small maps path -> content (local, remote, snapshot). The plan is applied to a
model of both sides; the properties are the invariants of docs/semantics.md:

- a first run or resync never deletes;
- applying the plan makes both sides equal;
- planning again after applying finds nothing to do;
- no version the snapshot does not know (a new or edited one) is ever lost;
- only a version equal to the snapshot's may disappear (deleted or overwritten);
- conflict copies stay beside their file and are recognised when a conflict is redone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from bmsync.names import conflict_copy_name, copy_names, split_name
from bmsync.options import ConflictStrategy
from bmsync.sync.actions import (
    DeleteLocal,
    DeleteRemote,
    Download,
    Forget,
    Record,
    ResolveConflict,
    Upload,
)
from bmsync.sync.plan import Plan, paths_to_compare, plan_sync
from bmsync.types import Comparison, LocalFile, RemoteMeta, RemoteObject, Side, SnapshotEntry

NOW = datetime(2026, 11, 23, 10, 15, tzinfo=UTC)
PATHS = ["a.md", "b.md", "d/c.md", "d/e.md"]
CONTENTS = ["x", "y", "zz", "www"]


@dataclass
class World:
    local: dict[str, tuple[str, int]]  # path -> (content, mtime)
    remote: dict[str, tuple[str, int]]
    snapshot: dict[str, tuple[str, int]]


def files(draw: st.DrawFn) -> dict[str, tuple[str, int]]:
    chosen = draw(st.sets(st.sampled_from(PATHS)))
    return {p: (draw(st.sampled_from(CONTENTS)), draw(st.integers(1, 4))) for p in sorted(chosen)}


@st.composite
def worlds(draw: st.DrawFn) -> World:
    return World(files(draw), files(draw), files(draw))


def trees(
    world: World,
) -> tuple[dict[str, LocalFile], dict[str, RemoteObject], dict[str, SnapshotEntry]]:
    local = {p: LocalFile(p, len(c), m, f"h-{c}") for p, (c, m) in world.local.items()}
    remote = {p: RemoteObject(p, len(c), f"e-{c}", m) for p, (c, m) in world.remote.items()}
    snapshot = {
        p: SnapshotEntry(p, len(c), m, f"h-{c}", f"e-{c}") for p, (c, m) in world.snapshot.items()
    }
    return local, remote, snapshot


def make_plan(world: World, strategy: ConflictStrategy, resync: bool = False) -> Plan:
    local, remote, snapshot = trees(world)
    comparisons = {
        p: Comparison(
            world.local[p][0] == world.remote[p][0],
            RemoteMeta(
                f"e-{world.remote[p][0]}", len(world.remote[p][0]), 0, world.remote[p][1], None
            ),
        )
        for p in paths_to_compare(local, remote, snapshot, resync=resync)
    }
    return plan_sync(
        local, remote, snapshot, comparisons, strategy=strategy, now=NOW, resync=resync
    )


def apply(world: World, plan: Plan) -> World:
    """What both sides and the snapshot hold after the executor carried out `plan`."""
    local, remote = dict(world.local), dict(world.remote)
    snapshot = dict(world.snapshot)
    for action in plan.actions:
        match action:
            case Upload():
                remote[action.path] = local[action.path]
                snapshot[action.path] = local[action.path]
            case Download():
                local[action.path] = remote[action.path]
                snapshot[action.path] = remote[action.path]
            case DeleteLocal():
                del local[action.path]
                snapshot.pop(action.path, None)
            case DeleteRemote():
                del remote[action.path]
                snapshot.pop(action.path, None)
            case Record():
                snapshot[action.path] = local[action.path]
            case Forget():
                snapshot.pop(action.path, None)
            case ResolveConflict():
                won = (
                    local[action.path] if action.kept_at_path is Side.LOCAL else remote[action.path]
                )
                lost = (
                    remote[action.path] if action.kept_at_path is Side.LOCAL else local[action.path]
                )
                for side in (local, remote, snapshot):
                    side[action.path] = won
                    side[action.loser_copy] = lost
    return World(local, remote, snapshot)


strategies = st.sampled_from(list(ConflictStrategy))


@settings(max_examples=400, deadline=None)
@given(worlds(), strategies)
def test_first_run_never_deletes(world: World, strategy: ConflictStrategy) -> None:
    world.snapshot = {}
    plan = make_plan(world, strategy)
    assert not plan.of_type(DeleteLocal) and not plan.of_type(DeleteRemote)


@settings(max_examples=400, deadline=None)
@given(worlds(), strategies)
def test_resync_never_deletes(world: World, strategy: ConflictStrategy) -> None:
    plan = make_plan(world, strategy, resync=True)
    assert not plan.of_type(DeleteLocal) and not plan.of_type(DeleteRemote)


@settings(max_examples=600, deadline=None)
@given(worlds(), strategies, st.booleans())
def test_applying_a_plan_makes_both_sides_equal(
    world: World, strategy: ConflictStrategy, resync: bool
) -> None:
    after = apply(world, make_plan(world, strategy, resync))
    assert {p: c for p, (c, _) in after.local.items()} == {
        p: c for p, (c, _) in after.remote.items()
    }


@settings(max_examples=600, deadline=None)
@given(worlds(), strategies, st.booleans())
def test_replanning_after_applying_is_empty(
    world: World, strategy: ConflictStrategy, resync: bool
) -> None:
    after = apply(world, make_plan(world, strategy, resync))
    assert make_plan(after, strategy).actions == ()


@settings(max_examples=600, deadline=None)
@given(worlds(), strategies, st.booleans())
def test_only_versions_the_snapshot_knows_can_disappear(
    world: World, strategy: ConflictStrategy, resync: bool
) -> None:
    after = apply(world, make_plan(world, strategy, resync))
    surviving = {c for c, _ in after.local.values()} | {c for c, _ in after.remote.values()}
    for side in (world.local, world.remote):
        for path, (content, _) in side.items():
            known = world.snapshot.get(path)
            if content in surviving:
                continue
            # Gone: allowed only for the version both sides last agreed on, outside a resync.
            assert not resync and known is not None and known[0] == content, (path, content)


@settings(max_examples=300, deadline=None)
@given(worlds(), strategies)
def test_delete_counts_match_the_actions(world: World, strategy: ConflictStrategy) -> None:
    plan = make_plan(world, strategy)
    assert plan.local_deletes == len(plan.of_type(DeleteLocal))
    assert plan.remote_deletes == len(plan.of_type(DeleteRemote))
    for action in plan.of_type(DeleteLocal):
        assert world.snapshot[action.path][0] == world.local[action.path][0]
    for action in plan.of_type(DeleteRemote):
        assert world.snapshot[action.path][0] == world.remote[action.path][0]


# -- names the planner makes ------------------------------------------------------------------

segments = st.text(alphabet="ab.x-é ", min_size=1, max_size=6).filter(
    lambda s: s not in (".", "..")
)
project_paths = st.lists(segments, min_size=1, max_size=3).map("/".join)
stamps = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31), timezones=st.just(UTC)
)


@settings(max_examples=500, deadline=None)
@given(project_paths, stamps, st.sets(st.integers(2, 4)))
def test_conflict_copies_stay_beside_their_file_and_are_recognised(
    path: str, stamp: datetime, taken_numbers: set[int]
) -> None:
    """A copy keeps the folder and the suffix (so it opens in the same editor), never takes a
    taken name, and is found again by the pattern a conflict redone after a kill looks for."""
    first = conflict_copy_name(path, stamp, set())
    taken = {path, first} | {
        conflict_copy_name(path, stamp, {first} | {f"n{i}" for i in range(n)})
        for n in taken_numbers
    }
    copy = conflict_copy_name(path, stamp, taken)
    assert copy not in taken
    folder, stem, suffix = split_name(path)
    assert copy.startswith(f"{folder}{stem}.conflict-") and copy.endswith(suffix)
    assert "/" not in copy[len(folder) :]
    names = sorted({copy, first, path, f"{folder}{stem}.conflict-x{suffix}"})
    assert set(copy_names(path, names)) == {copy, first}
